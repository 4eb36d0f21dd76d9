"""`python -m bench [--quick] [--only NAME ...] [--out PATH]`: run the benchmarks, print the table, write JSON."""
import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from bench.common import RESULTS_PATH, Figure, format_table, machine_info, report

# name -> the figures it produces (a failed benchmark still reports its keys, with value None)
BENCHMARKS = {
    "serving": ("continuous_batching_throughput_ratio", "paged_kv_utilization", "contiguous_kv_utilization"),
    "kv_cache": ("kv_cache_speedup",),
    "roofline": ("decode_tokens_per_s", "decode_roofline_fraction"),
    "quantization": ("int8_latency_ratio", "int8_ppl_ratio", "int4_size_ratio", "int4_ppl_ratio"),
    "speculative": ("speculative_speedup", "speculative_acceptance"),
    "engine": ("engine_tokens_per_s", "engine_speedup_vs_generate", "engine_roofline_fraction",
               "engine_kv_cache_speedup", "engine_speculative_speedup", "engine_speculative_acceptance",
               "prompt_lookup_speedup", "engine_verify_cost_ratio"),
    "training": ("train_tokens_per_s_bf16_ratio",),
    "retrieval": ("hnsw_recall_at_10", "hnsw_speedup"),
    "pages": ("page_first_render_s_max",),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller version (under 5 minutes on 2 cores)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=RESULTS_PATH, help=f"JSON report (default {RESULTS_PATH})")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from core.compute import set_threads

    set_threads()
    machine = machine_info()
    print(f"LLM Lab bench{' --quick' if args.quick else ''} on {machine['cpu']}, {machine['cores']} cores, "
          f"torch {machine['torch']} ({machine['torch_threads']} threads)", flush=True)
    figures: list[Figure] = []
    failed = []
    start = time.perf_counter()
    for name in args.only or list(BENCHMARKS):
        t0 = time.perf_counter()
        print(f"  {name} ...", end="", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            figures += module.run(quick=args.quick)
            print(f" {time.perf_counter() - t0:.0f} s", flush=True)
        except Exception as err:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f" FAILED: {err!r}", flush=True)
            traceback.print_exc()
            figures += [Figure(key, None, "", 0, f"{name} benchmark failed", note=f"{type(err).__name__}: {err}"[:300])
                        for key in BENCHMARKS[name]]
    seconds = time.perf_counter() - start
    report(figures, machine, args.quick, seconds, args.out)
    print()
    print(format_table(figures))
    missed = [f for f in figures if f.met is False or f.value is None]
    for fig in missed:
        print(f"- {fig.key}: {'failed' if fig.value is None else 'missed ' + fig.target}"
              + (f": {fig.note}" if fig.note else ""))
    print(f"\n{len(figures)} figures in {seconds:.0f} s -> {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
