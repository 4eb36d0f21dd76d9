"""LLM Lab: the entry point. `streamlit run Home.py`."""
import streamlit as st

st.set_page_config(page_title="LLM Lab", page_icon="🧪", layout="wide")

PAGES = [
    st.Page("pages/transformer.py", title="Transformer", icon="🔍", url_path="transformer"),
    st.Page("pages/pretraining.py", title="Pretraining", icon="📚", url_path="pretraining"),
    st.Page("pages/fine_tuning.py", title="Fine-tuning", icon="🎯", url_path="fine_tuning"),
    st.Page("pages/inference.py", title="Inference", icon="⚡", url_path="inference"),
    st.Page("pages/multimodal.py", title="Multimodal", icon="🖼️", url_path="multimodal"),
    st.Page("pages/agents.py", title="Agents", icon="🤖", url_path="agents"),
    st.Page("pages/rag.py", title="RAG & long context", icon="🔎", url_path="rag"),
]
HOME = st.Page("pages/home.py", title="Home", icon="🧪", default=True)

st.navigation({"LLM Lab": [HOME], "Pages": PAGES}).run()
