"""Real batched generation on the tiny LM: many prompts through one forward pass per step.

Why batching pays: one decode step for ONE sequence reads every weight to do a matrix-VECTOR
product per layer; arithmetic intensity is about 2 FLOP per parameter per 4 bytes read. For B
sequences the same weight read serves a matrix-MATRIX product: B times the work for about the same
memory traffic and the same per-step overhead (Python, kernel launches). So tokens/s grows almost
linearly with B until arithmetic becomes the limit. The roofline model says it in one line:

    tokens/s <= min(FLOP/s / (2 N),  B * bandwidth / (bytes_per_param * N))     (N parameters)

How to batch prompts of different lengths: pad on the LEFT so every row's newest token sits at
the last position (the next token is read from logits[:, -1]); the attention mask (B, T) is 0 on
padding so no real token attends to it; position ids count only real tokens, so each row gets
exactly the positions it would get alone (RoPE scores depend only on position differences, so a
common shift would cancel anyway; learned absolute positions, as in GPT-2, would not forgive it).
Then batched greedy equals unbatched greedy, row by row.

Work budget: a measurement runs every batch size for new_tokens steps, reps times; `plan_throughput`
cuts the repetitions (then the new tokens) so that at most MAX_FORWARDS batched forward passes run,
a few seconds on 2 CPU cores.

Papers: Orca (batching at every step), https://www.usenix.org/conference/osdi22/presentation/yu ;
roofline model, https://doi.org/10.1145/1498765.1498785
"""
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

MAX_FORWARDS = 640  # batched forward passes in one throughput measurement (batch sizes × new tokens × reps)


def left_pad(token_lists: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[[5, 6, 7], [8]] -> input_ids [[5, 6, 7], [p, p, 8]], attention_mask [[1, 1, 1], [0, 0, 1]]."""
    if not token_lists or any(len(t) == 0 for t in token_lists):
        raise ValueError("every prompt needs at least one token")
    T = max(len(t) for t in token_lists)
    input_ids = torch.full((len(token_lists), T), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(token_lists), T), dtype=torch.long)  # (B, T)
    for row, tokens in enumerate(token_lists):
        input_ids[row, T - len(tokens):] = torch.tensor(tokens)
        attention_mask[row, T - len(tokens):] = 1
    return input_ids, attention_mask


@torch.no_grad()
def batched_greedy(model, token_lists: list[list[int]], max_new_tokens: int, pad_id: int) -> list[list[int]]:
    """Greedy-decode B prompts together with a KV cache; returns B lists of max_new_tokens new ids.

    Every row generates exactly max_new_tokens (no early stop at end-of-text), so all rows stay in
    step and the output equals decoding each prompt alone.
    """
    input_ids, attention_mask = left_pad(token_lists, pad_id)  # (B, T), (B, T)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (B, T) 0, 1, 2, ... from each row's first real token
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=True)
    new_ids = []
    for step in range(max_new_tokens):
        next_ids = out.logits[:, -1].argmax(-1)  # (B,)
        new_ids.append(next_ids)
        if step == max_new_tokens - 1:
            break
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(next_ids), 1)], dim=1)  # (B, T+1)
        position_ids = position_ids[:, -1:] + 1  # (B, 1)
        out = model(input_ids=next_ids[:, None], attention_mask=attention_mask, position_ids=position_ids,
                    cache=out.cache, use_cache=True)
    return torch.stack(new_ids, dim=1).tolist()  # (B, max_new_tokens)


@dataclass(frozen=True)
class ThroughputResult:
    batch_sizes: tuple[int, ...]
    seconds: tuple[float, ...]  # median wall time to generate new_tokens for the whole batch
    tokens_per_s: tuple[float, ...]  # B * new_tokens / seconds
    step_ms: tuple[float, ...]  # seconds / new_tokens: the cost of one batched step (prefill amortised)
    new_tokens: int
    prompt_tokens: tuple[int, ...]  # prompt lengths used (each batch takes the first B)
    reps: int
    threads: int


@dataclass(frozen=True)
class ThroughputPlan:
    batch_sizes: tuple[int, ...]
    new_tokens: int
    reps: int
    asked_new_tokens: int
    asked_reps: int
    max_forwards: int

    @property
    def forwards(self) -> int:
        """Batched forward passes: one per new token, per batch size, per repetition."""
        return len(self.batch_sizes) * self.new_tokens * self.reps

    @property
    def cut(self) -> bool:
        return (self.new_tokens, self.reps) != (self.asked_new_tokens, self.asked_reps)


def plan_throughput(batch_sizes, new_tokens: int, reps: int, max_forwards: int = MAX_FORWARDS) -> ThroughputPlan:
    """Fewer repetitions first (at least 1), then fewer new tokens, until the forward passes fit the budget.

    plan_throughput((1, 2, 4, 8, 16), 64, 3, 640) -> 64 new tokens × 2 reps (5 · 64 · 2 = 640 passes).
    """
    sizes = tuple(batch_sizes)
    per_rep = len(sizes) * new_tokens
    fitted_reps = max(1, min(reps, max_forwards // per_rep))
    fitted_tokens = max(1, min(new_tokens, max_forwards // (len(sizes) * fitted_reps)))
    return ThroughputPlan(sizes, fitted_tokens, fitted_reps, new_tokens, reps, max_forwards)


def sample_prompts(tokenizer, n: int, max_tokens: int = 16, seed: int = 0) -> list[list[int]]:
    """n held-out KJV verses as token lists of different lengths, each cut to at most max_tokens."""
    from core.pretraining.data import split_verses

    _, heldout = split_verses()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(heldout), size=n, replace=False)
    return [tokenizer.encode(heldout[int(i)].text)[:max_tokens] for i in picks]


def measure_batched_throughput(model, tokenizer, batch_sizes=(1, 2, 4, 8, 16), new_tokens: int = 32,
                               reps: int = 3, max_prompt_tokens: int = 16, seed: int = 0) -> ThroughputResult:
    """Generate with each batch size, the sizes timed in turn within each repetition; medians."""
    prompts = sample_prompts(tokenizer, max(batch_sizes), max_prompt_tokens, seed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batched_greedy(model, prompts[:2], 2, pad_id)  # warm-up: first calls allocate and pick kernels
    times = {b: [] for b in batch_sizes}
    for _ in range(reps):
        for b in batch_sizes:
            start = time.perf_counter()
            batched_greedy(model, prompts[:b], new_tokens, pad_id)
            times[b].append(time.perf_counter() - start)
    seconds = tuple(statistics.median(times[b]) for b in batch_sizes)
    return ThroughputResult(
        batch_sizes=tuple(batch_sizes), seconds=seconds,
        tokens_per_s=tuple(b * new_tokens / s for b, s in zip(batch_sizes, seconds)),
        step_ms=tuple(1000 * s / new_tokens for s in seconds), new_tokens=new_tokens,
        prompt_tokens=tuple(len(p) for p in prompts), reps=reps, threads=torch.get_num_threads(),
    )


def fit_step_cost(batch_sizes, step_ms) -> tuple[float, float]:
    """Least-squares line step_ms = fixed + per_row * B: (fixed ms, ms per extra row)."""
    per_row, fixed = np.polyfit(np.asarray(batch_sizes, float), np.asarray(step_ms, float), 1)
    return float(fixed), float(per_row)


# ---- the roofline: what this machine could do at best ------------------------------------------
def measure_matmul_flops(n: int = 1024, reps: int = 5) -> float:
    """FLOP/s of an (n, n) @ (n, n) FP32 matmul (2 n^3 FLOP), median of reps."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def measure_copy_bandwidth(n_bytes: int = 256 * 2**20, reps: int = 5) -> float:
    """Memory bandwidth in bytes/s from copying a large FP32 array (read + write = 2 * n_bytes moved)."""
    src = torch.ones(n_bytes // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up: touch every page
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - start)
    return 2 * n_bytes / statistics.median(times)


def roofline_tokens_per_s(n_params: int, flops: float, bandwidth: float, bytes_per_param: int = 4,
                          batch: int = 1) -> tuple[float, float]:
    """(FLOP bound, memory bound) on decode tokens/s: each token needs 2 N FLOP; each step reads N weights.

    roofline_tokens_per_s(7e9, 312e12, 2e12, 2) -> (about 22,000, about 143): a 7B model at batch 1 is
    bound by memory bandwidth 150 times over.
    """
    flop_bound = flops / (2 * n_params)
    memory_bound = batch * bandwidth / (bytes_per_param * n_params)
    return flop_bound, memory_bound


if __name__ == "__main__":
    from core.compute import set_threads
    from core.models import load_causal_lm, parameter_count

    set_threads()
    model, tokenizer = load_causal_lm("tiny-lm")
    res = measure_batched_throughput(model, tokenizer, reps=2)
    print(f"tiny-lm, {parameter_count(model):,} parameters, {res.new_tokens} new tokens, {res.threads} threads")
    for b, tps, ms in zip(res.batch_sizes, res.tokens_per_s, res.step_ms):
        print(f"  batch {b:2d}: {tps:7.0f} tokens/s  {ms:6.2f} ms per step")
    fixed, per_row = fit_step_cost(res.batch_sizes, res.step_ms)
    print(f"step cost fit: {fixed:.2f} ms + {per_row:.3f} ms per row")
    flops, bandwidth = measure_matmul_flops(), measure_copy_bandwidth()
    f_bound, m_bound = roofline_tokens_per_s(parameter_count(model), flops, bandwidth)
    print(f"matmul {flops / 1e9:.1f} GFLOP/s, copy {bandwidth / 1e9:.1f} GB/s -> batch-1 bound "
          f"min({f_bound:,.0f}, {m_bound:,.0f}) tokens/s; measured {res.tokens_per_s[0]:,.0f}")
