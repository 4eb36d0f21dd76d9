"""BM25: sparse (keyword) retrieval, the baseline dense retrieval has to beat.

Okapi BM25 (Robertson and Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond")
scores a chunk d for a query q by summing, over the query's words w that occur in d,

    score(q, d) = Σ_w  IDF(w) · f(w, d) · (k1 + 1) / (f(w, d) + k1 · (1 − b + b · |d| / avgdl))
    IDF(w)      = ln(1 + (N − n(w) + 0.5) / (n(w) + 0.5))          (Lucene's form: never negative)

f(w, d) is how often w occurs in d, |d| the chunk's length in words, avgdl the mean length, N the
number of chunks and n(w) how many contain w. Two knobs: k1 (term-frequency saturation: the 10th
occurrence of a word adds little) and b (length normalisation: 0 ignores length, 1 divides fully).

The index is an inverted file: for each word, the chunks that contain it and how often, so a query
touches only the postings of its own words. Plain data (dicts of numpy arrays), so it pickles into
Streamlit's cache. Shapes: N chunks, V distinct words.
"""
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
# Words too common to help ranking. BM25's IDF already weighs them down; dropping them also keeps a
# question's score from being carried by 'the' and 'of'.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "in", "into",
    "is", "it", "its", "of", "on", "or", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "to", "was", "what", "when", "where", "which", "who", "why", "will", "with",
})


def tokenize(text: str) -> list[str]:
    """Lowercased words without stopwords: tokenize('What does the KV cache store?') -> ['kv', 'cache', 'store']."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass(frozen=True)
class BM25Index:
    postings: dict  # word -> (chunk ids (n,) int64, counts f(w, d) (n,) float64)
    doc_lens: np.ndarray  # (N,) words per chunk
    avgdl: float

    @property
    def n_docs(self) -> int:
        return len(self.doc_lens)


def build(texts: list[str]) -> BM25Index:
    """The inverted file of N texts: build(['kv cache', 'cache']).postings['cache'] -> ([0, 1], [1., 1.])."""
    ids: dict[str, list[int]] = {}
    counts: dict[str, list[float]] = {}
    lens = []
    for i, text in enumerate(texts):
        words = Counter(tokenize(text))
        lens.append(sum(words.values()))
        for w, f in words.items():
            ids.setdefault(w, []).append(i)
            counts.setdefault(w, []).append(float(f))
    postings = {w: (np.array(ids[w], dtype=np.int64), np.array(counts[w])) for w in ids}
    doc_lens = np.array(lens, dtype=np.float64)  # (N,)
    return BM25Index(postings, doc_lens, float(doc_lens.mean()) if len(doc_lens) else 0.0)


def idf(n_docs: int, doc_freq: int) -> float:
    """ln(1 + (N − n + 0.5) / (n + 0.5)): idf(10, 1) -> 1.94 (a rare word), idf(10, 10) -> 0.05 (in every chunk)."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def scores(index: BM25Index, query: str, k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """BM25 score of every chunk for the query text, (N,); 0 for chunks sharing no word with it.

    A word repeated in the query counts once per repetition, as in the formula's sum over query words.
    """
    out = np.zeros(index.n_docs)  # (N,)
    if index.n_docs == 0:
        return out
    length_norm = k1 * (1.0 - b + b * index.doc_lens / max(index.avgdl, 1e-12))  # (N,)
    for w in tokenize(query):
        if w not in index.postings:
            continue
        ids, f = index.postings[w]  # (n,), (n,)
        out[ids] += idf(index.n_docs, len(ids)) * f * (k1 + 1.0) / (f + length_norm[ids])
    return out


def score_matrix(index: BM25Index, queries: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """scores() for Q queries: (Q, N)."""
    return np.stack([scores(index, q, k1, b) for q in queries]) if queries else np.zeros((0, index.n_docs))


def matched_words(index: BM25Index, query: str, text: str) -> list[str]:
    """The query's indexed words that occur in `text`, in query order: why BM25 ranked it."""
    present = set(tokenize(text))
    return list(dict.fromkeys(w for w in tokenize(query) if w in present and w in index.postings))


if __name__ == "__main__":
    from core.rag.chunking import ChunkConfig, chunk_documents, load_documents

    chunks = chunk_documents(load_documents(), ChunkConfig(400, 80))
    index = build([c.text for c in chunks])
    print(f"{index.n_docs} chunks, {len(index.postings)} distinct words, {index.avgdl:.1f} words per chunk")
    question = "What does the KV cache store?"
    s = scores(index, question)
    for i in np.argsort(-s, kind="stable")[:3]:
        print(f"{s[i]:6.2f} {chunks[i].doc}: {matched_words(index, question, chunks[i].text)}")
