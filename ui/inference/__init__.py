"""The Inference page's sections, one module each, every one exposing `render() -> None`:
decoding, kv_cache, quantization, speculative, serving. pages/inference.py picks one."""
import streamlit as st

import ui

MAX_PROMPT_CHARS = 400  # ~100 tokens: prompt + 128 new tokens stay inside tiny-lm's 512 positions


def checked_prompt(key: str) -> str | None:
    """The prompt in session state `key`, validated (None after a message when empty)."""
    prompt = ui.text_input_checked(st.session_state[key], MAX_PROMPT_CHARS, "prompt")
    if prompt is not None and len(prompt) >= MAX_PROMPT_CHARS:
        st.info(f"The prompt box holds at most {MAX_PROMPT_CHARS} characters (longer text is cut): about 100 "
                "tokens, so that prompt and new tokens fit in the model's 512 positions.")
    return prompt
