"""The agent's search tool: Okapi BM25 over the local knowledge base (assets/kb), written from the formula.

Each knowledge-base entry is a document; a query's content words are scored against every document with
BM25's idf and saturating term frequency (k1, b). Errors and the deadline check are the tools' own
(core.agents.tools); this module imports them lazily, as tools imports this one.
"""
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KB_DIR = Path(__file__).resolve().parents[2] / "assets" / "kb"


def _check_deadline(deadline: float | None) -> None:
    from core.agents.tools import _check_deadline as check

    check(deadline)


# ---- search: BM25 over the local knowledge base ---------------------------------------------------
@dataclass(frozen=True)
class KBEntry:
    id: str  # slug of the title
    title: str
    text: str


def load_kb(kb_dir: Path = KB_DIR) -> tuple[KBEntry, ...]:
    """Read every assets/kb/*.md file: each '## Title' line starts an entry, its paragraph is the text."""
    entries = []
    for path in sorted(Path(kb_dir).glob("*.md")):
        title, lines = None, []
        for line in path.read_text(encoding="utf-8").splitlines() + ["## "]:
            if line.startswith("## "):
                if title:
                    entries.append(KBEntry(_slug(title), title, " ".join(lines).strip()))
                title, lines = line[3:].strip(), []
            elif title and line.strip():
                lines.append(line.strip())
    return tuple(entries)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


_TOKEN = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*")  # keeps "gpt-3", "1.5" and "bert-base" whole
STOPWORDS = frozenset(
    ["a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "by", "with", "from", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "what", "which", "who", "whom", "when", "where", "why", "how", "many", "much", "does", "do", "did", "has", "have", "had", "s", "about", "as", "into", "than", "then", "there", "their", "they", "them", "i", "you", "he", "she", "we", "me", "my", "your", "his", "her", "our", "us", "can", "could", "would", "should", "will", "shall", "may", "might", "not", "no", "yes"]
)


def tokenize(text: str) -> list[str]:
    """Lowercase words, no stopwords: tokenize("How many layers does GPT-3 have?") -> ['layers', 'gpt-3']."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


@dataclass(frozen=True)
class BM25Index:
    """Counts BM25 needs, for N documents: term frequencies per document, document frequencies, lengths."""
    term_freqs: tuple[dict, ...]  # (N,) of {term: count in that document}
    doc_freqs: dict  # {term: number of documents containing it}
    doc_lens: np.ndarray  # (N,) tokens per document
    avgdl: float


def build_bm25(docs: list[list[str]]) -> BM25Index:
    """Index tokenized documents: build_bm25([["a", "b"], ["b"]]).doc_freqs -> {'a': 1, 'b': 2}."""
    term_freqs = tuple(dict(Counter(doc)) for doc in docs)
    doc_freqs = Counter(term for tf in term_freqs for term in tf)
    doc_lens = np.array([len(doc) for doc in docs], dtype=np.float64)
    avgdl = float(doc_lens.mean()) if len(docs) else 0.0
    return BM25Index(term_freqs, dict(doc_freqs), doc_lens, avgdl)


def bm25_idf(n_docs: int, doc_freq: int) -> float:
    """IDF as in Lucene's BM25 (never negative): ln(1 + (N - df + 0.5) / (df + 0.5))."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def bm25_scores(index: BM25Index, query: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 score of every document for a tokenized query, shape (N,).

    score(D, Q) = sum over query terms t of IDF(t) * f(t, D) * (k1 + 1) / (f(t, D) + k1 * (1 - b + b * |D| / avgdl))
    where f(t, D) is how often t occurs in D. A query term repeated counts once per repetition.
    """
    n_docs = len(index.term_freqs)
    scores = np.zeros(n_docs)  # (N,)
    if n_docs == 0:
        return scores
    length_norm = k1 * (1.0 - b + b * index.doc_lens / index.avgdl)  # (N,)
    for term in query:
        df = index.doc_freqs.get(term, 0)
        if df == 0:
            continue
        tf = np.array([freqs.get(term, 0) for freqs in index.term_freqs], dtype=np.float64)  # (N,)
        scores += bm25_idf(n_docs, df) * tf * (k1 + 1.0) / (tf + length_norm)
    return scores


@dataclass(frozen=True)
class SearchTool:
    """The knowledge base and its BM25 index, built once (plain data, so it can be cached)."""
    entries: tuple[KBEntry, ...]
    index: BM25Index

    @classmethod
    def from_kb(cls, kb_dir: Path = KB_DIR) -> "SearchTool":
        entries = load_kb(kb_dir)
        return cls(entries, build_bm25([tokenize(e.title + " " + e.text) for e in entries]))

    def ranked(self, query: str, deadline: float | None = None) -> list[tuple[KBEntry, float]]:
        """Every entry with its BM25 score for the query, best first."""
        terms = tokenize(query)
        if not terms:
            from core.agents.tools import ToolError

            raise ToolError("search needs a query with at least one content word, e.g. search[GPT-3 layers]")
        _check_deadline(deadline)
        scores = bm25_scores(self.index, terms)
        _check_deadline(deadline)
        order = np.argsort(-scores, kind="stable")
        return [(self.entries[i], float(scores[i])) for i in order]


def format_hits(hits: list[tuple[KBEntry, float]], k: int = 3) -> str:
    """The Observation text for the top k hits: '[1] Title (BM25 7.21): text' lines."""
    hits = [(e, s) for e, s in hits[:k] if s > 0]
    if not hits:
        return "No entry in the knowledge base matches any word of the query."
    return "\n".join(f"[{i}] {e.title} (BM25 {s:.2f}): {e.text}" for i, (e, s) in enumerate(hits, 1))


