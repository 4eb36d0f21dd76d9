"""The landing page: what each page teaches, the three learning paths, and which models are here."""
import pandas as pd
import streamlit as st

from core.content.home import LEARNING_PATHS, PAGE_FILES, PAGE_SUMMARIES
from core.models import availability

st.title("🧪 LLM Lab")
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
tabs = st.tabs(list(LEARNING_PATHS))
for tab, (path, steps) in zip(tabs, LEARNING_PATHS.items()):
    with tab:
        for n, (page, what) in enumerate(steps, 1):
            st.page_link(PAGE_FILES[page], label=f"{n}. **{page}**: {what}")

st.subheader("Models on this machine")
st.dataframe(pd.DataFrame(availability())[["key", "kind", "source", "available", "description", "why"]],
             hide_index=True, width="stretch")
st.caption("Bundled models are rebuilt by `python scripts/build_assets.py`; optional hub models are only "
           "used if they are already in the local Hugging Face cache.")
