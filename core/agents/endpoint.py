"""A ReAct policy written by any OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, LM Studio, ...).

Off by default, and never needed: the deployer names ONE endpoint in the environment, and only that one is
ever called (a shared app must not let a viewer make the server fetch URLs of their choosing):

    LLM_LAB_ENDPOINT=http://localhost:8080/v1        # the base URL, up to and including /v1
    LLM_LAB_ENDPOINT_MODEL=qwen2.5-1.5b-instruct      # optional: the "model" field (default "default")
    LLM_LAB_ENDPOINT_KEY=...                          # optional: sent as "Authorization: Bearer ..."

The policy sends the same ReAct prompt the page shows (core.agents.loop.react_prompt) as one user message to
`POST {base}/chat/completions`, greedy (temperature 0), stopped at "\\nObservation" as ReAct prescribes, and
reads the reply as "<thought>\\nAction N: tool[input]". What comes back is untrusted text: it goes through the
same parser and the same bounded tools as any other policy's Action, and a failure (no server, a timeout, a
reply that is not JSON) ends the run with that reason instead of raising.
"""
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.agents.trace import Decision, Step

ENV_URL, ENV_MODEL, ENV_KEY = "LLM_LAB_ENDPOINT", "LLM_LAB_ENDPOINT_MODEL", "LLM_LAB_ENDPOINT_KEY"
MAX_REPLY_BYTES = 64_000  # a reply longer than this is cut before it is parsed
MAX_TOKENS = 160  # per step: one Thought and one Action
REACT_STOP = ("\nObservation",)  # where ReAct stops the model: the runtime writes the Observation
RUN_BUDGET_S = 60.0  # one run's total wait on the endpoint, whatever the step limit
_ACTION_LINE = re.compile(r"^\s*Action\s*\d*\s*:", re.IGNORECASE | re.MULTILINE)
_THOUGHT_PREFIX = re.compile(r"^\s*(?:Thought\s*\d*\s*:\s*)", re.IGNORECASE)


class EndpointError(RuntimeError):
    """The endpoint could not be asked, or its reply could not be read."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # e.g. "http://localhost:8080/v1"
    model: str = "default"
    api_key: str = ""
    timeout_s: float = 20.0

    def __post_init__(self):
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{ENV_URL} must be an http(s) URL such as http://localhost:8080/v1; got {self.base_url!r}")

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc


def endpoint_from_env(environ=os.environ) -> Endpoint | None:
    """The endpoint the deployer named, or None (the driver is then not offered). A malformed URL raises."""
    url = environ.get(ENV_URL, "").strip()
    if not url:
        return None
    return Endpoint(url.rstrip("/"), environ.get(ENV_MODEL, "").strip() or "default", environ.get(ENV_KEY, "").strip())


def chat(endpoint: Endpoint, prompt: str, max_tokens: int = MAX_TOKENS, stop: tuple[str, ...] = REACT_STOP) -> str:
    """One greedy chat completion of `prompt`, stopped at `stop` (ReAct's "\\nObservation" by default): its text."""
    body = json.dumps({"model": endpoint.model, "messages": [{"role": "user", "content": prompt}],
                       "temperature": 0, "max_tokens": max_tokens, **({"stop": list(stop)} if stop else {})}).encode()
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    request = urllib.request.Request(f"{endpoint.base_url}/chat/completions", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=endpoint.timeout_s) as response:
            raw = response.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise EndpointError(f"{endpoint.host} answered HTTP {err.code}") from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise EndpointError(f"could not reach {endpoint.host}: {reason}") from err
    try:
        reply = json.loads(raw[:MAX_REPLY_BYTES])
        text = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise EndpointError(f"{endpoint.host} did not return an OpenAI-style chat completion") from err
    if not isinstance(text, str):
        raise EndpointError(f"{endpoint.host} returned no text")
    for cut in stop:  # servers that ignore "stop" still get cut there
        text = text.split(cut)[0]
    return text


def split_reply(text: str) -> Decision:
    """'I need the layers.\\nAction 1: search[GPT-3 layers]' -> Decision(thought, 'search[GPT-3 layers]').

    The thought is everything before the first Action line (a leading 'Thought N:' dropped); the action is that
    line's content up to its end. No Action line: an empty action, which the loop reports as malformed."""
    match = _ACTION_LINE.search(text)
    if match is None:
        return Decision(_THOUGHT_PREFIX.sub("", text).strip(), "")
    thought = _THOUGHT_PREFIX.sub("", text[:match.start()]).strip()
    action = text[match.end():].split("\n", 1)[0].strip()
    return Decision(thought, action)


def endpoint_policy(endpoint: Endpoint, prompt_for: Callable[[str, tuple[Step, ...]], str],
                    chat_fn: Callable[[Endpoint, str], str] = chat,
                    budget_s: float = RUN_BUDGET_S) -> Callable[[str, tuple[Step, ...]], Decision]:
    """A policy for core.agents.loop.run_agent: the endpoint continues prompt_for(question, steps).

    A run (from its first step) gets `budget_s` seconds of waiting on the endpoint in all; each request may use
    what is left, at most endpoint.timeout_s. An endpoint failure or a spent budget becomes a finish[...] that
    says what went wrong, so the run ends visibly instead of raising or hanging."""
    started = [0.0]

    def policy(question: str, steps: tuple[Step, ...]) -> Decision:
        if not steps:
            started[0] = time.perf_counter()
        left = budget_s - (time.perf_counter() - started[0])
        if left <= 0:
            return Decision(f"The endpoint used the run's {budget_s:.0f} s budget.",
                            f"finish[no answer: the endpoint used the {budget_s:.0f} s budget]")
        asked = time.perf_counter()
        try:
            return split_reply(chat_fn(replace(endpoint, timeout_s=min(endpoint.timeout_s, left)),
                                       prompt_for(question, steps)))
        except EndpointError as err:
            return Decision(f"The endpoint failed after {time.perf_counter() - asked:.1f} s: {err}.",
                            f"finish[no answer: the endpoint failed ({err})]")

    policy.__name__ = "endpoint"
    return policy
