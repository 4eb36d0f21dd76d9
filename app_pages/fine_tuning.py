"""Fine-tuning: full fine-tuning against LoRA on the tiny LM, then one section at a time: every PEFT family on one
task, QLoRA, instruction tuning, preference tuning (reward model, DPO) and a guide. Sections live in ui/finetuning/;
their headers are written here, because glossary entries and quiz questions name them and tests/test_quizzes.py
reads a page's headers from its page file."""
import streamlit as st

import ui
from core.state import Param
from ui.finetuning import families, guide, instruction, lora, preference, qlora


def full_vs_lora() -> None:
    st.header("Full fine-tuning vs LoRA")
    ui.bind_params(lora.PARAMS)
    if not ui.require_model("tiny-lm"):
        return
    model, _ = ui.causal_lm("tiny-lm")
    cfg = lora.settings_ui(model.config)
    ui.sync_params(lora.PARAMS)
    lora.task_and_plan(model, cfg)
    comparison = lora.training_section(cfg)
    if comparison is not None:
        lora.table(comparison)
        st.subheader("Answers before and after (greedy)")
        lora.answers(comparison)
        st.subheader("Loss")
        lora.loss(comparison)
        st.subheader("Memory")
        lora.memory(comparison)
        st.subheader("ΔW is low-rank by construction")
        lora.low_rank(comparison)
    st.subheader("The math")
    lora.math(model.config, cfg)


def peft_families() -> None:
    st.header("PEFT families on one task")
    families.render()


def quantized_base() -> None:
    st.header("QLoRA: LoRA on a 4-bit base")
    qlora.render()


def instruction_tuning() -> None:
    st.header("Instruction tuning: the loss on the response")
    instruction.render()


def preference_tuning() -> None:
    st.header("Preference tuning: reward model and DPO")
    preference.render()


def which_to_use() -> None:
    st.header("Guide: prompting, RAG, fine-tuning or PEFT?")
    guide.render()


st.title(":material/tune: Fine-tuning")
st.markdown(
    "A pretrained model knows a language; fine-tuning teaches it a task. **Full fine-tuning** updates every "
    "weight, so it needs gradients and optimizer state for all of them. **LoRA** freezes the model and learns "
    "a small low-rank update beside a few matrices. Here both teach the same new format to `tiny-lm` (trained "
    "only on King James verses): answer `Question: …` with a few words, then stop. Same data, same steps, "
    "measured side by side on this machine. The other sections go further: every family of parameter-efficient "
    "methods in one table, QLoRA's 4-bit base, instruction tuning with the loss masked to the response, "
    "preference tuning with a reward model and DPO, and a guide to choosing.")

SECTIONS = {
    "Full FT vs LoRA": full_vs_lora,
    "PEFT families": peft_families,
    "QLoRA": quantized_base,
    "Instruction tuning": instruction_tuning,
    "Preference tuning": preference_tuning,
    "Guide": which_to_use,
}
PARAMS = [Param("f_section", "Full FT vs LoRA", choices=tuple(SECTIONS))]

ui.bind_params(PARAMS)
section = st.segmented_control("Section", list(SECTIONS), key="f_section", required=True)
ui.sync_params(PARAMS)
# A link may carry any section's values; the shown section cleans its own, this cleans the others' (as the
# widgets would read them), so the URL never passes on a value no widget can hold.
for param in (p for module in (lora, families, qlora, instruction, preference, guide) for p in module.PARAMS):
    raw = st.query_params.get(param.key)
    if raw is not None and raw != param.dump(param.parse(raw)):
        st.query_params[param.key] = param.dump(param.parse(raw))
SECTIONS[section or "Full FT vs LoRA"]()

ui.quiz("Fine-tuning")
