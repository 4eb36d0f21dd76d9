"""Inference: what it costs to run a model, and every trick that makes it cheaper, measured here."""
import streamlit as st

import ui
from core.state import Param
from ui.inference import decoding, kv_cache, quantization, serving, speculative

st.title("⚡ Inference")
st.markdown(
    "Training happens once; inference happens every time someone uses the model. This page measures, "
    "on **your** machine, what each inference trick buys: how the next token is chosen, why the KV cache "
    "makes generation linear instead of quadratic, what quantization saves and costs, how a small draft "
    "model speeds up a big one, and how servers batch many users at once."
)

SECTIONS = {
    "Decoding": decoding.render,
    "KV cache": kv_cache.render,
    "Quantization": quantization.render,
    "Speculative decoding": speculative.render,
    "Serving": serving.render,
}
PARAMS = [Param("section", "Decoding", choices=tuple(SECTIONS))]

ui.bind_params(PARAMS)
section = st.segmented_control("Section", list(SECTIONS), key="section", required=True)
ui.sync_params(PARAMS)
SECTIONS[section or "Decoding"]()

ui.quiz("Inference")
