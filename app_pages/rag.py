"""RAG & long context: a real retrieval pipeline on bundled documents, then deeper, one section at a time:
sparse, dense and hybrid retrieval scored on labelled questions, faiss indexes on real embeddings, a grounded
answer with citations, and what long contexts cost and how models stretch to them. Sections live in ui/rag/."""
import streamlit as st

import ui
from core.state import Param
from ui.rag import grounded, indexes, long_context, pipeline, scored

# Headers are written here, not in ui/rag/, because glossary entries and quiz questions name them and
# tests/test_quizzes.py reads a page's headers from its page file.


def pipeline_section() -> None:
    run = pipeline.retrieve()
    st.header("The math: cosine similarity is an inner product")
    pipeline.math(run)
    st.header("Trade-offs of chunk size and overlap")
    pipeline.tradeoffs(run)


def scored_section() -> None:
    st.header("Sparse, dense and hybrid retrieval, scored")
    evaluation, chunks = scored.scores()
    st.subheader("Question by question")
    scored.per_question(evaluation, chunks)
    st.subheader("The math: BM25, reciprocal rank fusion, MRR")
    scored.math()
    st.header("Reranking: a second, slower look")
    scored.reranking()


def indexes_section() -> None:
    st.header("faiss indexes on real MiniLM embeddings")
    measured = indexes.compare()
    st.subheader("Each knob against recall")
    indexes.sweep(*measured)
    st.header("Index types at scale")
    indexes.synthetic_bench()


def grounded_section() -> None:
    st.header("A grounded answer with citations")
    question, hits, extractive = grounded.render() or (None, (), None)
    if question is not None:
        st.subheader("The prompt, with numbered sources")
        grounded.prompt(question, hits)
        st.subheader("An extractive answer, computed offline")
        grounded.extractive(extractive, hits)
    st.subheader("And a generated answer?")
    grounded.generative(question, hits)


def long_context_section() -> None:
    st.header("Long context: more is not always better")
    long_context.intro()
    st.header("Attention cost as the context grows")
    long_context.cost()
    st.header("Stretching RoPE past the trained length")
    long_context.rope()
    st.header("Sliding-window and sparse attention")
    long_context.mask_view()
    st.header("A needle in a haystack")
    long_context.needle()


st.title(":material/travel_explore: RAG & long context")
st.markdown(
    "A language model only knows its training data. **Retrieval-augmented generation** (Lewis et al. 2020) "
    "looks up relevant passages at question time and pastes them into the prompt, with numbers the answer can "
    "cite. The first section runs a real pipeline on a small bundled set of explainers about LLMs: **chunk** them, "
    "**embed** every chunk with all-MiniLM-L6-v2, **index** the vectors with faiss, **retrieve** the top k for "
    "your question, and **assemble** the prompt a generator would receive. The others go deeper: keyword, "
    "embedding and hybrid retrieval scored on labelled questions, faiss index types on real embeddings, a grounded "
    "answer with citations, and what long contexts cost.")

SECTIONS = {
    "Pipeline": pipeline_section,
    "Retrieval scored": scored_section,
    "Vector indexes": indexes_section,
    "Grounded answer": grounded_section,
    "Long context": long_context_section,
}
PARAMS = [Param("r_section", "Pipeline", choices=tuple(SECTIONS))]

ui.bind_params(PARAMS)
section = st.segmented_control("Section", list(SECTIONS), key="r_section", required=True)
ui.sync_params(PARAMS)
# A link may carry any section's values; the shown section cleans its own, this cleans the others' (as the
# widgets would read them), so the URL never passes on a value no widget can hold.
MODULES = {"Pipeline": pipeline, "Retrieval scored": scored, "Vector indexes": indexes, "Grounded answer": grounded,
           "Long context": long_context}
shown = section or "Pipeline"
for param in (p for name, module in MODULES.items() if name != shown for p in module.PARAMS):
    raw = st.query_params.get(param.key)
    if raw is not None and raw != param.dump(param.parse(raw)):
        st.query_params[param.key] = param.dump(param.parse(raw))
SECTIONS[shown]()

ui.quiz("RAG & long context")
