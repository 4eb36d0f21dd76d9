"""Transformer · How big is a model? Parameters, FLOPs per token and memory from a config alone, for
published presets and any what-if variant of them. Pure arithmetic (core.transformer.calculator): no
model runs, so nothing here takes the compute lock.
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import transformer_depth as charts
from core.state import Param
from core.transformer import calculator as calc
from ui.transformer import bind

NAMES = tuple(c.name for c in calc.PRESETS)
PRESET = Param("calc_preset", "Llama-2-7B", choices=NAMES)
# The architecture fields a viewer may override: (key, ModelConfig field, label, lo, hi, step). Every preset
# lies on these grids (widths are multiples of 64, FFN sizes of 256, contexts of 512).
FIELDS = (
    ("calc_layers", "layers", "layers L", 1, 200, 1),
    ("calc_width", "d_model", "width C (d_model)", 64, 32768, 64),
    ("calc_heads", "heads", "query heads H", 1, 256, 1),
    ("calc_kv_heads", "kv_heads", "KV heads H_kv", 1, 256, 1),
    ("calc_ffn", "ffn_dim", "FFN width F", 256, 131072, 256),
    ("calc_vocab", "vocab", "vocabulary V", 1, 262144, 1),
    ("calc_context", "context", "trained context", 512, 131072, 512),
)
SETTINGS = [
    Param("calc_precision", "BF16/FP16", choices=tuple(calc.BYTES)),
    Param("calc_batch", 1, 1, 64, step=1),
    Param("calc_seq", 4096, 128, 32768, step=128),
    Param("calc_recompute", "selective", choices=calc.RECOMPUTE),
    Param("calc_mixed", True),
    Param("calc_optimizer", "adam", choices=tuple(calc.OPTIMIZER_STATES)),
]


def _architecture_params(base: calc.ModelConfig) -> list[Param]:
    """The override Params, their defaults the preset's own values (so a link naming only the preset opens it
    unchanged)."""
    return [Param(key, getattr(base, field), lo, hi, step=step) for key, field, _, lo, hi, step in FIELDS] + [
        Param("calc_tied", base.tied_embeddings)]


def _valid_heads(values: dict) -> dict:
    """D = C // H needs H <= C, and each KV head serves H / H_kv query heads, so H_kv divides H: the largest
    divisor of H not above the chosen H_kv."""
    heads = min(values["calc_heads"], values["calc_width"])
    kv = min(values["calc_kv_heads"], heads)
    while heads % kv:
        kv -= 1
    return {**values, "calc_heads": heads, "calc_kv_heads": kv}


def _reset_overrides() -> None:
    """A new preset brings its own architecture: the override widgets take its values."""
    base = calc.preset(st.session_state["calc_preset"])
    for p in _architecture_params(base):
        st.session_state[p.key] = p.default


def _config(base: calc.ModelConfig) -> calc.ModelConfig:
    changes = {field: st.session_state[key] for key, field, *_ in FIELDS}
    changes["tied_embeddings"] = st.session_state["calc_tied"]
    changes = {k: v for k, v in changes.items() if getattr(base, k) != v}
    return calc.with_changes(base, **changes) if changes else base


def _published_table() -> pd.DataFrame:
    rows = []
    for cfg in calc.PRESETS:
        n = calc.parameters(cfg).total
        rows.append({"model": cfg.name, "attention": cfg.attention_kind, "computed": f"{n:,}",
                     "published": calc.human(cfg.published_params), "difference":
                     f"{(n - cfg.published_params) / cfg.published_params:+.2%}", "source": cfg.source})
    return pd.DataFrame(rows)


def render() -> None:
    st.header("How big is a model?")
    ui.explain(
        "Every number on a model card (7B parameters, 14 GB in BF16, 512 KiB of KV cache per token) follows from "
        "a handful of config fields. Pick a published model, change its architecture, and watch parameters, "
        "compute per token and memory follow. No model is loaded: it is arithmetic, checked in the tests against "
        "`numel()` of the bundled models and the published sizes.")
    ui.bind_params([PRESET])
    base = calc.preset(st.session_state["calc_preset"])
    arch = _architecture_params(base)
    bind(arch + SETTINGS, rules=(_valid_heads,))
    st.selectbox("Published model", NAMES, key="calc_preset", on_change=_reset_overrides)
    with st.expander("Change the architecture (what if?)", expanded=False):
        cols = st.columns(4)
        for i, (key, _, label, lo, hi, step) in enumerate(FIELDS):
            cols[i % 4].number_input(label, lo, hi, step=step, key=key)
        cols[len(FIELDS) % 4].toggle("tied embeddings (lm_head = embedding table)", key="calc_tied")
        st.caption("Rules: H_kv divides H (each key/value head serves a whole group of query heads) and H <= C; "
                   "the head size is D = C // H.")
    c1, c2, c3 = st.columns(3)
    precision = c1.selectbox("Precision of the weights", list(calc.BYTES), key="calc_precision")
    batch = c2.slider("Batch (sequences)", 1, 64, step=1, key="calc_batch")
    seq = c3.slider("Sequence length (tokens)", 128, 32768, step=128, key="calc_seq")
    c4, c5, c6 = st.columns(3)
    recompute = c4.radio("Activation recomputation", calc.RECOMPUTE, horizontal=True, key="calc_recompute")
    optimizer = c5.radio("Optimizer", list(calc.OPTIMIZER_STATES), horizontal=True, key="calc_optimizer")
    mixed = c6.toggle("Mixed-precision training", key="calc_mixed")
    ui.sync_params([PRESET] + arch + SETTINGS)

    cfg = _config(base)
    params = calc.parameters(cfg)
    flops = calc.flops_per_token(cfg, seq)
    # An encoder reads its input in one pass and generates nothing: no KV cache to keep.
    inference = calc.inference_memory(cfg, precision, batch, seq if cfg.decoder else 0)
    training = calc.training_memory(cfg, mixed, optimizer, batch, seq, recompute)
    kv_token = calc.kv_cache_bytes_per_token(cfg, precision)

    m1, m2, m3 = st.columns(3)
    m1.metric("parameters", f"{params.total:,}", help=f"{calc.human(params.total)}; without embeddings "
              f"(Kaplan's N) {calc.human(params.non_embedding)}")
    if cfg.published_params:
        m2.metric("published", calc.human(cfg.published_params),
                  f"computed {(params.total - cfg.published_params) / cfg.published_params:+.2%}", delta_color="off")
    else:
        m2.metric("published", "(modified)", help="A what-if variant has no published figure.")
    m3.metric("attention", f"{cfg.attention_kind}, D = {cfg.D}", f"{cfg.heads} query, {cfg.kv_heads} KV head(s)",
              delta_color="off")
    m4, m5, m6 = st.columns(3)
    m4.metric("forward FLOPs per token", calc.human(flops.forward_per_token),
              f"2N = {calc.human(flops.forward_2n)} + attention {calc.human(flops.attention_per_token)}",
              delta_color="off")
    m5.metric("training FLOPs per token", calc.human(flops.training_per_token), "3 × forward ≈ 6N", delta_color="off")
    m6.metric("KV cache per token", calc.human(kv_token, "B") if cfg.decoder else "none (encoder)")
    m7, m8 = st.columns(2)
    m7.metric(f"inference memory, {precision}", calc.human(inference.total, "B"),
              f"weights {calc.human(inference.weights, 'B')} + KV cache {calc.human(inference.kv_cache, 'B')}",
              delta_color="off")
    m8.metric("training memory", calc.human(training.total, "B"),
              f"activations {calc.human(training.activations, 'B')}", delta_color="off")
    if cfg.d_model % cfg.heads:
        st.info(f"C = {cfg.d_model} is not a multiple of H = {cfg.heads}: each head gets D = C // H = {cfg.D}, "
                f"so the heads together are {cfg.heads * cfg.D} wide, not C.")

    left, right = st.columns(2)
    left.caption(f"The weights of {cfg.name} alone, at each precision")
    left.dataframe(pd.DataFrame({"precision": list(calc.BYTES), "bytes per weight": list(calc.BYTES.values()),
                                 "weights": [calc.human(b, "B") for b in calc.weights_by_precision(cfg).values()]}),
                   hide_index=True)
    right.caption("Where the parameters are")
    right.dataframe(pd.DataFrame({"part": ["embeddings", "attention", "MLP", "norms", "lm_head", "pooler"],
                                  "parameters": [f"{n:,}" for n in (params.embeddings, params.attention, params.mlp,
                                                                    params.norms, params.lm_head, params.other)]}),
                    hide_index=True)
    settings = {f"inference, {p}": calc.inference_memory(cfg, p, batch, seq if cfg.decoder else 0)
                for p in calc.BYTES}
    settings |= {f"training, recompute {r}": calc.training_memory(cfg, mixed, optimizer, batch, seq, r)
                 for r in calc.RECOMPUTE}
    ui.chart(charts.memory_chart, calc.memory_rows(settings), f"{cfg.name}: {batch} × {seq:,} tokens", width="stretch")
    st.caption("Training keeps far more than the weights: gradients, an FP32 master copy and Adam's two states "
               "(16 bytes per parameter in all), plus the activations the backward pass needs, which grow with "
               "batch × sequence length. Recomputing them in the backward pass trades compute for memory.")

    st.subheader("Computed vs published, every preset")
    st.dataframe(_published_table(), hide_index=True,
                 column_config={"source": st.column_config.TextColumn(width="large")})
    ui.chart(charts.param_breakdown_chart, calc.breakdown_rows(calc.PRESETS), width="stretch")
    st.caption("Small models spend a large share on the embedding table (Qwen2-0.5B: a 151,936-token vocabulary); "
               "big ones on the MLP. Grouped-query attention (Llama-2-70B, Mistral) shrinks k_proj and v_proj.")

    st.subheader("The math")
    st.latex(r"N_\text{layer} = \underbrace{C\,HD + 2\,C\,H_{kv}D + HD\,C}_{q,\;k,\;v,\;o} "
             r"+ \underbrace{3\,C F}_{\text{SwiGLU}} + \underbrace{2C}_{\text{RMSNorms}}, \qquad "
             r"N = L\,N_\text{layer} + V C\;(+\,V C \text{ untied } \mathtt{lm\_head})")
    st.latex(r"\text{FLOPs}_\text{forward} \approx 2N + 2\,L\,T\,H D, \qquad "
             r"\text{FLOPs}_\text{train} \approx 3 \times \text{forward} \approx 6N")
    st.latex(r"\text{KV cache} = 2 \cdot L \cdot H_{kv} \cdot D \cdot \text{bytes per token}, \qquad "
             r"\text{Adam, mixed precision: } 2 + 2 + 4 + 4 + 4 = 16 \text{ bytes per parameter}")
    st.latex(r"\text{activations} = L \cdot s\,b\,C \left(34 + 5\,\frac{H s}{C}\right) \text{ bytes (16-bit, "
             r"no recomputation)}")
    st.markdown("A GELU MLP has 2·C·F weights instead of SwiGLU's 3·C·F; LayerNorm keeps a shift as well as a scale "
                "(2·C). Multi-query (H_kv = 1) and grouped-query attention divide the KV cache by H / H_kv.")
    ui.papers(
        ("Scaling Laws for Neural Language Models (Kaplan et al. 2020)", "https://arxiv.org/abs/2001.08361"),
        ("Reducing Activation Recomputation (Korthikanti et al. 2022)", "https://arxiv.org/abs/2205.05198"),
        ("ZeRO (Rajbhandari et al. 2019)", "https://arxiv.org/abs/1910.02054"),
        ("GQA (Ainslie et al. 2023)", "https://arxiv.org/abs/2305.13245"),
        ("Multi-query attention (Shazeer 2019)", "https://arxiv.org/abs/1911.02150"),
        ("GLU variants / SwiGLU (Shazeer 2020)", "https://arxiv.org/abs/2002.05202"),
        ("RMSNorm (Zhang & Sennrich 2019)", "https://arxiv.org/abs/1910.07467"),
    )
    ui.code_behind(calc.parameters, calc.flops_per_token, calc.activation_bytes, calc.kv_cache_bytes_per_token,
                   calc.inference_memory, calc.training_memory)
