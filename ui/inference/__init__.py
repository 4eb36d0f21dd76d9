"""The Inference page's sections, one module each, every one exposing `render() -> None`:
decoding, kv_cache, quantization, speculative, serving, time_budget (where the time goes).
app_pages/inference.py picks one.

Also the two helpers the sections share: the prompt check, and `run_in_slices`, which drives an
explicit measurement (a core generator) one piece at a time under the compute lock, with a progress
bar and a Stop button.
"""
from collections.abc import Iterator

import streamlit as st

import ui
from core.compute import COMPUTE_LOCK

MAX_PROMPT_CHARS = 400  # ~100 tokens: prompt + 128 new tokens stay inside tiny-lm's 512 positions


def checked_prompt(key: str) -> str | None:
    """The prompt in session state `key`, validated (None after a message when empty)."""
    prompt = ui.text_input_checked(st.session_state[key], MAX_PROMPT_CHARS, "prompt")
    if prompt is not None and len(prompt) >= MAX_PROMPT_CHARS:
        st.info(f"The prompt box holds at most {MAX_PROMPT_CHARS} characters (longer text is cut): about 100 "
                "tokens, so that prompt and new tokens fit in the model's 512 positions.")
    return prompt


def _stop_requested(flag: str) -> None:
    st.session_state[flag] = True


def run_in_slices(steps: Iterator, what: str, stop_key: str):
    """Run a core generator to its end, each piece of work under the compute lock; return its return value.

    The generator yields (fraction done, message) between pieces. The lock is let go between pieces, so
    other viewers' short requests get their turn during a long measurement. Clicking Stop reruns the page:
    Streamlit stops this script at its next progress update, and the rerun finds
    `st.session_state[stop_key + "_stopped"]` set (see `stopped`). Nothing is returned then.
    """
    bar = st.progress(0.0, f"{what}: waiting for the CPU…")
    stop = st.empty()
    stop.button("Stop", key=stop_key, on_click=_stop_requested, args=(f"{stop_key}_stopped",))
    with ui.heavy(what):
        while True:
            with COMPUTE_LOCK.hold():
                try:
                    fraction, message = next(steps)
                except StopIteration as end:
                    result = end.value
                    break
            bar.progress(min(1.0, fraction), f"{what}: {message}")  # where a click on Stop takes effect
    bar.empty()
    stop.empty()
    return result


def stopped(stop_key: str) -> bool:
    """True once after a run of `run_in_slices` was stopped with its Stop button."""
    return bool(st.session_state.pop(f"{stop_key}_stopped", False))
