"""RAG · Retrieval scored: BM25, dense (MiniLM) and hybrid (reciprocal rank fusion) retrieval ranked on the
labelled questions; recall@k and MRR in one table, question by question, and the hybrid's weight swept."""
import pandas as pd
import streamlit as st

import ui
from core.charts import rag_depth as charts
from core.rag import bm25, chunking, evaluation, fusion
from core.rag import retrieval as rag
from core.state import Param
from ui.rag import bundled_chunks, chunk_caption, labelled, question_vectors

PARAMS = [
    Param("sc_k", 5, 1, 10, step=1),
    Param("sc_w", 0.5, 0.0, 1.0, step=0.1),
    Param("sc_c", 60, 1, 200, step=1),
    Param("sc_k1", 1.5, 0.0, 3.0, step=0.1),
    Param("sc_b", 0.75, 0.0, 1.0, step=0.05),
    Param("sc_q", 0, 0, 999, step=1),
]


# Two (Q, N) score matrices (at most ~100 x 800 float32, 0.6 MB) and per-question ranks.
@ui.cached_compute(max_entries=32, max_size="32MB")
def _evaluation(_embedded: rag.EmbeddedChunks, _question_vectors, docs_hash: str, size: int, overlap: int,
                strategy: str, questions_key: tuple, k1: float, b: float, w: float, c: int) -> evaluation.Evaluation:
    return evaluation.evaluate([ch.text for ch in _embedded.chunks], [ch.doc for ch in _embedded.chunks],
                               _embedded.vectors, labelled(), _question_vectors, k1, b, w, c)


def scores() -> tuple[evaluation.Evaluation, rag.EmbeddedChunks]:
    """Knobs, the table of recall@k and MRR per method, the recall curve and the weight sweep."""
    ui.bind_params(PARAMS)
    c1, c2, c3, c4, c5 = st.columns(5)
    k = c1.slider("k for recall@k", 1, 10, key="sc_k")
    w = c2.slider("Hybrid: dense weight w", 0.0, 1.0, step=0.1, key="sc_w",
                  help="RRF adds w / (c + dense rank) and (1 − w) / (c + BM25 rank).")
    c = c3.slider("RRF constant c", 1, 200, key="sc_c", help="60 in Cormack et al. 2009.")
    k1 = c4.slider("BM25 k1 (saturation)", 0.0, 3.0, step=0.1, key="sc_k1")
    b = c5.slider("BM25 b (length norm.)", 0.0, 1.0, step=0.05, key="sc_b")
    chunks, cfg = bundled_chunks()
    questions = tuple(q for q, _ in labelled())
    with ui.heavy("Ranking every chunk for every labelled question"):
        vectors = question_vectors(questions)
        ev = _evaluation(chunks, vectors, chunking.documents_hash(chunking.load_documents()), cfg.size, cfg.overlap,
                         cfg.strategy, questions, k1, b, w, c)
    table = pd.DataFrame(ev.table(k))
    st.dataframe(table.style.format({col: "{:.3f}" for col in table.columns if col not in ("method", "not found")}),
                 hide_index=True, width="stretch")
    best = table.loc[table["MRR"].idxmax(), "method"]
    st.caption(f"{len(questions)} questions written for LLM Lab (assets/docs/questions.tsv), each labelled with the one "
               f"bundled document that answers it; a method's rank for a question is the rank of its first chunk "
               f"from that document among all {len(chunks.chunks)} chunks. Best MRR here: **{best}**. "
               + chunk_caption(cfg, len(chunks.chunks)))
    left, right = st.columns(2)
    ui.chart(charts.recall_curve_chart, pd.DataFrame(ev.recall_curve(10)), width="stretch", on=left)
    sweep = pd.DataFrame(evaluation.weight_sweep(ev, k)).melt(id_vars="dense weight", var_name="metric")
    ui.chart(charts.weight_sweep_chart, sweep, w, width="stretch", on=right)
    st.caption("Both charts are computed from the same rankings, no new embedding: changing the weight only "
               "re-fuses two rankings already at hand, which is why hybrid search costs almost nothing extra.")
    return ev, chunks


def per_question(ev: evaluation.Evaluation, chunks: rag.EmbeddedChunks) -> None:
    """Every question's rank under each method, and one question's top chunks side by side."""
    ranks = pd.DataFrame({"question": ev.questions, "answered by": ev.relevant,
                          **{m: ev.first_ranks[i] for i, m in enumerate(evaluation.METHODS)}})
    disagree = ranks[ranks[list(evaluation.METHODS)].nunique(axis=1) > 1]
    only = st.toggle(f"Only the {len(disagree)} questions where the methods disagree", value=True, key="sc_disagree")
    st.dataframe(disagree if only else ranks, hide_index=True, width="stretch")
    st.caption("Each cell is the rank of the first chunk from the answering document (1 = first; 0 = never). "
               + _contrast(ev))
    n = len(ev.questions)
    st.session_state["sc_q"] = min(st.session_state.get("sc_q", 0), n - 1)
    i = st.selectbox("Look at one question", range(n), key="sc_q", format_func=lambda j: ev.questions[j])
    ui.sync_params(PARAMS)
    _one_question(ev, chunks, i)


def _contrast(ev: evaluation.Evaluation) -> str:
    """The question where BM25 beats dense search by the most ranks, and the reverse, in words."""
    def rank(r):  # 0 = never found: worse than any rank
        return r if r > 0 else len(ev.chunk_docs) + 1

    sparse, dense = ev.first_ranks[0], ev.first_ranks[1]
    gap = [rank(d) - rank(s) for s, d in zip(sparse, dense)]
    best_sparse, best_dense = max(range(len(gap)), key=gap.__getitem__), min(range(len(gap)), key=gap.__getitem__)
    words = []
    if gap[best_sparse] > 0:
        words.append(f"BM25 beats dense search most on *{ev.questions[best_sparse]}* (rank {sparse[best_sparse]} "
                     f"against {dense[best_sparse]}): shared rare words.")
    if gap[best_dense] < 0:
        words.append(f"Dense search beats BM25 most on *{ev.questions[best_dense]}* (rank {dense[best_dense]} "
                     f"against {sparse[best_dense]}): a paraphrase with few words in common.")
    return " ".join(words)


def _one_question(ev: evaluation.Evaluation, chunks: rag.EmbeddedChunks, q: int) -> None:
    index = bm25.build([c.text for c in chunks.chunks])
    orders = {"BM25": fusion.ranking(ev.sparse[q]), "dense (MiniLM)": fusion.ranking(ev.dense[q]),
              "hybrid (RRF)": fusion.hybrid_order(ev.sparse[q], ev.dense[q], ev.dense_weight, ev.rrf_c)}
    cols = st.columns(3)
    for col, (method, order) in zip(cols, orders.items()):
        col.markdown(f"**{method}**")
        col.dataframe(pd.DataFrame([{
            "rank": r + 1, "source": chunks.chunks[i].doc,
            "right": "✓" if chunks.chunks[i].doc == ev.relevant[q] else "",
            "BM25 words": ", ".join(bm25.matched_words(index, ev.questions[q], chunks.chunks[i].text)),
        } for r, i in enumerate(order[:5])]), hide_index=True, width="stretch")
    st.caption(f"Answered by **{ev.relevant[q]}**. *BM25 words* are the question's words found in the chunk "
               "(after lower-casing and dropping stopwords such as *the* and *what*).")


def math() -> None:
    st.latex(r"\mathrm{BM25}(q, d) = \sum_{w \in q} \mathrm{IDF}(w)\,"
             r"\frac{f(w,d)\,(k_1+1)}{f(w,d) + k_1\left(1 - b + b\,\frac{|d|}{\mathrm{avgdl}}\right)},\qquad"
             r"\mathrm{IDF}(w) = \ln\!\left(1 + \frac{N - n(w) + 0.5}{n(w) + 0.5}\right)")
    st.latex(r"\mathrm{RRF}(d) = \frac{1-w}{c + \mathrm{rank}_{\mathrm{BM25}}(d)} + \frac{w}{c + \mathrm{rank}_{\mathrm{dense}}(d)}"
             r"\qquad \mathrm{MRR} = \frac{1}{Q}\sum_{q=1}^{Q} \frac{1}{\mathrm{rank}_q},\quad"
             r"\mathrm{recall@}k = \frac{1}{Q}\sum_{q=1}^{Q} [\mathrm{rank}_q \le k]")
    st.markdown(
        "**BM25** (Robertson and Zaragoza 2009) counts the question's words in a chunk: a rare word (large IDF) "
        "weighs more, the tenth occurrence adds little (k1), and long chunks are discounted (b). **Dense** search "
        "compares MiniLM embeddings, so it matches meaning without shared words but can blur a rare term into its "
        "neighbours. Their scores live on different scales, so **reciprocal rank fusion** (Cormack, Clarke and "
        "Büttcher 2009) adds ranks, not scores: a chunk near the top of either list rises. Here "
        "*recall@k* asks whether the answering document is among the top k chunks, and *MRR* (mean reciprocal rank) "
        "rewards putting it first. A different recall, that of an approximate index against exact search, is on "
        "the *Vector indexes* section.")
    ui.code_behind(bm25.scores, fusion.rrf_scores, evaluation.first_relevant_rank, evaluation.mrr)


def reranking() -> None:
    st.markdown(
        "Everything above is a **bi-encoder** or a word count: question and chunk are scored separately, so every "
        "chunk's vector is computed once, ahead of time, and a search is one matrix product. A **cross-encoder** reads "
        "the question and one chunk *together*, as one input to a BERT-style model whose attention links every "
        "question word to every chunk word, and outputs a relevance score. It is more accurate but needs one forward "
        "pass per (question, chunk) pair at query time, so it cannot search a collection: it **re-ranks** the top "
        "20-100 candidates of a fast first stage (Nogueira and Cho 2019 fine-tuned BERT this way on MS MARCO "
        "passage ranking and took first place). Sentence-BERT's paper puts the gap in numbers: finding the most "
        "similar pair among 10,000 sentences takes about 65 hours with BERT as a cross-encoder and about 5 seconds "
        "with embeddings (Reimers and Gurevych 2019). ColBERT (Khattab and Zaharia 2020) sits in between: it keeps "
        "one vector per token and scores a chunk by the sum over question tokens of their best match (late "
        "interaction).\n\n"
        "No cross-encoder is bundled here, so the page does not re-rank: the hybrid above is the last stage. A "
        "reranker would take its top 20 and reorder them; what it could gain is bounded by *recall@20* in the table "
        "above (a reranker cannot find what the first stage missed).")
    ui.papers(
        ("Okapi BM25: The Probabilistic Relevance Framework (Robertson & Zaragoza 2009)",
         "https://doi.org/10.1561/1500000019"),
        ("Reciprocal Rank Fusion (Cormack, Clarke & Büttcher 2009)", "https://doi.org/10.1145/1571941.1572114"),
        ("Passage Re-ranking with BERT (Nogueira & Cho 2019)", "https://arxiv.org/abs/1901.04085"),
        ("Sentence-BERT (Reimers & Gurevych 2019)", "https://arxiv.org/abs/1908.10084"),
        ("ColBERT (Khattab & Zaharia 2020)", "https://arxiv.org/abs/2004.12832"),
    )
