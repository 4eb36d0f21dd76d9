"""Fine-tuning · Preference tuning: a Bradley-Terry reward model (RLHF's second stage) and DPO with its margins,
accuracy and KL to the reference, beside the RLHF pipeline it replaces (core.finetuning.preference).
"""
import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import finetuning_depth as charts
from core.finetuning import preference as pref
from core.finetuning.instruction import SFTConfig
from core.finetuning.loop import MAX_SECONDS, MAX_STEPS, deadline_after
from core.state import Param
from ui.finetuning import budget_notes, progress, training_run

BETAS = (0.01, 0.03, 0.1, 0.3, 1.0)
SFT_STEPS = 40  # the SFT model DPO starts from and is anchored to (the Instruction tuning section's recipe)
TRAIN, HELDOUT = pref.load_preferences()
MAX_NEW_TOKENS = 12  # per greedy answer (a test lowers it to stay short)
PARAMS = [
    Param("rm_steps", 30, 2, MAX_STEPS, step=1),
    Param("dpo_beta", 0.1, choices=BETAS),
    Param("dpo_steps", 20, 2, MAX_STEPS, step=1),
    Param("pref_seed", 0, 0, 9999, step=1),
]


@ui.cached_compute(max_entries=16, max_size="4MB")
def _reward_model(steps: int, seed: int) -> pref.RewardResult:
    model, tokenizer = ui.causal_lm("tiny-lm")
    bar, on_progress = progress("Reward model")
    # training gets 80% of the budget; the rest scores the held-out pairs
    result, _ = pref.train_reward_model(model, tokenizer, pref.RewardConfig(steps=steps, seed=seed), on_progress,
                                        deadline=deadline_after(0.8 * MAX_SECONDS))
    bar.empty()
    return result


@ui.cached_compute(max_entries=16, max_size="4MB")
def _dpo(beta: float, steps: int, seed: int, sft_steps: int, max_new_tokens: int) -> tuple:
    model, tokenizer = ui.causal_lm("tiny-lm")
    bar, on_progress = progress("SFT, then DPO")
    runs = pref.sft_then_dpo(model, tokenizer, SFTConfig(steps=sft_steps, seed=seed, max_new_tokens=max_new_tokens),
                             pref.DPOConfig(beta=beta, steps=steps, seed=seed, max_new_tokens=max_new_tokens),
                             on_progress, max_seconds=MAX_SECONDS)
    bar.empty()
    return runs


def _data() -> None:
    rows = [next(p for p in TRAIN if p.kind == kind) for kind in ("wrong", "ramble", "runs on")]
    st.dataframe(pd.DataFrame([{"prompt x": p.prompt, "chosen y_w": p.chosen, "rejected y_l": p.rejected,
                                "how y_l fails": p.kind} for p in rows]), hide_index=True, width="stretch")
    st.caption(f"{len(TRAIN)} training and {len(HELDOUT)} held-out pairs (assets/finetune/preferences.jsonl, written "
               "for LLM Lab): the correct short answer preferred over a wrong one, an off-topic ramble, or the right "
               "answer that runs on. Real preference data (InstructGPT's, Anthropic's HH) is people ranking samples.")


def _reward_section() -> None:
    st.latex(r"P(y_w \succ y_l \mid x) = \sigma\big(r(x, y_w) - r(x, y_l)\big), \qquad "
             r"\mathcal{L}_{RM} = -\log \sigma\big(r(x, y_w) - r(x, y_l)\big)")
    st.markdown("The Bradley-Terry model: only the *difference* of rewards matters. Our reward model is a copy of "
                "tiny-lm's decoder with a scalar head on the last token's hidden state; equal rewards cost "
                "log 2 ≈ 0.693.")
    c1, c2 = st.columns(2)
    c1.slider("Reward-model steps (batch 8 pairs)", 2, MAX_STEPS, key="rm_steps")
    c2.number_input("Seed", 0, 9999, key="pref_seed", help="Shared by the reward model and DPO.")
    settings = (st.session_state.rm_steps, int(st.session_state.pref_seed))
    result = training_run(
        "rm", settings, "Train the reward model", "Training the reward model", lambda: _reward_model(*settings),
        idle=f"Click **Train the reward model** ({settings[0]} steps on a copy of tiny-lm, under {MAX_SECONDS:.0f} s).",
        describe=lambda r: f"{r.config.steps} steps, seed {r.config.seed}")
    if result is None:
        return
    budget_notes((), result.config.steps, [result])
    m1, m2, m3 = st.columns(3)
    m1.metric("Held-out pair accuracy", f"{result.heldout_accuracy:.0%}",
              f"{100 * (result.heldout_accuracy - result.heldout_accuracy_before):+.0f} points from the random head")
    m2.metric("Before training (random head)", f"{result.heldout_accuracy_before:.0%}", "chance is 50%",
              delta_color="off")
    m3.metric("Bradley-Terry loss, first → last step", f"{result.losses[0]:.3f} → {result.losses[-1]:.3f}")
    ui.chart(charts.reward_curves, charts.reward_frame(result))
    ui.chart(charts.reward_margin_chart, charts.reward_margin_frame(result), width="stretch")
    margins, kinds = np.array(result.heldout_margins), np.array(result.heldout_kinds)
    st.caption(f"Each dot is one of the {len(margins)} held-out pairs: right of 0 the reward model ranks the chosen "
               "answer higher. Held-out accuracy by how the rejected answer fails: "
               + ", ".join(f"{k} {np.mean(margins[kinds == k] > 0):.0%}" for k in sorted(set(kinds)))
               + ". Measured on this shared server's CPU.")


def _dpo_section() -> None:
    boxes, arrows = charts.pipeline_frame(pref.RLHF_PIPELINE, pref.PIPELINE_EDGES)
    ui.chart(charts.pipeline_diagram, boxes, arrows, width="stretch")
    st.markdown(
        "**RLHF** (top) fits a reward model, then optimises the policy with PPO: sample answers, score them, "
        "and push up the reward while a KL penalty keeps the policy near the SFT model. **DPO** (bottom) notices "
        "that this KL-penalised objective has a closed-form optimum,")
    st.latex(r"\pi^*(y \mid x) = \tfrac{1}{Z(x)}\,\pi_{ref}(y \mid x)\,e^{r(x, y)/\beta}"
             r"\quad\Longleftrightarrow\quad r(x, y) = \beta \log \frac{\pi^*(y \mid x)}{\pi_{ref}(y \mid x)}"
             r" + \beta \log Z(x)")
    st.markdown("so the policy itself defines a reward. Put it in the Bradley-Terry loss and $Z(x)$ cancels: "
                "no reward model, no sampling, no PPO, one supervised loss.")
    st.latex(r"\mathcal{L}_{DPO} = -\log \sigma\Big(\beta \log \frac{\pi(y_w \mid x)}{\pi_{ref}(y_w \mid x)}"
             r" - \beta \log \frac{\pi(y_l \mid x)}{\pi_{ref}(y_l \mid x)}\Big)")
    c1, c2 = st.columns(2)
    c1.select_slider("β: the KL leash (small lets π move far from π_ref)", BETAS, key="dpo_beta")
    c2.slider("DPO steps (batch 8 pairs)", 2, MAX_STEPS, key="dpo_steps")
    s = st.session_state
    settings = (s.dpo_beta, s.dpo_steps, int(s.pref_seed), SFT_STEPS, MAX_NEW_TOKENS)
    runs = training_run(
        "dpo", settings, "Run SFT, then DPO", "SFT, then DPO", lambda: _dpo(*settings),
        idle=(f"Click **Run SFT, then DPO**: SFT of a copy of tiny-lm on the instructions ({SFT_STEPS} steps, prompt "
              f"masked), then DPO of a copy of that against a frozen copy (π_ref) with β = {s.dpo_beta:g} for "
              f"{s.dpo_steps} steps, under {MAX_SECONDS:.0f} s in all."),
        describe=lambda r: f"β = {r[1].config.beta:g}, {r[1].config.steps} steps, seed {r[1].config.seed}")
    if runs is None:
        return
    sft_run, result = runs
    budget_notes((), result.config.steps, [result])
    n = len(result.losses)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(f"Batch preference accuracy, step {n}", f"{result.accuracies[-1]:.0%}",
              f"step 1: {result.accuracies[0]:.0%}", delta_color="off")
    m2.metric(f"Batch reward margin, step {n}", f"{result.margins[-1]:.3f}", "β·(log-ratio of y_w − of y_l)",
              delta_color="off")
    m3.metric("Held-out preference accuracy", f"{result.heldout_accuracy:.0%}",
              f"margin {result.heldout_margin:.3f}", delta_color="off")
    m4.metric("KL(π ‖ π_ref)", f"{result.kl_to_ref:.4f}", "nats per token of π's answers", delta_color="off")
    ui.chart(charts.dpo_chart, charts.dpo_frame(result))
    st.caption(f"Step 1 is π = π_ref: every implicit reward is 0 up to float rounding, so the loss is log 2 and "
               f"step 1's accuracy counts only rounding noise. Held-out pairs where the policy itself gives y_w a higher log-probability than y_l: "
               f"{result.heldout_prefers_chosen_before:.0%} for the SFT model, "
               f"{result.heldout_prefers_chosen_after:.0%} after DPO. The SFT model answered "
               f"{sft_run.exact_match:.0%} of held-out instructions exactly. Measured on this shared server's CPU.")
    st.dataframe(pd.DataFrame([{"prompt": p, "chosen": c, "SFT (π_ref)": before, "after DPO": after}
                               for p, c, before, after in result.answers]), hide_index=True, width="stretch")


def render() -> None:
    st.markdown(
        "After SFT a model can answer; preference tuning teaches it *which* answer people prefer, from pairs "
        "(x, y_w, y_l). RLHF learns a reward model from the pairs and then does reinforcement learning against it; "
        "DPO skips both and trains the policy on the pairs directly.")
    ui.bind_params(PARAMS)
    _data()
    if not ui.require_model("tiny-lm"):
        ui.sync_params(PARAMS)
        return
    st.subheader("A reward model (RLHF's second stage)")
    _reward_section()
    st.subheader("DPO, and the RLHF pipeline it replaces")
    _dpo_section()
    ui.sync_params(PARAMS)
    ui.papers(("InstructGPT / RLHF (Ouyang et al. 2022)", "https://arxiv.org/abs/2203.02155"),
              ("DPO (Rafailov et al. 2023)", "https://arxiv.org/abs/2305.18290"),
              ("PPO (Schulman et al. 2017)", "https://arxiv.org/abs/1707.06347"),
              ("Learning to summarize from human feedback (Stiennon et al. 2020)", "https://arxiv.org/abs/2009.01325"))
    ui.code_behind(pref.bradley_terry_loss, pref.dpo_loss, pref.sequence_logprobs, pref.RewardModel,
                   pref.train_reward_model, pref.dpo, pref.mean_token_kl)
