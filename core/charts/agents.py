"""Charts for the Agents page: what BM25 scored for each entry when the agent searched.
Pure functions: step data in, altair chart out.
"""
import altair as alt
import pandas as pd


def bm25_chart(scores: tuple[tuple[str, float], ...], top_k: int, query: str) -> alt.Chart:
    """Horizontal bars of BM25 score per knowledge-base entry, best first; the top_k the agent read are highlighted.

    scores: ((entry title, score), ...) best first, as in Step.scores.
    """
    if not scores:
        raise ValueError("bm25_chart: no scores (only search steps carry them)")
    df = pd.DataFrame(scores, columns=["entry", "bm25"])
    df["rank"] = range(1, len(df) + 1)
    df["shown to the agent"] = ["yes" if r <= top_k and s > 0 else "no" for r, s in zip(df["rank"], df["bm25"])]
    return alt.Chart(df, title=f"BM25 scores for search[{query[:60]}]").mark_bar().encode(
        x=alt.X("bm25:Q", title="BM25 score"),
        y=alt.Y("entry:N", sort=list(df["entry"]), title=None),
        color=alt.Color("shown to the agent:N", scale=alt.Scale(domain=["yes", "no"], range=["#1f77b4", "#c7c7c7"])),
        tooltip=["rank", "entry", alt.Tooltip("bm25:Q", format=".3f"), "shown to the agent"],
    ).properties(width=520, height=24 * len(df))

