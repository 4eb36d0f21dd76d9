"""What every page shares around its content: presenter mode, the glossary in the sidebar, and a link
that reopens exactly this view. Home.py calls `top()` before the page runs and `bottom()` after it.
"""
import json
import os
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import streamlit as st

from core.compute import COMPUTE_LOCK
from core.content.home import PAGE_FILES
from core.state import Param

PRESENT = Param("present", False)

# Streamlit sizes text in rem, so one root font size scales the page; charts are zoomed to match.
PRESENTER_CSS = """
<style>
html { font-size: 21px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.15rem; line-height: 1.5; }
h1 { font-size: 2.6rem !important; }
h2, h3 { font-size: 1.9rem !important; }
[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"] { zoom: 1.35; }
[data-testid="stCaptionContainer"] { font-size: 1rem; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
</style>
"""


@contextmanager
def run_log(page):
    """Around one script run. With LLM_LAB_RUN_LOG=<file> set (the load test sets it; off by default), append
    a JSON line per run: when it started, how long it took on the server (and the CPU time of its own thread),
    which page and session, how long it waited for the compute lock and how many times it took it (0: it only
    read caches), and how it ended. What a browser adds (drawing the page) is left out: this is the server's
    share of a page time."""
    path = os.environ.get("LLM_LAB_RUN_LOG")
    if not path:
        yield
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    COMPUTE_LOCK.thread_stats(reset=True)
    start, cpu, wall, ended = time.perf_counter(), time.thread_time(), time.time(), "ok"
    try:
        yield
    except BaseException as err:  # st.stop() and st.rerun() end a run with an exception too
        ended = type(err).__name__
        raise
    finally:
        waited, holds = COMPUTE_LOCK.thread_stats(reset=True)
        ctx = get_script_run_ctx()
        line = {"start": wall, "seconds": round(time.perf_counter() - start, 4),
                "cpu_s": round(time.thread_time() - cpu, 4), "page": page.url_path,
                "session": ctx.session_id if ctx else "", "lock_wait_s": round(waited, 4), "lock_holds": holds,
                "ended": ended}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def top() -> None:
    """Presenter mode (`?present=1` or the sidebar toggle) and the glossary search, before the page."""
    if PRESENT.key not in st.session_state:
        raw = st.query_params.get(PRESENT.key)
        st.session_state[PRESENT.key] = PRESENT.default if raw is None else PRESENT.parse(raw)
    on = st.sidebar.toggle("Presenter mode", key=PRESENT.key,
                           help="Large type and charts for a projector; the setting travels in the link.")
    if on:
        st.html(PRESENTER_CSS)
    glossary_sidebar()


def bottom() -> None:
    """After the page has written its settings to the URL: the link that reopens this exact view."""
    params = {k: v for k, v in st.query_params.to_dict().items()}
    if st.session_state.get(PRESENT.key):
        params[PRESENT.key] = "1"
    else:
        params.pop(PRESENT.key, None)
        if PRESENT.key in st.query_params:
            del st.query_params[PRESENT.key]
    link = (st.context.url or "") + (("?" + urlencode(params)) if params else "")  # no URL in bare AppTest runs
    with st.sidebar.expander("Copy a link to this view"):
        st.code(link, language=None, wrap_lines=True)
        st.caption("Every setting and seed on the page is in it: the link reopens this view exactly.")


def glossary_sidebar() -> None:
    """Search the glossary from any page; each hit links to the section that demonstrates it."""
    query = st.sidebar.text_input("Glossary", key="glossary_q", max_chars=60, placeholder="e.g. RoPE, KV cache")
    if not query.strip():
        return
    from core.content import glossary

    hits = glossary.search(query)[:6]
    if not hits:
        st.sidebar.caption("No term matches that.")
    for entry in hits:
        show_entry(entry, st.sidebar)


def show_entry(entry, where=st) -> None:
    """One glossary entry: the term, its one-line definition (plain text) and a link to its demo."""
    where.markdown(f"**{entry.term}**")
    where.text(entry.definition)
    from ui import section_query

    where.page_link(PAGE_FILES[entry.page], label=f"See it: {entry.page}" + (f", {entry.section}" if entry.section else ""),
                    query_params=section_query(entry.page, entry.section))
