"""Charts for the Pretraining page: compression against vocabulary size, and tokens as coloured chips.
Pure functions: data in, altair chart (or an HTML string) out.
"""
import html

import altair as alt
import pandas as pd

CHIP_COLOURS = ["#fde2e4", "#e2ece9", "#dfe7fd", "#fff1c1", "#e8dff5", "#d7f2f7", "#fce1c8", "#e2f0cb"]


def compression_chart(curve: pd.DataFrame, references: pd.DataFrame | None = None,
                      chosen: int | None = None) -> alt.Chart:
    """Characters per token (held-out text) against vocabulary size, on a log axis.

    curve: columns vocab_size, chars_per_token (one BPE run cut to each size).
    references: optional columns tokenizer, vocab_size, chars_per_token (other tokenizers, as points).
    chosen: the vocabulary size the learner picked, marked with a rule.
    """
    missing = {"vocab_size", "chars_per_token"} - set(curve.columns)
    if missing:
        raise ValueError(f"compression_chart: curve lacks columns {sorted(missing)}")
    x = alt.X("vocab_size:Q", scale=alt.Scale(type="log"), title="vocabulary size (log scale)")
    y = alt.Y("chars_per_token:Q", title="characters per token (held-out text)")
    tip = [alt.Tooltip("vocab_size:Q", format=","), alt.Tooltip("chars_per_token:Q", format=".2f")]
    layers = [alt.Chart(curve).mark_line(point=True).encode(x=x, y=y, tooltip=tip)]
    if references is not None and len(references):
        layers.append(alt.Chart(references).mark_point(size=140, filled=True, shape="diamond").encode(
            x=x, y=y, color=alt.Color("tokenizer:N", title="other tokenizers", legend=alt.Legend(orient="bottom", labelLimit=400)),
            tooltip=["tokenizer", *tip]))
    if chosen is not None:
        layers.append(alt.Chart(pd.DataFrame({"vocab_size": [chosen]})).mark_rule(
            strokeDash=[4, 4], color="crimson").encode(x="vocab_size:Q"))
    return alt.layer(*layers).properties(width=600, height=320,
                                         title="bigger vocabularies cut text into fewer, longer tokens")


def _visible(piece: str) -> str:
    """Show the whitespace a token carries: ' the' -> '␣the', '\\n' -> '↵'."""
    return piece.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")


def token_chips_html(pieces: list[str], ids: list[int]) -> str:
    """Tokens as coloured chips (hover shows the id), HTML-escaped: safe for any text."""
    if len(pieces) != len(ids):
        raise ValueError(f"token_chips_html: {len(pieces)} pieces but {len(ids)} ids")
    chips = [
        f'<span title="id {i}" style="background:{CHIP_COLOURS[n % len(CHIP_COLOURS)]};color:#222;'
        f'border-radius:4px;padding:1px 4px;margin:1px;display:inline-block;font-family:monospace">'
        f"{html.escape(_visible(p))}</span>"
        for n, (p, i) in enumerate(zip(pieces, ids))
    ]
    return '<div style="line-height:1.9">' + "".join(chips) + "</div>"
