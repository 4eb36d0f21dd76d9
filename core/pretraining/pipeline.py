"""A pretraining data pipeline on real text: make a noisy web-like mix from the corpus, then clean it.

Web crawls are full of text no one wants a model to learn: cookie banners, navigation and
"subscribe" lines, junk (symbol soup, one-word lines, keyboard mashing), and the same page many
times over, exactly or with a few words changed. Here the mix is generated (seeded) from the
bundled corpus, so every line and document carries its true label and each cleaning step can
be scored: how much noise it removed, and how much good text it took with it.

The mix: N_orig documents of consecutive verses, some given boilerplate and junk lines, plus
exact copies (some differing only in case or spacing), near copies (a few words replaced) and
junk-only documents. Copies come after their source, so "keep the first" keeps the original.

The steps, each of which can be switched off:
1. strip boilerplate: drop lines containing a marker phrase ("cookie", "subscribe", ...), as C4
   does (Raffel et al. 2019, https://arxiv.org/abs/1910.10683).
2. quality filter: drop lines with too few words, too many symbols, a long run of one character,
   or too few words with a letter (simplified from Gopher's rules, Rae et al. 2021,
   https://arxiv.org/abs/2112.11446); documents left with no line are dropped.
3. exact dedup: SHA-1 of the normalized text (core.pretraining.dedup).
4. near dedup: MinHash + LSH over word shingles (Broder 1997; core.pretraining.dedup).

After each step: documents, characters and tokens (tiny-lm's 4,096-token BPE) still kept.
"""
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.pretraining import dedup

MAX_ORIGINALS = 500  # original documents; with every rate at its maximum, 1,250 documents in all
MAX_RATE = 0.5
MAX_EXAMPLES = 4  # removed lines or documents shown per step
MAX_PAIRS = 3000  # near-duplicate pairs returned for charts
MAX_VERSES = 12  # per document
MAX_CHANGED = 50  # words replaced in a near copy

BOILERPLATE = (
    "We use cookies to improve your experience. By continuing you accept our cookie policy.",
    "Accept all cookies",
    "Click here to subscribe to our newsletter!",
    "Subscribe now and never miss a chapter.",
    "Share on Facebook | Share on Twitter | Email",
    "Copyright © 2024 Example Media. All rights reserved.",
    "Please enable JavaScript to view the comments.",
    "Sign in or create an account to continue reading.",
    "Advertisement",
    "Privacy Policy | Terms of Use | Contact",
)
# One marker per kind of boilerplate. "subscribe" also occurs in four KJV verses ("shall subscribe with
# his hand"): a real false positive of rules like these.
BOILERPLATE_MARKERS = ("cookie", "subscribe", "share on", "all rights reserved", "javascript", "sign in",
                       "advertisement", "privacy policy", "terms of use")
SYMBOLS = list("#$%&*@!^~<>{}[]|=+_/\\")
SHORT_JUNK = ("ok", "lol", "»", "1", "more", "|", "…", "next >>")
STRETCHED = ("so", "good", "wow", "yes", "no", "hey", "!", "?")


@dataclass(frozen=True)
class MixConfig:
    n_documents: int = 400  # original documents (<= MAX_ORIGINALS)
    min_verses: int = 3
    max_verses: int = 8
    boilerplate_rate: float = 0.5  # share of documents given 1-3 boilerplate lines
    junk_rate: float = 0.3  # share of documents given 1-2 junk lines
    junk_doc_rate: float = 0.05  # junk-only documents, per original
    exact_dup_rate: float = 0.15  # exact copies, per original
    near_dup_rate: float = 0.15  # near copies, per original
    max_changed_words: int = 10  # a near copy has 1..this many words replaced
    seed: int = 0


@dataclass(frozen=True)
class Document:
    index: int  # position in the mix
    lines: tuple[tuple[str, str], ...]  # (text, kind): kind is 'verse', 'boilerplate' or 'junk'
    origin: str  # 'original', 'exact duplicate', 'near duplicate' or 'junk'
    source: int  # index of the document copied (-1 unless a duplicate)

    @property
    def text(self) -> str:
        return "\n".join(line for line, _ in self.lines)


@dataclass(frozen=True)
class CleanConfig:
    strip_boilerplate: bool = True
    quality_filter: bool = True
    min_words: int = 3
    max_symbol_ratio: float = 0.25  # characters neither letter, digit nor space, over all characters
    max_char_run: int = 4  # longest run of one repeated character
    min_alpha_words: float = 0.8  # share of words containing a letter
    exact_dedup: bool = True
    near_dedup: bool = True
    shingle_size: int = 5  # k: words per shingle
    bands: int = 20  # b
    rows: int = 5  # r; permutations P = b · r
    threshold: float = 0.5  # a candidate pair is linked when its MinHash estimate reaches this
    seed: int = 0  # of the MinHash hash functions


@dataclass(frozen=True)
class StepCount:
    step: str
    enabled: bool
    documents: int  # kept after this step
    characters: int
    tokens: int
    unit: str  # what the step removes: 'lines' or 'documents'
    removed_noise: int  # boilerplate / junk lines, or duplicate / junk documents, removed by this step
    removed_clean: int  # verse lines, or original documents, removed by this step: false positives, except
    # that originals can be true near duplicates of each other (Numbers 7 lists one offering twelve times)
    examples: tuple[tuple[str, str], ...]  # (removed text, why), at most MAX_EXAMPLES


@dataclass(frozen=True)
class PipelineResult:
    mix: MixConfig
    clean: CleanConfig
    steps: tuple[StepCount, ...]  # 'raw' first
    filter_reasons: dict  # quality-filter rule -> lines it removed (first failing rule counts)
    pairs: tuple[dedup.NearDupPair, ...]  # planted pairs, then candidates (<= MAX_PAIRS), indexing near dedup's input
    planted_found: int  # planted near copies removed by near dedup ...
    planted_total: int  # ... out of those still present when it ran
    n_candidates: int  # pairs LSH put in a common bucket
    n_compared_all: int  # N (N - 1) / 2
    candidates_truncated: bool  # LSH stopped at dedup.MAX_CANDIDATES pairs
    s_curve: np.ndarray  # (101, 2): Jaccard s, P[candidate] = 1 - (1 - s^r)^b


# ---- the noisy mix --------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _train_verses() -> tuple[str, ...]:
    from core.pretraining.data import corpus_text

    return tuple(corpus_text("train").splitlines())


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    """Distinct lowercase words of the training split: what a near copy's replacement words come from."""
    return tuple(sorted({w for line in _train_verses() for w in line.lower().split() if w.isalpha()}))


def junk_line(rng: np.random.Generator) -> str:
    """Symbol soup ('@#$ %&* ...'), a very short line ('lol'), or stretched words ('sooooo gooood!!!!!!')."""
    kind = rng.integers(3)
    if kind == 0:
        groups = int(rng.integers(3, 8))
        return " ".join("".join(rng.choice(SYMBOLS, size=int(rng.integers(2, 6)))) for _ in range(groups))
    if kind == 1:
        return str(rng.choice(SHORT_JUNK))
    return " ".join(w + w[-1] * int(rng.integers(5, 15)) for w in rng.choice(STRETCHED, size=int(rng.integers(3, 6))))


def change_words(lines, n: int, rng: np.random.Generator) -> tuple[tuple[str, str], ...]:
    """Replace n random words of the verse lines with random corpus words."""
    slots = [(i, j) for i, (text, kind) in enumerate(lines) if kind == "verse" for j in range(len(text.split()))]
    words = [line[0].split() for line in lines]
    vocab = _vocabulary()
    for pick in rng.choice(len(slots), size=min(n, len(slots)), replace=False):
        i, j = slots[pick]
        words[i][j] = vocab[int(rng.integers(len(vocab)))]
    return tuple((" ".join(w) if kind == "verse" else text, kind) for w, (text, kind) in zip(words, lines))


def respace(lines, rng: np.random.Generator) -> tuple[tuple[str, str], ...]:
    """The same text up to case or spacing: what a normalized hash still sees as identical."""
    how = rng.integers(3)
    if how == 0:
        return lines
    if how == 1:
        return tuple((text.lower(), kind) for text, kind in lines)
    return tuple(("  " + text.replace(" ", "  ") + " ", kind) for text, kind in lines)


def make_mix(cfg: MixConfig = MixConfig()) -> tuple[Document, ...]:
    """The noisy corpus, seeded: originals in corpus order, each copy placed somewhere after its source."""
    if not 1 <= cfg.n_documents <= MAX_ORIGINALS:
        raise ValueError(f"n_documents must be in 1..{MAX_ORIGINALS}, got {cfg.n_documents}")
    if not (0 <= cfg.boilerplate_rate <= 1 and 0 <= cfg.junk_rate <= 1):
        raise ValueError("boilerplate_rate and junk_rate are shares of documents, in 0..1")
    if not all(0 <= r <= MAX_RATE for r in (cfg.junk_doc_rate, cfg.exact_dup_rate, cfg.near_dup_rate)):
        raise ValueError(f"junk_doc_rate, exact_dup_rate and near_dup_rate must be in 0..{MAX_RATE}")
    if not 1 <= cfg.min_verses <= cfg.max_verses <= MAX_VERSES or not 1 <= cfg.max_changed_words <= MAX_CHANGED:
        raise ValueError(f"need 1 <= min_verses <= max_verses <= {MAX_VERSES}, 1 <= max_changed_words <= {MAX_CHANGED}")
    rng = np.random.default_rng(cfg.seed)
    verses = _train_verses()
    # Documents are disjoint slots of max_verses verses, so no two originals share a verse.
    slots = rng.choice(len(verses) // cfg.max_verses, size=cfg.n_documents, replace=False)
    starts = np.sort(slots) * cfg.max_verses
    originals = []
    for start in starts:
        lines = [(v, "verse") for v in verses[start : start + int(rng.integers(cfg.min_verses, cfg.max_verses + 1))]]
        if rng.random() < cfg.boilerplate_rate:
            for _ in range(int(rng.integers(1, 4))):
                at = int(rng.choice([0, len(lines)]))  # banners sit at the top or the bottom of a page
                lines.insert(at, (str(rng.choice(BOILERPLATE)), "boilerplate"))
        if rng.random() < cfg.junk_rate:
            for _ in range(int(rng.integers(1, 3))):
                lines.insert(int(rng.integers(len(lines) + 1)), (junk_line(rng), "junk"))
        originals.append(tuple(lines))

    n = len(originals)
    placed = [(float(i), "original", i, lines) for i, lines in enumerate(originals)]  # (sort key, origin, src, lines)
    for _ in range(round(cfg.exact_dup_rate * n)):
        src = int(rng.integers(n))
        placed.append((rng.uniform(src + 0.1, n), "exact duplicate", src, respace(originals[src], rng)))
    for _ in range(round(cfg.near_dup_rate * n)):
        src = int(rng.integers(n))
        changed = change_words(originals[src], int(rng.integers(1, cfg.max_changed_words + 1)), rng)
        placed.append((rng.uniform(src + 0.1, n), "near duplicate", src, changed))
    for _ in range(round(cfg.junk_doc_rate * n)):
        placed.append((rng.uniform(0, n), "junk", -1, tuple((junk_line(rng), "junk") for _ in range(3))))
    placed.sort(key=lambda item: item[0])
    position = {src: p for p, (_, origin, src, _) in enumerate(placed) if origin == "original"}
    return tuple(Document(p, lines, origin, -1 if origin in ("original", "junk") else position[src])
                 for p, (_, origin, src, lines) in enumerate(placed))


# ---- the cleaning steps -----------------------------------------------------------------------
def is_boilerplate(line: str) -> bool:
    """is_boilerplate('Accept all  COOKIES') -> True (compared lowercased, whitespace collapsed)."""
    low = dedup.normalize(line)
    return any(marker in low for marker in BOILERPLATE_MARKERS)


def boilerplate_reason(line: str) -> str | None:
    """'boilerplate marker' for a line to strip, None to keep it."""
    return "boilerplate marker" if is_boilerplate(line) else None


_RUN = re.compile(r"(.)\1*", re.DOTALL)
_SYMBOL = re.compile(r"[^\w\s]|_")  # neither letter, digit nor space
_WORD_WITH_LETTER = re.compile(r"\S*[^\W\d_]\S*")


def longest_run(text: str) -> int:
    """Longest run of one repeated character: 'aaab' -> 3; '' -> 0."""
    return max((len(m.group()) for m in _RUN.finditer(text)), default=0)


def line_quality(line: str, cfg: CleanConfig) -> str | None:
    """The first rule a line fails, or None if it passes: 'ok' -> 'too few words'."""
    words = line.split()
    chars = "".join(words)
    if len(words) < cfg.min_words:
        return "too few words"
    if len(_SYMBOL.findall(chars)) / max(len(chars), 1) > cfg.max_symbol_ratio:
        return "too many symbols"
    if re.search(rf"(.)\1{{{cfg.max_char_run},}}", chars, re.DOTALL):  # a run longer than max_char_run
        return "repeated character"
    if len(_WORD_WITH_LETTER.findall(line)) / len(words) < cfg.min_alpha_words:
        return "too few words with letters"
    return None


@lru_cache(maxsize=1)
def _tokenizer():
    from core.pretraining.tokenization import load_bundled_tokenizer

    return load_bundled_tokenizer()


def count(docs: list[Document], known: dict | None = None) -> tuple[int, int, int]:
    """(documents, characters, tokens) of a list of documents; tokens by tiny-lm's tokenizer.

    A document's tokens are its lines' tokens plus one newline token per line break: this byte-level
    BPE never merges across a newline (a test checks the sum against encoding whole documents).
    `known` caches each distinct line's count, so a step only encodes lines it has not seen.
    """
    known = {} if known is None else known
    new = list({line for d in docs for line, _ in d.lines if line not in known})
    for line, enc in zip(new, _tokenizer().encode_batch(new, add_special_tokens=False) if new else ()):
        known[line] = len(enc.ids)
    tokens = sum(known[line] for d in docs for line, _ in d.lines) + sum(len(d.lines) - 1 for d in docs)
    return len(docs), sum(len(d.text) for d in docs), tokens


def _snippet(text: str, limit: int = 100) -> str:
    text = " ⏎ ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line_step(docs: list[Document], rule) -> tuple[list[Document], int, int, list, dict]:
    """Drop the lines for which rule(line) gives a reason, and documents left empty.

    Returns (kept documents, noise lines removed, verse lines removed, examples, {reason: lines}).
    Examples show a removed verse, if any, since false positives are the lesson.
    """
    kept, noise, clean, reasons, noisy_examples, verse_examples = [], 0, 0, {}, [], []
    for doc in docs:
        lines = []
        for text, kind in doc.lines:
            why = rule(text)
            if why is None:
                lines.append((text, kind))
                continue
            reasons[why] = reasons.get(why, 0) + 1
            if kind == "verse":
                clean += 1
                verse_examples.append((_snippet(text), f"{why}: a verse, wrongly removed"))
            else:
                noise += 1
                noisy_examples.append((_snippet(text), f"{why} ({kind})"))
        if lines:
            kept.append(Document(doc.index, tuple(lines), doc.origin, doc.source))
    examples = verse_examples[:1] + noisy_examples[: MAX_EXAMPLES - min(1, len(verse_examples))]
    return kept, noise, clean, examples, reasons


def _doc_step(docs: list[Document], dropped, why: str) -> tuple[list[Document], int, int, list]:
    """Drop documents by position; (kept, duplicates or junk removed, originals removed, examples)."""
    dropped = set(dropped)
    gone = [docs[i] for i in sorted(dropped)]
    clean = sum(d.origin == "original" for d in gone)
    examples = [(_snippet(d.text), f"{why}: {d.origin}" + (f" of document {d.source}" if d.source >= 0 else ""))
                for d in gone[:MAX_EXAMPLES]]
    return [d for i, d in enumerate(docs) if i not in dropped], len(gone) - clean, clean, examples


def planted_pairs(docs: list[Document]) -> list[tuple[int, int]]:
    """(position of source, position of copy) for each near copy whose source is still in `docs`."""
    where = {d.index: n for n, d in enumerate(docs)}
    return [(where[d.source], n) for n, d in enumerate(docs) if d.origin == "near duplicate" and d.source in where]


def run_pipeline(mix: MixConfig = MixConfig(), clean: CleanConfig = CleanConfig()) -> PipelineResult:
    """Make the mix, run the enabled steps in order, count what is left after each."""
    if not (clean.bands >= 1 and clean.rows >= 1 and clean.bands * clean.rows <= dedup.MAX_PERMUTATIONS):
        raise ValueError(f"need bands, rows >= 1 and bands x rows <= {dedup.MAX_PERMUTATIONS}")
    if not 0 <= clean.threshold <= 1:
        raise ValueError(f"threshold is a Jaccard index, in 0..1, got {clean.threshold}")
    if not (0 <= clean.min_words <= 100 and 1 <= clean.max_char_run <= 100
            and 0 <= clean.max_symbol_ratio <= 1 and 0 <= clean.min_alpha_words <= 1):
        raise ValueError("min_words in 0..100, max_char_run in 1..100, the two ratios in 0..1")
    docs = list(make_mix(mix))
    known = {}  # line -> tokens
    steps = [StepCount("raw", True, *count(docs, known), "documents", 0, 0, ())]
    reasons, pairs, found, planted_total, n_candidates, n_all, truncated = {}, (), 0, 0, 0, 0, False

    def record(name, enabled, unit, noise=0, wrong=0, examples=()):
        steps.append(StepCount(name, enabled, *count(docs, known), unit, noise, wrong, tuple(examples)))

    if clean.strip_boilerplate:
        docs, noise, wrong, examples, _ = _line_step(docs, boilerplate_reason)
        record("strip boilerplate", True, "lines", noise, wrong, examples)
    else:
        record("strip boilerplate", False, "lines")
    if clean.quality_filter:
        docs, noise, wrong, examples, reasons = _line_step(docs, lambda t: line_quality(t, clean))
        record("quality filter", True, "lines", noise, wrong, examples)
    else:
        record("quality filter", False, "lines")
    if clean.exact_dedup:
        docs, noise, wrong, examples = _doc_step(docs, dedup.exact_duplicates([d.text for d in docs]), "same SHA-1")
        record("exact dedup", True, "documents", noise, wrong, examples)
    else:
        record("exact dedup", False, "documents")
    if clean.near_dedup:
        planted = planted_pairs(docs)
        result = dedup.near_duplicates([d.text for d in docs], clean.shingle_size, clean.bands, clean.rows,
                                       clean.threshold, clean.seed, extra_pairs=planted, max_pairs=MAX_PAIRS)
        planted_total, found = len(planted), sum(copy in set(result.dropped) for _, copy in planted)
        pairs, n_candidates, n_all = result.pairs, result.n_candidates, result.n_compared_all
        truncated = result.truncated
        docs, noise, wrong, examples = _doc_step(docs, result.dropped, "MinHash + LSH")
        record("near dedup", True, "documents", noise, wrong, examples)
    else:
        record("near dedup", False, "documents")
    s = np.linspace(0, 1, 101)
    return PipelineResult(mix, clean, tuple(steps), reasons, pairs, found, planted_total, n_candidates, n_all,
                          truncated, np.stack([s, dedup.lsh_probability(s, clean.bands, clean.rows)], axis=1))


if __name__ == "__main__":
    res = run_pipeline()
    print(f"{'step':18s} {'docs':>6s} {'chars':>9s} {'tokens':>8s}  removed noise / clean")
    for st in res.steps:
        flag = "" if st.enabled else " (off)"
        print(f"{st.step + flag:18s} {st.documents:6d} {st.characters:9,d} {st.tokens:8,d}  "
              f"{st.removed_noise} / {st.removed_clean} {st.unit}")
        for text, why in st.examples:
            print(f"      - {why}: {text}")
    print("quality filter reasons:", res.filter_reasons)
    err = [abs(p.estimated - p.true) for p in res.pairs]
    print(f"near dedup: {res.n_candidates} LSH candidates instead of {res.n_compared_all:,} pairs; planted near "
          f"copies found {res.planted_found}/{res.planted_total}; mean |MinHash - Jaccard| {np.mean(err):.3f}")
