"""faiss index types on real MiniLM embeddings: recall against exact search, query latency, memory.

Four ideas, each a faiss index over unit vectors with inner product (= cosine) scores (Douze et al.
2024, https://arxiv.org/abs/2401.08281):

- Flat:  compare the query with all N vectors. Exact: recall 1 by definition. N·C·4 bytes.
- IVF:   k-means the vectors into `nlist` lists (an inverted file); a query scans only the `nprobe`
         lists whose centroids are nearest. nprobe = nlist scans everything and is exact again.
- HNSW:  a layered proximity graph (Malkov and Yashunin 2016, https://arxiv.org/abs/1603.09320)
         with M links per node, searched greedily with a candidate list of efSearch. Stores the full
         vectors plus about 2·M links of 4 bytes each per node.
- PQ:    product quantization (Jégou, Douze and Schmid 2011): cut each C-dim vector into m sub-vectors,
         replace each by the id of its nearest of 2^bits centroids. A vector costs m·bits/8 bytes
         instead of C·4 (384 floats, 1,536 bytes); scores become approximate. The m·2^bits·(C/m)
         floats of codebooks are a fixed cost, large next to a few hundred vectors.
- IVF-PQ: both: scan nprobe lists of compressed vectors (the usual choice at a billion vectors).

recall@k here = |approximate top k ∩ exact top k| / k, averaged over the queries; exact top k from
brute-force numpy (retrieval.exact_search). Latency: the queries searched one at a time, wall time
divided by their number, on whatever CPU runs it. Memory: the serialized index (faiss.serialize_index).

Bounded: at most MAX_VECTORS vectors (the chunk budget) and MAX_QUERIES queries, so a comparison or a
sweep is a second or two. Shapes: N vectors, Q queries, C = 384 dims.
"""
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from core.rag.chunking import MAX_CHUNKS
from core.rag.retrieval import build_index, exact_search, index_bytes, recall_at_k, search

KINDS = ("flat", "ivf", "hnsw", "pq", "ivfpq")
LABELS = {"flat": "Flat (exact)", "ivf": "IVF", "hnsw": "HNSW", "pq": "PQ", "ivfpq": "IVF-PQ"}
PQ_SIZES = (4, 8, 16, 24, 32, 48, 96)  # sub-vectors m, each must divide C = 384
MAX_VECTORS = MAX_CHUNKS
MAX_QUERIES = 1000


@dataclass(frozen=True)
class IndexConfig:
    nlist: int = 16  # IVF lists
    nprobe: int = 2  # IVF lists scanned per query
    hnsw_m: int = 8  # HNSW links per node
    ef_search: int = 8  # HNSW candidate list at query time
    pq_m: int = 48  # PQ sub-vectors = code bytes per vector at 8 bits
    seed: int = 0


def pq_bits_for(n: int, bits: int = 8) -> int:
    """Bits per PQ code: 8 (256 centroids per sub-vector) unless fewer than 256 vectors train them.

    k-means cannot place more centroids than points: pq_bits_for(1000) -> 8, pq_bits_for(100) -> 6.
    """
    return int(max(1, min(bits, np.floor(np.log2(max(n, 2))))))


def pq_code_bytes(m: int, bits: int) -> int:
    """Bytes of one PQ code, m codes of `bits` bits rounded up to whole bytes: pq_code_bytes(48, 7) -> 42."""
    return (m * bits + 7) // 8


def clamp_config(cfg: IndexConfig, n: int) -> IndexConfig:
    """Knobs valid for n vectors: nlist ≤ n (k-means needs a point per list), nprobe ≤ nlist, m | 384."""
    nlist = int(max(1, min(cfg.nlist, n)))
    pq_m = cfg.pq_m if cfg.pq_m in PQ_SIZES else 48
    return IndexConfig(nlist, int(max(1, min(cfg.nprobe, nlist))), int(max(2, cfg.hnsw_m)),
                       int(max(1, cfg.ef_search)), pq_m, cfg.seed)


@contextmanager
def one_thread():
    """Run faiss on one OpenMP thread, then restore the setting. With a few hundred vectors each call is
    microseconds of work, and on a shared CPU OpenMP's thread synchronisation costs more than that (k-means
    for PQ measured 5-10x slower on 2 busy threads than on 1)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _build(vectors: np.ndarray, kind: str, cfg: IndexConfig):
    bits = pq_bits_for(len(vectors))
    return build_index(vectors, kind, hnsw_m=cfg.hnsw_m, ef_search=cfg.ef_search, nlist=cfg.nlist,
                       nprobe=cfg.nprobe, pq_m=cfg.pq_m, pq_bits=bits, seed=cfg.seed)


def per_query_us(index, queries: np.ndarray, k: int) -> float:
    """Mean microseconds per query, the queries searched one at a time (as a server answers users)."""
    start = time.perf_counter()
    for q in queries:
        index.search(q[None, :], k)
    return 1e6 * (time.perf_counter() - start) / max(1, len(queries))


@dataclass(frozen=True)
class IndexRow:
    kind: str
    settings: str  # the knobs that apply, in words
    recall: float  # recall@k against exact search
    query_us: float  # mean per query, one at a time
    build_ms: float
    bytes: int  # serialized index
    code_bytes: int  # bytes stored per vector (full vector, or PQ code), graph links and lists excluded


def settings_text(kind: str, cfg: IndexConfig, n: int) -> str:
    bits = pq_bits_for(n)
    pq = f"m={cfg.pq_m} × {bits} bits = {pq_code_bytes(cfg.pq_m, bits)} B/vector"
    return {"flat": "all vectors compared", "ivf": f"nlist={cfg.nlist}, nprobe={cfg.nprobe}",
            "hnsw": f"M={cfg.hnsw_m}, efSearch={cfg.ef_search}", "pq": pq,
            "ivfpq": f"nlist={cfg.nlist}, nprobe={cfg.nprobe}, {pq}"}[kind]


def _check(vectors: np.ndarray, queries: np.ndarray) -> None:
    if len(vectors) > MAX_VECTORS or len(queries) > MAX_QUERIES:
        raise ValueError(f"at most {MAX_VECTORS} vectors and {MAX_QUERIES} queries, got {len(vectors)} and "
                         f"{len(queries)}")


def compare(vectors: np.ndarray, queries: np.ndarray, k: int = 10, cfg: IndexConfig = IndexConfig(),
            kinds=KINDS) -> list[IndexRow]:
    """Build every index kind on the same vectors (N, C); search the queries (Q, C); measure each."""
    _check(vectors, queries)
    cfg = clamp_config(cfg, len(vectors))
    k = max(1, min(int(k), len(vectors)))
    truth = exact_search(vectors, queries, k)[1]  # (Q, k)
    dim, bits = vectors.shape[1], pq_bits_for(len(vectors))
    with one_thread():
        return [_measure(vectors, queries, truth, k, kind, cfg, dim, bits) for kind in kinds]


def _measure(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, kind: str, cfg: IndexConfig,
             dim: int, bits: int) -> IndexRow:
    """Build one index kind, time it, search the queries, compare with the exact top k (truth (Q, k))."""
    start = time.perf_counter()
    index = _build(vectors, kind, cfg)
    build_ms = 1000 * (time.perf_counter() - start)
    found = search(index, queries, k)[1]  # (Q, k)
    code = pq_code_bytes(cfg.pq_m, bits) if kind in ("pq", "ivfpq") else dim * 4
    return IndexRow(kind, settings_text(kind, cfg, len(vectors)), recall_at_k(found, truth),
                    per_query_us(index, queries, k), build_ms, index_bytes(index), code)


@dataclass(frozen=True)
class SweepPoint:
    kind: str
    knob: str  # 'efSearch', 'nprobe' or 'PQ bytes per vector'
    value: int
    recall: float
    query_us: float


def sweep(vectors: np.ndarray, queries: np.ndarray, k: int = 10, cfg: IndexConfig = IndexConfig()) -> list[SweepPoint]:
    """Recall and latency as each index's main knob grows: HNSW efSearch, IVF nprobe, PQ code size."""
    _check(vectors, queries)
    cfg = clamp_config(cfg, len(vectors))
    k = max(1, min(int(k), len(vectors)))
    truth = exact_search(vectors, queries, k)[1]
    with one_thread():
        return _sweep_points(vectors, queries, truth, k, cfg)


def _sweep_points(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int,
                  cfg: IndexConfig) -> list[SweepPoint]:
    points = []
    hnsw = _build(vectors, "hnsw", cfg)  # one graph; efSearch is a query-time knob
    for ef in (1, 2, 4, 8, 16, 32, 64, 128):
        hnsw.hnsw.efSearch = ef
        points.append(SweepPoint("hnsw", "efSearch", ef, recall_at_k(search(hnsw, queries, k)[1], truth),
                                 per_query_us(hnsw, queries, k)))
    ivf = _build(vectors, "ivf", cfg)  # one clustering; nprobe is a query-time knob
    for nprobe in sorted({1, 2, 4, 8, 16, 32, 64, cfg.nlist} & set(range(1, cfg.nlist + 1))):
        ivf.nprobe = nprobe
        points.append(SweepPoint("ivf", "nprobe", nprobe, recall_at_k(search(ivf, queries, k)[1], truth),
                                 per_query_us(ivf, queries, k)))
    bits = pq_bits_for(len(vectors))
    for m in PQ_SIZES:  # a new codebook per code size
        pq = _build(vectors, "pq", IndexConfig(cfg.nlist, cfg.nprobe, cfg.hnsw_m, cfg.ef_search, m, cfg.seed))
        points.append(SweepPoint("pq", "PQ bytes per vector", pq_code_bytes(m, bits),
                                 recall_at_k(search(pq, queries, k)[1], truth), per_query_us(pq, queries, k)))
    return points


def bytes_at_scale(n: int, dim: int = 384, hnsw_m: int = 8, pq_bytes: int = 48) -> dict[str, float]:
    """Rough bytes for n vectors, per-vector costs only: flat n·C·4; HNSW adds ~2·M links of 4 bytes
    (bottom layer) per node; PQ n·bytes; IVF-PQ adds an 8-byte id per vector. Codebooks and centroids,
    fixed costs, are left out: at a million vectors they are a rounding error."""
    flat = n * dim * 4
    return {"flat": flat, "ivf": flat + 8 * n, "hnsw": flat + 2 * hnsw_m * 4 * n, "pq": n * pq_bytes,
            "ivfpq": n * (pq_bytes + 8)}


if __name__ == "__main__":
    from core.models import load_sentence_embedder
    from core.rag.chunking import ChunkConfig, load_documents, load_questions
    from core.rag.retrieval import embed_chunks, embed_texts

    embedder = load_sentence_embedder()
    embedded = embed_chunks(embedder, load_documents(), ChunkConfig(100, 20))
    queries = np.vstack([embed_texts(embedder, [q for q, _ in load_questions()]), embedded.vectors])
    print(f"{len(embedded.chunks)} chunk vectors, {len(queries)} queries (the labelled questions and every chunk)")
    for row in compare(embedded.vectors, queries):
        print(f"{LABELS[row.kind]:13} recall@10 {row.recall:.3f}  {row.query_us:7.1f} µs/query  "
              f"{row.bytes / 1024:7.0f} KiB  ({row.settings})")
