"""Transformer · Toy attention lab: every matrix of multi-head attention on seeded random inputs, small enough
to look at (core.transformer.toy_attention), and why the scores are divided by √d_k.

toy.run is a few small NumPy products (at most 32 tokens × 256 dims, checked by ToyConfig.check), cheaper than
drawing its charts, so it runs outside the compute lock; the d_k sweep is cached and locked.
"""
import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import transformer_depth as charts
from core.state import Param
from core.transformer import toy_attention as toy
from ui.transformer import bind

PARAMS = [  # step = the widget's step, so a link lands on the widget's grid
    Param("toy_seed", 0, 0, 999, step=1),
    Param("toy_T", 6, 1, toy.MAX_T, step=1),
    Param("toy_d_model", 16, 1, toy.MAX_D_MODEL, step=1),
    Param("toy_d_k", 4, 1, toy.MAX_HEAD_DIMS, step=1),
    Param("toy_heads", 2, 1, toy.MAX_HEADS, step=1),
    Param("toy_scale", True),
    Param("toy_mask", "causal", choices=toy.MASKS),
    Param("toy_n_pad", 2, 0, toy.MAX_T - 1, step=1),
    Param("toy_head", 1, 1, toy.MAX_HEADS, step=1),
]


def _consistent(values: dict) -> dict:
    """heads · d_k <= 256 (d_k gives way), at least one real token (n_pad < T), and the head shown exists."""
    heads = values["toy_heads"]
    return {**values, "toy_d_k": min(values["toy_d_k"], toy.MAX_HEAD_DIMS // heads),
            "toy_n_pad": min(values["toy_n_pad"], values["toy_T"] - 1), "toy_head": min(values["toy_head"], heads)}


@ui.cached_compute(max_entries=64, max_size="1MB")  # six lists of 10 floats an entry
def _entropy_vs_dk(T: int, seed: int) -> toy.EntropyVsDk:
    return toy.entropy_vs_dk(T=T, seed=seed)


def _heatmap(matrix: np.ndarray, title: str, rows: str, cols: str, probabilities: bool = False):
    """A heatmap of `matrix`, its first rows only when it has more cells than one chart draws."""
    keep = max(1, charts.MAX_CELLS // matrix.shape[1])
    if matrix.shape[0] > keep:
        title = f"{title} (first {keep} of {matrix.shape[0]} rows)"
    return charts.matrix_heatmap(matrix[:keep], title, rows, cols, probabilities=probabilities, width=300)


def _widgets() -> toy.ToyConfig:
    c1, c2, c3, c4 = st.columns(4)
    T = c1.slider("tokens T", 1, toy.MAX_T, step=1, key="toy_T")
    d_model = c2.slider("d_model C", 1, toy.MAX_D_MODEL, step=1, key="toy_d_model")
    heads = c3.slider("heads H", 1, toy.MAX_HEADS, step=1, key="toy_heads")
    d_k = c4.slider("d_k (per head)", 1, toy.MAX_HEAD_DIMS, step=1, key="toy_d_k",
                    help=f"heads · d_k <= {toy.MAX_HEAD_DIMS}: with {heads} head(s) at most "
                         f"{toy.MAX_HEAD_DIMS // heads}")
    c5, c6, c7, c8 = st.columns(4)
    mask = c5.radio("mask", toy.MASKS, horizontal=True, key="toy_mask")
    n_pad = c6.number_input("padding tokens (at the end)", 0, toy.MAX_T - 1, step=1, key="toy_n_pad",
                            disabled=mask != "padding", help="at most T − 1: one real token at least")
    scale = c7.toggle("divide the scores by √d_k", key="toy_scale")
    seed = c8.number_input("seed", 0, 999, step=1, key="toy_seed")
    return toy.ToyConfig(seed, T, d_model, d_k, heads, scale, mask, n_pad)


def render() -> None:
    st.header("Toy attention lab")
    ui.explain(
        "The real models' matrices are too big to look at. Here random token vectors X go through the whole of "
        "multi-head attention with random weights, every intermediate kept: change the sizes, the mask and the "
        "scaling and follow one head from X to the output. Same seed, same numbers: the seed is in the link.")
    bind(PARAMS, rules=(_consistent,))
    cfg = _widgets()
    res = toy.run(cfg)
    head = st.slider("head to follow", 1, toy.MAX_HEADS, step=1, key="toy_head",
                     help=f"1..{cfg.heads}: a larger value shows head {cfg.heads}")
    ui.sync_params(PARAMS)
    h = min(head, cfg.heads) - 1
    D = cfg.d_k

    entropy = res.entropy  # (H, T)
    max_bits = float(np.log2(cfg.T))
    m1, m2, m3 = st.columns(3)
    m1.metric("mean row entropy", f"{entropy.mean():.3f} bits", f"uniform: {max_bits:.2f} bits", delta_color="off")
    m2.metric("std of the scores", f"{res.scores.std():.2f}", "≈ 1 when scaled, ≈ √d_k when not", delta_color="off")
    m3.metric("max |row sum − 1|", f"{np.abs(res.probs.sum(-1) - 1).max():.1e}")
    if cfg.mask == "padding" and cfg.n_pad == 0:
        st.info("The padding mask hides the last n_pad keys; with 0 padding tokens it hides nothing.")

    st.subheader(f"Head {h + 1}, step by step")
    st.latex(r"Q = XW_Q,\; K = XW_K,\; V = XW_V \quad \text{scores} = \frac{QK^\top}{\sqrt{d_k}} \quad "
             r"\text{probs} = \mathrm{softmax}(\text{scores} + M) \quad \text{out} = [\text{probs}\,V]_{h=1..H}\,W_O")
    cols = slice(h * D, (h + 1) * D)
    stages = [
        (res.X, f"X, the tokens ({cfg.T} × {cfg.d_model})", "token", "dimension", False),
        (res.Wq[:, cols], f"W_Q of head {h + 1} ({cfg.d_model} × {D})", "input dim", "head dim", False),
        (res.Q[h], f"Q = X W_Q, head {h + 1} ({cfg.T} × {D})", "token", "head dim", False),
        (res.scores[h], "scores = Q Kᵀ" + (" / √d_k" if cfg.scale else " (not scaled)"), "query", "key", False),
        (res.masked_scores[h], f"scores + M ({cfg.mask} mask; empty = −∞)", "query", "key", False),
        (res.probs[h], "probs = softmax(scores + M): rows sum to 1", "query", "key", True),
        (res.concat, f"concat of the {cfg.heads} heads' probs · V ({cfg.T} × {cfg.heads * D})", "token", "dim", False),
        (res.output, f"output = concat · W_O ({cfg.T} × {cfg.d_model})", "token", "dimension", False),
    ]
    for left, right in zip(stages[0::2], stages[1::2]):
        a, b = st.columns(2)
        ui.chart(_heatmap, *left, on=a)
        ui.chart(_heatmap, *right, on=b)
    with st.expander(f"probs of head {h + 1}, as numbers"):
        st.dataframe(pd.DataFrame(res.probs[h].round(4), index=[f"query {t}" for t in range(cfg.T)],
                                  columns=[f"key {t}" for t in range(cfg.T)]))
    ui.chart(charts.heads_heatmaps, res.probs, "probs, every head", probabilities=True)
    ui.chart(charts.entropy_rows_chart, entropy, max_bits)
    st.caption("Entropy of a row: 0 bits when a query looks at one key only, log₂ T when it spreads evenly. "
               "Under the causal mask query 0 sees only itself: always 0 bits.")

    st.subheader("Why divide by √d_k?")
    st.markdown(
        "With q and k of d_k independent unit-variance entries, q·k has variance d_k. Unscaled, the scores spread "
        "further apart as d_k grows, the softmax turns nearly one-hot (entropy → 0) and its gradients vanish: "
        "the model can no longer learn where to look. Dividing by √d_k keeps the variance at 1 for every d_k. "
        "Below, random q and k for each d_k, with and without the scaling.")
    with ui.heavy("Sweeping d_k"):
        curve = _entropy_vs_dk(max(2, cfg.T), cfg.seed)
    ui.chart(charts.entropy_vs_dk_chart, curve.d_ks, curve.entropy_scaled, curve.entropy_unscaled, curve.max_bits)
    st.caption(f"{curve.T} keys per row, so a uniform row has {curve.max_bits:.2f} bits. Score std at d_k = "
               f"{curve.d_ks[-1]}: {curve.score_std_scaled[-1]:.2f} scaled, {curve.score_std_unscaled[-1]:.1f} "
               f"unscaled (√{curve.d_ks[-1]} = {np.sqrt(curve.d_ks[-1]):.1f}). This lab's d_k is {cfg.d_k}.")
    st.latex(r"\mathrm{Var}(q \cdot k) = \sum_{i=1}^{d_k} \mathrm{Var}(q_i k_i) = d_k \quad\Rightarrow\quad "
             r"\mathrm{Var}\!\left(\frac{q \cdot k}{\sqrt{d_k}}\right) = 1")
    ui.papers(("Attention Is All You Need, §3.2.1 (Vaswani et al. 2017)", "https://arxiv.org/abs/1706.03762"))
    ui.code_behind(toy.run, toy.additive_mask, toy.softmax, toy.split_heads, toy.row_entropy, toy.entropy_vs_dk)
