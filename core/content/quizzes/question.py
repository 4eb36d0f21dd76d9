"""One quiz question: the data every page's questions are written in (core.content.quizzes)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    why: str
    section: str  # where the page shows it: Inference's `section` Param value, another page's header, "" = none
    terms: tuple[str, ...] = ()  # glossary terms the question uses (core.content.glossary)
