"""Continuous vs static batching and paged vs contiguous KV memory, on the same simulated bursty trace.

The simulator (core.inference.serving) is deterministic, so the repetitions are different seeds of the
trace; each figure is the median over seeds.
"""
from dataclasses import asdict, replace

from bench.common import Figure, median
from core.inference.serving import ServeConfig, compare
from core.inference.traces import TraceConfig


def figures(trace: TraceConfig, server: ServeConfig, seeds: tuple[int, ...]) -> list[Figure]:
    ratios, paged, contiguous, per_seed = [], [], [], []
    for seed in seeds:
        results = compare(replace(trace, seed=seed), server)
        cont, stat = results[("continuous", "paged")], results[("static", "paged")]
        ratios.append(cont.throughput / stat.throughput)
        paged.append(results[("continuous", "paged")].kv_utilization)
        contiguous.append(results[("continuous", "contiguous")].kv_utilization)
        per_seed.append({f"{p} + {a}": {"tokens_per_s": round(r.throughput, 1), "p50_s": round(r.p50_ms / 1000, 3),
                                        "p99_s": round(r.p99_ms / 1000, 3), "kv_utilization": round(r.kv_utilization, 4),
                                        "preemptions": r.preemptions}
                         for (p, a), r in results.items()} | {"seed": seed})
    config = {"trace": asdict(trace) | {"seed": list(seeds)}, "server": asdict(server)}
    return [
        Figure("continuous_batching_throughput_ratio", median(ratios), "x", len(seeds),
               "simulated tokens/s, continuous / static batching, both with paged KV, same bursty trace",
               details={"per_seed": ratios, "config": config, "servers": per_seed}),
        Figure("paged_kv_utilization", median(paged), "fraction", len(seeds),
               "KV slots holding a token / slots reserved, paged (blocks of 16), continuous batching",
               details={"per_seed": paged}),
        Figure("contiguous_kv_utilization", median(contiguous), "fraction", len(seeds),
               "the same for contiguous reservation of prompt + max_new_tokens per request",
               details={"per_seed": contiguous}),
    ]


def run(quick: bool = False) -> list[Figure]:
    trace = TraceConfig(n_requests=200 if quick else 500, bursty=True)
    return figures(trace, ServeConfig(), seeds=(0, 1, 2) if quick else (0, 1, 2, 3, 4))
