"""RAG · Grounded answer: retrieve with the hybrid (or BM25, or dense), assemble the prompt with numbered
sources, extract the best-matching sentence as an answer with its citation, highlighted in its chunk; and
why no bundled model writes a generated answer."""
import pandas as pd
import streamlit as st

import ui
from core import models
from core.agents import endpoint
from core.charts import rag_depth as charts
from core.rag import bm25, chunking, grounding
from core.rag import retrieval as rag
from core.state import Param
from ui.rag import bundled_chunks, chunk_caption

DEFAULT_QUESTION = "How much memory does the KV cache need per token?"
MAX_QUESTION_CHARS = 500
PARAMS = [
    Param("g_q", DEFAULT_QUESTION, max_len=MAX_QUESTION_CHARS),
    Param("g_method", grounding.RETRIEVERS[0], choices=grounding.RETRIEVERS),
    Param("g_k", 3, 1, 8, step=1),
]


# The hits and the scored candidate sentences of one question: a few kB.
@ui.cached_compute(max_entries=128, max_size="8MB")
def _answer(_chunks: rag.EmbeddedChunks, docs_hash: str, size: int, overlap: int, strategy: str, question: str,
            method: str, k: int) -> tuple[tuple[rag.Hit, ...], grounding.Extractive]:
    embedder = ui.sentence_embedder()
    index = bm25.build([c.text for c in _chunks.chunks])
    query = rag.embed_texts(embedder, [question])[0]
    hits = grounding.retrieve(_chunks.chunks, _chunks.vectors, index, query, question, k, method)
    return hits, grounding.extract_answer(embedder, question, hits)


def render() -> tuple[str, tuple[rag.Hit, ...], grounding.Extractive] | None:
    """Question, retriever and k; the hits and the extractive answer (None after a message if no question)."""
    ui.bind_params(PARAMS)
    raw = st.text_input("Your question", key="g_q")
    c1, c2 = st.columns(2)
    method = c1.radio("Retriever", grounding.RETRIEVERS, key="g_method", horizontal=True)
    k = c2.slider("Chunks in the prompt (k)", 1, 8, key="g_k")
    ui.sync_params([p for p in PARAMS if p.key != "g_q" or len(raw) <= MAX_QUESTION_CHARS])
    question = ui.text_input_checked(raw, MAX_QUESTION_CHARS, "question")
    if question is None:
        return None
    chunks, cfg = bundled_chunks()
    docs_hash = chunking.documents_hash(chunking.load_documents())
    with ui.heavy("Retrieving and scoring sentences"):
        hits, extractive = _answer(chunks, docs_hash, cfg.size, cfg.overlap, cfg.strategy, question, method, k)
    st.caption(chunk_caption(cfg, len(chunks.chunks)))
    return question, hits, extractive


def prompt(question: str, hits: tuple[rag.Hit, ...]) -> None:
    st.code(rag.build_prompt(question, hits), language=None, wrap_lines=True)
    st.caption("The system line asks for citations by number; each passage carries its number, source file and "
               "character span, so a citation [n] in an answer can be checked against the exact text it points to.")


def extractive(ex: grounding.Extractive, hits: tuple[rag.Hit, ...]) -> None:
    if ex.answer is None:
        st.warning("The retrieved chunks hold no sentence long enough to quote; try larger chunks.")
        return
    st.success(grounding.cited_answer(ex))
    a = ex.answer
    st.caption(f"The sentence of the {len(hits)} retrieved chunks whose MiniLM embedding is closest to the "
               f"question's (cosine {a.score:.3f}), cited by its chunk's number. Below, chunk [{a.citation}] with the "
               "quoted span highlighted.")
    hit = hits[a.citation - 1]
    st.html(charts.highlight_html(hit.chunk.text, a.start, a.end,
                                  f"[{a.citation}] {hit.chunk.doc}, characters {hit.chunk.start}-{hit.chunk.end}:"))
    st.dataframe(pd.DataFrame([{"cosine": round(c.score, 3), "from": f"[{c.citation}]", "sentence": c.text.strip()}
                               for c in ex.candidates[:8]]), hide_index=True, width="stretch")
    st.caption("The runners-up. An extractive reader can only quote one sentence: it cannot join two facts from two "
               "chunks, and a high cosine means *on topic*, not *answers the question*: the same sentence can win "
               "for a question the documents do not answer. That is what a generator, and its faithfulness checks, "
               "add.")


def _length_in_tiny_lm_tokens(question: str | None, hits: tuple[rag.Hit, ...]) -> str:
    if question is None or not _bundled("tiny-lm"):
        return "would run to hundreds of its tokens"
    tokens = rag.count_tokens(ui.causal_lm("tiny-lm")[1], rag.build_prompt(question, hits))
    return f"is {tokens:,} of its tokens"


def _bundled(key: str) -> bool:
    try:
        models.model_path(key)
        return True
    except FileNotFoundError:
        return False


def _endpoint():
    """The model server whoever runs the app named (core.agents.endpoint), or None."""
    try:
        return endpoint.endpoint_from_env()
    except ValueError:
        return None


# The model runs on the named server, not on this machine's cores: no compute lock; bounded by its timeout.
@st.cache_data(max_entries=64, max_size="4MB", show_spinner=False)
def _generate(prompt_text: str) -> tuple[str, str]:
    """(answer, "") or ("", why it failed)."""
    try:
        return endpoint.chat(_endpoint(), prompt_text, max_tokens=300, stop=()).strip(), ""
    except endpoint.EndpointError as err:
        return "", str(err)


def show_generated(answer: str, hits: tuple[rag.Hit, ...]) -> None:
    """The generated answer, its citations checked against the passages of the prompt."""
    st.success(answer or "(the model returned an empty answer)")
    cites = grounding.check_citations(answer, len(hits))
    rows = [{"citation": f"[{n}]", "points to": f"{hits[n - 1].chunk.doc}, characters {hits[n - 1].chunk.start}-"
             f"{hits[n - 1].chunk.end}", "passage": hits[n - 1].chunk.text.strip()[:200]} for n in cites.valid]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    problems = ([f"cites passage(s) {', '.join(f'[{n}]' for n in cites.invalid)} that the prompt did not hold"]
                if cites.invalid else []) + ([f"{cites.sentences_without} sentence(s) cite nothing"]
                                              if cites.sentences_without else [])
    if problems:
        st.warning("Citation check: the answer " + "; ".join(problems) + ". Read those claims against the passages.")
    else:
        st.caption("Citation check: every sentence cites a passage that was in the prompt. Whether each passage "
                   "supports its claim is the next check, a human's or a judge model's.")


def generative(question: str | None = None, hits: tuple[rag.Hit, ...] = ()) -> None:
    """Why no bundled model writes the answer; with the prompt's length in tiny-lm's tokens when there is one."""
    available = [key for key, spec in models.SPECS.items() if spec.kind == "causal-lm" and spec.source == "bundled"
                 and _bundled(key)]
    st.markdown(
        "A generator would read the prompt above and write an answer citing [1], [2]. The causal language models "
        f"bundled here ({', '.join(available) or 'none'}) cannot: **tiny-lm** (3.15M parameters) was trained only on "
        "the King James Bible, never on questions and answers or instructions, and on 128-token windows, while this "
        f"prompt {_length_in_tiny_lm_tokens(question, hits)} (its tokenizer splits technical words into many pieces). It "
        "would continue the text in the style of scripture, not answer from the passages. So this page does not "
        "pretend: the answer above is extractive. A generated, cited answer needs an instruction-tuned model, which "
        "nothing installed here ships (the smallest usable ones have hundreds of millions of parameters, a strain on "
        "this app's 2-core budget even where they can be downloaded), and is then "
        "checked for *faithfulness*: every claim supported by the passage it cites.")
    ep = _endpoint()
    if ep is None:
        st.caption("Where a model server is at hand (llama.cpp's `llama-server`, vLLM, Ollama, LM Studio), start the "
                   "app with `LLM_LAB_ENDPOINT=http://localhost:8080/v1`: a button here then sends this exact prompt to "
                   "it and checks the answer's citations.")
    elif question and hits and st.button(f"Generate the answer with {ep.model} at {ep.host}", key="g_generate"):
        with st.spinner(f"Asking {ep.model} at {ep.host}"):
            answer, error = _generate(rag.build_prompt(question, hits))
        if error:
            st.error(f"The endpoint failed: {error}")
        else:
            show_generated(answer, hits)
    ui.papers(
        ("Retrieval-Augmented Generation (Lewis et al. 2020)", "https://arxiv.org/abs/2005.11401"),
        ("Reading Wikipedia to Answer Open-Domain Questions, DrQA (Chen et al. 2017)", "https://arxiv.org/abs/1704.00051"),
        ("Lost in the Middle (Liu et al. 2023)", "https://arxiv.org/abs/2307.03172"),
    )
    ui.code_behind(grounding.retrieve, grounding.extract_answer, rag.build_prompt)
