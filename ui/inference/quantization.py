"""Inference · Quantization: FP32, BF16, INT8 and 4-bit variants of the tiny LM measured side by side
(size, latency, perplexity, output drift), the grids on a real weight matrix, per-layer error, and
RTN vs GPTQ- vs AWQ-style quantization of one matrix."""
import pandas as pd
import streamlit as st

import ui
from core.charts import quantization as charts
from core.inference import quant_formats, quant_measure, quant_methods, quantization
from core.state import Param
from ui.inference import run_in_slices, stopped

GROUPS = ("per row", "64", "32")
PPL_CHOICES = (256, 512, 1024, 2048, 4096)
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid (and on a cached result)
    Param("q_layer", 3, 0, 5, step=1),
    Param("q_matrix", "up_proj", choices=quantization.MATRICES),
    Param("q_format", "NF4", choices=("INT8", "NF4", "FP4")),
    Param("q_group", "64", choices=GROUPS),
    Param("q_prompts", 3, 1, len(quantization.DEFAULT_PROMPTS), step=1),
    Param("q_tokens", 16, 4, 48, step=1),
    Param("q_reps", 2, 1, 5, step=1),
    Param("q_ppl", 1024, choices=PPL_CHOICES),
]
LEVEL_NOTES = {
    "INT8": "255 evenly spaced levels k/127 of each row's absmax (LLM.int8 stores one absmax per row): "
            "so dense that rounding moves a weight by at most absmax/254, i.e. 1/254 of the row's absmax.",
    "NF4": "16 levels at the quantiles of a normal distribution (QLoRA): dense near 0 where most weights are, "
           "one absmax per block of 64 weights.",
    "FP4": "16 levels of a tiny float (sign, 2 exponent bits, 1 mantissa bit): log-spaced, so very fine near 0 "
           "and coarse near the absmax, one absmax per block of 64 weights.",
}


# ---- cached work (shared by every session; parameters are the cache key) -------------------------
@st.cache_resource(show_spinner=False, max_entries=len(quantization.VARIANTS))
def _variant(name: str):
    """One model per variant per process, built from the cached FP32 model (never modified)."""
    base, _ = ui.causal_lm("tiny-lm")
    return base if name == "FP32" else quantization.build_variant(name, base=base)


@ui.cached_compute(max_entries=16, max_size="16MB")  # ≤ 0.4 MB an entry: the matrix's ≤ 98,304 weights
def _matrix_view(layer: int, matrix: str, fmt: str) -> tuple:
    model, _ = ui.causal_lm("tiny-lm")
    W = model.get_submodule(quantization.matrix_name(layer, matrix)).weight.detach().float()
    values, levels = quant_formats.normalized_weights(W, fmt)
    errors = {f: quant_methods.relative_error(W, quant_formats.fake_quantize(W, f)) for f in quant_formats.FORMATS}
    return values.numpy(), levels.numpy(), tuple(W.shape), errors


@ui.cached_compute(max_entries=2, max_size="1MB")  # 168 small rows: 42 layers × 4 formats
def _layer_errors(tokens: int) -> list:
    model, _ = ui.causal_lm("tiny-lm")
    return quantization.layer_errors(model, quantization.encode_corpus("tiny-lm", "heldout", tokens))


@ui.cached_compute(max_entries=64, max_size="2MB")  # 6 small rows an entry
def _methods(layer: int, matrix: str, group_size: int) -> list:
    model, _ = ui.causal_lm("tiny-lm")
    return quantization.method_study(model, quantization.matrix_name(layer, matrix), group_size)


# ---- the section ----------------------------------------------------------------------------------
def _widgets() -> None:
    ui.bind_params(PARAMS)
    c1, c2, c3 = st.columns([1, 2, 2])
    c1.number_input("Decoder block", 0, 5, key="q_layer")
    c2.selectbox("Weight matrix", quantization.MATRICES, key="q_matrix")
    c3.segmented_control("Grid to show", ("INT8", "NF4", "FP4"), key="q_format", required=True)


def _one_matrix() -> None:
    s = st.session_state
    fmt = s.q_format or "NF4"
    name = quantization.matrix_name(int(s.q_layer), s.q_matrix)
    with ui.heavy("Quantizing one matrix"):
        values, levels, shape, errors = _matrix_view(int(s.q_layer), s.q_matrix, fmt)
    ui.chart(charts.histogram_chart, values, levels, f"{name} {shape[0]}×{shape[1]}: {fmt} grid "
             f"({len(levels)} levels)", width="stretch")
    st.caption(LEVEL_NOTES[fmt] + " Each weight moves to its nearest red line; the bars are the real weights.")
    cols = st.columns(len(errors))
    for col, (f, err) in zip(cols, errors.items()):
        col.metric(f"{f}: ‖W−Ŵ‖ / ‖W‖", f"{err:.2%}")


def _per_layer() -> None:
    tokens = 256
    with ui.heavy("Quantizing every layer"):
        rows = _layer_errors(tokens)
    st.markdown(f"**Every Linear layer, every format** (weights rounded as each format stores them; output "
                f"error on the real inputs X each layer receives over {tokens} held-out tokens):")
    frame = charts.layer_error_frame(rows)
    ui.chart(charts.layer_error_chart, frame, width="content")
    worst = frame[frame["error kind"].str.startswith("output")].sort_values("error").groupby("format").tail(1)
    st.caption("Largest output error per format: " + "; ".join(
        f"{r.format} {r.layer} {r.error:.2%}" for r in worst.itertuples()) +
        ". The weight error is about the same in every layer (it depends on the grid, not the layer); the "
        "output error is not: it depends on how the rounding errors line up with the inputs.")


def _measure_ui() -> None:
    st.subheader("Six variants, same prompts, measured now")
    st.markdown("\n".join(f"- **{name}**: {what}" for name, what in quantization.VARIANTS.items()) +
                "\n\nEvery variant quantizes the same 42 Linear layers of the decoder blocks; the tied embedding / "
                "`lm_head` and the norms stay FP32 everywhere, so the differences below come from those layers only.")
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Prompts", 1, len(quantization.DEFAULT_PROMPTS), key="q_prompts")
    c2.slider("New tokens per prompt", 4, 48, key="q_tokens")
    c3.slider("Rounds (reps)", 1, 5, key="q_reps")
    c4.select_slider("Held-out tokens for perplexity", PPL_CHOICES, key="q_ppl")
    ui.sync_params(PARAMS)
    s = st.session_state
    args = (int(s.q_prompts), int(s.q_tokens), int(s.q_reps), int(s.q_ppl))
    plan = quant_measure.plan_measure(*args)
    st.caption(f"{plan.variants} variants × {plan.prompts} prompts × {plan.new_tokens} tokens × {plan.reps} rounds = "
               f"{plan.generated_tokens:,} generated tokens, plus perplexity on {plan.ppl_tokens:,} tokens per variant. "
               "Prompts: " + " · ".join(f"“{p}”" for p in quantization.DEFAULT_PROMPTS[: plan.prompts]))
    if plan.cut:
        prompts, tokens, reps, ppl = plan.asked
        st.info(f"Work budget: one Measure generates at most {quant_measure.MEASURE_MAX_TOKENS:,} tokens (variants × "
                f"prompts × tokens × rounds) and computes perplexity on at most "
                f"{quant_measure.MEASURE_MAX_PPL_TOKENS:,} held-out tokens per variant, about half a minute on this "
                f"shared 2-core server. Asked: {plan.variants} × {prompts} × {tokens} × {reps} = "
                f"{plan.variants * prompts * tokens * reps:,} generated tokens and perplexity on {ppl:,}, so it runs "
                "the numbers above (fewer rounds first, then fewer prompts, then fewer tokens).")
    if st.button("Measure", key="q_measure", type="primary"):
        steps = quant_measure.measure_variants(
            tuple(quantization.VARIANTS), quantization.DEFAULT_PROMPTS[: plan.prompts], plan.new_tokens,
            plan.ppl_tokens, plan.reps, load=_variant, max_generation_seconds=quant_measure.MEASURE_GENERATION_SECONDS)
        s["q_results"] = (args, run_in_slices(steps, "Measuring six variants", "q_stop"))
    st.caption("It runs only when you click, in short pieces that let other viewers in between; the result stays "
               "here until you click again.")
    if stopped("q_stop"):
        st.info("Measurement stopped" + (": the previous one is shown." if "q_results" in s else "."))
    if "q_results" not in s:
        st.info("Press **Measure** to build the six variants (a few seconds the first time) and time them here. "
                "The first load of the bitsandbytes variants is slow; later runs reuse them.")
        return
    measured_args, measurement = s["q_results"]
    if measured_args != args:
        st.caption(f"Showing the last measurement (prompts, tokens, rounds, perplexity tokens = {measured_args}); "
                   "press Measure for the new settings.")
    if measurement.stopped_early:
        st.warning(f"Time cap: no new generation starts after {quant_measure.MEASURE_GENERATION_SECONDS:.0f} s of work "
                   f"(this server is busy): {measurement.generations} of {measurement.planned_generations} generations "
                   "per variant were timed, and the scores cover the prompts done.")
    _show_results(list(measurement.results))


def _show_results(results: list) -> None:
    frame = charts.variants_frame(results)
    ui.chart(charts.variants_chart, frame, width="content")
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format=f) for c, f in (
            ("size (MB)", "%.2f"), ("size / FP32", "%.3f"), ("Linear layers (MB)", "%.2f"),
            ("bits per Linear weight", "%.2f"), ("ms / token", "%.1f"), ("latency / FP32", "%.2f"),
            ("perplexity", "%.3f"), ("perplexity / FP32", "%.4f"), ("perplexity change vs FP32", "percent"),
            ("top-1 agreement", "%.3f"),
            ("first divergence (token)", "%.1f"), ("identical outputs", "%.2f"))})
    fp32 = next(r for r in results if r.name == "FP32")
    nf4 = next(r for r in results if r.name == "NF4")
    rounds = len(fp32.ms_samples) // len(fp32.texts)
    st.markdown(
        f"**What is counted.** Size = the bytes of every weight the model holds while generating: the 42 Linear "
        f"layers of the 6 decoder blocks in the variant's format (codes and their scales: one per row for INT8, one "
        f"absmax per 64 weights for NF4/FP4), plus the tied embedding/`lm_head` (4096 × 192) and the norms, which "
        f"stay FP32 in every variant ({fp32.other_bytes / 1e6:.2f} MB, a quarter of the parameters). So NF4 is "
        f"**{nf4.size_bytes / fp32.size_bytes:.1%}** of FP32 for the whole model but "
        f"**{nf4.linear_bytes / fp32.linear_bytes:.1%}** for the quantized Linear layers alone "
        f"({8 * nf4.linear_bytes / nf4.linear_weights:.2f} bits per weight); with the embedding stored in BF16 "
        f"as well (common in QLoRA setups) the whole model would be "
        f"{(nf4.linear_bytes + nf4.other_bytes / 2) / fp32.size_bytes:.1%}. In a 7B model embeddings are a few "
        "percent of the weights, so the whole model gets close to the Linear layers' ratio. On CPUs with AVX512-BF16 "
        "instructions (check yours), bitsandbytes repacks 4-bit weights at the first call and keeps the absmaxes "
        "in BF16 (4.25 bits per weight); elsewhere they stay FP32 (4.5 bits).")
    st.markdown(f"**How it was timed.** Each variant generates greedily with the KV cache ({rounds} rounds × "
                f"{len(fp32.texts)} prompts); each generation gives the median time of its decode steps (the prompt's "
                "prefill excluded), and ms/token is the median of those: medians shrug off the moments another user "
                "takes the CPU. The variants take turns within each round, their order rotating between rounds. "
                "On this server, "
                f"{quantization.bnb_4bit_cpu_path()}. Agreement: given FP32's greedy continuation as the prefix, the "
                "share of tokens the variant would also pick; first divergence: where its own greedy text first "
                "leaves FP32's.")
    st.markdown("**The same prompt, every variant** (greedy, so any difference is the quantization):")
    prompts = quantization.DEFAULT_PROMPTS[: len(fp32.texts)]
    texts = pd.DataFrame({"variant": [r.name for r in results]} |
                         {prompt: [r.texts[i] for r in results] for i, prompt in enumerate(prompts)})
    st.dataframe(texts, hide_index=True, width="stretch")


def _why_cpu() -> None:
    with st.expander("Why the smaller model is not faster here, and what changes on a GPU", expanded=True):
        st.markdown(
            "- **A tiny model is overhead-bound, not bandwidth-bound.** tiny-lm's weights (12.6 MB in FP32) fit in "
            "the CPU's caches; each token costs ~40 small matrix products plus Python and framework overhead per "
            "layer. Reading fewer bytes saves almost nothing when bytes were never the bottleneck.\n"
            "- **Dequantization costs work.** Every 4-bit code must become a number again before it is multiplied: "
            "work FP32 never does. On CPUs with AVX512-BF16 bitsandbytes decodes inside a fused kernel (in BF16), "
            "elsewhere it decodes the whole matrix to FP32 at every call. LLM.int8 quantizes the activations to int8 "
            "at every call, keeps outlier columns (|x| > 6) in 16-bit, and rescales the result.\n"
            "- **Kernels.** bitsandbytes is built for CUDA; its CPU path is a correctness fallback. torch's dynamic "
            "INT8 runs on fbgemm's int8 GEMM, a real CPU kernel, but it also quantizes the activations at every "
            "call, which on matrices 192 wide costs about what the int8 multiply saves. BF16 halves the bytes, "
            "but CPU kernels are tuned for FP32 first, and at this size bytes were not the bottleneck anyway.\n"
            "- **On a GPU, decoding a big model is memory-bandwidth bound:** each new token must read every weight "
            "once (a 7B model in FP16 is 14 GB per token; at an H100's specified 3.35 TB/s that is ≥ 4 ms per "
            "token from bandwidth alone). 4-bit weights are ~4× fewer bytes per token than FP16, and fused kernels "
            "dequantize in registers right before the multiply. Cited, not measured here: GPTQ reports ~3.25× "
            "(A100) and ~4.5× (A6000) faster generation than FP16 for OPT-175B at 3 bits; AWQ's TinyChat reports "
            "more than 3× over Hugging Face FP16 on desktop and mobile GPUs. Batched prefill is compute-bound and "
            "gains little from weight-only quantization.")


def _methods_ui() -> None:
    st.subheader("RTN vs GPTQ vs AWQ on a real weight matrix")
    st.markdown(
        "Round-to-nearest (RTN) rounds each weight on its own. **GPTQ** quantizes one input column at a time and "
        "pushes each column's rounding error onto the columns still to come, weighted by the inverse Hessian "
        "H = 2XᵀX of real inputs X, so that the layer's *output* barely changes. **AWQ** first scales each input "
        "channel by s = mean|X|^α (and the input by 1/s, exact in full precision), α searched on calibration data, "
        "so the weights that meet large activations are rounded more finely. Same asymmetric b-bit grid for all "
        "three (a scale and zero point per group of input columns). Calibration: the first 1,024 tokens of the "
        "training text; held-out: the first 1,024 held-out tokens.")
    st.segmented_control("Group size (input columns sharing one scale)", GROUPS, key="q_group", required=True)
    ui.sync_params(PARAMS)
    s = st.session_state
    group = 0 if (s.q_group or "64") == "per row" else int(s.q_group or 64)
    name = quantization.matrix_name(int(s.q_layer), s.q_matrix)
    with ui.heavy("Running RTN, GPTQ and AWQ"):
        rows = _methods(int(s.q_layer), s.q_matrix, group)
    st.caption(f"Matrix: `{name}` (block and matrix chosen above), at 4 and 3 bits.")
    ui.chart(charts.methods_chart, charts.methods_frame(rows), width="content")
    table = pd.DataFrame([{"method": r.method, "bits": r.bits, "weight error": r.weight_error,
                           "output error (calibration)": r.calib_output_error,
                           "output error (held-out)": r.heldout_output_error, "ms": 1000 * r.seconds,
                           "note": r.detail} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in
        ("weight error", "output error (calibration)", "output error (held-out)")} |
        {"ms": st.column_config.NumberColumn(format="%.0f")})
    rtn, gptq, awq = rows[0::3], rows[1::3], rows[2::3]
    gptq_wins = sum(g.heldout_output_error < r.heldout_output_error for r, g in zip(rtn, gptq))
    awq_gain = max(1 - a.heldout_output_error / r.heldout_output_error for r, a in zip(rtn, awq))
    st.caption(f"GPTQ has a lower held-out output error than RTN at {gptq_wins} of {len(rtn)} bit widths here, while "
               "its weight error is usually *higher*: it trades weight accuracy for output accuracy (and does a little "
               "better on its calibration data than on held-out text: it fits what it saw). AWQ's best held-out gain "
               f"over RTN here is {awq_gain:.1%}: scaling pays off when a few input channels carry much larger "
               "activations than the rest, as in billion-parameter LLMs; α = 0 is plain RTN, so its calibration "
               "error is never worse.")


def _math() -> None:
    with st.expander("The math"):
        st.markdown("**Absmax INT8** (one scale per row): ")
        st.latex(r"q = \mathrm{round}\!\left(\frac{127\, w}{\max_j |w_j|}\right) \in [-127, 127], \qquad "
                 r"\hat w = q \cdot \frac{\max_j |w_j|}{127}")
        st.markdown("**Asymmetric b-bit** (RTN, GPTQ, AWQ; a scale s and zero point z per group):")
        st.latex(r"s = \frac{\max w - \min w}{2^b - 1},\; z = \mathrm{round}(-\min w / s),\; "
                 r"q = \mathrm{clamp}(\mathrm{round}(w/s) + z,\, 0,\, 2^b - 1),\; \hat w = s\,(q - z)")
        st.markdown("so every weight in range is within half a step s/2 of its original. **NF4/FP4** divide each "
                    "block of 64 by its absmax and pick the nearest of 16 fixed levels. **GPTQ** minimises the "
                    "layer's output error over calibration inputs X, one column at a time (Optimal Brain Surgeon):")
        st.latex(r"\min_{\hat W} \|X W^\top - X \hat W^\top\|_F^2, \quad H = 2X^\top X, \quad "
                 r"\delta_F = -\frac{w_q - \hat w_q}{[H_F^{-1}]_{qq}}\,(H_F^{-1})_{:,q}")
        st.markdown("**AWQ** keeps the product exact before rounding and searches α:")
        st.latex(r"x W^\top = (x\, \mathrm{diag}(s)^{-1})\,(W \mathrm{diag}(s))^\top, \quad "
                 r"s_j = \overline{|x_j|}^{\,\alpha}, \quad \alpha^* = \arg\min_\alpha "
                 r"\|X W^\top - X\, \mathrm{diag}(s)^{-1} Q(W \mathrm{diag}(s))^\top\|")


def render() -> None:
    st.header("Quantization")
    ui.explain(
        "A weight stored in 4 bits instead of 32 is 8× fewer bytes to store and to read for every token. The price "
        "is rounding: every weight moves to the nearest level of a coarse grid. Here the real tiny LM (Llama, "
        "3.15M parameters) is quantized by the real libraries: **bitsandbytes** (LLM.int8, NF4, FP4) and **torch** "
        "(BF16, dynamic INT8), and measured side by side on this machine.")
    st.subheader("What rounding does to one weight matrix")
    _widgets()
    if not ui.require_model("tiny-lm"):
        ui.sync_params(PARAMS)
        return
    _one_matrix()
    _per_layer()
    _measure_ui()
    _why_cpu()
    _methods_ui()
    _math()
    st.caption(
        "Dynamic INT8 uses `torch.ao.quantization.quantize_dynamic` (per-channel weights, fbgemm int8 kernels): it "
        "is deprecated in favour of torchao but still works in torch 2.13, needs no extra dependency, and is the "
        "INT8 path with a real CPU kernel; torchao 0.18's int8 configs also run on CPU here, but several times "
        "slower than FP32 on this model.")
    ui.papers(("Dettmers et al. 2022, LLM.int8()", "https://arxiv.org/abs/2208.07339"),
              ("Dettmers et al. 2023, QLoRA (NF4, double quantization)", "https://arxiv.org/abs/2305.14314"),
              ("Frantar et al. 2022, GPTQ", "https://arxiv.org/abs/2210.17323"),
              ("Lin et al. 2023, AWQ", "https://arxiv.org/abs/2306.00978"))
    ui.code_behind(quant_methods.rtn, quant_methods.gptq, quant_methods.awq, quant_formats.blockwise_4bit,
                   quant_measure.compare_variants, quantization.size_breakdown)
