"""Pretraining · MLM vs CLM: the two pretraining objectives on the same sentence (what the model reads, what
it must predict), then both trained briefly on the same windows with the same width, depth and heads
(core.pretraining.objectives). The training runs only on its button, with progress, Stop and a time cap.
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import pretraining_depth as charts
from core.pretraining import objectives as obj
from core.state import Param
from ui.pretraining import bind, explicit_run, progress

LRS = (5e-4, 1e-3, 2e-3, 5e-3)
WIDTHS = (32, 64, 128)
MAX_SENTENCE_CHARS = 200
SECONDS = 40.0  # both runs together, under the lock: an explicit run, capped in core at obj.MAX_SECONDS
PARAMS = [
    Param("obj_sentence", "And God said, Let there be light: and there was light.", max_len=MAX_SENTENCE_CHARS),
    Param("obj_prob", 0.15, 0.05, 0.5, step=0.05),
    Param("obj_seed", 0, 0, 999, step=1),
    Param("obj_steps", 60, 10, 300, step=10),
    Param("obj_width", 64, choices=WIDTHS),
    Param("obj_lr", 2e-3, choices=LRS),
]


# One entry is two loss curves of <= 300 floats: tiny. Cached by its settings, so a class pressing the button
# on the same settings trains once.
@ui.cached_compute(max_entries=32, max_size="4MB")
def _train_both(steps: int, width: int, lr: float, mlm_probability: float, seed: int) -> obj.ObjectiveComparison:
    cfg = obj.ObjectiveConfig(hidden_size=width, heads=4, intermediate_size=3 * width, steps=steps, lr=lr,
                              mlm_probability=mlm_probability, max_seconds=SECONDS, seed=seed)
    bar, on_progress = progress("Training CLM, then MLM")
    result = obj.compare_objectives(cfg, on_progress)
    bar.empty()
    return result


def _views(sentence: str, probability: float, seed: int) -> None:
    try:
        clm, mlm = obj.clm_view(sentence), obj.mlm_view(sentence, probability, seed)
    except ValueError as err:
        st.warning(f"Cannot show that sentence: {err}. Shorten it.")
        return
    c1, c2 = st.columns(2)
    c1.metric("CLM: positions with a loss", f"{clm.n_predicted} of {len(clm.tokens)}",
              "every position predicts the next token", delta_color="off")
    c2.metric("MLM: positions with a loss", f"{mlm.n_predicted} of {len(mlm.tokens)}",
              f"about {probability:.0%} are selected", delta_color="off")
    table = pd.DataFrame({"token": clm.tokens, "CLM reads (left context only)": clm.inputs,
                          "CLM predicts": clm.targets, "MLM reads (whole window)": mlm.inputs,
                          "MLM predicts": mlm.targets, "MLM rule": mlm.actions})
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("Empty = no loss at that position. CLM's labels are its inputs shifted by one, read through a "
               "causal mask. MLM picks positions at random (never the end-of-text token); of those, 80% become "
               f"{obj.MASK_TOKEN}, 10% a random token, 10% stay as they are, and the model must restore the original "
               "(the same draws as Hugging Face's DataCollatorForLanguageModeling: a unit test checks it).")


def _results(cmp: obj.ObjectiveComparison) -> None:
    if cmp.stopped_early:
        st.info(f"The time cap ({SECONDS:.0f} s for both runs on this shared server) ended training after "
                f"{len(cmp.clm.losses)} steps each; the MLM run got as many steps as the CLM run.")
    ui.chart(charts.objectives_loss_chart, cmp, width="stretch")
    rows = [{"objective": r.objective, "model": r.model_class, "parameters": f"{r.parameters:,}",
             "steps": len(r.losses), "loss, first → last step": f"{r.losses[0]:.2f} → {r.losses[-1]:.2f}",
             "held-out loss": round(r.heldout_loss, 3), "targets per batch": round(r.predicted_per_step, 1),
             "seconds": round(r.seconds, 1)} for r in (cmp.clm, cmp.mlm)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    ratio = cmp.clm.predicted_per_step / max(cmp.mlm.predicted_per_step, 1e-9)
    st.caption(f"Both start near ln V = ln {obj.VOCAB:,} = {cmp.initial_loss:.2f}: an untrained model spreads its "
               f"guess evenly. Per batch, CLM learns from {ratio:.1f}× as many targets as MLM; MLM's targets are "
               "easier (context on both sides), so the two losses measure different tasks. Seconds: wall time on "
               "this server's CPU, shared, when the run was first made (cached since).")


def render() -> None:
    st.markdown(
        "**Causal LM** (GPT, Llama): read the tokens left to right and predict each next one; every position is "
        "a training example, and the same model can then generate. **Masked LM** (BERT): hide about 15% of the "
        "tokens and predict them from both sides; better representations for understanding, no generation. "
        "Here both objectives are applied to the same sentence, then trained on the same corpus windows.")
    bind(PARAMS)
    st.text_input("Sentence", key="obj_sentence", max_chars=MAX_SENTENCE_CHARS)
    c1, c2 = st.columns(2)
    c1.slider("MLM: share of positions selected", 0.05, 0.5, step=0.05, key="obj_prob")
    c2.number_input("Seed of the masking", 0, 999, key="obj_seed")
    s = st.session_state
    sentence = ui.text_input_checked(s.obj_sentence, MAX_SENTENCE_CHARS, "sentence")
    if sentence is not None:
        _views(sentence, s.obj_prob, int(s.obj_seed))

    st.subheader("Both, trained briefly")
    st.markdown("A LlamaForCausalLM and a BertForMaskedLM of the same width, depth (2 layers) and heads, built "
                "from seeded configs and trained with AdamW on the same windows of the corpus, same steps.")
    c1, c2, c3 = st.columns(3)
    c1.slider("Steps (each objective)", 10, 300, step=10, key="obj_steps")
    c2.segmented_control("Width C", WIDTHS, key="obj_width", required=True)
    c3.select_slider("Learning rate", LRS, key="obj_lr", format_func=lambda v: f"{v:g}")
    ui.sync_params(PARAMS)
    settings = (int(s.obj_steps), int(s.obj_width), float(s.obj_lr), float(s.obj_prob), int(s.obj_seed))
    kept = explicit_run("Train both", "obj_train", "Training CLM and MLM", lambda: _train_both(*settings), settings,
                        help=f"Runs only when clicked; both runs stop at {SECONDS:.0f} s together.")
    if kept is None:
        st.info(f"Click **Train both** to train the two models for {settings[0]} steps each (at most "
                f"{SECONDS:.0f} s in all on this server; identical settings are cached).")
    else:
        ran_with, cmp = kept
        if ran_with != settings:
            st.caption(f"These curves are from the last run (steps {ran_with[0]}, C = {ran_with[1]}, learning rate "
                       f"{ran_with[2]:g}, MLM share {ran_with[3]:.2f}); click **Train both** for the new settings.")
        _results(cmp)
    ui.code_behind(obj.mask_tokens, obj.compare_objectives)
    ui.papers(("BERT (Devlin et al. 2018)", "https://arxiv.org/abs/1810.04805"),
              ("GPT (Radford et al. 2018)",
               "https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf"),
              ("ELECTRA: every token a target (Clark et al. 2020)", "https://arxiv.org/abs/2003.10555"))
