#!/usr/bin/env bash
# Install the test tools and run every test: the one test command (README.md; CI runs it as .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q -r requirements-dev.txt
# The browser, load and replica tests drive Debian's Chromium (and nginx in front of two replicas); install
# them where we may (root with apt), else those tests are skipped with their reason.
missing=""
command -v chromium >/dev/null || missing="$missing chromium"
{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || missing="$missing nginx"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq $missing >/dev/null) \
    || echo "could not install chromium/nginx: the browser, load and replica tests will be skipped"
fi
# Two test processes (one file each at a time, one torch thread each) keep both cores busy: most of a page test
# is single-threaded Python. LLM_LAB_TEST_WORKERS=1 runs them in one process.
workers=${LLM_LAB_TEST_WORKERS:-2}
if [ "$workers" -gt 1 ]; then
  LLM_LAB_THREADS=${LLM_LAB_THREADS:-1} python -m pytest -q -n "$workers" --dist loadfile --durations=20 "$@"
else
  python -m pytest -q --durations=20 "$@"
fi
# The classroom load test (a real server, 10 browser sessions and a heavy run: about 4 minutes) and the
# two-replica test (about 1 minute) need the machine to themselves: they run alone, after the others, when the
# whole suite was asked for (LLM_LAB_LOAD_TEST=1 python -m pytest -s tests/test_load.py runs one of them).
if [ $# -eq 0 ]; then
  LLM_LAB_LOAD_TEST=1 python -m pytest -q -s tests/test_load.py tests/test_replicas.py
fi
