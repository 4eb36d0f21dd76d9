"""Two replicas behind nginx (deploy/nginx.conf): every page loads through the proxy, the sessions are spread
over both replicas, and each session stays on its replica for every request, websocket included.

Starts two `streamlit run Home.py` on free loopback ports and Debian's nginx as the current user with a
temporary prefix (pid, logs, temp files), the config being deploy/nginx.conf with this run's ports. Drives
sessions with the same Playwright driver as the load test (bench/load.py), each in its own browser context
(its own cookies: a student). Skipped with the reason when nginx or Chromium is missing
(apt-get install nginx chromium).
"""
import asyncio
import os
import re
import shutil
import subprocess
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench import load

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
CONF = load.ROOT / "deploy" / "nginx.conf"
HEADER = "x-llm-lab-replica"
SESSIONS = 4

pytestmark = [
    # Two servers and four browsers need the machine to themselves: scripts/test.sh runs this alone, after the rest.
    pytest.mark.skipif(os.environ.get("LLM_LAB_LOAD_TEST") != "1",
                       reason="runs alone, after the other tests (scripts/test.sh sets LLM_LAB_LOAD_TEST=1)"),
    pytest.mark.skipif(NGINX is None, reason="nginx not installed (apt-get install nginx)"),
    pytest.mark.skipif(load.CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)"),
]


def nginx_conf(port_a: int, port_b: int, public: int) -> str:
    """deploy/nginx.conf with this run's ports (the file names 8501, 8502 and 8080), as scripts/replicas.sh does."""
    text = CONF.read_text()
    for old in ("127.0.0.1:8501", "127.0.0.1:8502", "listen 127.0.0.1:8080;"):
        assert old in text, f"deploy/nginx.conf no longer contains {old!r}"
    return (text.replace("127.0.0.1:8501", f"127.0.0.1:{port_a}").replace("127.0.0.1:8502", f"127.0.0.1:{port_b}")
            .replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{public};"))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """(nginx url, the two replica addresses, nginx's prefix): both replicas and nginx running."""
    prefix = tmp_path_factory.mktemp("nginx")
    (prefix / "logs").mkdir()
    (prefix / "tmp").mkdir()
    with ExitStack() as stack:
        a = stack.enter_context(load.serve(log_dir=prefix / "logs"))
        b = stack.enter_context(load.serve(log_dir=prefix / "logs"))
        replicas = {a.url.removeprefix("http://"), b.url.removeprefix("http://")}
        public = load.free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_conf(int(a.url.rsplit(":", 1)[1]), int(b.url.rsplit(":", 1)[1]), public))
        check = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        stack.callback(lambda: (nginx.terminate(), nginx.wait(timeout=20)))
        url = f"http://127.0.0.1:{public}"
        load.wait_healthy(url, timeout_s=30, proc=nginx)
        yield url, replicas, prefix


@pytest.fixture(scope="module")
def walked(proxy):
    url, _, _ = proxy
    result = asyncio.run(load.drive(url, sessions=SESSIONS, rounds=1, heavy=None, timeout_s=600, replica_header=HEADER))
    print("\n" + load.summary(result))
    return result


def access_log(prefix: Path) -> list[dict]:
    """nginx's access log as dicts: request, status, upstream, cookie (format llm_lab in deploy/nginx.conf)."""
    time.sleep(0.5)  # nginx writes a websocket's line when it closes: the browser contexts just closed them
    pattern = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d+) upstream=(?P<upstream>\S*) cookie=(?P<cookie>\S*)')
    return [m.groupdict() for m in map(pattern.search, (prefix / "logs" / "access.log").read_text().splitlines()) if m]


def test_every_page_loads_through_the_proxy(walked):
    assert not walked.failures, walked.failures
    assert not walked.exceptions, walked.exceptions[:5]
    assert not walked.console_errors, walked.console_errors[:5]
    pages = sorted(path for path, _ in load.home_pages())
    for n in range(SESSIONS):
        assert sorted(v.path for v in walked.visits if v.session == n) == pages


def test_each_session_stays_on_one_replica(walked, proxy):
    _, replicas, _ = proxy
    for n in range(SESSIONS):
        seen = walked.replicas.get(n, set()) - {None}
        assert len(seen) == 1, f"session {n} was answered by {seen}"
        assert seen <= replicas


def test_sessions_are_spread_over_both_replicas(walked, proxy):
    _, replicas, _ = proxy
    used = set().union(*(walked.replicas[n] - {None} for n in range(SESSIONS)))
    assert used == replicas, f"all {SESSIONS} sessions went to {used}"


def test_websockets_follow_the_cookie(walked, proxy):
    """The websocket (where the Streamlit session lives) reaches the replica the session's cookie names."""
    _, replicas, prefix = proxy
    streams = [r for r in access_log(prefix) if "/_stcore/stream" in r["request"]]
    assert streams, "no websocket in nginx's access log"
    for r in streams:
        assert r["status"] == "101", r
        assert r["cookie"] in replicas and r["upstream"] == r["cookie"], r
    assert {r["upstream"] for r in streams} == replicas
    by_cookie = defaultdict(set)
    for r in access_log(prefix):
        if r["cookie"] not in ("", "-"):
            by_cookie[r["cookie"]].add(r["upstream"])
    assert all(upstreams == {cookie} for cookie, upstreams in by_cookie.items()), dict(by_cookie)


def test_a_forged_cookie_cannot_choose_the_upstream(proxy):
    """The cookie is client input: a value naming no replica falls back to round robin, never to that address."""
    import urllib.request

    url, replicas, _ = proxy
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Cookie": "llm_lab_replica=169.254.169.254:80"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == b"ok"
        assert response.headers[HEADER] in replicas
