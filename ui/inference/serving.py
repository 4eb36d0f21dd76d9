"""Inference · Serving: continuous batching and PagedAttention simulated on a request trace you shape,
and real batched generation of the tiny LM measured on this machine."""
import math

import pandas as pd
import streamlit as st

import ui
from core.charts import serving as charts
from core.inference import batching, paged_kv, serving, traces
from core.state import Param

SERVERS = ["continuous + paged", "continuous + contiguous", "static + paged", "static + contiguous"]
BATCH_CHOICES = (4, 8, 16)
# Datasheet figures for the roofline comparison (NVIDIA A100 80 GB SXM: 312 TFLOP/s dense BF16,
# 2.0 TB/s HBM2e); a computed bound, not a measurement.
A100_FLOPS, A100_BANDWIDTH, A100_SHEET = 312e12, 2.0e12, "https://www.nvidia.com/en-us/data-center/a100/"

PARAMS = [  # step = the widget's step, so a link lands on the widget's grid (and on a cached result)
    Param("sv_rate", 40.0, 1.0, 200.0, step=1.0),
    Param("sv_n", 200, 20, 500, step=10),
    Param("sv_prompt", 128, 8, 512, step=8),
    Param("sv_output", 128, 4, 512, step=4),
    Param("sv_dist", "geometric", choices=("geometric", "uniform", "fixed")),
    Param("sv_max_new", 512, 16, 1024, step=16),
    Param("sv_bursty", True),
    Param("sv_seed", 0, 0, 9999, step=1),
    Param("sv_batch", 32, 1, 128, step=1),
    Param("sv_blocks", 256, 16, 1024, step=16),
    Param("sv_block_size", 16, 4, 64, choices=(4, 8, 16, 32, 64)),
    # Typed numbers, not a slider: snapped only to the precision the page writes them with.
    Param("sv_step_ms", 7.0, 0.1, 100.0, step=0.001),
    Param("sv_token_ms", 0.05, 0.0, 5.0, step=0.0001),
    Param("sv_server", "continuous + paged", choices=tuple(SERVERS)),
    Param("sv_at", 30, 1, 100, step=1),
    Param("sv_bmax", 16, 4, 16, choices=BATCH_CHOICES),
    Param("sv_new", 32, 8, 64, step=8),
]
MEASURE_REPS = 3


@ui.cached_compute(max_entries=32, max_size="16MB")  # ~0.2 MB an entry: 4 servers × ≤ 1,000 timeline points
def _simulate_all(trace_cfg: traces.TraceConfig, serve_cfg: serving.ServeConfig) -> tuple:
    trace, budget = traces.budgeted_trace(trace_cfg)
    return budget, serving.compare_trace(trace, serve_cfg)


@ui.cached_compute(max_entries=32, max_size="32MB")  # ≤ 0.6 MB an entry: two arrays of ≤ 65,536 slots
def _snapshot(trace_cfg: traces.TraceConfig, serve_cfg: serving.ServeConfig, step: int) -> serving.MemorySnapshot:
    trace, _ = traces.budgeted_trace(trace_cfg)
    return serving.snapshot_at(trace, serve_cfg, step)


@ui.cached_compute(max_entries=8, max_size="2MB")
def _measure(max_batch: int, new_tokens: int) -> dict:
    model, tokenizer = ui.causal_lm("tiny-lm")
    plan = batching.plan_throughput(tuple(b for b in (1, 2, 4, 8, 16) if b <= max_batch), new_tokens, MEASURE_REPS)
    res = batching.measure_batched_throughput(model, tokenizer, plan.batch_sizes, plan.new_tokens, reps=plan.reps)
    prompts = batching.sample_prompts(tokenizer, 4, 16)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    together = batching.batched_greedy(model, prompts, 16, pad_id)
    alone = [batching.batched_greedy(model, [p], 16, pad_id)[0] for p in prompts]
    rows = [{"prompt": tokenizer.decode(p), "batched greedy": tokenizer.decode(t), "alone": tokenizer.decode(a),
             "same": t == a} for p, t, a in zip(prompts, together, alone)]
    return {"plan": plan, "result": res, "rows": rows, "flops": batching.measure_matmul_flops(512),
            "bandwidth": batching.measure_copy_bandwidth(64 * 2**20), "n_params": sum(p.numel() for p in model.parameters())}


def _use_measured_cost(fixed_ms: float, per_row_ms: float) -> None:
    st.session_state["sv_step_ms"] = round(min(100.0, max(0.1, fixed_ms)), 3)
    st.session_state["sv_token_ms"] = round(min(5.0, max(0.0, per_row_ms)), 4)


def _controls() -> tuple[traces.TraceConfig, serving.ServeConfig]:
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Workload (the request trace)**")
        st.slider("arrival rate (requests/s)", key="sv_rate", min_value=1.0, max_value=200.0, step=1.0)
        st.slider("requests", key="sv_n", min_value=20, max_value=500, step=10)
        st.toggle("bursty arrivals (groups of 16 at once)", key="sv_bursty")
        st.number_input("seed", key="sv_seed", min_value=0, max_value=9999, step=1)
    with c2:
        st.markdown("**Lengths**")
        st.slider("mean prompt tokens (uniform ±50%)", key="sv_prompt", min_value=8, max_value=512, step=8)
        st.slider("mean output tokens", key="sv_output", min_value=4, max_value=512, step=4)
        st.selectbox("output length distribution", ["geometric", "uniform", "fixed"], key="sv_dist",
                     help="geometric: many short answers and a few long ones, like real chat traffic")
        st.slider("max_new_tokens (each request's cap)", key="sv_max_new", min_value=16, max_value=1024, step=16)
    with c3:
        st.markdown("**Server**")
        st.slider("max batch (requests per step)", key="sv_batch", min_value=1, max_value=128)
        st.slider("KV memory (blocks)", key="sv_blocks", min_value=16, max_value=1024, step=16)
        st.select_slider("block size B (tokens)", [4, 8, 16, 32, 64], key="sv_block_size")
        st.number_input("step cost: fixed ms", key="sv_step_ms", min_value=0.1, max_value=100.0, step=0.5)
        st.number_input("step cost: ms per token", key="sv_token_ms", min_value=0.0, max_value=5.0, step=0.01,
                        format="%.3f")
    s = st.session_state
    trace_cfg = traces.TraceConfig(n_requests=s.sv_n, rate=s.sv_rate, prompt_mean=s.sv_prompt,
                                    output_mean=s.sv_output, output_dist=s.sv_dist, max_new_tokens=s.sv_max_new,
                                    bursty=s.sv_bursty, seed=int(s.sv_seed))
    blocks = s.sv_blocks
    longest = s.sv_prompt * 3 // 2 + s.sv_max_new  # the largest contiguous reservation the trace can ask for
    if longest > blocks * s.sv_block_size:
        blocks = math.ceil(longest / s.sv_block_size)
        st.warning(f"The longest request may need {longest:,} KV slots (prompt up to {s.sv_prompt * 3 // 2} + "
                   f"max_new_tokens {s.sv_max_new}), more than {s.sv_blocks} blocks × {s.sv_block_size} hold: "
                   f"memory is raised to {blocks} blocks so every request fits.")
    serve_cfg = serving.ServeConfig(max_batch=s.sv_batch, num_blocks=blocks, block_size=s.sv_block_size,
                                    cost=serving.CostModel(float(s.sv_step_ms), float(s.sv_token_ms)))
    return trace_cfg, serve_cfg


def _headline(results: dict, serve_cfg: serving.ServeConfig) -> None:
    cont, stat = results[("continuous", "paged")], results[("static", "paged")]
    paged, contig = results[("continuous", "paged")], results[("continuous", "contiguous")]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("continuous ÷ static throughput", f"{cont.throughput / stat.throughput:.2f}×",
              help="both with paged KV memory, on the same trace")
    c2.metric("p99 latency, continuous vs static", f"{cont.p99_ms / 1000:.1f} s",
              delta=f"{(cont.p99_ms - stat.p99_ms) / 1000:+.1f} s", delta_color="inverse")
    c3.metric("KV utilisation, paged", f"{paged.kv_utilization:.0%}")
    c4.metric("KV utilisation, contiguous", f"{contig.kv_utilization:.0%}")
    st.caption(f"Simulated: {len(results[('continuous', 'paged')].latency_ms)} requests; KV memory "
               f"{serve_cfg.num_blocks} blocks × {serve_cfg.block_size} = {serve_cfg.capacity:,} token slots for "
               "every server. Utilisation = slots holding a token ÷ slots reserved, averaged over time.")


def _inspect(results: dict, trace_cfg: traces.TraceConfig, serve_cfg: serving.ServeConfig) -> None:
    st.subheader("Watch one server")
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox("server", SERVERS, key="sv_server")
    policy, allocator = name.split(" + ")
    res = results[(policy, allocator)]
    at = c2.slider("moment to inspect (% of the run's steps)", key="sv_at", min_value=1, max_value=100)
    step = max(1, round(at / 100 * res.n_steps))
    ui.chart(charts.timeline_chart, res, serve_cfg.capacity)
    averaged = ("" if res.steps_per_point == 1 else
                f" Each point is the mean of {res.steps_per_point:,} consecutive steps (at most "
                f"{serving.MAX_TIMELINE_POINTS:,} points are kept, so the chart stays small).")
    st.caption("Top: KV slots reserved (orange) and actually holding a token (blue); dashed line = memory. "
               "Bottom: requests in the batch and requests waiting in the queue." + averaged)
    cfg = serving.ServeConfig(policy=policy, allocator=allocator, max_batch=serve_cfg.max_batch,
                              num_blocks=serve_cfg.num_blocks, block_size=serve_cfg.block_size, cost=serve_cfg.cost)
    with ui.heavy("Replaying the server to that step"):
        snap = _snapshot(trace_cfg, cfg, step)
    used, reserved = int(snap.filled.sum()), int((snap.owner >= 0).sum())
    st.markdown(f"**KV memory after step {step:,} of {res.n_steps:,}** (t = {snap.time_ms / 1000:.2f} s): "
                f"{len(snap.cached)} requests hold {reserved:,} slots, {used:,} of them hold a token "
                f"({used / max(1, reserved):.0%}).")
    row_blocks = math.ceil(serve_cfg.num_blocks / 8)  # eight rows, each a whole number of blocks
    ui.chart(charts.memory_map_chart, snap, row_slots=row_blocks * serve_cfg.block_size)
    if allocator == "contiguous":
        st.caption("Each request owns one range sized for prompt + max_new_tokens: the pale part is reserved "
                   "for tokens that mostly never come, and the gaps between ranges may be too small for "
                   "the next request (external fragmentation).")
    else:
        st.caption(f"Each request owns whole blocks of {serve_cfg.block_size} slots, scattered anywhere; "
                   "only its last block has empty slots.")
        st.markdown("**The block table**: each running request's logical blocks (its tokens in order) mapped to "
                    "physical blocks, the number in each cell. Attention reads K and V through this table, "
                    "like virtual memory pages.")
        if snap.block_tables:
            ui.chart(charts.block_table_chart, snap)
        else:
            st.info("No request holds memory at this moment; move the slider.")


def _batched_generation() -> dict | None:
    st.subheader("Real batched generation on the tiny LM")
    st.markdown(
        "The simulator assumes a step costs about the same whatever the batch. Check it on a real model: "
        "the tiny LM generates for 1, 2, 4, … prompts at once (left padding, attention mask, KV cache), "
        f"each batch size timed in turn, median of {MEASURE_REPS} repetitions.")
    if not ui.require_model("tiny-lm"):
        return None
    c1, c2 = st.columns(2)
    c1.select_slider("largest batch", BATCH_CHOICES, key="sv_bmax")
    c2.slider("new tokens per prompt", key="sv_new", min_value=8, max_value=64, step=8)
    s = st.session_state
    args = (int(s.sv_bmax), int(s.sv_new))
    # Measured only when the button is clicked; the result stays in this session until the next click.
    if st.button("Measure batched generation", key="sv_measure"):
        with ui.heavy("Generating in batches"):
            s["sv_measurement"] = (args, _measure(*args))
    if "sv_measurement" not in s:
        st.caption(f"Takes a few seconds on 2 cores (at most {batching.MAX_FORWARDS} batched forward passes).")
        return None
    measured_args, m = s["sv_measurement"]
    if measured_args != args:
        st.caption(f"Showing the measurement for largest batch {measured_args[0]} and {measured_args[1]} new tokens; "
                   "press the button to measure the new settings.")
    plan: batching.ThroughputPlan = m["plan"]
    if plan.cut:
        st.info(f"Work budget: {plan.asked_new_tokens} new tokens × {plan.asked_reps} repetitions × "
                f"{len(plan.batch_sizes)} batch sizes would be more than {plan.max_forwards} forward passes; measured "
                f"{plan.new_tokens} new tokens × {plan.reps} repetitions ({plan.forwards} passes).")
    res: batching.ThroughputResult = m["result"]
    ui.chart(charts.throughput_chart, res.batch_sizes, res.tokens_per_s)
    st.dataframe(pd.DataFrame({"batch size": res.batch_sizes, "tokens/s": [round(t) for t in res.tokens_per_s],
                               "ms per step": [round(s, 2) for s in res.step_ms]}), hide_index=True)
    fixed, per_row = batching.fit_step_cost(res.batch_sizes, res.step_ms)
    st.markdown(f"A line through the step times: **{fixed:.2f} ms + {per_row:.3f} ms per row** "
                f"({res.threads} threads, {res.new_tokens} new tokens, prompts of up to 16 tokens). "
                "The fixed part is what batching shares.")
    st.button("Use this CPU's step cost in the simulator above", key="sv_use_cost", on_click=_use_measured_cost,
              args=(fixed, per_row))
    same = all(r["same"] for r in m["rows"])
    (st.success if same else st.error)(
        "Batched greedy equals greedy on each prompt alone, row by row." if same else
        "Batched and unbatched greedy differ on some row (a near-tie flipped by float rounding).")
    with st.expander("The outputs, batched and alone"):
        st.dataframe(pd.DataFrame(m["rows"]), hide_index=True)
    return m


def _roofline(m: dict | None) -> None:
    st.subheader("Why a tiny model is overhead-bound and a 7B model bandwidth-bound")
    st.markdown("A decode step must read every weight once (N weights) and do 2 FLOP per weight per row. "
                "Whichever takes longer bounds the speed, the *roofline*:")
    st.latex(r"\text{tokens/s} \le \min\!\left(\frac{\text{FLOP/s}}{2N},\; "
             r"B\cdot\frac{\text{bandwidth}}{\text{bytes per weight}\cdot N}\right)")
    f7, b7 = batching.roofline_tokens_per_s(7e9, A100_FLOPS, A100_BANDWIDTH, bytes_per_param=2)
    st.markdown(
        f"- **A 7B model in FP16 on an A100** (computed from [datasheet]({A100_SHEET}) figures, 312 TFLOP/s and "
        f"2.0 TB/s): the FLOP bound is {f7:,.0f} tokens/s, but every step streams all 14 GB of weights, so "
        f"batch 1 is capped at **{b7:,.0f} tokens/s**: bandwidth-bound {f7 / b7:.0f}× over. Each extra row in "
        f"the batch rides on the same weight read, until about B ≈ {f7 / b7:.0f} where arithmetic takes over. "
        "That is the business case for continuous batching, and why PagedAttention's memory savings "
        "(more rows fit) turn directly into throughput.")
    if m is None:
        st.markdown("- **tiny-lm on this machine**: press *Measure batched generation* above to measure it.")
        return
    n, tokens_per_s = m["n_params"], m["result"].tokens_per_s[0]
    f_bound, b_bound = batching.roofline_tokens_per_s(n, m["flops"], m["bandwidth"])
    st.markdown(
        f"- **tiny-lm on this machine** (measured just now: matmul {m['flops'] / 1e9:.1f} GFLOP/s, copy "
        f"{m['bandwidth'] / 1e9:.1f} GB/s): N = {n / 1e6:.2f} M, FP32. Bound at batch 1: "
        f"min({f_bound:,.0f}, {b_bound:,.0f}) = **{min(f_bound, b_bound):,.0f} tokens/s**; measured "
        f"**{tokens_per_s:,.0f}** ({tokens_per_s / min(f_bound, b_bound):.0%} of it). Its {4 * n / 1e6:.0f} MB of "
        "weights even fit in the CPU's caches, so neither bound is what stops it: the fixed cost of launching "
        "about a hundred small PyTorch operations per step (Python, dispatch, thread wake-ups) is, and it is "
        "the same for 1 row or 16. That is why batching multiplies its tokens/s almost for free.")


def render() -> None:
    ui.bind_params(PARAMS)
    st.header("Serving: continuous batching and PagedAttention")
    ui.explain(
        "A server answers many users at once. Two decisions set its throughput and latency. **When to batch:** "
        "static batching runs a batch until its longest answer is done, while continuous batching (Orca) "
        "lets a finished request leave and a waiting one join at every model step. **How to hold the KV "
        "cache:** a contiguous allocator reserves room for the longest answer a request *might* give; "
        "PagedAttention (vLLM) hands out small blocks only as tokens arrive. Below, the four combinations "
        "serve the same request trace in a simulator (exact and instant), then the tiny LM shows what "
        "batching does on real hardware.")
    trace_cfg, serve_cfg = _controls()
    st.latex(r"t_\text{step} = t_\text{fixed} + t_\text{token}\cdot(\text{tokens computed in the step})")
    st.caption("The cost model of the simulator. Defaults are an estimate for a 7B FP16 model on one A100-class "
               "GPU from datasheet figures (14 GB of weights read at ~2 TB/s ≈ 7 ms per step; 2 × 7·10⁹ FLOP "
               "per token at ~300 TFLOP/s ≈ 0.05 ms), not a measurement. A static batch is padded: every row costs "
               "a token per step, finished or not. A new request's first step computes its whole prompt.")
    with ui.heavy("Simulating four servers"):
        budget, results = _simulate_all(trace_cfg, serve_cfg)
    if budget.cut:
        st.warning(
            f"Work budget: this trace asks for {budget.token_steps:,} output tokens from {budget.requests:,} requests, "
            f"more than the {budget.limit:,} the simulator serves per trace, so it serves the first "
            f"{budget.kept:,} requests ({budget.kept_token_steps:,} output tokens: {budget.factor:.1f}× less work). "
            "Fewer requests or shorter outputs are simulated in full.")
    _headline(results, serve_cfg)
    frame = charts.comparison_frame(results)
    ui.chart(charts.comparison_chart, frame)
    st.dataframe(frame.drop(columns=["policy", "allocator"]).round(3), hide_index=True)
    st.markdown(
        "Try: turn bursts off and lower the rate to 5 requests/s (both servers keep up, so throughput converges, "
        "but static batching still makes early finishers wait: compare p50); set the output distribution to "
        "*fixed* (static batching loses much less when every answer has the same length); shrink the block size to 4 (utilisation → 100%, but more blocks to track) or raise "
        "max_new_tokens (contiguous waste grows, paged does not care).")
    _inspect(results, trace_cfg, serve_cfg)
    ui.code_behind(serving.Scheduler.step, paged_kv.BlockAllocator, paged_kv.ContiguousAllocator.reserve)
    measured = _batched_generation()
    ui.code_behind(batching.batched_greedy, batching.left_pad, label="The code behind batched generation")
    _roofline(measured)
    ui.papers(("Orca: iteration-level scheduling (OSDI 2022)", "https://www.usenix.org/conference/osdi22/presentation/yu"),
              ("vLLM: PagedAttention (SOSP 2023)", "https://arxiv.org/abs/2309.06180"),
              ("Roofline model (CACM 2009)", "https://doi.org/10.1145/1498765.1498785"))
    ui.sync_params(PARAMS)
