"""Agents · a tiny LM that learned to call tools: tiny-lm + a LoRA adapter trained on synthetic ReAct traces
(core.agents.tool_lm) drives the real loop, and Toolformer's question is measured: the same held-out
questions with and without tools."""
import json
import re
import time

import pandas as pd
import streamlit as st

import ui
from core.agents import loop, tool_lm, toolformer_eval
from core.agents.tool_traces import FAMILIES
from core.agents.tools import ToolLimits
from core.state import Param
from ui.agents import search_tool
from ui.finetuning import progress, training_run

CUSTOM = "custom"
PRESETS_PER_FAMILY = 3
MEASURE_SECONDS = 10.0  # one click's default budget; past it the table covers the questions scored
MAX_MEASURE_SECONDS = 60.0  # whatever the slider asks
PARAMS = [Param("tlm_n", 2, 1, 24, step=1)]


@st.cache_resource(show_spinner="Loading the tool LM (tiny-lm + its LoRA adapter)…")
def _tool_lm():
    return tool_lm.shared_tool_lm()


def _model():
    """The tool LM, loaded once per process under the compute lock (a separate model: the cached tiny-lm is
    never given an adapter)."""
    return ui._once(_tool_lm)


@st.cache_data(max_entries=1, max_size="1MB", show_spinner=False)
def _heldout() -> list:
    return tool_lm.heldout_questions(search_tool=search_tool())


@st.cache_data(max_entries=1, max_size="1MB", show_spinner=False)
def _report() -> dict | None:
    path = tool_lm.ADAPTER_DIR / "report.json"
    return json.loads(path.read_text()) if path.exists() else None


# A run is at most tool_lm.MAX_STEPS greedy continuations of MAX_NEW_TOKENS tokens plus the tools' bounded calls.
@ui.cached_compute(max_entries=128, max_size="8MB")
def _run(question: str) -> tuple[toolformer_eval.ToolRun, toolformer_eval.DirectRun]:
    model, tokenizer = _model()
    limits = ToolLimits(timeout_s=1.0)
    run = toolformer_eval.run_with_tools(model, tokenizer, question, search_tool(), tool_lm.MAX_STEPS, limits)
    return run, toolformer_eval.run_without_tools(model, tokenizer, question)


# Bounded twice: by the questions asked (at most 24 per family) and by a wall-clock deadline.
@ui.cached_compute(max_entries=16, max_size="4MB")
def _measure(per_family: int, seconds: float) -> toolformer_eval.ToolformerTable:
    model, tokenizer = _model()
    bar, on_progress = progress("With and without tools")
    result = toolformer_eval.evaluate(model, tokenizer, _heldout(), search_tool(), per_family,
                              time.perf_counter() + seconds, on_progress)
    bar.empty()
    return result


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]()!<>$~|#])", r"\\\1", text)


def table_frame(rows) -> pd.DataFrame:
    """The Toolformer table: one row per question family."""
    return pd.DataFrame([{"family": f, "questions": n, "with tools": f"{w:.0%}", "without tools": f"{wo:.0%}",
                          "right tool first": f"{rt:.0%}", "tool calls per question": round(c, 2),
                          "seconds per question": round(s, 2)} for f, n, w, wo, rt, c, s in rows])


def steps_frame(run: toolformer_eval.ToolRun) -> pd.DataFrame:
    """Each step the tool LM wrote, its Action's Observation, and the time spent writing and running it."""
    rows = []
    for step, seconds in zip(run.trace.steps, run.model_seconds):
        rows.append({"step": step.index, "thought": step.thought, "action": step.action,
                     "observation": step.observation[:200] if step.tool != "finish" or not step.ok else "(ends the loop)",
                     "model (ms)": round(seconds * 1000, 1), "tool (ms)": round(step.seconds * 1000, 2)})
    return pd.DataFrame(rows)


def _question_picker() -> str | None:
    held = _heldout()
    presets = [q for f in FAMILIES for q in [q for q in held if q.family == f][:PRESETS_PER_FAMILY]]
    labels = {q.question: f"{q.family}: {q.question}" for q in presets}
    choice = st.selectbox("Question (held out: never seen in training)", (*labels, CUSTOM), key="tlm_question",
                          format_func=lambda k: "Your own question…" if k == CUSTOM else labels[k])
    if choice != CUSTOM:
        return choice
    raw = st.text_input("Your question", value="What is 123 * 45?", key="tlm_custom",
                        help="It knows four shapes: arithmetic, unit conversions, dates, and how many X a model in "
                             "the knowledge base has (or the year of a paper).")
    question = ui.text_input_checked(raw, loop.MAX_QUESTION_CHARS, "question")
    problem = loop.question_problem(question) if question is not None else None
    if problem:
        st.info(f"Nothing to run: {problem}.")
        return None
    return question


def _show_run(run: toolformer_eval.ToolRun, direct: toolformer_eval.DirectRun) -> None:
    trace = run.trace
    st.dataframe(steps_frame(run), hide_index=True, width="stretch")
    c1, c2, c3 = st.columns(3)
    c1.metric("steps used", f"{len(trace.steps)} of {trace.max_steps}")
    c2.metric("model time", f"{sum(run.model_seconds) * 1000:.0f} ms")
    c3.metric("tool time", f"{sum(s.seconds for s in trace.steps) * 1000:.2f} ms")
    if trace.stop_reason == "finished":
        st.success(f"**With tools:** {_md(trace.answer)}")
    else:
        st.warning(f"**With tools:** no answer ({trace.stop_reason}). Malformed Actions came back as error "
                   "Observations, and the step limit ended the run.")
    shown = direct.answer if direct.answer is not None else f"no finish[...] (it wrote “{direct.written.strip()[:80]}”)"
    st.info(f"**Without tools** (header “{tool_lm.HEADERS[False]}”, one step, {direct.seconds * 1000:.0f} ms): "
            f"{_md(shown)}")
    with st.expander("What the model read before its last step, and what it wrote"):
        st.code(tool_lm.prompt_text(trace.question, trace.steps[:-1]), language=None, wrap_lines=True)
        st.code(run.written[-1] if run.written else "", language=None, wrap_lines=True)


def _measure_section(report: dict | None) -> None:
    if report:
        st.markdown(f"**Measured at build time** on all {sum(r['n'] for r in report['heldout'])} held-out questions:")
        st.dataframe(table_frame([tuple(r[k] for k in toolformer_eval.ROW_KEYS) for r in report["heldout"]]),
                     hide_index=True, width="stretch")
    per_family = st.slider("Held-out questions per family to measure here", 1, 24, key="tlm_n",
                           help=f"A click runs for {MEASURE_SECONDS:.0f} s at most by default "
                                f"(more questions get up to {MAX_MEASURE_SECONDS:.0f} s); past that the table "
                                "covers the questions it scored.")
    seconds = min(MAX_MEASURE_SECONDS, max(MEASURE_SECONDS, 1.0 * per_family * len(FAMILIES)))
    result = training_run("tlm_measure", per_family, "Measure with and without tools", "Measuring",
                          lambda: _measure(per_family, seconds),
                          "Click to score the held-out questions again, live, with the model on this server.",
                          lambda r: f"{len(r.scored)} questions")
    if result is None:
        return
    st.dataframe(table_frame(result.rows), hide_index=True, width="stretch")
    if not result.complete:
        st.warning(f"Cut to the budget: {len(result.scored)} questions scored in the time allowed.")
    with st.expander("Every answer"):
        st.dataframe(pd.DataFrame([{"family": s.family, "question": s.question, "gold": s.gold,
                                    "with tools": s.with_tools, "without tools": s.without_tools}
                                   for s in result.scored]), hide_index=True, width="stretch")


def render() -> None:
    ui.explain(
        "**Toolformer** (Schick et al. 2023) taught a language model *where* a tool call helps. Here the same idea "
        "runs on LLM Lab's tiny Llama (3.1M parameters, trained only on the King James Bible): a LoRA adapter "
        "(under 2 MB) fine-tuned on synthetic ReAct traces, seeded, whose Observations the real tools wrote "
        "(arithmetic → calculator, unit conversions → convert, dates → date, facts → search). The loss sees only "
        "what the model writes: its Thoughts, its Actions and its final answer, never the question or an "
        "Observation. As a policy it continues the prompt greedily, stopped once it has written an Action line; "
        "the real loop parses and runs that Action, so malformed output becomes an error Observation.")
    st.info("**What 3M parameters learned here: the format and where to call, not the numbers.** On questions it "
            "never saw, it writes well-formed Thoughts and Actions, picks the tool the question needs, stops after "
            "the Action and finishes after the Observation. What it did *not* learn in a few minutes of training is "
            "to copy digits: its pretraining (the King James Bible) has none, so it writes a calculator call with "
            "the wrong numbers and the loop runs it faithfully. The table below shows the consequence: almost no "
            "right answers with tools or without. Toolformer's gain needs a model that can at least copy; "
            "GPT-J (6.7B parameters) could, and this one cannot yet.")
    if not ui.require_model("tiny-lm"):
        return
    if not (tool_lm.ADAPTER_DIR / "adapter_config.json").exists():
        st.warning(f"The tool LM's adapter is missing ({tool_lm.ADAPTER_DIR}): run "
                   "`python scripts/build_assets.py tools`.")
        return
    ui.bind_params(PARAMS)
    question = _question_picker()
    if question is not None and st.button("Run the tool LM on this question", key="tlm_run", type="primary"):
        with ui.heavy("Running the tool LM"):
            st.session_state["tlm_result"] = (question, _run(question))
    kept = st.session_state.get("tlm_result")
    if kept and kept[0] == question:
        _show_run(*kept[1])
    st.markdown("**Toolformer's measurement.** The same held-out questions, answered by the same model (a) with "
                "tools, through the whole loop, and (b) without: prompted with the header "
                f"“{tool_lm.HEADERS[False]}”, which it was trained to answer at once (on the same training "
                "questions, with their right answers: its best shot from memory); one step, no tool runs, and "
                "anything but `finish[...]` counts as no answer.")
    _measure_section(_report())
    ui.sync_params(PARAMS)
    ui.code_behind(tool_lm.encode_trace, tool_lm.ToolLMPolicy.__call__, tool_lm.continue_greedy,
                   toolformer_eval.run_without_tools)
