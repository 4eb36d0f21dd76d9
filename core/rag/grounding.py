"""A grounded answer: retrieve with the hybrid, cite the chunks, and extract the answer span offline.

The last step of RAG (Lewis et al. 2020, https://arxiv.org/abs/2005.11401) is a generator that reads
the numbered passages and writes an answer citing them, "... [2]". No bundled model can do that: tiny-lm
was trained on the King James Bible alone, never on instructions, and on 128-token windows, shorter
than one retrieved chunk in its tokenizer. So the answer here is **extractive**, like the readers of
open-domain question answering before generators (e.g. DrQA, Chen et al. 2017,
https://arxiv.org/abs/1704.00051): every sentence of the retrieved chunks is a candidate, scored by
the cosine similarity of its MiniLM embedding with the question's, and the best one is the answer,
cited by the number of the chunk it came from. It can only quote, never combine or rephrase, and it
answers even when no passage holds the answer, which is why its score is shown beside it.

Shapes: k retrieved chunks, S candidate sentences, C = 384.
"""
import re
from dataclasses import dataclass

import numpy as np

from core.rag import bm25, fusion
from core.rag.chunking import Chunk, unit_spans
from core.rag.retrieval import Hit, embed_texts

RETRIEVERS = ("hybrid (RRF)", "dense (MiniLM)", "BM25")
MIN_SENTENCE_CHARS = 25  # headings and list stubs are not answers


def retrieve(chunks: tuple[Chunk, ...], vectors: np.ndarray, index: bm25.BM25Index, query_vector: np.ndarray,
             question: str, k: int, method: str = "hybrid (RRF)", dense_weight: float = 0.5) -> tuple[Hit, ...]:
    """Top-k chunks by one of RETRIEVERS. Hit.score is the method's own score (RRF, cosine or BM25)."""
    sparse = bm25.scores(index, question)  # (N,)
    dense = vectors @ query_vector  # (N,)
    if method == "BM25":
        order, score = fusion.ranking(sparse), sparse
    elif method == "dense (MiniLM)":
        order, score = fusion.ranking(dense), dense
    elif method == "hybrid (RRF)":
        fused = fusion.rrf_scores([fusion.ranking(sparse), fusion.ranking(dense)], [1 - dense_weight, dense_weight])
        order, score = fusion.ranking(fused), fused
    else:
        raise ValueError(f"unknown retriever {method!r}; choose from {RETRIEVERS}")
    return tuple(Hit(r + 1, int(i), float(score[i]), chunks[int(i)]) for r, i in enumerate(order[:k]))


@dataclass(frozen=True)
class Candidate:
    citation: int  # n of [n]: the chunk's number in the prompt
    start: int  # character span inside the chunk's text
    end: int
    text: str
    score: float  # cosine similarity with the question


@dataclass(frozen=True)
class Extractive:
    answer: Candidate | None  # the best candidate, None when the chunks have no sentence long enough
    candidates: tuple[Candidate, ...]  # all S, best first


def sentence_candidates(hits: tuple[Hit, ...], min_chars: int = MIN_SENTENCE_CHARS) -> list[Candidate]:
    """The sentences of the hits' chunks, in prompt order ([1] first), with their spans; scores 0 for now."""
    out = []
    for n, hit in enumerate(hits, start=1):
        text = hit.chunk.text
        for s, e in unit_spans(text, "sentence"):
            if e - s >= min_chars:
                out.append(Candidate(n, s, e, text[s:e], 0.0))
    return out


def extract_answer(embedder, question: str, hits: tuple[Hit, ...]) -> Extractive:
    """Score every sentence of the retrieved chunks against the question; the best is the answer."""
    candidates = sentence_candidates(hits)
    if not candidates:
        return Extractive(None, ())
    vectors = embed_texts(embedder, [question] + [c.text for c in candidates])  # (1 + S, C)
    sims = vectors[1:] @ vectors[0]  # (S,)
    scored = sorted((Candidate(c.citation, c.start, c.end, c.text, float(s)) for c, s in zip(candidates, sims)),
                    key=lambda c: -c.score)
    return Extractive(scored[0], tuple(scored))


def cited_answer(ex: Extractive) -> str:
    """The answer as a generator would be asked to write it: the quoted sentence and its citation."""
    if ex.answer is None:
        return "I do not know: the retrieved passages hold no sentence to quote."
    return f"{ex.answer.text.strip()} [{ex.answer.citation}]"


_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Citations:
    """What the [n] markers of a generated answer point to: cited(n) -> its passage, or nothing (invented)."""
    valid: tuple[int, ...]  # numbers of passages the prompt held, in order of first citation
    invalid: tuple[int, ...]  # numbers that match no passage
    sentences_without: int  # sentences of the answer that cite nothing


def check_citations(answer: str, n_passages: int) -> Citations:
    """check_citations("GPT-3 has 96 layers [2]. It is big [7].", 4) -> valid (2,), invalid (7,), 0 uncited.

    A first check of a generated answer's faithfulness: every marker must name a passage in the prompt; whether
    the passage supports the claim is the next check (a human's, or a judge model's)."""
    seen: list[int] = []
    for m in _CITATION.finditer(answer):
        if int(m.group(1)) not in seen:
            seen.append(int(m.group(1)))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", answer.strip()) if len(s.strip()) > 3]
    return Citations(tuple(n for n in seen if 1 <= n <= n_passages), tuple(n for n in seen if not 1 <= n <= n_passages),
                     sum(1 for s in sentences if not _CITATION.search(s)))


if __name__ == "__main__":
    from core.models import load_sentence_embedder
    from core.rag.chunking import ChunkConfig, load_documents
    from core.rag.retrieval import build_prompt, embed_chunks

    embedder = load_sentence_embedder()
    embedded = embed_chunks(embedder, load_documents(), ChunkConfig(400, 80))
    question = "How much memory does the KV cache need per token?"
    index = bm25.build([c.text for c in embedded.chunks])
    hits = retrieve(embedded.chunks, embedded.vectors, index, embed_texts(embedder, [question])[0], question, 3)
    print(build_prompt(question, hits))
    ex = extract_answer(embedder, question, hits)
    print(f"Extractive answer (cosine {ex.answer.score:.3f}): {cited_answer(ex)}")

