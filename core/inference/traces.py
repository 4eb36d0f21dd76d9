"""The workload a serving simulator runs: a seeded trace of requests, and the work budget that cuts it.

Each request has a prompt of P tokens and wants O output tokens, arriving at a Poisson rate (or in
bursts at the same mean rate). Output lengths follow a stated distribution, clipped to the request's
cap `max_new_tokens`, which is all a server knows about O in advance.

Work budget: a simulated server never runs more steps than the trace's output tokens (every step
yields at least one token), so `budgeted_trace` keeps the first requests whose outputs add up to at
most MAX_TOKEN_STEPS and says how many it left out.
"""
from dataclasses import dataclass

import numpy as np

MAX_TOKEN_STEPS = 80_000  # output tokens per simulated trace: each of the four servers runs at most this many steps


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


@dataclass(frozen=True)
class TraceBudget:
    """What the work budget did to a trace: how many requests (and output tokens) were asked and kept."""
    requests: int  # requests in the trace as asked
    kept: int  # the first `kept` arrivals are simulated
    token_steps: int  # output tokens of the whole trace: an upper bound on each server's steps
    kept_token_steps: int  # ... of the kept requests
    limit: int  # MAX_TOKEN_STEPS, or the limit given

    @property
    def cut(self) -> bool:
        return self.kept < self.requests

    @property
    def factor(self) -> float:
        """How many times less work than asked: token_steps / kept_token_steps."""
        return self.token_steps / max(1, self.kept_token_steps)


def fit_budget(trace: tuple[Request, ...], max_token_steps: int = MAX_TOKEN_STEPS) -> tuple[tuple[Request, ...], TraceBudget]:
    """The first requests (by arrival) whose output tokens add up to at most max_token_steps.

    fit_budget(trace of 500 requests of 512 output tokens, 80_000) keeps 156 (156 · 512 = 79,872).
    Raises ValueError when even the first request wants more than the budget.
    """
    outputs = np.cumsum([r.output_len for r in trace])  # (N,) output tokens of the first i + 1 requests
    kept = int(np.searchsorted(outputs, max_token_steps, side="right"))
    if kept == 0:
        raise ValueError(f"one request asks for {trace[0].output_len:,} output tokens; the simulator's budget is "
                         f"{max_token_steps:,} per trace")
    budget = TraceBudget(len(trace), kept, int(outputs[-1]), int(outputs[kept - 1]), max_token_steps)
    return trace[:kept], budget


def budgeted_trace(cfg: TraceConfig, max_token_steps: int = MAX_TOKEN_STEPS) -> tuple[tuple[Request, ...], TraceBudget]:
    """make_trace(cfg), cut to the work budget: (the requests to simulate, what was cut)."""
    return fit_budget(make_trace(cfg), max_token_steps)
