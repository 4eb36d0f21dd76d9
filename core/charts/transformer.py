"""Charts for the Transformer page: attention heatmaps, all heads at a glance, every layer and head at
once (BertViz's model view), lines between tokens for chosen heads (BertViz's head view; Vig 2019,
arXiv 1906.05714), which heads link two tokens, and the next-token distribution. Pure functions: arrays
in, altair chart out; shapes are checked with errors that say what was expected.
"""
import math

import altair as alt
import numpy as np
import pandas as pd

HEAT = alt.Scale(scheme="blues", domain=[0, 1])
MODEL_VIEW_MAX_ROWS = 40_000  # L * H * T * T cells sent to the browser; 6 x 12 x 23² = 38,088
HEAD_VIEW_MIN_WEIGHT = 0.05  # lighter lines are left out: at most 1 / 0.05 = 20 per query token and head
# One strong colour per head (category10 and two darker ones): faint lines of a pale colour would vanish.
HEAD_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf", "#393b79", "#ad494a"]


def token_labels(tokens: list[str]) -> list[str]:
    """Unique axis labels, position first, since a sentence can repeat a token: ['0 the', '1 cat', '2 the']."""
    return [f"{i} {tok}" for i, tok in enumerate(tokens)]


def _inline(records: list[dict]) -> dict:
    """Rows for alt.Chart as inline values: unlike a DataFrame, not capped at altair's 5,000 rows, and unlike
    alt.InlineData, not validated row by row when built (seconds for 40,000 rows)."""
    return {"values": records}


def _check_square(weights: np.ndarray, n: int, what: str) -> None:
    if weights.shape[-2:] != (n, n):
        raise ValueError(f"{what}: expected (..., {n}, {n}) for {n} tokens, got {weights.shape}")


def attention_heatmap(tokens: list[str], weights: np.ndarray, title: str = "", size: int | None = None) -> alt.Chart:
    """Rows = query token (who looks), columns = key token (looked at); weights (T, T), rows sum to 1.

    Every token is labelled (none dropped for overlap); the chart grows with T up to 720 px.
    """
    _check_square(weights, len(tokens), "attention_heatmap")
    labels = token_labels(tokens)
    T = len(tokens)
    size = size or int(np.clip(18 * T, 360, 720))
    font = 11 if size / T >= 14 else 9
    df = pd.DataFrame({
        "query": np.repeat(labels, T),
        "key": np.tile(labels, T),
        "weight": np.asarray(weights, dtype=float).reshape(-1).round(4),
    })
    return alt.Chart(df, title=title).mark_rect().encode(
        x=alt.X("key:N", sort=labels, title="key (attended to)",
                axis=alt.Axis(labelAngle=-60, labelOverlap=False, labelFontSize=font)),
        y=alt.Y("query:N", sort=labels, title="query (attending)",
                axis=alt.Axis(labelOverlap=False, labelFontSize=font)),
        color=alt.Color("weight:Q", scale=HEAT, title="weight"),
        tooltip=["query", "key", alt.Tooltip("weight:Q", format=".3f")],
    ).properties(width=size, height=size)


def heads_grid(weights: np.ndarray, columns: int = 4, cell: int = 130) -> alt.Chart:
    """All heads of one layer as small multiples: weights (H, T, T) -> a facet of H tiny heatmaps.

    Axes are positions only (labels would not fit); the big heatmap names the tokens.
    """
    H, T, _ = weights.shape
    _check_square(weights, T, "heads_grid")
    head, query, key = np.meshgrid(np.arange(1, H + 1), np.arange(T), np.arange(T), indexing="ij")
    records = pd.DataFrame({"head": head.ravel(), "q": query.ravel(), "k": key.ravel(),
                            "w": np.asarray(weights, dtype=float).ravel().round(3)}).to_dict("records")
    return alt.Chart(_inline(records)).mark_rect().encode(
        x=alt.X("k:O", axis=None),
        y=alt.Y("q:O", axis=None),
        color=alt.Color("w:Q", scale=HEAT, title="weight", legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("head:O"), alt.Tooltip("q:O", title="query pos"), alt.Tooltip("k:O", title="key pos"),
                 alt.Tooltip("w:Q", format=".3f", title="weight")],
    ).properties(width=cell, height=cell).facet(
        facet=alt.Facet("head:O", title=None, header=alt.Header(labelExpr="'head ' + datum.value")),
        columns=columns,
    )


def model_view_tokens(L: int, H: int, max_rows: int = MODEL_VIEW_MAX_ROWS) -> int:
    """The most tokens T whose L * H * T * T cells fit in max_rows: (6, 12) -> 23."""
    return math.isqrt(max_rows // (L * H))


def model_view(weights: np.ndarray, cell: int = 44, max_rows: int = MODEL_VIEW_MAX_ROWS) -> alt.Chart:
    """Every attention map of the model at once: weights (L, H, T, T) -> L rows (layers) x H columns (heads).

    Positions only, no labels: at this size the shape of a map is what reads (diagonal, previous
    token, one bright column on [SEP]). Refuses more than `max_rows` cells: cut T first.
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 4:
        raise ValueError(f"model_view: expected weights (L, H, T, T), got shape {weights.shape}")
    L, H, T, _ = weights.shape
    _check_square(weights, T, "model_view")
    if L * H * T * T > max_rows:
        raise ValueError(f"model_view: {L} x {H} x {T} x {T} = {L * H * T * T:,} cells is over {max_rows:,}; "
                         f"show at most {model_view_tokens(L, H, max_rows)} tokens")
    layer, head, query, key = np.meshgrid(np.arange(1, L + 1), np.arange(1, H + 1), np.arange(T), np.arange(T),
                                          indexing="ij")
    # A DataFrame of small dtypes: Streamlit ships it to the browser as Arrow, about 8 bytes a cell (300 kB at
    # the row budget) instead of 2 MB of JSON records. Plain altair refuses DataFrames over 5,000 rows unless
    # told otherwise (alt.data_transformers.disable_max_rows()); Streamlit's own transformer has no such cap.
    df = pd.DataFrame({"layer": layer.ravel().astype(np.uint8), "head": head.ravel().astype(np.uint8),
                       "q": query.ravel().astype(np.uint8), "k": key.ravel().astype(np.uint8),
                       "w": weights.ravel().round(3).astype(np.float32)})
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("k:O", axis=None),
        y=alt.Y("q:O", axis=None),
        color=alt.Color("w:Q", scale=HEAT, title="weight", legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("layer:O"), alt.Tooltip("head:O"), alt.Tooltip("q:O", title="query pos"),
                 alt.Tooltip("k:O", title="key pos"), alt.Tooltip("w:Q", format=".2f", title="weight")],
    ).properties(width=cell, height=cell).facet(
        row=alt.Row("layer:O", title=None, header=alt.Header(labelExpr="'layer ' + datum.value", labelAngle=0,
                                                             labelAlign="right")),
        column=alt.Column("head:O", title=None, header=alt.Header(labelExpr="'head ' + datum.value")),
        spacing=4,
    )


def head_view(tokens: list[str], weights: np.ndarray, heads: list[int],
              min_weight: float = HEAD_VIEW_MIN_WEIGHT, row_px: int = 20) -> alt.Chart:
    """Lines from each query token (left) to each key token (right) for the chosen heads of one layer.

    weights (H, T, T) are the layer's maps, heads are 1-based numbers to draw; each head keeps one
    colour whichever are drawn, a line's opacity is its weight, lines under `min_weight` are left out.
    Hover a token on the left to see only its lines.
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 3:
        raise ValueError(f"head_view: expected weights (H, T, T), got shape {weights.shape}")
    H = weights.shape[0]
    T = len(tokens)
    _check_square(weights, T, "head_view")
    bad = [h for h in heads if not isinstance(h, (int, np.integer)) or not 1 <= h <= H]
    if bad:
        raise ValueError(f"head_view: heads are numbered 1..{H}, got {bad}")
    if not 0 <= min_weight < 1:
        raise ValueError(f"head_view: min_weight must be in [0, 1), got {min_weight}")
    labels = token_labels(tokens)
    lines = [{"head": int(h), "q": int(q), "k": int(k), "w": round(float(weights[h - 1, q, k]), 3),
              "query": labels[q], "key": labels[k]}
             for h in sorted(set(heads)) for q, k in zip(*np.nonzero(weights[h - 1] >= min_weight))]
    points = pd.DataFrame({"q": range(T), "token": tokens})
    x = alt.Scale(domain=[0, 1])
    y = alt.Scale(domain=[-0.5, T - 0.5], reverse=True)
    # Fixed names: altair's generated ones change on every call, and then so would the chart's spec.
    hover = alt.selection_point(name="hover_query", fields=["q"], on="pointerover", clear="pointerout")
    edges = alt.Chart().transform_filter(hover).mark_rule(strokeWidth=2).encode(
        x=alt.X("left:Q", scale=x, axis=None), x2="right:Q",
        y=alt.Y("q:Q", scale=y, axis=None), y2="k:Q",
        color=alt.Color("head:N", scale=alt.Scale(domain=list(range(1, H + 1)),
                                                  range=[HEAD_COLOURS[i % len(HEAD_COLOURS)] for i in range(H)]),
                        title="head", legend=alt.Legend(orient="bottom", values=sorted(set(heads)))),
        opacity=alt.Opacity("w:Q", scale=alt.Scale(domain=[0, 1], range=[0.05, 0.9]), legend=None),
        tooltip=["head:N", "query:N", "key:N", alt.Tooltip("w:Q", format=".3f", title="weight")],
    ).transform_calculate(left="0", right="1")
    left = alt.Chart(points).mark_text(align="right", dx=-6, fontSize=12).encode(
        x=alt.datum(0, scale=x), y=alt.Y("q:Q", scale=y), text="token:N").add_params(hover).properties(
        name="query_tokens")
    right = alt.Chart(points).mark_text(align="left", dx=6, fontSize=12).encode(
        x=alt.datum(1, scale=x), y=alt.Y("q:Q", scale=y), text="token:N")
    # autosize "pad": the plot keeps its size and the token labels and legend are added around it.
    chart = (edges + left + right).properties(width=260, height=max(120, row_px * T),
                                              title="query (looks) → key (looked at)",
                                              autosize=alt.AutoSizeParams(type="pad"))
    # The lines are the layered chart's data (the rule layer inherits it), set last: altair deep-copies a
    # chart's data at every step that builds it, which took most of the time with thousands of lines.
    chart.data = _inline(lines)
    return chart


def head_links_chart(links: np.ndarray, query: str, key: str) -> alt.Chart:
    """links (L, H): how much `query` attends to `key` in each layer (rows) and head (columns)."""
    L, H = links.shape
    layer, head = np.meshgrid(np.arange(1, L + 1), np.arange(1, H + 1), indexing="ij")
    df = pd.DataFrame({"layer": layer.ravel(), "head": head.ravel(), "weight": links.ravel().round(3)})
    base = alt.Chart(df, title=f"attention from '{query}' to '{key}' in every layer and head").encode(
        x=alt.X("head:O", title="head"), y=alt.Y("layer:O", title="layer"))
    cells = base.mark_rect().encode(color=alt.Color("weight:Q", scale=HEAT, title="weight"),
                                    tooltip=["layer", "head", alt.Tooltip("weight:Q", format=".3f")])
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("weight:Q", format=".2f"),
        color=alt.condition(alt.datum.weight > 0.5, alt.value("white"), alt.value("black")))
    return (cells + text).properties(width=560, height=260)


def next_token_bars(tokens: list[str], probs: dict[str, list[float]]) -> alt.Chart:
    """Grouped horizontal bars: the same top tokens, their probability under each temperature.

    probs maps a label ('T = 1.0') to one probability per token, in `tokens` order.
    """
    for label, values in probs.items():
        if len(values) != len(tokens):
            raise ValueError(f"next_token_bars: {label} has {len(values)} probabilities for {len(tokens)} tokens")
    shown = [repr(t) for t in tokens]  # repr shows leading spaces and newlines: ' Moses' vs 'Moses'
    df = pd.DataFrame([{"token": s, "temperature": label, "probability": p}
                       for label, values in probs.items() for s, p in zip(shown, values)])
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("token:N", sort=shown, title="next token"),
        yOffset=alt.YOffset("temperature:N", sort=list(probs)),
        x=alt.X("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("temperature:N", sort=list(probs), title=None),
        tooltip=["token", "temperature", alt.Tooltip("probability:Q", format=".4f")],
    ).properties(width=520, height=max(200, 38 * len(tokens)))


def entropy_chart(temperatures: list[float], entropies: list[float], chosen: float, chosen_entropy: float,
                  max_bits: float) -> alt.Chart:
    """Entropy (bits) of the next-token distribution against temperature, the chosen τ marked."""
    df = pd.DataFrame({"temperature": temperatures, "entropy (bits)": entropies})
    line = alt.Chart(df).mark_line().encode(
        x=alt.X("temperature:Q", title="temperature τ"),
        y=alt.Y("entropy (bits):Q", scale=alt.Scale(domain=[0, max_bits])),
        tooltip=[alt.Tooltip("temperature:Q", format=".2f"), alt.Tooltip("entropy (bits):Q", format=".2f")])
    point = alt.Chart(pd.DataFrame({"temperature": [chosen], "entropy (bits)": [chosen_entropy]})).mark_point(
        size=120, filled=True, color="crimson").encode(x="temperature:Q", y="entropy (bits):Q")
    ceiling = alt.Chart(pd.DataFrame({"bits": [max_bits]})).mark_rule(strokeDash=[4, 4], color="gray").encode(
        y="bits:Q")
    return (line + point + ceiling).properties(width=520, height=260,
                                               title="uncertainty grows with temperature (dashed: uniform, log2 V)")
