"""The glossary: every term the pages use, one line each, with the page section that shows it and its paper.

Kept as data so a test can check it (unique terms, real pages and sections, one citation style).
Papers are cited as "authors year (arXiv id)", the year being that of the first arXiv version:
"Hu et al. 2021 (arXiv 2106.09685)"; a paper not on arXiv has authors and year only.

    search("kv")      -> [KV cache, ...]      terms first, then definitions
    link(entry)       -> "inference?section=KV%20cache" or "agents#the-loop-step-by-step"
"""
import re
import unicodedata
from urllib.parse import quote

from core.content.glossary_entries import GLOSSARY, Entry
from core.content.home import PAGE_URLS

MAX_QUERY_CHARS = 200  # a glossary term is a few words; longer text cannot be one


_BY_NAME = {name.casefold(): e for e in GLOSSARY for name in (e.term, *e.aliases)}


def lookup(name: str) -> Entry | None:
    """The entry whose term or alias is `name`, ignoring case: lookup("kv CACHE").term -> 'KV cache'."""
    return _BY_NAME.get(name.casefold()) if isinstance(name, str) else None


def search(query: str, entries: tuple[Entry, ...] = GLOSSARY) -> list[Entry]:
    """Entries matching `query`, ignoring case: an exact term or alias first, then terms that start with it,
    then terms that contain it, then definitions that contain it, then entries holding all its words.

    search("kv cache")[0].term -> 'KV cache'; search("") -> []
    """
    if not isinstance(query, str):
        return []
    q = " ".join(query.split()).casefold()[:MAX_QUERY_CHARS]  # plain substrings: no regex, so any text is safe
    if not q:
        return []
    words = q.split()

    def tier(e: Entry) -> int | None:
        names = [n.casefold() for n in (e.term, *e.aliases)]
        definition = e.definition.casefold()
        if q in names:
            return 0
        if any(n.startswith(q) for n in names):
            return 1
        if any(q in n for n in names):
            return 2
        if q in definition:
            return 3
        if all(w in " ".join(names) + " " + definition for w in words):
            return 4
        return None

    ranked = [(t, i) for i, e in enumerate(entries) if (t := tier(e)) is not None]
    return [entries[i] for _, i in sorted(ranked)]


def anchor(heading: str) -> str:
    """The anchor Streamlit gives a header (its slugify: decamelize, lowercase, dashes): '1 · Tokens' -> '1-tokens';
    '3 · A picture is a sentence of patches (ViT)' -> '3-a-picture-is-a-sentence-of-patches-vi-t'.

    Exact for headers in unaccented Latin letters, digits and punctuation (all the sections used here);
    Streamlit also transliterates other letters (Δ -> d, ä -> ae), which this does not.
    """
    text = unicodedata.normalize("NFKD", heading)
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("&", " and ")
    text = re.sub(r"([A-Z]{2})([0-9]+)", r"\1 \2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z])([A-Z](?!s(?![a-z]))[a-z0-9]+)", r"\1 \2", text)
    text = re.sub(r"([a-z0-9])['\u2019]([ts])(?![a-z0-9])", r"\1\2", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def section_url(page: str, section: str = "") -> str:
    """A relative URL of a page, opened at a section: ('Inference', 'KV cache') -> 'inference?section=KV%20cache',
    ('Transformer', '1 · Tokens') -> 'transformer?t_section=Tokens%20and%20attention#1-tokens' (the section that
    draws the header, core.content.sections), ('Agents', 'Hostile input, run live') -> 'agents#hostile-input-run-live'."""
    url = PAGE_URLS[page]
    if not section:
        return url
    from core.content.sections import section_params

    params = section_params(page, section)
    if params:  # a page drawn one section at a time: open that section, then its header if the entry names one
        (key, choice), = params.items()
        return f"{url}?{key}={quote(choice)}" + ("" if choice == section else f"#{anchor(section)}")
    return f"{url}#{anchor(section)}"


def link(entry: Entry) -> str:
    """A relative URL of the app showing the entry: 'inference?section=KV%20cache', 'agents#the-loop-step-by-step', 'rag'."""
    return section_url(entry.page, entry.section)


if __name__ == "__main__":
    for e in GLOSSARY:
        print(f"{e.term:28} {link(e):60} {e.paper}")
