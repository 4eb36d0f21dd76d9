"""Pretraining · Train a tiny GPT: a Llama-shaped model trained from scratch, live, on the corpus
(core.pretraining.live_training). Model size, learning rate and schedule, batch, gradient accumulation and
precision as knobs; the loss from ln V, held-out loss and perplexity, samples at checkpoints, tokens per second
and peak memory. The run starts only on its button, shows its progress, stops on Stop or at its time cap, and
stays on the page for the session. Also: gradient accumulation checked against the big batch, and what this
CPU offers BF16.
"""
import math

import pandas as pd
import streamlit as st

import ui
from core.charts import pretraining_depth as charts
from core.pretraining import live_training as lt
from core.state import Param
from ui.pretraining import bind, explicit_run, progress

LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
SEQ_LENS = (32, 64, 96, 128)
MAX_PROMPT = 200
MAX_HISTORY = 10
CHECKPOINT_MIN_STEPS = 5  # a checkpoint samples 24 tokens: not after every step of a short run
PARAMS = [
    Param("gpt_preset", "nano", choices=tuple(lt.PRESETS)),
    Param("gpt_precision", "fp32", choices=lt.PRECISIONS),
    Param("gpt_steps", 200, 10, lt.MAX_STEPS, step=10),
    Param("gpt_seconds", 30, 10, int(lt.MAX_SECONDS), step=5),
    Param("gpt_lr", 3e-3, choices=LRS),
    Param("gpt_schedule", "warmup+cosine", choices=lt.SCHEDULES),
    Param("gpt_warmup", 20, 0, 200, step=10),
    Param("gpt_batch", 16, 1, 32, step=1),
    Param("gpt_seq", 64, choices=SEQ_LENS),
    Param("gpt_accum", 1, 1, 8, step=1),
    Param("gpt_prompt", "And God said", max_len=MAX_PROMPT),
    Param("gpt_seed", 0, 0, 999, step=1),
]
BF16_STEPS, BF16_SECONDS = 8, 20.0  # per precision: two short runs, at most ~45 s under the lock in all


def _within_budget(values: dict) -> dict:
    """B·T <= lt.MAX_MICRO_TOKENS for one forward pass and B·T·k <= lt.MAX_STEP_TOKENS per step: batch, then
    accumulation give way to the sequence length."""
    seq = values["gpt_seq"]
    batch = min(values["gpt_batch"], lt.MAX_MICRO_TOKENS // seq)
    accum = max(1, min(values["gpt_accum"], lt.MAX_STEP_TOKENS // (batch * seq)))
    return {**values, "gpt_batch": batch, "gpt_accum": accum}


def _config() -> lt.LiveConfig:
    s = st.session_state
    steps = int(s.gpt_steps)
    return lt.LiveConfig(preset=s.gpt_preset, lr=float(s.gpt_lr), schedule=s.gpt_schedule, warmup=int(s.gpt_warmup),
                         batch_size=int(s.gpt_batch), grad_accum=int(s.gpt_accum), seq_len=int(s.gpt_seq),
                         precision=s.gpt_precision, steps=steps, max_seconds=float(s.gpt_seconds),
                         eval_every=max(CHECKPOINT_MIN_STEPS, steps // 6), prompt=s.gpt_prompt[:MAX_PROMPT],
                         seed=int(s.gpt_seed))


# A result is a few thousand floats and a dozen samples: well under 1 MB. Cached by its settings: a class
# pressing Train on the same settings trains once (and sees that run's measured speed).
@ui.cached_compute(max_entries=32, max_size="16MB")
def _train(cfg: lt.LiveConfig) -> lt.LiveResult:
    bar, on_progress = progress(f"Training {cfg.preset}")
    result = lt.train_live(cfg, on_progress)
    bar.empty()
    return result


@ui.cached_compute(max_entries=4, max_size="1MB")
def _precisions(preset: str) -> tuple[lt.LiveResult, lt.LiveResult]:
    """FP32 then BF16 autocast, the same short run (16 x 64 tokens per step)."""
    bar, on_progress = progress("FP32, then BF16")
    runs = []
    for i, precision in enumerate(lt.PRECISIONS):
        cfg = lt.LiveConfig(preset=preset, precision=precision, steps=BF16_STEPS, max_seconds=BF16_SECONDS,
                            eval_every=BF16_STEPS, eval_windows=2, sample_tokens=0)
        runs.append(lt.train_live(cfg, lambda f, m, i=i, p=precision: on_progress((i + f) / 2, f"{p} {m}")))
    bar.empty()
    return runs[0], runs[1]


@ui.cached_compute(max_entries=8, max_size="1MB")
def _accum_check(accum: int) -> lt.AccumCheck:
    return lt.grad_accum_check("nano", micro_batch=4, accum=accum, seq_len=32)


def _widgets() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.segmented_control("Model", list(lt.PRESETS), key="gpt_preset", required=True,
                         help="nano: C 64, 2 layers; micro: C 128, 4 layers; tiny-lm: the bundled model's shape, "
                              "C 192, 6 layers.")
    c2.segmented_control("Precision", list(lt.PRECISIONS), key="gpt_precision", required=True,
                         format_func=lambda p: {"fp32": "FP32", "bf16": "BF16 autocast"}[p])
    c3.slider("Steps", 10, lt.MAX_STEPS, step=10, key="gpt_steps")
    c4.slider("Time cap (s)", 10, int(lt.MAX_SECONDS), step=5, key="gpt_seconds")
    c1, c2, c3, c4 = st.columns(4)
    c1.select_slider("Peak learning rate", LRS, key="gpt_lr", format_func=lambda v: f"{v:g}")
    c2.radio("Schedule", lt.SCHEDULES, key="gpt_schedule", horizontal=True)
    c3.slider("Warm-up steps", 0, 200, step=10, key="gpt_warmup",
              disabled=st.session_state.gpt_schedule != "warmup+cosine")
    c4.number_input("Seed", 0, 999, key="gpt_seed")
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Batch B (windows)", 1, 32, key="gpt_batch",
              help=f"B·T is at most {lt.MAX_MICRO_TOKENS:,} tokens per forward pass: B gives way to T.")
    c2.select_slider("Window T (tokens)", SEQ_LENS, key="gpt_seq")
    c3.slider("Gradient accumulation k", 1, 8, key="gpt_accum",
              help=f"B·T·k is at most {lt.MAX_STEP_TOKENS:,} tokens per optimizer step.")
    c4.text_input("Prompt for the samples", key="gpt_prompt", max_chars=MAX_PROMPT)


def _plan(cfg: lt.LiveConfig) -> None:
    n = lt.parameter_count(cfg.preset)
    per_step = cfg.batch_size * cfg.seq_len * cfg.grad_accum
    tokens = per_step * cfg.steps
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("parameters N", f"{n:,}", f"embedding {lt.VOCAB * lt.PRESETS[cfg.preset]['hidden_size']:,}",
              delta_color="off")
    c2.metric("tokens per optimizer step", f"{per_step:,}",
              f"B·T·k = {cfg.batch_size}·{cfg.seq_len}·{cfg.grad_accum}", delta_color="off")
    c3.metric("tokens in the run D", f"{tokens:,}", f"{tokens / n:.2f} per parameter (Chinchilla: ~20)",
              delta_color="off")
    c4.metric("training compute 6ND", f"{6 * n * tokens:.2e} FLOPs")


def _cpu(preset: str) -> None:
    st.subheader("BF16 on this CPU")
    feats = lt.cpu_features()
    st.markdown("**This CPU:** " + " · ".join(f"`{flag}` {'✓' if present else '✗'}" for flag, present in
                                             feats.flags.items()) + f" · torch kernels: `{feats.capability}`")
    (st.success if feats.bf16_native else st.info)(feats.explanation)
    st.caption("BF16 keeps FP32's 8 exponent bits and cuts the mantissa to 7: the same range, so no loss scaling "
               "(FP16 has only 5 exponent bits). Autocast runs the matmuls in BF16 and keeps the weights, the "
               "softmax and the loss in FP32.")
    kept = explicit_run("Measure FP32 vs BF16", "gpt_bf16", "Timing FP32 and BF16", lambda: _precisions(preset),
                        preset, help=f"{BF16_STEPS} steps of 16 x 64 tokens each way, at most {BF16_SECONDS:.0f} s "
                                     "each.")
    if kept is None:
        return
    fp32, bf16 = kept[1]
    ratio = bf16.tokens_per_s / fp32.tokens_per_s if fp32.tokens_per_s and bf16.tokens_per_s else math.nan
    c1, c2, c3 = st.columns(3)
    c1.metric(f"FP32, {kept[0]}", f"{fp32.tokens_per_s:,.0f} tokens/s", f"peak {fp32.peak_bytes / 2**20:.0f} MB",
              delta_color="off")
    c2.metric("BF16 autocast", f"{bf16.tokens_per_s:,.0f} tokens/s", f"peak {bf16.peak_bytes / 2**20:.0f} MB",
              delta_color="off")
    c3.metric("BF16 / FP32 speed", f"{ratio:.2f}×")
    st.caption(f"Median step time of steps 2…{BF16_STEPS} (step 1 warms up), one run each on this shared server "
               f"({fp32.threads} torch threads), cached since it first ran. Each run stops at {BF16_SECONDS:.0f} s: "
               "on a CPU without BF16 units the BF16 run may manage only a few steps.")


def _results(result: lt.LiveResult) -> None:
    cps = result.checkpoints
    last = cps[-1]
    if result.stopped_by == "time":
        st.info(f"The time cap stopped the run after {len(result.losses)} of {result.config.steps} steps "
                f"({result.config.max_seconds:.0f} s of training on this shared server).")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("loss at step 1", f"{result.losses[0]:.3f}" if result.losses else "—",
              f"ln V = ln {lt.VOCAB:,} = {result.initial_expected:.3f}", delta_color="off")
    c2.metric("training loss, last step", f"{result.losses[-1]:.3f}" if result.losses else "—")
    c3.metric("held-out loss", f"{last.heldout_loss:.3f}", f"perplexity {last.perplexity:,.1f}", delta_color="off")
    c4.metric("held-out perplexity at step 0", f"{cps[0].perplexity:,.0f}", f"V = {lt.VOCAB:,}", delta_color="off")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("tokens per second", f"{result.tokens_per_s:,.0f}" if math.isfinite(result.tokens_per_s) else "—")
    c2.metric("time per step", f"{result.step_ms:,.0f} ms" if math.isfinite(result.step_ms) else "—")
    c3.metric("peak memory, step 1", f"{result.peak_bytes / 2**20:.1f} MB",
              f"weights {result.weights_bytes / 2**20:.1f} MB", delta_color="off")
    c4.metric("steps done", f"{len(result.losses)}", f"stopped by {result.stopped_by}", delta_color="off")
    st.caption(f"Speed: median of steps 2…N, checkpoints excluded, {result.threads} torch threads, on this server's "
               f"CPU shared with every other user; the whole run took {result.seconds:.1f} s. Memory: "
               f"{result.memory_source}.")
    ui.chart(charts.live_loss_chart, result, width="stretch")
    ui.chart(charts.lr_chart, result, width="stretch")
    st.markdown("**Samples at the checkpoints** (temperature 0.8, same seed each time): from random tokens to "
                "words, then to the corpus's style.")
    st.dataframe(pd.DataFrame([{"step": c.step, "tokens seen": c.tokens_seen, "held-out loss": round(c.heldout_loss, 3),
                                "perplexity": round(c.perplexity, 1), "sample": c.sample} for c in cps]),
                 hide_index=True, width="stretch", column_config={"sample": st.column_config.TextColumn(width="large")})


def _history(result: lt.LiveResult) -> None:
    runs = st.session_state.setdefault("gpt_runs", [])
    if not runs or runs[-1].config != result.config:  # a rerun of the page, or a cached repeat, adds nothing
        runs.append(result)
        del runs[:-MAX_HISTORY]
    if len(runs) < 2:
        return
    st.subheader("Your runs in this session")
    st.dataframe(pd.DataFrame([{
        "model": r.config.preset, "precision": r.config.precision, "lr": f"{r.config.lr:g}",
        "schedule": r.config.schedule, "B·T·k": f"{r.config.batch_size}·{r.config.seq_len}·{r.config.grad_accum}",
        "steps": len(r.losses), "held-out loss": round(r.checkpoints[-1].heldout_loss, 3),
        "tokens/s": round(r.tokens_per_s) if math.isfinite(r.tokens_per_s) else None,
        "peak MB": round(r.peak_bytes / 2**20, 1)} for r in runs]), hide_index=True, width="stretch")


def _accumulation(k: int) -> None:
    st.subheader("Gradient accumulation gives the big batch's gradient")
    k = max(2, k)
    with ui.heavy("Comparing gradients"):
        check = _accum_check(k)
    c1, c2, c3 = st.columns(3)
    c1.metric(f"max |Δgrad|, one batch of {4 * k} vs {k} × 4", f"{check.max_abs_diff:.1e}",
              f"largest gradient {check.max_abs_grad:.1e}", delta_color="off")
    c2.metric("loss, one batch", f"{check.loss_full:.6f}")
    c3.metric(f"loss, Σ of {k} micro-batches ÷ {k}", f"{check.loss_accum:.6f}")
    st.caption("nano, windows of 32 tokens. Each micro-batch's loss is divided by k and backward() adds into "
               "`.grad`: the sum of k means over equal-sized micro-batches is the mean over the whole batch, so "
               "the step is the same, at the activation memory of one micro-batch. (Float32 rounding differs in "
               "the last bits.)")


def render() -> None:
    st.markdown(
        "Everything so far prepares this: a model that starts from random weights and learns to predict the next "
        "token. Choose its size and the training recipe, press **Train**, and watch the loss fall and the samples "
        "turn from noise into verse. A run stops at its time cap, however many steps it was asked for.")
    bind(PARAMS, rules=(_within_budget,))
    _widgets()
    ui.sync_params(PARAMS)
    cfg = _config()
    _plan(cfg)
    kept = explicit_run("Train", "gpt_train", f"Training {cfg.preset}", lambda: _train(cfg), cfg,
                        help=f"Runs only when clicked; stops at {cfg.max_seconds:.0f} s of training or on Stop.")
    if kept is None:
        st.info(f"Click **Train** to train {cfg.preset} from scratch for {cfg.steps} steps (at most "
                f"{cfg.max_seconds:.0f} s). Identical settings are cached: the class shares one run.")
    else:
        ran_with, result = kept
        if ran_with != cfg:
            st.caption(f"Shown: the last run ({ran_with.preset}, {ran_with.precision}, lr {ran_with.lr:g}, "
                       f"{ran_with.steps} steps, B·T·k = {ran_with.batch_size}·{ran_with.seq_len}·"
                       f"{ran_with.grad_accum}). Your settings have changed since: click **Train** to run them.")
        _results(result)
        _history(result)
    _accumulation(cfg.grad_accum)
    _cpu(cfg.preset)
    st.subheader("The math")
    st.latex(r"\mathcal{L} = -\frac{1}{N}\sum_{t} \ln p_\theta(x_{t+1} \mid x_{\le t}), \qquad "
             r"\text{at initialisation } p \approx \tfrac{1}{V} \Rightarrow \mathcal{L}_0 \approx \ln V = "
             rf"\ln {lt.VOCAB} = {math.log(lt.VOCAB):.2f}, \qquad \text{{perplexity}} = e^{{\mathcal{{L}}}}")
    st.latex(r"\eta_t = \begin{cases} \eta_{\max}\,\frac{t+1}{w} & t < w \\ \eta_{\max}\Big(0.1 + 0.9\cdot"
             r"\frac{1 + \cos(\pi\,\frac{t - w}{T - w})}{2}\Big) & t \ge w \end{cases}, \qquad "
             r"\nabla_\theta \frac{1}{kB}\sum_{i=1}^{kB}\ell_i = \sum_{j=1}^{k} \nabla_\theta \frac{1}{k}\Big("
             r"\frac{1}{B}\sum_{i \in \text{micro-batch } j}\ell_i\Big)")
    st.markdown("A loss of ln V means the model is guessing uniformly: the first sanity check of any run. Warm-up "
                "keeps Adam's early, badly estimated steps small; the cosine decay lets the loss settle. Perplexity "
                "is the number of tokens the model is, on average, as unsure as choosing between.")
    ui.code_behind(lt.train_live, lt.grad_accum_check, lt.cpu_features)
    ui.papers(("Decoupled weight decay, AdamW (Loshchilov & Hutter 2017)", "https://arxiv.org/abs/1711.05101"),
              ("SGDR: cosine schedules (Loshchilov & Hutter 2016)", "https://arxiv.org/abs/1608.03983"),
              ("Large-minibatch SGD and warm-up (Goyal et al. 2017)", "https://arxiv.org/abs/1706.02677"),
              ("Mixed precision training (Micikevicius et al. 2017)", "https://arxiv.org/abs/1710.03740"),
              ("A study of BFLOAT16 for deep learning (Kalamkar et al. 2019)", "https://arxiv.org/abs/1905.12322"))
