"""Speculative decoding: tiny-lm-draft proposes, tiny-lm verifies; greedy, timed alternately with the
target alone (core.inference.speculative). Both outputs must be identical: the bench fails otherwise."""
from bench.common import Figure
from core.inference.speculative import (
    speculative_generate,
    speculative_speedup,
    target_greedy,
)
from core.models import load_causal_lm

PROMPT = "And the LORD spake unto Moses, saying,"
K = 4


def run(quick: bool = False) -> list[Figure]:
    target, tokenizer = load_causal_lm("tiny-lm")
    draft, _ = load_causal_lm("tiny-lm-draft")
    reps, new_tokens = (3, 128) if quick else (5, 256)
    s = speculative_speedup(target, draft, tokenizer, PROMPT, new_tokens=new_tokens, k=K, reps=reps)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    ours = speculative_generate(target, draft, tokenizer, ids, new_tokens, K, stop_at_eos=False).new_ids
    if not (s.same_output and ours == target_greedy(target, tokenizer, ids, new_tokens, stop_at_eos=False)):
        raise AssertionError("speculative decoding changed the greedy output")
    details = {"k": K, "new_tokens": new_tokens, "target_seconds": round(s.target_seconds, 3),
               "assisted_seconds": round(s.assisted_seconds, 3), "our_loop_seconds": round(s.loop_seconds, 3),
               "our_loop_speedup": round(s.loop_speedup, 3), "tokens_per_target_pass": round(s.tokens_per_pass, 3),
               "draft_pass_ms": round(s.draft_pass_ms, 3), "target_pass_ms": round(s.target_pass_ms, 3),
               "predicted_speedup": round(s.predicted_speedup, 3), "same_output": True}
    return [
        Figure("speculative_speedup", s.speedup, "x", reps,
               f"greedy {new_tokens} tokens: target.generate alone / with tiny-lm-draft as assistant (k={K}), same output",
               note="" if s.speedup >= 1.5 else
               f"acceptance {s.acceptance:.0%} and a draft pass costing {s.cost_ratio:.0%} of a target pass (both "
               f"overhead-bound on CPU) predict {s.predicted_speedup:.2f}x at best (Leviathan et al. 2022, arXiv 2211.17192); our own "
               f"loop (core.inference.speculative) reaches {s.loop_speedup:.2f}x, transformers' assisted generation adds "
               "per-round overhead",
               details=details),
        Figure("speculative_acceptance", s.acceptance, "fraction", 1,
               "drafted tokens accepted by the target's greedy check", details=details),
    ]
