"""Inference · Where the time goes: one decode profiled by kind of work, a tokens/s ladder against this machine's
roofline, and the cost of a verification pass that decides speculative decoding; then a 7B model on a GPU, computed."""
import pandas as pd
import streamlit as st

import ui
from core.inference import batching, engine_profile
from core.inference import engine_ladder as el
from core.inference.engine import Engine
from core.state import Param
from ui.pretraining import explicit_run, progress

PROMPT = "And the LORD spake unto Moses, saying,"
ROUNDS = 3
# Cited, not measured: NVIDIA H100 SXM datasheet, 3.35 TB/s HBM3 and 989 TFLOP/s dense BF16 tensor-core
# (1,979 is the figure with 2:4 sparsity).
H100_SHEET = "https://www.nvidia.com/en-us/data-center/h100/"
PRECISIONS = {"FP32 (4 bytes)": 4.0, "BF16 (2 bytes)": 2.0, "INT8 (1 byte)": 1.0, "INT4 (0.5 byte)": 0.5}
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid (and on a cached result)
    Param("wt_tokens", 48, el.MIN_NEW_TOKENS, el.MAX_NEW_TOKENS, step=8),
    Param("wt_alpha", 0.6, 0.05, 0.95, step=0.05),
    Param("wt_params", 7.0, 0.1, 1000.0, step=0.1),
    Param("wt_bytes", "BF16 (2 bytes)", choices=tuple(PRECISIONS)),
    Param("wt_bandwidth", 3.35, 0.05, 20.0, step=0.01),
    Param("wt_tflops", 989.0, 1.0, 10000.0, step=1.0),
]


@ui.cached_compute(max_entries=8, max_size="4MB")  # a few KB an entry: two profiles, ~40 timings
def _measure(new_tokens: int) -> el.TimeBudget:
    model, tokenizer = ui.causal_lm("tiny-lm")
    draft, _ = ui.causal_lm("tiny-lm-draft")
    bar, on_progress = progress("Measuring where the time goes")
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids  # (1, T)
    result = el.measure(model, Engine(model), ids, el.RunConfig(new_tokens, ROUNDS), Engine(draft), on_progress)
    bar.empty()
    return result


def _profile(run: el.TimeBudget) -> None:
    st.subheader("1 · One decode, profiled")
    generate, engine = run.profiles
    frame = engine_profile.profile_frame(run.profiles)
    ui.chart(el.profile_chart, frame, width="stretch")
    c1, c2, c3 = st.columns(3)
    c1.metric("ATen ops per token, model.generate", f"{generate.ops_per_token:,.0f}")
    c2.metric("ATen ops per token, our engine", f"{engine.ops_per_token:,.0f}",
              f"{engine.ops_per_token / generate.ops_per_token:.0%} of generate's", delta_color="off")
    c3.metric("Python & framework, model.generate", f"{generate.shares['python & framework']:.0%}",
              f"engine: {engine.shares['python & framework']:.0%}", delta_color="off")
    shares = frame.pivot(index="kind", columns="name", values="share").reindex(
        [k for k in el.KIND_COLOURS if k in set(frame["kind"])])
    st.dataframe(shares, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in shares.columns})
    st.caption(
        f"Greedy decoding of the same {generate.tokens} tokens, under torch.profiler, after a warm-up, both at one "
        "torch thread (the engine's own setting; a second thread adds hand-offs to every operation). The profiler "
        "adds its own bookkeeping (a few µs) to every operation, so its ms are inflated, model.generate's most since "
        "it runs more operations: **read the shares and the counts**, and take speed from the ladder below. "
        "*Python & framework* is the wall time outside every ATen operation: the Python of the decode loop, "
        "transformers' cache object, mask building and logits processing. Nested operations are counted (an "
        "`addmm` inside a `linear`), each kind with its own self time.")
    with st.expander("The costliest operations"):
        st.dataframe(pd.DataFrame([{"run": p.name, "operation": op, "calls per token": calls, "self ms per token": ms}
                                   for p in run.profiles for op, calls, ms in p.top_ops]),
                     hide_index=True, width="stretch")


def _ladder(run: el.TimeBudget) -> None:
    ladder = run.ladder
    st.subheader("2 · The tokens/s ladder")
    ui.chart(el.ladder_chart, el.ladder_frame(ladder), width="stretch")
    engine, generate = ladder.tokens_per_s("engine"), ladder.best_generate
    flop_bound, memory_bound = ladder.bounds
    bound = min(flop_bound, memory_bound)
    c1, c2, c3 = st.columns(3)
    c1.metric("our engine", f"{engine:,.0f} tokens/s", f"{engine / generate:.1f}× model.generate", delta_color="off",
              help="against model.generate at its faster thread count")
    c2.metric("roofline bound", f"{bound:,.0f} tokens/s",
              "memory-bound" if memory_bound < flop_bound else "FLOP-bound", delta_color="off")
    c3.metric("engine ÷ bound", f"{engine / bound:.0%}")
    if not ladder.same_tokens:
        st.warning("The engine's greedy tokens differ from model.generate's on this prompt (a near-tie flipped by "
                   "float rounding); the speeds are still comparable.")
    if ladder.stopped_early:
        st.warning(f"Time cap: {ladder.rounds} of {ladder.planned_rounds} rounds ran before {run.max_seconds:.0f} s "
                   "of work (this server is busy).")
    kv_mb = ladder.kv_bytes / 1e6
    st.caption(
        f"Median of {ladder.rounds} alternating round(s) (each rung, the matmul and the copy once per round, the "
        "order rotating) of "
        f"greedy decoding of {ladder.new_tokens} tokens at batch 1. FLOP/s: a {el.MATMUL_N}² FP32 matmul, "
        f"**{ladder.flops / 1e9:,.1f} GFLOP/s**; bandwidth: a {el.COPY_BYTES // 2**20} MiB copy, "
        f"**{ladder.bandwidth / 1e9:,.1f} GB/s**; both measured in the same rounds at {ladder.generate_threads} "
        f"thread(s). Bytes per token: {4 * ladder.n_params / 1e6:.1f} MB of FP32 weights + {kv_mb:.2f} MB of KV "
        f"cache at the mean context. The engine's tokens equal model.generate's: "
        f"{'yes' if ladder.same_tokens else 'no'}.")
    ui.explain(
        f"A tiny model sits far under its roofline: the engine reaches {engine / bound:.0%} of the bound. Each token "
        f"needs only ~{2 * ladder.n_params / 1e6:.0f} MFLOP, but runs {run.profiles[1].ops_per_token:,.0f} small "
        "operations, and each costs microseconds of fixed work (Python, the dispatcher, an allocation, a thread "
        "hand-off) whatever its size: the step is **overhead-bound** (Horace He's *brrr* essay below). Its "
        f"{4 * ladder.n_params / 1e6:.0f} MB of weights may even sit in the CPU's last-level cache, so the "
        "memory bound, which assumes streaming from DRAM, is itself loose. Removing operations (fused "
        "projections, a preallocated cache, no per-step mask building) is what moved the engine up the ladder. "
        "`torch.compile` is not a rung: tried on the engine's step on this machine when this page was written, "
        "compiling took 5-17 s and the compiled step ran no faster (about 210-260 tokens/s against 320 eager); "
        "it also needs a C++ compiler at run time.")


def _verification(run: el.TimeBudget, alpha: float) -> None:
    v = run.verification
    st.subheader("3 · What a verification pass costs")
    ui.chart(el.verification_chart, el.verification_frame(v), width="stretch")
    c = v.draft_cost
    rows = []
    for T, ms, r, ceiling in zip(v.Ts, v.ms, v.ratios, v.ceilings):
        k = T - 1
        row = {"T (tokens in the pass)": T, "k drafted": k, "ms per pass": ms, "r = t(T) / t(1)": r,
               "oracle draft: T / r": ceiling,
               f"free draft, α = {alpha:.2f}": el.expected_speedup(alpha, k, 0.0, r)}
        if c is not None:
            row[f"tiny-lm-draft (c = {c:.2f}), α = {alpha:.2f}"] = el.expected_speedup(alpha, k, c, r)
        rows.append(row)
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        col: st.column_config.NumberColumn(format="%.2f") for col in table.columns[2:]})
    ui.record("verify_cost_5", v.ratios[v.Ts.index(5)])
    best = max(range(1, len(v.Ts)), key=lambda i: v.ceilings[i])
    st.caption(
        f"One engine pass over T new tokens after {v.context} cached tokens (Engine.extend), {el.VERIFY_CALLS} calls "
        f"per T per round, the fastest of {v.rounds} alternating rounds (load from others only adds time), 1 thread. "
        "c: tiny-lm-draft's one-token pass ÷ tiny-lm's, timed in the same rounds. The last two columns are "
        "Leviathan et al.'s expected speedup with this machine's r (computed from the measurements above, with "
        "the acceptance α of the slider at the top of the section).")
    if v.rounds < v.planned_rounds:
        st.warning(f"Time cap: {v.rounds} of {v.planned_rounds} rounds of verification passes ran.")
    ks = range(1, len(v.Ts))  # k = T - 1 >= 1
    free = max(ks, key=lambda i: el.expected_speedup(alpha, v.Ts[i] - 1, 0.0, v.ratios[i]))
    free_speedup = el.expected_speedup(alpha, v.Ts[free] - 1, 0.0, v.ratios[free])
    draft = (f" With tiny-lm-draft (c = {c:.2f}) at α = {alpha:.2f} the best k gives "
             f"**{max(el.expected_speedup(alpha, v.Ts[i] - 1, c, v.ratios[i]) for i in ks):.2f}×**."
             if c is not None else "")
    ui.explain(
        f"Speculative decoding bets that checking k + 1 tokens costs the target about one step. Here a pass over "
        f"T = 5 tokens costs **{v.ratios[v.Ts.index(5)]:.1f}** one-token passes and T = 9 costs "
        f"**{v.ratios[-1]:.1f}**, where a bandwidth-bound model would pay 1. A CPU's FP32 matmul over a few rows "
        "reuses each weight for few of them (on the AMD EPYC with MKL this page was written on, about one weight "
        "pass per row up to a block of rows), so mostly the per-operation overhead is shared. That caps even an "
        f"**oracle draft** (free and always right) at T / r(T): best here {v.ceilings[best]:.1f}× at "
        f"k = {v.Ts[best] - 1}. A real draft pays k·c more per round and is accepted only part of the time.{draft} "
        f"A draft that costs nothing, like prompt lookup (guesses copied from earlier in the text), gives "
        f"{free_speedup:.2f}× at k = {v.Ts[free] - 1} with the same α, and more when the text repeats itself. The "
        "Speculative decoding "
        "section measures both end to end.")


def _gpu(run: el.TimeBudget | None) -> None:
    st.subheader("4 · The opposite case: a 7B model on a GPU")
    ui.explain(
        "A decode step reads every weight once and does 2 FLOP per weight per token. For a big model the weight "
        "read is what takes the time, so a pass over T tokens costs about the same as over one until the "
        "arithmetic catches up: that is why verification is nearly free on a GPU, and why speculative decoding "
        "pays there. The figures below are computed from the inputs, not measured; the defaults are cited from "
        f"the [NVIDIA H100 SXM datasheet]({H100_SHEET}) (3.35 TB/s HBM3, 989 TFLOP/s dense BF16).")
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("parameters (billions)", 0.1, 1000.0, step=0.1, key="wt_params")
    c2.selectbox("weights", list(PRECISIONS), key="wt_bytes")
    c3.number_input("memory bandwidth (TB/s)", 0.05, 20.0, step=0.01, key="wt_bandwidth")
    c4.number_input("dense TFLOP/s", 1.0, 10000.0, step=1.0, key="wt_tflops")
    s = st.session_state
    n, b = float(s.wt_params) * 1e9, PRECISIONS[s.wt_bytes]
    bandwidth, flops = float(s.wt_bandwidth) * 1e12, float(s.wt_tflops) * 1e12
    flop_bound, memory_bound = el.roofline(n, flops, bandwidth, bytes_per_param=b)
    crossover = el.compute_bound_tokens(b, bandwidth, flops)
    st.markdown(
        f"- Weights read per step: {s.wt_params:g} billion × {b:g} bytes = **{n * b / 1e9:,.1f} GB**.\n"
        f"- Memory bound at batch 1: {s.wt_bandwidth:g} TB/s ÷ {n * b / 1e9:,.1f} GB = "
        f"**{memory_bound:,.0f} tokens/s** (KV cache reads ignored: short contexts).\n"
        f"- FLOP bound: {s.wt_tflops:,.0f} TFLOP/s ÷ (2 × {s.wt_params:g} billion) = **{flop_bound:,.0f} tokens/s**, "
        f"{flop_bound / memory_bound:,.0f}× higher: the GPU's arithmetic idles while the weights stream in.\n"
        f"- A pass over T tokens stays weight-read-bound until T ≈ FLOP/s × bytes per weight ÷ (2 × bandwidth) "
        f"= **{crossover:,.0f} tokens**: r(9) = {el.pass_ratio_roofline(9, n, b, bandwidth, flops):.2f}, so an "
        f"oracle draft of k = 8 would give {9 / el.pass_ratio_roofline(9, n, b, bandwidth, flops):.1f}×. There the "
        "draft's cost c, not the verification, decides: a 1B draft for a 70B target has c ≈ 0.02-0.1.")
    check_flop, check_memory = batching.roofline_tokens_per_s(n, flops, bandwidth, b)
    st.caption(f"The same numbers by the Serving section's roofline helper: min({check_flop:,.0f}, "
               f"{check_memory:,.0f}) tokens/s. Batching B sequences multiplies the memory bound by B, until the FLOP "
               f"bound takes over near B ≈ {flop_bound / memory_bound:,.0f}.")
    Ts = el.VERIFY_TS
    frame = {"T (tokens in the pass)": Ts,
             "r on this GPU (roofline)": [el.pass_ratio_roofline(T, n, b, bandwidth, flops) for T in Ts]}
    if run is not None:
        frame["r measured here (tiny-lm, CPU)"] = list(run.verification.ratios)
    st.dataframe(pd.DataFrame(frame), hide_index=True, column_config={
        col: st.column_config.NumberColumn(format="%.2f") for col in list(frame)[1:]})


def render() -> None:
    st.header("Where the time goes")
    ui.explain(
        "tiny-lm needs about 6 MFLOP per token: microseconds of arithmetic for one CPU core. Yet `model.generate` "
        "makes only tens to a few hundred tokens a second. Where does the rest go? One run on **this** machine "
        "answers three ways: a profile of one decode split by kind of work, a tokens/s ladder from transformers "
        "to our own engine (core.inference.engine) to the roofline bound, and the cost of the verification pass "
        "that decides whether speculative decoding can pay here. Then the same arithmetic for a 7B model on a GPU, "
        "which is the opposite case.")
    ui.bind_params(PARAMS)
    c1, c2 = st.columns(2)
    c1.slider("New tokens per run", el.MIN_NEW_TOKENS, el.MAX_NEW_TOKENS, step=8, key="wt_tokens",
              help=f"The profile covers at most {el.PROFILE_TOKENS} of them.")
    c2.slider("Acceptance α for the speculative estimates", 0.05, 0.95, step=0.05, key="wt_alpha",
              help="Only arithmetic on the measured verification costs: changing it measures nothing again.")
    if not (ui.require_model("tiny-lm") and ui.require_model("tiny-lm-draft")):
        ui.sync_params(PARAMS)
        return
    new_tokens, alpha = int(st.session_state.wt_tokens), float(st.session_state.wt_alpha)
    kept = explicit_run("Measure where the time goes", "wt_measure", "Measuring where the time goes",
                        lambda: _measure(new_tokens), new_tokens,
                        help=f"Profile, ladder ({ROUNDS} rounds) and verification passes: under half a minute on "
                             f"2 cores, capped at {el.MAX_SECONDS:.0f} s of work.")
    run = None
    if kept is None:
        st.caption(f"Runs only when you click: profiling two decodes, {ROUNDS} alternating rounds of the ladder and "
                   "of the verification passes (at most "
                   f"{el.MAX_SECONDS:.0f} s of work; identical settings are measured once and then shown at once).")
    else:
        measured_tokens, run = kept
        if measured_tokens != new_tokens:
            st.caption(f"Showing the run with {measured_tokens} new tokens; click the button to measure "
                       f"{new_tokens}.")
        st.caption(f"This run: {run.work_seconds:.0f} s of work (the cap is {run.max_seconds:.0f} s), cached: the "
                   "same settings show this result at once, for anyone on this server.")
        _profile(run)
        _ladder(run)
        _verification(run, alpha)
    _gpu(run)
    ui.sync_params(PARAMS)
    with st.expander("The math"):
        st.latex(r"\text{tokens/s} \le \min\!\left(\frac{\text{FLOP/s}}{2N},\; "
                 r"\frac{\text{bandwidth}}{\text{bytes per weight}\cdot N + \text{KV bytes}}\right)")
        st.latex(r"\text{speedup}(k) = \frac{1 - \alpha^{k+1}}{(1 - \alpha)\,\bigl(k c + r(k+1)\bigr)}, \qquad "
                 r"r(T) = \frac{t(T)}{t(1)}, \qquad \text{oracle } (\alpha = 1, c = 0):\ \frac{k+1}{r(k+1)}")
        st.markdown("Leviathan et al. (eq. 1 and Theorem 3.8) take r = 1: the target's pass over k + 1 tokens costs "
                    "one step, true while the step is bound by reading the weights. On this CPU r grows with T, and "
                    "the measured r replaces it. α: the probability that a drafted token is accepted; c: a draft "
                    "step in target steps.")
    ui.papers(("Leviathan et al. 2022, Fast Inference from Transformers via Speculative Decoding",
               "https://arxiv.org/abs/2211.17192"),
              ("Williams et al. 2009, Roofline (CACM)", "https://doi.org/10.1145/1498765.1498785"),
              ("Horace He, Making Deep Learning Go Brrrr From First Principles", "https://horace.io/brrr_intro.html"))
    ui.code_behind(el.measure_verification, el.alternate, engine_profile.profile_decode)
