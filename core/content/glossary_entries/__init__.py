"""The glossary's entries, kept as data: every term the pages use, one line each, with the page section
that shows it and its paper (core.content.glossary searches and links them).

Papers are cited as "authors year (arXiv id)", the year being that of the first arXiv version:
"Hu et al. 2021 (arXiv 2106.09685)"; a paper not on arXiv has authors and year only.

One module of ENTRIES per page, in the pages' order; the Entry dataclass in entry.py.
"""
from core.content.glossary_entries import (
    agents,
    fine_tuning,
    inference,
    multimodal,
    pretraining,
    rag,
    transformer,
)
from core.content.glossary_entries.entry import Entry

GLOSSARY: tuple[Entry, ...] = (
    *transformer.ENTRIES,
    *pretraining.ENTRIES,
    *fine_tuning.ENTRIES,
    *inference.ENTRIES,
    *multimodal.ENTRIES,
    *agents.ENTRIES,
    *rag.ENTRIES,
)

__all__ = ["GLOSSARY", "Entry"]
