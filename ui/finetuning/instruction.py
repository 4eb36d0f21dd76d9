"""Fine-tuning · Instruction tuning: a chat template, which tokens carry the loss (masked to the response or not),
and both trainings measured on held-out instructions (core.finetuning.instruction).
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import finetuning_depth as charts
from core.finetuning import instruction as sft
from core.finetuning.loop import MAX_SECONDS, MAX_STEPS
from core.state import Param
from ui.finetuning import budget_notes, fmt_ms, progress, training_run

TRAIN, HELDOUT = sft.load_instructions()
MAX_NEW_TOKENS = 12  # per greedy answer: the expected answers are a few words (a test lowers it to stay short)
PARAMS = [
    Param("sft_example", 0, 0, len(TRAIN) - 1, step=1),
    Param("sft_mask", True),
    Param("sft_steps", 30, 2, MAX_STEPS, step=1),
    Param("sft_seed", 0, 0, 9999, step=1),
]


@st.cache_resource(show_spinner=False)
def _chat_tokenizer():
    """One copy of the tokenizer carrying our chat template, shared read-only (the model's own is never changed)."""
    _, tokenizer = ui.causal_lm("tiny-lm")
    return sft.chat_tokenizer(tokenizer)


@ui.cached_compute(max_entries=16, max_size="4MB")
def _compare(steps: int, seed: int, max_new_tokens: int) -> sft.MaskComparison:
    model, tokenizer = ui.causal_lm("tiny-lm")
    bar, on_progress = progress("SFT twice: prompt masked, then every token")
    cfg = sft.SFTConfig(steps=steps, seed=seed, max_new_tokens=max_new_tokens)
    comparison = sft.compare_masking(model, tokenizer, cfg, on_progress, max_seconds=MAX_SECONDS)
    bar.empty()
    return comparison


def _template(chat_tok) -> None:
    example = TRAIN[st.session_state.sft_example]
    st.code(sft.CHAT_TEMPLATE.replace("{%", "\n{%").strip(), language="jinja")
    st.caption("Our chat template (Jinja, like every Hugging Face chat template), set on a copy of the tokenizer "
               "and applied with its own `apply_chat_template`. A real chat model's template is the same idea with "
               "its own special tokens; a model must be prompted in the template it was tuned on.")
    text = chat_tok.apply_chat_template(sft.messages(example.instruction, example.response), tokenize=False)
    st.code(text, language=None)


def _mask(chat_tok) -> None:
    s = st.session_state
    example = TRAIN[s.sft_example]
    mask = sft.token_mask(chat_tok, example.instruction, example.response, s.sft_mask)
    ui.chart(charts.token_mask_chart, charts.token_mask_frame(mask))
    n_loss, n = sum(mask.in_loss), len(mask.pieces)
    st.caption(f"{n_loss} of {n} tokens are targets of the loss (orange). "
               + ("The user's turn and the template around it are labelled -100: the model reads them but is not "
                  "trained to write them. " if s.sft_mask else
                  "Every token but the first is a target: the model is also trained to write the user's turn. ")
               + "The first token is never a target: nothing comes before it. The end-of-text after the answer is a "
                 "target either way: it teaches the model to stop.")


def _describe(cmp: sft.MaskComparison) -> str:
    return f"{cmp.config.steps} steps, seed {cmp.config.seed}"


def _results(cmp: sft.MaskComparison) -> None:
    ui.chart(charts.mask_effect_bars, charts.mask_effect_frame(cmp))
    runs = {"base tiny-lm": cmp.base, "SFT, prompt masked": cmp.masked, "SFT, every token": cmp.unmasked}
    st.dataframe(pd.DataFrame([{
        "model": name, "held-out response loss": round(r.heldout_response_loss, 3),
        "held-out prompt loss": round(r.heldout_prompt_loss, 3), "exact match": f"{r.exact_match:.0%}",
        "ms / step": fmt_ms(r.step_ms) if r.losses else "",
        **{f"{task}": f"{share:.0%}" for task, share in r.task_exact_match}} for name, r in runs.items()]),
        hide_index=True, width="stretch")
    st.caption(f"{len(HELDOUT)} held-out instructions, never trained on. Response loss: the next-token loss on the "
               "answer's tokens only, the same yardstick for both runs. Prompt loss: on the user's turn, which only "
               "the every-token run was trained to write. Exact match: the greedy answer equals the expected one "
               "(case and [end] ignored); per task on the right. Measured on this shared server's CPU.")
    st.dataframe(pd.DataFrame([{"instruction": ins, "expected": want, "base": base, "masked": masked, "every token": every}
                               for (ins, want, base), (_, _, masked), (_, _, every)
                               in zip(cmp.base.answers, cmp.masked.answers, cmp.unmasked.answers)]),
                 hide_index=True, width="stretch")
    st.caption("Greedy answers to the held-out instructions, before and after each SFT run. [end] = the model "
               "stopped itself; … = it hit the token limit.")


def render() -> None:
    st.markdown(
        "A chat model is a language model fine-tuned on conversations written in one fixed format, its **chat "
        "template**. Supervised fine-tuning (SFT) trains on (instruction, response) pairs; the standard recipe "
        "puts the loss on the **response only**, so the model learns to answer rather than to write users' "
        "questions. Here: the template, which tokens carry the loss, and the mask's effect measured.")
    ui.bind_params(PARAMS)
    if not ui.require_model("tiny-lm"):
        return
    chat_tok = _chat_tokenizer()
    st.subheader("The template")
    st.selectbox("Training example", list(range(len(TRAIN))), key="sft_example",
                 format_func=lambda i: f"{i}: {TRAIN[i].instruction}")
    _template(chat_tok)
    st.subheader("Which tokens carry the loss")
    st.toggle("Mask the loss to the response (standard SFT)", key="sft_mask")
    _mask(chat_tok)
    st.subheader("The mask's effect, measured")
    c1, c2 = st.columns(2)
    c1.slider("Steps (each run, batch 16, full fine-tuning)", 2, MAX_STEPS, key="sft_steps")
    c2.number_input("Seed", 0, 9999, key="sft_seed")
    ui.sync_params(PARAMS)
    settings = (st.session_state.sft_steps, int(st.session_state.sft_seed), MAX_NEW_TOKENS)
    cmp = training_run(
        "sft", settings, "Train with and without the mask", "Instruction tuning twice", lambda: _compare(*settings),
        idle=(f"Click **Train with and without the mask** to fine-tune two copies of tiny-lm on the {len(TRAIN)} "
              f"training instructions for {settings[0]} steps each, identical but for the mask, and measure both "
              f"on {len(HELDOUT)} held-out instructions (under {MAX_SECONDS:.0f} s)."),
        describe=_describe)
    if cmp is not None:
        budget_notes((), cmp.config.steps, [cmp.masked])
        _results(cmp)
    st.caption("Data: assets/finetune/instructions.jsonl, written for LLM Lab (the project's licence; the verse "
               "fragments are King James Version, public domain).")
    ui.papers(("InstructGPT (Ouyang et al. 2022)", "https://arxiv.org/abs/2203.02155"),
              ("FLAN: finetuned language models are zero-shot learners (Wei et al. 2021)",
               "https://arxiv.org/abs/2109.01652"))
    ui.code_behind(sft.encode_example, sft.token_mask, sft.heldout_losses, sft.sft, sft.compare_masking)
