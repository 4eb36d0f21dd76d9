"""The slowest page's first render, warm: every page of Home.py rendered once (loading models into the
process-wide cache), then each timed in a second, fresh AppTest session through Home.py.

This is what a student sees when opening a page on a server that is already running: models are
loaded, but the session's own work (and its cached computations at default settings) runs again.
Streamlit's caches are per process, so the second session reuses the first one's cached results.
"""
import os
import re
import time
from pathlib import Path

from bench.common import Figure

ROOT = Path(__file__).resolve().parent.parent


def home_pages() -> list[str]:
    """The page files Home.py navigates to, in order: ['app_pages/home.py', 'app_pages/transformer.py', ...]."""
    found = re.findall(r"""st\.Page\(\s*["']([^"']+\.py)["']""", (ROOT / "Home.py").read_text())
    return sorted(set(found), key=found.index)


def render_seconds(page: str, timeout: float = 300) -> tuple[float, list[str]]:
    """(seconds, problems) of one fresh session's first render of `page`, through Home.py."""
    from streamlit.testing.v1 import AppTest

    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout)
    start = time.perf_counter()
    at.run()  # Home.py renders its default page (app_pages/home.py) first
    if not page.endswith("home.py"):
        start = time.perf_counter()
        at.switch_page(page)
        at.run()
    seconds = time.perf_counter() - start
    problems = [str(e.value)[:200] for e in at.exception]
    if not at.title:  # every page opens with st.title: without one, the page did not really render
        problems.append("no title rendered")
    return seconds, problems


def run(quick: bool = False) -> list[Figure]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    pages = [p for p in home_pages() if (ROOT / p).exists()]
    missing = [p for p in home_pages() if not (ROOT / p).exists()]
    cold, warm, errors = {}, {}, {}
    for page in pages:
        cold[page], _ = render_seconds(page)
    for page in pages:
        warm[page], problems = render_seconds(page)
        if problems:
            errors[page] = problems
    slowest = max(warm, key=warm.get)
    notes = []
    if warm[slowest] > 2.0:
        notes.append(f"slowest: {slowest} ({warm[slowest]:.1f} s); over 2 s: "
                     + ", ".join(f"{p} {s:.1f} s" for p, s in sorted(warm.items(), key=lambda kv: -kv[1]) if s > 2.0))
    if errors:
        notes.append(f"problems on {sorted(errors)}")
    if missing:
        notes.append(f"missing pages {missing}")
    return [Figure("page_first_render_s_max", warm[slowest], "s", 1,
                   f"slowest of {len(pages)} pages' first render in a fresh AppTest session via Home.py, models warm",
                   note="; ".join(notes),
                   details={"warm_s": {p: round(s, 2) for p, s in warm.items()},
                            "cold_s": {p: round(s, 2) for p, s in cold.items()}, "slowest": slowest,
                            "problems": errors, "missing": missing})]
