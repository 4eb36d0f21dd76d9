"""Charts for training a tiny CLIP live (core.multimodal.clip_live): pure functions, data in, altair chart out."""
import math

import altair as alt
import numpy as np
import pandas as pd

from core.multimodal.shapes import COLOURS


def clip_loss_chart(losses: list[float], batch_size: int) -> alt.Chart:
    """Training loss per step, with the chance level ln B (every caption equally likely) as a dashed rule."""
    frame = pd.DataFrame({"step": np.arange(1, len(losses) + 1), "loss": np.asarray(losses, dtype=float)})
    line = alt.Chart(frame, title="training loss (symmetric InfoNCE)").mark_line().encode(
        x=alt.X("step:Q"), y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=True)),
        tooltip=["step", alt.Tooltip("loss:Q", format=".3f")])
    chance = alt.Chart(pd.DataFrame({"loss": [math.log(batch_size)], "label": [f"ln B = ln {batch_size}"]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(y="loss:Q", tooltip=["label"])
    return (line + chance).properties(height=240)


def accuracy_chart(steps: list[int], accuracy: list[float], colour: list[float], shape: list[float],
                   chance: float) -> alt.Chart:
    """Zero-shot accuracy (colour + shape, and each attribute alone) at the checkpoints; chance as a rule."""
    if not len(steps) == len(accuracy) == len(colour) == len(shape):
        raise ValueError(f"one value per checkpoint: {len(steps)} steps, {len(accuracy)}, {len(colour)}, {len(shape)}")
    frame = pd.DataFrame([{"step": s, "measure": name, "accuracy": float(v)}
                          for name, values in (("colour + shape", accuracy), ("colour only", colour),
                                               ("shape only", shape))
                          for s, v in zip(steps, values)])
    lines = alt.Chart(frame, title="zero-shot accuracy on held-out pictures").mark_line(point=True).encode(
        x=alt.X("step:Q"), y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("measure:N", title=None), tooltip=["step", "measure", alt.Tooltip("accuracy:Q", format=".1%")])
    rule = alt.Chart(pd.DataFrame({"accuracy": [chance], "label": [f"chance 1/{round(1 / chance)}"]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(y="accuracy:Q", tooltip=["label"])
    return (lines + rule).properties(height=240)


def embedding_map(coords: np.ndarray, kinds: list[str], labels: list[str], explained: tuple) -> alt.Chart:
    """PCA map: pictures as circles, captions as crosses, coloured by the colour they show or name.

    coords (N, 2); kinds 'picture' / 'caption'; labels 'red circle', ... one per row."""
    if coords.shape != (len(kinds), 2) or len(kinds) != len(labels):
        raise ValueError(f"coords {coords.shape} need one row per kind ({len(kinds)}) and label ({len(labels)})")
    frame = pd.DataFrame({"PC1": coords[:, 0], "PC2": coords[:, 1], "kind": kinds, "label": labels,
                          "colour": [label.split()[0] for label in labels]})
    names = list(COLOURS)
    hexes = ["#{:02x}{:02x}{:02x}".format(*COLOURS[name]) for name in names]
    return alt.Chart(frame, title="held-out pictures and captions, first two principal axes").mark_point(
        size=70, filled=True, opacity=0.8).encode(
        x=alt.X("PC1:Q", title=f"PC1 ({explained[0]:.0%} of variance)"),
        y=alt.Y("PC2:Q", title=f"PC2 ({explained[1]:.0%} of variance)"),
        color=alt.Color("colour:N", scale=alt.Scale(domain=names, range=hexes), title="colour"),
        shape=alt.Shape("kind:N", scale=alt.Scale(domain=["picture", "caption"], range=["circle", "cross"])),
        tooltip=["kind", "label"],
    ).properties(height=360)
