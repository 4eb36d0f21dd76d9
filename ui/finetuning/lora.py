"""Fine-tuning · Full fine-tuning vs LoRA: both teach tiny-lm the same QA format, measured side by side
(core.finetuning.finetune). app_pages/fine_tuning.py draws this section's headers and calls the pieces here in order.
"""
import pandas as pd
import streamlit as st
from transformers import LlamaConfig

import ui
from core.charts import fine_tuning as charts
from core.finetuning import finetune as ft
from core.state import Param
from ui.finetuning import training_run

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
MODULE_LABELS = {"qv": "q_proj + v_proj (LoRA paper)", "all": "all linear layers (QLoRA)"}
PARAMS = [
    Param("ft_steps", 30, ft.MIN_STEPS, ft.MAX_STEPS, step=1),
    Param("ft_lr_full", 1e-3, choices=LRS),
    Param("ft_lr_lora", 1e-2, choices=LRS),
    Param("ft_rank", 8, 1, 128, step=1),
    Param("ft_alpha", 16, 1, 256, step=1),
    Param("ft_modules", "qv", choices=tuple(MODULE_LABELS)),
    Param("ft_seed", 0, 0, 9999, step=1),
]


@ui.cached_compute(max_entries=2, max_size="1MB")
def base_answers(max_new_tokens: int) -> tuple:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return tuple(ft.greedy_answer(model, tokenizer, q, max_new_tokens) for q in ft.PROMPTS)


# A Comparison weighs well under 1 MB (a few thousand profiler events, a 192-value spectrum). Cached across
# sessions by its settings, so a class clicking "Train both" on the same settings trains once.
@ui.cached_compute(max_entries=32, max_size="32MB")
def train_both(steps: int, lr_full: float, lr_lora: float, rank: int, alpha: int, modules: str, seed: int
               ) -> ft.Comparison:
    """Both runs, capped in core (ft.MAX_STEPS, ft.MAX_SECONDS). The progress bar lives inside, so a cache
    hit replays it (empty); each update is where a click on Stop ends the run (ui.finetuning.progress)."""
    model, tokenizer = ui.causal_lm("tiny-lm")
    cfg = ft.FinetuneConfig(steps=steps, lr_full=lr_full, lr_lora=lr_lora, rank=rank, alpha=alpha,
                            modules=modules, seed=seed)
    bar = st.progress(0.0, text="Starting…")

    def on_step(method: str, step: int, loss: float) -> None:
        done = (0 if method == "full" else steps) + step + 1
        bar.progress(min(done / (2 * steps), 1.0), text=f"{method}: step {step + 1}/{steps}, loss {loss:.3f}")

    comparison = ft.compare(model, tokenizer, cfg, on_step=on_step)
    bar.empty()
    return comparison


def _describe(comparison: ft.Comparison) -> str:
    c = comparison.config
    return (f"steps {c.steps}, learning rates {c.lr_full:g} and {c.lr_lora:g}, r = {c.rank}, alpha {c.alpha}, "
            f"{MODULE_LABELS[c.modules]}, seed {c.seed}")


def training_section(cfg: ft.FinetuneConfig) -> ft.Comparison | None:
    """The explicit run; returns the kept comparison (of these or earlier settings) or None."""
    key = (cfg.steps, cfg.lr_full, cfg.lr_lora, cfg.rank, cfg.alpha, cfg.modules, cfg.seed)
    comparison = training_run(
        "ft", key, "Train both", "Fine-tuning twice (full, then LoRA)", lambda: train_both(*key),
        idle=(f"Click **Train both** to fine-tune two copies of tiny-lm for {cfg.steps} steps each (the shared "
              "model is never changed). It takes seconds; identical settings are cached, and a run stops at "
              f"{ft.MAX_SECONDS:.0f} s whatever it was asked."),
        describe=_describe)
    if comparison is not None:
        for note in comparison.notes:
            st.warning(f"Cut to the budget: {note}.")
    return comparison


def settings_ui(config) -> ft.FinetuneConfig:
    """The sliders; returns the config to train, with an impossible rank clamped (and said so)."""
    c1, c2, c3 = st.columns(3)
    with c1:
        st.slider("Training steps (both methods)", ft.MIN_STEPS, ft.MAX_STEPS, key="ft_steps")
        st.number_input("Seed", 0, 9999, key="ft_seed", help="Sets the batches and LoRA's A; same seed, same run.")
    with c2:
        st.select_slider("Learning rate, full fine-tuning", LRS, key="ft_lr_full", format_func=lambda v: f"{v:g}")
        st.select_slider("Learning rate, LoRA", LRS, key="ft_lr_lora", format_func=lambda v: f"{v:g}",
                         help="LoRA usually wants a larger rate: B starts at zero and only a few numbers move.")
    with c3:
        st.radio("LoRA adapts", list(MODULE_LABELS), key="ft_modules", format_func=MODULE_LABELS.get, horizontal=True)
        st.slider("Rank r", 1, 128, key="ft_rank")
        st.slider("alpha (scale = alpha / r)", 1, 256, key="ft_alpha")
    s = st.session_state
    rank, limit = s.ft_rank, ft.max_rank(config, s.ft_modules)
    if rank > limit:
        st.warning(f"Rank {rank} is more than these matrices can use: ΔW = BA of a d_out × d_in matrix has "
                   f"rank ≤ min(d_in, d_out), and the smallest adapted one here has min {limit} (v_proj's "
                   f"output is only {limit} wide: grouped-query attention). Training with r = {limit}.")
        rank = limit
    return ft.FinetuneConfig(steps=s.ft_steps, lr_full=s.ft_lr_full, lr_lora=s.ft_lr_lora, rank=rank,
                             alpha=s.ft_alpha, modules=s.ft_modules, seed=int(s.ft_seed))


def task_and_plan(model, cfg: ft.FinetuneConfig) -> None:
    """The task, what a run will train (from the config alone), and the base model's answers."""
    train_pairs, heldout_pairs = ft.load_task()
    with st.expander(f"The task: {len(train_pairs)} question/answer pairs to train on, {len(heldout_pairs)} held out"):
        st.code("\n\n".join(ft.format_prompt(q) + " " + a for q, a in train_pairs[:6]) + "\n\n…", language=None)
        st.caption("Written for this demo (assets/finetune/qa.tsv). Each example is wrapped in end-of-text tokens; "
                   "in this demo the loss covers every token, so the model learns the template, the short answer "
                   "and the stop. Standard supervised fine-tuning (SFT) masks the prompt: labels are -100 on the "
                   "prompt tokens, so only the response carries loss (the Instruction tuning section does that).")
    total = sum(p.numel() for p in model.parameters())
    lora = ft.lora_parameter_count(model.config, cfg.rank, cfg.modules)
    a, b = st.columns(2)
    a.metric("Full fine-tuning trains", f"{total:,} parameters", "100% of the model", delta_color="off")
    b.metric("LoRA trains (formula)", f"{lora:,} parameters", f"{100 * lora / total:.2f}% of the model",
             delta_color="off")
    with ui.heavy("Asking the base model"):
        before = base_answers(cfg.max_new_tokens)
    st.markdown("**The base model, before any fine-tuning:**")
    for q, a in zip(ft.PROMPTS, before):
        st.markdown(f"- `Question: {q}` → `{a}`")


def table(cmp: ft.Comparison) -> None:
    full, lora = cmp.full, cmp.lora
    mb = lambda n: n / 2**20  # noqa: E731
    rows = {
        "trainable parameters": (f"{full.trainable:,}", f"{lora.trainable:,}", lora.trainable / full.trainable),
        "% of the base model's parameters": (f"{100 * full.trainable / full.total:.2f}%",
                                             f"{100 * lora.trainable / full.total:.2f}%", None),
        "time per step (ms, median)": (f"{full.step_ms:.0f}", f"{lora.step_ms:.0f}", lora.step_ms / full.step_ms),
        "peak memory of step 1 (MB, profiler)": (f"{mb(full.peak_bytes):.1f}", f"{mb(lora.peak_bytes):.1f}",
                                                  lora.peak_bytes / full.peak_bytes),
        "gradients + Adam moments (MB, tally)": (
            f"{mb(full.grads_bytes + full.optimizer_bytes):.2f}", f"{mb(lora.grads_bytes + lora.optimizer_bytes):.2f}",
            (lora.grads_bytes + lora.optimizer_bytes) / (full.grads_bytes + full.optimizer_bytes)),
        "training loss, first → last step": (f"{full.losses[0]:.2f} → {full.losses[-1]:.2f}",
                                             f"{lora.losses[0]:.2f} → {lora.losses[-1]:.2f}", None),
        f"held-out loss (base model: {cmp.base_heldout_loss:.2f})": (f"{full.heldout_loss:.2f}",
                                                                     f"{lora.heldout_loss:.2f}", None),
        "rank of ΔW (layer 0 q_proj)": (f"{full.delta_rank}", f"{lora.delta_rank}", None),
    }
    frame = pd.DataFrame([(k, f, l, "" if r is None else f"{r:.3g}×") for k, (f, l, r) in rows.items()],
                         columns=["measured", "full fine-tuning", f"LoRA r={cmp.config.rank}", "LoRA / full"])
    st.dataframe(frame, hide_index=True, width="stretch")
    st.caption(f"Times: median wall-clock of steps 2…N of one run on this server's CPU ({cmp.threads} torch "
               "thread(s)), shared with every other user, so they vary from run to run. Peak memory: the weights "
               "plus the highest total that `torch.profiler` (profile_memory=True) saw the first step allocate "
               "(activations, gradients, Adam moments, temporaries). Gradients and Adam: an exact sum over the "
               "tensors alive after training.")


def answers(cmp: ft.Comparison) -> None:
    rows = {"model": ["base tiny-lm", "full fine-tuning", f"LoRA r={cmp.config.rank}"]}
    for i, q in enumerate(ft.PROMPTS):
        rows[f"{q} ({'trained on' if i == 0 else 'held out'})"] = [cmp.base_samples[i], cmp.full.samples[i],
                                                                   cmp.lora.samples[i]]
    st.table(pd.DataFrame(rows).set_index("model"))
    st.caption("[end] = the model emitted end-of-text and stopped; … = it hit the token limit.")


def loss(cmp: ft.Comparison) -> None:
    ui.chart(charts.loss_curves, charts.loss_frame([cmp.full, cmp.lora]), cmp.base_heldout_loss, width="stretch")
    st.caption("Dashed: the base model's loss on the 8 held-out pairs, for scale.")


def memory(cmp: ft.Comparison) -> None:
    runs = [cmp.full, cmp.lora]
    ui.chart(charts.memory_bars, charts.memory_tally_frame(runs), width="stretch")
    ui.chart(charts.memory_timeline, charts.memory_timeline_frame(runs), width="stretch")
    st.caption("The first step, event by event: the forward pass stores activations (the climb), backward "
               "frees them while writing gradients, and Adam allocates its two moments on its first step. "
               "LoRA still stores most activations (gradients must flow back through every layer to reach the "
               "earliest adapters); what it saves is gradients and optimizer state.")


def low_rank(cmp: ft.Comparison) -> None:
    ui.chart(charts.spectrum, charts.spectrum_frame([cmp.full, cmp.lora]), width="stretch")
    c1, c2 = st.columns(2)
    c1.metric("Merged vs adapter logits, max |Δ|", f"{cmp.merge_max_diff:.1e}",
              f"float32 rounding; logits reach ±{cmp.logit_max_abs:.0f}", delta_color="off")
    c2.metric("Frozen weights changed by LoRA, max |Δ|", f"{cmp.base_max_change:g}",
              "bit-identical" if cmp.base_max_change == 0 else "changed!", delta_color="off")


def math(config, cfg: ft.FinetuneConfig) -> None:
    st.markdown("A linear layer computes $h = Wx$ with $W \\in \\mathbb{R}^{d_{out} \\times d_{in}}$. "
                "LoRA freezes $W$ and adds a trainable low-rank path:")
    st.latex(r"h = Wx + \frac{\alpha}{r} B A x,\qquad A \in \mathbb{R}^{r \times d_{in}},\ "
             r"B \in \mathbb{R}^{d_{out} \times r},\ B_0 = 0")
    st.markdown(
        "- $\\Delta W = \\frac{\\alpha}{r} BA$ has rank $\\le r$ (the spectrum above shows it). $B = 0$ at the "
        "start, so training starts exactly at the base model; $A$ is random so gradients reach $B$.\n"
        "- $\\alpha / r$ keeps the update's scale roughly fixed when you change $r$, so the learning rate "
        "need not be retuned.\n"
        "- Parameters per adapted matrix: $r(d_{in} + d_{out})$ instead of $d_{in} d_{out}$; for a square "
        "$d \\times d$ matrix, $2dr$ instead of $d^2$.\n"
        "- Adam keeps two moments per trainable parameter, so optimizer memory is $2\\times$ the trainable "
        "parameters (plus one gradient each): for full fine-tuning that is 3 extra copies of the model.\n"
        "- After training, $W' = W + \\frac{\\alpha}{r}BA$ is one matrix again (`merge_and_unload`): no "
        "extra latency at inference (the PEFT families section times it). QLoRA keeps $W$ in 4-bit NF4 and "
        "trains $A, B$ in 16-bit (its own section).")
    rows = []
    for name, d_in, d_out in ft.adapted_shapes(config, "all"):
        adapted = name in ft.MODULES[cfg.modules]
        rows.append({"matrix (per layer)": name, "d_in × d_out": f"{d_in} × {d_out}", "full: d_in·d_out": d_in * d_out,
                     f"LoRA r={cfg.rank}: r(d_in+d_out)": cfg.rank * (d_in + d_out) if adapted else 0,
                     "adapted": "yes" if adapted else "no"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"× {config.num_hidden_layers} layers. Embeddings ({config.vocab_size} × {config.hidden_size}, "
               "tied with the output head) and norms are trained by full fine-tuning and frozen by LoRA.")

    st.markdown("**The same formulas on Llama-2-7B's shapes** (a calculation from the config, not a measurement):")
    big = LlamaConfig(**ft.LLAMA2_7B)
    total, lora = ft.llama_parameter_count(big), ft.lora_parameter_count(big, cfg.rank, cfg.modules)
    # FP32 gradient (4 bytes) + Adam's two FP32 moments (8 bytes) per trainable parameter
    st.dataframe(pd.DataFrame([
        {"method": "full fine-tuning", "trainable": f"{total:,}", "% of 7B": "100%",
         "gradients + Adam (FP32)": f"{12 * total / 1e9:.1f} GB"},
        {"method": f"LoRA r={cfg.rank}, {MODULE_LABELS[cfg.modules]}", "trainable": f"{lora:,}",
         "% of 7B": f"{100 * lora / total:.3f}%", "gradients + Adam (FP32)": f"{12 * lora / 1e9:.3f} GB"},
    ]), hide_index=True, width="stretch")
    st.caption("Cited, not measured here: on GPT-3 175B, LoRA (r=4, q and v) cut training memory from 1.2 TB to "
               "350 GB and the checkpoint from 350 GB to 35 MB (Hu et al. 2021, section 4.2).")
    ui.papers(("LoRA (Hu et al. 2021)", "https://arxiv.org/abs/2106.09685"),
              ("QLoRA (Dettmers et al. 2023)", "https://arxiv.org/abs/2305.14314"),
              ("Adapters (Houlsby et al. 2019)", "https://arxiv.org/abs/1902.00751"),
              ("Intrinsic dimensionality of fine-tuning (Aghajanyan et al. 2020)", "https://arxiv.org/abs/2012.13255"))
    ui.code_behind(ft.with_lora, ft.train_steps, ft.profile_allocations, ft.finetune, ft.compare, ft.within_budget)
