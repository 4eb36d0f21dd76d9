"""Multimodal · Train a tiny CLIP live (core.multimodal.clip_live): batch size, temperature (learned or fixed),
learning rate and steps as knobs; the run starts only on its button, shows its progress, stops on Stop or at its
time cap, and stays on the page for the session. Shown: the loss curve, zero-shot accuracy at the checkpoints, a
held-out batch's similarity matrix sharpening, and a PCA map of held-out pictures and captions.
"""
import math

import numpy as np
import streamlit as st

import ui
from core.charts import multimodal as charts
from core.charts import multimodal_depth as depth_charts
from core.multimodal import clip_live
from core.state import Param
from ui.pretraining import explicit_run, progress

LRS = (3e-4, 1e-3, 3e-3, 1e-2)
TEMPERATURES = (0.01, 0.02, 0.05, 0.07, 0.1, 0.2, 0.5, 1.0)
CHANCE = 1 / 24  # zero-shot over the 24 colour + shape prompts
PARAMS = [
    Param("clip_batch", 32, 8, clip_live.MAX_BATCH, step=8),
    Param("clip_steps", 100, 10, 300, step=10),
    Param("clip_lr", 3e-3, choices=LRS),
    Param("clip_temperature", 0.07, choices=TEMPERATURES),
    Param("clip_learn_t", True),
    Param("clip_seconds", 60, 10, int(clip_live.MAX_SECONDS), step=5),
    Param("clip_seed", 0, 0, 999, step=1),
]


def _config() -> tuple[clip_live.LiveClipConfig, int]:
    s = st.session_state
    cfg = clip_live.LiveClipConfig(batch_size=int(s.clip_batch), steps=int(s.clip_steps), lr=float(s.clip_lr),
                                   temperature=float(s.clip_temperature), learn_temperature=bool(s.clip_learn_t),
                                   max_seconds=float(s.clip_seconds))
    return cfg, int(s.clip_seed)


# A result is a few hundred floats, seven 8×8 matrices, eight 32×32 pictures and a 96-point map: ~40 kB.
# Cached by its settings: a class pressing Train on the same settings trains once.
@ui.cached_compute(max_entries=32, max_size="8MB")
def _train(cfg: clip_live.LiveClipConfig, seed: int) -> clip_live.LiveClipResult:
    _, tokenizer = ui.clip()
    bar, on_progress = progress("Training a tiny CLIP")
    result = clip_live.run(cfg, seed, lambda p: on_progress(p.fraction, p.message), tokenizer=tokenizer)
    bar.empty()
    return result


def _widgets() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Batch B (pairs per step)", 8, clip_live.MAX_BATCH, step=8, key="clip_batch",
              help="Each picture must find its caption among B: a bigger batch is a harder, more informative task.")
    c2.slider("Steps", 10, 300, step=10, key="clip_steps")
    c3.select_slider("Peak learning rate", LRS, key="clip_lr", format_func=lambda v: f"{v:g}")
    c4.slider("Time cap (s)", 10, int(clip_live.MAX_SECONDS), step=5, key="clip_seconds",
              help="The whole run, set-up and the checkpoints' evaluations included.")
    c1, c2, c3 = st.columns([2, 1, 1])
    c1.select_slider("Temperature τ (logits = cos / τ)", TEMPERATURES, key="clip_temperature",
                     help="CLIP starts at τ = 0.07, i.e. exp(t) = 1/τ ≈ 14.3, and caps 1/τ at 100.")
    c2.toggle("Learn τ", key="clip_learn_t", help="On: τ is a trainable parameter that starts at the value chosen "
                                                  "(CLIP). Off: τ stays fixed.")
    c3.number_input("Seed", 0, 999, key="clip_seed")


def _results(result: clip_live.LiveClipResult) -> None:
    cps = result.checkpoints
    first, last = cps[0], cps[-1]
    if result.stopped_by == "time":
        st.info(f"The time cap stopped the run after {len(result.losses)} of {result.config.steps} steps "
                f"(its {result.config.max_seconds:.0f} s cap counts the whole run, set-up and checkpoints included, on this "
                "shared server).")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("zero-shot accuracy", f"{last.accuracy:.1%}", f"{last.accuracy - first.accuracy:+.1%} since step 0")
    c2.metric("loss, first → last step", f"{np.mean(result.losses[-5:]):.3f}",
              f"from {result.losses[0]:.3f}; ln B = {math.log(result.config.batch_size):.3f}", delta_color="off")
    c3.metric("1/τ = exp(t), at the end", f"{result.scales[-1]:.1f}",
              f"started at {1 / result.config.temperature:.1f}" + ("" if result.config.learn_temperature
                                                                  else " (fixed)"), delta_color="off")
    c4.metric("time per step", f"{result.step_ms:,.0f} ms", f"{len(result.losses)} steps, {result.seconds:.0f} s in all",
              delta_color="off")
    st.caption(f"{result.n_params:,} parameters (one layer of width {result.config.hidden} per tower; the bundled "
               f"tiny CLIP has 3 + 2 layers of width 64). Zero-shot: argmax over the 24 *a photo of a {{colour}} "
               f"{{shape}}* prompts on {result.config.eval_n} held-out pictures (chance {CHANCE:.1%}). Timed on this "
               "server's CPU, shared with every other user.")
    c1, c2 = st.columns(2)
    ui.chart(depth_charts.clip_loss_chart, result.losses, result.config.batch_size, width="stretch", on=c1)
    ui.chart(depth_charts.accuracy_chart, [c.step for c in cps], [c.accuracy for c in cps],
             [c.colour_accuracy for c in cps], [c.shape_accuracy for c in cps], CHANCE, width="stretch", on=c2)
    st.markdown("**The same held-out batch at three checkpoints**: cosine similarity of picture i and caption j. "
                "Training lights up the diagonal and darkens the rest.")
    st.image([p.repeat(2, axis=0).repeat(2, axis=1) for p in result.snapshot_pictures],  # pixels stay visible
             caption=[f"picture {i + 1}" for i in range(len(result.snapshot_captions))], width=64)
    st.caption("Captions: " + " · ".join(f"**{j + 1}** {c}" for j, c in enumerate(result.snapshot_captions)))
    shown = sorted({0, len(cps) // 2, len(cps) - 1})
    for col, i in zip(st.columns(len(shown)), shown):
        c = cps[i]
        frame = charts.similarity_frame(c.cosine, result.snapshot_captions)
        ui.chart(charts.similarity_heatmap, frame, f"step {c.step}", "cosine", (-1.0, 1.0), size=170, on=col)
        col.caption(f"batch loss {c.batch_loss:.3f} at exp(t) = {c.logit_scale:.1f}")
    ui.chart(depth_charts.embedding_map, result.map_coords, result.map_kinds, result.map_labels, result.map_explained,
             width="stretch")
    st.caption(f"{clip_live.MAP_PAIRS} held-out pictures (circles) and their captions *a red circle*, ... (crosses), "
               "all embedded into the shared space and projected onto its two main axes (PCA, numpy SVD). Pictures "
               "and captions of the same colour end up in the same region: the shared space at work. (Pictures "
               "and captions usually still form two separate clouds, the *modality gap* of Liang et al. 2022.)")


def render() -> None:
    ui.explain(
        "Now train one yourself: a smaller CLIP (one layer per tower) from random weights on 2,000 synthetic "
        "pictures, on this server's CPU. Choose the batch size, the temperature and whether it is learned, the "
        "learning rate and the steps; press **Train** and watch the loss fall from ln B, the held-out batch's "
        "diagonal light up and zero-shot accuracy climb from chance.")
    _widgets()
    cfg, seed = _config()
    kept = explicit_run("Train", "clip_train", "Training a tiny CLIP", lambda: _train(cfg, seed), (cfg, seed),
                        help=f"Runs only when clicked; stops after {cfg.max_seconds:.0f} s or on Stop.")
    if kept is None:
        st.info(f"Click **Train** to train a tiny CLIP from scratch for {cfg.steps} steps of {cfg.batch_size} pairs "
                f"(at most {cfg.max_seconds:.0f} s). Identical settings are cached: the class shares one run.")
        return
    ran_with, result = kept
    if ran_with != (cfg, seed):
        st.caption("Shown: your last run. Your settings have changed since: click **Train** to run them.")
    _results(result)
    ui.code_behind(clip_live.train_live, clip_live.pca_2d)
