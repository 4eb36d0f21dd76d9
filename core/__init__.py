"""LLM Lab's logic: plain Python on torch and transformers, no Streamlit (tests check this)."""
