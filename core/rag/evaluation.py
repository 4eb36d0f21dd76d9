"""Scoring retrieval on a labelled question set: recall@k and MRR for BM25, dense and hybrid search.

Each labelled question names the one document that answers it (assets/docs/questions.tsv). A method
ranks every chunk; what counts is the rank of the **first chunk from the right document**:

    recall@k = (1/Q) Σ_q [first relevant rank of q ≤ k]       (one relevant document, so it is hit@k)
    MRR      = (1/Q) Σ_q 1 / (first relevant rank of q)        (0 when the document is never ranked)

MRR, mean reciprocal rank (Voorhees 1999, the TREC-8 question answering track), rewards putting the
answer first: rank 1 scores 1, rank 2 scores 0.5, rank 10 scores 0.1.

Note the two recalls on the RAG page: here, recall@k asks "is the answer in the top k?" against human
labels; for a vector index (core/rag/indexes.py) it asks "did the approximate index return the
exact k nearest neighbours?", with exact search as the truth.

Shapes: Q questions, N chunks, M methods.
"""
from dataclasses import dataclass

import numpy as np

from core.rag import bm25, fusion

METHODS = ("BM25", "dense (MiniLM)", "hybrid (RRF)")
SWEEP_WEIGHTS = tuple(round(w / 10, 1) for w in range(11))  # 0.0, 0.1, ..., 1.0


def first_relevant_rank(order: np.ndarray, chunk_docs: list[str], relevant: str) -> int:
    """1-based rank of the first chunk of `relevant` in a ranking (N,) of chunk ids; 0 when absent.

    first_relevant_rank([2, 0, 1], ['a.md', 'b.md', 'a.md'], 'b.md') -> 3 (chunk 1, the third in the ranking)
    """
    for rank, i in enumerate(order, start=1):
        if chunk_docs[int(i)] == relevant:
            return rank
    return 0


def recall_at_k(first_ranks: np.ndarray, k: int) -> float:
    """Fraction of questions whose first relevant rank is 1..k: recall_at_k([1, 3, 0], 2) -> 1/3."""
    r = np.asarray(first_ranks)
    return float(np.mean((r >= 1) & (r <= k))) if r.size else 0.0


def mrr(first_ranks: np.ndarray) -> float:
    """Mean of 1/rank, 0 for a question never answered: mrr([1, 3, 0]) -> (1 + 1/3 + 0) / 3 = 0.444."""
    r = np.asarray(first_ranks, dtype=np.float64)
    return float(np.mean(np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0))) if r.size else 0.0


@dataclass(frozen=True)
class Evaluation:
    questions: tuple[str, ...]  # Q
    relevant: tuple[str, ...]  # Q document names
    first_ranks: np.ndarray  # (M, Q) int, per METHODS
    top_docs: tuple[tuple[str, ...], ...]  # (M, Q) the document of each method's top chunk
    sparse: np.ndarray  # (Q, N) BM25 scores
    dense: np.ndarray  # (Q, N) cosine similarities
    chunk_docs: tuple[str, ...]  # N
    dense_weight: float
    rrf_c: float

    def table(self, k: int) -> list[dict]:
        """One row per method: recall@1, recall@k, MRR, and how many questions it never answers."""
        return [{"method": m, "recall@1": recall_at_k(r, 1), f"recall@{k}": recall_at_k(r, k), "MRR": mrr(r),
                 "not found": int((r == 0).sum())} for m, r in zip(METHODS, self.first_ranks)]

    def recall_curve(self, max_k: int = 10) -> list[dict]:
        """recall@k for k = 1..max_k and every method: rows of (method, k, recall)."""
        return [{"method": m, "k": k, "recall": recall_at_k(r, k)}
                for m, r in zip(METHODS, self.first_ranks) for k in range(1, max_k + 1)]


def evaluate(chunk_texts: list[str], chunk_docs: list[str], chunk_vectors: np.ndarray, labelled,
             question_vectors: np.ndarray, k1: float = 1.5, b: float = 0.75, dense_weight: float = 0.5,
             rrf_c: float = fusion.RRF_C) -> Evaluation:
    """Rank every chunk for every labelled question with BM25, dense search and their RRF; score them.

    chunk_vectors (N, C) and question_vectors (Q, C) are unit MiniLM embeddings; labelled is
    ((question, document name), ...) of length Q.
    """
    questions = [q for q, _ in labelled]
    relevant = [doc for _, doc in labelled]
    index = bm25.build(chunk_texts)
    sparse = bm25.score_matrix(index, questions, k1, b)  # (Q, N)
    dense = question_vectors @ chunk_vectors.T  # (Q, N) cosine similarities
    ranks = np.zeros((len(METHODS), len(questions)), dtype=np.int64)  # (M, Q)
    tops = [[""] * len(questions) for _ in METHODS]
    for q, want in enumerate(relevant):
        orders = (fusion.ranking(sparse[q]), fusion.ranking(dense[q]),
                  fusion.hybrid_order(sparse[q], dense[q], dense_weight, rrf_c))
        for m, order in enumerate(orders):
            ranks[m, q] = first_relevant_rank(order, chunk_docs, want)
            tops[m][q] = chunk_docs[int(order[0])] if len(order) else ""
    return Evaluation(tuple(questions), tuple(relevant), ranks, tuple(tuple(t) for t in tops),
                      sparse.astype(np.float32), dense.astype(np.float32), tuple(chunk_docs), dense_weight, rrf_c)


def weight_sweep(ev: Evaluation, k: int, weights=SWEEP_WEIGHTS) -> list[dict]:
    """MRR and recall@k of the hybrid as its dense weight goes from 0 (BM25 alone) to 1 (dense alone)."""
    rows = []
    for w in weights:
        ranks = np.array([first_relevant_rank(fusion.hybrid_order(ev.sparse[q], ev.dense[q], float(w), ev.rrf_c),
                                              ev.chunk_docs, want) for q, want in enumerate(ev.relevant)])
        rows.append({"dense weight": float(w), "MRR": mrr(ranks), f"recall@{k}": recall_at_k(ranks, k)})
    return rows


if __name__ == "__main__":
    from core.models import load_sentence_embedder
    from core.rag.chunking import ChunkConfig, load_documents, load_questions
    from core.rag.retrieval import embed_chunks, embed_texts

    embedder = load_sentence_embedder()
    embedded = embed_chunks(embedder, load_documents(), ChunkConfig(400, 80))
    labelled = load_questions()
    ev = evaluate([c.text for c in embedded.chunks], [c.doc for c in embedded.chunks], embedded.vectors, labelled,
                  embed_texts(embedder, [q for q, _ in labelled]))
    print(f"{len(labelled)} questions, {len(embedded.chunks)} chunks")
    for row in ev.table(5):
        print("  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
