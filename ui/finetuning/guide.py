"""Fine-tuning · Guide: prompting vs RAG vs full fine-tuning vs PEFT, when each wins, filled with this page's own
measurements: few-shot prompting measured here, and the results this session kept from the other sections
(core.finetuning.guide).
"""
import math

import pandas as pd
import streamlit as st

import ui
from core.content.home import PAGE_URLS
from core.finetuning import guide
from core.state import Param
from ui.finetuning import kept

PARAMS = [Param("guide_shots", 4, 0, guide.MAX_SHOTS, step=1)]
SOURCES = {"pf": "PEFT families", "ql": "QLoRA", "sft": "Instruction tuning"}


@ui.cached_compute(max_entries=guide.MAX_SHOTS + 1, max_size="1MB")  # a few forward passes: about a second
def _few_shot(shots: int) -> guide.PromptingResult:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return guide.few_shot(model, tokenizer, shots)


def _measured_table(prompting, peft, qlora) -> None:
    rows = guide.measured_rows(prompting, peft, qlora)
    df = pd.DataFrame(rows)
    df["trainable"] = df.trainable.map("{:,}".format)
    df["answer_loss"] = df.answer_loss.round(3)
    df["peak_MB"] = df.peak_MB.map(lambda v: "—" if math.isnan(v) else f"{v:.1f}")
    st.dataframe(df.rename(columns={"answer_loss": "held-out answer-token loss", "extra_tokens": "tokens added to "
                                    "every query", "peak_MB": "peak MB of a training step"}),
                 hide_index=True, width="stretch")
    st.caption("One yardstick for all: the next-token loss on the answer tokens of the 8 held-out QA pairs (the "
               "question and any examples carry none). Lower is better; measured on this shared server's CPU.")


def render() -> None:
    st.markdown(
        "Four ways to make a pretrained model do a new job, from cheapest to most invasive. They are not rivals: "
        "prompting and RAG change what the model **reads**, fine-tuning and PEFT change what it **is**, and real "
        "systems combine them (a LoRA-tuned model answering over retrieved passages).")
    ui.bind_params(PARAMS)
    if not ui.require_model("tiny-lm"):
        return
    shots = st.slider("Examples in the prompt (few-shot prompting, measured now)", 0, guide.MAX_SHOTS,
                      key="guide_shots")
    ui.sync_params(PARAMS)
    with ui.heavy("Prompting the base model"):
        prompting = _few_shot(shots)
    peft, qlora, sft = kept("pf"), kept("ql"), kept("sft")
    st.subheader("What this page measured")
    _measured_table(prompting, peft, qlora)
    st.markdown(
        f"With {prompting.shots} examples in front, tiny-lm's answer loss goes from "
        f"{prompting.zero_shot_answer_loss:.2f} to {prompting.answer_loss:.2f} and every query pays "
        f"{prompting.context_tokens} more tokens; its answer to *Who built the ark?* is `{prompting.answers[0]}`. "
        "A 3M-parameter model barely learns in context; in-context learning appears with scale (Brown et al. "
        "2020), which is why prompting is the first thing to try on a large model and the last on a tiny one.")
    missing = [name for key, name in SOURCES.items() if kept(key) is None]
    if missing:
        st.info("Run the " + ", ".join(f"**{m}**" for m in missing) + " section(s) of this page to add their "
                "measurements here (results are kept for your session).")

    st.subheader("When each wins")
    rag = f"Measured on the [RAG & long context]({PAGE_URLS['RAG & long context']}) page: recall of the index types, " \
          "the retrieved chunks and the assembled prompt."
    rows = guide.guide_rows(peft=peft, qlora=qlora, sft=sft, rag_measured=rag, prompting=prompting)
    st.dataframe(pd.DataFrame([{"approach": r.approach, "changes": r.changes, "cost to adapt": r.cost_to_adapt,
                                "cost per query": r.cost_per_query, "wins when": r.wins_when,
                                "loses when": r.loses_when} for r in rows]), hide_index=True, width="stretch")
    for r in rows:
        st.markdown(f"- **{r.approach}**, measured here: {r.measured or 'run its section to measure it.'}")
    st.markdown(
        "**A rule of thumb.** Try prompting first. If the model lacks *knowledge* (large, private, changing), "
        "add retrieval. If it lacks a *behaviour* (a format, a style, a task), fine-tune, and start with PEFT: "
        "LoRA or QLoRA gets close to full fine-tuning for a fraction of the memory, merges away at inference, and "
        "lets one base model carry many tasks. Full fine-tuning pays off for large shifts with plenty of data and "
        "hardware. To make answers *preferred* rather than merely correct, add preference tuning (DPO) on top.")
    ui.papers(("GPT-3: language models are few-shot learners (Brown et al. 2020)", "https://arxiv.org/abs/2005.14165"),
              ("RAG (Lewis et al. 2020)", "https://arxiv.org/abs/2005.11401"),
              ("LoRA (Hu et al. 2021)", "https://arxiv.org/abs/2106.09685"),
              ("QLoRA (Dettmers et al. 2023)", "https://arxiv.org/abs/2305.14314"))
    ui.code_behind(guide.few_shot, guide.guide_rows, guide.measured_rows)
