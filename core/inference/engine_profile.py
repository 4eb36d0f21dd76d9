"""Where the time of a decode step goes: one generation run under torch.profiler, its time split by kind of work.

A tiny model's decode step does little arithmetic (tiny-lm: ~6 MFLOP per token, microseconds on one core) but
runs hundreds of small tensor operations, and each one costs dispatch (Python to C++, argument checks, choosing a
kernel, allocating the output) whatever its size. The profiler records every ATen operation with its own ("self")
CPU time; we sum them by kind, and what is left of the wall time is Python and framework code between operations.
Comparing `model.generate` with core.inference.engine on the same tokens shows what the engine removed.

Numbers under the profiler are inflated by its own bookkeeping (a few microseconds per operation): read them
as shares and counts, and take speeds from unprofiled timings (bench/engine.py).
"""
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile

# kind of work -> ATen operation names (without leading underscores); a name also matches with a suffix after "_"
KINDS = {
    "matmul": ("mm", "addmm", "bmm", "baddbmm", "linear", "matmul"),
    "attention": ("scaled_dot_product", "softmax", "safe_softmax"),
    "sampling": ("argmax", "multinomial", "topk", "sort", "cumsum", "masked_fill", "scatter", "exponential"),
    "norms & elementwise": ("mul", "add", "sub", "div", "rsqrt", "pow", "mean", "sum", "silu", "neg", "cat", "rms_norm",
                            "fused_rms_norm", "embedding", "index", "where", "ne", "eq", "isin", "bitwise", "all", "any",
                            "fill", "tril", "triu", "ones", "zeros", "arange", "polar", "cos", "sin"),
    "views & copies": ("view", "slice", "select", "transpose", "reshape", "expand", "as_strided", "unsqueeze",
                       "squeeze", "copy", "contiguous", "t", "narrow", "permute", "split", "chunk", "to", "empty",
                       "clone", "detach", "resolve_conj", "resolve_neg", "unsafe_view", "reshape_alias", "lift_fresh",
                       "alias", "result_type", "item", "local_scalar_dense"),
}
MAX_TOKENS = 128  # profiled tokens per call: enough for stable shares, a second or two of work


@dataclass(frozen=True)
class DecodeProfile:
    name: str
    tokens: int
    wall_ms_per_token: float  # under the profiler
    ms_per_token: dict  # kind -> self CPU ms per token; "python & framework" = wall - all operations
    ops_per_token: float  # ATen calls per token, nested ones included
    top_ops: tuple  # ((name, calls per token, self ms per token), ...) the 8 costliest

    @property
    def shares(self) -> dict:
        """kind -> fraction of the profiled time (they sum to 1): the numbers to read, since the profiler inflates ms."""
        total = sum(self.ms_per_token.values()) or 1.0
        return {kind: ms / total for kind, ms in self.ms_per_token.items()}


def kind_of(op: str) -> str:
    """'aten::addmm' -> 'matmul'; unknown operations -> 'other ops'."""
    name = op.split("::")[-1].lstrip("_")
    for kind, keys in KINDS.items():
        if any(name == k or name.startswith(k + "_") for k in keys):
            return kind
    return "other ops"


def profile_decode(name: str, generate: Callable[[int], object], tokens: int = 64) -> DecodeProfile:
    """Profile generate(tokens) (which must decode exactly `tokens` tokens) after one untimed warm-up call.

    Usage: profile_decode("engine", lambda n: engine.generate(ids, n, stop_at_eos=False), 64)
    """
    tokens = max(1, min(tokens, MAX_TOKENS))
    generate(min(tokens, 8))  # warm-up: first calls allocate and pick kernels
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        generate(tokens)
        wall_ms = 1000 * (time.perf_counter() - start)
    by_kind, calls, top = {}, 0, []
    for event in prof.key_averages():
        self_ms = event.self_cpu_time_total / 1000  # microseconds -> ms
        by_kind[kind_of(event.key)] = by_kind.get(kind_of(event.key), 0.0) + self_ms
        calls += event.count
        top.append((event.key, event.count / tokens, self_ms / tokens))
    by_kind["python & framework"] = max(0.0, wall_ms - sum(by_kind.values()))
    top = tuple(sorted(top, key=lambda row: -row[2])[:8])
    return DecodeProfile(name, tokens, wall_ms / tokens, {k: v / tokens for k, v in by_kind.items()}, calls / tokens, top)


@contextmanager
def torch_threads(n: int | None):
    """Run the block with n torch threads (None: as they are), restored after."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def hf_greedy(model, input_ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """transformers' own decode: model.generate, greedy, exactly new_tokens tokens (no end-of-text stop)."""
    with torch.inference_mode():
        return model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=new_tokens,
                              do_sample=False, eos_token_id=None)


def profile_pair(model, engine, input_ids: torch.Tensor, tokens: int = 64,
                 threads: int | None = 1) -> tuple[DecodeProfile, DecodeProfile]:
    """(model.generate's profile, the engine's) over the same greedy tokens of one prompt (1, T).

    Both at `threads` torch threads (the engine's own count, 1, by default), so that neither split holds
    thread hand-offs the other does not.
    """
    with torch_threads(threads):
        return (profile_decode("model.generate", lambda n: hf_greedy(model, input_ids, n), tokens),
                profile_decode("our engine", lambda n: engine.generate(input_ids, n, stop_at_eos=False), tokens))


def profile_frame(profiles) -> pd.DataFrame:
    """One row per (run, kind of work): name, kind, ms per token (under the profiler), share, ops per token."""
    return pd.DataFrame([{"name": p.name, "kind": kind, "ms per token": ms, "share": p.shares[kind],
                          "ops per token": p.ops_per_token}
                         for p in profiles for kind, ms in p.ms_per_token.items()])


if __name__ == "__main__":
    from core.compute import set_threads
    from core.inference.engine import Engine
    from core.models import load_causal_lm

    set_threads()
    model, tokenizer = load_causal_lm("tiny-lm")
    engine = Engine(model)
    ids = tokenizer("And the LORD said unto Moses,", return_tensors="pt").input_ids
    runs = profile_pair(model, engine, ids)
    for p in runs:
        print(f"{p.name}: {p.wall_ms_per_token:.2f} ms per token under the profiler, {p.ops_per_token:.0f} ATen calls"
              " (both at 1 torch thread)")
        for kind, ms in sorted(p.ms_per_token.items(), key=lambda kv: -kv[1]):
            print(f"  {kind:22s} {ms:6.3f} ms")
