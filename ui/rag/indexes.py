"""RAG · Vector indexes: faiss Flat, IVF, HNSW, PQ and IVF-PQ on the real MiniLM embeddings of the bundled
chunks, recall against exact search, latency and memory, each knob swept on its button; and the same index
types on 10,000-20,000 synthetic vectors, where the differences in speed show."""
from dataclasses import asdict

import pandas as pd
import streamlit as st

import ui
from core.charts import rag as rag_charts
from core.charts import rag_depth as charts
from core.rag import chunking, indexes
from core.rag import retrieval as rag
from core.state import Param, Rule
from ui.rag import embedded, labelled, question_vectors

SIZES = (100, 200, 300, 400)  # chunk sizes of this experiment; the overlap is 20 % of the size
BENCH_SIZES = (10_000, 20_000)
PARAMS = [
    Param("ix_size", 200, 100, 400, step=100),
    Param("ix_k", 10, 1, 20, step=1),
    Param("ix_nlist", 16, 1, 64, step=1),
    Param("ix_nprobe", 2, 1, 64, step=1),
    Param("ix_m", 8, 2, 64, step=1),
    Param("ix_ef", 8, 1, 128, step=1),
    Param("ix_pq", 48, choices=indexes.PQ_SIZES),
]


def _nprobe_within_nlist(values: dict) -> dict:
    """nprobe ≤ nlist: {'ix_nlist': 4, 'ix_nprobe': 9} -> {'ix_nlist': 4, 'ix_nprobe': 4}."""
    if "ix_nlist" in values and "ix_nprobe" in values:
        return {**values, "ix_nprobe": min(int(values["ix_nprobe"]), int(values["ix_nlist"]))}
    return values


RULES: tuple[Rule, ...] = (_nprobe_within_nlist,)


# Rows of numbers: a few kB an entry.
@ui.cached_compute(max_entries=128, max_size="4MB")
def _compare(_vectors, _queries, key: tuple, k: int, cfg: indexes.IndexConfig) -> list[indexes.IndexRow]:
    return indexes.compare(_vectors, _queries, k, cfg)


@ui.cached_compute(max_entries=32, max_size="4MB")
def _sweep(_vectors, _queries, key: tuple, k: int, cfg: indexes.IndexConfig) -> list[indexes.SweepPoint]:
    return indexes.sweep(_vectors, _queries, k, cfg)


@ui.cached_compute(max_entries=4, max_size="1MB")
def _index_bench(n: int, k: int) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in rag.benchmark_indexes(n=n, n_queries=200, k=k)])


def _vectors(size: int):
    """(chunk vectors (N, C), queries (Q + N, C): the labelled questions then every chunk, N) at this size."""
    import numpy as np

    docs = chunking.load_documents()
    with ui.heavy("Embedding the bundled chunks"):
        chunks = embedded(docs, chunking.documents_hash(docs), size, size // 5, "fixed")
        questions = question_vectors(tuple(q for q, _ in labelled()))
    return chunks.vectors, np.vstack([questions, chunks.vectors]), len(questions)


def _bind() -> None:
    ui.bind_params(PARAMS, rules=RULES)
    current = {p.key: st.session_state[p.key] for p in PARAMS if p.key in st.session_state}
    for key, value in _nprobe_within_nlist(current).items():  # a moved nlist can break the rule too
        if current.get(key) != value:
            st.session_state[key] = value


def compare() -> tuple:
    """Knobs, then all index kinds built on the same real vectors and measured."""
    _bind()
    c1, c2, c3 = st.columns(3)
    size = c1.select_slider("Chunk size (characters; overlap 20 %)", SIZES, key="ix_size")
    k = c2.slider("k (neighbours compared with exact search)", 1, 20, key="ix_k")
    pq_m = c3.select_slider("PQ sub-vectors m (code bytes at 8 bits)", indexes.PQ_SIZES, key="ix_pq")
    c4, c5, c6, c7 = st.columns(4)
    nlist = c4.slider("IVF lists (nlist)", 1, 64, key="ix_nlist")
    nprobe = c5.slider("IVF lists searched (nprobe)", 1, 64, key="ix_nprobe")
    hnsw_m = c6.slider("HNSW links per node (M)", 2, 64, key="ix_m")
    ef = c7.slider("HNSW efSearch", 1, 128, key="ix_ef")
    ui.sync_params(PARAMS)
    vectors, queries, n_questions = _vectors(size)
    n = len(vectors)
    cfg = indexes.clamp_config(indexes.IndexConfig(nlist, nprobe, hnsw_m, ef, pq_m), n)
    key = (size, n, len(queries))
    with ui.heavy("Building five faiss indexes and searching"):
        rows = _compare(vectors, queries, key, k, cfg)
    table = pd.DataFrame([{"index": indexes.LABELS[r.kind], "settings": r.settings, "recall": r.recall,
                           "query_us": r.query_us, "build_ms": r.build_ms, "KiB": r.bytes / 1024,
                           "bytes per vector": r.code_bytes} for r in rows])
    ui.chart(charts.index_compare_chart, table, width="stretch")
    st.dataframe(table.style.format({"recall": "{:.3f}", "query_us": "{:.1f}", "build_ms": "{:.1f}", "KiB": "{:,.0f}"}),
                 hide_index=True, width="stretch")
    bits = indexes.pq_bits_for(n)
    st.caption(
        f"Measured on this server when these settings were first asked for: {n} chunk vectors (the bundled documents "
        f"at {size} characters), {len(queries)} queries ({n_questions} labelled questions and every chunk), "
        f"recall@{min(k, n)} against brute-force numpy, µs per query with the queries searched one at a time, "
        "memory as the serialized index. One run each: on a shared CPU the times move by tens of percent; recall "
        "and bytes do not."
        + (f" With only {n} vectors PQ uses {bits}-bit codes ({2 ** bits} centroids per sub-vector): k-means cannot "
           f"place 256 centroids on fewer points." if bits < 8 else ""))
    _read_the_table(rows, n, cfg.hnsw_m)
    return vectors, queries, key, k, cfg


def _read_the_table(rows: list[indexes.IndexRow], n: int, hnsw_m: int) -> None:
    by = {r.kind: r for r in rows}
    flat, pq = by["flat"], by["pq"]
    at_scale = indexes.bytes_at_scale(1_000_000, hnsw_m=hnsw_m, pq_bytes=pq.code_bytes)
    st.markdown(
        f"**Reading it.** Flat is exact (recall {flat.recall:.0%}), and with {n} vectors it is {n} dot products of 384 "
        "numbers, microseconds of work: the times in the table are mostly the fixed cost of a call and the load of "
        "this shared server, so their differences here say little (recall and bytes are exact). The approximate "
        "indexes can only lose here: IVF misses neighbours in the lists it "
        f"skips, HNSW's greedy walk stops early with a small efSearch, and PQ's codes ({pq.code_bytes} bytes instead "
        f"of {flat.code_bytes}) blur the scores. "
        + ("PQ's index is not even smaller yet: " if pq.bytes >= flat.bytes else
           f"PQ's index is {pq.bytes / flat.bytes:.0%} of flat's, not 1/{flat.code_bytes // pq.code_bytes}: ")
        + f"its codebooks are a fixed {max(pq.bytes - n * pq.code_bytes, 0) / 1024:,.0f} KiB. Compression pays off at "
        f"scale: a million vectors take "
        f"{at_scale['flat'] / 1e9:.2f} GB flat, {at_scale['hnsw'] / 1e9:.2f} GB as HNSW (vectors plus links), and "
        f"{at_scale['pq'] / 1e6:.0f} MB as PQ codes (arithmetic, per-vector costs only).")


def sweep(vectors, queries, key: tuple, k: int, cfg: indexes.IndexConfig) -> None:
    """Recall against efSearch, nprobe and PQ code size: measured on the button, kept with its settings."""
    settings = (key, k, cfg)
    if st.button("Sweep efSearch, nprobe and the PQ code size (a few seconds)", key="ix_sweep"):
        with ui.heavy("Sweeping the index knobs"):
            st.session_state["ix_sweep_result"] = {"settings": settings,
                                                   "points": _sweep(vectors, queries, key, k, cfg)}
    result = st.session_state.get("ix_sweep_result")
    if not result:
        return
    points = pd.DataFrame([asdict(p) for p in result["points"]])
    ui.chart(charts.index_sweep_chart, points, width="stretch")
    st.caption("Each point is measured: recall@k against exact search over the same queries. efSearch and nprobe "
               "are query-time knobs (one graph, one clustering, searched with each value); each PQ code size "
               "trains a new codebook. HNSW is built with the M above, IVF with the nlist above.")
    if result["settings"] != settings:
        st.info("This sweep was measured with other settings: click the button to sweep the current ones.")


def synthetic_bench() -> None:
    """Four faiss index kinds on synthetic vectors: measured only when the button is clicked, then kept."""
    st.markdown(
        "A few hundred chunks make flat search unbeatable. On 10,000 or 20,000 synthetic 384-d unit vectors "
        "(random clusters, like topics) the speed differences appear: **Flat** compares everything (exact), **HNSW** "
        "walks a graph (M=16, efSearch=16), **IVF** searches the 4 nearest of about √N clusters, **IVF-PQ** also "
        "compresses each vector to 24 bytes (product quantization), so its scores are approximate.")
    b1, b2 = st.columns([1, 3])
    n = b1.selectbox("Vectors", BENCH_SIZES, key="rag_bench_n", format_func="{:,}".format)
    if b2.button("Build the four indexes and measure (several seconds)", key="rag_bench"):
        with ui.heavy("Building faiss indexes"):
            st.session_state["rag_bench_result"] = {"n": n, "table": _index_bench(n, 10)}
    result = st.session_state.get("rag_bench_result")
    if result:
        bench = result["table"].assign(megabytes=lambda d: d["bytes"] / 1e6)
        ui.chart(rag_charts.index_bench_chart, bench, width="stretch")
        st.dataframe(bench.drop(columns="bytes"), hide_index=True)
        st.caption(f"{result['n']:,} vectors; recall@10 against brute force over 200 queries; query time is the "
                   "batch's wall time divided by 200; one run each, on this server's CPU. PQ's low recall is why "
                   "real systems re-rank its shortlist with the full vectors.")
        if result["n"] != n:
            st.info(f"Measured on {result['n']:,} vectors: click the button to measure {n:,}.")
    ui.papers(
        ("The Faiss library (Douze et al. 2024)", "https://arxiv.org/abs/2401.08281"),
        ("HNSW (Malkov & Yashunin 2016)", "https://arxiv.org/abs/1603.09320"),
        ("Product quantization for nearest neighbor search (Jégou, Douze & Schmid 2011)",
         "https://doi.org/10.1109/TPAMI.2010.57"),
    )
    ui.code_behind(rag.build_index, indexes.compare, indexes.sweep)
