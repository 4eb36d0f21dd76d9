"""Transformer: tokens and attention in real models, then deeper, one section at a time: how big a model is,
a toy attention lab, positions, one block traced by hand, and the logit lens. Sections live in ui/transformer/."""
import streamlit as st

import ui
from core.state import Param
from ui.transformer import basics, block, lens, model_size, positions, toy_lab


def tokens_and_attention() -> None:
    """The first section. Its headers are written here, not in ui/transformer/basics.py, because glossary entries
    and quiz questions name them and tests/test_quizzes.py reads a page's headers from its page file."""
    ui.bind_params(basics.PARAMS)
    run = basics.encoder_run()
    if run is not None:
        st.header("1 · Tokens")
        basics.tokens(run)
        st.header("2 · Attention maps of a real encoder")
        basics.attention_maps(run)
        st.header("3 · The same attention, from scratch")
        basics.from_scratch(run)
        st.header("4 · Which heads link two tokens?")
        basics.head_links(run)
    st.divider()
    st.header("5 · Next-token probabilities of a tiny decoder")
    basics.next_token_probabilities()
    st.header("The math")
    basics.math()
    ui.sync_params(basics.PARAMS)


st.title("Transformer")
ui.explain(
    "Every large language model is a stack of transformer blocks. This page opens one up: how text becomes "
    "tokens, where each token looks (**attention**) in a real pretrained encoder, the formula recomputed by "
    "hand and checked against the model, and what a decoder finally outputs: a probability for every "
    "possible next token. The other sections go deeper: what a model's size costs, every matrix of attention "
    "in a toy you can resize, how positions get in, one block traced stage by stage, and the logit lens.")

SECTIONS = {
    "Tokens and attention": tokens_and_attention,
    "Model size": model_size.render,
    "Toy attention lab": toy_lab.render,
    "Positions": positions.render,
    "The block": block.render,
    "Logit lens": lens.render,
}
PARAMS = [Param("t_section", "Tokens and attention", choices=tuple(SECTIONS))]

ui.bind_params(PARAMS)
section = st.segmented_control("Section", list(SECTIONS), key="t_section", required=True)
ui.sync_params(PARAMS)
SECTIONS[section or "Tokens and attention"]()

ui.quiz("Transformer")
