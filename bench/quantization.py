"""Dynamic INT8 and 4-bit (NF4, bitsandbytes) vs FP32 on tiny-lm: latency, perplexity, size (core.inference.quantization).

Latency alternates the variants within each round (compare_variants rotates their order);
perplexity is measured on the same held-out tokens for every variant.
"""
from bench.common import Figure
from core.inference.quant_measure import compare_variants, summary_ratios


def run(quick: bool = False) -> list[Figure]:
    reps, ppl_tokens = (3, 4096) if quick else (5, 16384)
    results = compare_variants(("INT8 dynamic", "NF4"), new_tokens=32, ppl_tokens=ppl_tokens, reps=reps)
    ratios = summary_ratios(results)
    by = {r.name: r for r in results}
    sides = {name: {"ms_per_token": round(r.ms_per_token, 3), "perplexity": round(r.perplexity, 4),
                    "size_bytes": r.size_bytes, "linear_bytes": r.linear_bytes, "other_bytes": r.other_bytes}
             for name, r in by.items()}
    n_prompts = len(by["FP32"].ms_samples) // reps
    size_note = ""
    if ratios["int4_size_ratio"] > 0.35:
        size_note = (f"the tied embedding/lm_head (0.79M of 3.15M weights) stays FP32, as bitsandbytes leaves it; "
                     f"the quantized Linear layers alone shrink to {ratios['int4_linear_size_ratio']:.2f} of FP32")
    return [
        Figure("int8_latency_ratio", ratios["int8_latency_ratio"], "x", reps * n_prompts,
               "ms per generated token, dynamic INT8 (torch quantize_dynamic) / FP32, greedy 32 tokens",
               note="" if ratios["int8_latency_ratio"] < 1 else
               "tiny matrices (192 wide): quantizing activations on every call costs more than the int8 GEMM saves",
               details=sides),
        Figure("int8_ppl_ratio", ratios["int8_ppl_ratio"], "x", 1,
               f"held-out perplexity ({ppl_tokens} tokens), dynamic INT8 / FP32", details=sides),
        Figure("int4_size_ratio", ratios["int4_size_ratio"], "x", 1,
               "bytes of all weights, NF4 (bitsandbytes, blocks of 64) / FP32", note=size_note,
               details={"linear_only_ratio": round(ratios["int4_linear_size_ratio"], 4)} | sides),
        Figure("int4_ppl_ratio", ratios["int4_ppl_ratio"], "x", 1,
               f"held-out perplexity ({ppl_tokens} tokens), NF4 / FP32", details=sides),
    ]
