"""The landing page: what each page teaches, the three learning paths as guided routes, the glossary,
teaching with the app, and which models are here."""
import pandas as pd
import streamlit as st

from core.content.home import LEARNING_PATHS, PAGE_FILES, PAGE_SUMMARIES
from core.models import availability
from ui import chrome

st.title("LLM Lab")
st.markdown(
    "Learn how large language models work by **running real ones**: every chart on these pages is "
    "computed live, on your machine, by small models that ship with the app. No cloud, no API key, "
    "no model hub."
)

st.subheader("The pages")
cols = st.columns(2)
for i, (page, summary) in enumerate(PAGE_SUMMARIES.items()):
    with cols[i % 2]:
        st.page_link(PAGE_FILES[page], label=f"**{page}**")
        st.markdown(summary)

st.subheader("Three learning paths")
st.caption("Each stop opens its page at the right section with the right settings. Tick a stop when you have "
           "tried it: your progress is kept while this browser tab is open.")
tabs = st.tabs(list(LEARNING_PATHS))
for tab, (path, stops) in zip(tabs, LEARNING_PATHS.items()):
    with tab:
        done = 0
        for n, stop in enumerate(stops, 1):
            key = f"path_{path}_{n}"
            left, right = st.columns([0.06, 0.94])
            with left:
                done += st.checkbox("done", key=key, label_visibility="collapsed")
            with right:
                st.page_link(PAGE_FILES[stop.page], label=f"{n}. **{stop.page}**: {stop.what}",
                             query_params=stop.query() or None)
                st.markdown(f"*Try this:* {stop.try_this} *Expect:* {stop.expect}")
        st.progress(done / len(stops), text=f"{done} of {len(stops)} stops done")

st.subheader("Glossary")
query = st.text_input("Search a term", key="home_glossary", max_chars=60, placeholder="perplexity, GQA, InfoNCE…")
if query.strip():
    from core.content import glossary

    hits = glossary.search(query)
    if not hits:
        st.info("No term matches that. Try a shorter word.")
    for entry in hits[:12]:
        chrome.show_entry(entry)

st.subheader("Teaching with LLM Lab")
st.markdown(
    "- **Presenter mode** (sidebar, or `?present=1` in any link) sets large type and charts for a projector.\n"
    "- **Links reopen a view exactly**: every page keeps its settings and seeds in the address; the sidebar's "
    "*Copy a link to this view* gives the link to share with the class.\n"
    "- **Thirty students on one app** share one CPU lock: identical requests compute once, results already "
    "computed show at once, and everyone else queues first come, first served."
)

st.subheader("Models on this machine")
st.dataframe(pd.DataFrame(availability())[["key", "kind", "source", "available", "description", "why"]],
             hide_index=True, width="stretch")
st.caption("Bundled models are rebuilt by `python scripts/build_assets.py`; optional hub models are only "
           "used if they are already in the local Hugging Face cache.")
