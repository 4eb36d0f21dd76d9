"""Charts of the RAG page: pure functions, DataFrame in, altair chart out (no Streamlit, no I/O)."""
import altair as alt
import pandas as pd

DOC_COLORS = alt.Scale(scheme="tableau20")  # up to 20 source documents with distinct colours


def scores_chart(df: pd.DataFrame, k: int) -> alt.Chart:
    """Cosine similarity of the question with every chunk, best first, retrieved chunks opaque.

    df columns: chunk (int id), doc (str), score (float), rank (1 = best, by exact score), retrieved (bool), text (str).
    """
    return (
        alt.Chart(df, title=f"Cosine similarity of the question with all {len(df)} chunks (top {k} retrieved)")
        .mark_bar()
        .encode(
            x=alt.X("rank:O", title="chunk, ranked by similarity", axis=alt.Axis(labels=len(df) <= 60)),
            y=alt.Y("score:Q", title="cosine similarity"),
            color=alt.Color("doc:N", title="source document", scale=DOC_COLORS,
                            legend=alt.Legend(orient="bottom", columns=5)),
            opacity=alt.condition("datum.retrieved", alt.value(1.0), alt.value(0.35)),
            tooltip=["rank:O", "doc:N", alt.Tooltip("score:Q", format=".3f"), "retrieved:N", "text:N"],
        )
        .properties(height=360)
    )


def projection_chart(df: pd.DataFrame, variance: tuple[float, float]) -> alt.Chart:
    """Chunks and the question in the plane of the first two principal components of the chunk embeddings.

    df columns: x, y (float), doc (str), kind ('chunk' | 'question'), retrieved (bool), text (str).
    """
    base = alt.Chart(df).encode(
        x=alt.X("x:Q", title=f"PC 1 ({variance[0]:.0%} of variance)"),
        y=alt.Y("y:Q", title=f"PC 2 ({variance[1]:.0%} of variance)"),
        tooltip=["doc:N", "kind:N", "retrieved:N", "text:N"],
    )
    chunks = base.transform_filter("datum.kind == 'chunk'").mark_circle(size=70).encode(
        color=alt.Color("doc:N", title="source document", scale=DOC_COLORS,
                        legend=alt.Legend(orient="bottom", columns=5)),
        stroke=alt.condition("datum.retrieved", alt.value("black"), alt.value(None)),
        strokeWidth=alt.value(2),
        opacity=alt.value(0.85),
    )
    question = base.transform_filter("datum.kind == 'question'").mark_point(
        shape="diamond", size=300, filled=True, color="crimson")
    label = base.transform_filter("datum.kind == 'question'").mark_text(
        text="question", dy=-16, fontWeight="bold", color="crimson")
    return (chunks + question + label).properties(
        title="Chunk embeddings projected to 2-D by PCA (question = red diamond, retrieved = black ring)", height=380)


def sweep_chart(df: pd.DataFrame) -> alt.Chart:
    """One small panel per measured quantity against chunk size; df in long format: size, quantity, value."""
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(x=alt.X("size:Q", title="chunk size (characters)"), y=alt.Y("value:Q", title=None),
                tooltip=["size:Q", "quantity:N", alt.Tooltip("value:Q", format=".3g")])
        .properties(width=200, height=150)
        .facet(facet=alt.Facet("quantity:N", title=None), columns=3)
        .resolve_scale(y="independent")
        .properties(title="Chunk size trade-offs, measured on the bundled documents")
    )


def index_bench_chart(df: pd.DataFrame) -> alt.Chart:
    """Recall against query time per index kind; df columns: kind, recall, query_ms, megabytes."""
    return (
        alt.Chart(df, title="Index types: recall@k vs time per query (bubble area = index size)")
        .mark_circle(opacity=0.8)
        .encode(
            x=alt.X("query_ms:Q", title="ms per query", scale=alt.Scale(zero=True)),
            y=alt.Y("recall:Q", title="recall@k vs exact search", scale=alt.Scale(domain=[0, 1.05])),
            size=alt.Size("megabytes:Q", title="index MB", scale=alt.Scale(range=[60, 1200])),
            color=alt.Color("kind:N", title="index"),
            tooltip=["kind:N", alt.Tooltip("recall:Q", format=".3f"), alt.Tooltip("query_ms:Q", format=".3f"),
                     alt.Tooltip("megabytes:Q", format=".2f")],
        )
        .properties(height=300)
    )
