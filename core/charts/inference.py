"""Charts of the Inference page: decoding candidates, KV cache timing and memory, speculative rounds.

Pure functions: a DataFrame in (columns named in each docstring), an altair chart out.
"""
import altair as alt
import pandas as pd

CHOSEN, OTHER = "#4C5FD5", "#B8BFEA"
CACHE_ON, CACHE_OFF = "#2A9D8F", "#E76F51"
OUTCOMES = {"accepted": "#2A9D8F", "rejected": "#E76F51", "target's token": "#4C5FD5"}


def _need(df: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"chart needs columns {columns}; missing {missing}")


# ---- decoding --------------------------------------------------------------------------------
def candidates_chart(df: pd.DataFrame, title: str = "") -> alt.Chart:
    """Bars of one step's candidates. Columns: token, prob (the model's), final_prob (after filters), chosen."""
    _need(df, ["token", "prob", "final_prob", "chosen"])
    long = df.melt(id_vars=["token", "chosen"], value_vars=["prob", "final_prob"], var_name="which", value_name="p")
    long["which"] = long["which"].map({"prob": "model", "final_prob": "after the strategy's filters"})
    long["label"] = [f"{t}  ◀ chosen" if c else t for t, c in zip(long["token"], long["chosen"])]
    order = [f"{t}  ◀ chosen" if c else t for t, c in zip(df["token"], df["chosen"])]
    return alt.Chart(long, title=title).mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None),
        yOffset=alt.YOffset("which:N"),
        x=alt.X("p:Q", title="probability"),
        color=alt.Color("which:N", title=None, scale=alt.Scale(range=[OTHER, CHOSEN]),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["token", "which", alt.Tooltip("p:Q", format=".4f")],
    ).properties(height=alt.Step(11))


def decoding_path_chart(df: pd.DataFrame, top: int = 6) -> alt.LayerChart:
    """Every step's top candidates at a glance, one row per step (it reads down like the text).

    Columns: step, rank (1 = most probable), token, prob, chosen. Rank top + 1 is the column
    "lower" for a chosen token from further down the list.
    """
    _need(df, ["step", "rank", "token", "prob", "chosen"])
    axis = alt.Axis(orient="top", labelAngle=0, labelExpr=f"datum.value > {top} ? 'lower' : datum.value")
    base = alt.Chart(df).encode(x=alt.X("rank:O", title="candidate rank (by the model's probability)", axis=axis),
                                y=alt.Y("step:O", title="generation step"))
    cells = base.mark_rect().encode(
        color=alt.Color("prob:Q", title="model p", scale=alt.Scale(scheme="blues")),
        tooltip=["step", "rank", "token", alt.Tooltip("prob:Q", format=".3f"), "chosen"],
    )
    chosen = base.transform_filter(alt.datum.chosen).mark_rect(fill=None, stroke="#E76F51", strokeWidth=2.5)
    text = base.mark_text(fontSize=10).encode(
        text="token:N",
        color=alt.condition(alt.datum.prob > 0.5, alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, chosen, text).properties(height=alt.Step(20), width=alt.Step(90))


# ---- KV cache --------------------------------------------------------------------------------
def kv_timing_chart(df: pd.DataFrame) -> alt.Chart:
    """Milliseconds per generated token as the sequence grows. Columns: position, ms, mode."""
    _need(df, ["position", "ms", "mode"])
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("position:Q", title="sequence length when the token is generated"),
        y=alt.Y("ms:Q", title="ms per token"),
        color=alt.Color("mode:N", title=None, scale=alt.Scale(range=[CACHE_ON, CACHE_OFF]),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["mode", "position", alt.Tooltip("ms:Q", format=".2f")],
    ).properties(height=300)


def kv_cumulative_chart(df: pd.DataFrame) -> alt.Chart:
    """Total seconds to generate the first n tokens. Columns: tokens, seconds, mode."""
    _need(df, ["tokens", "seconds", "mode"])
    return alt.Chart(df).mark_line().encode(
        x=alt.X("tokens:Q", title="tokens generated"),
        y=alt.Y("seconds:Q", title="total seconds"),
        color=alt.Color("mode:N", title=None, scale=alt.Scale(range=[CACHE_ON, CACHE_OFF]),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["mode", "tokens", alt.Tooltip("seconds:Q", format=".3f")],
    ).properties(height=300)


def kv_size_chart(df: pd.DataFrame) -> alt.LayerChart:
    """Measured cache size vs the formula. Columns: position, kib (measured), formula_kib."""
    _need(df, ["position", "kib", "formula_kib"])
    base = alt.Chart(df).encode(x=alt.X("position:Q", title="tokens in the cache"))
    measured = base.mark_circle(size=25, color=CACHE_ON).encode(
        y=alt.Y("kib:Q", title="KV cache size (KiB)"), tooltip=["position", "kib", "formula_kib"])
    formula = base.mark_line(color="black", strokeDash=[4, 3]).encode(y="formula_kib:Q")
    return alt.layer(formula, measured).properties(height=260)


def kv_memory_chart(df: pd.DataFrame, value: str = "gib", title: str = "") -> alt.Chart:
    """Horizontal bars of cache memory per model. Columns: model, kind (MHA/GQA/MQA), and `value`."""
    _need(df, ["model", "kind", value])
    return alt.Chart(df, title=title).mark_bar().encode(
        y=alt.Y("model:N", sort=None, title=None, axis=alt.Axis(labelLimit=300)),
        x=alt.X(f"{value}:Q", title={"gib": "GiB", "kib": "KiB per token"}.get(value, value)),
        color=alt.Color("kind:N", title="attention", scale=alt.Scale(domain=["MHA", "GQA", "MQA"],
                                                                      range=["#E76F51", "#4C5FD5", "#2A9D8F"])),
        tooltip=list(df.columns),
    ).properties(height=alt.Step(22))


# ---- speculative decoding --------------------------------------------------------------------
def speculative_rounds_chart(df: pd.DataFrame) -> alt.Chart:
    """Tokens per round by outcome. Columns: round, outcome (accepted / rejected / target's token), tokens."""
    _need(df, ["round", "outcome", "tokens"])
    df = df.assign(order=df["outcome"].map({o: i for i, o in enumerate(OUTCOMES)}))  # stack in reading order
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("round:O", title="round (one target forward pass each)"),
        y=alt.Y("tokens:Q", title="tokens", stack="zero"),
        color=alt.Color("outcome:N", title=None, scale=alt.Scale(domain=list(OUTCOMES), range=list(OUTCOMES.values())),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        order=alt.Order("order:Q"),
        tooltip=["round", "outcome", "tokens"],
    ).properties(height=240)


def speculative_k_chart(df: pd.DataFrame) -> alt.Chart:
    """Speedup against the number of drafted tokens k. Columns: k, speedup, what."""
    _need(df, ["k", "speedup", "what"])
    line = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("k:O", title="drafted tokens per round (k)"),
        y=alt.Y("speedup:Q", title="speedup vs the target alone"),
        color=alt.Color("what:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["k", "what", alt.Tooltip("speedup:Q", format=".2f")],
    )
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[4, 3], color="gray").encode(y="y:Q")
    return alt.layer(line, one).properties(height=280)
