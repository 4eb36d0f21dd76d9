"""A classroom against the real server: 10 concurrent browser sessions walk every page twice while one more
session keeps the heaviest action (Fine-tuning's "Train both", at the page's step cap) running.

Checks that every session finishes every page with no exception element (Streamlit draws exceptions as
data-testid="stException") and no JavaScript error, and that the second visits (cache hits) stay fast while
the heavy action holds the compute lock: the lock is taken inside cached functions, so a hit never waits.
The bound is generous (LLM_LAB_LOAD_P95_S, default 30 s): it catches a cache hit queued behind the heavy run,
not a slow machine. The same driver prints figures: `python -m bench.load` (measure on a quiet machine).

Needs Debian's chromium (scripts/test.sh installs it when it can); skipped with the reason otherwise.
"""
import asyncio
import os

import pytest

from bench import load

# Ten browsers and the server share the machine's cores: on 2 cores one run takes 10-15 minutes, more than CI's
# whole budget, so it runs on request (LLM_LAB_LOAD_TEST=1) and `python -m bench.load` gives the same figures.
pytestmark = [
    pytest.mark.skipif(load.CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)"),
    pytest.mark.skipif(os.environ.get("LLM_LAB_LOAD_TEST") != "1",
                       reason="10 browser sessions take 10-15 minutes on 2 cores: set LLM_LAB_LOAD_TEST=1"),
]

SESSIONS = 10
P95_BOUND_S = float(os.environ.get("LLM_LAB_LOAD_P95_S", "30"))


@pytest.fixture(scope="module")
def classroom():
    with load.serve() as server:
        result = asyncio.run(load.drive(server.url, sessions=SESSIONS, rounds=2, heavy="fine_tuning", timeout_s=600))
        print("\n" + load.summary(result, server.pid, "fine_tuning"))
        yield result


def test_every_session_visits_every_page(classroom):
    assert not classroom.failures, classroom.failures
    pages = {path for path, _ in load.home_pages()}
    for n in range(SESSIONS):
        seen = [v.path for v in classroom.visits if v.session == n]
        assert sorted(seen) == sorted(list(pages) * 2), (n, seen)


def test_no_exception_and_no_javascript_error(classroom):
    assert not classroom.exceptions, classroom.exceptions[:5]
    assert not classroom.console_errors, classroom.console_errors[:5]


def test_heavy_action_ran_and_finished_cleanly(classroom):
    assert classroom.heavy, "the heavy action never completed a run"
    assert all(not h.exceptions for h in classroom.heavy)


def test_cached_page_loads_stay_fast_while_the_heavy_action_runs(classroom):
    during = classroom.times(later=True, during_heavy=True)
    assert during, "no second visit overlapped a heavy run: the check would prove nothing"
    p95 = load.percentile(during, 95)
    assert p95 < P95_BOUND_S, f"p95 of cached page loads during the heavy action: {p95:.1f} s (bound {P95_BOUND_S} s)"
