"""Charts of the Fine-tuning page: pure functions, core.finetuning.finetune results in, altair charts out."""
import altair as alt
import numpy as np
import pandas as pd

METHOD_COLORS = alt.Scale(domain=["full", "lora"], range=["#d62728", "#1f77b4"])


def loss_frame(runs) -> pd.DataFrame:
    """RunResults -> one row per (method, step): columns method, step (1-based), loss."""
    return pd.DataFrame([{"method": r.method, "step": i + 1, "loss": loss} for r in runs for i, loss in enumerate(r.losses)])


def loss_curves(df: pd.DataFrame, base_heldout: float | None = None) -> alt.Chart:
    """Training loss per step, one line per method; optional dashed rule at the base model's held-out loss."""
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("loss:Q", title="training loss (nats / token)", scale=alt.Scale(zero=False)),
        color=alt.Color("method:N", scale=METHOD_COLORS, title="method"),
        tooltip=["method", "step", alt.Tooltip("loss:Q", format=".3f")],
    )
    if base_heldout is None:
        return lines.properties(height=320)
    rule = alt.Chart(pd.DataFrame({"loss": [base_heldout], "what": ["base model, held-out pairs"]})).mark_rule(
        strokeDash=[6, 4], color="gray").encode(y="loss:Q", tooltip=["what", alt.Tooltip("loss:Q", format=".3f")])
    return (lines + rule).properties(height=320)


def memory_timeline_frame(runs, max_points: int = 400) -> pd.DataFrame:
    """RunResults -> rows (method, ms, MB) of step 1's running allocation, thinned to max_points each."""
    rows = []
    for r in runs:
        idx = np.unique(np.linspace(0, len(r.memory_ms) - 1, min(max_points, len(r.memory_ms))).astype(int))
        # keep the peak itself, which thinning could skip
        idx = np.union1d(idx, [int(np.argmax(r.memory_mb))])
        rows += [{"method": r.method, "ms": float(r.memory_ms[i]), "MB": float(r.memory_mb[i])} for i in idx]
    return pd.DataFrame(rows)


def memory_timeline(df: pd.DataFrame) -> alt.Chart:
    """MB allocated by the first training step over its run time, one line per method."""
    return alt.Chart(df).mark_line(interpolate="step-after").encode(
        x=alt.X("ms:Q", title="time in step 1 (ms, profiled, so slower than a normal step)"),
        y=alt.Y("MB:Q", title="MB allocated by the step"),
        color=alt.Color("method:N", scale=METHOD_COLORS, title="method"),
        tooltip=["method", alt.Tooltip("ms:Q", format=".1f"), alt.Tooltip("MB:Q", format=".2f")],
    ).properties(height=300)


def memory_tally_frame(runs) -> pd.DataFrame:
    """RunResults -> rows (method, part, MB) of the tensors alive after training."""
    parts = [("weights", "weights_bytes"), ("gradients", "grads_bytes"), ("Adam moments", "optimizer_bytes")]
    return pd.DataFrame([{"method": r.method, "part": name, "MB": getattr(r, attr) / 2**20, "order": i}
                         for r in runs for i, (name, attr) in enumerate(parts)])


def memory_bars(df: pd.DataFrame) -> alt.Chart:
    """Stacked horizontal bars: weights + gradients + Adam moments, per method."""
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("method:N", title=None),
        x=alt.X("MB:Q", title="MB held by training state (exact tally of tensors)", stack="zero"),
        color=alt.Color("part:N", sort=["weights", "gradients", "Adam moments"], title="tensor",
                        scale=alt.Scale(range=["#7f7f7f", "#ff7f0e", "#9467bd"])),
        order=alt.Order("order:Q"),
        tooltip=["method", "part", alt.Tooltip("MB:Q", format=".2f")],
    ).properties(height=140)


def spectrum_frame(runs, top: int = 48, floor: float = 1e-12) -> pd.DataFrame:
    """RunResults -> rows (method, i, sigma) of ΔW's largest singular values, relative to the largest."""
    rows = []
    for r in runs:
        sv = np.asarray(r.delta_sv, dtype=float)
        rel = np.maximum(sv / sv[0], floor) if sv.size and sv[0] > 0 else np.full(sv.shape, floor)
        rows += [{"method": r.method, "i": i + 1, "sigma": float(s)} for i, s in enumerate(rel[:top])]
    return pd.DataFrame(rows)


def spectrum(df: pd.DataFrame) -> alt.Chart:
    """Singular values of ΔW (log scale): LoRA's fall off a cliff after r, full fine-tuning's do not."""
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("i:Q", title="singular value index i"),
        y=alt.Y("sigma:Q", title="σᵢ / σ₁ of ΔW (log)", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e")),
        color=alt.Color("method:N", scale=METHOD_COLORS, title="method"),
        tooltip=["method", "i", alt.Tooltip("sigma:Q", format=".2e")],
    ).properties(height=300)
