"""A needle in a haystack, for our retriever: does a fact's position in a long text change whether
retrieval finds it?

The test (Kamradt 2023, "Needle In A Haystack", a GitHub repository; Liu et al. 2023, "Lost in the
Middle", https://arxiv.org/abs/2307.03172, for the position effect in models): hide one out-of-place
sentence (the needle) at a depth between 0 % (the start) and 100 % (the end) of unrelated text (the
haystack), then ask a question only the needle answers. Liu et al. found language models reading the
whole context answer best with the relevant passage at the start or the end and worst in the middle.

A retriever does not read in order: it scores every chunk independently, so the needle's chunk gets
the same score wherever it sits, and only its neighbours change. Measured here: the rank of the
needle's chunk for BM25, dense and hybrid search at each depth. The haystack is held-out KJV verses
packed into chunks; the needle is appended to the chunk at the chosen depth, so only that one chunk
is re-embedded per depth.

Shapes: N haystack chunks, C = 384.
"""
from dataclasses import dataclass

import numpy as np

from core.rag import bm25, fusion

NEEDLE = "The secret ingredient of the lab's famous soup is smoked paprika from Valencia."
QUESTION = "What is the secret ingredient of the lab's soup?"
QUESTIONS = {  # the same question asked three ways: with the needle's words, paraphrased, with none of them
    "same words": QUESTION,
    "paraphrase": "Which spice flavours the soup the lab is known for?",
    "no shared words": "Which seasoning from Spain gives the canteen broth its taste?",
}
DEPTHS = tuple(round(d / 10, 1) for d in range(11))  # 0 %, 10 %, ..., 100 %
MAX_HAYSTACK_CHUNKS = 250  # 250 chunks of ~400 characters = 100,000 characters, the embedding budget
CHUNK_CHARS = 400


def haystack_chunks(n_chunks: int, chunk_chars: int = CHUNK_CHARS) -> list[str]:
    """n_chunks passages of whole held-out KJV verses, each up to about chunk_chars characters."""
    from core.pretraining.data import split_verses

    if not 1 <= n_chunks <= MAX_HAYSTACK_CHUNKS:
        raise ValueError(f"need 1 <= n_chunks <= {MAX_HAYSTACK_CHUNKS}, got {n_chunks}")
    chunks, current = [], ""
    for verse in split_verses()[1]:
        if current and len(current) + 1 + len(verse.text) > chunk_chars:
            chunks.append(current)
            if len(chunks) == n_chunks:
                return chunks
            current = ""
        current = f"{current} {verse.text}".strip()
    return chunks + ([current] if current else [])


def needle_position(n_chunks: int, depth: float) -> int:
    """The chunk that holds the needle at a depth in [0, 1]: needle_position(11, 0.5) -> 5."""
    return round(min(max(depth, 0.0), 1.0) * (n_chunks - 1))


@dataclass(frozen=True)
class NeedleResult:
    depths: tuple[float, ...]  # P
    positions: tuple[int, ...]  # P needle chunk per depth
    ranks: np.ndarray  # (M, P) rank of the needle's chunk, per fusion-free method and the hybrid
    n_chunks: int
    methods: tuple[str, ...]


def needle_ranks(embedder, haystack: list[str], haystack_vectors: np.ndarray, depths=DEPTHS,
                 needle: str = NEEDLE, question: str = QUESTION, dense_weight: float = 0.5) -> NeedleResult:
    """Rank of the needle's chunk among all N chunks for BM25, dense and hybrid search, at each depth.

    haystack_vectors (N, C) are the unit embeddings of `haystack`; only the needle's chunk is re-embedded.
    """
    from core.rag.evaluation import METHODS
    from core.rag.retrieval import embed_texts

    n = len(haystack)
    query = embed_texts(embedder, [question])[0]  # (C,)
    positions = [needle_position(n, d) for d in depths]
    with_needle = embed_texts(embedder, [f"{haystack[p]} {needle}" for p in positions])  # (P, C)
    ranks = np.zeros((len(METHODS), len(depths)), dtype=np.int64)
    for j, p in enumerate(positions):
        texts = haystack[:p] + [f"{haystack[p]} {needle}"] + haystack[p + 1:]
        vectors = haystack_vectors.copy()
        vectors[p] = with_needle[j]
        sparse = bm25.scores(bm25.build(texts), question)  # (N,)
        dense = vectors @ query  # (N,)
        orders = (fusion.ranking(sparse), fusion.ranking(dense), fusion.hybrid_order(sparse, dense, dense_weight))
        for m, order in enumerate(orders):
            ranks[m, j] = int(fusion.ranks_of(order)[p])
    return NeedleResult(tuple(depths), tuple(positions), ranks, n, METHODS)


if __name__ == "__main__":
    from core.models import load_sentence_embedder
    from core.rag.retrieval import embed_texts

    embedder = load_sentence_embedder()
    hay = haystack_chunks(60)
    result = needle_ranks(embedder, hay, embed_texts(embedder, hay))
    print(f"{result.n_chunks} haystack chunks; rank of the needle's chunk at depths {result.depths}:")
    for method, row in zip(result.methods, result.ranks):
        print(f"{method:16} {row.tolist()}")
