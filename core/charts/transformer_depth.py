"""Charts for the Transformer page's deeper sections: the toy attention lab's matrices, position encodings,
RoPE's relative-distance curve, softmax entropy against d_k, the logit lens, a block's stage norms, and the
size calculator. Pure functions: arrays or plain rows in (shapes checked), altair chart out.
"""
import altair as alt
import numpy as np
import pandas as pd

MAX_CELLS = 50_000  # one heatmap: MiniLM's 128 × 384 position table is 49,152 cells
SIGNED = alt.Scale(scheme="redblue", domainMid=0, reverse=True)  # red positive, blue negative
PROBS = alt.Scale(scheme="blues", domain=[0, 1])


def _records(df: pd.DataFrame) -> alt.InlineData:
    # Inline values: heatmaps pass altair's 5,000-row default for DataFrames and are still small.
    return alt.InlineData(values=df.to_dict("records"))


def _labels(names, n: int, what: str) -> list[str]:
    if names is None:
        return [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{what}: {len(names)} labels for {n} rows or columns")
    return [f"{i} {name}" for i, name in enumerate(names)]  # position first: tokens repeat


def matrix_heatmap(matrix: np.ndarray, title: str = "", row_title: str = "row", col_title: str = "column",
                   row_names=None, col_names=None, probabilities: bool = False, width: int = 360,
                   height: int | None = None) -> alt.Chart:
    """Any (rows, cols) matrix as a heatmap: X, W_Q, Q, scores, probs, outputs, a position table.

    probabilities=True uses a 0..1 blue scale (attention rows); otherwise a diverging scale around 0.
    -inf (masked scores) is shown as an empty cell, labelled 'masked' in the tooltip.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"matrix_heatmap: expected a 2-D matrix, got shape {m.shape}")
    R, K = m.shape
    if R * K > MAX_CELLS:
        raise ValueError(f"matrix_heatmap: {R} × {K} = {R * K:,} cells is over {MAX_CELLS:,}; slice it first")
    rows, cols = _labels(row_names, R, "rows"), _labels(col_names, K, "columns")
    finite = np.isfinite(m)
    df = pd.DataFrame({"row": np.repeat(rows, K), "col": np.tile(cols, R),
                       "value": np.where(finite, m, np.nan).ravel().round(4),
                       "shown": np.where(finite, np.round(m, 4).astype(str), "masked").ravel()})
    return alt.Chart(_records(df), title=title).mark_rect().encode(
        x=alt.X("col:O", sort=cols, title=col_title,
                axis=alt.Axis(labelAngle=-60, labelOverlap=False, labelFontSize=10, labels=K <= 64, ticks=K <= 64)),
        y=alt.Y("row:O", sort=rows, title=row_title,
                axis=alt.Axis(labelOverlap=False, labelFontSize=10, labels=R <= 64, ticks=R <= 64)),
        color=alt.Color("value:Q", scale=PROBS if probabilities else SIGNED, title=None),
        tooltip=[alt.Tooltip("row:O", title=row_title), alt.Tooltip("col:O", title=col_title),
                 alt.Tooltip("shown:N", title="value")],
    ).properties(width=width, height=height or max(120, min(480, 22 * R)))


def heads_heatmaps(tensor: np.ndarray, title: str = "", probabilities: bool = False, cell: int = 150,
                   columns: int = 4) -> alt.Chart:
    """One small heatmap per head: (H, rows, cols) -> a facet of H heatmaps (Q per head, scores, probs)."""
    t = np.asarray(tensor, dtype=float)
    if t.ndim != 3:
        raise ValueError(f"heads_heatmaps: expected (H, rows, cols), got shape {t.shape}")
    H, R, K = t.shape
    if t.size > MAX_CELLS:
        raise ValueError(f"heads_heatmaps: {t.size:,} cells is over {MAX_CELLS:,}")
    head, row, col = np.meshgrid(np.arange(1, H + 1), np.arange(R), np.arange(K), indexing="ij")
    df = pd.DataFrame({"head": head.ravel(), "row": row.ravel(), "col": col.ravel(),
                       "value": np.where(np.isfinite(t), t, np.nan).ravel().round(4)})
    return alt.Chart(_records(df)).mark_rect().encode(
        x=alt.X("col:O", title=None, axis=alt.Axis(labels=K <= 16, ticks=False)),
        y=alt.Y("row:O", title=None, axis=alt.Axis(labels=R <= 16, ticks=False)),
        color=alt.Color("value:Q", scale=PROBS if probabilities else SIGNED, title=None,
                        legend=alt.Legend(orient="bottom")),
        tooltip=["head:O", "row:O", "col:O", alt.Tooltip("value:Q", format=".4f")],
    ).properties(width=cell, height=cell * R / max(K, R)).facet(
        facet=alt.Facet("head:O", title=title or None, header=alt.Header(labelExpr="'head ' + datum.value")),
        columns=columns)


def entropy_rows_chart(entropy: np.ndarray, max_bits: float, tokens=None) -> alt.Chart:
    """Entropy (bits) of every attention row: (H, T) -> one line per head against the query position."""
    e = np.asarray(entropy, dtype=float)
    if e.ndim != 2:
        raise ValueError(f"entropy_rows_chart: expected (H, T), got shape {e.shape}")
    H, T = e.shape
    queries = _labels(tokens, T, "tokens")
    df = pd.DataFrame({"head": np.repeat([f"head {h + 1}" for h in range(H)], T), "query": queries * H,
                       "entropy (bits)": e.ravel().round(4)})
    line = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("query:N", sort=queries, title="query token"), y=alt.Y("entropy (bits):Q",
                                                                      scale=alt.Scale(domain=[0, max_bits])),
        color=alt.Color("head:N", title=None), tooltip=["head", "query", alt.Tooltip("entropy (bits):Q", format=".3f")])
    ceiling = alt.Chart(pd.DataFrame({"bits": [max_bits]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="bits:Q")
    return (line + ceiling).properties(width=480, height=220, title="how spread out each row is (dashed: uniform)")


def entropy_vs_dk_chart(d_ks, entropy_scaled, entropy_unscaled, max_bits: float) -> alt.Chart:
    """Mean softmax entropy against d_k (log axis), with and without the 1/√d_k scaling."""
    if not len(d_ks) == len(entropy_scaled) == len(entropy_unscaled):
        raise ValueError("entropy_vs_dk_chart: d_ks and both entropy lists must have the same length")
    df = pd.DataFrame({"d_k": list(d_ks) * 2, "entropy (bits)": list(entropy_scaled) + list(entropy_unscaled),
                       "scores": ["QKᵀ/√d_k (scaled)"] * len(d_ks) + ["QKᵀ (unscaled)"] * len(d_ks)})
    line = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("d_k:Q", scale=alt.Scale(type="log", base=2), title="d_k (head dimension)"),
        y=alt.Y("entropy (bits):Q", scale=alt.Scale(domain=[0, max_bits])),
        color=alt.Color("scores:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["scores", "d_k", alt.Tooltip("entropy (bits):Q", format=".3f")])
    ceiling = alt.Chart(pd.DataFrame({"bits": [max_bits]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="bits:Q")
    return (line + ceiling).properties(width=480, height=260,
                                       title="without √d_k the softmax saturates as d_k grows (dashed: uniform)")


def position_encoding_heatmap(table: np.ndarray, title: str = "") -> alt.Chart:
    """A position table (T, C) or RoPE's angles (T, D/2): positions down, dimensions across."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2:
        raise ValueError(f"position_encoding_heatmap: expected (T, C), got shape {t.shape}")
    return matrix_heatmap(t, title, row_title="position t", col_title="dimension", width=480,
                          height=max(160, min(400, 4 * t.shape[0])))


def rope_distance_chart(distances, scores: np.ndarray, offsets, score_without_rope: float | None = None) -> alt.Chart:
    """The same query and key at several absolute offsets: score against distance m - n, one line per
    offset (they lie on top of each other). scores (len(offsets), len(distances))."""
    s = np.asarray(scores, dtype=float)
    if s.shape != (len(offsets), len(distances)):
        raise ValueError(f"rope_distance_chart: scores {s.shape}, expected ({len(offsets)}, {len(distances)})")
    df = pd.DataFrame({"distance m - n": np.tile(distances, len(offsets)),
                       "key position n": np.repeat([str(o) for o in offsets], len(distances)),
                       "score": s.ravel().round(5)})
    dashes = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2]]
    lines = alt.Chart(df).mark_line().encode(
        x="distance m - n:Q", y=alt.Y("score:Q", title="q·k / √D after RoPE"),
        color=alt.Color("key position n:N", sort=[str(o) for o in offsets]),
        strokeDash=alt.StrokeDash("key position n:N", sort=[str(o) for o in offsets],
                                  scale=alt.Scale(range=dashes), legend=None),
        tooltip=["key position n", "distance m - n", alt.Tooltip("score:Q", format=".4f")])
    layers = [lines]
    if score_without_rope is not None:
        layers.append(alt.Chart(pd.DataFrame({"score": [score_without_rope]})).mark_rule(
            color="gray", strokeDash=[4, 4]).encode(y="score:Q"))
    return alt.layer(*layers).properties(
        width=520, height=260, title="RoPE: the score depends only on the distance (dashed: without RoPE)")


def order_blindness_chart(tokens, permutation, output_norms, shuffled_output_norms) -> alt.Chart:
    """Output norm of each token, original order vs shuffled input: the same bars, rearranged."""
    T = len(tokens)
    if not (len(permutation) == len(output_norms) == len(shuffled_output_norms) == T):
        raise ValueError("order_blindness_chart: tokens, permutation and both norm lists must have the same length")
    rows = [{"order": "original", "slot": i, "token": f"{tokens[i]!r}", "norm": float(output_norms[i])}
            for i in range(T)]
    rows += [{"order": "shuffled", "slot": i, "token": f"{tokens[p]!r}", "norm": float(shuffled_output_norms[i])}
             for i, p in enumerate(permutation)]
    return alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("slot:O", title="input slot"), y=alt.Y("norm:Q", title="|attention output|"),
        color=alt.Color("token:N", title="token", legend=alt.Legend(orient="right")),
        row=alt.Row("order:N", title=None, sort=["original", "shuffled"]),
        tooltip=["order", "slot", "token", alt.Tooltip("norm:Q", format=".4f")],
    ).properties(width=420, height=120)


def logit_lens_grid(layer_names, tokens, top_tokens, top_probs: np.ndarray) -> alt.Chart:
    """Layers down, positions across; each cell the top-1 token decoded at that layer, coloured by its
    probability. top_tokens (L + 1, T) strings, top_probs (L + 1, T)."""
    p = np.asarray(top_probs, dtype=float)
    if p.shape != (len(layer_names), len(tokens)) or len(top_tokens) != len(layer_names):
        raise ValueError(f"logit_lens_grid: probs {p.shape}, expected ({len(layer_names)}, {len(tokens)})")
    positions = _labels(tokens, len(tokens), "tokens")
    df = pd.DataFrame([{"layer": name, "position": positions[t], "prediction": repr(top_tokens[l][t]),
                        "p": round(float(p[l, t]), 4)}
                       for l, name in enumerate(layer_names) for t in range(len(tokens))])
    base = alt.Chart(df).encode(
        x=alt.X("position:N", sort=positions, title="after this prompt token",
                axis=alt.Axis(orient="top", labelAngle=-45, labelOverlap=False)),
        y=alt.Y("layer:N", sort=list(layer_names)[::-1], title=None))
    cells = base.mark_rect().encode(color=alt.Color("p:Q", scale=PROBS, title="top-1 p"),
                                    tooltip=["layer", "position", "prediction", alt.Tooltip("p:Q", format=".3f")])
    text = base.mark_text(fontSize=10, limit=70).encode(
        text="prediction:N", color=alt.condition(alt.datum.p > 0.5, alt.value("white"), alt.value("black")))
    return (cells + text).properties(width=alt.Step(74), height=alt.Step(26))


def block_norms_chart(names, mean_norms, shapes=None) -> alt.Chart:
    """Mean L2 norm per token at every stage of a block, in order (horizontal bars)."""
    if len(names) != len(mean_norms) or (shapes is not None and len(shapes) != len(names)):
        raise ValueError("block_norms_chart: names, norms (and shapes) must have the same length")
    labels = [f"{i:02d} {n}" for i, n in enumerate(names)]
    df = pd.DataFrame({"stage": labels, "mean |token|": np.round(mean_norms, 4),
                       "shape": [str(tuple(s)) for s in shapes] if shapes is not None else [""] * len(names)})
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("stage:N", sort=labels, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X("mean |token|:Q", title="mean L2 norm per token"),
        tooltip=["stage", "shape", alt.Tooltip("mean |token|:Q", format=".3f")],
    ).properties(width=420, height=alt.Step(18))


def residual_norms_chart(norms) -> alt.Chart:
    """The residual stream's mean token norm at every block boundary (0 = embedding)."""
    df = pd.DataFrame({"boundary": ["embedding"] + [f"after block {i}" for i in range(1, len(norms))],
                       "mean |token|": np.round(norms, 4)})
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("boundary:N", sort=list(df["boundary"]), title=None), y="mean |token|:Q",
        tooltip=["boundary", alt.Tooltip("mean |token|:Q", format=".3f")],
    ).properties(width=420, height=200, title="the residual stream grows block after block")


def param_breakdown_chart(rows: list[dict]) -> alt.Chart:
    """Stacked bars of parameters per model and part. rows: [{'model', 'part', 'params'}, ...]."""
    df = pd.DataFrame(rows)
    if not {"model", "part", "params"} <= set(df.columns):
        raise ValueError("param_breakdown_chart: rows need 'model', 'part' and 'params'")
    df["share"] = df["params"] / df.groupby("model")["params"].transform("sum")
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("model:N", sort=list(dict.fromkeys(df["model"])), title=None),
        x=alt.X("share:Q", stack="normalize", title="share of parameters", axis=alt.Axis(format="%")),
        color=alt.Color("part:N", sort=list(dict.fromkeys(df["part"])), title=None),
        tooltip=["model", "part", alt.Tooltip("params:Q", format=",.0f"), alt.Tooltip("share:Q", format=".1%")],
    ).properties(width=480, height=alt.Step(22))


def memory_chart(rows: list[dict], title: str = "") -> alt.Chart:
    """Stacked bars of memory in GiB. rows: [{'setting', 'part', 'bytes'}, ...] (weights, gradients, ...)."""
    df = pd.DataFrame(rows)
    if not {"setting", "part", "bytes"} <= set(df.columns):
        raise ValueError("memory_chart: rows need 'setting', 'part' and 'bytes'")
    df = df[df["bytes"] > 0].assign(GiB=lambda d: d["bytes"] / 2**30)
    return alt.Chart(df, title=title).mark_bar().encode(
        y=alt.Y("setting:N", sort=list(dict.fromkeys(df["setting"])), title=None, axis=alt.Axis(labelLimit=300)),
        x=alt.X("GiB:Q", title="GiB"),
        color=alt.Color("part:N", sort=list(dict.fromkeys(df["part"])), title=None),
        tooltip=["setting", "part", alt.Tooltip("GiB:Q", format=",.2f")],
    ).properties(width=480, height=alt.Step(24))


if __name__ == "__main__":
    from core.transformer import calculator, positions, toy_attention

    lab = toy_attention.run(toy_attention.ToyConfig(T=5, mask="causal"))
    curve = toy_attention.entropy_vs_dk(d_ks=(1, 8, 64, 512))
    enc = positions.encodings(T=32, C=64, D=16)
    built = {
        "scores heatmap": matrix_heatmap(lab.masked_scores[0], "masked scores, head 1", "query", "key"),
        "probs per head": heads_heatmaps(lab.probs, "probs", probabilities=True),
        "entropy vs d_k": entropy_vs_dk_chart(curve.d_ks, curve.entropy_scaled, curve.entropy_unscaled,
                                              curve.max_bits),
        "sinusoidal table": position_encoding_heatmap(enc.sinusoidal, "sinusoidal"),
        "parameter shares": param_breakdown_chart(calculator.breakdown_rows(calculator.PRESETS[:4])),
    }
    for name, chart in built.items():
        spec = chart.to_dict()
        rows = next(iter(spec["datasets"].values())) if "datasets" in spec else spec.get("data", {}).get("values", [])
        print(f"{name:18s} {type(chart).__name__:10s} {len(rows):5d} data rows")
