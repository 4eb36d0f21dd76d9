"""Interview-style questions that close each page: why, trade-offs and numbers, not only definitions.

Kept as data so a test can check every question is well formed, that its section exists on its page,
that the glossary defines the terms it uses, and that its numeric answers equal what core/ computes.
ui.quiz draws them. Papers are cited as "authors year (arXiv id)", the year of the first arXiv version.

One module per page (its QUESTIONS); QUIZZES maps each page's title to them, in the pages' order.
"""
from core.content.quizzes import (
    agents,
    fine_tuning,
    inference,
    multimodal,
    pretraining,
    rag,
    transformer,
)
from core.content.quizzes.question import Question

QUIZZES: dict[str, list[Question]] = {
    "Transformer": transformer.QUESTIONS,
    "Pretraining": pretraining.QUESTIONS,
    "Fine-tuning": fine_tuning.QUESTIONS,
    "Inference": inference.QUESTIONS,
    "Multimodal": multimodal.QUESTIONS,
    "Agents": agents.QUESTIONS,
    "RAG & long context": rag.QUESTIONS,
}

__all__ = ["QUIZZES", "Question"]
