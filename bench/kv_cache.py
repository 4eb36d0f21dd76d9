"""KV cache on vs off: greedy generation of 256 tokens with tiny-lm, timed alternately (core.inference.kv_cache)."""
from bench.common import Figure
from core.inference.kv_cache import timing_curve
from core.models import load_causal_lm

PROMPT = "And the LORD said"


def run(quick: bool = False) -> list[Figure]:
    model, tokenizer = load_causal_lm("tiny-lm")
    reps = 3 if quick else 5
    curve = timing_curve(model, tokenizer, PROMPT, new_tokens=256, reps=reps)
    if not curve.same_tokens:
        raise AssertionError("greedy with and without the KV cache produced different tokens")
    return [Figure("kv_cache_speedup", curve.speedup, "x", reps,
                   "greedy 256 tokens with tiny-lm, time without / with the KV cache (same tokens, checked)",
                   note="" if curve.speedup >= 3 else
                   "tiny-lm's per-token cost is mostly fixed overhead, so recomputing the prefix costs less than in a large model",
                   details={"seconds_no_cache": round(curve.seconds_no_cache, 3),
                            "seconds_cache": round(curve.seconds_cache, 3), "prompt": PROMPT, "same_tokens": True})]
