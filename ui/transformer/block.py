"""Transformer · The block: one prompt through one of tiny-lm's decoder blocks, stage by stage, recomputed by
hand from the weights and checked against the model; MiniLM's attention sub-layer recomputed the same way;
the three architecture families (core.transformer.block_trace).
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import transformer_depth as charts
from core.state import Param
from core.transformer import block_trace as bt
from core.transformer.positions import rms_norm
from ui.transformer import MAX_PROMPT_CHARS, bind, checked_prompt

N_STAGES = 18  # what trace_block returns for a Llama block: the embedding, then 17 stages inside the block
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid
    Param("blk_prompt", "And the LORD said unto Moses", max_len=MAX_PROMPT_CHARS),
    Param("blk_layer", 3, 1, 6, step=1),  # tiny-lm and MiniLM both have 6 layers
    Param("blk_stage", 8, 0, N_STAGES - 1, step=1),  # 8: the heads' output, concatenated
]


@ui.cached_compute(max_entries=16, max_size="32MB")  # <= 2.7 MB an entry: 18 stages of <= 64 × 512 float64
def _trace(prompt: str, layer: int) -> bt.BlockTrace:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return bt.trace_block(model, tokenizer, prompt, layer)


@ui.cached_compute(max_entries=16, max_size="24MB")  # <= 1.2 MB an entry: 12 heads × 64 × 64 probs, 4 × (64, 384)
def _encoder_trace(text: str, layer: int) -> bt.EncoderAttentionTrace:
    model, tokenizer = ui.encoder()
    return bt.encoder_attention_trace(model, tokenizer, text, layer)


def _decoder_block(text: str, layer: int) -> None:
    with ui.heavy("Tracing the tiny LM's block"):
        trace = _trace(text, layer - 1)
    if len(trace.tokens) >= bt.MAX_TOKENS:
        st.info(f"The trace reads at most the prompt's first {bt.MAX_TOKENS} tokens.")
    m1, m2, m3 = st.columns(3)
    m1.metric("max |by hand − model|, block output", f"{trace.max_diff_output:.1e}")
    m2.metric("max |by hand − model|, embedding", f"{trace.max_diff_embedding:.1e}")
    m3.metric("tokens", len(trace.tokens))
    if trace.max_diff_output < 1e-4:
        st.success(f"Recomputed in float64 from the weights, block {layer}'s output matches the model's own hidden "
                   f"state to {trace.max_diff_output:.1e} (the model computes in float32).")
    names = [s.name for s in trace.stages]
    ui.chart(charts.block_norms_chart, names, [s.mean_norm for s in trace.stages], [s.shape for s in trace.stages])
    st.dataframe(pd.DataFrame({"stage": names, "module": [s.module for s in trace.stages],
                               "formula": [s.formula for s in trace.stages],
                               "shape (T, width)": [str(s.shape) for s in trace.stages],
                               "mean |token|": [round(s.mean_norm, 3) for s in trace.stages]}), hide_index=True)
    st.caption("The norms add up: the residual stream is large and each sub-layer writes a smaller update into it; "
               "RMSNorm rescales its input to a fixed size before each sub-layer reads it.")
    ui.chart(charts.residual_norms_chart, trace.residual_norms)

    last = len(trace.stages) - 1
    if st.session_state["blk_stage"] > last:  # drawn below: set it now, before the widget exists in this run
        st.session_state["blk_stage"] = last
    index = st.selectbox("Stage to look at", list(range(len(trace.stages))), key="blk_stage",
                         format_func=lambda i: f"{i:02d} {names[i]}")
    stage = trace.stages[index]
    st.altair_chart(charts.matrix_heatmap(stage.value, f"{stage.name} {stage.shape}", "token", "dimension",
                                          width=640, height=max(120, min(400, 22 * stage.shape[0]))),
                    width="stretch")
    ui.chart(charts.heads_heatmaps, trace.probs, f"block {layer}'s attention, every head (causal)",
             probabilities=True, columns=6, cell=110)


def _encoder_sublayer(text: str, layer: int) -> None:
    st.subheader("MiniLM's attention sub-layer, recomputed")
    st.markdown(
        f"The same check on the encoder (the same text, layer {layer}): each head's probs · V, the heads side by "
        "side, the output dense layer, then the residual and LayerNorm of a post-norm BERT block. Forward hooks "
        "catch the model's own outputs at each step.")
    with ui.heavy("Running the encoder"):
        et = _encoder_trace(text, layer - 1)
    m1, m2, m3 = st.columns(3)
    m1.metric("heads concatenated (probs · V)", f"{et.diff_concat:.1e}")
    m2.metric("output dense (concat W_O + b)", f"{et.diff_dense:.1e}")
    m3.metric("sub-layer (LayerNorm(x + dense))", f"{et.diff_sublayer:.1e}")
    st.caption(f"Max |by hand − model| at each step, {len(et.tokens)} WordPiece tokens, {et.probs.shape[0]} heads.")
    st.latex(r"\text{head}_h = \mathrm{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{D}}\right) V_h, \quad "
             r"\text{out} = \mathrm{LayerNorm}\big(x + [\text{head}_1; \dots; \text{head}_H] W_O + b_O\big)")


def render() -> None:
    st.header("The block")
    ui.explain(
        "A decoder is a stack of identical blocks, each adding two updates to a **residual stream**: attention "
        "(tokens read from each other) and an MLP (each token on its own). tiny-lm's Llama block is pre-norm, "
        "with RMSNorm, rotary positions, grouped-query attention and a SwiGLU MLP. Here a prompt goes through one "
        "block, every stage recomputed in NumPy from the weights and compared with the model.")
    st.latex(r"h = x + \mathrm{o\_proj}\big(\mathrm{Attn}(\mathrm{RoPE}(q), \mathrm{RoPE}(k), v)\big), \quad "
             r"q, k, v = \mathrm{RMSNorm}(x)\,W_{Q,K,V}")
    st.latex(r"\text{out} = h + \mathrm{down}\big(\mathrm{SiLU}(\mathrm{gate}(n_2)) \odot \mathrm{up}(n_2)\big), \quad "
             r"n_2 = \mathrm{RMSNorm}(h), \quad "
             r"\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\mathrm{mean}(x^2) + \epsilon}} \odot g")
    bind(PARAMS)
    st.text_input("Prompt", key="blk_prompt")
    layer = st.slider("Block (layer)", 1, 6, step=1, key="blk_layer")
    text = checked_prompt("blk_prompt")
    try:  # the core refuses a prompt with no tokens: a message, not a traceback
        if text is not None and ui.require_model("tiny-lm"):
            _decoder_block(text, layer)
        if text is not None and ui.require_model("minilm"):
            _encoder_sublayer(text, layer)
    except ValueError as err:
        st.warning(f"Cannot trace that prompt: {err}.")
    ui.sync_params(PARAMS)

    st.subheader("Encoder-only, decoder-only, encoder-decoder")
    st.dataframe(pd.DataFrame([{"family": f.kind, "mask": f.mask, "objective": f.objective,
                                "typical uses": f.typical_uses, "examples": f.examples} for f in bt.ARCHITECTURES]),
                 hide_index=True)
    ui.papers(
        ("LLaMA (Touvron et al. 2023)", "https://arxiv.org/abs/2302.13971"),
        ("RMSNorm (Zhang & Sennrich 2019)", "https://arxiv.org/abs/1910.07467"),
        ("GLU variants / SwiGLU (Shazeer 2020)", "https://arxiv.org/abs/2002.05202"),
        ("GQA (Ainslie et al. 2023)", "https://arxiv.org/abs/2305.13245"),
        ("RoPE (Su et al. 2021)", "https://arxiv.org/abs/2104.09864"),
        ("Layer Normalization (Ba et al. 2016)", "https://arxiv.org/abs/1607.06450"),
    )
    ui.code_behind(bt.trace_block, bt._block_stages, bt.residual_stream, bt.silu, rms_norm,
                   bt.encoder_attention_trace, bt.layer_norm)
