"""The OpenAI-compatible endpoint driver, against a fake server on localhost: what it sends, how it reads the
reply, that every failure ends the run with a reason, and that it is off unless the deployer names an endpoint."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.agents import endpoint as E
from core.agents import loop
from core.agents.tools import SearchTool


class FakeServer:
    """A chat-completions server that answers from a script of replies and records every request body."""

    def __init__(self, replies):
        self.replies, self.requests = list(replies), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                reply = outer.replies.pop(0) if outer.replies else "Thought: done\nAction: finish[none]"
                if isinstance(reply, int):
                    self.send_response(reply)
                    self.end_headers()
                    return
                data = reply if isinstance(reply, bytes) else json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(replies):
        servers.append(FakeServer(replies))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_off_unless_named_and_only_http():
    assert E.endpoint_from_env({}) is None
    ep = E.endpoint_from_env({E.ENV_URL: "http://localhost:8080/v1/", E.ENV_MODEL: "qwen"})
    assert ep.base_url == "http://localhost:8080/v1" and ep.model == "qwen" and ep.host == "localhost:8080"
    for bad in ("file:///etc/passwd", "localhost:8080", "ftp://x/v1"):
        with pytest.raises(ValueError):
            E.endpoint_from_env({E.ENV_URL: bad})


def test_split_reply():
    assert E.split_reply(" I need the layers.\nAction 1: search[GPT-3 layers]\nmore") == \
        E.Decision("I need the layers.", "search[GPT-3 layers]")
    assert E.split_reply("Thought 2: compute\naction: calculator[2 + 2]") == E.Decision("compute", "calculator[2 + 2]")
    assert E.split_reply("just rambling") == E.Decision("just rambling", "")


def test_a_model_on_an_endpoint_drives_the_real_loop(server_factory):
    server = server_factory([" This is arithmetic.\nAction 1: calculator[17 * 23]",
                             " I have it.\nAction 2: finish[391]\nObservation 2: should be cut"])
    ep = E.Endpoint(server.url, "tiny", api_key="k")
    trace = loop.run_agent("What is 17 * 23?", E.endpoint_policy(ep, loop.react_prompt), 4,
                           search_tool=SearchTool.from_kb())
    assert trace.stop_reason == "finished" and trace.answer == "391" and trace.policy == "endpoint"
    assert [s.tool for s in trace.steps] == ["calculator", "finish"] and trace.steps[0].observation == "391"
    assert all(s.think_seconds > 0 for s in trace.steps)
    first, second = server.requests
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k" and first["model"] == "tiny"
    assert first["temperature"] == 0 and first["stop"] == ["\nObservation"]
    assert first["messages"][0]["content"] == loop.react_prompt("What is 17 * 23?")
    assert "Observation 1: 391" in second["messages"][0]["content"]  # the real tool's output went back in


@pytest.mark.parametrize("reply, reason", [(500, "HTTP 500"), (b"not json", "did not return"),
                                           (b'{"choices": []}', "did not return")])
def test_a_failing_endpoint_ends_the_run_with_its_reason(server_factory, reply, reason):
    server = server_factory([reply])
    trace = loop.run_agent("What is 2 + 2?", E.endpoint_policy(E.Endpoint(server.url), loop.react_prompt), 3,
                           search_tool=SearchTool.from_kb())
    assert trace.stop_reason == "finished" and len(trace.steps) == 1
    assert trace.answer.startswith("no answer: the endpoint failed") and reason in trace.answer


def test_no_server_and_hostile_replies_crash_nothing(server_factory):
    dead = E.Endpoint("http://127.0.0.1:9/v1", timeout_s=2)  # port 9 (discard): nothing listens
    trace = loop.run_agent("What is 2 + 2?", E.endpoint_policy(dead, loop.react_prompt), 2,
                           search_tool=SearchTool.from_kb())
    assert "could not reach" in trace.answer
    # a model's text is untrusted: a shell command or a missing Action becomes an error Observation, not an action
    server = server_factory(["Action 1: shell[rm -rf /]", "no action at all", "Action: calculator[__import__('os')]"])
    trace = loop.run_agent("What is 2 + 2?", E.endpoint_policy(E.Endpoint(server.url), loop.react_prompt), 3,
                           search_tool=SearchTool.from_kb())
    assert trace.stop_reason == "step limit" and not any(s.ok for s in trace.steps)


def test_a_run_has_a_time_budget():
    asked = []

    def slow_chat(endpoint, prompt):
        asked.append(endpoint.timeout_s)
        return "Action: calculator[1 + 1]"

    policy = E.endpoint_policy(E.Endpoint("http://127.0.0.1:9/v1", timeout_s=20), loop.react_prompt, slow_chat,
                               budget_s=0.0)
    trace = loop.run_agent("What is 1 + 1?", policy, 5, search_tool=SearchTool.from_kb())
    assert asked == [] and "budget" in trace.answer
    policy = E.endpoint_policy(E.Endpoint("http://127.0.0.1:9/v1", timeout_s=20), loop.react_prompt, slow_chat,
                               budget_s=5.0)
    loop.run_agent("What is 1 + 1?", policy, 2, search_tool=SearchTool.from_kb())
    assert len(asked) == 2 and all(0 < t <= 5.0 for t in asked)  # each request waits at most what is left


def test_the_agents_page_offers_the_endpoint_only_when_named(server_factory, monkeypatch):
    from conftest import assert_ok, open_page

    at = open_page("app_pages/agents.py")
    assert not any("A model at" in o for o in at.radio(key="policy").options)
    server = server_factory([" Arithmetic: the calculator.\nAction 1: calculator[(17 * 23) + sqrt(144)]",
                             " Done.\nAction 2: finish[403]"])
    monkeypatch.setenv(E.ENV_URL, server.url)
    monkeypatch.setenv(E.ENV_MODEL, "fake-model")
    at = open_page("app_pages/agents.py")
    at.selectbox(key="task").set_value("arithmetic").run()
    assert "A model at 127.0.0.1" in at.radio(key="policy").options[-1]
    at.radio(key="policy").set_value("endpoint").run()
    assert_ok(at, "Agents")
    assert "403" in "\n".join(s.value for s in at.success)
    steps = "\n".join(m.value for m in at.markdown)
    assert "written by the model fake-model at 127.0.0.1" in steps and " ms" in steps
    assert len(server.requests) == 2
    monkeypatch.setenv(E.ENV_URL, "file:///etc/passwd")
    at = open_page("app_pages/agents.py")
    assert_ok(at, "Agents")
    assert any("endpoint driver is off" in w.value for w in at.warning)


def test_the_rag_page_generates_a_cited_answer_through_the_endpoint(server_factory, monkeypatch):
    from conftest import assert_ok
    from test_page_rag_sections import open_section

    at = open_section("Grounded answer")
    assert not [b for b in at.button if b.key == "g_generate"]  # off unless an endpoint is named
    server = server_factory(["The cache stores keys and values [1]. It grows with the context [9]."])
    monkeypatch.setenv(E.ENV_URL, server.url)
    at = open_section("Grounded answer")
    at.button(key="g_generate").click().run()
    assert_ok(at, "RAG")
    assert any("stores keys and values [1]" in s.value for s in at.success)
    assert any("[9]" in w.value and "did not hold" in w.value for w in at.warning)
    sent = server.requests[0]
    assert "stop" not in sent and sent["messages"][0]["content"].startswith("### System")
