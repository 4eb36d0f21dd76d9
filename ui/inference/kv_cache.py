"""Inference · KV cache: time per token with the cache on and off as the sequence grows, the real cache
tensors of the tiny LM, and a KV memory calculator for published model configs (MHA vs GQA vs MQA)."""
import pandas as pd
import streamlit as st

import ui
from core.charts import inference as charts
from core.inference import kv_cache as kv
from core.models import parameter_count
from core.state import Param

PROMPT = "And the LORD said unto Moses,"
REPS = 2  # asked for; kv.plan_timing keeps 2 up to 96 tokens, 1 beyond (its work budget)
ON, OFF = "with cache", "without cache"
MODEL_NAMES = tuple(m.name for m in kv.PUBLISHED_MODELS)
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid (and on a cached result)
    Param("kv_tokens", 96, 32, 256, step=32),
    Param("kv_model", "Llama-2-70B", choices=MODEL_NAMES),
    Param("kv_dtype", "FP16", choices=tuple(kv.BYTES_PER_VALUE)),
    Param("kv_context", 4096, 512, 131072, step=512),
    Param("kv_batch", 1, 1, 256, step=1),
]


@ui.cached_compute(max_entries=16, max_size="4MB")  # a few KB an entry: five tuples of ≤ 256 numbers
def _timing(new_tokens: int) -> kv.TimingCurve:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return kv.timing_curve(model, tokenizer, PROMPT, new_tokens, reps=REPS, budget=True)


@ui.cached_compute(max_entries=16, max_size="1MB")
def _cache_tensors(tokens: int) -> tuple[list[kv.CacheTensor], kv.AttentionShape]:
    model, tokenizer = ui.causal_lm("tiny-lm")
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    ids = ids.repeat(1, tokens // ids.size(1) + 1)[:, :tokens]  # (1, tokens): the prompt, repeated
    return kv.measure_cache(model, ids), kv.attention_shape_of(model.config, "tiny-lm")


def _timing_section() -> kv.TimingCurve:
    st.subheader("1 · Time per token, cache on vs off")
    new_tokens = st.slider("Tokens to generate", 32, 256, step=32, key="kv_tokens")
    with ui.heavy("Timing generation with and without the KV cache"):
        curve = _timing(new_tokens)
    plan = curve.plan
    new_tokens = len(curve.positions)
    if plan.new_tokens < plan.asked_tokens:
        st.info(f"Work budget: {plan.asked_tokens} tokens × {plan.asked_reps} runs would be more than this shared "
                f"server runs for one demo ({plan.max_forwards} forward passes and {plan.max_token_passes:,} "
                f"token-passes, about 10 s on 2 CPU cores at most), because the run without the cache grows "
                f"quadratically: timed {plan.new_tokens} tokens × {plan.reps} run ({plan.forwards} passes, "
                f"{plan.token_passes:,} token-passes).")
    per_token = pd.concat([  # step 0 (the prompt's prefill) is left out: it is the same work either way
        pd.DataFrame({"position": curve.positions[1:], "ms": curve.ms_cache[1:], "mode": ON}),
        pd.DataFrame({"position": curve.positions[1:], "ms": curve.ms_no_cache[1:], "mode": OFF})])
    total = pd.concat([
        pd.DataFrame({"tokens": range(1, new_tokens + 1), "seconds": pd.Series(curve.ms_cache).cumsum() / 1000,
                      "mode": ON}),
        pd.DataFrame({"tokens": range(1, new_tokens + 1), "seconds": pd.Series(curve.ms_no_cache).cumsum() / 1000,
                      "mode": OFF})])
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("with cache", f"{curve.seconds_cache:.2f} s")
    c2.metric("without cache", f"{curve.seconds_no_cache:.2f} s")
    c3.metric("speedup", f"{curve.speedup:.1f}×")
    c4.metric("same tokens", "yes ✓" if curve.same_tokens else "NO ✗")
    left, right = st.columns(2)
    ui.chart(charts.kv_timing_chart, per_token, width="stretch", on=left)
    ui.chart(charts.kv_cumulative_chart, total, width="stretch", on=right)
    prompt_len = curve.positions[0]
    weight_mb = parameter_count(ui.causal_lm("tiny-lm")[0]) * 4 / 1e6
    runs = (f"median of {curve.reps} alternating runs" if curve.reps > 1 else
            f"one run of each (the work budget allows {plan.reps} at this length)" if plan.cut else "one run of each")
    st.caption(
        f"Greedy decoding of {new_tokens} tokens after a {prompt_len}-token prompt with tiny-lm on this machine's "
        f"CPU; {runs} after a warm-up (step 0, the prompt's prefill, is left out "
        "of the left chart). Without the cache, step t runs all t tokens through the model again: "
        f"{sum(curve.tokens_in_no_cache):,} token-passes in total instead of {prompt_len + new_tokens - 1:,}. "
        f"With the cache a step runs one token; tiny-lm's step is **overhead-bound** here (its {weight_mb:.1f} MB of "
        "FP32 weights sit in the CPU's caches, and the time is the fixed cost of each small operation), which is why "
        "it stays nearly flat; without the cache the arithmetic grows with the prefix. "
        "The longer the sequence and the bigger the model, the larger the gap.")
    if not curve.same_tokens:
        st.error("The two runs produced different tokens: this should never happen; please report it.")
    ui.record("kv_speedup", curve.speedup)
    return curve


def _real_cache_section(curve: kv.TimingCurve) -> None:
    st.subheader("2 · The real cache tensors")
    tokens = curve.positions[-1]
    with ui.heavy("Reading the cache"):
        rows, shape = _cache_tensors(tokens)
    table = pd.DataFrame([{"layer": r.layer, "tensor": r.kind, "shape (B, H_kv, T, D)": str(r.shape),
                           "dtype": r.dtype, "bytes": r.nbytes} for r in rows])
    measured = sum(r.nbytes for r in rows)
    formula = kv.kv_cache_bytes(shape, tokens, bytes_per_value=4)
    c1, c2 = st.columns([3, 2])
    c1.dataframe(table, hide_index=True, width="stretch", height=250)
    c2.markdown(
        f"tiny-lm's `past_key_values` (`out.cache` in transformers 5) after a prefill of {tokens} tokens: "
        f"**{len(rows)} tensors** = {shape.layers} layers × (K, V), each (1, {shape.kv_heads}, {tokens}, "
        f"{shape.head_dim}) in float32.\n\n"
        f"Measured: **{measured:,} bytes**. Formula 2 · L · H_kv · D · bytes · T = 2 · {shape.layers} · "
        f"{shape.kv_heads} · {shape.head_dim} · 4 · {tokens} = **{formula:,} bytes** "
        f"({kv.kv_bytes_per_token(shape, 4):,} B per token). tiny-lm uses GQA: {shape.heads} query heads "
        f"share {shape.kv_heads} KV heads, so its cache is {shape.heads // shape.kv_heads}× smaller than MHA's.")
    sizes = pd.DataFrame({"position": curve.positions, "kib": [b / kv.KIB for b in curve.cache_bytes],
                          "formula_kib": [kv.kv_cache_bytes(shape, p, bytes_per_value=4) / kv.KIB
                                          for p in curve.positions]})
    ui.chart(charts.kv_size_chart, sizes, width="stretch", on=c2)
    c2.caption("Dots: the cache measured after each generated token of the timing run above; line: the formula.")


def _calculator_section() -> None:
    st.subheader("3 · KV memory of real models")
    c1, c2, c3, c4 = st.columns([3, 4, 3, 3])
    name = c1.selectbox("Model", MODEL_NAMES, key="kv_model")
    dtype = c2.segmented_control("Cache dtype", tuple(kv.BYTES_PER_VALUE), key="kv_dtype", required=True) or "FP16"
    context = c3.number_input("Tokens per sequence", 512, 131072, step=512, key="kv_context")
    batch = c4.number_input("Sequences (batch)", 1, 256, key="kv_batch")
    nbytes = kv.BYTES_PER_VALUE[dtype]
    shape = next(m for m in kv.PUBLISHED_MODELS if m.name == name)
    if context > shape.context:
        st.info(f"{name} was trained on {shape.context:,} tokens; {context:,} would need context extension, "
                "but the memory arithmetic is the same.")
    variants = kv.attention_variants(shape)
    frame = pd.DataFrame([{"model": f"{v.kind} ({v.kv_heads} KV heads)", "kind": v.kind, "KV heads": v.kv_heads,
                           "kib": kv.kv_bytes_per_token(v, nbytes) / kv.KIB,
                           "gib": kv.kv_cache_bytes(v, context, batch, nbytes) / kv.GIB} for v in variants])
    per_token = kv.kv_bytes_per_token(shape, nbytes)
    st.markdown(
        f"**{name}** ({shape.kind}: {shape.layers} layers, {shape.heads} query heads, {shape.kv_heads} KV heads, "
        f"head dim {shape.head_dim}) in {dtype}: 2 · {shape.layers} · {shape.kv_heads} · {shape.head_dim} · "
        f"{nbytes} B = **{per_token / kv.KIB:,.0f} KiB per token**; × {context:,} tokens × {batch} "
        f"sequence(s) = **{kv.kv_cache_bytes(shape, context, batch, nbytes) / kv.GIB:,.2f} GiB**.")
    ui.chart(charts.kv_memory_chart, frame, "gib", f"{name}'s cache at {context:,} tokens × {batch}, "
             f"{dtype}, if it used "
             + " or ".join(v.name.split(" as ")[-1] for v in variants), width="stretch")
    table = pd.DataFrame([{"model": m.name, "attention": m.kind, "layers": m.layers, "heads": m.heads,
                           "KV heads": m.kv_heads, "head dim": m.head_dim,
                           f"KiB/token ({dtype})": kv.kv_bytes_per_token(m, nbytes) / kv.KIB,
                           f"GiB at {context:,} × {batch}": kv.kv_cache_bytes(m, context, batch, nbytes) / kv.GIB,
                           "config source": m.source} for m in kv.PUBLISHED_MODELS])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        f"KiB/token ({dtype})": st.column_config.NumberColumn(format="%.0f"),
        f"GiB at {context:,} × {batch}": st.column_config.NumberColumn(format="%.2f")})
    st.caption("Computed from each model's published configuration (sources in the last column). INT8 counts one "
               "byte per value and leaves out the small per-channel scales a real INT8 cache also stores. "
               "For scale: Llama-2-7B's 16-bit weights take 6.7B parameters × 2 B ≈ 13.5 GB, so at 4,096 tokens "
               "(2 GiB of cache each) its cache outgrows the weights from a batch of 7.")


def render() -> None:
    st.header("KV cache")
    ui.explain(
        "To predict token t+1, attention needs the **keys and values of every earlier token**. Without a cache "
        "the model reruns the whole prefix at every step: n tokens cost O(n²) token-passes (projections and MLP), "
        "and attention, where each of t tokens looks at t others, O(n³) work in total. The KV cache keeps them: each "
        "step runs only the new token, so token-passes become **linear**; attention still reads the whole cache, "
        "so its total work becomes O(n²). The price is memory, "
        "which grows with every token and is what limits batch size and context length on real servers.")
    ui.bind_params(PARAMS)
    if not ui.require_model("tiny-lm"):
        _calculator_section()
        ui.sync_params(PARAMS)
        return
    curve = _timing_section()
    _real_cache_section(curve)
    _calculator_section()
    ui.sync_params(PARAMS)
    with st.expander("The math: the work saved, what bounds a step, and what GQA and MQA save"):
        st.latex(r"\text{without cache: } \sum_{t=T_0}^{T_0+n-1} t \approx T_0 n + \tfrac{n^2}{2} "
                 r"\text{ token-passes} \qquad \text{with cache: } T_0 + n - 1")
        st.latex(r"\text{attention scores: without cache } \sum_t t^2 \approx \tfrac{n^3}{3} \qquad "
                 r"\text{with cache } \sum_t t \approx \tfrac{n^2}{2}")
        st.latex(r"\text{KV bytes per token} = 2 \times L \times H_{kv} \times D \times \text{bytes per value}")
        st.markdown(
            "With the cache, each step multiplies one token's activations by every weight matrix: about 2 FLOPs "
            "per weight, but every weight (and the whole cache) must be read from memory once per step. At 2 "
            "bytes per weight that is about **1 FLOP per byte**, while a GPU can do 100-300 FLOPs in the time it "
            "reads one byte: a 7B model's single-sequence decoding is **memory-bound**, and the cache is read as "
            "often as the weights. tiny-lm on a CPU is the other case, **overhead-bound**: its weights fit in the "
            "caches and each step pays a fixed cost per operation (the Serving section measures it at a small "
            "fraction of this machine's roofline). For big models, shrinking the cache helps directly: **MQA** (Shazeer 2019) shares one K/V head across all query "
            "heads (H_kv = 1, cache ÷ H); **GQA** (Ainslie et al. 2023) shares each K/V head within a group "
            "of query heads (H_kv = G), nearly MHA's quality at a fraction of its cache. Llama-2-70B's 8 KV "
            "heads for 64 query heads make its cache 8× smaller than MHA would: 2 · 80 · 8 · 128 · 2 B = "
            "320 KiB per token instead of 2.5 MiB. A cache stored in INT8 halves it again.")
    ui.papers(("Shazeer 2019, Fast Transformer Decoding: One Write-Head is All You Need (MQA)",
               "https://arxiv.org/abs/1911.02150"),
              ("Ainslie et al. 2023, GQA", "https://arxiv.org/abs/2305.13245"),
              ("Pope et al. 2022, Efficiently Scaling Transformer Inference", "https://arxiv.org/abs/2211.05102"))
    ui.code_behind(kv.greedy_run, kv.kv_bytes_per_token, kv.cache_tensors)
