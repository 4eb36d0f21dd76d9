"""Greedy decode speed of the largest bundled LM against this machine's roofline, measured in one run.

Rounds alternate three timings: greedy decoding (batch 1, KV cache), a large FP32 matmul (peak
FLOP/s) and a large array copy (memory bandwidth). The bound is min(FLOP/s / 2N, bandwidth / 4N)
tokens/s for N FP32 parameters (core.batching.roofline_tokens_per_s).
"""
import torch

from bench.common import Figure, alternate, median
from core.inference import batching
from core.models import SPECS, load_causal_lm, model_path, parameter_count


def largest_bundled_lm() -> tuple[str, object, object]:
    """(key, model, tokenizer) of the bundled causal LM with the most parameters."""
    best = None
    for key, spec in SPECS.items():
        if spec.kind != "causal-lm" or spec.source != "bundled":
            continue
        try:
            model_path(key)
        except FileNotFoundError:
            continue
        model, tokenizer = load_causal_lm(key)
        if best is None or parameter_count(model) > parameter_count(best[1]):
            best = (key, model, tokenizer)
    if best is None:
        raise FileNotFoundError("no bundled causal LM; run `python scripts/build_assets.py`")
    return best


def run(quick: bool = False) -> list[Figure]:
    key, model, tokenizer = largest_bundled_lm()
    n_params = parameter_count(model)
    new_tokens, reps = (128, 3) if quick else (256, 5)
    prompt = tokenizer.encode("And the LORD said unto Moses,")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    n, n_bytes = 2048, 256 * 2**20
    a, b = torch.randn(n, n), torch.randn(n, n)
    src = torch.ones(n_bytes // 4)
    dst = torch.empty_like(src)
    times = alternate({
        "decode": lambda: batching.batched_greedy(model, [prompt], new_tokens, pad_id),
        "matmul": lambda: a @ b,
        "copy": lambda: dst.copy_(src),
    }, reps)
    tokens_per_s = new_tokens / median(times["decode"])
    flops = 2 * n**3 / median(times["matmul"])
    bandwidth = 2 * n_bytes / median(times["copy"])
    flop_bound, memory_bound = batching.roofline_tokens_per_s(n_params, flops, bandwidth, bytes_per_param=4)
    bound = min(flop_bound, memory_bound)
    details = {"model": key, "parameters": n_params, "new_tokens": new_tokens, "batch": 1, "dtype": "float32",
               "matmul_gflops": round(flops / 1e9, 2), "copy_gb_per_s": round(bandwidth / 1e9, 2),
               "flop_bound_tokens_per_s": round(flop_bound, 1), "memory_bound_tokens_per_s": round(memory_bound, 1),
               "decode_seconds": times["decode"]}
    return [
        Figure("decode_tokens_per_s", tokens_per_s, "tokens/s", reps,
               f"greedy decode of {key} ({n_params / 1e6:.2f}M parameters), batch 1, KV cache, {new_tokens} tokens",
               details=details),
        Figure("decode_roofline_fraction", tokens_per_s / bound, "fraction", reps,
               "decode tokens/s / min(matmul FLOP/s / 2N, copy bandwidth / 4N), all measured in this run",
               note=("a model this small is bound by per-step overhead (Python, ~100 small ops per token), not by "
                     "FLOPs or bandwidth; see the Inference page, Serving section"),
               details=details),
    ]
