"""Transformer · Logit lens: read tiny-lm's residual stream after every block with the model's own final norm
and lm_head, and watch the next-token prediction form layer by layer (core.transformer.logit_lens).
"""
import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import transformer_depth as charts
from core.state import Param
from core.transformer import logit_lens as ll
from ui.transformer import MAX_PROMPT_CHARS, bind, checked_prompt

PARAMS = [  # step = the widget's step, so a link lands on the widget's grid
    Param("lens_prompt", "And the LORD said unto Moses, Speak unto the children of", max_len=MAX_PROMPT_CHARS),
    Param("lens_top_k", 3, 1, ll.MAX_TOP_K, step=1),
]
GRID_TOKENS = 16  # the grid's last 16 positions: 7 layers × 16 cells of text stay readable


@ui.cached_compute(max_entries=32, max_size="16MB")  # <= 0.2 MB an entry: (7, 64, 10) ids, probs and tokens
def _lens(prompt: str) -> ll.LogitLens:
    """The top MAX_TOP_K at once: moving the top-k slider then slices a cached result."""
    model, tokenizer = ui.causal_lm("tiny-lm")
    return ll.logit_lens(model, tokenizer, prompt, ll.MAX_TOP_K)


def settles_after(lens: ll.LogitLens) -> int:
    """The first layer (0 = the embedding) whose top-1 at the last position is the model's final top-1."""
    final = lens.top_tokens[-1][-1][0]
    return next(layer for layer, tokens in enumerate(lens.top_tokens) if tokens[-1][0] == final)


def _show(lens: ll.LogitLens, k: int) -> None:
    ui.record("lens_settles", settles_after(lens))
    T = len(lens.tokens)
    shown = slice(max(0, T - GRID_TOKENS), T)
    if T > GRID_TOKENS:
        st.caption(f"The grid shows the last {GRID_TOKENS} of {T} positions.")
    top1 = [[row[0] for row in layer[shown]] for layer in lens.top_tokens]  # (L + 1, T') strings
    ui.chart(charts.logit_lens_grid, lens.layer_names, lens.tokens[shown], top1, lens.top_probs[:, shown, 0])
    st.caption("Each cell: the most likely next token if the model stopped after that layer, read at that position; "
               "darker = more probable. The bottom row is the embedding itself; the top row is the model's own output.")

    st.subheader(f"After the last token: the top {k} at every layer")
    st.dataframe(pd.DataFrame({
        "layer": lens.layer_names,
        f"top {k}": [" · ".join(f"{t!r} {p:.2f}" for t, p in zip(tokens[-1][:k], probs[-1][:k]))
                     for tokens, probs in zip(lens.top_tokens, lens.top_probs)],
        "entropy (bits)": lens.entropy_bits[:, -1].round(2)}), hide_index=True)

    if T < 2:
        st.info("With a one-token prompt there is no next token of the prompt to score: type a longer prompt.")
        return
    mean_p = lens.next_token_probs.mean(-1)  # (L + 1,)
    st.subheader("How probable is the prompt's actual next token?")
    st.bar_chart(pd.DataFrame({"layer": lens.layer_names, "mean p(actual next token)": mean_p}),
                 x="layer", y="mean p(actual next token)")
    best = int(np.argmax(mean_p))
    m1, m2 = st.columns(2)
    m1.metric("mean p(actual next token), last layer", f"{mean_p[-1]:.3f}")
    m2.metric("highest, at", lens.layer_names[best], f"{mean_p[best]:.3f}", delta_color="off")
    st.caption(f"Averaged over the prompt's {T - 1} next-token predictions. The embedding row predicts almost "
               "nothing (with tied embeddings it mostly repeats the input token); most of the prediction forms "
               "in the first blocks and is refined after.")


def render() -> None:
    st.header("Logit lens")
    ui.explain(
        "The residual stream has the same width after every block, so the model's read-out (its final RMSNorm "
        "and lm_head) can be applied after any block: what would tiny-lm predict if it stopped there? "
        "This is the **logit lens**: a cheap look inside, exact at the last layer, rougher early on, where the "
        "layers do not yet speak the last layer's basis.")
    st.latex(r"\text{lens}_\ell = \mathrm{softmax}\big(\mathrm{lm\_head}(\mathrm{RMSNorm}_\text{final}(h_\ell))\big), "
             r"\qquad h_\ell = \text{the residual stream after block } \ell")
    bind(PARAMS)
    st.text_input("Prompt", key="lens_prompt")
    k = st.slider("top k", 1, ll.MAX_TOP_K, step=1, key="lens_top_k")
    ui.sync_params(PARAMS)
    text = checked_prompt("lens_prompt")
    if text is not None and ui.require_model("tiny-lm"):
        try:
            with ui.heavy("Running the tiny LM"):
                lens = _lens(text)
        except ValueError as err:
            st.warning(f"Cannot run the lens on that prompt: {err}.")
        else:
            if len(lens.tokens) >= ll.MAX_TOKENS:
                st.info(f"The lens reads the prompt's first {ll.MAX_TOKENS} tokens.")
            _show(lens, k)
    ui.papers(("Interpreting GPT: the logit lens (nostalgebraist 2020)",
               "https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens"),
              ("The tuned lens (Belrose et al. 2023)", "https://arxiv.org/abs/2303.08112"))
    ui.code_behind(ll.logit_lens, ll.lens_logits, ll.residual_stream)
