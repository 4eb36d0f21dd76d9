"""AppTest of the Inference page's "Where the time goes": opened from a link it draws the explanation and the GPU
arithmetic without measuring; its button measures once (small settings here), then the charts and tables show, and
later widget edits only redo arithmetic."""
from conftest import ROOT, assert_ok

PAGE = "app_pages/inference.py"


def open_url(params: dict, timeout: float = 120):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout)
    at.query_params.update(params)
    at.run()
    return at.switch_page(PAGE).run()


def text(at) -> str:
    return "\n".join(str(e.value) for kind in (at.markdown, at.caption, at.info, at.warning) for e in kind)


def test_opens_from_a_link_measures_on_its_button_only(monkeypatch):
    from core.inference import engine_ladder as el
    from ui.inference import time_budget

    calls, real = [], el.measure
    monkeypatch.setattr(el, "measure", lambda *args, **kwargs: calls.append(args[3]) or real(*args, **kwargs))
    # shrunk for the test (tests/test_engine_time.py measures at full size): one round, 2 profiled tokens,
    # 2 calls per verification pass, a small matmul and copy
    monkeypatch.setattr(time_budget, "ROUNDS", 1)
    for name, value in (("PROFILE_TOKENS", 2), ("VERIFY_CALLS", 2), ("MATMUL_N", 256), ("COPY_BYTES", 2**20)):
        monkeypatch.setattr(el, name, value)
    at = open_url({"section": "Where the time goes", "wt_tokens": "8", "wt_params": "70", "wt_bytes": "junk"})
    assert_ok(at, "Inference")
    assert any("Where the time goes" in h.value for h in at.header)
    assert not calls and not at.get("vega_lite_chart")  # nothing measured before the click
    assert at.selectbox(key="wt_bytes").value == "BF16 (2 bytes)"  # junk in the link: the default
    page = text(at)
    assert "140.0 GB" in page and "**24 tokens/s**" in page  # 70 B × 2 bytes at 3.35 TB/s, computed
    at.button(key="wt_measure").click().run()
    assert_ok(at, "Inference")
    assert len(calls) <= 1  # measured once (or a cached result from an earlier identical run)
    assert len(at.get("vega_lite_chart")) == 3  # profile, ladder, verification
    assert any("oracle draft: T / r" in df.value.columns for df in at.dataframe)
    assert "verify_cost_5" in at.session_state["measured"]
    at.slider(key="wt_alpha").set_value(0.8).run()  # arithmetic on the kept run: nothing measured again
    assert_ok(at, "Inference")
    assert len(calls) <= 1 and len(at.get("vega_lite_chart")) == 3
    assert any("free draft, α = 0.80" in df.value.columns for df in at.dataframe)
    assert at.query_params["wt_alpha"] == "0.8" and at.query_params["wt_tokens"] == "8"
