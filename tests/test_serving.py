"""The serving simulator: hand-worked traces, allocator invariants, closed forms, and the charts."""
import numpy as np
import pytest

from core.charts import serving as charts
from core.inference import serving, traces
from core.inference.paged_kv import BlockAllocator, ContiguousAllocator
from core.inference.serving import CostModel, Scheduler, ServeConfig, simulate
from core.inference.traces import Request, TraceConfig, make_trace

UNIT_STEPS = CostModel(step_ms=1.0, token_ms=0.0)  # time = number of steps
PER_TOKEN = CostModel(step_ms=0.0, token_ms=1.0)  # time = tokens computed


def cfg(policy="continuous", allocator="paged", cost=UNIT_STEPS, blocks=64, block_size=4, max_batch=8):
    return ServeConfig(policy=policy, allocator=allocator, max_batch=max_batch, num_blocks=blocks,
                       block_size=block_size, cost=cost)


# ---- hand-worked traces ----------------------------------------------------------------------------
def test_two_requests_continuous_vs_static_by_hand():
    # A: 4 output tokens, arrives at 0. B: 1 output token, arrives at 0.5, while A is in its first step.
    trace = (Request(0, 0.0, 2, 4, 8), Request(1, 0.5, 1, 1, 8))
    cont = simulate(trace, cfg("continuous"))
    # step 1 [0,1]: A prefill. step 2 [1,2]: B joins, done at 2. steps 3-4: A, done at 4.
    assert cont.n_steps == 4
    assert cont.latency_ms.tolist() == [4.0, 1.5]
    assert cont.ttft_ms.tolist() == [1.0, 1.5]
    stat = simulate(trace, cfg("static"))
    # B waits for A's whole batch: it starts at 4 and is done at 5.
    assert stat.n_steps == 5
    assert stat.latency_ms.tolist() == [4.0, 4.5]
    assert cont.throughput == pytest.approx(5 / 0.004) and stat.throughput == pytest.approx(5 / 0.005)


def test_static_batch_is_padded_by_hand():
    # Both arrive at 0. A: prompt 3, 1 output token. B: prompt 1, 3 output tokens. One ms per computed token.
    trace = (Request(0, 0.0, 3, 1, 4), Request(1, 0.0, 1, 3, 4))
    stat = simulate(trace, cfg("static", cost=PER_TOKEN))
    # prefill pads B to 3 tokens: 2 x 3 = 6 ms; then A (finished) still costs a padding token: 2 ms per
    # step; the batch returns together when B is done
    assert stat.latency_ms.tolist() == [10.0, 10.0] and stat.ttft_ms.tolist() == [6.0, 6.0]
    cont = simulate(trace, cfg("continuous", cost=PER_TOKEN))
    # prefill 3 + 1 = 4 ms, A leaves; B decodes alone at 1 ms per step
    assert cont.latency_ms.tolist() == [4.0, 6.0]


@pytest.mark.parametrize("allocator,reserved", [("paged", [4, 4, 6]), ("contiguous", [7, 7, 7])])
def test_utilisation_by_hand(allocator, reserved):
    # One request, prompt 3, 3 output tokens, cap 4, blocks of 2: the cache holds 3, 4, 5 tokens after each step.
    res = simulate((Request(0, 0.0, 3, 3, 4),), cfg(allocator=allocator, block_size=2, blocks=8))
    assert res.step_used.tolist() == [3, 4, 5]
    assert res.step_reserved.tolist() == reserved
    assert res.kv_utilization == pytest.approx(12 / sum(reserved))


def test_all_at_once_closed_form():
    # Everyone at t=0, room for all, cost 1 per step: continuous finishes request i at O_i, static at max(O).
    rng = np.random.default_rng(3)
    outputs = rng.integers(1, 40, 12)
    trace = tuple(Request(i, 0.0, 5, int(o), 64) for i, o in enumerate(outputs))
    cont = simulate(trace, cfg("continuous", blocks=512, max_batch=12))
    stat = simulate(trace, cfg("static", blocks=512, max_batch=12))
    assert cont.latency_ms.tolist() == outputs.astype(float).tolist()
    assert stat.latency_ms.tolist() == [float(outputs.max())] * 12


# ---- allocators ----------------------------------------------------------------------------------
def test_block_allocator_grow_free_and_slots():
    a = BlockAllocator(num_blocks=4, block_size=2)
    assert a.grow(0, 3) and a.block_tables[0] == [0, 1]
    assert a.grow(1, 2) and a.block_tables[1] == [2]
    assert not a.grow(1, 5)  # needs 2 more blocks, 1 free: refused, nothing taken
    assert a.block_tables[1] == [2] and a.free_blocks == [3]
    assert a.slot_of(0, 3) == 1 * 2 + 1
    a.free(0)
    assert a.grow(1, 7) and a.block_tables[1] == [2, 0, 1, 3]  # just-freed blocks are reused first
    assert a.reserved_slots == 8 and a.free_blocks == []
    a.free(1)
    assert sorted(a.free_blocks) == [0, 1, 2, 3] and a.block_tables == {}


def test_contiguous_allocator_first_fit_and_fragmentation():
    a = ContiguousAllocator(capacity=10)
    assert a.reserve(0, 1, 4) and a.reserve(1, 1, 4)  # [0,4) and [4,8)
    a.free(0)  # free slots: [0,4) and [8,10): 6 in all
    assert not a.reserve(2, 1, 5)  # 6 free but no hole of 5: external fragmentation
    assert a.reserve(3, 1, 3) and a.ranges[3] == (0, 3)
    assert a.reserve(4, 1, 2) and a.ranges[4] == (8, 2)
    assert a.reserved_slots == 9 and not a.grow(3, 4) and a.grow(3, 3)


def _check_invariants(sched: Scheduler) -> None:
    alloc = sched.allocator
    if isinstance(alloc, BlockAllocator):
        owned = [b for table in alloc.block_tables.values() for b in table]
        assert len(owned) == len(set(owned)), "a physical block is shared"
        assert sorted(owned + alloc.free_blocks) == list(range(alloc.num_blocks))
        for seq in sched.running:
            assert len(alloc.block_tables[seq.request.id]) == -(-seq.cached // alloc.block_size)
    else:
        spans = sorted(alloc.ranges.values())
        assert all(a + la <= b for (a, la), (b, _) in zip(spans, spans[1:])), "ranges overlap"
        for seq in sched.running:
            assert seq.cached <= alloc.ranges[seq.request.id][1]
    assert len(sched.running) <= sched.cfg.max_batch


@pytest.mark.parametrize("policy", ["static", "continuous"])
@pytest.mark.parametrize("allocator", ["paged", "contiguous"])
def test_allocator_invariants_every_step(policy, allocator):
    trace = make_trace(TraceConfig(n_requests=40, rate=200.0, prompt_mean=24, output_mean=24, max_new_tokens=64,
                                   bursty=True, burst_size=8, seed=1))
    sched = Scheduler(trace, cfg(policy, allocator, blocks=48, block_size=4, max_batch=16))
    used_total, reserved_total = 0.0, 0.0
    while not sched.done():
        rec = sched.step()
        _check_invariants(sched)
        used_total += rec.used * rec.duration_ms
        reserved_total += rec.reserved * rec.duration_ms
    assert len(sched.finished) == len(trace)
    if allocator == "paged":
        assert sorted(sched.allocator.free_blocks) == list(range(48)) and not sched.allocator.block_tables
    else:
        assert sched.allocator.ranges == {}
    res = simulate(trace, cfg(policy, allocator, blocks=48, block_size=4, max_batch=16))
    assert res.kv_utilization == pytest.approx(used_total / reserved_total)
    assert res.output_tokens == sum(r.output_len for r in trace)


def test_preemption_recomputes_and_everyone_finishes():
    # memory for ~3 requests' worth of growth: the paged server must evict and recompute
    trace = tuple(Request(i, 0.0, 8, 24, 32) for i in range(6))
    res = simulate(trace, cfg("continuous", "paged", blocks=24, block_size=4))
    assert res.preemptions > 0
    assert (res.latency_ms >= 24).all() and len(res.latency_ms) == 6
    assert res.step_used.max() <= 24 * 4


def test_request_that_can_never_fit_is_refused():
    with pytest.raises(ValueError, match="KV slots"):
        simulate((Request(0, 0.0, 10, 2, 100),), cfg(allocator="contiguous", blocks=4, block_size=4))


def test_snapshot_matches_the_tables():
    trace = make_trace(TraceConfig(n_requests=30, rate=100.0, prompt_mean=20, output_mean=20, max_new_tokens=40))
    snap = simulate(trace, cfg(blocks=64, block_size=4), snapshot_step=10).snapshot
    assert snap.step == 10 and snap.filled.sum() == sum(snap.cached.values())
    for rid, table in snap.block_tables.items():
        slots = np.concatenate([np.arange(b * 4, b * 4 + 4) for b in table])
        assert (snap.owner[slots] == rid).all()
    assert (snap.owner >= 0).sum() == 4 * sum(len(t) for t in snap.block_tables.values())


# ---- traces and the headline claims ----------------------------------------------------------------
def test_trace_is_seeded_and_bounded():
    tc = TraceConfig(n_requests=400, rate=50.0, prompt_mean=40, output_mean=30, max_new_tokens=100, seed=7)
    a, b = make_trace(tc), make_trace(tc)
    assert a == b and a != make_trace(TraceConfig(n_requests=400, seed=8))
    arrivals = np.array([r.arrival_ms for r in a])
    assert arrivals[0] == 0 and (np.diff(arrivals) >= 0).all()
    assert all(20 <= r.prompt_len <= 60 and 1 <= r.output_len <= 100 for r in a)
    assert 1000 / np.diff(arrivals).mean() == pytest.approx(50.0, rel=0.15)
    bursty = make_trace(TraceConfig(n_requests=64, bursty=True, burst_size=16))
    assert len({r.arrival_ms for r in bursty}) == 4
    assert {r.output_len for r in make_trace(TraceConfig(n_requests=5, output_dist="fixed", output_mean=9))} == {9}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_continuous_beats_static_on_bursty_traces(seed):
    tc = TraceConfig(n_requests=120, bursty=True, seed=seed)
    for allocator in ("paged", "contiguous"):
        stat = simulate(make_trace(tc), ServeConfig(policy="static", allocator=allocator))
        cont = simulate(make_trace(tc), ServeConfig(policy="continuous", allocator=allocator))
        assert cont.throughput >= stat.throughput
        assert cont.p50_ms <= stat.p50_ms


def test_default_bursty_trace_headlines():
    results = serving.compare(TraceConfig(bursty=True), ServeConfig())
    cont, stat = results[("continuous", "paged")], results[("static", "paged")]
    assert cont.throughput / stat.throughput >= 2.0
    assert results[("continuous", "paged")].kv_utilization >= 0.9
    assert results[("continuous", "contiguous")].kv_utilization < 0.5


# ---- charts ------------------------------------------------------------------------------------------
def test_charts_build():
    results = serving.compare(TraceConfig(n_requests=40, bursty=True), ServeConfig())
    frame = charts.comparison_frame(results)
    assert set(frame["server"]) == set(charts.SERVER_ORDER)
    spec = charts.comparison_chart(frame).to_dict()
    assert len(spec["hconcat"]) == 3
    res = results[("continuous", "paged")]
    assert "vconcat" in charts.timeline_chart(res, ServeConfig().capacity).to_dict()
    snap = simulate(make_trace(TraceConfig(n_requests=40, bursty=True)), ServeConfig(), snapshot_step=20).snapshot
    segments = charts.memory_segments(snap, row_slots=1024)
    assert (segments["end"] > segments["start"]).all()
    widths = segments.assign(w=segments["end"] - segments["start"])
    assert widths["w"].sum() == ServeConfig().capacity
    assert widths[widths["state"] == "token"]["w"].sum() == snap.filled.sum()
    charts.memory_map_chart(snap).to_dict()
    table = charts.block_table_frame(snap)
    assert len(table) == sum(len(t) for t in snap.block_tables.values())
    assert table["filled slots"].sum() == sum(snap.cached.values())
    assert charts.block_table_chart(snap).to_dict()["layer"][0]["mark"]["type"] == "rect"
    tp = charts.throughput_frame([1, 2, 4], [100.0, 180.0, 300.0])
    assert tp[tp["series"] != "measured"]["tokens/s"].tolist() == [100.0, 200.0, 400.0]
    charts.throughput_chart([1, 2, 4], [100.0, 180.0, 300.0]).to_dict()


# ---- the work budget ---------------------------------------------------------------------------------
EXTREME = TraceConfig(n_requests=500, rate=200.0, output_mean=512, output_dist="fixed", max_new_tokens=1024,
                      bursty=True)  # the page's sliders at their extremes (sv_n=500&sv_output=512&sv_dist=fixed...)


def test_budget_cuts_the_extreme_trace_by_hand():
    trace, budget = traces.budgeted_trace(EXTREME)
    # every request wants exactly 512 tokens: 500 · 512 = 256,000 asked; 80,000 // 512 = 156 requests fit
    assert (budget.requests, budget.token_steps) == (500, 256_000)
    assert (budget.kept, budget.kept_token_steps) == (156, 156 * 512) and len(trace) == 156
    assert budget.cut and budget.factor == pytest.approx(256_000 / 79_872)
    assert trace == make_trace(EXTREME)[:156]  # the first arrivals, unchanged


def test_fit_budget_keeps_the_longest_prefix_that_fits():
    trace = tuple(Request(i, float(i), 4, out, 8) for i, out in enumerate([3, 5, 2, 7]))
    assert len(traces.fit_budget(trace, 10)[0]) == 3  # 3 + 5 + 2 = 10
    kept, budget = traces.fit_budget(trace, 9)
    assert len(kept) == 2 and budget.kept_token_steps == 8 and budget.token_steps == 17
    kept, budget = traces.fit_budget(trace, 17)
    assert kept == trace and not budget.cut and budget.factor == 1.0
    with pytest.raises(ValueError, match="budget"):
        traces.fit_budget(trace, 2)


def test_the_default_trace_is_simulated_in_full():
    _, budget = traces.budgeted_trace(TraceConfig(bursty=True))
    assert not budget.cut and budget.kept == 200


@pytest.mark.parametrize("max_batch", [1, 4])
def test_no_server_runs_more_steps_than_output_tokens(max_batch):
    # the budget's premise: every step yields at least one token, so steps <= the trace's output tokens
    trace = make_trace(TraceConfig(n_requests=30, rate=20.0, prompt_mean=16, output_mean=12, max_new_tokens=40, seed=4))
    results = serving.compare_trace(trace, cfg(blocks=40, block_size=4, max_batch=max_batch))
    assert all(res.n_steps <= sum(r.output_len for r in trace) for res in results.values())
    if max_batch == 1:  # one request at a time: exactly one step per output token
        assert {res.n_steps for res in results.values()} == {sum(r.output_len for r in trace)}


def test_downsample_by_hand():
    assert serving.downsample(np.array([1, 2, 3, 4, 5]), 2).tolist() == [1.5, 3.5, 5.0]
    assert serving.downsample(np.array([1, 2, 3]), 1).tolist() == [1.0, 2.0, 3.0]
    assert serving.steps_per_point(256_000, 1_000) == 256
    assert serving.steps_per_point(1_000, 1_000) == 1 and serving.steps_per_point(1_001, 1_000) == 2
    assert serving.steps_per_point(5_000, None) == 1


def test_timeline_is_averaged_down_and_the_totals_stay_exact():
    trace = tuple(Request(i, 0.0, 4, 40, 40) for i in range(60))  # one at a time: 2,400 steps
    full = simulate(trace, cfg(max_batch=1, blocks=64), max_points=None)
    small = simulate(trace, cfg(max_batch=1, blocks=64), max_points=100)
    assert full.n_steps == small.n_steps == 2_400 and len(full.step_used) == 2_400
    assert small.steps_per_point == 24 and len(small.step_used) == 100
    assert small.step_used.tolist() == pytest.approx(full.step_used.reshape(100, 24).mean(axis=1).tolist())
    assert small.step_end_ms.tolist() == full.step_end_ms[::24].tolist()
    assert small.mean_batch == full.mean_batch == 1.0
    assert small.kv_utilization == full.kv_utilization and small.p99_ms == full.p99_ms


def test_snapshot_at_equals_the_snapshot_of_a_whole_run():
    trace = make_trace(TraceConfig(n_requests=30, rate=100.0, prompt_mean=20, output_mean=20, max_new_tokens=40))
    for allocator in ("paged", "contiguous"):
        whole = simulate(trace, cfg(allocator=allocator, blocks=64), snapshot_step=10).snapshot
        alone = serving.snapshot_at(trace, cfg(allocator=allocator, blocks=64), 10)
        assert alone.step == whole.step == 10 and alone.time_ms == whole.time_ms
        assert (alone.owner == whole.owner).all() and (alone.filled == whole.filled).all()
        assert alone.block_tables == whole.block_tables and alone.cached == whole.cached


def _rows(chart) -> int:
    spec = chart.to_dict()
    return sum(len(rows) for rows in spec.get("datasets", {}).values())


def test_timeline_chart_rows_are_capped():
    trace = make_trace(EXTREME)[:20]  # the extreme trace's first 20 requests, one at a time (sv_batch=1)
    res = simulate(trace, ServeConfig(max_batch=1, num_blocks=112, block_size=16))
    # 20 · 512 = 10,240 steps; ceil(10,240 / 1,000) = 11 steps a point; ceil(10,240 / 11) = 931 points
    assert res.n_steps == 10_240 and res.steps_per_point == 11 and len(res.step_used) == 931
    chart = charts.timeline_chart(res, 112 * 16)
    assert _rows(chart) == 4 * 931 + 1 <= charts.MAX_CHART_ROWS  # two series in each panel, plus the capacity
    assert "mean of 11 consecutive steps" in chart.to_dict()["vconcat"][0]["title"]
    frame, steps = charts.timeline_frame(res, max_points=100)  # a chart can average further still
    assert len(frame) == 94 and steps == 110  # ceil(931 / 100) = 10 points a row: ceil(931 / 10) = 94 rows


@pytest.mark.parametrize("allocator", ["paged", "contiguous"])
def test_memory_map_rows_stay_under_the_cap_at_the_page_extremes(allocator):
    # the page's largest memory (1,024 blocks) in its smallest blocks, and its largest batch (128 requests)
    trace = tuple(Request(i, 0.0, 5 + i % 7, 10 + i % 13, 24) for i in range(300))  # all at once: a crowd
    snap = serving.snapshot_at(trace, ServeConfig(allocator=allocator, max_batch=128, num_blocks=1024, block_size=4),
                               8)
    assert len(snap.cached) == 128
    frame = charts.memory_segments(snap, row_slots=128 * 4)
    assert len(frame) <= 2 * 1024 + 3 * 128 + 8 < charts.MAX_CHART_ROWS
    assert _rows(charts.memory_map_chart(snap, row_slots=128 * 4)) == len(frame)
