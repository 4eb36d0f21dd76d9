"""faiss HNSW vs exact search (IndexFlatIP) on MiniLM embeddings of KJV verses: recall@10 and speedup.

The verses are embedded once with all-MiniLM-L6-v2 and cached outside the repository
(~/.cache/llm-lab/bench, or $LLM_LAB_CACHE); the queries are other verses, not in the index.
Both indexes answer the same queries one at a time (as a RAG app does for each question), timed
alternately; the speedup is the ratio of their median times. Batched search (all queries in one
call, where exact search runs as one BLAS matrix product) is timed too and kept in the details.
recall@10 is the share of the exact top 10 that HNSW also returns.
"""
import os
from pathlib import Path

import numpy as np

from bench.common import Figure, alternate, median
from core.pretraining.data import load_verses
from core.rag import retrieval as rag

HNSW = dict(hnsw_m=32, ef_construction=80, ef_search=32)


def cache_dir() -> Path:
    root = os.environ.get("LLM_LAB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-lab"
    path = Path(root) / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def verse_embeddings(n: int, seed: int = 0) -> np.ndarray:
    """(n, 384) unit vectors of n verses chosen by a seeded permutation, cached on disk by (n, seed)."""
    path = cache_dir() / f"minilm_kjv_{n}_seed{seed}.npy"
    if path.exists():
        return np.load(path)
    from core.models import load_sentence_embedder

    verses = load_verses()
    order = np.random.default_rng(seed).permutation(len(verses))[:n]
    vectors = rag.embed_texts(load_sentence_embedder(), [verses[i].text for i in order], batch_size=64)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)  # atomic: a concurrent run never reads half a file
    return vectors


def run(quick: bool = False) -> list[Figure]:
    n_index, n_queries, reps = (10_000, 500, 5) if quick else (len(load_verses()) - 1_000, 1_000, 7)
    vectors = verse_embeddings(n_index + n_queries)
    base, queries = vectors[:n_index], vectors[n_index:]
    flat = rag.build_index(base, "flat")
    hnsw = rag.build_index(base, "hnsw", **HNSW)
    one_by_one = queries[:200]

    def each(index):
        return lambda: [rag.search(index, q[None], 10) for q in one_by_one]

    times = alternate({"flat": each(flat), "hnsw": each(hnsw),
                       "flat_batch": lambda: rag.search(flat, queries, 10),
                       "hnsw_batch": lambda: rag.search(hnsw, queries, 10)}, reps)
    _, true_ids = rag.search(flat, queries, 10)
    _, found_ids = rag.search(hnsw, queries, 10)
    details = {"vectors": n_index, "queries": n_queries, "timed_one_at_a_time": len(one_by_one),
               "dim": int(base.shape[1]), "hnsw": HNSW,
               "flat_ms_per_query": round(1000 * median(times["flat"]) / len(one_by_one), 4),
               "hnsw_ms_per_query": round(1000 * median(times["hnsw"]) / len(one_by_one), 4),
               "flat_ms_batch": round(1000 * median(times["flat_batch"]), 2),
               "hnsw_ms_batch": round(1000 * median(times["hnsw_batch"]), 2),
               "batch_speedup": round(median(times["flat_batch"]) / median(times["hnsw_batch"]), 3)}
    return [
        Figure("hnsw_recall_at_10", rag.recall_at_k(found_ids, true_ids), "fraction", 1,
               f"HNSW top-10 that are in the exact top-10, {n_queries} held-out verse queries over {n_index:,} verses",
               details=details),
        Figure("hnsw_speedup", median(times["flat"]) / median(times["hnsw"]), "x", reps,
               f"search time per query (one at a time), IndexFlatIP / HNSW over {n_index:,} vectors", details=details),
    ]
