"""Charts for the Multimodal page: pure functions, data in, altair chart out."""
import altair as alt
import numpy as np
import pandas as pd


def similarity_frame(cosine: np.ndarray, captions: list[str], scale: float = 1.0) -> pd.DataFrame:
    """Long table of a (B, B) picture × caption matrix: picture i, caption j (numbers from 1), the full
    caption text, value, and whether the cell is a matching pair (the diagonal)."""
    B = len(captions)
    if cosine.shape != (B, B):
        raise ValueError(f"similarity matrix is {cosine.shape}, expected ({B}, {B}) for {B} captions")
    return pd.DataFrame([
        {"picture": i + 1, "caption": j + 1, "text": captions[j], "value": float(scale * cosine[i, j]), "match": i == j}
        for i in range(B) for j in range(B)
    ])


def similarity_heatmap(frame: pd.DataFrame, title: str, value_title: str = "cosine",
                       domain: tuple | None = None, size: int = 260) -> alt.Chart:
    """Heatmap of picture i (rows) against caption j (columns), the value written in every cell.

    `size` is the side of the grid itself; Streamlit fits the whole chart (title, axes, legend) into
    the chart's width and height, so those get room on top of it."""
    scale = alt.Scale(scheme="viridis", domain=list(domain)) if domain else alt.Scale(scheme="viridis")
    lo, hi = domain if domain else (frame["value"].min(), frame["value"].max())
    mid = float(lo + hi) / 2
    B = frame["picture"].nunique()
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("caption:O", title="caption j", axis=alt.Axis(labelAngle=0, orient="top", labelOverlap=False)),
        y=alt.Y("picture:O", title="picture i", axis=alt.Axis(labelOverlap=False)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=scale, title=value_title, legend=alt.Legend(gradientLength=size // 2)),
        tooltip=["picture", "caption", "text", alt.Tooltip("value:Q", format=".3f")],
    )
    text = base.mark_text(fontSize=9 if B <= 8 else 8).encode(
        text=alt.Text("value:Q", format=".2f" if B <= 8 else ".1f"),
        color=alt.condition(alt.datum.value > mid, alt.value("black"), alt.value("white")),  # readable on viridis
    )
    return (cells + text).properties(width=size + 110, height=size + 75)


def probability_bars(labels: list[str], probs, title: str, top: int = 10, highlight: str | None = None) -> alt.Chart:
    """Horizontal bars of the `top` most probable labels; the `highlight` label (the truth) in orange."""
    frame = pd.DataFrame({"label": labels, "probability": np.asarray(probs, dtype=float)})
    frame = frame.sort_values("probability", ascending=False).head(top)
    frame["truth"] = frame["label"] == highlight
    return alt.Chart(frame, title=title).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=300)),
        color=alt.condition(alt.datum.truth, alt.value("#f58518"), alt.value("#4c78a8")),
        tooltip=["label", alt.Tooltip("probability:Q", format=".3f")],
    ).properties(height=max(80, 24 * len(frame)))


def marginal_bars(marginals: dict, truth: dict | None = None) -> alt.Chart:
    """One small bar chart per attribute (colour, shape, position): summed probabilities."""
    rows = [{"attribute": attr, "value": value, "probability": p, "truth": bool(truth and truth.get(attr) == value)}
            for attr, values in marginals.items() for value, p in values.items()]
    frame = pd.DataFrame(rows)
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("value:N", title=None, sort="-x"),
        color=alt.condition(alt.datum.truth, alt.value("#f58518"), alt.value("#4c78a8")),
        row=alt.Row("attribute:N", title=None, sort=list(marginals)),
        tooltip=["attribute", "value", alt.Tooltip("probability:Q", format=".3f")],
    ).properties(height=110, width=260).resolve_scale(y="independent")


def token_count_chart(image_size: int, patch_sizes: list[int], chosen: int) -> alt.Chart:
    """Tokens per picture, (S/P)², against the patch size P; the chosen P highlighted."""
    frame = pd.DataFrame({"patch size P": patch_sizes, "tokens": [(image_size // p) ** 2 for p in patch_sizes]})
    frame["chosen"] = frame["patch size P"] == chosen
    base = alt.Chart(frame, title=f"tokens for a {image_size}×{image_size} picture").encode(
        x=alt.X("patch size P:O", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("tokens:Q", title="tokens N = (S/P)²"),
    )
    bars = base.mark_bar().encode(
        color=alt.condition(alt.datum.chosen, alt.value("#f58518"), alt.value("#4c78a8")),
        tooltip=["patch size P", "tokens"],
    )
    return (bars + base.mark_text(dy=-6).encode(text="tokens:Q")).properties(height=260)
