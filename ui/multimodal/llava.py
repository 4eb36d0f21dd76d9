"""Multimodal · 4: the trained tiny LLaVA (core.multimodal.llava): the explanation and the math, its visual
tokens, its answer about the page's current picture, and its accuracy on held-out pictures against a baseline
blind to the picture."""
import numpy as np
import streamlit as st

import ui
from core import models
from core.multimodal import llava, llava_train
from core.multimodal.shapes import Spec
from core.state import Param

PARAMS = [
    Param("llava_task", "caption", choices=llava.TASKS),
    Param("llava_n", 50, 10, 100, step=10),
]


@ui.cached_compute(max_entries=64, max_size="2MB")
def _llava(picture: np.ndarray, task: str) -> llava.LlavaTrace:
    return llava.llava_trace(ui.tiny_llava(), picture, task)


@ui.cached_compute(max_entries=16, max_size="1MB")
def _llava_accuracy(n: int) -> dict:
    return llava.evaluate(ui.tiny_llava(), n=n)


def render(small: np.ndarray, truth: dict | None) -> None:
    ui.explain(
        "CLIP only *compares* pictures and text. To let a language model *talk* about a picture, LLaVA (Liu et al. "
        "2023) takes the patch features of a CLIP vision tower (ViT-L/14, from the layer before the last, one "
        "vector per patch), maps them with a trainable projector into the LLM's word-embedding space, and "
        "puts these *visual tokens* in front of the text tokens. The LLM then reads them like words. Training, per "
        "the paper: stage 1 trains only the projector on image-caption pairs (595K filtered from CC3M) with CLIP and "
        "the LLM frozen; stage 2 fine-tunes the projector and the LLM on 158K generated instruction-following "
        "examples, the loss on the answer tokens only. LLaVA-1.5 replaces the linear projector with a 2-layer MLP.")
    st.latex(r"Z_v = \mathrm{CLIP}_{\text{layer }-2}(X_v) \in \mathbb{R}^{N\times C_v},\qquad "
             r"H_v = W_2\,\mathrm{GELU}(W_1 Z_v),\quad H_v \in \mathbb{R}^{N\times C_{\mathrm{LLM}}}")
    st.latex(r"\text{LLM input} = [\,H_v;\ H_q\,] \in \mathbb{R}^{(N + T)\times C_{\mathrm{LLM}}},\qquad "
             r"L = -\textstyle\sum_{t\,\in\,\text{answer}} \log p(x_t \mid H_v, x_{<t})")
    st.markdown(
        "**Our tiny LLaVA** does the same at toy scale: the frozen tiny CLIP's 16 patch features (64 numbers each) "
        "go through a 2-layer MLP into tiny-lm's 192-dimensional embedding space. Stage 1 trained the projector "
        "alone on captions of synthetic pictures (tiny-lm frozen: it only ever read the King James Bible); stage 2 "
        "trained the projector and a LoRA (rank 8, on every linear layer of tiny-lm) on four instructions. "
        f"{_llava_build_line()}")
    if not st.toggle("Run the trained tiny LLaVA on this picture", key="llava"):
        return
    if not (ui.require_model("tiny-llava") and ui.require_model("tiny-lm")):
        return
    task = st.selectbox("Instruction", llava.TASKS, key="llava_task", format_func=llava.PROMPTS.get)
    with ui.heavy("Running CLIP + projector + tiny Llama"):
        trace = _llava(small, task)
    right = None if truth is None else llava.answer_text(Spec(truth["shape"], truth["colour"], truth["position"]), task)
    st.markdown(f"**Prompt:** `<16 visual tokens>{llava.prompt_text(task)}`")
    st.text(f"Answer (greedy): {trace.answer}")  # plain text: the model's words, never markdown
    if right is not None:
        st.markdown(":material/check_circle: matches the picture" if trace.answer == right
                    else f":material/cancel: the picture shows *{right}*")
    c1, c2 = st.columns([3, 2])
    c1.dataframe([{"step": r[0], "shape": " × ".join(map(str, r[1])), "dimensions": r[2]} for r in trace.rows],
                 hide_index=True)
    side = max(r for r, *_ in trace.nearest) + 1
    grid = [{f"col {c}": "" for c in range(side)} for _ in range(side)]
    for r, c, _, token, cos in trace.nearest:
        grid[r][f"col {c}"] = f"{token} ({cos:.2f})"
    c2.dataframe(grid, hide_index=False)
    norms = [n for *_, n, _, _ in trace.nearest]
    c2.caption(f"Each visual token's nearest word of tiny-lm's vocabulary (cosine), laid out as the picture's "
               f"{side}×{side} patches. Their norms are {min(norms):.1f} to {max(norms):.1f}, against "
               f"{trace.text_norm:.2f} for an average word: the projector need not land on words, only somewhere the "
               "LM can read. A low cosine means the token sits between words, a direction no word has.")
    st.caption(f"Real tensors from one forward pass: {trace.n_image_tokens} visual tokens + {trace.n_text_tokens} "
               f"text tokens. The projector has {trace.projector_params:,} trained parameters.")
    measure_llava_ui()
    ui.code_behind(llava.answer, llava.join, llava.greedy_generate, llava_train.collate, llava_train.llava_loss,
                   llava.load_tiny_llava)


def measure_llava_ui() -> None:
    c1, c2 = st.columns([3, 1])
    n = c1.slider("Held-out pictures to score", 10, 100, key="llava_n", step=10)
    if c2.button("Measure accuracy", key="llava_measure", icon=":material/straighten:"):
        st.session_state["llava_measured"] = n
    if st.session_state.get("llava_measured") != n:
        st.caption("Scores the four instructions on pictures never seen in training, with the picture and with "
                   "the visual tokens removed.")
        return
    with ui.heavy(f"Answering 4 instructions on {n} pictures, twice"):
        res = _llava_accuracy(n)
    rows = [{"instruction": llava.PROMPTS[t], "with the picture": res["with_image"][t],
             "without (text only)": res["without_image"][t], "majority answer": res["majority"][t]}
            for t in llava.TASKS]
    rows += [{"instruction": f"…caption names the right {a}", "with the picture": res["with_image"][f"caption_{a}"],
              "without (text only)": res["without_image"][f"caption_{a}"], "majority answer": None}
             for a in ("colour", "shape", "position")]
    st.dataframe(rows, hide_index=True, column_config={
        k: st.column_config.NumberColumn(format="percent") for k in ("with the picture", "without (text only)",
                                                                      "majority answer")})
    st.caption(f"Exact-match accuracy on {res['n']} held-out pictures (seeds from {res['first_seed']:,}; training "
               "used seeds below 1,000,000), greedy decoding, measured live on this server's CPU. *Without*: the "
               "same model with the 16 visual tokens removed, so it answers from the question alone (it was never "
               "trained without a picture, and mostly ends its answer at once). *Majority*: "
               "always the most frequent answer of these pictures, the best any answerer blind to the picture can "
               "do, so it is the honest baseline.")


@st.cache_data(max_entries=1, max_size="1MB", show_spinner=False)
def _llava_build_line() -> str:
    import json

    path = models.MODELS_DIR / "llava_report.json"
    if not path.exists():
        return "No build report found (assets/models/llava_report.json)."
    r = json.loads(path.read_text())
    h = r["heldout"]
    threads = f"{r['threads']} CPU thread" + ("s" if r["threads"] != 1 else "")
    return (f"Built in {r['total_seconds']:.0f} s on {threads} (build report); on {h['n']} held-out pictures "
            f"it names the colour {h['with_image']['colour']:.0%} of the time (blind: "
            f"{h['without_image']['colour']:.0%}, majority answer {h['majority']['colour']:.0%}), the shape "
            f"{h['with_image']['shape']:.0%} and the position {h['with_image']['position']:.0%}; whole captions are "
            f"exactly right {h['with_image']['caption']:.0%} of the time (assets/models/llava_report.json).")
