"""The RAG page's sections, one module each: pipeline (chunk, embed, index, retrieve, the prompt), scored
(BM25, dense and hybrid retrieval on the labelled questions), indexes (faiss on real MiniLM embeddings),
grounded (the cited prompt and an extractive answer) and long_context (cost, RoPE scaling, sparse masks,
a needle in a haystack). app_pages/rag.py picks one with its `r_section` parameter and writes the headers.

Also what the sections share: the chunk settings (URL keys size, overlap and strategy, whose widgets
live on the Pipeline section) and the cached embeddings of the bundled chunks and labelled questions.
"""
import functools

import numpy as np
import streamlit as st

import ui
from core.rag import chunking
from core.rag import retrieval as rag
from core.state import Param

SIZE_STEP, OVERLAP_STEP = 50, 10  # the chunk sliders' steps; links are snapped to them
CHUNK_PARAMS = [
    Param("size", 400, 100, 1500, step=SIZE_STEP),
    Param("overlap", 80, 0, 750, step=OVERLAP_STEP),
    Param("strategy", "fixed", choices=chunking.STRATEGIES),
]
CHUNK_RULES = (functools.partial(chunking.cap_overlap, step=OVERLAP_STEP),)  # overlap < size / 2, on the grid
STRATEGY_LABELS = {"fixed": "fixed-size windows", "sentence": "whole sentences", "paragraph": "whole paragraphs"}


# An entry holds at most MAX_CHUNKS x 384 float32 vectors (1.2 MB) and the chunks' text (0.2 MB).
@ui.cached_compute(max_entries=24, max_size="48MB")
def embedded(_docs: tuple, docs_hash: str, size: int, overlap: int, strategy: str) -> rag.EmbeddedChunks:
    return rag.embed_chunks(ui.sentence_embedder(), _docs, chunking.ChunkConfig(size, overlap, strategy))


# The labelled questions as unit vectors: (Q, 384) float32, under 200 kB.
@ui.cached_compute(max_entries=4, max_size="4MB")
def question_vectors(questions: tuple[str, ...]) -> np.ndarray:
    return rag.embed_texts(ui.sentence_embedder(), list(questions))


def chunk_config() -> chunking.ChunkConfig:
    """The chunk settings of the Pipeline section (from its widgets, or the link), overlap clamped."""
    ui.bind_params(CHUNK_PARAMS, rules=CHUNK_RULES)
    cfg = chunking.ChunkConfig(st.session_state["size"], st.session_state["overlap"], st.session_state["strategy"])
    return chunking.clamp_config(cfg)[0]


def bundled_chunks(what: str = "Embedding the bundled documents") -> tuple[rag.EmbeddedChunks, chunking.ChunkConfig]:
    """The bundled documents chunked with the Pipeline section's settings and embedded (cached), and the settings."""
    cfg = chunk_config()
    docs = chunking.load_documents()
    with ui.heavy(what):
        chunks = embedded(docs, chunking.documents_hash(docs), cfg.size, cfg.overlap, cfg.strategy)
    return chunks, cfg


def chunk_caption(cfg: chunking.ChunkConfig, n_chunks: int) -> str:
    return (f"Chunks as set on the *Pipeline* section: {cfg.size} characters, overlap {cfg.overlap}, "
            f"{STRATEGY_LABELS[cfg.strategy]}, giving {n_chunks} chunks of the {len(chunking.load_documents())} "
            "bundled documents (an upload is left out here: the labelled questions are about the bundled ones).")


def labelled() -> tuple[tuple[str, str], ...]:
    """((question, answering document), ...) from assets/docs/questions.tsv."""
    return chunking.load_questions()
