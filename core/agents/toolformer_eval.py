"""Toolformer's measurement on the tool LM (core.agents.tool_lm): one question run with tools (the whole ReAct loop,
the model as the policy) and without (one step under the "Tools: none" header), and held-out accuracy per family.

Schick et al. 2023 (https://arxiv.org/abs/2302.04761) measured the same model with and without its API calls on the
same questions; here the families are arithmetic, unit conversions, dates and knowledge-base look-ups.
"""
import re
import time
from dataclasses import dataclass

from core.agents import tool_traces as tt
from core.agents.loop import run_agent
from core.agents.tool_lm import (
    MAX_STEPS,
    ToolLMPolicy,
    continue_greedy,
    parse_decision,
    prompt_text,
)
from core.agents.tools import SearchTool, ToolLimits
from core.agents.trace import Trace


# ---- one question, with and without tools ----------------------------------------------------------------
@dataclass(frozen=True)
class ToolRun:
    trace: Trace
    model_seconds: tuple  # the model's writing time of each step
    written: tuple  # what the model wrote at each step, raw
    prompt_tokens: tuple


@dataclass(frozen=True)
class DirectRun:
    written: str
    answer: str | None  # finish[...]'s answer, None if it wrote anything else (a tool call counts as no answer)
    seconds: float


def run_with_tools(model, tokenizer, question: str, search_tool: SearchTool, max_steps: int = MAX_STEPS,
                   limits: ToolLimits | None = None) -> ToolRun:
    """The full ReAct loop (core.agents.loop.run_agent) with the tool LM as the policy."""
    policy = ToolLMPolicy(model, tokenizer)
    trace = run_agent(question, policy, max_steps, limits or ToolLimits(), search_tool)
    return ToolRun(trace, tuple(c[2] for c in policy.calls), tuple(c[0] for c in policy.calls),
                   tuple(c[1] for c in policy.calls))


def run_without_tools(model, tokenizer, question: str) -> DirectRun:
    """One step under the 'Tools: none' header; no tool runs whatever the model writes."""
    start = time.perf_counter()
    text, _ = continue_greedy(model, tokenizer, prompt_text(question, (), tools=False))
    action = parse_decision(text).action
    match = re.match(r"^finish\[(.*)\]$", action, re.DOTALL)
    return DirectRun(text, match.group(1).strip() if match and match.group(1).strip() else None,
                     time.perf_counter() - start)


# ---- Toolformer's measurement: held-out accuracy with and without tools ----------------------------------
@dataclass(frozen=True)
class Scored:
    family: str
    question: str
    gold: str
    with_tools: str | None  # the loop's final answer
    without_tools: str | None
    right_with: bool
    right_without: bool
    right_tool: bool  # the with-tools run's first Action called the tool the question needs
    tool_calls: int  # runnable tool calls in the with-tools run
    seconds: float  # both runs, wall time


@dataclass(frozen=True)
class ToolformerTable:
    rows: tuple  # (family, n, accuracy with tools, accuracy without, share calling the right tool first,
    #               mean tool calls, mean seconds per question)
    scored: tuple  # Scored per question
    complete: bool  # False: stopped early (deadline or caller), the table covers the questions scored


def score_question(model, tokenizer, q: tt.ToolQuestion, search_tool: SearchTool) -> Scored:
    start = time.perf_counter()
    run = run_with_tools(model, tokenizer, q.question, search_tool)
    direct = run_without_tools(model, tokenizer, q.question)
    calls = sum(s.tool not in ("", "finish") for s in run.trace.steps)
    right_tool = bool(run.trace.steps) and run.trace.steps[0].tool == q.tool
    return Scored(q.family, q.question, q.answer, run.trace.answer, direct.answer, tt.is_correct(run.trace.answer, q),
                  tt.is_correct(direct.answer, q), right_tool, calls, time.perf_counter() - start)


ROW_KEYS = ("family", "n", "with_tools", "without_tools", "right_tool", "tool_calls", "seconds")


def table(scored: list[Scored], complete: bool = True) -> ToolformerTable:
    rows = []
    for family in tt.FAMILIES:
        mine = [s for s in scored if s.family == family]
        if mine:
            n = len(mine)
            rows.append((family, n, sum(s.right_with for s in mine) / n, sum(s.right_without for s in mine) / n,
                         sum(s.right_tool for s in mine) / n, sum(s.tool_calls for s in mine) / n,
                         sum(s.seconds for s in mine) / n))
    return ToolformerTable(tuple(rows), tuple(scored), complete)


def evaluate(model, tokenizer, held_out: list, search_tool: SearchTool, per_family: int | None = None,
             deadline: float | None = None, on_progress=None) -> ToolformerTable:
    """Score the first `per_family` held-out questions of each family, interleaved, until done or the deadline
    (time.perf_counter()); on_progress(fraction, message) -> bool is called after each, False stops."""
    by_family = [[q for q in held_out if q.family == f][:per_family] for f in tt.FAMILIES]
    order = [q for group in zip(*[g + [None] * (max(map(len, by_family)) - len(g)) for g in by_family])
             for q in group if q is not None]
    scored = []
    for i, q in enumerate(order):
        if deadline is not None and time.perf_counter() > deadline:
            return table(scored, complete=False)
        scored.append(score_question(model, tokenizer, q, search_tool))
        if on_progress and on_progress((i + 1) / len(order), f"{i + 1} of {len(order)} questions") is False:
            return table(scored, complete=False)
    return table(scored)


if __name__ == "__main__":
    from core.agents.tool_lm import heldout_questions, load_tool_lm

    lm, tok = load_tool_lm()
    tool = SearchTool.from_kb()
    for q in heldout_questions(search_tool=tool)[::12]:
        run = run_with_tools(lm, tok, q.question, tool)
        print(f"=== {q.question}  (gold {q.answer})")
        print(prompt_text(q.question, run.trace.steps))
        print(f"--> {run.trace.answer}   without tools: {run_without_tools(lm, tok, q.question).answer}\n")
