"""Charts for the Transformer page: attention heatmaps, all heads at a glance, which heads link two
tokens, and the next-token distribution. Pure functions: arrays in, altair chart out.
"""
import altair as alt
import numpy as np
import pandas as pd

HEAT = alt.Scale(scheme="blues", domain=[0, 1])


def token_labels(tokens: list[str]) -> list[str]:
    """Unique axis labels, position first, since a sentence can repeat a token: ['0 the', '1 cat', '2 the']."""
    return [f"{i} {tok}" for i, tok in enumerate(tokens)]


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
    # Inline values: H*T*T can pass altair's 5,000-row default for DataFrames, and is still small.
    return alt.Chart(alt.InlineData(values=records)).mark_rect().encode(
        x=alt.X("k:O", axis=None),
        y=alt.Y("q:O", axis=None),
        color=alt.Color("w:Q", scale=HEAT, title="weight", legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("head:O"), alt.Tooltip("q:O", title="query pos"), alt.Tooltip("k:O", title="key pos"),
                 alt.Tooltip("w:Q", format=".3f", title="weight")],
    ).properties(width=cell, height=cell).facet(
        facet=alt.Facet("head:O", title=None, header=alt.Header(labelExpr="'head ' + datum.value")),
        columns=columns,
    )


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
