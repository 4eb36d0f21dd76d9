"""Charts of the RAG page's deeper sections: retrieval scored, faiss on real embeddings, the grounded
answer and long context. Pure functions: DataFrame in, altair chart (or an HTML string) out; no Streamlit."""
import html

import altair as alt
import pandas as pd

METHOD_COLORS = alt.Scale(domain=["BM25", "dense (MiniLM)", "hybrid (RRF)"], range=["#f58518", "#4c78a8", "#54a24b"])
ROPE_COLORS = alt.Scale(domain=["original", "PI", "NTK-aware", "YaRN"], range=["#888888", "#e45756", "#4c78a8", "#54a24b"])


def _check(df: pd.DataFrame, columns: set[str], what: str) -> None:
    missing = columns - set(df.columns)
    if missing:
        raise ValueError(f"{what} needs columns {sorted(columns)}; missing {sorted(missing)}")


# ---- retrieval scored ---------------------------------------------------------------------------------
def recall_curve_chart(df: pd.DataFrame) -> alt.Chart:
    """recall@k against k, one line per method; df columns: method, k, recall."""
    _check(df, {"method", "k", "recall"}, "recall_curve_chart")
    return (
        alt.Chart(df, title="Recall@k on the labelled questions: is the answering document in the top k chunks?")
        .mark_line(point=True)
        .encode(x=alt.X("k:O", title="k (chunks retrieved)"),
                y=alt.Y("recall:Q", title="recall@k", scale=alt.Scale(zero=False)),
                color=alt.Color("method:N", scale=METHOD_COLORS, title="method"),
                tooltip=["method:N", "k:O", alt.Tooltip("recall:Q", format=".3f")])
        .properties(height=300)
    )


def weight_sweep_chart(df: pd.DataFrame, weight: float) -> alt.Chart:
    """MRR and recall@k of the hybrid against its dense weight; df columns: dense weight, metric, value."""
    _check(df, {"dense weight", "metric", "value"}, "weight_sweep_chart")
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("dense weight:Q", title="dense weight w (0 = BM25 alone, 1 = dense alone)"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("metric:N", title=None),
        tooltip=["dense weight:Q", "metric:N", alt.Tooltip("value:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"w": [weight]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="w:Q")
    return (lines + rule).properties(title="Hybrid retrieval as the dense weight moves (dashed: your setting)",
                                     height=280)


# ---- faiss on real embeddings ---------------------------------------------------------------------------
def index_compare_chart(df: pd.DataFrame) -> alt.Chart:
    """Recall against microseconds per query, bubble area = index size; df columns: index, recall, query_us, KiB."""
    _check(df, {"index", "recall", "query_us", "KiB"}, "index_compare_chart")
    return (
        alt.Chart(df, title="Recall@k against exact search vs time per query (bubble area = index size)")
        .mark_circle(opacity=0.8)
        .encode(x=alt.X("query_us:Q", title="µs per query (one at a time)", scale=alt.Scale(zero=True)),
                y=alt.Y("recall:Q", title="recall@k vs exact", scale=alt.Scale(domain=[0, 1.05])),
                size=alt.Size("KiB:Q", title="index KiB", scale=alt.Scale(range=[80, 1500])),
                color=alt.Color("index:N", title="index"),
                tooltip=["index:N", "settings:N", alt.Tooltip("recall:Q", format=".3f"),
                         alt.Tooltip("query_us:Q", format=".1f"), alt.Tooltip("KiB:Q", format=",.0f")])
        .properties(height=320)
    )


def index_sweep_chart(df: pd.DataFrame) -> alt.Chart:
    """Recall against each index's knob, one panel per knob; df columns: knob, value, recall, query_us."""
    _check(df, {"knob", "value", "recall", "query_us"}, "index_sweep_chart")
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(x=alt.X("value:Q", title=None, scale=alt.Scale(type="log", base=2)),
                y=alt.Y("recall:Q", title="recall@k vs exact", scale=alt.Scale(domain=[0, 1.05])),
                tooltip=["knob:N", "value:Q", alt.Tooltip("recall:Q", format=".3f"),
                         alt.Tooltip("query_us:Q", format=".1f", title="µs per query")])
        .properties(width=220, height=180)
        .facet(facet=alt.Facet("knob:N", title=None), columns=3)
        .resolve_scale(x="independent")
        .properties(title="Each index's knob against recall (log scale: each step doubles it)")
    )


# ---- the grounded answer ----------------------------------------------------------------------------------
def highlight_html(text: str, start: int, end: int, label: str = "") -> str:
    """The chunk's text, escaped, with text[start:end] marked: the span the answer quotes.

    highlight_html('a <b> c', 2, 5) -> '...a <mark ...>&lt;b&gt;</mark> c...'
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}-{end} is outside a text of {len(text)} characters")
    before, span, after = (html.escape(part) for part in (text[:start], text[start:end], text[end:]))
    head = f"<b>{html.escape(label)}</b> " if label else ""
    return (f'<div style="white-space: pre-wrap; font-family: sans-serif; line-height: 1.5">{head}{before}'
            f'<mark style="background: #ffe08a; padding: 0 2px">{span}</mark>{after}</div>')


# ---- long context -----------------------------------------------------------------------------------------
def cost_chart(df: pd.DataFrame, quantity: str, unit: str) -> alt.Chart:
    """A measured cost against context length with its c·T² reference; df columns: tokens, series, value.

    `series` names the measured line(s) and the reference ('c·T² through the last point', dashed).
    """
    _check(df, {"tokens", "series", "value"}, "cost_chart")
    base = alt.Chart(df).encode(
        x=alt.X("tokens:Q", title="context length T (tokens)"),
        y=alt.Y("value:Q", title=f"{quantity} ({unit})"),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["series:N", "tokens:Q", alt.Tooltip("value:Q", format=",.2f")])
    measured = base.transform_filter("indexOf(datum.series, 'T²') < 0").mark_line(point=True)
    reference = base.transform_filter("indexOf(datum.series, 'T²') >= 0").mark_line(strokeDash=[5, 4])
    return (measured + reference).properties(title=f"{quantity} as the context grows", height=280)


def rope_ratio_chart(df: pd.DataFrame, factor: float) -> alt.Chart:
    """θ'/θ per dimension pair for each RoPE scaling method; df columns: method, pair, ratio."""
    _check(df, {"method", "pair", "ratio"}, "rope_ratio_chart")
    return (
        alt.Chart(df, title=f"How each method rescales RoPE's frequencies for a factor s = {factor:g}")
        .mark_line(point=True)
        .encode(x=alt.X("pair:Q", title="dimension pair i (fast rotations left, slow right)"),
                y=alt.Y("ratio:Q", title="θ'ᵢ / θᵢ (1 = unchanged, 1/s = interpolated)",
                        scale=alt.Scale(type="log")),
                color=alt.Color("method:N", scale=ROPE_COLORS, title="method"),
                tooltip=["method:N", "pair:Q", alt.Tooltip("ratio:Q", format=".3f")])
        .properties(height=300)
    )


def perplexity_position_chart(df: pd.DataFrame, trained_len: int) -> alt.Chart:
    """Perplexity against position per method, the trained length marked; df columns: method, position, perplexity."""
    _check(df, {"method", "position", "perplexity"}, "perplexity_position_chart")
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("position:Q", title="position in the sequence (tokens)"),
        y=alt.Y("perplexity:Q", title="perplexity (held-out KJV)", scale=alt.Scale(type="log")),
        color=alt.Color("method:N", scale=ROPE_COLORS, title="RoPE"),
        tooltip=["method:N", "position:Q", alt.Tooltip("perplexity:Q", format=".1f")])
    rule = alt.Chart(pd.DataFrame({"x": [trained_len]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    label = alt.Chart(pd.DataFrame({"x": [trained_len], "text": [f"trained length {trained_len}"]})).mark_text(
        align="left", dx=4, dy=-120, color="gray").encode(x="x:Q", text="text:N")
    return (lines + rule + label).properties(title="tiny-lm's perplexity by position, RoPE rescaled", height=320)


def mask_chart(df: pd.DataFrame) -> alt.Chart:
    """One heatmap per attention pattern; df columns: pattern, query, key, allowed."""
    _check(df, {"pattern", "query", "key", "allowed"}, "mask_chart")
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(x=alt.X("key:O", title="key position", axis=alt.Axis(labels=False, ticks=False)),
                y=alt.Y("query:O", title="query position", axis=alt.Axis(labels=False, ticks=False)),
                color=alt.Color("allowed:N", scale=alt.Scale(domain=[True, False], range=["#4c78a8", "#f0f0f0"]),
                                legend=None),
                tooltip=["pattern:N", "query:O", "key:O", "allowed:N"])
        .properties(width=190, height=190)
        .facet(facet=alt.Facet("pattern:N", title=None), columns=5)
        .properties(title="Who may attend to whom (blue = allowed; row = query, column = key)")
    )


def pairs_chart(df: pd.DataFrame) -> alt.Chart:
    """Attended pairs against T per pattern, log-log; df columns: pattern, tokens, pairs."""
    _check(df, {"pattern", "tokens", "pairs"}, "pairs_chart")
    return (
        alt.Chart(df, title="Attention cost per head and layer: pairs scored against context length")
        .mark_line(point=True)
        .encode(x=alt.X("tokens:Q", title="context length T", scale=alt.Scale(type="log", base=2)),
                y=alt.Y("pairs:Q", title="(query, key) pairs", scale=alt.Scale(type="log")),
                color=alt.Color("pattern:N", title="pattern"),
                tooltip=["pattern:N", "tokens:Q", alt.Tooltip("pairs:Q", format=",")])
        .properties(height=280)
    )


def needle_chart(df: pd.DataFrame) -> alt.Chart:
    """Rank of the needle's chunk against its depth, per method; df columns: depth, method, rank."""
    _check(df, {"depth", "method", "rank"}, "needle_chart")
    return (
        alt.Chart(df, title="Where the needle sits vs where the retriever ranks it (1 = first)")
        .mark_line(point=True)
        .encode(x=alt.X("depth:Q", title="needle depth in the haystack (0 = start, 1 = end)",
                        axis=alt.Axis(format="%")),
                y=alt.Y("rank:Q", title="rank of the needle's chunk", scale=alt.Scale(type="log", reverse=True)),
                color=alt.Color("method:N", scale=METHOD_COLORS, title="method"),
                tooltip=["method:N", alt.Tooltip("depth:Q", format=".0%"), "rank:Q"])
        .properties(height=280)
    )
