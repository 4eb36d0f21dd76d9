"""Serving many users at once: continuous batching (Orca) and PagedAttention (vLLM), simulated.

A server holds a queue of requests. Each one has a prompt of P tokens and wants O output tokens
(O is unknown to the server; it only knows the request's cap `max_new_tokens`). Two decisions
decide how fast the server is and how many users it can hold:

- **Scheduling.** *Static* batching forms a batch, runs it until its LONGEST member is done
  (finished rows sit in the padded batch, costing compute), then forms the next one. *Continuous*
  batching (Orca, iteration-level scheduling) re-forms the batch at every model step: a finished
  request leaves at once and a waiting one joins at once.
- **KV memory** (the two allocators are in paged_kv.py; the trace and its budget in traces.py).
  A *contiguous* allocator reserves one range of slots per request, sized for the
  longest it could ever get (P + max_new_tokens), because the range cannot grow in place. A *paged*
  allocator (PagedAttention) cuts memory into blocks of B token slots and hands a request one more
  block only when its last block is full; a block table maps the request's logical blocks to
  physical blocks, like virtual memory pages. Waste is at most B - 1 slots per request.

Everything here is a simulation (no model runs), so it is exact and instant. Time is simulated
with a stated cost model: one model step costs `step_ms + token_ms * tokens_processed`, where the
fixed part is reading every weight once (memory-bound) and the per-token part is the arithmetic.
Token accounting: a step processes the tokens not yet in the KV cache (the whole prompt when a
request joins, one token per decoding request after that) and produces one new token for each
request; after a request's g-th output token its cache holds P + g - 1 tokens.

Work budget: a simulation costs one Python loop iteration per step and per running request, and
every step yields at least one token, so a server never runs more steps than the trace's output
tokens. `budgeted_trace` keeps the first requests whose outputs add up to at most MAX_TOKEN_STEPS
(and says how many it left out), and each result keeps at most MAX_TIMELINE_POINTS points of its
per-step timeline (means over runs of consecutive steps): the result stays small whatever the trace.

Papers: Orca, https://www.usenix.org/conference/osdi22/presentation/yu ;
vLLM / PagedAttention, https://arxiv.org/abs/2309.06180
"""
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from core.inference.paged_kv import BlockAllocator, ContiguousAllocator
from core.inference.traces import MAX_TOKEN_STEPS, Request, TraceConfig, budgeted_trace

MAX_TIMELINE_POINTS = 1_000  # per-step timeline points kept in a result (4 chart rows each: 4,000 rows at most)


# ---- the cost model and the server -------------------------------------------------------------
@dataclass(frozen=True)
class CostModel:
    """One model step costs `step_ms + token_ms * tokens`.

    Defaults are an estimate for a 7B model in FP16 on one A100-class GPU (datasheet figures, not a
    measurement): reading 14 GB of weights at about 2 TB/s takes about 7 ms per step whatever the
    batch; each token costs 2 * 7e9 FLOP, about 0.05 ms at about 300 TFLOP/s.
    """
    step_ms: float = 7.0
    token_ms: float = 0.05

    def step_time(self, tokens: int) -> float:
        return self.step_ms + self.token_ms * tokens


@dataclass(frozen=True)
class ServeConfig:
    policy: str = "continuous"  # "static" | "continuous"
    allocator: str = "paged"  # "contiguous" | "paged"
    max_batch: int = 32  # most requests in one step
    num_blocks: int = 256  # KV memory: num_blocks * block_size token slots, for both allocators
    block_size: int = 16
    cost: CostModel = field(default_factory=CostModel)

    @property
    def capacity(self) -> int:
        return self.num_blocks * self.block_size


# ---- the scheduler -----------------------------------------------------------------------------
@dataclass(eq=False)  # compared by identity: two sequences are never "equal"
class _Sequence:
    request: Request
    generated: int = 0  # output tokens produced so far
    cached: int = 0  # tokens whose K and V are in the cache
    first_token_ms: float | None = None

    @property
    def context(self) -> int:
        return self.request.prompt_len + self.generated

    @property
    def done(self) -> bool:
        return self.generated >= self.request.output_len


@dataclass(frozen=True)
class StepRecord:
    end_ms: float
    duration_ms: float
    batch: int  # requests that produced a token in this step
    tokens: int  # tokens computed (padding included for static batches)
    used: int  # cached tokens after the step
    reserved: int  # KV slots reserved during the step
    waiting: int  # requests arrived but not running


@dataclass(frozen=True)
class MemorySnapshot:
    """The KV memory right after one step: who owns each slot, which slots hold a token."""
    step: int
    time_ms: float
    block_size: int
    owner: np.ndarray  # (capacity,) request id per physical slot, -1 = free
    filled: np.ndarray  # (capacity,) True where a slot holds a cached token
    block_tables: dict  # paged only: request id -> tuple of physical block ids (logical order)
    cached: dict  # request id -> tokens in its cache


@dataclass(frozen=True)
class ServeResult:
    config: ServeConfig
    n_steps: int
    output_tokens: int
    makespan_ms: float  # first arrival to last finish
    throughput: float  # output tokens per second of simulated time
    latency_ms: np.ndarray  # (N,) finish - arrival, by request id
    ttft_ms: np.ndarray  # (N,) time to first token
    kv_utilization: float  # time-weighted used slots / reserved slots
    preemptions: int  # paged only: requests evicted (and later recomputed) when blocks ran out
    mean_batch: float  # requests producing a token, averaged over all steps
    # The timeline: one point per step, or per run of `steps_per_point` consecutive steps (their mean)
    # when the run is longer than MAX_TIMELINE_POINTS steps. P = ceil(S / steps_per_point) points.
    step_end_ms: np.ndarray  # (P,) end of the first step of each point
    step_batch: np.ndarray  # (P,) requests in the step (a mean, when a point averages several steps)
    step_used: np.ndarray  # (P,) cached tokens after the step
    step_reserved: np.ndarray  # (P,) reserved slots during the step
    step_waiting: np.ndarray  # (P,) requests arrived but not admitted
    steps_per_point: int = 1
    snapshot: MemorySnapshot | None = None

    @property
    def p50_ms(self) -> float:
        return float(np.percentile(self.latency_ms, 50))

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.latency_ms, 99))


class Scheduler:
    """Drives one simulated server; `step()` runs one model step. Use `simulate` for a whole trace."""

    def __init__(self, trace: tuple[Request, ...], cfg: ServeConfig) -> None:
        check_fits(trace, cfg)
        self.cfg = cfg
        self.allocator = (BlockAllocator(cfg.num_blocks, cfg.block_size) if cfg.allocator == "paged"
                          else ContiguousAllocator(cfg.capacity))
        self.pending = deque(sorted(trace, key=lambda r: (r.arrival_ms, r.id)))  # not yet arrived
        self.waiting: deque[_Sequence] = deque()  # arrived, not running
        self.running: list[_Sequence] = []  # in admission order
        self.now, self.steps, self.preemptions = 0.0, 0, 0
        self.finished: dict[int, tuple[float, float]] = {}  # id -> (first token ms, finish ms)

    def done(self) -> bool:
        return not (self.pending or self.waiting or self.running)

    def _arrive(self) -> None:
        while self.pending and self.pending[0].arrival_ms <= self.now:
            self.waiting.append(_Sequence(self.pending.popleft()))

    def _admit(self) -> None:
        """First come, first served, while the batch has room and the allocator says yes."""
        while self.waiting and len(self.running) < self.cfg.max_batch:
            seq = self.waiting[0]
            if not self.allocator.reserve(seq.request.id, seq.context, seq.request.prompt_len + seq.request.max_new_tokens):
                break
            self.running.append(self.waiting.popleft())

    def _preempt(self, seq: _Sequence) -> None:
        """vLLM's recompute preemption: drop the cache, requeue first, prefill prompt + output again."""
        self.allocator.free(seq.request.id)
        self.running.remove(seq)
        seq.cached = 0
        self.waiting.appendleft(seq)
        self.preemptions += 1

    def step(self) -> StepRecord:
        """Run one model step (admit, grow the caches, compute, retire) and say what it did."""
        self._arrive()
        if not self.running and not self.waiting:
            self.now = self.pending[0].arrival_ms  # idle: jump to the next arrival
            self._arrive()
        while True:
            if self.cfg.policy == "continuous" or not self.running:
                self._admit()
            # every unfinished request needs cache slots for the tokens it processes now
            for seq in [s for s in self.running if not s.done]:
                while seq in self.running and not self.allocator.grow(seq.request.id, seq.context):
                    self._preempt([s for s in self.running if not s.done][-1])  # the latest admitted goes
            active = [s for s in self.running if not s.done]
            if active:
                break
            if not self.running:
                raise RuntimeError("nothing fits in KV memory")  # check_fits rules this out
            for seq in list(self.running):  # a static batch whose unfinished rows were all preempted
                self._retire(seq)
        new_tokens = [s.context - s.cached for s in active]
        if self.cfg.policy == "static":  # a padded batch: every row costs as much as the longest
            tokens = len(self.running) * max(new_tokens, default=1)
        else:
            tokens = sum(new_tokens)
        duration = self.cfg.cost.step_time(tokens)
        self.now += duration
        self.steps += 1
        for seq in active:
            seq.cached = seq.context
            seq.generated += 1
            if seq.first_token_ms is None:
                seq.first_token_ms = self.now
        used = sum(s.cached for s in self.running)
        reserved = self.allocator.reserved_slots
        # Continuous: a finished request returns and leaves at once. Static: the batch returns together
        # when its last row is done (Orca's point: early finishers wait for the longest one).
        if self.cfg.policy == "continuous" or all(s.done for s in self.running):
            for seq in [s for s in self.running if s.done]:
                self._retire(seq)
        return StepRecord(self.now, duration, len(active), tokens, used, reserved, len(self.waiting))

    def _retire(self, seq: _Sequence) -> None:
        """A finished request returns its answer and frees its KV memory."""
        self.finished[seq.request.id] = (seq.first_token_ms, self.now)
        self.allocator.free(seq.request.id)
        self.running.remove(seq)

    def snapshot(self) -> MemorySnapshot:
        owner = self.allocator.owner_map()
        filled = np.zeros_like(owner, dtype=bool)
        for seq in self.running:
            for position in range(seq.cached):
                filled[self.allocator.slot_of(seq.request.id, position)] = True
        tables = ({rid: tuple(t) for rid, t in self.allocator.block_tables.items()}
                  if isinstance(self.allocator, BlockAllocator) else {})
        return MemorySnapshot(self.steps, self.now, self.cfg.block_size, owner, filled, tables,
                              {s.request.id: s.cached for s in self.running})


def check_fits(trace: tuple[Request, ...], cfg: ServeConfig) -> None:
    """Raise ValueError if some request could never fit in KV memory (it would wait forever)."""
    for r in trace:
        need = r.prompt_len + r.max_new_tokens if cfg.allocator == "contiguous" else r.prompt_len + r.output_len - 1
        if need > cfg.capacity:
            raise ValueError(f"request {r.id} needs {need} KV slots but memory holds {cfg.capacity}; "
                             "add blocks or shorten prompts / max_new_tokens")


def steps_per_point(n_steps: int, max_points: int | None = MAX_TIMELINE_POINTS) -> int:
    """How many consecutive steps one timeline point averages: steps_per_point(256_000, 1_000) -> 256."""
    return 1 if max_points is None else max(1, -(-n_steps // max_points))


def downsample(values: np.ndarray, k: int) -> np.ndarray:
    """Mean of each run of k consecutive values (the last run may be shorter): ([1, 2, 3, 4, 5], 2) -> [1.5, 3.5, 5]."""
    values = np.asarray(values, dtype=float)
    if k == 1:
        return values
    starts = np.arange(0, len(values), k)
    return np.add.reduceat(values, starts) / np.diff(np.append(starts, len(values)))


def simulate(trace: tuple[Request, ...], cfg: ServeConfig, snapshot_step: int | None = None,
             max_points: int | None = MAX_TIMELINE_POINTS) -> ServeResult:
    """Serve the whole trace; optionally keep a MemorySnapshot right after step `snapshot_step` (1-based).

    The per-step timeline is averaged down to at most `max_points` points (None: every step).
    """
    sched = Scheduler(trace, cfg)
    records, snapshot = [], None
    while not sched.done():
        records.append(sched.step())
        if sched.steps == snapshot_step:
            snapshot = sched.snapshot()
    duration = np.array([r.duration_ms for r in records])
    used = np.array([r.used for r in records])
    reserved = np.array([r.reserved for r in records])
    batch = np.array([r.batch for r in records])
    k = steps_per_point(len(records), max_points)
    order = sorted(sched.finished)
    arrival = {r.id: r.arrival_ms for r in trace}
    latency = np.array([sched.finished[i][1] - arrival[i] for i in order])
    ttft = np.array([sched.finished[i][0] - arrival[i] for i in order])
    output_tokens = sum(r.output_len for r in trace)
    makespan = max(f for _, f in sched.finished.values()) - min(arrival.values())
    return ServeResult(
        config=cfg, n_steps=sched.steps, output_tokens=output_tokens, makespan_ms=makespan,
        throughput=output_tokens / (makespan / 1000.0),
        latency_ms=latency, ttft_ms=ttft,
        kv_utilization=float((used * duration).sum() / max(1e-12, (reserved * duration).sum())),
        preemptions=sched.preemptions, mean_batch=float(batch.mean()),
        step_end_ms=np.array([r.end_ms for r in records])[::k], step_batch=downsample(batch, k),
        step_used=downsample(used, k), step_reserved=downsample(reserved, k),
        step_waiting=downsample([r.waiting for r in records], k), steps_per_point=k,
        snapshot=snapshot,
    )


def snapshot_at(trace: tuple[Request, ...], cfg: ServeConfig, step: int) -> MemorySnapshot:
    """The KV memory right after step `step` (1-based; the last step if the trace is served sooner).

    Stops there: no need to serve the rest of the trace for one picture.
    """
    sched = Scheduler(trace, cfg)
    while sched.steps < step and not sched.done():
        sched.step()
    return sched.snapshot()


def compare_trace(trace: tuple[Request, ...], serve_cfg: ServeConfig) -> dict[tuple[str, str], ServeResult]:
    """All four servers on the same requests: {(policy, allocator): result}."""
    return {(p, a): simulate(trace, replace(serve_cfg, policy=p, allocator=a))
            for p in ("static", "continuous") for a in ("contiguous", "paged")}


def compare(trace_cfg: TraceConfig, serve_cfg: ServeConfig,
            max_token_steps: int = MAX_TOKEN_STEPS) -> dict[tuple[str, str], ServeResult]:
    """All four servers on the same trace, cut to the work budget: {(policy, allocator): result}."""
    trace, _ = budgeted_trace(trace_cfg, max_token_steps)
    return compare_trace(trace, serve_cfg)


if __name__ == "__main__":
    trace_cfg = TraceConfig(bursty=True)
    _, budget = budgeted_trace(trace_cfg)
    print(f"trace: {trace_cfg}\ncost: {CostModel()}\nbudget: {budget.kept} of {budget.requests} requests, "
          f"{budget.kept_token_steps:,} output tokens (limit {budget.limit:,})\n")
    print(f"{'policy':11s} {'allocator':11s} {'tok/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'KV util':>8s} {'preempt':>8s}")
    for (policy, allocator), res in compare(trace_cfg, ServeConfig()).items():
        print(f"{policy:11s} {allocator:11s} {res.throughput:8.0f} {res.p50_ms:8.0f} {res.p99_ms:8.0f} "
              f"{res.kv_utilization:8.1%} {res.preemptions:8d}")
