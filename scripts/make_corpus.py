"""Dump the King James Version from Debian's `bible-kjv` package into assets/corpus/kjv.tsv.

Run once, by hand, on a Debian machine (the result is committed):

    apt-get install -y bible-kjv && python scripts/make_corpus.py

Output: one verse per line, `book<TAB>chapter<TAB>verse<TAB>text`, 31,102 lines.
"""
import re
import subprocess
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "assets" / "corpus" / "kjv.tsv"
HEADING = re.compile(r"^(\d? ?[A-Z][A-Za-z ]+?) (\d+)$")
VERSE = re.compile(r"^\s+(\d+) (.*)$")


def parse(raw: str) -> list[tuple[str, int, int, str]]:
    """'Genesis 1\\n  1 In the beginning...' -> [('Genesis', 1, 1, 'In the beginning...')]."""
    rows, book, chapter = [], None, None
    for line in raw.splitlines():
        if not line.strip():
            continue
        if m := HEADING.match(line):
            book, chapter = m.group(1), int(m.group(2))
        elif m := VERSE.match(line):
            rows.append([book, chapter, int(m.group(1)), m.group(2).strip()])
        else:  # a verse wrapped onto the next line
            rows[-1][3] += " " + line.strip()
    return [tuple(r) for r in rows]


def main() -> None:
    raw = subprocess.run(["bible", "-l1000", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    rows = parse(raw)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(f"{b}\t{c}\t{v}\t{t}\n" for b, c, v, t in rows), encoding="utf-8")
    print(f"{len(rows)} verses, {OUT.stat().st_size / 1e6:.2f} MB -> {OUT}")


if __name__ == "__main__":
    main()
