"""The Agents page's parts that live outside app_pages/agents.py, one module each: toolformer (a tiny LM
fine-tuned to call the tools, and Toolformer's with-and-without-tools measurement) and injection (planted
documents against the policies, defences on and off). Each exposes
`render() -> None`; the page writes the part's header."""
import streamlit as st

from core.agents.tools import SearchTool


@st.cache_resource(show_spinner=False)
def search_tool() -> SearchTool:
    """The knowledge base's search index: one per process, shared by the page and its parts (read-only)."""
    return SearchTool.from_kb()
