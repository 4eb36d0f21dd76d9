"""Serving many users at once: continuous batching (Orca) and PagedAttention (vLLM), simulated.

A server holds a queue of requests. Each one has a prompt of P tokens and wants O output tokens
(O is unknown to the server; it only knows the request's cap `max_new_tokens`). Two decisions
decide how fast the server is and how many users it can hold:

- **Scheduling.** *Static* batching forms a batch, runs it until its LONGEST member is done
  (finished rows sit in the padded batch, costing compute), then forms the next one. *Continuous*
  batching (Orca, iteration-level scheduling) re-forms the batch at every model step: a finished
  request leaves at once and a waiting one joins at once.
- **KV memory.** A *contiguous* allocator reserves one range of slots per request, sized for the
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

Papers: Orca, https://www.usenix.org/conference/osdi22/presentation/yu ;
vLLM / PagedAttention, https://arxiv.org/abs/2309.06180
"""
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np


# ---- the workload ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TraceConfig:
    n_requests: int = 200
    rate: float = 40.0  # mean arrivals per second of simulated time
    prompt_mean: int = 128  # prompt lengths are uniform in [mean/2, 3*mean/2]
    output_mean: int = 128
    output_dist: str = "geometric"  # "geometric" (many short, a few long) | "uniform" | "fixed"
    max_new_tokens: int = 512  # every request's cap; real output lengths are clipped to it
    bursty: bool = False  # arrivals in bursts of `burst_size` at the same instant, same mean rate
    burst_size: int = 16
    seed: int = 0


@dataclass(frozen=True)
class Request:
    id: int
    arrival_ms: float
    prompt_len: int
    output_len: int
    max_new_tokens: int


def make_trace(cfg: TraceConfig) -> tuple[Request, ...]:
    """A seeded request trace, sorted by arrival: make_trace(TraceConfig(n_requests=3))[0].id -> 0."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_requests
    gap_ms = 1000.0 / cfg.rate  # mean time between two requests
    if cfg.bursty:
        n_bursts = -(-n // cfg.burst_size)
        burst_times = np.cumsum(rng.exponential(gap_ms * cfg.burst_size, n_bursts))
        arrivals = np.repeat(burst_times, cfg.burst_size)[:n]
    else:
        arrivals = np.cumsum(rng.exponential(gap_ms, n))
    arrivals -= arrivals[0]  # the first request arrives at t = 0
    prompts = rng.integers(max(1, cfg.prompt_mean // 2), max(1, cfg.prompt_mean * 3 // 2) + 1, n)
    if cfg.output_dist == "geometric":
        outputs = rng.geometric(1.0 / max(1, cfg.output_mean), n)
    elif cfg.output_dist == "uniform":
        outputs = rng.integers(1, 2 * cfg.output_mean, n)
    elif cfg.output_dist == "fixed":
        outputs = np.full(n, cfg.output_mean)
    else:
        raise ValueError(f"unknown output_dist {cfg.output_dist!r}")
    outputs = np.clip(outputs, 1, cfg.max_new_tokens)
    return tuple(Request(i, float(arrivals[i]), int(prompts[i]), int(outputs[i]), cfg.max_new_tokens) for i in range(n))


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


# ---- the two KV allocators ---------------------------------------------------------------------
class BlockAllocator:
    """PagedAttention's block manager: a free list of physical blocks and one block table per request.

    >>> a = BlockAllocator(num_blocks=4, block_size=2)
    >>> a.reserve(7, tokens_now=3, tokens_max=10), a.block_tables[7]
    (True, [0, 1])
    """

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.num_blocks, self.block_size = num_blocks, block_size
        self.free_blocks = list(range(num_blocks - 1, -1, -1))  # a stack: pop() hands out 0, 1, 2, ...
        self.block_tables: dict[int, list[int]] = {}  # request id -> physical block of each logical block

    def blocks_for(self, n_tokens: int) -> int:
        return -(-n_tokens // self.block_size)

    def grow(self, rid: int, n_tokens: int) -> bool:
        """Make the request's table cover n_tokens slots; False (and no change) if blocks run out."""
        table = self.block_tables.setdefault(rid, [])
        missing = self.blocks_for(n_tokens) - len(table)
        if missing > len(self.free_blocks):
            if not table:
                del self.block_tables[rid]
            return False
        table.extend(self.free_blocks.pop() for _ in range(max(0, missing)))
        return True

    def reserve(self, rid: int, tokens_now: int, tokens_max: int) -> bool:
        """Admit a request: blocks for what it holds now, nothing for what it might hold later."""
        return self.grow(rid, tokens_now)

    def free(self, rid: int) -> None:
        self.free_blocks.extend(reversed(self.block_tables.pop(rid, [])))

    @property
    def reserved_slots(self) -> int:
        return (self.num_blocks - len(self.free_blocks)) * self.block_size

    def owner_map(self) -> np.ndarray:
        """(capacity,) the request id owning each physical slot, -1 where free."""
        owner = np.full(self.num_blocks * self.block_size, -1)
        for rid, table in self.block_tables.items():
            for block in table:
                owner[block * self.block_size : (block + 1) * self.block_size] = rid
        return owner

    def slot_of(self, rid: int, position: int) -> int:
        """The physical slot of a request's token: block_table[position // B] * B + position % B."""
        return self.block_tables[rid][position // self.block_size] * self.block_size + position % self.block_size


class ContiguousAllocator:
    """One contiguous range per request, sized for the longest it may become, placed first-fit.

    >>> a = ContiguousAllocator(capacity=10)
    >>> a.reserve(0, tokens_now=3, tokens_max=6), a.reserve(1, tokens_now=3, tokens_max=6)
    (True, False)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ranges: dict[int, tuple[int, int]] = {}  # request id -> (first slot, length)

    def reserve(self, rid: int, tokens_now: int, tokens_max: int) -> bool:
        start = 0
        for first, length in sorted(self.ranges.values()):
            if first - start >= tokens_max:
                break
            start = first + length
        if start + tokens_max > self.capacity:
            return False  # no hole is large enough (external fragmentation may be why)
        self.ranges[rid] = (start, tokens_max)
        return True

    def grow(self, rid: int, n_tokens: int) -> bool:
        return n_tokens <= self.ranges[rid][1]  # already reserved at admission

    def free(self, rid: int) -> None:
        self.ranges.pop(rid, None)

    @property
    def reserved_slots(self) -> int:
        return sum(length for _, length in self.ranges.values())

    def owner_map(self) -> np.ndarray:
        owner = np.full(self.capacity, -1)
        for rid, (first, length) in self.ranges.items():
            owner[first : first + length] = rid
        return owner

    def slot_of(self, rid: int, position: int) -> int:
        return self.ranges[rid][0] + position


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
    step_end_ms: np.ndarray  # (S,) per-step timeline ...
    step_batch: np.ndarray  # (S,) requests in the step
    step_used: np.ndarray  # (S,) cached tokens after the step
    step_reserved: np.ndarray  # (S,) reserved slots during the step
    step_waiting: np.ndarray  # (S,) requests arrived but not admitted
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


def simulate(trace: tuple[Request, ...], cfg: ServeConfig, snapshot_step: int | None = None) -> ServeResult:
    """Serve the whole trace; optionally keep a MemorySnapshot right after step `snapshot_step` (1-based)."""
    sched = Scheduler(trace, cfg)
    records, snapshot = [], None
    while not sched.done():
        records.append(sched.step())
        if sched.steps == snapshot_step:
            snapshot = sched.snapshot()
    duration = np.array([r.duration_ms for r in records])
    used = np.array([r.used for r in records])
    reserved = np.array([r.reserved for r in records])
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
        preemptions=sched.preemptions,
        step_end_ms=np.array([r.end_ms for r in records]), step_batch=np.array([r.batch for r in records]),
        step_used=used, step_reserved=reserved, step_waiting=np.array([r.waiting for r in records]),
        snapshot=snapshot,
    )


def compare(trace_cfg: TraceConfig, serve_cfg: ServeConfig) -> dict[tuple[str, str], ServeResult]:
    """All four servers on the same trace: {(policy, allocator): result}."""
    trace = make_trace(trace_cfg)
    return {(p, a): simulate(trace, replace(serve_cfg, policy=p, allocator=a))
            for p in ("static", "continuous") for a in ("contiguous", "paged")}


if __name__ == "__main__":
    trace_cfg = TraceConfig(bursty=True)
    print(f"trace: {trace_cfg}\ncost: {CostModel()}\n")
    print(f"{'policy':11s} {'allocator':11s} {'tok/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'KV util':>8s} {'preempt':>8s}")
    for (policy, allocator), res in compare(trace_cfg, ServeConfig()).items():
        print(f"{policy:11s} {allocator:11s} {res.throughput:8.0f} {res.p50_ms:8.0f} {res.p99_ms:8.0f} "
              f"{res.kv_utilization:8.1%} {res.preemptions:8d}")
