"""AppTest of the Agents page's tool-LM part (ui.agents.toolformer.render) in a minimal script: run a held-out
question with the tool LM, a question of your own, and the with/without-tools measurement."""
import pytest
from conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _part():
    import streamlit as st

    from ui.agents import toolformer

    st.title("Tool LM")
    toolformer.render()


def _open():
    import os

    from streamlit.testing.v1 import AppTest

    os.chdir(ROOT)
    at = AppTest.from_function(_part, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_run_a_held_out_question_and_measure():
    at = _open()
    assert "the format and where to call" in at.info[0].value
    assert at.dataframe[0].value["family"].tolist() == ["arithmetic", "units", "dates", "kb"]  # the build's table
    first = at.selectbox(key="tlm_question").options[0]
    assert first.startswith("arithmetic: ")
    at.button(key="tlm_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    steps = at.dataframe[0].value
    assert steps["action"].iloc[0].startswith("calculator[") and (steps["model (ms)"] > 0).all()
    assert any("With tools" in s.value for s in at.success) and any("Without tools" in i.value for i in at.info)

    at.slider(key="tlm_n").set_value(1).run()
    at.button(key="tlm_measure_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    measured = at.dataframe[-2].value if len(at.dataframe) > 2 else at.dataframe[-1].value
    assert set(measured.columns) >= {"family", "with tools", "without tools"} and len(measured) >= 1
    assert at.query_params["tlm_n"] == "1"


def test_your_own_question_is_checked():
    at = _open()
    at.selectbox(key="tlm_question").set_value("custom").run()
    at.text_input(key="tlm_custom").input("   ").run()
    assert not at.exception and any("Type some question" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "tlm_run"]
    at.text_input(key="tlm_custom").input("Convert 10 km to mi.").run()
    at.button(key="tlm_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe[0].value["step"].tolist()[0] == 1


def test_the_tool_lm_drives_the_pages_main_loop():
    from conftest import assert_ok, open_page

    at = open_page("app_pages/agents.py")
    at.selectbox(key="task").set_value("arithmetic").run()
    at.radio(key="policy").set_value("tool-lm").run()
    assert_ok(at, "Agents")
    written = "\n".join(m.value for m in at.markdown)
    assert "written by the tool LM (tiny-lm + LoRA) in" in written
    assert "Action 1: calculator[" in "\n".join(c.value for c in at.code)  # it picks the calculator
    assert any("Tools: calculator" in c.value for c in at.code)  # the prompt it really read
