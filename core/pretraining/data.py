"""The bundled corpus: the King James Version, one verse per line (assets/corpus/README.md).

Why this text: it is public domain, a few MB, and so regular in style that a model of a
few million parameters learns to imitate it in minutes on a CPU.

The held-out split is by chapter (every 20th chapter), so no held-out verse has a
neighbour from the same chapter in training.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CORPUS_PATH = ASSETS / "corpus" / "kjv.tsv"
HELDOUT_EVERY = 20  # one chapter in 20 is held out (5%)


@dataclass(frozen=True)
class Verse:
    book: str
    chapter: int
    verse: int
    text: str

    @property
    def ref(self) -> str:
        """Verse('Genesis', 1, 1, ...).ref -> 'Genesis 1:1'."""
        return f"{self.book} {self.chapter}:{self.verse}"


@lru_cache(maxsize=1)
def load_verses(path: Path = CORPUS_PATH) -> tuple[Verse, ...]:
    """All 31,102 verses, in order."""
    verses = []
    for line in path.read_text(encoding="utf-8").splitlines():
        book, chapter, verse, text = line.split("\t")
        verses.append(Verse(book, int(chapter), int(verse), text))
    return tuple(verses)


def split_verses(verses: tuple[Verse, ...] = None) -> tuple[list[Verse], list[Verse]]:
    """(train, heldout): chapter number k over the whole book sequence is held out when k % 20 == 19."""
    verses = verses or load_verses()
    train, heldout, chapter_index, last = [], [], -1, None
    for v in verses:
        if (v.book, v.chapter) != last:
            chapter_index, last = chapter_index + 1, (v.book, v.chapter)
        (heldout if chapter_index % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append(v)
    return train, heldout


def corpus_text(split: str = "train") -> str:
    """The verses of one split ('train', 'heldout' or 'all') joined by newlines."""
    if split == "all":
        chosen = load_verses()
    else:
        train, heldout = split_verses()
        chosen = {"train": train, "heldout": heldout}[split]
    return "\n".join(v.text for v in chosen) + "\n"


if __name__ == "__main__":
    train, heldout = split_verses()
    print(f"{len(train)} training verses, {len(heldout)} held out")
    print(heldout[0].ref, heldout[0].text)
