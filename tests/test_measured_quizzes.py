"""Questions about what this machine measured: well-formed options around the figure, and every figure recorded."""
import re

import pytest

from core.content.home import PAGE_FILES
from core.content.measured_quizzes import MEASURED, options
from tests.conftest import ROOT


@pytest.mark.parametrize("value", [0.0123, 0.57, 1.0, 2.4, 3.14159, 17.0, 250.0])
@pytest.mark.parametrize("fmt", ["{:.1f}×", "{:.2f}×", "{:.0%}"])
def test_options_hold_the_formatted_value_among_three_distinct_others(value, fmt):
    opts, answer = options(value, fmt)
    assert opts[answer] == fmt.format(value)
    assert len(set(opts)) == 4 or value < 0.05  # 0.0123 -> 0.0× four times at one decimal: too small for this format
    numbers = [float(re.sub(r"[^\d.]", "", o)) for o in opts]
    assert numbers == sorted(numbers)


def test_the_answer_moves_between_slots():
    slots = {options(v, "{:.2f}×")[1] for v in (1.0, 1.001, 1.002, 1.003)}
    assert slots == {0, 1, 2, 3}


@pytest.mark.parametrize("value,most", [(0, 6), (1, 6), (4, 6), (6, 6), (9, None)])
def test_integer_options_are_neighbouring_counts_within_bounds(value, most):
    opts, answer = options(value, "{:d}", integer=True, most=most)
    numbers = [int(o) for o in opts]
    assert numbers[answer] == value and numbers == list(range(numbers[0], numbers[0] + 4)) and numbers[0] >= 0
    assert most is None or numbers[-1] <= max(most, 3)


def test_every_measured_question_is_recorded_by_its_page_and_reads_well():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in [*ROOT.glob("ui/**/*.py"), *ROOT.glob("app_pages/*.py")])
    for page, questions in MEASURED.items():
        assert page in PAGE_FILES
        for q in questions:
            assert f'ui.record("{q.measure}"' in sources, q.measure
            assert q.question.endswith("?") and "{value}" in q.why and q.ask_after and q.section
            assert q.fmt.format(1 if q.integer else 1.5)
