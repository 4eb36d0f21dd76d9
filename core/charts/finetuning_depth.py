"""Charts for fine-tuning at depth: pure functions, core.finetuning results in, DataFrames and altair charts out.

Frames first (`*_frame`: result -> tidy DataFrame, also what a page shows as a table), then the
charts that draw them. No Streamlit, no I/O.
"""
import altair as alt
import numpy as np
import pandas as pd

METHOD_ORDER = ["full", "lora", "dora", "adapter", "prompt", "prefix", "ia3", "llama_adapter"]
METHOD_COLORS = alt.Scale(domain=METHOD_ORDER, range=["#d62728", "#1f77b4", "#17becf", "#2ca02c", "#ff7f0e",
                                                      "#bcbd22", "#9467bd", "#8c564b"])
METRICS = {  # column -> (axis title, log scale)
    "trainable": ("trainable parameters (log)", True),
    "share_pct": ("trainable share of the base (%, log)", True),
    "peak_MB": ("peak memory of step 1 (MB)", False),
    "step_ms": ("median step time (ms)", False),
    "final_loss": ("training loss after the last step", False),
    "heldout_loss": ("held-out loss (nats / token)", False),
    "answer_loss": ("held-out loss on the answer tokens only", False),
}
LATENCY_MODELS = ["base", "adapted", "merged"]


# ---- PEFT families ---------------------------------------------------------------------------------
def comparison_frame(cmp) -> pd.DataFrame:
    """PeftComparison -> one row per method: the comparison table."""
    return pd.DataFrame([{
        "method": r.method, "trainable": r.trainable, "formula": r.formula, "share_pct": 100 * r.share,
        "peak_MB": r.peak_bytes / 2**20, "step_ms": r.step_ms, "final_loss": r.losses[-1] if r.losses else np.nan,
        "heldout_loss": r.heldout_loss, "answer_loss": r.answer_loss, "merge_max_diff": r.merge_max_diff,
        "steps": len(r.losses), **{f"answer {i + 1}": a for i, a in enumerate(r.answers)}} for r in cmp.results])


def comparison_bars(df: pd.DataFrame, metric: str = "heldout_loss", base_value: float | None = None) -> alt.Chart:
    """One horizontal bar per method for `metric` (a key of METRICS); optional dashed rule (the base model)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    title, log = METRICS[metric]
    bars = alt.Chart(df).mark_bar().encode(
        y=alt.Y("method:N", sort=METHOD_ORDER, title=None),
        x=alt.X(f"{metric}:Q", title=title, scale=alt.Scale(type="log") if log else alt.Scale(zero=True)),
        color=alt.Color("method:N", scale=METHOD_COLORS, legend=None),
        tooltip=["method", alt.Tooltip(f"{metric}:Q", format=",.4g")],
    )
    if base_value is None:
        return bars.properties(height=32 * max(len(df), 1))
    rule = alt.Chart(pd.DataFrame({metric: [base_value], "what": ["base model"]})).mark_rule(
        strokeDash=[6, 4], color="gray").encode(x=f"{metric}:Q",
                                                tooltip=["what", alt.Tooltip(f"{metric}:Q", format=".3f")])
    return (bars + rule).properties(height=32 * max(len(df), 1))


def loss_frame(cmp) -> pd.DataFrame:
    """PeftComparison -> rows (method, step (1-based), loss)."""
    return pd.DataFrame([{"method": r.method, "step": i + 1, "loss": loss}
                         for r in cmp.results for i, loss in enumerate(r.losses)])


def loss_curves(df: pd.DataFrame) -> alt.Chart:
    """Training loss per step, one line per method."""
    return alt.Chart(df).mark_line().encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("loss:Q", title="training loss (nats / token)", scale=alt.Scale(zero=False)),
        color=alt.Color("method:N", scale=METHOD_COLORS, sort=METHOD_ORDER, title="method"),
        tooltip=["method", "step", alt.Tooltip("loss:Q", format=".3f")],
    ).properties(height=320)


def latency_frame(cmp) -> pd.DataFrame:
    """PeftComparison -> rows (method, model, ms): one forward pass of the base, the adapted and the merged model."""
    return pd.DataFrame([{"method": r.method, "model": name, "ms": ms} for r in cmp.results
                         for name, ms in zip(LATENCY_MODELS, r.forward_ms) if np.isfinite(ms)],
                        columns=["method", "model", "ms"])


def latency_bars(df: pd.DataFrame) -> alt.Chart:
    """Grouped bars per method: base, adapted and (where it merges) merged forward time."""
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("method:N", sort=METHOD_ORDER, title=None), yOffset=alt.YOffset("model:N", sort=LATENCY_MODELS),
        x=alt.X("ms:Q", title="median ms of one forward pass (8 held-out rows)"),
        color=alt.Color("model:N", sort=LATENCY_MODELS, title="model",
                        scale=alt.Scale(domain=LATENCY_MODELS, range=["#7f7f7f", "#ff7f0e", "#2ca02c"])),
        tooltip=["method", "model", alt.Tooltip("ms:Q", format=".2f")],
    ).properties(height=alt.Step(12))


# ---- instruction tuning ------------------------------------------------------------------------------
def token_mask_frame(mask, per_line: int = 12) -> pd.DataFrame:
    """TokenMask -> one row per token: piece (newlines shown as ⏎), position, line, col, part, in_loss."""
    rows = []
    for t, (piece, prompt, loss) in enumerate(zip(mask.pieces, mask.is_prompt, mask.in_loss)):
        rows.append({"t": t, "line": t // per_line, "col": t % per_line, "piece": piece.replace("\n", "⏎"),
                     "part": "prompt" if prompt else "response", "in_loss": "in the loss" if loss else "no loss"})
    return pd.DataFrame(rows)


def token_mask_chart(df: pd.DataFrame) -> alt.Chart:
    """Tokens in reading order; the background says whether the loss sees them, the text colour which part they are."""
    base = alt.Chart(df).encode(x=alt.X("col:O", axis=None), y=alt.Y("line:O", axis=None))
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("in_loss:N", title="label", scale=alt.Scale(domain=["in the loss", "no loss"],
                                                                    range=["#fdd49e", "#eeeeee"])),
        tooltip=["t", "piece", "part", "in_loss"])
    text = base.mark_text(fontSize=13).encode(
        text="piece:N", color=alt.Color("part:N", scale=alt.Scale(domain=["prompt", "response"],
                                                                   range=["#555555", "#08519c"]), title="part"))
    return (cells + text).properties(width=alt.Step(64), height=alt.Step(30)).resolve_scale(color="independent")


def mask_effect_frame(cmp) -> pd.DataFrame:
    """MaskComparison -> rows (run, measure, value) for base, masked and all-token SFT."""
    rows = []
    for name, run in (("base", cmp.base), ("prompt masked", cmp.masked), ("all tokens", cmp.unmasked)):
        rows += [{"run": name, "measure": "held-out response loss", "value": run.heldout_response_loss},
                 {"run": name, "measure": "held-out prompt loss", "value": run.heldout_prompt_loss},
                 {"run": name, "measure": "held-out exact match", "value": run.exact_match}]
    return pd.DataFrame(rows)


def mask_effect_bars(df: pd.DataFrame) -> alt.Chart:
    """One small panel per measure, one bar per run."""
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("run:N", sort=["base", "prompt masked", "all tokens"], title=None),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("run:N", legend=None, scale=alt.Scale(domain=["base", "prompt masked", "all tokens"],
                                                              range=["#7f7f7f", "#1f77b4", "#ff7f0e"])),
        column=alt.Column("measure:N", title=None),
        tooltip=["run", "measure", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=150, height=200).resolve_scale(y="independent")


# ---- preferences --------------------------------------------------------------------------------------
def dpo_frame(result) -> pd.DataFrame:
    """DPOResult -> rows (step, measure, value) for loss, margin, accuracy, chosen and rejected reward."""
    series = {"loss": result.losses, "reward margin": result.margins, "accuracy": result.accuracies,
              "chosen reward": result.chosen_rewards, "rejected reward": result.rejected_rewards}
    return pd.DataFrame([{"step": i + 1, "measure": name, "value": v}
                         for name, values in series.items() for i, v in enumerate(values)])


def dpo_chart(df: pd.DataFrame) -> alt.Chart:
    """Three panels over steps: rewards of y_w and y_l with their margin, accuracy, and the loss."""
    def panel(measures, title):
        return alt.Chart(df[df.measure.isin(measures)]).mark_line(point=True).encode(
            x=alt.X("step:Q", title="DPO step"), y=alt.Y("value:Q", title=title),
            color=alt.Color("measure:N", title=None), tooltip=["step", "measure", alt.Tooltip("value:Q", format=".3f")],
        ).properties(width=260, height=200)

    return alt.hconcat(panel(["chosen reward", "rejected reward", "reward margin"], "β·log π/π_ref"),
                       panel(["accuracy"], "batch preference accuracy"),
                       panel(["loss"], "DPO loss")).resolve_scale(color="independent")


def reward_frame(result) -> pd.DataFrame:
    """RewardResult -> rows (step, measure, value): the Bradley-Terry loss and the batch accuracy per step."""
    series = {"Bradley-Terry loss": result.losses, "batch accuracy": result.accuracies}
    return pd.DataFrame([{"step": i + 1, "measure": name, "value": v}
                         for name, values in series.items() for i, v in enumerate(values)])


def reward_curves(df: pd.DataFrame) -> alt.Chart:
    """Two panels over steps: the loss (log 2 at chance, dashed) and the share of the batch ranked right."""
    def panel(measure, rule):
        line = alt.Chart(df[df.measure == measure]).mark_line(point=True).encode(
            x=alt.X("step:Q", title="reward-model step"), y=alt.Y("value:Q", title=measure),
            tooltip=["step", alt.Tooltip("value:Q", format=".3f")])
        chance = alt.Chart(pd.DataFrame({"value": [rule]})).mark_rule(strokeDash=[6, 4], color="gray").encode(
            y="value:Q")
        return (line + chance).properties(width=300, height=200)

    return alt.hconcat(panel("Bradley-Terry loss", float(np.log(2))), panel("batch accuracy", 0.5))


def reward_margin_frame(result) -> pd.DataFrame:
    """RewardResult -> one row per held-out pair: pair, kind of rejected answer, margin, correct."""
    return pd.DataFrame([{"pair": i, "kind": k, "margin": m, "correct": m > 0}
                         for i, (m, k) in enumerate(zip(result.heldout_margins, result.heldout_kinds))])


def reward_margin_chart(df: pd.DataFrame) -> alt.Chart:
    """r(y_w) - r(y_l) per held-out pair, grouped by how the rejected answer fails; right of 0 is correct."""
    points = alt.Chart(df).mark_circle(size=80).encode(
        x=alt.X("margin:Q", title="r(x, y_chosen) - r(x, y_rejected)"), y=alt.Y("kind:N", title="rejected answer"),
        color=alt.Color("correct:N", scale=alt.Scale(domain=[True, False], range=["#2ca02c", "#d62728"])),
        tooltip=["pair", "kind", alt.Tooltip("margin:Q", format=".3f")])
    zero = alt.Chart(pd.DataFrame({"margin": [0.0]})).mark_rule(color="gray").encode(x="margin:Q")
    return (points + zero).properties(height=160)


def pipeline_frame(stages, edges) -> tuple[pd.DataFrame, pd.DataFrame]:
    """preference.RLHF_PIPELINE and PIPELINE_EDGES -> (boxes with x, y positions; arrows with endpoints)."""
    order = {}
    boxes = []
    for s in stages:
        col = order.setdefault(s.route, 0)
        order[s.route] += 1
        boxes.append({"key": s.key, "route": s.route, "x": col, "y": 0 if s.route == "RLHF" else 1,
                      "name": s.name, "data": s.data, "objective": s.objective, "output": s.output})
    where = {b["key"]: (b["x"], b["y"]) for b in boxes}
    arrows = [{"label": label, "x": where[a][0] + 0.32, "y": where[a][1], "x2": where[b][0] - 0.32, "y2": where[b][1]}
              for a, b, label in edges]
    return pd.DataFrame(boxes), pd.DataFrame(arrows)


def pipeline_diagram(boxes: pd.DataFrame, arrows: pd.DataFrame) -> alt.Chart:
    """RLHF's three stages above DPO's two, as boxes joined by arrows; tooltips give data and objective."""
    x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-0.5, 2.5]))
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[1.6, -0.6]))
    box = alt.Chart(boxes).mark_rect(cornerRadius=6, opacity=0.85).encode(
        x=alt.X("x1:Q", axis=None, scale=alt.Scale(domain=[-0.5, 2.5])), x2="x2:Q",
        y=alt.Y("y1:Q", axis=None, scale=alt.Scale(domain=[1.6, -0.6])), y2="y2:Q",
        color=alt.Color("route:N", scale=alt.Scale(domain=["RLHF", "DPO"], range=["#c6dbef", "#fdd0a2"])),
        tooltip=["name", "data", "objective", "output"],
    ).transform_calculate(x1="datum.x - 0.3", x2="datum.x + 0.3", y1="datum.y - 0.3", y2="datum.y + 0.3")
    names = alt.Chart(boxes).mark_text(fontWeight="bold", dy=-10).encode(x=x, y=y, text="name:N")
    outputs = alt.Chart(boxes).mark_text(dy=10).encode(x=x, y=y, text="output:N")
    lines = alt.Chart(arrows).mark_rule(strokeWidth=2, color="#555555").encode(
        x=alt.X("x:Q", scale=alt.Scale(domain=[-0.5, 2.5]), axis=None), x2="x2:Q",
        y=alt.Y("y:Q", scale=alt.Scale(domain=[1.6, -0.6]), axis=None), y2="y2:Q", tooltip=["label"])
    heads = alt.Chart(arrows).mark_point(shape="triangle-right", filled=True, size=90, color="#555555").encode(
        x=alt.X("x2:Q", scale=alt.Scale(domain=[-0.5, 2.5]), axis=None),
        y=alt.Y("y2:Q", scale=alt.Scale(domain=[1.6, -0.6]), axis=None))
    return (box + lines + heads + names + outputs).properties(height=260)


# ---- QLoRA ---------------------------------------------------------------------------------------------
def qlora_memory_frame(rows) -> pd.DataFrame:
    """qlora.memory_table rows -> DataFrame (model, params, setup, part, gb)."""
    return pd.DataFrame([{"model": r.model, "params": r.params, "setup": r.setup, "part": r.part, "gb": r.gb}
                         for r in rows])


def qlora_memory_bars(df: pd.DataFrame, gpu_gb: float = 48.0) -> alt.Chart:
    """Stacked GB per LLaMA size, full 16-bit beside QLoRA, with a dashed rule at one GPU's memory."""
    bars = alt.Chart(df).mark_bar().encode(
        y=alt.Y("model:N", title="LLaMA", sort=["7B", "13B", "33B", "65B"]), yOffset=alt.YOffset("setup:N"),
        x=alt.X("gb:Q", title="GB (weights, gradients, optimizer state; activations not included)", stack="zero"),
        color=alt.Color("part:N", title="part"),
        tooltip=["model", "setup", "part", alt.Tooltip("gb:Q", format=",.1f")])
    rule = alt.Chart(pd.DataFrame({"gb": [gpu_gb], "what": [f"one {gpu_gb:g} GB GPU"]})).mark_rule(
        strokeDash=[6, 4], color="black").encode(x="gb:Q", tooltip=["what"])
    return (bars + rule).properties(height=alt.Step(18))


def qlora_run_frame(cmp) -> pd.DataFrame:
    """QLoRAComparison -> rows (method, measure, value): weights MB, peak MB, ms per step, held-out losses."""
    rows = []
    for r in (cmp.lora, cmp.qlora):
        rows += [{"method": r.method, "measure": "weights (MB)", "value": r.weight_bytes / 2**20},
                 {"method": r.method, "measure": "peak of step 1 (MB)", "value": r.peak_bytes / 2**20},
                 {"method": r.method, "measure": "ms per step", "value": r.step_ms},
                 {"method": r.method, "measure": "held-out loss before", "value": r.base_heldout_loss},
                 {"method": r.method, "measure": "held-out loss after", "value": r.heldout_loss}]
    return pd.DataFrame(rows)


def qlora_run_bars(df: pd.DataFrame) -> alt.Chart:
    """One panel per measure, LoRA (FP32 base) beside QLoRA (NF4 base)."""
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("method:N", title=None), y=alt.Y("value:Q", title=None),
        color=alt.Color("method:N", legend=None,
                        scale=alt.Scale(domain=["lora", "qlora"], range=["#1f77b4", "#9467bd"])),
        column=alt.Column("measure:N", title=None), tooltip=["method", "measure", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=90, height=180).resolve_scale(y="independent")
