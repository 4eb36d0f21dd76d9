"""Inference: what it costs to run a model, and every trick that makes it cheaper, measured here."""
import streamlit as st

import ui
from core.state import Param
from ui.inference import (
    decoding,
    kv_cache,
    quantization,
    serving,
    speculative,
    time_budget,
)

st.title("Inference")
ui.explain(
    "Training happens once; inference happens every time someone uses the model. This page measures, "
    "on **your** machine, what each inference trick buys: how the next token is chosen, why the KV cache "
    "makes each step run one token instead of the whole prefix (linear token-passes; attention still reads the "
    "whole cache), what quantization saves and costs, how a small draft "
    "model speeds up a big one, how servers batch many users at once, and where a decode step's time goes."
)

SECTIONS = {
    "Decoding": decoding.render,
    "KV cache": kv_cache.render,
    "Quantization": quantization.render,
    "Speculative decoding": speculative.render,
    "Serving": serving.render,
    "Where the time goes": time_budget.render,
}
PARAMS = [Param("section", "Decoding", choices=tuple(SECTIONS))]

ui.bind_params(PARAMS)
section = st.segmented_control("Section", list(SECTIONS), key="section", required=True)
ui.sync_params(PARAMS)
# A link may carry any section's values; the shown section cleans its own, this cleans the others' (as the
# widgets would read them), so the URL never passes on a value no widget can hold.
for param in (p for module in (decoding, kv_cache, quantization, speculative, serving, time_budget)
              for p in module.PARAMS):
    raw = st.query_params.get(param.key)
    if raw is not None and raw != param.dump(param.parse(raw)):
        st.query_params[param.key] = param.dump(param.parse(raw))
SECTIONS[section or "Decoding"]()

ui.quiz("Inference")
