"""Retrieval-augmented generation, step by step: embed chunks, index them, retrieve, build the prompt.

Lewis et al. 2020, https://arxiv.org/abs/2005.11401. The pipeline here:

    chunks (N)  --embed-->  vectors (N, C)  --faiss index-->  search(question vector (1, C), k)
                                                              --> top-k chunks --> prompt

Embeddings come from all-MiniLM-L6-v2 through sentence-transformers (Reimers & Gurevych 2019,
https://arxiv.org/abs/1908.10084; MiniLM: https://arxiv.org/abs/2002.10957): mean pooling of the
token vectors, then normalisation to unit length, C = 384. For unit vectors cosine similarity is
the inner product, cos(q, x) = q·x / (|q||x|) = q·x, so a faiss inner-product index
(Douze et al. 2024, https://arxiv.org/abs/2401.08281) does exact cosine search; HNSW
(Malkov & Yashunin, https://arxiv.org/abs/1603.09320), IVF and IVF-PQ trade recall for speed/memory.

Work per request is bounded: `embed_chunks` embeds at most chunking.MAX_CHUNKS chunks (the chunk
budget), and exact search scores queries in batches, so memory stays at `batch_bytes` however many
chunks there are (never a dense N x N matrix).

Stable helpers for bench/: `embed_texts`, `build_index`, `search`, `exact_search`, `recall_at_k`.
Chunking lives in core/rag/chunking.py.
"""
import time
from dataclasses import dataclass

import numpy as np

from core.rag.chunking import (
    MAX_CHUNKS,
    MAX_EMBED_CHARS,
    Chunk,
    ChunkConfig,
    Document,
    budget_message,
    chunk_documents,
    clamp_config,
    within_budget,
)

INDEX_KINDS = ("flat", "hnsw", "ivf", "ivfpq")
ORDERS = ("best first", "best at the edges")
SYSTEM_PROMPT = (
    "You are a careful assistant. Answer the question using only the numbered context passages. "
    "Cite every passage you use by its number, like [1]. If the passages do not contain the answer, "
    "say that you do not know."
)


# ---- embedding -------------------------------------------------------------------------------
def embed_texts(embedder, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length sentence embeddings, (N,) texts -> (N, C) float32 with C = 384 for MiniLM.

    `embedder` is a sentence_transformers.SentenceTransformer (core.models.load_sentence_embedder()).
    Texts longer than embedder.max_seq_length word pieces are truncated by the model.
    """
    if not texts:
        return np.zeros((0, embedder.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = embedder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)  # (N, C)


def count_tokens(tokenizer, text: str) -> int:
    """Number of tokens of `text` under a Hugging Face tokenizer, without special tokens."""
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


@dataclass(frozen=True)
class EmbeddedChunks:
    chunks: tuple[Chunk, ...]  # the N chunks embedded: the first ones, within the chunk budget
    vectors: np.ndarray  # (N, C) float32, unit rows
    token_counts: tuple[int, ...]  # word pieces per chunk, before the model's truncation
    max_tokens: int  # the embedder's limit (longer chunks are truncated)
    embed_seconds: float  # wall time of embed_texts for all N chunks, measured once
    n_made: int = 0  # chunks the settings make; more than N when the budget cut them
    chars_made: int = 0  # characters in all the chunks the settings make
    cut_docs: tuple[str, ...] = ()  # documents with chunks left out by the budget
    max_chunks: int = MAX_CHUNKS
    max_chars: int = MAX_EMBED_CHARS

    @property
    def budget_message(self) -> str | None:
        """Why fewer chunks than the settings make were embedded, or None."""
        return budget_message(len(self.chunks), self.n_made, self.chars_made, len(self.cut_docs),
                              self.max_chunks, self.max_chars)


def embed_chunks(embedder, docs: tuple[Document, ...], cfg: ChunkConfig, batch_size: int = 32,
                 max_chunks: int = MAX_CHUNKS, max_chars: int = MAX_EMBED_CHARS) -> EmbeddedChunks:
    """Chunk `docs` with `cfg`, keep the chunks within the budget, embed them and time the embedding.

    Chunking is cheap (character spans); embedding is what costs, so the budget is applied between the two.
    """
    budgeted = within_budget(chunk_documents(docs, cfg), max_chunks, max_chars)
    texts = [c.text for c in budgeted.chunks]
    counts = [len(ids) for ids in embedder.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]] if texts else []
    start = time.perf_counter()
    vectors = embed_texts(embedder, texts, batch_size)
    seconds = time.perf_counter() - start
    return EmbeddedChunks(budgeted.chunks, vectors, tuple(counts), int(embedder.max_seq_length), seconds,
                          budgeted.n_made, budgeted.chars_made, budgeted.cut_docs, max_chunks, max_chars)


# ---- indexing and search ---------------------------------------------------------------------
def build_index(vectors: np.ndarray, kind: str = "flat", *, hnsw_m: int = 16, ef_construction: int = 40,
                ef_search: int = 16, nlist: int | None = None, nprobe: int = 4, pq_m: int = 24, pq_bits: int = 8,
                seed: int = 0):
    """A faiss inner-product index over unit vectors (N, C), so scores are cosine similarities.

    kind: "flat"  exact search, every vector compared (IndexFlatIP);
          "hnsw"  proximity graph with `hnsw_m` links per node, searched with a candidate list of `ef_search`;
          "ivf"   vectors clustered into `nlist` lists (default ~sqrt(N)), `nprobe` nearest lists searched;
          "pq"    every vector compressed to `pq_m` codes of `pq_bits` bits (product quantization), all compared;
          "ivfpq" IVF whose vectors are compressed the same way.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, ip)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    elif kind == "pq":
        index = faiss.IndexPQ(dim, pq_m, pq_bits, ip)
        index.pq.cp.seed = seed
        index.pq.cp.min_points_per_centroid = 1  # few vectors here: train anyway, without faiss's warning
        index.train(vectors)
    elif kind in ("ivf", "ivfpq"):
        nlist = nlist or max(1, int(round(np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, ip)
        else:
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, pq_bits, ip)
            index.pq.cp.seed = seed
            index.pq.cp.min_points_per_centroid = 1
        index.cp.seed = seed
        index.cp.min_points_per_centroid = 1
        index.train(vectors)
        index.nprobe = min(nprobe, nlist)
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose from {INDEX_KINDS + ('pq',)}")
    index.add(vectors)
    return index


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product: queries (Q, C) -> (scores (Q, k) float32, ids (Q, k) int64, -1 where none)."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(int(k), index.ntotal))
    return index.search(queries, k)


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int,
                 batch_bytes: int = 8 * 2**20) -> tuple[np.ndarray, np.ndarray]:
    """The same top-k by brute force in numpy: scores = queries @ vectorsᵀ, then the k largest of each row.

    vectors (N, C), queries (Q, C) -> (scores (Q, k) float32, ids (Q, k) int64), best first, ties to the
    lower id (a stable sort). Queries go in batches of B rows, so the (B, N) scores and their sort order
    stay under `batch_bytes`: every chunk as a query never builds the N x N matrix.
    """
    queries = np.atleast_2d(queries).astype(np.float32, copy=False)
    n = vectors.shape[0]
    k = max(1, min(int(k), n))
    rows = max(1, batch_bytes // (16 * max(1, n)))  # B: 4 bytes a score, 4 its negation, 8 its rank
    top_scores = np.zeros((len(queries), min(k, n)), dtype=np.float32)
    top_ids = np.zeros((len(queries), min(k, n)), dtype=np.int64)
    for start in range(0, len(queries) if n else 0, rows):
        scores = queries[start:start + rows] @ vectors.T  # (B, N)
        ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (B, k)
        top_ids[start:start + rows] = ids
        top_scores[start:start + rows] = np.take_along_axis(scores, ids, axis=1)
    return top_scores, top_ids


def recall_at_k(found_ids: np.ndarray, true_ids: np.ndarray) -> float:
    """Fraction of the true top-k neighbours (exact search) that the index also returned, (Q, k) each."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found_ids, true_ids))
    return hits / max(1, true_ids.size)


def recall_with_ties(found_scores: np.ndarray, found_ids: np.ndarray, true_scores: np.ndarray,
                     tol: float = 1e-5) -> float:
    """Recall@k where a returned neighbour counts when its score reaches the k-th exact score (within tol).

    Duplicate chunks (a document uploaded twice) have equal scores, and which twin an index returns is
    arbitrary; by ids alone exact search would then score below 1. Only for indexes that return exact
    scores (flat, HNSW over full vectors); (Q, k) arrays each.
    """
    kth = true_scores[:, -1:]  # (Q, 1): the k-th best exact score of each query
    hits = ((found_scores >= kth - tol) & (found_ids >= 0)).sum(axis=1)  # (Q,)
    return float(np.minimum(hits, true_scores.shape[1]).sum() / max(1, true_scores.size))


def index_bytes(index) -> int:
    """The index's size when serialized: vectors, graph links, codebooks."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)


# ---- retrieval -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    rank: int  # 1 = best
    chunk_id: int  # row in EmbeddedChunks.vectors
    score: float  # cosine similarity
    chunk: Chunk


@dataclass(frozen=True)
class Retrieval:
    question: str
    query: np.ndarray  # (C,) unit vector of the question
    scores: np.ndarray  # (N,) exact cosine similarity of the question with every chunk
    hits: tuple[Hit, ...]  # the top k returned by the index
    kind: str
    recall: float  # recall@k of this index vs exact search (ties counted), every chunk and the question as queries
    build_seconds: float
    search_ms: float  # one query
    index_bytes: int


def retrieve(embedder, embedded: EmbeddedChunks, question: str, k: int = 4, kind: str = "flat", **index_kw) -> Retrieval:
    """Embed the question, index the chunk vectors, return the top-k hits and the measurements."""
    vectors = embedded.vectors  # (N, C)
    query = embed_texts(embedder, [question])[0]  # (C,)
    start = time.perf_counter()
    index = build_index(vectors, kind, **index_kw)
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores, ids = search(index, query[None, :], k)  # (1, k) each
    search_ms = 1000 * (time.perf_counter() - start)
    hits = tuple(Hit(r + 1, int(i), float(s), embedded.chunks[int(i)])
                 for r, (s, i) in enumerate(zip(scores[0], ids[0])) if i >= 0)
    queries = np.vstack([query[None, :], vectors])  # (1 + N, C)
    found_scores, found_ids = search(index, queries, k)  # (1 + N, k) each
    recall = recall_with_ties(found_scores, found_ids, exact_search(vectors, queries, k)[0])
    return Retrieval(question, query, vectors @ query, hits, kind, recall, build_seconds, search_ms, index_bytes(index))


def ranked_documents(retrieval: Retrieval) -> list[str]:
    """Source documents in order of their best hit: [best doc, second doc, ...]."""
    return list(dict.fromkeys(h.chunk.doc for h in retrieval.hits))


# ---- the prompt ------------------------------------------------------------------------------
def order_hits(hits: tuple[Hit, ...], order: str = "best first") -> list[Hit]:
    """Hits in prompt order. 'best at the edges' puts ranks 1, 3, 5, ... first and ..., 4, 2 last,
    because models use the start and end of a long context best (Liu et al. 2023, Lost in the Middle).

    ranks [1, 2, 3, 4, 5] -> 'best at the edges' -> [1, 3, 5, 4, 2]
    """
    hits = sorted(hits, key=lambda h: h.rank)
    if order == "best at the edges":
        return hits[0::2] + hits[1::2][::-1]
    return hits


def build_prompt(question: str, hits: tuple[Hit, ...], order: str = "best first", system: str = SYSTEM_PROMPT) -> str:
    """The prompt a generator would get: system instruction, numbered context with sources, question."""
    context = "\n\n".join(f"[{n}] (source: {h.chunk.doc}, characters {h.chunk.start}-{h.chunk.end})\n{h.chunk.text.strip()}"
                          for n, h in enumerate(order_hits(hits, order), start=1))
    return f"### System\n{system}\n\n### Context\n{context}\n\n### Question\n{question.strip()}\n\n### Answer\n"


# ---- views and measurements ------------------------------------------------------------------
def pca_2d(vectors: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto the top two principal components of `vectors` (N, C).

    Returns (coords (N + M, 2) for vectors then extra (M, C) rows, explained variance ratio (2,)).
    """
    mean = vectors.mean(axis=0, keepdims=True)  # (1, C)
    _, s, vt = np.linalg.svd(vectors - mean, full_matrices=False)  # vt: (min(N, C), C)
    components = vt[:2]  # (2, C)
    rows = vectors if extra is None else np.vstack([vectors, np.atleast_2d(extra)])
    ratio = (s[:2] ** 2) / max(float((s ** 2).sum()), 1e-12)
    return (rows - mean) @ components.T, ratio  # (N + M, 2), (2,)


@dataclass(frozen=True)
class SweepRow:
    size: int
    overlap: int
    n_chunks: int  # chunks embedded
    left_out: int  # chunks the settings make beyond the chunk budget (0 unless the budget cut them)
    mean_chars: float
    truncated: int  # chunks longer than the embedder's limit
    embed_seconds: float
    index_bytes: int
    hit_at_1: float  # labelled questions whose answering document is the top hit
    hit_at_k: float  # ... is among the top-k hits


def evaluate_questions(embedder, embedded: EmbeddedChunks, questions, k: int) -> tuple[float, float]:
    """(hit@1, hit@k) of exact search on labelled (question, document) pairs."""
    queries = embed_texts(embedder, [q for q, _ in questions])  # (Q, C)
    _, ids = exact_search(embedded.vectors, queries, k)  # (Q, k)
    docs = [[embedded.chunks[i].doc for i in row] for row in ids]
    at1 = np.mean([row[0] == want for row, (_, want) in zip(docs, questions)])
    atk = np.mean([want in row for row, (_, want) in zip(docs, questions)])
    return float(at1), float(atk)


def sweep_row(embedder, docs, size: int, overlap_fraction: float, strategy: str, questions, k: int) -> SweepRow:
    """Re-chunk and re-embed the documents at one size, the overlap the same fraction of it (below half,
    within the chunk budget like any request); measure cost and retrieval quality."""
    cfg, _ = clamp_config(ChunkConfig(int(size), int(size * overlap_fraction), strategy))
    embedded = embed_chunks(embedder, docs, cfg)
    at1, atk = evaluate_questions(embedder, embedded, questions, k)
    return SweepRow(cfg.size, cfg.overlap, len(embedded.chunks), embedded.n_made - len(embedded.chunks),
                    float(np.mean([len(c.text) for c in embedded.chunks])),
                    sum(t > embedded.max_tokens for t in embedded.token_counts), embedded.embed_seconds,
                    index_bytes(build_index(embedded.vectors, "flat")), at1, atk)


def sweep_chunk_sizes(embedder, docs, sizes, overlap_fraction: float, strategy: str, questions, k: int) -> list[SweepRow]:
    """`sweep_row` at each size: one re-embedding per size, each within the chunk budget."""
    return [sweep_row(embedder, docs, size, overlap_fraction, strategy, questions, k) for size in sizes]


@dataclass(frozen=True)
class IndexBenchRow:
    kind: str
    build_seconds: float
    query_ms: float  # mean per query, queries searched as one batch
    bytes: int
    recall: float  # recall@k against exact search


def clustered_vectors(n: int, dim: int = 384, clusters: int = 64, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """Synthetic unit vectors (n, dim) around `clusters` random centres: like embeddings, topics form clumps."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)  # (K, dim)
    points = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)  # (n, dim)


def benchmark_indexes(n: int = 10_000, n_queries: int = 200, k: int = 10, seed: int = 0,
                      kinds=INDEX_KINDS, **index_kw) -> list[IndexBenchRow]:
    """Build each index kind on the same synthetic vectors; measure build time, query time, size, recall@k."""
    data = clustered_vectors(n + n_queries, seed=seed)
    vectors, queries = data[:n], data[n:]  # (n, C), (Q, C)
    truth = exact_search(vectors, queries, k)[1]
    rows = []
    for kind in kinds:
        start = time.perf_counter()
        index = build_index(vectors, kind, seed=seed, **index_kw)
        build = time.perf_counter() - start
        start = time.perf_counter()
        _, ids = search(index, queries, k)
        query_ms = 1000 * (time.perf_counter() - start) / len(queries)
        rows.append(IndexBenchRow(kind, build, query_ms, index_bytes(index), recall_at_k(ids, truth)))
    return rows


if __name__ == "__main__":
    from core.models import load_sentence_embedder
    from core.rag.chunking import load_documents, load_questions

    embedder = load_sentence_embedder()
    docs = load_documents()
    embedded = embed_chunks(embedder, docs, ChunkConfig())
    print(f"{len(embedded.chunks)} chunks embedded in {embedded.embed_seconds:.2f} s -> {embedded.vectors.shape}")
    result = retrieve(embedder, embedded, "What does the KV cache store?", k=3)
    for h in result.hits:
        print(f"[{h.rank}] {h.score:.3f} {h.chunk.doc}: {h.chunk.text[:70].strip()!r}")
    print(f"hit@1, hit@3 on the labelled questions: {evaluate_questions(embedder, embedded, load_questions(), 3)}")
    for row in benchmark_indexes(n=10_000, n_queries=100):
        print(row)
