"""The Fine-tuning page's sections, one module each: lora (full fine-tuning against LoRA, the first section),
families (every PEFT family on one task), qlora, instruction, preference, guide. Every section but lora exposes
`render() -> None`; app_pages/fine_tuning.py picks one with its `f_section` parameter and writes each section's
header, because glossary entries and quiz questions name them and tests/test_quizzes.py reads a page's headers
from its page file.

Also what the sections share: an explicit training run (a button, a progress bar, a Stop button, a result kept
in the session so that a rerun or a later edit does not lose it, and never retrains by itself).
"""
from collections.abc import Callable

import numpy as np
import streamlit as st

import ui


def progress(what: str):
    """A progress bar and the `on_progress(fraction, message) -> bool` core's training loops call after each step.

    Call it inside a `ui.cached_compute` body: a cache hit replays the (emptied) bar. Each update is also where
    a click on Stop ends the run: Streamlit stops a running script at its next element update when a widget
    asks for a rerun, the exception leaves the cached body (nothing is cached) and the lock is let go.
    """
    bar = st.progress(0.0, text=f"{what}: starting…")

    def on_progress(fraction: float, message: str) -> bool:
        bar.progress(float(np.clip(fraction, 0.0, 1.0)), text=f"{what}: {message}")
        return True

    return bar, on_progress


def _request_stop(key: str) -> None:
    st.session_state[f"{key}_stopped"] = True


def training_run(key: str, settings, label: str, what: str, train: Callable, idle: str,
                 describe: Callable[[object], str]):
    """An explicit run: a button starts it, Stop ends it, and its result stays until the next click.

    key: prefix of the widgets and session entries (`{key}_train`, `{key}_stop`, `{key}_stopped`, `{key}_result`);
    settings: what the run depends on (compared with the kept run's); train(): the cached, lock-guarded call;
    idle: the message before any run; describe(result): the settings a kept result ran with, in words.
    Returns the kept result (of these or of earlier settings) or None.
    """
    if st.button(label, key=f"{key}_train", type="primary"):
        st.session_state.pop(f"{key}_stopped", None)
        stop = st.empty()
        stop.button("Stop", key=f"{key}_stop", on_click=_request_stop, args=(key,),
                    help="Ends the run at its next step; the previous result, if any, stays.")
        with ui.heavy(what):
            result = train()
        stop.empty()
        st.session_state[f"{key}_result"] = (settings, result)
    if st.session_state.pop(f"{key}_stopped", False):
        st.warning("Stopped: the run was ended before it finished, and nothing from it was kept.")
    stored = st.session_state.get(f"{key}_result")
    if stored is None:
        st.info(idle)
        return None
    ran_with, result = stored
    if ran_with != settings:
        st.info(f"These results are from the last run ({describe(result)}). Your settings have changed since: "
                f"click **{label}** to run them.")
    return result


def kept(key: str):
    """The result this session last kept for `key` (see training_run), or None."""
    stored = st.session_state.get(f"{key}_result")
    return None if stored is None else stored[1]


def budget_notes(notes, steps_asked: int, runs) -> None:
    """Say what the time budget cut: core's notes, or runs (objects with .losses) that made fewer steps."""
    for note in notes:
        st.warning(f"Cut to the budget: {note}.")
    short = [len(r.losses) for r in runs if len(r.losses) < steps_asked]
    if short and not notes:
        st.warning(f"Cut to the budget: {min(short)} of {steps_asked} steps fitted in the run's time on this "
                   "shared server; the numbers below are for the steps made.")


def fmt_ms(ms: float) -> str:
    """'12' for 12.3 ms; '—' when there was a single step and so no step time."""
    return f"{ms:.0f}" if np.isfinite(ms) else "—"
