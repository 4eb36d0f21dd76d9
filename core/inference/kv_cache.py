"""The KV cache: why generating n tokens costs O(n) forward passes of one token instead of O(n²), and its memory.

A decoder predicts token t+1 from tokens 1..t, and attention at step t needs the key and value
vectors of every earlier token. Without a cache the model recomputes them: step t runs the whole
prefix of t tokens through every layer again, so n new tokens cost T0 + (T0+1) + ... + (T0+n-1)
token-passes, quadratic in n. With a cache each layer keeps its K and V tensors, (B, H_kv, T, D),
and a step runs one new token through the model and appends its K and V: n token-passes, plus an
attention read of the T cached positions.

The price is memory. Per token, every layer stores one key and one value vector per KV head:

    bytes per token = 2 (K and V) × L layers × H_kv heads × D head dim × bytes per value

Multi-head attention has H_kv = H; multi-query attention shares one K/V head across all query
heads, H_kv = 1 (Shazeer 2019, https://arxiv.org/abs/1911.02150); grouped-query attention uses
G groups, 1 < H_kv = G < H (Ainslie et al. 2023, https://arxiv.org/abs/2305.13245).
Shapes: input_ids (B, T); each cached K or V tensor (B, H_kv, T, D).

Work budget of the timing demo: its cost is about a fixed few ms per forward pass plus a little per
token run through the model, and the uncached run is quadratic in tokens. `plan_timing` counts both
(forward passes and token-passes, warm-up included) and cuts repetitions, then tokens, to fit
TIMING_MAX_FORWARDS and TIMING_MAX_TOKEN_PASSES: a few seconds of tiny-lm on 2 CPU cores.
"""
import statistics
import time
from dataclasses import dataclass

import torch

KIB, MIB, GIB = 2**10, 2**20, 2**30
BYTES_PER_VALUE = {"FP32": 4, "FP16": 2, "INT8": 1}  # INT8 ignores the small per-channel scales it also needs
WARMUP_TOKENS = 4  # tokens of the untimed warm-up run, with and without the cache
# The budget of one timing curve. On the bench's 2 cores tiny-lm costs ~5 ms per forward pass and ~0.08 ms
# per token in it (README: 207 tokens/s decoding; 3.1x cache speedup at 256 tokens), so the budget is
# ~3.5 s there: room for a busier machine within the ~10 s an automatic demo may take.
TIMING_MAX_FORWARDS = 400
TIMING_MAX_TOKEN_PASSES = 16_000


# ---- the memory calculator -------------------------------------------------------------------
@dataclass(frozen=True)
class AttentionShape:
    name: str
    layers: int  # L
    heads: int  # H query heads
    kv_heads: int  # H_kv: = H for MHA, 1 for MQA, a divisor of H for GQA
    head_dim: int  # D
    context: int  # the model's trained context length, in tokens
    source: str = ""  # where the numbers come from

    @property
    def kind(self) -> str:
        return "MHA" if self.kv_heads == self.heads else "MQA" if self.kv_heads == 1 else "GQA"


PUBLISHED_MODELS = (
    AttentionShape("Llama-2-7B", 32, 32, 32, 128, 4096,
                   "Touvron et al. 2023, Llama 2, Table 1 + config.json (https://arxiv.org/abs/2307.09288)"),
    AttentionShape("Llama-2-13B", 40, 40, 40, 128, 4096,
                   "Touvron et al. 2023, Llama 2 (https://arxiv.org/abs/2307.09288)"),
    AttentionShape("Llama-2-70B", 80, 64, 8, 128, 4096,
                   "Touvron et al. 2023, Llama 2: GQA with 8 KV heads (https://arxiv.org/abs/2307.09288)"),
    AttentionShape("Mistral-7B", 32, 32, 8, 128, 8192,
                   "Jiang et al. 2023, Mistral 7B, Table 1: n_kv_heads 8 (https://arxiv.org/abs/2310.06825)"),
    AttentionShape("Llama-3-8B", 32, 32, 8, 128, 8192,
                   "meta-llama/Meta-Llama-3-8B config.json (https://huggingface.co/meta-llama/Meta-Llama-3-8B)"),
    AttentionShape("Falcon-7B", 32, 71, 1, 64, 2048,
                   "tiiuae/falcon-7b model card: multi-query, 71 heads of 64 "
                   "(https://huggingface.co/tiiuae/falcon-7b)"),
    AttentionShape("GPT-3 175B", 96, 96, 96, 128, 2048,
                   "Brown et al. 2020, GPT-3, Table 2.1: 96 layers, 96 heads of 128 "
                   "(https://arxiv.org/abs/2005.14165)"),
)


def kv_bytes_per_token(shape: AttentionShape, bytes_per_value: int = 2) -> int:
    """2 · L · H_kv · D · bytes: Llama-2-7B in FP16 -> 2·32·32·128·2 = 524,288 B = 512 KiB."""
    return 2 * shape.layers * shape.kv_heads * shape.head_dim * bytes_per_value


def kv_cache_bytes(shape: AttentionShape, tokens: int, batch: int = 1, bytes_per_value: int = 2) -> int:
    """Bytes of the whole cache for `batch` sequences of `tokens` tokens: Llama-2-7B, 4096 tokens, FP16 -> 2 GiB."""
    return batch * tokens * kv_bytes_per_token(shape, bytes_per_value)


def attention_variants(shape: AttentionShape, groups: int = 8) -> list[AttentionShape]:
    """The same model with MHA (H_kv = H), GQA (H_kv = groups) and MQA (H_kv = 1) attention.

    GQA needs the query heads to split evenly into groups, so it is left out where `groups` does not divide
    H (Falcon-7B's 71 heads: MHA or MQA only): attention_variants(llama2_7b)[1].kv_heads -> 8.
    """
    kinds = [("MHA", shape.heads)]
    if 1 < groups < shape.heads and shape.heads % groups == 0:
        kinds.append((f"GQA-{groups}", groups))
    kinds.append(("MQA", 1))
    return [AttentionShape(f"{shape.name} as {label}", shape.layers, shape.heads, kv, shape.head_dim, shape.context,
                           shape.source) for label, kv in kinds]


def attention_shape_of(config, name: str = "model") -> AttentionShape:
    """An AttentionShape from a transformers config (Llama-style names)."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return AttentionShape(name, config.num_hidden_layers, heads, getattr(config, "num_key_value_heads", heads),
                          head_dim, config.max_position_embeddings, "its config.json")


# ---- the real cache of a real model ----------------------------------------------------------
@dataclass(frozen=True)
class CacheTensor:
    layer: int
    kind: str  # "key" | "value"
    shape: tuple[int, ...]  # (B, H_kv, T, D)
    dtype: str
    nbytes: int


def cache_tensors(cache) -> list[CacheTensor]:
    """Every K and V tensor a transformers cache holds, with its shape and size in bytes."""
    rows = []
    for i, layer in enumerate(cache.layers):
        for kind, tensor in (("key", layer.keys), ("value", layer.values)):
            rows.append(CacheTensor(i, kind, tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."),
                                    tensor.numel() * tensor.element_size()))
    return rows


def cache_nbytes(cache) -> int:
    """Total bytes of a cache's K and V tensors."""
    return sum(t.nbytes for t in cache_tensors(cache))


@torch.no_grad()
def measure_cache(model, input_ids: torch.Tensor) -> list[CacheTensor]:
    """Run one forward pass with the cache on and list the cache it returns.

    Usage: measure_cache(model, tok("In the beginning", return_tensors="pt").input_ids)  # (B, T) in
    """
    return cache_tensors(model(input_ids=input_ids, use_cache=True).cache)


# ---- generation with and without the cache, timed per token ----------------------------------
@dataclass(frozen=True)
class GreedyRun:
    new_ids: tuple[int, ...]
    step_seconds: tuple[float, ...]  # wall time of each generated token
    tokens_in: tuple[int, ...]  # how many tokens each step ran through the model
    cache_bytes: tuple[int, ...]  # size of the KV cache after each step (0 without cache)

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds)


@torch.no_grad()
def greedy_run(model, input_ids: torch.Tensor, new_tokens: int, use_cache: bool) -> GreedyRun:
    """Greedy decoding of exactly `new_tokens` tokens (no stop at end-of-text), each step timed.

    Usage: greedy_run(model, tok("And God said", return_tensors="pt").input_ids, 64, use_cache=False)
    With the cache, step 0 runs the prompt (prefill) and every later step one token.
    Without it, every step runs the whole sequence so far: that is the recomputation the cache saves.
    """
    ids = input_ids  # (1, T)
    cache, new_ids, seconds, tokens_in, sizes = None, [], [], [], []
    for _ in range(new_tokens):
        start = time.perf_counter()
        if use_cache:
            feed = ids if cache is None else ids[:, -1:]  # (1, T) once, then (1, 1)
            out = model(input_ids=feed, cache=cache, use_cache=True, logits_to_keep=1)
            cache = out.cache
        else:
            feed = ids  # (1, T): all keys and values recomputed from scratch
            out = model(input_ids=feed, use_cache=False, logits_to_keep=1)
        next_id = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        seconds.append(time.perf_counter() - start)
        ids = torch.cat([ids, next_id], dim=1)
        new_ids.append(int(next_id))
        tokens_in.append(feed.size(1))
        sizes.append(cache_nbytes(cache) if use_cache else 0)
    return GreedyRun(tuple(new_ids), tuple(seconds), tuple(tokens_in), tuple(sizes))


def time_generation(model, tokenizer, prompt: str, new_tokens: int, use_cache: bool) -> tuple[float, tuple[int, ...]]:
    """(seconds, new token ids) of greedy generation of exactly `new_tokens` tokens.

    Usage: secs, ids = time_generation(model, tok, "And the LORD said", 256, use_cache=False)
    """
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids
    run = greedy_run(model, input_ids, new_tokens, use_cache)
    return run.seconds, run.new_ids


def token_passes(prompt_len: int, new_tokens: int) -> tuple[int, int]:
    """(with cache, without) tokens run through the model to generate new_tokens after prompt_len.

    With the cache: the prompt once, then one token per step: T0 + n - 1. Without: the whole prefix at
    every step, T0 + (T0 + 1) + ... + (T0 + n - 1) = n·T0 + n(n - 1)/2. token_passes(8, 128) -> (135, 9152).
    """
    return prompt_len + new_tokens - 1, new_tokens * prompt_len + new_tokens * (new_tokens - 1) // 2


@dataclass(frozen=True)
class TimingPlan:
    """How many tokens and repetitions a timing curve runs, as asked and as the budget allows."""
    prompt_len: int
    new_tokens: int
    reps: int
    asked_tokens: int
    asked_reps: int
    max_forwards: int
    max_token_passes: int

    @property
    def forwards(self) -> int:
        """Forward passes: the warm-up pair, then reps × (cached + uncached) runs of one pass per token."""
        return 2 * WARMUP_TOKENS + 2 * self.reps * self.new_tokens

    @property
    def token_passes(self) -> int:
        """Tokens run through the model in those passes, warm-up included."""
        return sum(token_passes(self.prompt_len, WARMUP_TOKENS)) + self.reps * sum(
            token_passes(self.prompt_len, self.new_tokens))

    @property
    def cut(self) -> bool:
        return (self.new_tokens, self.reps) != (self.asked_tokens, self.asked_reps)


def plan_timing(prompt_len: int, new_tokens: int, reps: int, max_forwards: int = TIMING_MAX_FORWARDS,
                max_token_passes: int = TIMING_MAX_TOKEN_PASSES) -> TimingPlan:
    """The asked timing run, cut to the budget: fewer repetitions first (down to 1), then fewer tokens.

    plan_timing(8, 256, 2) -> 170 tokens × 1 repetition (348 passes, 15,951 token-passes), where one uncached
    run of 256 tokens alone would be 34,688 token-passes.
    """
    def plan(n: int, r: int) -> TimingPlan:
        return TimingPlan(prompt_len, n, r, new_tokens, reps, max_forwards, max_token_passes)

    def fits(candidate: TimingPlan) -> bool:
        return candidate.forwards <= max_forwards and candidate.token_passes <= max_token_passes

    r = reps
    while r > 1 and not fits(plan(new_tokens, r)):
        r -= 1
    n = new_tokens
    while n > 1 and not fits(plan(n, r)):
        n -= 1
    return plan(n, r)


@dataclass(frozen=True)
class TimingCurve:
    positions: tuple[int, ...]  # sequence length when each token was generated
    ms_cache: tuple[float, ...]  # median milliseconds per token with the cache
    ms_no_cache: tuple[float, ...]  # ... and without
    cache_bytes: tuple[int, ...]  # real cache size after each step
    tokens_in_no_cache: tuple[int, ...]  # tokens run through the model per step without the cache
    seconds_cache: float  # median total time
    seconds_no_cache: float
    same_tokens: bool  # both runs produced identical tokens
    reps: int
    plan: TimingPlan | None = None  # the work budget it ran under (None: run as asked)

    @property
    def speedup(self) -> float:
        return self.seconds_no_cache / self.seconds_cache


def timing_curve(model, tokenizer, prompt: str, new_tokens: int = 128, reps: int = 3,
                 budget: bool = False) -> TimingCurve:
    """Per-token time with and without the cache, median over `reps` alternating runs (after one warm-up).

    Usage: curve = timing_curve(model, tok, "And the LORD said", new_tokens=256, reps=3); curve.speedup
    budget=True cuts reps, then new_tokens, to `plan_timing`'s budget (the page's demo); curve.plan says how.
    """
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids  # (1, T0)
    plan = None
    if budget:
        plan = plan_timing(input_ids.size(1), new_tokens, reps)
        new_tokens, reps = plan.new_tokens, plan.reps
    greedy_run(model, input_ids, WARMUP_TOKENS, True), greedy_run(model, input_ids, WARMUP_TOKENS, False)  # warm-up
    cached, uncached = [], []
    for _ in range(reps):  # alternate, so background load hits both alike
        cached.append(greedy_run(model, input_ids, new_tokens, use_cache=True))
        uncached.append(greedy_run(model, input_ids, new_tokens, use_cache=False))

    def per_step_ms(runs):
        return tuple(1000 * statistics.median(r.step_seconds[i] for r in runs) for i in range(new_tokens))

    prompt_len = input_ids.size(1)
    return TimingCurve(
        positions=tuple(range(prompt_len, prompt_len + new_tokens)),
        ms_cache=per_step_ms(cached),
        ms_no_cache=per_step_ms(uncached),
        cache_bytes=cached[0].cache_bytes,
        tokens_in_no_cache=uncached[0].tokens_in,
        seconds_cache=statistics.median(r.seconds for r in cached),
        seconds_no_cache=statistics.median(r.seconds for r in uncached),
        same_tokens=cached[0].new_ids == uncached[0].new_ids,
        reps=reps,
        plan=plan,
    )


def kv_cache_speedup(model, tokenizer, prompt: str = "And the LORD said", new_tokens: int = 256,
                     reps: int = 3) -> float:
    """No-cache time / cache time for greedy generation of `new_tokens` tokens (the bench's kv_cache_speedup).

    Usage: kv_cache_speedup(*load_causal_lm("tiny-lm"), new_tokens=256)
    """
    return timing_curve(model, tokenizer, prompt, new_tokens, reps).speedup


if __name__ == "__main__":
    from core.models import load_causal_lm

    for shape in PUBLISHED_MODELS:
        per_token = kv_bytes_per_token(shape)
        print(f"{shape.name:12s} {shape.kind}  {per_token / KIB:7.0f} KiB/token FP16, "
              f"{kv_cache_bytes(shape, shape.context) / GIB:5.2f} GiB at {shape.context} tokens")
    model, tok = load_causal_lm("tiny-lm")
    shape = attention_shape_of(model.config, "tiny-lm")
    rows = measure_cache(model, tok("In the beginning God created", return_tensors="pt").input_ids)
    print(f"tiny-lm cache: {len(rows)} tensors of {rows[0].shape} {rows[0].dtype}, "
          f"{sum(r.nbytes for r in rows)} bytes; formula {kv_bytes_per_token(shape, 4)} B/token")
    curve = timing_curve(model, tok, "And the LORD said", new_tokens=256, reps=2)
    print(f"256 tokens: cache {curve.seconds_cache:.2f}s, no cache {curve.seconds_no_cache:.2f}s, "
          f"speedup {curve.speedup:.1f}x, same tokens: {curve.same_tokens}")
