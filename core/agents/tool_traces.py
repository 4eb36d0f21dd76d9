"""Synthetic ReAct traces for teaching a tiny LM where a tool call helps (Toolformer's data, made by script).

Toolformer (Schick et al. 2023, https://arxiv.org/abs/2302.04761) let a model annotate text with API
calls and kept the calls whose results made the following text likelier. We cannot sample a 3M-parameter
model for that, so we write the traces ourselves, seeded, over four families of questions that the
agent's real tools answer, and we *run the real tools* to fill in every Observation:

    arithmetic  "What is 37 * 24?"                       calculator[37 * 24]          -> 888
    units       "Convert 12 kg to lb."                   convert[12 kg to lb]         -> 12 kg = 26.4555 lb
    dates       "What day of the week was 2021-03-14?"   date[weekday of 2021-03-14]  -> 2021-03-14 is a Sunday
    kb          "How many layers does GPT-3 have?"       search[GPT-3 layers]         -> [1] GPT-3 (BM25 …): …

Every question comes with its gold answer (read from the tool's output, so it is right by construction)
and the Decisions a good agent writes. The held-out questions are drawn from other seeds (and, for the
knowledge base, other entries), and checked never to appear in the training set.
"""
import random
import re
from dataclasses import dataclass

from core.agents.policies import ATTRIBUTES, SCALES
from core.agents.tools import SearchTool, run_tool
from core.agents.trace import Decision

FAMILIES = ("arithmetic", "units", "dates", "kb")


@dataclass(frozen=True)
class ToolQuestion:
    family: str  # one of FAMILIES
    question: str
    tool: str  # the tool a good agent calls
    tool_input: str
    answer: str  # gold answer, read from the real tool's output
    kind: str  # how an answer is compared with it: "number" (relative tolerance) or "text" (exact, any case)


# ---- question families -------------------------------------------------------------------------------
ARITH_TEMPLATES = ("What is {e}?", "Compute {e}.", "Calculate {e}.", "How much is {e}?")
UNIT_PAIRS = (("km", "mi"), ("mi", "km"), ("kg", "lb"), ("lb", "kg"), ("C", "F"), ("F", "C"), ("m", "ft"),
              ("ft", "m"), ("in", "cm"), ("cm", "in"), ("GB", "MiB"), ("h", "min"), ("oz", "g"), ("yd", "m"))
UNIT_TEMPLATES = ("Convert {v} {a} to {b}.", "How many {b} is {v} {a}?", "What is {v} {a} in {b}?")
WEEKDAY_TEMPLATES = ("What day of the week was {d}?", "Which weekday is {d}?")
SHIFT_TEMPLATES = ("What date is {n} days after {d}?", "Which date comes {n} days after {d}?")
BETWEEN_TEMPLATES = ("How many days are there between {d} and {d2}?", "How many days from {d} to {d2}?")
KB_TEMPLATES = ("How many {attr} does {name} have?", "What is the number of {attr} of {name}?")
YEAR_TEMPLATE = "In which year was the paper on {name} published?"
KB_ATTRIBUTES = ("parameters", "layers", "attention heads", "hidden size", "context window", "vocabulary")
_ANSWER_PART = {"units": r"= (.+)$", "weekday": r" is an? (\w+)$", "shift": r"^(\S+)", "between": r"^(\d+)"}


def _arithmetic(rng: random.Random) -> tuple[str, str]:
    """(question, expression): '37 * 24', '(120 - 35) * 4', ..."""
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 9)
    shape = rng.choice(("{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} * {c}", "({a} + {b}) * {c}", "{a} + {b} * {c}"))
    expr = shape.format(a=a, b=b, c=c)
    return rng.choice(ARITH_TEMPLATES).format(e=expr), expr


def _units(rng: random.Random) -> tuple[str, str]:
    a, b = rng.choice(UNIT_PAIRS)
    v = rng.choice((rng.randint(1, 500), round(rng.uniform(0.5, 99), 1)))
    return rng.choice(UNIT_TEMPLATES).format(v=v, a=a, b=b), f"{v} {a} to {b}"


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1950, 2049)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _dates(rng: random.Random) -> tuple[str, str, str]:
    """(question, tool input, which part of the output answers it)."""
    d = _date(rng)
    kind = rng.choice(("weekday", "shift", "between"))
    if kind == "weekday":
        return rng.choice(WEEKDAY_TEMPLATES).format(d=d), f"weekday of {d}", kind
    if kind == "shift":
        n = rng.randint(2, 400)
        return rng.choice(SHIFT_TEMPLATES).format(n=n, d=d), f"{d} + {n} days", kind
    d2 = f"{int(d[:4]) + rng.randint(0, 2)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    d, d2 = sorted((d, d2))
    return rng.choice(BETWEEN_TEMPLATES).format(d=d, d2=d2), f"days between {d} and {d2}", kind


def _ask(family: str, question: str, tool: str, tool_input: str, part: str, kind: str,
         search_tool: SearchTool) -> ToolQuestion | None:
    """Run the real tool; the gold answer is the part of its output that answers the question."""
    result = run_tool(tool, tool_input, search_tool)
    if not result.ok:
        return None
    match = re.search(_ANSWER_PART[part], result.text) if part else None
    answer = match.group(1) if match else result.text
    return ToolQuestion(family, question, tool, tool_input, answer, kind)


def kb_pairs(search_tool: SearchTool, obs_chars: int) -> list[tuple[str, str, str, str]]:
    """(entry title, attribute, tool input, value) that a search shows whole in its top result, within the
    first `obs_chars` characters (what the tool LM reads): the answerable knowledge-base questions.
    Attributes are the model sizes of core.agents.policies.ATTRIBUTES, and "year" (of an "et al. YYYY" paper)."""
    pairs = []
    for entry in search_tool.entries:
        if "nimbus" in entry.title.lower():  # the planted prompt-injection entry is not a fact
            continue
        for attr in (*KB_ATTRIBUTES, "year"):
            query = entry.title if attr == "year" else f"{entry.title} {attr}"
            top = run_tool("search", query, search_tool).text.split("\n")[0]
            if not top.startswith(f"[1] {entry.title} ("):
                continue
            pattern = r"et al\.,? ((?:19|20)\d\d)\b" if attr == "year" else ATTRIBUTES[attr]
            match = re.search(pattern, top[top.index("): ") + 3:], re.IGNORECASE)
            end = match.end() + top.index("): ") + 3 if match else 0
            if match and end < obs_chars - 1 and not top[end:end + 1].isdigit():
                pairs.append((entry.title, attr, query, " ".join(g for g in match.groups() if g)))
    return pairs


def make_questions(n_per_family: int, seed: int, kb_titles: set[str], search_tool: SearchTool,
                   obs_chars: int, every_phrasing: bool = False) -> list[ToolQuestion]:
    """n seeded questions per family; kb: every answerable pair of the given entries, in one seeded phrasing
    (or in every phrasing, for training)."""
    rng = random.Random(seed)
    out: dict[str, list] = {f: [] for f in FAMILIES}
    seen: set[str] = set()
    while any(len(out[f]) < n_per_family for f in ("arithmetic", "units", "dates")):
        family = rng.choice([f for f in ("arithmetic", "units", "dates") if len(out[f]) < n_per_family])
        if family == "arithmetic":
            q, expr = _arithmetic(rng)
            item = _ask(family, q, "calculator", expr, "", "number", search_tool)
        elif family == "units":
            q, text = _units(rng)
            item = _ask(family, q, "convert", text, "units", "number", search_tool)
        else:
            q, text, part = _dates(rng)
            item = _ask(family, q, "date", text, part, "text", search_tool)
        if item and q not in seen:
            seen.add(q)
            out[family].append(item)
    for title, attr, query, value in kb_pairs(search_tool, obs_chars):
        if title in kb_titles:
            templates = (YEAR_TEMPLATE,) if attr == "year" else KB_TEMPLATES
            for template in templates if every_phrasing else (rng.choice(templates),):
                q = template.format(attr=attr, name=title)
                out["kb"].append(ToolQuestion("kb", q, "search", query, value, "number"))
    return [q for f in FAMILIES for q in out[f]]


# ---- what a good agent writes -------------------------------------------------------------------------
THOUGHTS = {
    "calculator": "This is arithmetic, so I use the calculator.",
    "convert": "This is a unit conversion, so I use the convert tool.",
    "date": "This is about dates, so I use the date tool.",
    "search": "I need a fact, so I search the knowledge base.",
}
DIRECT_THOUGHT = "I have no tools, so I answer from memory."


def tool_decisions(q: ToolQuestion) -> tuple[Decision, Decision]:
    """The two Decisions of a tool trace: call the tool, then finish with the answer read from its output."""
    return (Decision(THOUGHTS[q.tool], f"{q.tool}[{q.tool_input}]"),
            Decision("The tool's answer is " + q.answer + ".", f"finish[{q.answer}]"))


def direct_decision(q: ToolQuestion) -> Decision:
    """The one Decision of a no-tool trace: answer at once (the gold answer: the model's best possible teacher)."""
    return Decision(DIRECT_THOUGHT, f"finish[{q.answer}]")


# ---- scoring -------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?\s*(thousand|million|billion|trillion)?", re.IGNORECASE)


def read_number(text: str) -> float | None:
    """The first number in a text, scale words applied: '175 billion' -> 1.75e11; '2,048 tokens' -> 2048.0."""
    match = _NUMBER.search(text or "")
    if not match:
        return None
    number = float(match.group(0).split()[0].replace(",", "") if match.group(1) else
                   match.group(0).replace(",", "").strip())
    return number * SCALES.get((match.group(1) or "").lower(), 1)


def is_correct(answer: str | None, q: ToolQuestion) -> bool:
    """Does a finish[...] answer match the gold one? Numbers within 0.1 %; text exactly, ignoring case."""
    if answer is None:
        return False
    if q.kind == "number":
        got, gold = read_number(answer), read_number(q.answer)
        return got is not None and gold is not None and abs(got - gold) <= 1e-3 * max(abs(gold), 1e-9)
    return answer.strip().rstrip(".").lower() == q.answer.strip().lower()


if __name__ == "__main__":
    tool = SearchTool.from_kb()
    for q in make_questions(2, 0, {"GPT-3", "ResNet"}, tool, 320):
        print(f"{q.family:10s} {q.question:55s} {q.tool}[{q.tool_input}] -> {q.answer}")
