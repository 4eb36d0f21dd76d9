"""Hybrid retrieval: fuse a sparse (BM25) and a dense (MiniLM) ranking into one.

BM25 scores and cosine similarities live on different scales (0 to ~20 against −1 to 1), so adding
them needs a normalisation that is fragile. Reciprocal rank fusion (Cormack, Clarke and Büttcher
2009, "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning Methods", SIGIR)
uses ranks only:

    RRF(d) = Σ_m  w_m / (c + rank_m(d))          rank 1 = best, c = 60 in the paper

A chunk ranked high by either method gets a large term; c damps the difference between rank 1 and
rank 2, so one method cannot dominate with a single lucky hit. The weights w_m are our knob (the
paper's RRF has w = 1 for every method): here w for dense and 1 − w for BM25.

Shapes: N chunks; a ranking is (N,) chunk ids, best first.
"""
import numpy as np

RRF_C = 60  # Cormack et al. 2009's constant


def ranking(scores: np.ndarray) -> np.ndarray:
    """Chunk ids best first, ties to the lower id (a stable sort): ranking([0.1, 0.9, 0.1]) -> [1, 0, 2]."""
    return np.argsort(-np.asarray(scores), kind="stable")


def ranks_of(order: np.ndarray) -> np.ndarray:
    """The 1-based rank of every chunk from a ranking: ranks_of([1, 0, 2]) -> [2, 1, 3]."""
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[np.asarray(order)] = np.arange(1, len(order) + 1)
    return ranks


def rrf_scores(orders: list[np.ndarray], weights: list[float], c: float = RRF_C) -> np.ndarray:
    """Σ_m w_m / (c + rank_m(d)) for every chunk d, (N,), from M rankings (each (N,) ids best first)."""
    assert len(orders) == len(weights) and orders, (len(orders), len(weights))
    return sum(w / (c + ranks_of(o)) for o, w in zip(orders, weights))


def hybrid_order(sparse_scores: np.ndarray, dense_scores: np.ndarray, dense_weight: float = 0.5,
                 c: float = RRF_C) -> np.ndarray:
    """The fused ranking (N,) of one query: RRF of the BM25 and dense rankings, dense weighted w, BM25 1 − w."""
    fused = rrf_scores([ranking(sparse_scores), ranking(dense_scores)], [1.0 - dense_weight, dense_weight], c)
    return ranking(fused)


if __name__ == "__main__":
    bm25 = np.array([9.0, 0.0, 4.0, 1.0])  # chunk 0 has the rare keyword
    dense = np.array([0.20, 0.70, 0.65, 0.10])  # chunks 1 and 2 paraphrase the question
    for w in (0.0, 0.5, 1.0):
        print(f"dense weight {w}: order {hybrid_order(bm25, dense, w).tolist()}")
