"""The Pretraining page's sections, one module each: tokenizer (train a BPE tokenizer: the first section,
whose headers app_pages/pretraining.py writes), data_pipeline, tokenizers_compared, objectives, train_gpt,
scaling, parallelism. Every section but the first exposes `render() -> None`; app_pages/pretraining.py picks
one with its `p_section` parameter and writes each section's header.

Also the helpers the sections share: a progress bar a cached run reports to, and `explicit_run`, the
button that starts a capped run, the Stop button beside it and the result kept for the session.
"""
from collections.abc import Callable
from typing import Any

import streamlit as st

import ui
from ui.transformer import bind  # noqa: F401 (re-exported: ui.bind_params, then the rules on every rerun)


def progress(what: str) -> tuple[Any, Callable[[float, str], bool]]:
    """(bar, on_progress) for a core function's `on_progress(fraction, message)`.

    Call it inside the cached function (a cache hit then replays an empty bar). Each update is also where
    a click on Stop ends the run: Streamlit stops a running script at its next element update when a
    widget asks for a rerun, and the compute lock is let go on the way out.
    """
    bar = st.progress(0.0, text=f"{what}: starting…")

    def on_progress(fraction: float, message: str) -> bool:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=f"{what}: {message}")
        return True

    return bar, on_progress


def _request_stop(key: str) -> None:
    st.session_state[f"{key}_stopped"] = True


def explicit_run(label: str, key: str, what: str, compute: Callable[[], Any], settings: Any,
                 help: str | None = None) -> tuple[Any, Any] | None:
    """A button that runs `compute()` (a cached, capped run) with a Stop button beside it while it runs.

    The result is kept in st.session_state[key + '_result'] as (settings, result), so moving a slider
    afterwards does not lose it; returns that pair, or None before the first run. A stopped run keeps
    nothing (the previous result stays) and says so once.
    """
    if st.button(label, key=key, type="primary", help=help):
        st.session_state.pop(f"{key}_stopped", None)
        stop = st.empty()
        stop.button("Stop", key=f"{key}_stop", on_click=_request_stop, args=(key,),
                    help="Ends the run at its next step; the previous result, if any, stays.")
        try:
            with ui.heavy(what):
                result = compute()
        except Exception:  # a failed run leaves no Stop button behind (a stop or a rerun is not an Exception)
            stop.empty()
            raise
        stop.empty()
        st.session_state[f"{key}_result"] = (settings, result)
    if st.session_state.pop(f"{key}_stopped", False):
        st.warning("Stopped: the run was ended before it finished, and nothing from it was kept"
                   + (" (the previous result is shown)." if f"{key}_result" in st.session_state else "."))
    return st.session_state.get(f"{key}_result")
