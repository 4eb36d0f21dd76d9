"""What every page shares around its content: presenter mode, the glossary in the sidebar, and a link
that reopens exactly this view. Home.py calls `top()` before the page runs and `bottom()` after it.
"""
from urllib.parse import urlencode

import streamlit as st

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
