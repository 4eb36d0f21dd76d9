"""LLM Lab's benchmark suite: every headline figure measured side by side in one run.

    python -m bench            # everything, at full size
    python -m bench --quick    # a smaller version, meant to finish in under 5 minutes on 2 quiet cores
    python -m bench --only serving roofline   # some benchmarks

The first run embeds KJV verses with MiniLM (10,500 in --quick, all 31,102 otherwise) and caches
the vectors in ~/.cache/llm-lab/bench ($LLM_LAB_CACHE overrides); later runs reuse them.
Thread count: $LLM_LAB_THREADS (default: all cores), as for the app.

Each figure is a ratio or a fraction of two things measured in the same run, timed alternately
(A, B, A, B, ...) and summarised by the median of the repetitions, so a busy machine slows both
sides alike. Results are printed as a table and written to bench/results.json (gitignored) with
each figure's value, unit, repetitions and target, and the machine it ran on.

One module per topic: serving (simulated schedulers), roofline (decode vs this machine's roofline),
kv_cache, quantization, speculative, training (BF16 autocast), retrieval (faiss HNSW) and pages
(first render of every page). Each exposes `run(quick: bool) -> list[Figure]`.
"""
