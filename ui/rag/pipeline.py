"""RAG · Pipeline: chunk the documents (and your upload), embed every chunk with MiniLM, index the vectors
with faiss, retrieve the top k for your question, assemble the prompt; the math of cosine search, and the
chunk-size trade-offs measured on the labelled questions."""
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core import models
from core.charts import rag as charts
from core.rag import chunking
from core.rag import retrieval as rag
from core.state import Param
from ui.rag import CHUNK_PARAMS, CHUNK_RULES, OVERLAP_STEP, SIZE_STEP, STRATEGY_LABELS, embedded

DEFAULT_QUESTION = "What does the KV cache store?"
MAX_QUESTION_CHARS = 500
INDEX_LABELS = {"flat": "Flat (exact)", "hnsw": "HNSW (approximate graph)"}
SWEEP_SIZES = (200, 400, 800, 1200)
SWEEP_MAX_SECONDS = 60  # hard cap of the measured sweep; each size is one request within the chunk budget
PARAMS = [
    Param("q", DEFAULT_QUESTION, max_len=MAX_QUESTION_CHARS),
    *CHUNK_PARAMS,
    Param("k", 4, 1, 10, step=1),
    Param("index", "flat", choices=tuple(INDEX_LABELS)),
    Param("hnsw_m", 16, 2, 64, step=1),
    Param("ef", 16, 1, 128, step=1),
    Param("order", rag.ORDERS[0], choices=rag.ORDERS),
]
RULES = CHUNK_RULES


# An entry holds one score per chunk and the question's vector: a few kB.
@ui.cached_compute(max_entries=256, max_size="16MB")
def _retrieval(_embedded: rag.EmbeddedChunks, docs_hash: str, size: int, overlap: int, strategy: str,
               question: str, k: int, kind: str, hnsw_m: int, ef: int) -> rag.Retrieval:
    return rag.retrieve(ui.sentence_embedder(), _embedded, question, k, kind, hnsw_m=hnsw_m, ef_search=ef)


# One chunk size of the sweep on the bundled documents (the labelled questions are about them): one row.
@ui.cached_compute(max_entries=64, max_size="1MB")
def _sweep_row(size: int, overlap_fraction: float, strategy: str, k: int) -> rag.SweepRow:
    return rag.sweep_row(ui.sentence_embedder(), chunking.load_documents(), size, overlap_fraction, strategy,
                         chunking.load_questions(), k)


@dataclass(frozen=True)
class Run:
    """What the Pipeline section computed, for the parts drawn after its headers."""
    embedded: rag.EmbeddedChunks
    cfg: chunking.ChunkConfig
    k: int
    question: str | None
    result: rag.Retrieval | None


def _documents() -> tuple[chunking.Document, ...]:
    """The learner's upload, when it is valid text, in front of the bundled documents (so a chunk budget
    cut falls on the bundled ones)."""
    docs = chunking.load_documents()
    # No type=[...]: Streamlit would raise on a crafted client's other extension; core refuses it with a message.
    upload = st.file_uploader(f"Add your own document (.txt or .md, at most {chunking.MAX_UPLOAD_BYTES // 1000} kB; "
                              f"the first {chunking.MAX_UPLOAD_CHARS:,} characters are used)", key="rag_upload")
    if upload is None:
        return docs
    st.text(f"Your file: {chunking.clean_file_name(upload.name)}")  # plain text: a name is never markdown
    try:
        doc, note = chunking.document_from_upload(upload.name, upload.getvalue())
    except ValueError as err:
        st.error(f"{err} The bundled documents are used alone.")
        return docs
    if note:
        st.warning(note)
    st.success(f"Added it ({len(doc.text):,} characters) to the {len(docs)} bundled documents; its chunks are "
               "cited as `upload:` and the file name.")
    return (doc,) + docs


def _link_note(raw: str | None) -> None:
    """Say so when a link's overlap (`raw`, read before the rules) broke 'overlap below half the chunk size'."""
    if raw is None:
        return
    overlap, size = Param("overlap", 0, 0, 10**6).parse(raw), st.session_state["size"]
    if 2 * overlap >= size:
        st.warning(f"This link asks for an overlap of {overlap:,} characters with chunks of {size}. The overlap "
                   f"must stay below half the chunk size (a chunk must add more new text than it repeats), so it "
                   f"is {st.session_state['overlap']}, the largest the slider allows.")


def _prompt_tokens(prompt: str, embedder) -> str:
    """Token counts of the prompt under the tokenizers at hand, each named."""
    counts = [f"**{rag.count_tokens(embedder.tokenizer, prompt):,}** WordPiece tokens (MiniLM's tokenizer)"]
    try:
        models.model_path("tiny-lm")
        counts.append(f"**{rag.count_tokens(ui.causal_lm('tiny-lm')[1], prompt):,}** byte-level BPE tokens "
                      "(tiny-lm's tokenizer, trained on the KJV Bible, so technical words split into many pieces)")
    except FileNotFoundError:
        pass
    return " · ".join(counts)


def retrieve() -> Run:
    """Widgets, chunking, embedding and retrieval; the top chunks, the prompt and the score views."""
    link_overlap = None if "overlap" in st.session_state else st.query_params.get("overlap")  # a link's, on arrival
    ui.bind_params(PARAMS, rules=RULES)
    raw_question = st.text_input("Your question", key="q")
    c1, c2, c3 = st.columns(3)
    size = c1.slider("Chunk size (characters)", 100, 1500, step=SIZE_STEP, key="size")
    overlap = c2.slider("Overlap (characters, below half the size)", 0, 750, step=OVERLAP_STEP, key="overlap")
    strategy = c3.selectbox("Chunking strategy", chunking.STRATEGIES, key="strategy", format_func=STRATEGY_LABELS.get)
    c4, c5, c6, c7 = st.columns(4)
    k = c4.slider("Chunks to retrieve (k)", 1, 10, key="k")
    kind = c5.selectbox("faiss index", tuple(INDEX_LABELS), key="index", format_func=INDEX_LABELS.get)
    hnsw_m = c6.slider("HNSW links per node (M)", 2, 64, key="hnsw_m", disabled=kind != "hnsw")
    ef = c7.slider("HNSW efSearch", 1, 128, key="ef", disabled=kind != "hnsw")
    # An over-long question is refused below; keep it out of the URL rather than share 100 kB links.
    ui.sync_params([p for p in PARAMS if p.key != "q" or len(raw_question) <= MAX_QUESTION_CHARS])
    st.caption("Sizes are in **characters** (English averages about 4 characters per word piece). Fixed windows cut "
               "through words; the sentence and paragraph strategies pack whole units up to the size and repeat the "
               "last units of a chunk, up to the overlap, at the start of the next.")
    _link_note(link_overlap)

    docs = _documents()
    cfg, clamp_message = chunking.clamp_config(chunking.ChunkConfig(size, overlap, strategy))
    if clamp_message:
        st.warning(clamp_message)
    question = ui.text_input_checked(raw_question, MAX_QUESTION_CHARS, "question")
    if question is not None and not question.isascii():
        st.info("Your question has non-ASCII characters. all-MiniLM-L6-v2 was trained on English text and its "
                "uncased WordPiece vocabulary drops accents and splits other scripts into single characters, so "
                "expect weak matches against these English documents.")

    embedder = ui.sentence_embedder()
    docs_hash = chunking.documents_hash(docs)
    with ui.heavy("Embedding the chunks and searching"):
        chunks = embedded(docs, docs_hash, cfg.size, cfg.overlap, cfg.strategy)
        result = None if question is None else _retrieval(chunks, docs_hash, cfg.size, cfg.overlap, cfg.strategy,
                                                          question, k, kind, *((hnsw_m, ef) if kind == "hnsw" else (0, 0)))
    _overview(chunks, docs)
    if result is not None:
        _results(chunks, result, question, k, kind, embedder)
    return Run(chunks, cfg, k, question, result)


def _overview(chunks: rag.EmbeddedChunks, docs) -> None:
    n_chunks = len(chunks.chunks)
    if chunks.budget_message:
        st.warning(chunks.budget_message)
        st.text("Left out, in part or whole: " + ", ".join(chunks.cut_docs))  # plain text: may name an upload
    truncated = sum(t > chunks.max_tokens for t in chunks.token_counts)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Documents → chunks", f"{len(docs)} → {n_chunks}" + (f" of {chunks.n_made:,}" if chunks.n_made > n_chunks else ""))
    m2.metric("Time to embed all chunks", f"{chunks.embed_seconds:.2f} s")
    m3.metric("Vectors (float32)", f"{n_chunks} × {chunks.vectors.shape[1]}")
    m4.metric("Longest chunk (word pieces)", max(chunks.token_counts, default=0))
    if truncated:
        st.warning(f"{truncated} chunk(s) are longer than the embedder's limit of {chunks.max_tokens} word pieces: "
                   "only their beginning is embedded, so the rest cannot be found. Use smaller chunks.")


def _results(chunks: rag.EmbeddedChunks, result: rag.Retrieval, question: str, k: int, kind: str, embedder) -> None:
    n_chunks = len(chunks.chunks)
    st.header(f"Top {len(result.hits)} chunks for your question")
    r1, r2, r3, r4 = st.columns(4)
    r1.metric("Index memory", f"{result.index_bytes / 1024:,.0f} KiB")
    r2.metric("Index build", f"{result.build_seconds * 1000:.2f} ms")
    r3.metric("Search (1 query)", f"{result.search_ms:.3f} ms")
    r4.metric(f"Recall@{k} vs exact", f"{result.recall:.3f}")
    st.caption(f"Measured on this server when these settings were first run ({INDEX_LABELS[kind]}); recall uses "
               f"every chunk and your question as queries ({n_chunks + 1} searches) against brute-force numpy, "
               "scored a batch of queries at a time (never an N × N matrix); chunks with equal scores count alike.")
    if kind == "hnsw" and result.recall == 1.0:
        st.caption("With only a few hundred vectors, HNSW's graph is nearly complete and finds everything: the "
                   "*Vector indexes* section sets the knobs where it starts to miss.")
    st.dataframe(pd.DataFrame([{"rank": h.rank, "cosine": round(h.score, 4), "source": h.chunk.doc,
                                "characters": f"{h.chunk.start}-{h.chunk.end}", "chunk": h.chunk.text.strip()}
                               for h in result.hits]), hide_index=True, width="stretch")
    order = st.radio("Order of the chunks in the prompt", rag.ORDERS, key="order", horizontal=True)
    prompt = rag.build_prompt(question, result.hits, order)
    st.subheader("The prompt a generator would get")
    st.markdown(f"{_prompt_tokens(prompt, embedder)}, for {len(result.hits)} chunks and your question.")
    st.code(prompt, language=None, wrap_lines=True)

    tab_scores, tab_map = st.tabs(["Scores of all chunks", "2-D map of the embeddings (PCA)"])
    exact_rank = np.argsort(-result.scores, kind="stable")  # (N,) chunk ids, best first
    retrieved = {h.chunk_id for h in result.hits}
    with tab_scores:
        scores_df = pd.DataFrame([{"chunk": int(i), "rank": r + 1, "doc": chunks.chunks[i].doc,
                                   "score": float(result.scores[i]), "retrieved": int(i) in retrieved,
                                   "text": chunks.chunks[i].text[:160]} for r, i in enumerate(exact_rank)])
        ui.chart(charts.scores_chart, scores_df, k, width="stretch")
        st.caption("Every bar is measured: the cosine similarity of your question with one chunk. A sharp drop "
                   "after the first few bars means a clear answer; a flat profile means the documents do not "
                   "really cover the question.")
    with tab_map:
        coords, variance = rag.pca_2d(chunks.vectors, result.query)
        map_df = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1],
                               "doc": [c.doc for c in chunks.chunks] + ["(question)"],
                               "kind": ["chunk"] * n_chunks + ["question"],
                               "retrieved": [i in retrieved for i in range(n_chunks)] + [False],
                               "text": [c.text[:160] for c in chunks.chunks] + [question[:160]]})
        ui.chart(charts.projection_chart, map_df, tuple(variance), width="stretch")
        st.caption(f"PCA keeps {variance.sum():.0%} of the variance of the {chunks.vectors.shape[1]}-dimensional "
                   "vectors: nearness here is only a hint; the *Scores of all chunks* tab shows the real similarities.")


def math(run: Run) -> None:
    st.latex(r"\cos(q, x) = \frac{q \cdot x}{\lVert q\rVert\,\lVert x\rVert}"
             r"\quad\text{and with } \lVert q\rVert = \lVert x\rVert = 1:\quad \cos(q, x) = q \cdot x = \sum_{c=1}^{384} q_c x_c")
    st.markdown(
        "The sentence embedder **mean-pools** its token vectors and **normalises** the result to length 1 "
        "(Sentence-BERT). So a faiss `IndexFlatIP` (inner product) over the chunk matrix $X \\in \\mathbb{R}^{N\\times 384}$ "
        "computes $Xq$, all N cosine similarities in one matrix-vector product, and returns the k largest: exact search, "
        "recall 1. HNSW instead walks a layered proximity graph from a coarse entry point toward the query, visiting "
        "only a candidate list of size efSearch: far fewer comparisons, at the price of sometimes missing a neighbour.")
    if run.result is not None:
        top = run.result.hits[0]
        st.markdown(f"Check on your question: $\\lVert q\\rVert$ = {np.linalg.norm(run.result.query):.6f}, and for the "
                    f"top chunk $q \\cdot x$ = {float(run.result.query @ run.embedded.vectors[top.chunk_id]):.6f} vs the "
                    f"index's score {top.score:.6f}.")


def tradeoffs(run: Run) -> None:
    chunks = run.embedded
    st.markdown(
        f"These settings give **{len(chunks.chunks)} chunks** ({chunks.vectors.nbytes / 1024:,.0f} KiB of vectors for "
        f"a flat index), embedded in **{chunks.embed_seconds:.2f} s** on this server. Smaller chunks match a question "
        "more precisely but carry less context and mean more vectors to embed and store; larger chunks dilute the "
        f"embedding, and past {chunks.max_tokens} word pieces are truncated. Overlap keeps a sentence cut at a "
        "boundary whole in one chunk, at the cost of embedding the overlapping text twice. Chunk count is the bill: "
        f"this server embeds at most **{chunking.MAX_CHUNKS:,} chunks** ({chunking.MAX_EMBED_CHARS:,} characters) per "
        "request, about 10 s of its 2 CPU cores.")
    _sweep(run.cfg, run.k)
    ui.papers(
        ("Retrieval-Augmented Generation (Lewis et al. 2020)", "https://arxiv.org/abs/2005.11401"),
        ("Sentence-BERT (Reimers & Gurevych 2019)", "https://arxiv.org/abs/1908.10084"),
        ("MiniLM (Wang et al. 2020)", "https://arxiv.org/abs/2002.10957"),
        ("The Faiss library (Douze et al. 2024)", "https://arxiv.org/abs/2401.08281"),
        ("HNSW (Malkov & Yashunin 2016)", "https://arxiv.org/abs/1603.09320"),
    )
    ui.code_behind(chunking.fixed_spans, chunking.pack_spans, rag.embed_texts, rag.build_index, rag.search,
                   rag.retrieve, rag.build_prompt)


def _sweep(cfg: chunking.ChunkConfig, k: int) -> None:
    """The chunk-size sweep: measured only when its button is clicked, one size at a time (each a short
    request under the lock), kept in session_state with the settings it ran with."""
    fraction = round(cfg.overlap / cfg.size, 2)
    settings = {"overlap_fraction": fraction, "strategy": cfg.strategy, "k": k}
    if st.button(f"Measure chunk sizes {SWEEP_SIZES[0]}-{SWEEP_SIZES[-1]} (re-embeds the bundled documents "
                 f"{len(SWEEP_SIZES)} times, up to a minute)", key="rag_sweep"):
        rows = []
        st.session_state["rag_sweep_result"] = {"settings": settings, "rows": rows}  # filled as sizes finish
        # Clicking Stop (or any widget) starts a new run of the page, which ends this one between two sizes.
        st.button("Stop", key="rag_sweep_stop", help="Ends the measurement after the current chunk size; the "
                  "sizes measured so far are kept.")
        bar, start = st.progress(0.0, text="Measuring…"), time.perf_counter()
        for i, size in enumerate(SWEEP_SIZES):
            if time.perf_counter() - start > SWEEP_MAX_SECONDS:
                break
            with ui.heavy(f"Re-embedding at chunk size {size}"):
                rows.append(asdict(_sweep_row(size, fraction, cfg.strategy, k)))
            bar.progress((i + 1) / len(SWEEP_SIZES), text=f"Chunk size {size} measured")
        bar.empty()
    result = st.session_state.get("rag_sweep_result")
    if not result or not result["rows"]:
        return
    ran = result["settings"]
    sweep = pd.DataFrame(result["rows"])
    labels = {"n_chunks": "chunks", "embed_seconds": "seconds to embed", "index_bytes": "flat index bytes",
              "truncated": "chunks truncated", "hit_at_1": "right document first",
              "hit_at_k": f"right document in top {ran['k']}"}
    long = sweep.melt(id_vars="size", value_vars=list(labels), var_name="quantity").replace({"quantity": labels})
    ui.chart(charts.sweep_chart, long)
    st.dataframe(sweep, hide_index=True)
    if len(sweep) < len(SWEEP_SIZES):
        st.warning(f"Stopped after {len(sweep)} of {len(SWEEP_SIZES)} chunk sizes; click *Measure* again to finish "
                   "(the sizes already measured come back at once).")
    st.caption(f"Measured with the overlap at {ran['overlap_fraction']:.0%} of the size, strategy "
               f"'{ran['strategy']}' and k = {ran['k']}, on the {len(chunking.load_documents())} bundled documents "
               f"(an upload is left out: the {len(chunking.load_questions())} labelled questions in "
               "assets/docs/questions.tsv are each answered by one of them). Times are wall-clock, one run each.")
    if ran != settings:
        st.info("These numbers are for the settings named just above, not the current ones: click *Measure* to "
                "measure the current settings.")
