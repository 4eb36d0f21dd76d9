"""Charts for the Pretraining page's deeper sections: the data pipeline, MinHash / LSH, tokenizers
compared, MLM vs CLM, the live training run, and parallelism (GPipe bubble, ZeRO, data parallel).
Pure functions: results in, altair charts (or DataFrames for tables) out; no Streamlit, no I/O.
"""
import math

import altair as alt
import numpy as np
import pandas as pd

from core.pretraining.dedup import lsh_threshold

MAX_POINTS = 2000  # points a scatter sends to the browser

STEP_ORDER = ["raw", "strip boilerplate", "quality filter", "exact dedup", "near dedup"]
ALGORITHM_COLOURS = alt.Scale(domain=["BPE", "WordPiece", "Unigram"], range=["#3b7dd8", "#e07b39", "#3aa357"])


def _require(frame: pd.DataFrame, columns: set, who: str) -> None:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{who}: missing columns {sorted(missing)}")


# ---- the data pipeline ----------------------------------------------------------------------
def pipeline_frame(result) -> pd.DataFrame:
    """One row per (step, measure): documents, characters or tokens kept, and the share of raw."""
    rows = []
    raw = result.steps[0]
    for st in result.steps:
        for measure in ("documents", "characters", "tokens"):
            value = getattr(st, measure)
            rows.append({"step": st.step, "enabled": st.enabled, "measure": measure, "kept": value,
                         "share of raw": value / max(getattr(raw, measure), 1)})
    return pd.DataFrame(rows)


def pipeline_counts_chart(result) -> alt.Chart:
    """Bars of what is kept after each step, one panel per measure; switched-off steps pale."""
    frame = pipeline_frame(result)
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("step:N", sort=STEP_ORDER, title=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("kept:Q", title="kept"),
        color=alt.Color("measure:N", legend=None),
        opacity=alt.condition("datum.enabled", alt.value(1.0), alt.value(0.3)),
        tooltip=["step", "measure", alt.Tooltip("kept:Q", format=","), alt.Tooltip("share of raw:Q", format=".1%"),
                 "enabled"],
    ).properties(width=200, height=200).facet(column=alt.Column("measure:N", title=None)).resolve_scale(y="independent")


def removals_frame(result) -> pd.DataFrame:
    """Per enabled step: noise removed against good text removed (with the unit), for a table."""
    return pd.DataFrame([{"step": st.step, "unit": st.unit, "noise removed": st.removed_noise,
                          "good text removed": st.removed_clean} for st in result.steps[1:] if st.enabled])


def s_curve_chart(result) -> alt.LayerChart:
    """P[candidate] = 1 - (1 - s^r)^b against Jaccard s, the threshold (1/b)^(1/r), and the measured
    pairs: each at its true Jaccard, at 1 if LSH made it a candidate, at 0 if not."""
    b, r = result.clean.bands, result.clean.rows
    curve = pd.DataFrame({"jaccard": result.s_curve[:, 0], "probability": result.s_curve[:, 1]})
    line = alt.Chart(curve).mark_line(color="#3b7dd8").encode(
        x=alt.X("jaccard:Q", title="Jaccard similarity s", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("probability:Q", title="P[candidate pair]", scale=alt.Scale(domain=[-0.05, 1.05])),
        tooltip=[alt.Tooltip("jaccard:Q", format=".2f"), alt.Tooltip("probability:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"threshold": [lsh_threshold(b, r)]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(x="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format=".3f")])
    layers = [line, rule]
    if result.pairs:
        pairs = pd.DataFrame([{"jaccard": p.true, "found": float(p.candidate),
                               "pair": f"{p.a}–{p.b}", "estimated": p.estimated} for p in result.pairs[:MAX_POINTS]])
        layers.append(alt.Chart(pairs).mark_tick(thickness=2, opacity=0.5, color="crimson").encode(
            x="jaccard:Q", y=alt.Y("found:Q", title="P[candidate pair]"), tooltip=["pair", alt.Tooltip("jaccard:Q", format=".3f"),
                                                 alt.Tooltip("estimated:Q", format=".2f")]))
    title = f"b = {b} bands × r = {r} rows: threshold ≈ (1/b)^(1/r) = {lsh_threshold(b, r):.2f}"
    return alt.layer(*layers).properties(width=460, height=260, title=title)


def jaccard_scatter_chart(pairs) -> alt.LayerChart:
    """MinHash estimate against the exact Jaccard of the shingle sets, one point per pair; y = x dashed."""
    frame = pd.DataFrame([{"true Jaccard": p.true, "MinHash estimate": p.estimated,
                           "pair": "linked as duplicates" if p.duplicate else
                           ("LSH candidate, below threshold" if p.candidate else "missed by LSH"),
                           "documents": f"{p.a}–{p.b}"} for p in list(pairs)[:MAX_POINTS]],
                         columns=["true Jaccard", "MinHash estimate", "pair", "documents"])
    diagonal = alt.Chart(pd.DataFrame({"v": [0.0, 1.0]})).mark_line(strokeDash=[4, 4], color="gray").encode(
        x=alt.X("v:Q", title="true Jaccard"), y=alt.Y("v:Q", title="MinHash estimate"))
    points = alt.Chart(frame).mark_circle(size=45, opacity=0.7).encode(
        x=alt.X("true Jaccard:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("MinHash estimate:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("pair:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["documents:N", alt.Tooltip("true Jaccard:Q", format=".3f"),
                 alt.Tooltip("MinHash estimate:Q", format=".3f"), "pair:N"])
    return (diagonal + points).properties(width=360, height=360)


# ---- tokenizers -------------------------------------------------------------------------------------
def tokenizer_stats_frame(comparison) -> pd.DataFrame:
    return pd.DataFrame([s.__dict__ for s in comparison.stats])


def tokenizer_compression_chart(comparison) -> alt.Chart:
    """Characters per token (held-out) against the vocabulary size each trainer produced, log x."""
    frame = tokenizer_stats_frame(comparison)
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("vocab_size:Q", scale=alt.Scale(type="log", nice=False), title="vocabulary size (log scale)"),
        y=alt.Y("chars_per_token:Q", title="characters per token (held-out)", scale=alt.Scale(zero=False)),
        color=alt.Color("algorithm:N", scale=ALGORITHM_COLOURS),
        tooltip=["algorithm", "requested_vocab", "vocab_size", alt.Tooltip("chars_per_token:Q", format=".2f"),
                 alt.Tooltip("unknown_rate:Q", format=".2%"), alt.Tooltip("train_seconds:Q", format=".2f")],
    ).properties(width=460, height=280)


def splits_frame(comparison, vocab_size: int) -> pd.DataFrame:
    """One row per (sample, algorithm) at one requested vocabulary size: tokens, unknowns, pieces."""
    return pd.DataFrame([{"sample": s.sample, "algorithm": s.algorithm, "tokens": len(s.pieces),
                          "unknown": s.n_unknown, "pieces": " | ".join(s.pieces)}
                         for s in comparison.splits if s.vocab_size == vocab_size])


def tokenizer_samples_chart(comparison, vocab_size: int) -> alt.FacetChart:
    """Tokens per sample text for each algorithm, one small panel per sample; the dark part of a bar
    is the unknown tokens ([UNK] / <unk>) among them."""
    frame = splits_frame(comparison, vocab_size)
    y = alt.Y("algorithm:N", title=None, sort=list(ALGORITHM_COLOURS.domain))
    tip = ["sample", "algorithm", "tokens", "unknown", "pieces"]
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("tokens:Q", title="tokens (dark: unknown tokens)"), y=y,
        color=alt.Color("algorithm:N", scale=ALGORITHM_COLOURS, legend=None), tooltip=tip)
    unknown = alt.Chart().mark_bar(color="black", opacity=0.45).encode(x="unknown:Q", y=y, tooltip=tip)
    samples = list(dict.fromkeys(frame["sample"]))
    return alt.layer(bars, unknown, data=frame).properties(width=380, height=60).facet(
        row=alt.Row("sample:N", title=None, sort=samples))


def merge_steps_frame(steps) -> pd.DataFrame:
    """BPE merge replay as a table: step, merge, rank, the sentence's symbols separated by '·'."""
    def show(s: str) -> str:
        return s.replace(" ", "␣").replace("\n", "↵")

    return pd.DataFrame([{"step": st.step, "merge": "" if st.rank < 0 else f"{show(st.pair[0])} + {show(st.pair[1])}",
                          "rank": st.rank, "symbols": sum(len(w) for w in st.words),
                          "sentence": "  ".join("·".join(show(s) for s in w) for w in st.words)} for st in steps])


# ---- objectives and training ----------------------------------------------------------------------
def objective_view_frame(view) -> pd.DataFrame:
    """Position by position: the token, what the model reads, what it must predict, why."""
    return pd.DataFrame({"position": range(len(view.tokens)), "token": view.tokens, "model reads": view.inputs,
                         "target": view.targets, "rule": view.actions})


def objectives_loss_chart(comparison) -> alt.LayerChart:
    """Training loss per step for CLM and MLM, with ln V (a uniform guess) as a dashed rule."""
    frame = pd.concat([pd.DataFrame({"step": range(1, len(run.losses) + 1), "loss": run.losses,
                                     "objective": f"{run.objective} ({run.model_class})"})
                       for run in (comparison.clm, comparison.mlm)])
    lines = alt.Chart(frame).mark_line().encode(
        x="step:Q", y=alt.Y("loss:Q", title="training loss (nats per target)", scale=alt.Scale(zero=False)),
        color=alt.Color("objective:N"),
        tooltip=["objective", "step", alt.Tooltip("loss:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"ln V": [comparison.initial_loss]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(y="ln V:Q", tooltip=[alt.Tooltip("ln V:Q", format=".3f")])
    return (lines + rule).properties(width=520, height=280,
                                     title="different targets: these losses are not directly comparable")


def live_loss_frame(result) -> pd.DataFrame:
    """Training loss per step and held-out loss at checkpoints, in one long frame."""
    train = pd.DataFrame({"step": range(1, len(result.losses) + 1), "loss": result.losses, "series": "train"})
    held = pd.DataFrame({"step": [c.step for c in result.checkpoints],
                         "loss": [c.heldout_loss for c in result.checkpoints], "series": "held-out"})
    return pd.concat([train, held], ignore_index=True)


def live_loss_chart(result) -> alt.LayerChart:
    """Train loss (line), held-out loss at checkpoints (points, with perplexity in the tooltip), ln V rule."""
    frame = live_loss_frame(result)
    frame["perplexity"] = np.exp(frame["loss"])
    colour = alt.Color("series:N", scale=alt.Scale(domain=["train", "held-out"], range=["#3b7dd8", "crimson"]))
    x = alt.X("step:Q", title="optimizer step")
    y = alt.Y("loss:Q", title="loss (nats per token)", scale=alt.Scale(zero=False))
    tip = ["series", "step", alt.Tooltip("loss:Q", format=".3f"), alt.Tooltip("perplexity:Q", format=",.1f")]
    train = alt.Chart(frame[frame.series == "train"]).mark_line().encode(x=x, y=y, color=colour, tooltip=tip)
    held = alt.Chart(frame[frame.series == "held-out"]).mark_line(point=True, strokeDash=[2, 2]).encode(
        x=x, y=y, color=colour, tooltip=tip)
    rule = alt.Chart(pd.DataFrame({"ln V": [result.initial_expected]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(y="ln V:Q")
    return (train + held + rule).properties(width=560, height=300,
                                            title=f"starts near ln V = {result.initial_expected:.2f}")


def lr_chart(result) -> alt.Chart:
    """The learning rate of each optimizer step."""
    frame = pd.DataFrame({"step": range(1, len(result.lrs) + 1), "learning rate": result.lrs})
    return alt.Chart(frame).mark_line(color="#888").encode(
        x="step:Q", y=alt.Y("learning rate:Q", axis=alt.Axis(format=".1e"))).properties(width=560, height=110)


# ---- parallelism ------------------------------------------------------------------------------------
def bubble_chart(rows: list[dict]) -> alt.Chart:
    """GPipe bubble (p - 1)/(m + p - 1) against micro-batches m (log), one line per stage count p."""
    frame = pd.DataFrame(rows)
    _require(frame, {"stages", "micro_batches", "bubble"}, "bubble_chart")
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("micro_batches:Q", scale=alt.Scale(type="log", base=2), title="micro-batches m"),
        y=alt.Y("bubble:Q", axis=alt.Axis(format="%"), title="idle share (bubble)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("stages:O", title="stages p"),
        tooltip=["stages", "micro_batches", alt.Tooltip("bubble:Q", format=".1%")],
    ).properties(width=420, height=260)


def gpipe_schedule_chart(rows: list[dict]) -> alt.LayerChart:
    """The GPipe timeline: stages down, time slots across; forward blue, backward orange, gaps idle."""
    frame = pd.DataFrame(rows)
    _require(frame, {"stage", "slot", "pass", "micro_batch"}, "gpipe_schedule_chart")
    frame["end"] = frame["slot"] + 1
    base = alt.Chart(frame).encode(x=alt.X("slot:Q", title="time slot"), x2="end:Q",
                                   y=alt.Y("stage:O", title="stage (device)"))
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("pass:N", scale=alt.Scale(domain=["forward", "backward"], range=["#3b7dd8", "#f2a65a"])),
        tooltip=["stage", "slot", "pass", "micro_batch"])
    frame["middle"] = frame["slot"] + 0.5
    labels = alt.Chart(frame).mark_text(fontSize=10, color="white").encode(
        x="middle:Q", y="stage:O", text="micro_batch:Q")
    return (cells + labels).properties(width=560, height=max(60, 28 * int(frame["stage"].max() + 1)))


def zero_frame(memory: dict) -> pd.DataFrame:
    """{stage: {component: bytes}} (core.pretraining.parallel.zero_memory) -> rows in GB (1e9 bytes)."""
    order = {"parameters": 0, "gradients": 1, "optimizer states": 2}
    return pd.DataFrame([{"stage": stage, "component": part, "GB": value / 1e9, "order": order[part]}
                         for stage, parts in memory.items() for part, value in parts.items() if part != "total"])


def zero_chart(memory: dict) -> alt.LayerChart:
    """Stacked bars of per-device memory for baseline DP and ZeRO stages 1-3, total labelled."""
    frame = zero_frame(memory)
    order = list(memory)
    bars = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("stage:N", sort=order, title=None), x=alt.X("GB:Q", title="memory per device (GB)", stack="zero"),
        color=alt.Color("component:N", sort=["parameters", "gradients", "optimizer states"],
                        legend=alt.Legend(orient="bottom")),
        order=alt.Order("order:Q"),
        tooltip=["stage", "component", alt.Tooltip("GB:Q", format=".2f")])
    totals = pd.DataFrame([{"stage": s, "GB": parts["total"] / 1e9} for s, parts in memory.items()])
    text = alt.Chart(totals).mark_text(align="left", dx=4).encode(
        y=alt.Y("stage:N", sort=order), x="GB:Q", text=alt.Text("GB:Q", format=".1f"))
    return (bars + text).properties(width=480, height=170)


def gradient_agreement_chart(dp, max_points: int = 1500) -> alt.Chart:
    """Each gradient entry: full-batch (one process) on x, against the all-reduced gradient and each
    process's own shard gradient on y. The all-reduced points sit on the diagonal; shards scatter."""
    n = len(dp.single_grad)
    idx = np.linspace(0, n - 1, min(n, max_points)).astype(int)
    parts = [pd.DataFrame({"full batch, one process": dp.single_grad[idx], "gradient": dp.allreduced_grad[idx],
                           "which": "all-reduced (both processes)"})]
    for rank, local in enumerate(dp.local_grads):
        parts.append(pd.DataFrame({"full batch, one process": dp.single_grad[idx], "gradient": local[idx],
                                   "which": f"process {rank} alone (half the batch)"}))
    frame = pd.concat(parts, ignore_index=True)
    return alt.Chart(frame).mark_circle(size=14, opacity=0.5).encode(
        x=alt.X("full batch, one process:Q"), y=alt.Y("gradient:Q"),
        color=alt.Color("which:N", title=None, legend=alt.Legend(orient="bottom")),
    ).properties(width=380, height=320, title=f"{n:,} gradient entries, {len(idx):,} shown")


def human_bytes(n: float) -> str:
    """human_bytes(1.5e9) -> '1.5 GB' (powers of 1,000, as the ZeRO paper counts)."""
    if n <= 0:
        return "0 B"
    units = ["B", "kB", "MB", "GB", "TB"]
    k = min(int(math.log10(n) // 3), len(units) - 1)
    return f"{n / 10 ** (3 * k):.1f} {units[k]}"
