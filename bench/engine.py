"""Our decode path (core.inference.engine) against transformers' generate and this machine's roofline, in one run.

Rounds alternate (bench.common.alternate): greedy decoding of 256 tokens of tiny-lm at batch 1 by
`model.generate` (at the process's thread count, as the app runs it, and at one thread; the speedup is taken
against the faster of the two), by our engine, a large FP32 matmul (FLOP/s) and a large copy (bandwidth). The bound is min(FLOP/s / 2N, bandwidth / bytes per token),
bytes per token = 4N (FP32 weights) + the KV cache read at the mean context (core.inference.batching's
roofline_tokens_per_s, with that byte count). Then, on our path only: the KV cache (recompute vs cache, same
tokens) and speculative decoding (draft model, prompt lookup) against plain decoding, every output checked equal
to the target's own greedy tokens; last, what verification costs here (one target pass over k + 1 tokens against
one over a single token), which bounds any draft's speedup. `python -m bench.engine [--quick]` runs it alone
(`python -m bench --only engine` runs it inside the full report).
"""
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

from bench.common import Figure, alternate, median
from core.inference import batching
from core.inference import engine_speculative as spec
from core.inference.engine import Engine
from core.models import load_causal_lm, parameter_count

OVERHEAD_NOTE = ("about 560 ATen operations per token remain (generate: about 1,300; the Inference page's 'Where the "
                 "time goes' profiles both): their dispatch plus 25 small matrix-vector products whose 12.6 MB of FP32 "
                 "weights stream through the caches every token; torch.compile of the step ran slower here")
KEYS = ("engine_tokens_per_s", "engine_speedup_vs_generate", "engine_roofline_fraction", "engine_kv_cache_speedup",
        "engine_speculative_speedup", "engine_speculative_acceptance", "prompt_lookup_speedup",
        "engine_verify_cost_ratio")
PROMPT = "And the LORD spake unto Moses, saying,"
DRAFT_KS, LOOKUP_KS = (2, 4), (4, 8)
VERIFY_TS = (1, 3, 5, 9)  # tokens in one target pass: k + 1 for k = 0, 2, 4, 8


def cpu_features() -> dict:
    """torch's vector ISA for this CPU and the /proc/cpuinfo flags that matter for FP32 / BF16 matmuls."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    except OSError:
        flags = set()
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
    return {"torch_capability": torch.backends.cpu.get_cpu_capability(), **{f: f in flags for f in wanted}}


@contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def kv_bytes_per_token(engine: Engine, mean_context: float) -> float:
    """Bytes of keys and values one decode step reads at a given context length (FP32): 2 L H_kv D 4 t."""
    cfg = engine.cfg
    return 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * 4 * mean_context


def decode_figures(times: dict[str, list[float]], new_tokens: int, n_params: int, bytes_per_token: float,
                   reps: int, details: dict) -> list[Figure]:
    """Figures from the alternated timings: {'generate', 'generate_1thread', 'engine', 'matmul', 'copy'} -> seconds.

    The matmul is (2048 x 2048) @ (2048 x 2048); the copy moves 2 x 256 MiB.
    """
    n, n_bytes = 2048, 256 * 2**20
    tps = {k: new_tokens / median(times[k]) for k in ("generate", "generate_1thread", "engine")}
    flops, bandwidth = 2 * n**3 / median(times["matmul"]), 2 * n_bytes / median(times["copy"])
    best_generate = max(tps["generate"], tps["generate_1thread"])  # the stronger baseline: no credit for a bad setting
    flop_bound, _ = batching.roofline_tokens_per_s(n_params, flops, bandwidth)
    memory_bound = bandwidth / bytes_per_token
    bound = min(flop_bound, memory_bound)
    details = {**details, "tokens_per_s": {k: round(v, 1) for k, v in tps.items()},
               "matmul_gflops": round(flops / 1e9, 2), "copy_gb_per_s": round(bandwidth / 1e9, 2),
               "bytes_per_token": round(bytes_per_token), "flop_bound_tokens_per_s": round(flop_bound, 1),
               "memory_bound_tokens_per_s": round(memory_bound, 1),
               "speedup_vs_generate_process_threads": round(tps["engine"] / tps["generate"], 3),
               "speedup_vs_generate_1thread": round(tps["engine"] / tps["generate_1thread"], 3),
               "seconds": {k: [round(t, 4) for t in v] for k, v in times.items()}}
    what = f"greedy {new_tokens} tokens of tiny-lm, batch 1"
    return [
        Figure("engine_tokens_per_s", tps["engine"], "tokens/s", reps,
               f"{what}, our engine (core.inference.engine, {details['engine_threads']} thread)", details=details),
        Figure("engine_speedup_vs_generate", tps["engine"] / best_generate, "x", reps,
               f"{what}: our engine / model.generate at its faster thread count here (1 or "
               f"{details['process_threads']}), same tokens", details=details,
               note="" if tps["engine"] / best_generate >= 3 else OVERHEAD_NOTE),
        Figure("engine_roofline_fraction", tps["engine"] / bound, "fraction", reps,
               "engine tokens/s / min(matmul FLOP/s / 2N, copy bandwidth / (4N + KV bytes)), all measured in this run",
               details=details, note="" if tps["engine"] / bound >= 1 / 3 else OVERHEAD_NOTE),
    ]


def run(quick: bool = False) -> list[Figure]:
    target, tokenizer = load_causal_lm("tiny-lm")
    draft, _ = load_causal_lm("tiny-lm-draft")
    engine, draft_engine = Engine(target), Engine(draft)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids  # (1, T)
    reps, new_tokens, spec_tokens = (3, 256, 128) if quick else (5, 256, 128)
    process_threads = torch.get_num_threads()

    def hf(threads: int):
        with torch_threads(threads), torch.inference_mode():
            return target.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                   do_sample=False, eos_token_id=None)

    ours = engine.generate(ids, new_tokens, stop_at_eos=False)
    if not torch.equal(ours, hf(process_threads)):
        raise AssertionError("the engine's greedy tokens differ from model.generate's")
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    src = torch.ones(256 * 2**20 // 4)
    dst = torch.empty_like(src)
    times = alternate({
        "generate": lambda: hf(process_threads), "generate_1thread": lambda: hf(1),
        "engine": lambda: engine.generate(ids, new_tokens, stop_at_eos=False),
        "matmul": lambda: a @ b, "copy": lambda: dst.copy_(src),
    }, reps)
    n_params = parameter_count(target)
    bytes_per_token = 4 * n_params + kv_bytes_per_token(engine, ids.size(1) + new_tokens / 2)
    details = {"model": "tiny-lm", "parameters": n_params, "new_tokens": new_tokens, "prompt": PROMPT,
               "engine_threads": engine.threads or process_threads, "process_threads": process_threads,
               "cpu_features": cpu_features(), "same_tokens": True}
    figures = decode_figures(times, new_tokens, n_params, bytes_per_token, reps, details)
    return figures + kv_cache_figure(engine, ids, new_tokens, reps) + \
        speculative_figures(engine, draft_engine, ids, spec_tokens, reps) + verify_cost_figure(engine, ids, reps)


def verify_cost_figure(engine: Engine, ids: torch.Tensor, reps: int, calls: int = 50) -> list[Figure]:
    """What speculative decoding's verification costs here: one target pass over T = k + 1 new tokens after the
    cached prompt, as a ratio to a pass over one token. A free, always-right draft of k tokens would give
    (k + 1) t(1) / t(k + 1) at most (the 'oracle' ceiling): the speedup any real draft can only approach."""
    pos = ids.size(1)
    engine.extend(ids, 0)  # the prompt in the cache; every timed pass writes after it
    batches = {T: torch.randint(0, engine.cfg.vocab_size, (1, T), generator=torch.Generator().manual_seed(T))
               for T in VERIFY_TS}

    def passes(T: int):
        for _ in range(calls):
            engine.extend(batches[T], pos)

    times = alternate({f"T{T}": (lambda T=T: passes(T)) for T in VERIFY_TS}, reps)
    per_pass = {T: median(times[f"T{T}"]) / calls for T in VERIFY_TS}
    ratio = {T: per_pass[T] / per_pass[1] for T in VERIFY_TS}
    details = {"ms_per_pass": {T: round(1e3 * t, 3) for T, t in per_pass.items()},
               "cost_ratio": {T: round(r, 3) for T, r in ratio.items()},
               "oracle_speedup": {T - 1: round(T / r, 3) for T, r in ratio.items() if T > 1}}
    return [Figure("engine_verify_cost_ratio", ratio[5], "x", reps,
                   "one target pass over 5 new tokens (k = 4 drafts + 1) / over 1, after a cached prompt, our engine; "
                   "a bandwidth-bound model would be near 1", details=details)]


def kv_cache_figure(engine: Engine, ids: torch.Tensor, new_tokens: int, reps: int) -> list[Figure]:
    """Recompute vs cache on our path: the same greedy tokens, timed alternately."""
    if not torch.equal(engine.generate_without_cache(ids, new_tokens), engine.generate(ids, new_tokens, stop_at_eos=False)):
        raise AssertionError("greedy with and without the engine's KV cache produced different tokens")
    times = alternate({"cache": lambda: engine.generate(ids, new_tokens, stop_at_eos=False),
                       "no_cache": lambda: engine.generate_without_cache(ids, new_tokens)}, reps, warmup=False)
    speedup = median(times["no_cache"]) / median(times["cache"])
    return [Figure("engine_kv_cache_speedup", speedup, "x", reps,
                   f"greedy {new_tokens} tokens of tiny-lm on our engine, time recomputing every position / with the KV cache",
                   details={"seconds": {k: [round(t, 4) for t in v] for k, v in times.items()}, "same_tokens": True})]


def speculative_figures(engine: Engine, draft: Engine, ids: torch.Tensor, new_tokens: int, reps: int) -> list[Figure]:
    """Plain greedy vs draft-model and prompt-lookup speculative decoding on our engine; outputs must be identical."""
    runs = {"plain": lambda: spec.plain_greedy(engine, ids, new_tokens)}
    runs |= {f"draft_k{k}": (lambda k=k: spec.speculative_greedy(engine, draft, ids, new_tokens, k)) for k in DRAFT_KS}
    runs |= {f"lookup_k{k}": (lambda k=k: spec.prompt_lookup_greedy(engine, ids, new_tokens, k)) for k in LOOKUP_KS}
    results = {name: fn() for name, fn in runs.items()}
    for name, res in results.items():
        if res.new_ids != results["plain"].new_ids:
            raise AssertionError(f"{name} changed the target's greedy output")
    times = alternate(runs, reps, warmup=False)
    speedup = {name: median(times["plain"]) / median(t) for name, t in times.items()}
    details = {name: {"speedup": round(speedup[name], 3), "acceptance": round(results[name].acceptance, 3),
                      "tokens_per_target_pass": round(results[name].tokens_per_pass, 3)} for name in runs}
    best_draft = max((f"draft_k{k}" for k in DRAFT_KS), key=speedup.get)
    best_lookup = max((f"lookup_k{k}" for k in LOOKUP_KS), key=speedup.get)
    what = f"greedy {new_tokens} tokens of tiny-lm on our engine, plain / "
    note = ("a target pass over k + 1 tokens costs several single-token passes here (engine_verify_cost_ratio): "
            "small-M matmuls run about one weight pass per row on this CPU's BLAS, so only the per-operation overhead "
            "is shared, and even a free, always-right draft could give (k + 1) / that ratio; see details for every k")
    return [
        Figure("engine_speculative_speedup", speedup[best_draft], "x", reps,
               what + f"with tiny-lm-draft ({best_draft}, best of k in {DRAFT_KS}), same output",
               note="" if speedup[best_draft] >= 1.5 else note, details=details),
        Figure("engine_speculative_acceptance", results[best_draft].acceptance, "fraction", 1,
               f"draft tokens accepted by the target's greedy check ({best_draft})", details=details),
        Figure("prompt_lookup_speedup", speedup[best_lookup], "x", reps,
               what + f"with prompt lookup ({best_lookup}, 3-gram, best of k in {LOOKUP_KS}), same output",
               note="" if speedup[best_lookup] >= 1.5 else "a free draft, so only the verification cost limits it: "
               "see engine_verify_cost_ratio (one pass over k + 1 tokens costs several one-token passes here)",
               details=details),
    ]


if __name__ == "__main__":
    from bench.common import format_table
    from core.compute import set_threads

    set_threads()
    figs = run(quick="--quick" in sys.argv)
    print(format_table(figs))
    for fig in figs:
        if fig.note:
            print(f"- {fig.key}: {fig.note}")
    d = figs[0].details
    print("tokens/s:", d["tokens_per_s"],
          f"| bound min({d['flop_bound_tokens_per_s']}, {d['memory_bound_tokens_per_s']}) tokens/s")
    print("speculative:", figs[-2].details)
    print("verification:", figs[-1].details)
    print("cpu:", d["cpu_features"])
