"""Every page's quiz is well formed, and answering it on the page shows the verdict."""
import pytest

from core.content.home import PAGE_FILES
from core.content.quizzes import QUIZZES
from tests.conftest import open_page


def test_every_page_has_well_formed_questions():
    assert set(QUIZZES) == set(PAGE_FILES)
    for questions in QUIZZES.values():
        assert len(questions) >= 2
        for q in questions:
            assert 0 <= q.answer < len(q.options) and len(set(q.options)) == len(q.options) and q.why


def test_kv_cache_quiz_figure_is_computed_not_typed():
    q = next(q for q in QUIZZES["Inference"] if "Llama-2-7B" in q.question)
    layers, kv_heads, head_dim, fp16_bytes = 32, 32, 128, 2
    assert q.options[q.answer] == f"{2 * layers * kv_heads * head_dim * fp16_bytes // 1024} KiB"


@pytest.mark.parametrize("page,name", [("pages/agents.py", "Agents"), ("pages/rag.py", "RAG & long context")])
def test_answering_shows_right_or_wrong(page, name):
    at = open_page(page)
    first = QUIZZES[name][0]
    radio = at.radio(key=f"quiz_{name}_0")
    radio.set_value(first.options[first.answer]).run()
    assert any(first.why in s.value for s in at.success)
    wrong = next(o for i, o in enumerate(first.options) if i != first.answer)
    at.radio(key=f"quiz_{name}_0").set_value(wrong).run()
    assert any(first.why in e.value for e in at.error)
