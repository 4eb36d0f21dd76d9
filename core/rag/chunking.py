"""Chunking: cutting documents into passages a retriever can embed and return.

The first step of retrieval-augmented generation (Lewis et al. 2020, https://arxiv.org/abs/2005.11401):
an embedding model reads at most a few hundred tokens (all-MiniLM-L6-v2: 256 word pieces), and a
prompt has room for a handful of passages, so documents are cut into chunks. Sizes and overlaps here
are in **characters** (about 4 characters per English word piece); each chunk remembers its
character span `text[start:end]` in its source document, so a citation can point back to it.

Three strategies:
- "fixed":     windows of `size` characters, each starting `size - overlap` after the previous one
               (cuts through words; the simplest and most predictable).
- "sentence":  whole sentences packed greedily up to `size`; the last sentences of a chunk, up to
               `overlap` characters, are repeated at the start of the next one.
- "paragraph": the same with paragraphs (blank-line separated blocks).
A sentence or paragraph longer than `size` is cut into fixed windows.

Two rules keep the work a request can cause bounded (a classroom shares one 2-core server):
- overlap < size / 2, so every character lands in at most two chunks and the text to embed is at
  most twice the documents (`clamp_config`, and `cap_overlap` for links);
- a chunk budget: at most MAX_CHUNKS chunks and MAX_EMBED_CHARS characters are embedded per request,
  in document order; what the settings would make beyond it is counted and reported (`within_budget`).

The bundled document set lives in assets/docs/ (original text, see its README.md).
"""
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.pretraining.data import ASSETS

DOCS_DIR = ASSETS / "docs"
STRATEGIES = ("fixed", "sentence", "paragraph")
UPLOAD_SUFFIXES = (".txt", ".md")
MAX_UPLOAD_BYTES = 30_000  # refused before decoding: about the size of all the bundled documents together
MAX_UPLOAD_CHARS = 20_000  # a longer text is cut here: 20,000 more keeps the smallest chunks near the budget
# MiniLM embeds very roughly 100 short chunks (about 2,500 word pieces) a second on 2 CPU cores, so
# 800 chunks or 100,000 characters (about 25,000 word pieces) is about 10 s: the most one request may take.
MAX_CHUNKS = 800
MAX_EMBED_CHARS = 100_000

# A sentence ends at . ! or ? followed by whitespace (but not after "et al." or "e.g."); a blank line,
# or a line starting a list item or heading, also starts a new unit.
_SENTENCE_BREAK = re.compile(r"(?<!et al\.)(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*] |\d+\. |#))")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Document:
    name: str  # file name, e.g. 'kv_cache.md'; the citation shown to the reader
    title: str  # the first '# ' heading, or the name
    text: str


@dataclass(frozen=True)
class Chunk:
    doc: str  # Document.name
    start: int  # character span in the document: doc.text[start:end] == text
    end: int
    text: str


@dataclass(frozen=True)
class ChunkConfig:
    size: int = 400  # characters
    overlap: int = 80  # characters, < size
    strategy: str = "fixed"


# ---- documents -------------------------------------------------------------------------------
def make_document(name: str, text: str) -> Document:
    """Document('a.md', 'Title', ...) with the title read from a leading '# Title' line if present."""
    first = text.lstrip().split("\n", 1)[0]
    title = first.lstrip("#").strip() if first.startswith("#") else name
    return Document(name, title or name, text)


@lru_cache(maxsize=4)
def load_documents(folder: Path = DOCS_DIR) -> tuple[Document, ...]:
    """The bundled markdown documents (every *.md except README.md), sorted by name."""
    paths = sorted(p for p in folder.glob("*.md") if p.name != "README.md")
    return tuple(make_document(p.name, p.read_text(encoding="utf-8")) for p in paths)


def load_questions(folder: Path = DOCS_DIR) -> tuple[tuple[str, str], ...]:
    """The labelled questions: ((question, document name that answers it), ...)."""
    lines = (folder / "questions.tsv").read_text(encoding="utf-8").splitlines()
    return tuple(tuple(line.split("\t")) for line in lines if line.strip())


def documents_hash(docs: tuple[Document, ...]) -> str:
    """A short fingerprint of names and texts: the cache key of everything computed from them."""
    h = hashlib.sha256()
    for d in docs:
        h.update(d.name.encode() + b"\0" + d.text.encode() + b"\0")
    return h.hexdigest()[:16]


def clean_file_name(name: str | None, default: str = "upload.txt", max_len: int = 80) -> str:
    """The last path part of an uploaded file's name, printable characters only, at most max_len of them
    with the end (the extension) kept: clean_file_name('../../etc/notes.md') -> 'notes.md'.
    Still untrusted text: show it as plain text."""
    printable = "".join(ch for ch in str(name or "") if ch.isprintable())
    base = Path(printable.replace("\\", "/")).name or default
    return base if len(base) <= max_len else base[: max_len - 17] + "…" + base[-16:]


def document_from_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES,
                         max_chars: int = MAX_UPLOAD_CHARS) -> tuple[Document, str | None]:
    """(Document, note or None) from an uploaded file, or ValueError with a message a learner can act on.

    A text over max_chars characters is cut there, and the note says so. The messages never repeat the
    file name: it is the uploader's text, and a page shows it apart, as plain text (a name like
    '[click](https://evil.example).md' must not become a link).
    """
    clean = clean_file_name(name)
    if not clean.lower().endswith(UPLOAD_SUFFIXES):
        raise ValueError("This is not a .txt or .md file: only plain text or markdown can be chunked here.")
    if len(data) > max_bytes:  # before decoding: a large file costs nothing more than this check
        raise ValueError(f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes "
                         "(so embedding it stays a matter of seconds). Upload an excerpt.")
    if not data.strip():
        raise ValueError("The file is empty: there is nothing to chunk.")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # the byte-order mark of UTF-16 ("Unicode" in Windows Notepad)
        raise ValueError("The file is UTF-16 text; save it as UTF-8 and try again.")
    if b"\0" in data:
        raise ValueError("The file contains NUL bytes: it looks like a binary file, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"The file is not valid UTF-8 text (byte {err.start:,} cannot be read); "
                         "save it as UTF-8 and try again.") from err
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t")
    if controls > 0.01 * max(len(text), 1):
        raise ValueError("The file is mostly control characters: it looks like a binary file, not text.")
    if not text.strip():
        raise ValueError("The file is empty: there is nothing to chunk.")
    text = text.replace("\r\n", "\n")
    note = None
    if len(text) > max_chars:
        note = (f"The file has {len(text):,} characters; only the first {max_chars:,} are chunked and embedded "
                "(every character costs embedding time on a server the class shares).")
        text = text[:max_chars]
    return make_document(f"upload:{clean}", text), note


# ---- the rules: overlap below half the size, and a chunk budget --------------------------------
def max_overlap(size: int, step: int = 1) -> int:
    """The largest overlap below size / 2 on a grid of `step`: max_overlap(100) -> 49; max_overlap(100, 10) -> 40.

    Below half the size, each chunk adds more new text than it repeats, so a character is in at most
    two chunks and the text to embed stays under twice the documents.
    """
    return max(0, (int(size) - 1) // 2 // step * step)


def cap_overlap(values: dict, step: int = 1) -> dict:
    """The same rule for a page's URL values: {'size': 100, 'overlap': 99} -> {'size': 100, 'overlap': 40} (step 10)."""
    if "size" not in values or "overlap" not in values:
        return values
    return {**values, "overlap": min(int(values["overlap"]), max_overlap(values["size"], step))}


def clamp_config(cfg: ChunkConfig) -> tuple[ChunkConfig, str | None]:
    """(valid config, message or None): overlap must stay below half the size.

    clamp_config(ChunkConfig(100, 150)) -> (ChunkConfig(100, 49), 'Overlap 150 is not below half ... clamped to 49.')
    """
    size = max(1, int(cfg.size))
    overlap = max(0, int(cfg.overlap))
    strategy = cfg.strategy if cfg.strategy in STRATEGIES else "fixed"
    message = None
    if 2 * overlap >= size:
        advance = size - overlap
        message = (f"Overlap {overlap} is not below half the chunk size {size}: each chunk would repeat "
                   f"{min(overlap, size)} characters of the previous one and add only {max(advance, 0)} new "
                   f"one(s){' (chunking would never move forward)' if advance <= 0 else ''}. The overlap is "
                   f"clamped to {max_overlap(size)}: a chunk must add more new text than it repeats, which keeps "
                   "the text to embed under twice the documents.")
        overlap = max_overlap(size)
    return ChunkConfig(size, overlap, strategy), message


@dataclass(frozen=True)
class Budgeted:
    chunks: tuple[Chunk, ...]  # the first chunks, in document order, that fit the budget
    n_made: int  # chunks the settings make
    chars_made: int  # characters in all of them
    cut_docs: tuple[str, ...]  # documents with at least one chunk left out, in order

    @property
    def cut(self) -> bool:
        return len(self.chunks) < self.n_made


def within_budget(chunks: tuple[Chunk, ...], max_chunks: int = MAX_CHUNKS,
                  max_chars: int = MAX_EMBED_CHARS) -> Budgeted:
    """Keep the first chunks while both budgets hold; count what is left out.

    within_budget(3 chunks of 10 characters, max_chunks=5, max_chars=25) -> 2 kept, n_made 3, chars_made 30
    """
    kept, chars = 0, 0
    for c in chunks:
        if kept + 1 > max_chunks or chars + len(c.text) > max_chars:
            break
        kept, chars = kept + 1, chars + len(c.text)
    cut_docs = tuple(dict.fromkeys(c.doc for c in chunks[kept:]))
    return Budgeted(tuple(chunks[:kept]), len(chunks), sum(len(c.text) for c in chunks), cut_docs)


def budget_message(n_kept: int, n_made: int, chars_made: int, n_cut_docs: int,
                   max_chunks: int = MAX_CHUNKS, max_chars: int = MAX_EMBED_CHARS) -> str | None:
    """What a learner reads when the budget cut the chunks (None when it did not). Document names are
    left out: an uploaded one is the uploader's text, shown apart as plain text."""
    if n_kept >= n_made:
        return None
    return (f"These settings make {n_made:,} chunks ({chars_made:,} characters). This server embeds at most "
            f"{max_chunks:,} chunks and {max_chars:,} characters per request (about 10 s on its 2 CPU cores, "
            f"shared by the class), so only the first {n_kept:,} chunks are embedded; the other "
            f"{n_made - n_kept:,}, from the last {n_cut_docs} document(s), cannot be retrieved. Larger chunks or "
            "less overlap make fewer chunks.")


# ---- chunking --------------------------------------------------------------------------------

def fixed_spans(start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Windows of `size` over [start, end), each `size - overlap` after the last; the final one ends at `end`.

    fixed_spans(0, 10, 4, 1) -> [(0, 4), (3, 7), (6, 10)]
    """
    assert 0 <= overlap < size, (size, overlap)
    spans, s = [], start
    while True:
        e = min(s + size, end)
        spans.append((s, e))
        if e >= end:
            return spans
        s += size - overlap


def unit_spans(text: str, strategy: str) -> list[tuple[int, int]]:
    """Spans of the sentences or paragraphs of `text`, whitespace around them excluded.

    unit_spans('One. Two.', 'sentence') -> [(0, 4), (5, 9)]
    """
    pattern = _SENTENCE_BREAK if strategy == "sentence" else _PARAGRAPH_BREAK
    spans, s = [], 0
    for m in [*pattern.finditer(text), None]:
        e = m.start() if m else len(text)
        piece = text[s:e]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((s + lead, s + len(piece.rstrip())))
        if m:
            s = m.end()
    return spans


def pack_spans(units: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedily pack consecutive units into chunks of at most `size` characters.

    The next chunk starts with the trailing units of the previous one whose span fits in `overlap`;
    a unit longer than `size` is cut with `fixed_spans` first.
    pack_spans([(0, 4), (5, 9), (10, 14)], size=9, overlap=4) -> [(0, 9), (5, 14)]
    """
    pieces = [p for s, e in units for p in ([(s, e)] if e - s <= size else fixed_spans(s, e, size, overlap))]
    chunks, i = [], 0
    while i < len(pieces):
        j = i
        while j + 1 < len(pieces) and pieces[j + 1][1] - pieces[i][0] <= size:
            j += 1
        chunks.append((pieces[i][0], pieces[j][1]))
        if j == len(pieces) - 1:
            break
        k = j + 1  # step back over trailing units that fit in the overlap, but always advance past i
        while k - 1 > i and pieces[j][1] - pieces[k - 1][0] <= overlap:
            k -= 1
        i = k
    return chunks


def chunk_text(text: str, cfg: ChunkConfig) -> list[tuple[int, int]]:
    """Character spans of the chunks of one text; whitespace-only chunks are dropped."""
    cfg, _ = clamp_config(cfg)
    if cfg.strategy == "fixed":
        spans = fixed_spans(0, len(text), cfg.size, cfg.overlap) if text else []
    else:
        spans = pack_spans(unit_spans(text, cfg.strategy), cfg.size, cfg.overlap)
    return [(s, e) for s, e in spans if text[s:e].strip()]


def chunk_documents(docs: tuple[Document, ...], cfg: ChunkConfig) -> tuple[Chunk, ...]:
    """All chunks of all documents, in document order."""
    return tuple(Chunk(d.name, s, e, d.text[s:e]) for d in docs for s, e in chunk_text(d.text, cfg))


if __name__ == "__main__":
    docs = load_documents()
    print(f"{len(docs)} documents, {sum(len(d.text) for d in docs):,} characters")
    for strategy in STRATEGIES:
        chunks = chunk_documents(docs, ChunkConfig(400, 80, strategy))
        lengths = [len(c.text) for c in chunks]
        print(f"{strategy:9s}: {len(chunks):3d} chunks, {min(lengths)}-{max(lengths)} characters")
    first = chunk_documents(docs[:1], ChunkConfig(200, 40, "sentence"))[:2]
    for c in first:
        print(f"--- {c.doc} [{c.start}:{c.end}]\n{c.text}")
