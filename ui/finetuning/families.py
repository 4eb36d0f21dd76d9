"""Fine-tuning · PEFT families: full fine-tuning, LoRA, DoRA, bottleneck adapters, prompt and prefix tuning, IA³ and
LLaMA-Adapter on one model and one task, in one table (core.finetuning.peft_families), plus merging timed, and why
peft's LLaMA-Adapter gave NaN here (core.finetuning.adaption_prompt).
"""
import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import finetuning_depth as charts
from core.finetuning import adaption_prompt as ap
from core.finetuning import peft_families as pf
from core.finetuning.loop import MAX_SECONDS
from core.state import Param
from ui.finetuning import budget_notes, fmt_ms, progress, training_run

METHODS = pf.METHODS  # all eight, in the table's order (a test narrows it to keep its run short)
MAX_STEPS = pf.MAX_TOTAL_STEPS // len(pf.METHODS)  # 30: all eight methods within the comparison's step budget
DROPOUTS = (0.0, 0.05, 0.1, 0.2)
TARGET_LABELS = {"qv": "q_proj, v_proj", "attn": "q, k, v, o", "mlp": "gate, up, down", "all": "all seven"}
PARAMS = [
    Param("pf_steps", 15, 2, MAX_STEPS, step=1),
    Param("pf_rank", 8, 1, pf.MAX_RANK, step=1),
    Param("pf_alpha", 16, 1, 128, step=1),
    Param("pf_targets", "qv", choices=tuple(pf.TARGETS)),
    Param("pf_dropout", 0.0, choices=DROPOUTS),
    Param("pf_bottleneck", 16, 1, pf.MAX_BOTTLENECK, step=1),
    Param("pf_virtual", 8, 1, pf.MAX_VIRTUAL, step=1),
    Param("pf_seed", 0, 0, 9999, step=1),
    Param("pf_metric", "heldout_loss", choices=tuple(charts.METRICS)),
]
FAMILIES = {  # method -> (what is trained, parameters by hand)
    "full": ("every weight", "all N"),
    "lora": ("ΔW = (α/r)·BA beside the chosen matrices", "r·(C_in + C_out) per matrix"),
    "dora": ("LoRA's direction + a learned magnitude per output row", "LoRA + C_out per matrix"),
    "adapter": ("a bottleneck after attention and after the MLP", "2·(2·C·m + C + m) per layer"),
    "prompt": ("n virtual input embeddings", "n·C"),
    "prefix": ("n virtual keys and values in every layer", "n·L·2·H_kv·D"),
    "ia3": ("vectors rescaling k, v and the MLP's input", "L·(2·H_kv·D + I)"),
    "llama_adapter": ("gated prompt attention in the top layers", "layers·(A·C + 1)"),
}


@ui.cached_compute(max_entries=16, max_size="8MB")  # a PeftComparison: eight rows of numbers and short strings
def _compare(steps: int, rank: int, alpha: int, targets: str, dropout: float, bottleneck: int, n_virtual: int,
             seed: int, methods: tuple) -> pf.PeftComparison:
    model, tokenizer = ui.causal_lm("tiny-lm")
    cfg = pf.PeftConfig(steps=steps, seed=seed, lora_rank=rank, lora_alpha=alpha, lora_targets=targets,
                        lora_dropout=dropout, bottleneck=bottleneck, n_virtual=n_virtual)
    bar, on_progress = progress("Eight methods, one after the other")
    comparison = pf.compare(model, tokenizer, cfg, methods, on_progress=on_progress, max_seconds=MAX_SECONDS)
    bar.empty()
    return comparison


@ui.cached_compute(max_entries=1, max_size="1MB")
def _adaption_prompt_finding() -> ap.AdaptionPromptFinding:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return ap.investigate(model, tokenizer, steps=2)


def _settings() -> pf.PeftConfig:
    c1, c2, c3 = st.columns(3)
    with c1:
        st.slider("Steps per method", 2, MAX_STEPS, key="pf_steps",
                  help=f"Eight methods share a budget of {pf.MAX_TOTAL_STEPS} steps and {MAX_SECONDS:.0f} s.")
        st.number_input("Seed", 0, 9999, key="pf_seed", help="Same seed: same batches, same initial adapters.")
    with c2:
        st.slider("LoRA / DoRA rank r", 1, pf.MAX_RANK, key="pf_rank")
        st.slider("LoRA / DoRA alpha", 1, 128, key="pf_alpha")
        st.radio("LoRA / DoRA adapt", list(pf.TARGETS), key="pf_targets", format_func=TARGET_LABELS.get,
                 horizontal=True)
        st.select_slider("LoRA / DoRA dropout", DROPOUTS, key="pf_dropout",
                         help="Dropout on the adapter's input during training (off at inference).")
    with c3:
        st.slider("Adapter bottleneck m", 1, pf.MAX_BOTTLENECK, key="pf_bottleneck")
        st.slider("Virtual tokens n (prompt, prefix)", 1, pf.MAX_VIRTUAL, key="pf_virtual")
    s = st.session_state
    return pf.PeftConfig(steps=s.pf_steps, seed=int(s.pf_seed), lora_rank=s.pf_rank, lora_alpha=s.pf_alpha,
                         lora_targets=s.pf_targets, lora_dropout=s.pf_dropout, bottleneck=s.pf_bottleneck,
                         n_virtual=s.pf_virtual)


def _plan(config, cfg: pf.PeftConfig) -> None:
    """What each family trains, counted from the config and the knobs alone (no training)."""
    total = pf.formula_count(config, "full", cfg)
    rows = [{"method": m, "trains": what, "count by hand": how, "trainable (formula)": pf.formula_count(config, m, cfg),
             "share": f"{100 * pf.formula_count(config, m, cfg) / total:.2f}%",
             "merges into W": "yes" if m in pf.MERGEABLE else ("is W" if m == "full" else "no"),
             "paper": pf.PAPERS[m]} for m, (what, how) in FAMILIES.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"tiny-lm: L = {config.num_hidden_layers} layers, C = {config.hidden_size}, I = "
               f"{config.intermediate_size}, H_kv·D = {config.num_key_value_heads}·{config.head_dim} (grouped-query "
               "attention), LLaMA-Adapter A = 8 prompt vectors in the top 6 layers. After training, the table "
               "below checks every count against the parameters that really have requires_grad.")


def _describe(cmp: pf.PeftComparison) -> str:
    c = cmp.config
    return (f"{c.steps} steps, r = {c.lora_rank}, alpha {c.lora_alpha}, {TARGET_LABELS[c.lora_targets]}, dropout "
            f"{c.lora_dropout:g}, m = {c.bottleneck}, n = {c.n_virtual}, seed {c.seed}")


def _table(cmp: pf.PeftComparison) -> None:
    df = charts.comparison_frame(cmp)
    shown = pd.DataFrame({
        "method": df.method, "trainable": df.trainable.map("{:,}".format),
        "= formula": np.where(df.trainable == df.formula, "yes", "NO"), "share": df.share_pct.map("{:.2f}%".format),
        "peak MB (step 1)": df.peak_MB.round(1), "ms / step": [fmt_ms(v) for v in df.step_ms],
        "steps": df.steps, "last training loss": df.final_loss.round(3), "held-out loss": df.heldout_loss.round(3),
        "held-out answer loss": df.answer_loss.round(3),
        **{f"answer: {q}": df[f"answer {i + 1}"] for i, q in enumerate(pf.QUESTIONS)}})
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption(f"Base tiny-lm before training: held-out loss {cmp.base_heldout_loss:.3f}, answer loss "
               f"{cmp.base_answer_loss:.3f}; answers {' · '.join(cmp.base_answers)}. The first question is a "
               "training pair, the other two are held out. Held-out loss: every token of the 8 held-out pairs; "
               "answer loss: their answer tokens only, the yardstick the Guide also measures prompting by. Peak "
               "memory: the weights plus the highest allocation the profiler saw in step 1. Measured on this shared "
               "server's CPU "
               f"({cmp.threads} torch thread(s)): times vary from run to run. Learning rates per method: "
               + ", ".join(f"{m} {pf.LEARNING_RATES[m]:g}" for m in pf.METHODS) + " (a rough sweep at 30 steps).")


def _charts(cmp: pf.PeftComparison) -> None:
    df = charts.comparison_frame(cmp)
    metric = st.selectbox("Compare by", list(charts.METRICS), key="pf_metric",
                          format_func=lambda k: charts.METRICS[k][0])
    base = {"heldout_loss": cmp.base_heldout_loss, "answer_loss": cmp.base_answer_loss}.get(metric)
    ui.chart(charts.comparison_bars, df, metric, base, width="stretch")
    ui.chart(charts.loss_curves, charts.loss_frame(cmp), width="stretch")


def _merging(cmp: pf.PeftComparison) -> None:
    rows = [{"method": r.method, "max |logits merged − unmerged|": f"{r.merge_max_diff:.1e}",
             "adapter modules left after merge": r.merged_extra_modules,
             "base ms": round(r.forward_ms[0], 2), "adapted ms": round(r.forward_ms[1], 2),
             "merged ms": round(r.forward_ms[2], 2), "merged / base": f"{r.forward_ms[2] / r.forward_ms[0]:.2f}×"}
            for r in cmp.results if r.method in pf.MERGEABLE and len(r.forward_ms) == 3]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    ui.chart(charts.latency_bars, charts.latency_frame(cmp), width="stretch")
    st.caption(f"Median of {pf.LATENCY_REPS} forward passes over the 8 held-out pairs, the three models timed in "
               "turn in each round so a busy moment of this shared server hits them alike. Merged, LoRA, DoRA and "
               "IA³ are plain Llamas again (no adapter module left), so their time is the base's up to noise; "
               "unmerged, they do a little extra work in every adapted layer. A bottleneck adapter can never merge "
               "(its nonlinearity stays in the forward pass), and prompt and prefix tuning lengthen every sequence.")


def _llama_adapter_nan() -> None:
    st.markdown(
        "peft's LLaMA-Adapter (`AdaptionPromptConfig`) first gave a **NaN loss** on tiny-lm. The suspect was "
        "grouped-query attention (6 query heads share 2 KV heads). It is not: peft repeats each prompt key/value "
        "head for its query heads as Llama's `repeat_kv` does, and an independent recomputation agrees. The NaN "
        "comes from half precision and the zero-initialised gate g:\n"
        "1. the checkpoint is stored in FP16, and a plain `from_pretrained` loads it in FP16;\n"
        "2. peft creates the prompt P and the gate in q_proj's dtype: FP16;\n"
        "3. with g = 0, P's gradient in step 1 is exactly 0 (P reaches the loss only through g·…);\n"
        "4. Adam's update m̂ / (√v̂ + ε) with ε = 1e-8, which is **0 in FP16**: 0 / 0 = NaN, and P is NaN from "
        "then on. In FP32 the same update is 0 / 1e-8 = 0, so the table above trains it in FP32.")
    if st.button("Reproduce it on tiny-lm (2 steps in FP32 and in FP16, seconds)", key="pf_nan"):
        with ui.heavy("Reproducing the NaN"):
            st.session_state["pf_nan_result"] = _adaption_prompt_finding()
    finding = st.session_state.get("pf_nan_result")
    if finding is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("GQA: peft vs our formula, max |Δ|", f"{finding.gqa_max_diff:.1e}",
                  f"{finding.heads} heads over {finding.kv_heads} KV heads", delta_color="off")
        c2.metric("max |∂loss/∂P| in step 1", f"{finding.first_prompt_grad_max:g}", "gate g = 0", delta_color="off")
        c3.metric("1e-8 in FP16", "0" if finding.fp16_eps_is_zero else "nonzero", "Adam's ε", delta_color="off")
        st.dataframe(pd.DataFrame({"step": range(1, len(finding.fp32_losses) + 1),
                                   "loss, FP32": finding.fp32_losses, "loss, FP16": finding.fp16_losses}),
                     hide_index=True)


def _math() -> None:
    st.markdown(
        "- **LoRA**: $h = Wx + \\frac{\\alpha}{r}BAx$; **DoRA** splits $W$ into a magnitude and a direction, "
        "$W' = m \\cdot \\frac{W + \\Delta W}{\\lVert W + \\Delta W \\rVert_c}$, and trains $m$ with LoRA's "
        "$\\Delta W$ for the direction.\n"
        "- **Bottleneck adapter**: $h \\leftarrow h + W_{up}\\,\\sigma(W_{down}h)$, $W_{up} = 0$ at the start: "
        "the identity, like LoRA's $B = 0$. The nonlinearity keeps it out of $W$: it can never merge.\n"
        "- **Prompt tuning** learns $n$ input embeddings put before the text; **prefix tuning** learns $n$ keys "
        "and values in every layer's attention. Both cost context on every query.\n"
        "- **IA³** learns vectors $l_k, l_v, l_{ff}$: $k \\odot l_k$, $v \\odot l_v$, and the MLP's hidden "
        "activations $\\odot\\, l_{ff}$; a diagonal rescaling, so it merges: $W' = \\mathrm{diag}(l)W$.\n"
        "- **LLaMA-Adapter** adds $g \\cdot \\mathrm{softmax}(q k_P^T/\\sqrt{D})\\,v_P$ to attention in the top "
        "layers, with the gate $g$ starting at 0.")


def render() -> None:
    st.markdown(
        "Eight ways to adapt tiny-lm to the same QA task, trained on the same seeded batches for the same number "
        "of steps. Only *what* is trained changes, from every weight down to a few thousand numbers.")
    ui.bind_params(PARAMS)
    if not ui.require_model("tiny-lm"):
        return
    model, _ = ui.causal_lm("tiny-lm")
    cfg = _settings()
    ui.sync_params(PARAMS)
    _plan(model.config, cfg.clipped())
    settings = (cfg.steps, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, cfg.lora_dropout, cfg.bottleneck,
                cfg.n_virtual, cfg.seed, METHODS)
    cmp = training_run(
        "pf", settings, "Train all eight", "Training eight methods", lambda: _compare(*settings),
        idle=(f"Click **Train all eight** to train each method on its own copy of tiny-lm for {cfg.steps} steps "
              f"(under {MAX_SECONDS:.0f} s in all; the shared model is never changed)."),
        describe=_describe)
    if cmp is not None:
        budget_notes(cmp.notes, cmp.config.steps, [])
        st.subheader("One table")
        _table(cmp)
        _charts(cmp)
        st.subheader("Merging: same outputs, no extra latency")
        _merging(cmp)
    st.subheader("Why LLaMA-Adapter gave NaN here")
    _llama_adapter_nan()
    st.subheader("The families in one line each")
    _math()
    ui.papers(("LoRA (Hu et al. 2021)", "https://arxiv.org/abs/2106.09685"),
              ("DoRA (Liu et al. 2024)", "https://arxiv.org/abs/2402.09353"),
              ("Adapters (Houlsby et al. 2019)", "https://arxiv.org/abs/1902.00751"),
              ("Prompt tuning (Lester et al. 2021)", "https://arxiv.org/abs/2104.08691"),
              ("Prefix tuning (Li and Liang 2021)", "https://arxiv.org/abs/2101.00190"),
              ("IA³ (Liu et al. 2022)", "https://arxiv.org/abs/2205.05638"),
              ("LLaMA-Adapter (Zhang et al. 2023)", "https://arxiv.org/abs/2303.16199"))
    ui.code_behind(pf.formula_count, pf.build, pf.run_method, pf.merge_check, pf.forward_ms, pf.compare)
