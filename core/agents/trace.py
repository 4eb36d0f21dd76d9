"""What an agent run is made of, as plain data: Decisions, Steps, the Trace, and reading an Action line."""
import re
from dataclasses import dataclass

from core.agents.tools import (
    ToolError,
)


@dataclass(frozen=True)
class Decision:
    """What a policy writes at one step: a Thought and an Action line like 'search[GPT-3 layers]'."""
    thought: str
    action: str


@dataclass(frozen=True)
class Step:
    """One Thought -> Action -> Observation round, as data."""
    index: int  # 1-based, as in the prompt ("Thought 1:")
    thought: str
    action: str  # the Action as written, e.g. "calculator[175000000000 / 96]"
    tool: str  # parsed tool name; "" when the action could not be read
    tool_input: str
    observation: str  # the tool's output or error; "" after finish
    ok: bool  # False: malformed action, tool error or refusal
    flags: tuple[str, ...] = ()  # e.g. "possible prompt injection: “ignore previous instructions”"
    seconds: float = 0.0  # tool wall time
    by: str = "scripted"  # which policy wrote it: "scripted", "gullible" or "you"
    scores: tuple[tuple[str, float], ...] = ()  # search only: (entry title, BM25) of the top 10
    think_seconds: float = 0.0  # wall time the policy took to write this Thought and Action


@dataclass(frozen=True)
class Trace:
    question: str
    policy: str
    max_steps: int
    steps: tuple[Step, ...]
    answer: str | None  # None when the loop stopped without finish[...]
    stop_reason: str  # "finished" | "step limit" | "invalid question: ..."

# ---- reading actions and spotting injected instructions -------------------------------------------
_ACTION = re.compile(r"^\s*(?:Action\s*\d*\s*:\s*)?([A-Za-z_]\w*)\s*\[(.*)\]\s*$", re.S)

def parse_action(text: str) -> tuple[str, str]:
    """'Action 2: search[GPT-3 layers]' -> ('search', 'GPT-3 layers'); raises ToolError when unreadable."""
    if not text or not text.strip():
        raise ToolError("the action is empty: write tool[input], e.g. search[GPT-3 layers] or calculator[2 + 2]")
    match = _ACTION.match(text)
    if not match:
        raise ToolError(f"could not read the action {text.strip()[:60]!r}: write tool[input], e.g. "
                        "search[GPT-3 layers], calculator[2 + 2] or finish[your answer]")
    return match.group(1).lower(), match.group(2).strip()


