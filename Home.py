"""LLM Lab: the entry point. `streamlit run Home.py`."""
import streamlit as st

from ui import chrome

st.set_page_config(page_title="LLM Lab", page_icon=":material/science:", layout="wide")

# Material icons are drawn from Streamlit's own icon font: they render on machines without an emoji font.
PAGES = [
    st.Page("app_pages/transformer.py", title="Transformer", icon=":material/hub:", url_path="transformer"),
    st.Page("app_pages/pretraining.py", title="Pretraining", icon=":material/menu_book:", url_path="pretraining"),
    st.Page("app_pages/fine_tuning.py", title="Fine-tuning", icon=":material/tune:", url_path="fine_tuning"),
    st.Page("app_pages/inference.py", title="Inference", icon=":material/bolt:", url_path="inference"),
    st.Page("app_pages/multimodal.py", title="Multimodal", icon=":material/image:", url_path="multimodal"),
    st.Page("app_pages/agents.py", title="Agents", icon=":material/smart_toy:", url_path="agents"),
    st.Page("app_pages/rag.py", title="RAG & long context", icon=":material/travel_explore:", url_path="rag"),
]
HOME = st.Page("app_pages/home.py", title="Home", icon=":material/science:", default=True)

page = st.navigation({"LLM Lab": [HOME], "Pages": PAGES})
with chrome.run_log(page):  # off unless LLM_LAB_RUN_LOG names a file (the load test's server-side times)
    chrome.top()
    page.run()
    chrome.bottom()
