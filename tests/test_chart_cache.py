"""ui.chart: the same chart as st.altair_chart, built once per distinct input for every session."""
from streamlit.testing.v1 import AppTest


def _script():
    import numpy as np
    import pandas as pd
    import streamlit as st

    import ui
    from core.charts import rag

    n = st.number_input("rows", value=12, key="n")
    df = pd.DataFrame({"chunk": range(n), "doc": ["a", "b"] * (n // 2), "score": np.linspace(1, 0, n),
                       "rank": range(1, n + 1), "retrieved": [i < 3 for i in range(n)], "text": ["t"] * n})
    ui.chart(rag.scores_chart, df, 3, width="stretch")
    st.altair_chart(rag.scores_chart(df, 3), width="stretch")
    left, _ = st.columns(2)
    ui.chart(rag.scores_chart, df, k=3, on=left)


def _run(monkeypatch):
    from core.charts import rag

    calls = []
    original = rag.scores_chart

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    counting.__module__, counting.__qualname__ = original.__module__, original.__qualname__
    monkeypatch.setattr(rag, "scores_chart", counting)
    at = AppTest.from_function(_script, default_timeout=60)
    at.run()
    return at, calls


def test_same_chart_as_altair_chart_built_once_per_input(monkeypatch):
    import streamlit as st

    st.cache_data.clear()
    at, calls = _run(monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    cached, direct, in_column = (c.proto for c in at.get("vega_lite_chart"))
    assert cached.spec == direct.spec and cached.spec == in_column.spec
    assert [(d.name, d.data.data) for d in cached.datasets] == [(d.name, d.data.data) for d in direct.datasets]
    assert cached == direct  # the whole element message, not only the spec and the data
    built = len(calls)  # st.altair_chart's own call, and one per distinct ui.chart input (args vs k=3 differ)
    at.run()  # a rerun, and another session, draw the cached specs: only st.altair_chart builds again
    assert len(calls) == built + 1
    again, _ = _run(monkeypatch)
    assert [c.proto.spec for c in again.get("vega_lite_chart")] == [cached.spec, direct.spec, in_column.spec]
    again.number_input(key="n").set_value(20).run()  # new data: a new spec
    assert "all 20 chunks" in again.get("vega_lite_chart")[0].proto.spec
