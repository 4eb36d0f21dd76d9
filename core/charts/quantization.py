"""Charts for the Quantization section: a weight histogram under its quantization grid, per-layer
error, the variants side by side, and RTN vs GPTQ vs AWQ. Pure functions: data in, altair charts out.
"""
import altair as alt
import numpy as np
import pandas as pd

FORMAT_COLORS = {"BF16": "#7f7f7f", "INT8": "#3b7dd8", "NF4": "#2ca02c", "FP4": "#d62728"}
METHOD_COLORS = {"RTN": "#7f7f7f", "GPTQ": "#3b7dd8", "AWQ": "#f2a65a"}


def histogram_chart(values: np.ndarray, levels: np.ndarray, title: str, bins: int = 80) -> alt.LayerChart:
    """Histogram of normalized weights (each divided by its row's or block's absmax, so in [-1, 1])
    with one vertical rule per quantization level: every weight is rounded to its nearest rule."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"values must be a non-empty 1-D array, got shape {values.shape}")
    counts, edges = np.histogram(values, bins=bins, range=(-1.0, 1.0))
    hist = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "weights": counts})
    bars = alt.Chart(hist).mark_bar(color="#9ecae1").encode(
        x=alt.X("from:Q", bin="binned", title="weight / absmax of its row or block", scale=alt.Scale(domain=[-1, 1])),
        x2="to:Q", y=alt.Y("weights:Q", title="number of weights"),
        tooltip=[alt.Tooltip("from:Q", format=".3f"), alt.Tooltip("to:Q", format=".3f"), "weights:Q"],
    )
    many = len(levels) > 32  # INT8's 255 levels: thin and faint, they read as a dense uniform grid
    rules = alt.Chart(pd.DataFrame({"level": np.asarray(levels, dtype=np.float64)})).mark_rule(
        color="#d62728", opacity=0.35 if many else 0.9, strokeWidth=0.6 if many else 1.5,
    ).encode(x="level:Q", tooltip=[alt.Tooltip("level:Q", format=".4f")])
    return (bars + rules).properties(title=title, height=260)


def layer_error_frame(rows) -> pd.DataFrame:
    """LayerError rows -> columns layer ('3.up_proj'), block, matrix, format, error kind, error."""
    records = []
    for r in rows:
        short = r.layer.replace("model.layers.", "").replace("self_attn.", "").replace("mlp.", "")
        block, matrix = short.split(".", 1)
        kinds = (("weight ‖W−Ŵ‖/‖W‖", r.weight_error), ("output ‖XWᵀ−XŴᵀ‖/‖XWᵀ‖", r.output_error))
        for kind, value in kinds:
            records.append({"layer": short, "block": int(block), "matrix": matrix, "format": r.fmt,
                            "error kind": kind, "error": value})
    return pd.DataFrame(records)


def layer_error_chart(frame: pd.DataFrame) -> alt.FacetChart:
    """Relative error of every decoder Linear (x, in model order), one line per format, log scale,
    weight error and output error in two rows."""
    order = list(dict.fromkeys(frame["layer"]))
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("layer:N", sort=order, title="block.matrix", axis=alt.Axis(labelAngle=-60, labelFontSize=9)),
        y=alt.Y("error:Q", scale=alt.Scale(type="log"), title="relative error (log)"),
        color=alt.Color("format:N", scale=alt.Scale(domain=list(FORMAT_COLORS), range=list(FORMAT_COLORS.values()))),
        tooltip=["layer", "format", "error kind", alt.Tooltip("error:Q", format=".2e")],
    ).properties(height=150, width=540).facet(row=alt.Row("error kind:N", title=None))


def variants_frame(results) -> pd.DataFrame:
    """VariantResult list -> one row per variant with the headline numbers (ratios against FP32)."""
    fp32 = next(r for r in results if r.name == "FP32")
    rows = []
    for r in results:
        rows.append({
            "variant": r.name, "size (MB)": r.size_bytes / 1e6, "size / FP32": r.size_bytes / fp32.size_bytes,
            "Linear layers (MB)": r.linear_bytes / 1e6,
            "bits per Linear weight": 8 * r.linear_bytes / r.linear_weights,
            "ms / token": r.ms_per_token, "latency / FP32": r.ms_per_token / fp32.ms_per_token,
            "perplexity": r.perplexity, "perplexity / FP32": r.perplexity / fp32.perplexity,
            "perplexity change vs FP32": r.perplexity / fp32.perplexity - 1,
            "top-1 agreement": r.agreement, "first divergence (token)": r.first_divergence,
            "identical outputs": r.identical,
        })
    return pd.DataFrame(rows)


def variants_chart(frame: pd.DataFrame) -> alt.VConcatChart:
    """Four bar panels in a 2 x 2 grid, one bar per variant: size, ms/token, perplexity change, top-1 agreement."""
    order = list(frame["variant"])
    y = alt.Y("variant:N", sort=order, title=None)
    panels = []
    columns = (("size (MB)", ".2f"), ("ms / token", ".1f"), ("perplexity change vs FP32", ".2%"),
               ("top-1 agreement", ".1%"))
    for column, fmt in columns:
        x = alt.X(f"{column}:Q", axis=alt.Axis(format="%") if "%" in fmt else alt.Axis())
        panels.append(alt.Chart(frame).mark_bar().encode(
            x=x, y=y, color=alt.Color("variant:N", legend=None, sort=order),
            tooltip=["variant", alt.Tooltip(f"{column}:Q", format=fmt)],
        ).properties(width=230, height=150))
    return alt.vconcat(alt.hconcat(*panels[:2]), alt.hconcat(*panels[2:]))


def methods_frame(rows) -> pd.DataFrame:
    """MethodError rows -> long format: method, bits, group, error kind, error."""
    records = []
    for r in rows:
        group = "per row" if r.group_size == 0 else f"g{r.group_size}"
        for kind, value in (("weight error", r.weight_error), ("output error, calibration", r.calib_output_error),
                            ("output error, held-out", r.heldout_output_error)):
            records.append({"method": r.method, "bits": r.bits, "group": group, "setting": f"{r.bits}-bit {group}",
                            "error kind": kind, "error": value})
    return pd.DataFrame(records)


def methods_chart(frame: pd.DataFrame) -> alt.FacetChart:
    """Grouped bars: for each error kind (column) and setting (row), RTN vs GPTQ vs AWQ."""
    kinds = list(dict.fromkeys(frame["error kind"]))
    settings = list(dict.fromkeys(frame["setting"]))
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("method:N", sort=list(METHOD_COLORS), title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("error:Q", title="relative error"),
        color=alt.Color("method:N", legend=None,
                        scale=alt.Scale(domain=list(METHOD_COLORS), range=list(METHOD_COLORS.values()))),
        tooltip=["method", "setting", "error kind", alt.Tooltip("error:Q", format=".4f")],
    ).properties(width=150, height=130).facet(
        column=alt.Column("error kind:N", title=None, sort=kinds),
        row=alt.Row("setting:N", title=None, sort=settings)).resolve_scale(y="independent")
