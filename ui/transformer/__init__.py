"""The Transformer page's sections, one module each: basics (tokens, attention maps, next token),
model_size, toy_lab, positions, block, lens. Every section but basics exposes `render() -> None`;
app_pages/transformer.py picks one with its `t_section` parameter.

Also the helpers the sections share: binding a section's URL parameters with rules that hold on every
rerun, and the check of a prompt for the tiny LM.
"""
import streamlit as st

import ui
from core.state import Param, Rule, apply_rules

MAX_PROMPT_CHARS = 500  # the core functions read at most 64 tokens of it


def bind(params: list[Param], rules: tuple[Rule, ...] = ()) -> None:
    """ui.bind_params, then the rules once more on the current values.

    ui.bind_params applies the rules when it seeds widgets from the URL. A widget moved since the last run
    can break a rule too (heads raised while d_k stays), so the other widget is corrected here, before
    either is drawn in this run (Streamlit allows setting a widget's value only before it is drawn).
    """
    ui.bind_params(params, rules)
    current = {p.key: st.session_state[p.key] for p in params if p.key in st.session_state}
    for key, value in apply_rules(current, rules).items():
        if current.get(key) != value:
            st.session_state[key] = value


def checked_prompt(key: str) -> str | None:
    """The prompt in session state `key`, validated (None after a message when it is empty)."""
    return ui.text_input_checked(st.session_state[key], MAX_PROMPT_CHARS, "prompt")


def clamp_index(index: int, n: int, what: str) -> int:
    """An index into n tokens; past the end it becomes the last token, with a note saying so."""
    if index < n:
        return index
    st.info(f"The prompt has {n} token(s), so the {what} is token {n - 1}, its last.")
    return n - 1
