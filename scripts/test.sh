#!/usr/bin/env bash
# Install the test tools and run every test: the one test command (README.md; CI runs it as .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q -r requirements-dev.txt
# The end-to-end test drives Debian's Chromium; install it where we may (root with apt), else it is skipped.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium: the browser test will be skipped"
fi
python -m pytest -q "$@"
