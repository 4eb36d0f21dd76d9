"""AppTest of the Agents page: default task, task and step limit changes, you as the policy, hostile input."""
import re

import pytest

from conftest import ODD_TEXTS, ROOT, assert_ok, open_page
from test_page_transformer import HOSTILE_TEXTS

PAGE = "app_pages/agents.py"


def texts(elements) -> str:
    """All values joined, with the page's Markdown escapes removed."""
    return "\n".join(str(e.value) for e in elements).replace("\\", "")


def test_default_task_runs_and_shows_every_step():
    at = open_page(PAGE)
    assert_ok(at, "Agents")
    assert "Scripted policy: rules, not a model" in texts(at.info)
    codes = texts(at.code)
    assert "Action 1: search[GPT-3 parameters layers]" in codes
    assert "Action 2: calculator[175000000000 / 96]" in codes and "1822916666.67" in codes
    assert "Question: How many parameters does GPT-3 have" in codes and "\nThought 2:" in codes  # the LLM prompt
    assert f"{175e9 / 96:.12g}" in texts(at.success)
    hostile = next(d.value for d in at.dataframe if "result" in d.value.columns)
    assert "refused" in hostile["result"].tolist()  # the hostile-input table ran live
    assert set(hostile["result"]) <= {"refused", "flagged as injection"}


def test_change_task_and_step_limit():
    at = open_page(PAGE)
    at.selectbox(key="task").set_value("ratio").run()
    assert_ok(at, "Agents")
    assert f"{175 / 1.5:.12g}" in texts(at.success)
    at.slider(key="steps").set_value(2).run()
    assert_ok(at, "Agents")
    assert "Stopped at the step limit (2)" in texts(at.warning)
    assert at.query_params["task"] == "ratio" and at.query_params["steps"] == "2"  # the URL follows
    at.selectbox(key="task").set_value("unanswerable").run()
    assert "does not answer" in texts(at.success)
    at.slider(key="tool_timeout_ms").set_value(0).run()  # every tool call now runs out of time
    assert_ok(at, "Agents")
    assert "the tool ran out of time and was stopped" in texts(at.error)


def test_injection_with_the_gullible_policy_is_refused_by_the_tool():
    at = open_page(PAGE)
    at.selectbox(key="task").set_value("injection_kb").run()
    assert "Possible prompt injection in this Observation: “IGNORE PREVIOUS INSTRUCTIONS”" in texts(at.warning)
    assert "__import__" not in texts(at.error)  # the safe script never runs it
    at.radio(key="policy").set_value("gullible").run()
    assert_ok(at, "Agents")
    assert "is not allowed" in texts(at.error)
    assert f"{12_000_000_000 // 40}" in texts(at.success)


def test_you_are_the_policy():
    at = open_page(PAGE)
    at.radio(key="policy").set_value("you").run()
    assert at.text_input(key="you_action_1").value == "search[GPT-3 parameters layers]"  # the script's suggestion
    at.text_input(key="you_action_1").input("search GPT-3")
    at.button(key="you_run").click().run()
    assert_ok(at, "Agents")
    assert "could not read the action" in texts(at.error)
    at.text_input(key="you_action_2").input("calculator[__import__('os').system('rm -rf /')]")
    at.button(key="you_run").click().run()
    assert "is not allowed" in texts(at.error)
    at.text_input(key="you_action_3").input("")
    at.button(key="you_run").click().run()
    assert "the action is empty" in texts(at.error)
    at.text_input(key="you_action_4").input("calculator[2 ** 0.5]")
    at.button(key="you_run").click().run()
    assert "1.41421356237" in texts(at.code)
    at.text_input(key="you_action_5").input("finish[42]")
    at.button(key="you_run").click().run()
    assert_ok(at, "Agents")
    assert "Your final answer:** 42" in texts(at.success)
    at.button(key="you_reset").click().run()
    assert at.text_input(key="you_action_1").value == "search[GPT-3 parameters layers]"


@pytest.mark.parametrize("text", ODD_TEXTS, ids=["empty", "whitespace", "100kB", "non-ascii"])
def test_odd_custom_questions(text):
    at = open_page(PAGE)
    at.selectbox(key="task").set_value("custom").run()
    at.text_area(key="agent_question").input(text).run()
    assert_ok(at, "Agents")
    if not text.strip():
        assert "Type some question" in texts(at.info)
    elif len(text) > 500:
        assert "this demo takes at most 500" in texts(at.warning)
    else:
        assert "Non-ASCII question" in texts(at.info) and "does not answer" in texts(at.success)


def test_hostile_calculator_box():
    at = open_page(PAGE)
    for attack, message in [("2**10**10", "exponent"), ("().__class__.__bases__", "attribute access"),
                            ("9" * 10000, "the limit is 300")]:
        at.text_input(key="calc_attack").input(attack).run()
        assert_ok(at, "Agents")
        assert message in texts(at.error)
    at.text_input(key="calc_attack").input("sqrt(2) * sqrt(8)").run()
    assert "calculator → 4" in texts(at.success)


def test_tiny_lm_writes_step_one():
    at = open_page(PAGE)
    at.selectbox(key="task").set_value("arithmetic").run()
    at.button(key="ask_lm").click().run()
    assert_ok(at, "Agents")
    assert any(c.value.startswith("Thought 1:") for c in at.code if "Action 1:" not in c.value)
    assert "What the runtime would do with it:" in texts(at.markdown)
    assert "The model read" in texts(at.caption)


def _live_markup(shown: str) -> bool:
    """Whether Markdown shown on the page still holds an HTML tag or a link that is not escaped with a backslash."""
    return bool(re.search(r"(?<!\\)<(script|img|b>)|(?<!\\)\]\(javascript", shown))


def test_hostile_questions_and_actions_are_plain_text():
    at = open_page(PAGE)
    at.selectbox(key="task").set_value("custom").run()
    for text in HOSTILE_TEXTS:
        at.text_area(key="agent_question").input(text).run()
        assert_ok(at, "Agents")
        assert at.code and any("Question: " in c.value for c in at.code)  # the prompt shows the text verbatim
        shown = "\n".join(str(e.value) for kind in (at.markdown, at.success, at.error, at.warning, at.info) for e in kind)
        assert not _live_markup(shown)  # escaped wherever it is echoed
    at.radio(key="policy").set_value("you").run()
    for text in HOSTILE_TEXTS:
        at.text_input(key="you_thought_1").input(text)
        at.text_input(key="you_action_1").input(f"calculator[{text}]")
        at.button(key="you_run").click().run()
        assert_ok(at, "Agents")
        assert "Error:" in texts(at.error) or "refused" in texts(at.error)
        shown = "\n".join(str(e.value) for kind in (at.markdown, at.error) for e in kind)
        assert not _live_markup(shown)
        if "<script>" in text:
            assert "\\<script\\>" in shown  # the thought is on screen, escaped
        at.button(key="you_reset").click().run()


@pytest.mark.parametrize("attack, message", [
    ("log(5, 1)", "log's base must be positive and not 1"),
    ("log(8, 1)", "log's base must be positive and not 1"),
    ("0.1**-1000", "would exceed the magnitude limit"),
    ("(1/3)**-999", "would exceed the magnitude limit"),
    ("\x00\x1b[31m", "not a valid arithmetic expression"),
    ("<script>alert(1)</script>", "not a valid arithmetic expression"),
    ("[x](javascript:alert(1))", "not a valid arithmetic expression"),
    ("(1).__class__", "attribute access"),
])
def test_calculator_box_turns_every_failure_into_a_message(attack, message):
    at = open_page(PAGE)
    at.text_input(key="calc_attack").input(attack).run()
    assert_ok(at, "Agents")
    assert message in texts(at.error)


@pytest.mark.parametrize("raw, steps", [("2.7", 2), ("99", 10), ("-1", 1), ("x", 6)])
def test_url_steps_land_on_the_slider_grid(raw, steps):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update({"steps": raw, "task": "<script>alert(1)</script>", "policy": "[x](javascript:1)"})
    at.run()
    assert_ok(at, "Agents")
    assert at.slider(key="steps").value == steps
    assert at.selectbox(key="task").value == "gpt3_per_layer" and at.radio(key="policy").value == "scripted"
