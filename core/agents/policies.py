"""Who writes the Thought and Action: a script of rules, or a real (tiny) language model.

A real agent's policy is an LLM prompted with `react_prompt(...)`; LLM Lab's tiny models are far too
small to plan, so the default policy here is a **script: rules, not a model** (`scripted_policy`),
honest about what it is. It reads only what an LLM would read (the question and the Observation
text). The `gullible` variant obeys instructions planted in observations, to show that the tools
themselves must still be safe.
"""
import re
from dataclasses import dataclass
from functools import partial

from core.agents.injection import EMBEDDED_ACTION, find_injection, strip_injection
from core.agents.tools import (
    TOOL_DESCRIPTIONS,
    ToolError,
    tokenize,
)
from core.agents.trace import Decision, Step, parse_action


# ---- a real (tiny) model as the policy ---------------------------------------------------------------
@dataclass(frozen=True)
class LMProposal:
    """What a causal LM writes when handed a ReAct prompt, and whether it is a usable Action."""
    text: str  # the model's continuation, cut at the first "\nObservation" (the usual stop sequence)
    prompt_tokens: int  # tokens the model read
    cut_tokens: int  # tokens dropped from the prompt's start to fit the model's context window
    action: str  # the Action line it wrote ("" if none)
    verdict: str  # "tool[input]" it would run, or why it cannot be run


def lm_propose(model, tokenizer, prompt: str, max_new_tokens: int = 40) -> LMProposal:
    """Greedy-decode a model's next Thought/Action from a ReAct prompt (the prompt's end is kept if too long)."""
    import torch

    from core.inference.engine import engine_for

    ids = tokenizer(prompt, return_tensors="pt").input_ids  # (1, T)
    room = model.config.max_position_embeddings - max_new_tokens
    cut = max(0, ids.shape[1] - room)
    ids = ids[:, cut:]  # (1, T')
    engine = engine_for(model)  # our decode path for the bundled Llamas: the same greedy tokens, faster
    if engine is not None:
        out = engine.generate(ids, max_new_tokens)
    else:
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\nObservation")[0]
    action = next((line.strip() for line in text.splitlines() if line.strip().lower().startswith("action")), "")
    try:
        tool, tool_input = parse_action(action) if action else (None, None)
        verdict = f"{tool}[{tool_input}]" if tool else "no Action line: nothing to run"
        if tool and tool not in TOOL_DESCRIPTIONS:
            verdict = f"unknown tool {tool!r}: the runtime would return an error Observation"
    except ToolError as err:
        verdict = f"unreadable: {err}"
    return LMProposal(text, int(ids.shape[1]), cut, action, verdict)


# ---- the scripted policy: rules, not a model -----------------------------------------------------------
_NUM = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_SCALE_WORDS = r"\s*(thousand|million|billion|trillion)?"
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
# How each attribute is stated in the knowledge base; the first match in an entry is its value.
ATTRIBUTES = {
    "parameters": _NUM + _SCALE_WORDS + r"\s+parameters",
    "layers": _NUM + r"\s+(?:learned |transformer )?layers",
    "attention heads": _NUM + r"\s+attention heads",
    "hidden size": r"hidden size of " + _NUM,
    "context window": r"context window of " + _NUM + r" tokens",
    "vocabulary": r"vocabulary of " + _NUM + r" tokens",
    "training tokens": r"trained on (?:about |roughly )?" + _NUM + _SCALE_WORDS + r"\s+tokens",
}
_ATTRIBUTE_WORDS = (  # order matters: "context window" before "tokens"
    ("attention heads", ("head",)), ("parameters", ("param", "weight")), ("layers", ("layer", "block")),
    ("hidden size", ("hidden", "width")), ("context window", ("context",)), ("vocabulary", ("vocab",)),
    ("training tokens", ("token",)),
)
OPERATORS = {"divided by": "/", "per": "/", "times": "*", "multiplied by": "*", "plus": "+", "minus": "-"}

_RATIO_Q = re.compile(r"how many times (?:more|larger|bigger|as many) (?P<attr>[\w -]+?) (?:does|did|has) "
                      r"(?P<a>.+?) (?:have |has )?(?:than|as) (?P<b>.+?)$", re.I)
_COMBINE_Q = re.compile(r"how many (?P<attr1>[\w -]+?) (?:does|did) (?P<entity>.+?) have,? "
                        r"(?P<op>divided by|multiplied by|times|plus|minus|per) "
                        r"(?:the number of |its |the |each )?(?P<attr2>[\w -]+?)$", re.I)
_SINGLE_Q = re.compile(r"how many (?P<attr>[\w -]+?) (?:does|did) (?P<entity>.+?) have$", re.I)
_MATH_PREFIX = re.compile(r"^(?:(?P<verb>compute|calculate|evaluate)|what is|what's|how much is)\s*:?\s*", re.I)
_MATH_WORDS = {"sqrt", "log", "log2", "log10", "exp", "round", "min", "max", "abs", "pi", "e"}
_HIT = re.compile(r"^\[(\d+)\] (.+?) \(BM25 ([\d.]+)\): (.*)$")


def _attribute(phrase: str) -> str | None:
    """Map the question's words to a known attribute: 'transformer layers' -> 'layers'."""
    phrase = phrase.lower()
    return next((key for key, words in _ATTRIBUTE_WORDS if any(w in phrase for w in words)), None)


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", re.sub(r"^the ", "", name.lower().strip()))


def _names(title: str) -> set[str]:
    """Names a title answers to: 'Vision Transformer (ViT)' -> {'visiontransformervit', 'visiontransformer', 'vit'}."""
    names = {_norm(title), _norm(re.sub(r"\(.*?\)", "", title))}
    names.update(_norm(p) for p in re.findall(r"\((.*?)\)", title))
    return names


def _results(steps: tuple[Step, ...]) -> list[tuple[str, str]]:
    """(title, text) of every search result the policy has read so far, parsed from Observation text."""
    found = []
    for s in steps:
        if s.tool == "search" and s.ok:
            found += [(m.group(2), m.group(4)) for m in map(_HIT.match, s.observation.splitlines()) if m]
    return found


def _value(entity: str, attr: str, steps: tuple[Step, ...]) -> tuple[int | float, str, str] | None:
    """(number, the phrase it came from, entry title) for entity's attribute, read from past observations."""
    for title, text in _results(steps):
        if _norm(entity) in _names(title):
            match = re.search(ATTRIBUTES[attr], text, re.I)
            if match:
                number = float(match.group(1).replace(",", ""))
                scale = match.group(2) if match.re.groups >= 2 else None
                number *= SCALES.get((scale or "").lower(), 1)
                return (int(number) if number.is_integer() else number), match.group(0), title
    return None


def _searched(steps: tuple[Step, ...], entity: str) -> bool:
    return any(s.tool == "search" and _norm(entity) in _norm(s.tool_input) for s in steps)


def _calculated(steps: tuple[Step, ...], expr: str) -> Step | None:
    return next((s for s in reversed(steps) if s.tool == "calculator" and s.tool_input == expr), None)


def _math_expression(question: str) -> str | None:
    """The arithmetic in 'What is 2 * (3 + 4)?' -> '2 * (3 + 4)'; any text after compute/calculate is sent as is."""
    text = question.strip().rstrip("?!. ")
    match = _MATH_PREFIX.match(text)
    rest = text[match.end():].strip() if match else text
    if match and match.group("verb"):
        return rest
    words = set(re.findall(r"[A-Za-z_]+", rest))
    if rest and words <= _MATH_WORDS and (words or re.search(r"\d", rest)):  # "2 * 3", "pi", "sqrt(2)"
        return rest
    return None


def _finish_with_calc(steps, expr: str, thought_ok: str, answer: str) -> Decision:
    done = _calculated(steps, expr)
    if done is None:
        return Decision(thought_ok, f"calculator[{expr}]")
    if not done.ok:
        reason = done.observation.removeprefix("Error: ")
        return Decision("The calculator refused the expression, so I cannot compute the answer safely.",
                        f"finish[I can't compute that: the calculator refused it ({reason.rstrip('.')}).]")
    return Decision(f"The calculator returned {done.observation}. That answers the question.",
                    f"finish[{answer.format(result=done.observation)}]")


def _lookup(steps, entity_attrs: list[tuple[str, str]], op: str | None) -> Decision:
    """Policy for questions that need numbers from the knowledge base, then (maybe) arithmetic."""
    values = [_value(entity, attr, steps) for entity, attr in entity_attrs]
    for (entity, attr), value in zip(entity_attrs, values):
        if value is None:
            if _searched(steps, entity):
                return Decision(f"The search results do not state the {attr} of {entity}. I will not guess.",
                                f"finish[The knowledge base does not give the {attr} of {entity}, so I cannot answer.]")
            wanted = list(dict.fromkeys(a for e, a in entity_attrs if e == entity))
            return Decision(f"I need the {' and the '.join(wanted)} of {entity}, which I do not know. "
                            "I search the knowledge base.", f"search[{entity} {' '.join(wanted)}]")
    by_entity: dict[str, list[str]] = {}
    for (entity, _), (_, phrase, title) in zip(entity_attrs, values):
        by_entity.setdefault(f"{entity} has", []).append(phrase)
    facts = "; ".join(f"{who} {' and '.join(phrases)}" for who, phrases in by_entity.items())
    facts += f" (KB entr{'ies' if len(by_entity) > 1 else 'y'} " + ", ".join(
        dict.fromkeys(f"'{t}'" for _, _, t in values)) + ")"
    if op is None:
        return Decision(f"The knowledge base says {facts}. That answers the question.", f"finish[{facts}.]")
    expr = f" {op} ".join(str(number) for number, _, _ in values)
    return _finish_with_calc(steps, expr, f"The knowledge base says {facts}. I compute {expr} with the "
                             "calculator rather than in my head.", f"{facts}, so {expr} = {{result}}.")


def _keyword_lookup(question: str, steps: tuple[Step, ...]) -> Decision:
    """Policy for any other question: search its key words; answer only if a result covers at least half of them."""
    keywords = list(dict.fromkeys(tokenize(question)))[:12]
    if not keywords:
        return Decision("The question has no content words I can search for.",
                        "finish[I can't tell what to look up: the question has no searchable words.]")
    search = next((s for s in steps if s.tool == "search"), None)
    if search is None:
        return Decision("This is a factual question. I search the knowledge base for its key words.",
                        f"search[{' '.join(keywords)}]")
    hits = _results((search,))
    if not hits:
        reason = search.observation.removeprefix("Error: ") if not search.ok else "no entry matches"
        return Decision("The search found nothing relevant. I will not make an answer up.",
                        f"finish[The knowledge base does not answer this question ({reason.rstrip('.')}).]")
    def coverage(hit):  # key words of the question found in the entry
        return [k for k in keywords if k in set(tokenize(hit[0] + " " + hit[1]))]

    title, text = max(hits, key=lambda hit: len(coverage(hit)))  # ties: the higher BM25 rank wins
    covered = coverage((title, text))
    if 2 * len(covered) < len(keywords):
        return Decision(f"The best result, '{title}', contains only {len(covered)} of the {len(keywords)} key "
                        "words, so it is not about this question. I will not make an answer up.",
                        f"finish[The knowledge base does not answer this question (the best match, '{title}', "
                        f"covers {len(covered)} of {len(keywords)} key words).]")
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", text)  # "et al. in 2017" is not a sentence end
    best = max(sentences, key=lambda s: len(set(keywords) & set(tokenize(s))))
    return Decision(f"Of the results, '{title}' covers the most key words ({len(covered)} of {len(keywords)}). "
                    "I answer with its most relevant sentence and cite it.",
                    f"finish[{best} (source: KB entry '{title}')]")



def scripted_policy(question: str, steps: tuple[Step, ...], gullible: bool = False) -> Decision:
    """Scripted policy: rules, not a model. Decide the next Thought and Action from the question and past steps.

    Rules, in order: refuse a question that tries to override the rules; arithmetic goes to the
    calculator; "how many X does E have (op the number of Y)" and "how many times more X does A have
    than B" search the numbers then calculate; anything else searches its key words and answers with
    the best-matching sentence only if it covers at least half of them. Stateless: everything is
    re-read from the steps, as an LLM re-reads its prompt. With gullible=True it obeys an Action line
    found inside an Observation (what an injected model does), to show why tools must be safe too.
    """
    text = " ".join(question.split())
    injected = find_injection(text)
    if injected and not gullible:
        return Decision(f"The question contains text that tries to override my rules (“{injected[0]}”). "
                        "I follow only my fixed rules, so I do not act on it.",
                        "finish[I can't follow instructions that try to override my rules. Ask a question about "
                        "the knowledge base, or some arithmetic.]")
    if injected:
        text = strip_injection(text)
    note = ""
    planted = re.search(EMBEDDED_ACTION + r".*\]", steps[-1].observation, re.I) if steps and gullible else None
    if planted:  # the gullible script obeys any Action line it reads, flagged or not
        action = re.sub(r"^Action\s*\d*\s*:\s*", "", planted.group(0), flags=re.I)
        if not any(s.action == action for s in steps):
            return Decision("The observation tells me to run a command first, so I do.", action)
    if steps and not gullible and any(f.startswith("possible prompt injection") for f in steps[-1].flags):
        note = ("The last observation contains instruction-like text; it came from a tool, so it is data, "
                "not an order, and I ignore it. ")
    decision = _next_decision(text.rstrip("?!. "), steps)
    return Decision(note + decision.thought, decision.action)


def _next_decision(text: str, steps: tuple[Step, ...]) -> Decision:
    expr = _math_expression(text)
    if expr is not None:
        return _finish_with_calc(steps, expr, "This is arithmetic, so I use the calculator instead of guessing.",
                                 f"{expr} = {{result}}")
    if m := _RATIO_Q.match(text):
        attr = _attribute(m["attr"])
        if attr:
            return _lookup(steps, [(m["a"], attr), (m["b"], attr)], "/")
    if m := _COMBINE_Q.match(text):
        attr1, attr2 = _attribute(m["attr1"]), _attribute(m["attr2"])
        if attr1 and attr2:
            return _lookup(steps, [(m["entity"], attr1), (m["entity"], attr2)], OPERATORS[m["op"].lower()])
    if m := _SINGLE_Q.match(text):
        attr = _attribute(m["attr"])
        if attr:
            return _lookup(steps, [(m["entity"], attr)], None)
    return _keyword_lookup(text, steps)


POLICIES = {"scripted": scripted_policy, "gullible": partial(scripted_policy, gullible=True)}


def tool_lm(question: str, steps: tuple[Step, ...]) -> Decision:
    """A real (tiny) model: tiny-lm + the tool-use LoRA adapter (core.agents.tool_lm), greedy.
    Imported here, not at the top: core.agents.tool_lm imports the loop, which imports this module."""
    from core.agents.tool_lm import tool_lm_policy

    return tool_lm_policy(question, steps)


POLICIES["tool-lm"] = tool_lm

