"""Pretraining · Data pipeline: a noisy web-like mix made from the corpus (boilerplate, junk, exact and near
copies, every line labelled), cleaned step by step with counts, exact dedup by SHA-1 and near dedup by
MinHash + LSH with its knobs, the MinHash estimate against the true Jaccard (core.pretraining.pipeline, dedup).
"""
import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import pretraining_depth as charts
from core.pretraining import dedup
from core.pretraining import pipeline as pl
from core.state import Param
from ui.pretraining import bind

STEPS = (("pipe_strip", "strip boilerplate"), ("pipe_quality", "quality filter"), ("pipe_exact", "exact dedup"),
         ("pipe_near", "near dedup"))
PARAMS = [
    Param("pipe_docs", 400, 50, pl.MAX_ORIGINALS, step=50),
    Param("pipe_exact_rate", 0.15, 0.0, pl.MAX_RATE, step=0.05),
    Param("pipe_near_rate", 0.15, 0.0, pl.MAX_RATE, step=0.05),
    Param("pipe_changed", 10, 1, 30, step=1),
    Param("pipe_seed", 0, 0, 999, step=1),
    *[Param(key, True) for key, _ in STEPS],
    Param("pipe_min_words", 3, 0, 10, step=1),
    Param("pipe_symbols", 0.25, 0.0, 1.0, step=0.05),
    Param("pipe_run", 4, 1, 20, step=1),
    Param("pipe_alpha", 0.8, 0.0, 1.0, step=0.05),
    Param("pipe_k", 5, 1, dedup.MAX_SHINGLE, step=1),
    Param("pipe_bands", 20, 1, 64, step=1),
    Param("pipe_rows", 5, 1, 16, step=1),
    Param("pipe_threshold", 0.5, 0.0, 1.0, step=0.05),
]
SHOWN_DOCS = 6


def _permutations_fit(values: dict) -> dict:
    """b · r signatures per document must fit in dedup.MAX_PERMUTATIONS: rows give way to bands."""
    rows = min(values["pipe_rows"], dedup.MAX_PERMUTATIONS // values["pipe_bands"])
    return {**values, "pipe_rows": max(1, rows)}


# A result weighs ~1 MB (≤ 3,000 pairs, a few examples); one run is about a second on 2 cores at the
# largest settings (500 originals, every rate at 0.5: 1,250 documents).
@ui.cached_compute(max_entries=32, max_size="48MB")
def _run(mix: pl.MixConfig, clean: pl.CleanConfig) -> tuple[pl.PipelineResult, tuple[pl.Document, ...]]:
    docs = pl.make_mix(mix)
    shown = tuple(docs[:SHOWN_DOCS]) + tuple(d for d in docs if d.origin == "near duplicate")[:1]
    return pl.run_pipeline(mix, clean), shown


def _configs() -> tuple[pl.MixConfig, pl.CleanConfig]:
    s = st.session_state
    mix = pl.MixConfig(n_documents=s.pipe_docs, exact_dup_rate=s.pipe_exact_rate, near_dup_rate=s.pipe_near_rate,
                       max_changed_words=s.pipe_changed, seed=int(s.pipe_seed))
    clean = pl.CleanConfig(strip_boilerplate=s.pipe_strip, quality_filter=s.pipe_quality, min_words=s.pipe_min_words,
                           max_symbol_ratio=s.pipe_symbols, max_char_run=s.pipe_run, min_alpha_words=s.pipe_alpha,
                           exact_dedup=s.pipe_exact, near_dedup=s.pipe_near, shingle_size=s.pipe_k,
                           bands=s.pipe_bands, rows=s.pipe_rows, threshold=s.pipe_threshold)
    return mix, clean


def _widgets() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Original documents", 50, pl.MAX_ORIGINALS, step=50, key="pipe_docs")
    c2.slider("Exact copies (per original)", 0.0, pl.MAX_RATE, step=0.05, key="pipe_exact_rate")
    c3.slider("Near copies (per original)", 0.0, pl.MAX_RATE, step=0.05, key="pipe_near_rate")
    c4.slider("Words changed in a near copy (at most)", 1, 30, key="pipe_changed")
    cols = st.columns(len(STEPS) + 1)
    for col, (key, label) in zip(cols, STEPS):
        col.toggle(label, key=key)
    cols[-1].number_input("Seed of the mix", 0, 999, key="pipe_seed")
    with st.expander("Quality filter rules (simplified from Gopher's)"):
        q1, q2, q3, q4 = st.columns(4)
        q1.slider("min words per line", 0, 10, key="pipe_min_words")
        q2.slider("max share of symbols", 0.0, 1.0, step=0.05, key="pipe_symbols")
        q3.slider("longest run of one character", 1, 20, key="pipe_run")
        q4.slider("min share of words with a letter", 0.0, 1.0, step=0.05, key="pipe_alpha")
    m1, m2, m3, m4 = st.columns(4)
    m1.slider("shingle size k (words)", 1, dedup.MAX_SHINGLE, key="pipe_k")
    m2.slider("bands b", 1, 64, key="pipe_bands")
    m3.slider("rows per band r", 1, 16, key="pipe_rows",
              help=f"b × r MinHash values per document, at most {dedup.MAX_PERMUTATIONS}: r gives way to b.")
    m4.slider("MinHash threshold", 0.0, 1.0, step=0.05, key="pipe_threshold")


def _counts(result: pl.PipelineResult) -> None:
    raw, last = result.steps[0], result.steps[-1]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("documents kept", f"{last.documents:,} / {raw.documents:,}")
    c2.metric("tokens kept", f"{last.tokens:,}", f"{last.tokens / raw.tokens - 1:.1%} of raw", delta_color="off")
    noise = sum(s.removed_noise for s in result.steps[1:])
    clean = sum(s.removed_clean for s in result.steps[1:])
    c3.metric("noise removed", f"{noise:,}", help="boilerplate and junk lines, duplicate and junk documents")
    c4.metric("good text removed", f"{clean:,}", help="verse lines or original documents: false positives, "
              "except originals that really are near copies of each other")
    ui.chart(charts.pipeline_counts_chart, result)
    table = pd.DataFrame([{"step": s.step + ("" if s.enabled else " (off)"), "documents": s.documents,
                           "characters": s.characters, "tokens": s.tokens,
                           "removed: noise": s.removed_noise if s.step != "raw" else None,
                           "removed: good text": s.removed_clean if s.step != "raw" else None,
                           "unit": s.unit} for s in result.steps])
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("Tokens by tiny-lm's 4,096-token BPE. Every line of the mix carries its true label, so each step "
               "is scored: what it removed that was noise, and what it removed that was good text.")
    with st.expander("What each step removed (examples)"):
        rows = [{"step": s.step, "removed": text, "why": why} for s in result.steps for text, why in s.examples]
        st.dataframe(pd.DataFrame(rows, columns=["step", "removed", "why"]), hide_index=True, width="stretch")
        if result.filter_reasons:
            st.caption("Quality filter, lines per failed rule: " + ", ".join(
                f"{why}: {n}" for why, n in sorted(result.filter_reasons.items(), key=lambda kv: -kv[1])))


def _near_dedup(result: pl.PipelineResult) -> None:
    clean = result.clean
    P = clean.bands * clean.rows
    st.subheader("Near duplicates: MinHash + LSH")
    if not clean.near_dedup:
        st.info("Near dedup is switched off: switch it on to see the pairs it finds.")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("pairs compared", f"{result.n_candidates:,}", f"instead of all {result.n_compared_all:,}",
              delta_color="off")
    c2.metric("planted near copies removed", f"{result.planted_found} / {result.planted_total}")
    c3.metric("LSH threshold ≈ (1/b)^(1/r)", f"{dedup.lsh_threshold(clean.bands, clean.rows):.2f}",
              f"b = {clean.bands}, r = {clean.rows}: {P} MinHash values", delta_color="off")
    if result.candidates_truncated:
        st.warning(f"LSH stopped at {dedup.MAX_CANDIDATES:,} candidate pairs: these bands are too loose for "
                   "this corpus (almost every pair shares a bucket). Use more rows per band.")
    ui.chart(charts.s_curve_chart, result)
    st.caption("The S-curve is the probability that LSH makes two documents with Jaccard s a candidate pair. Red "
               "ticks: the pairs shown below, at their true Jaccard, at the top if LSH made them candidates, at "
               "the bottom if not. More rows sharpen the step; more bands move it left.")
    if result.pairs:
        est = np.array([p.estimated for p in result.pairs])
        true = np.array([p.true for p in result.pairs])
        se = np.sqrt(true * (1 - true) / P)
        left, right = st.columns([3, 2])
        ui.chart(charts.jaccard_scatter_chart, result.pairs, on=left)
        right.metric("mean |MinHash estimate − true Jaccard|", f"{np.mean(np.abs(est - true)):.3f}",
                     f"theory: mean √(J(1−J)/P) = {np.mean(se):.3f}", delta_color="off")
        right.caption(f"{len(result.pairs):,} pairs: every planted near copy whose source survived the earlier "
                      "steps, then the other LSH candidates. The estimate is the share of the P MinHash values two "
                      "documents agree on; its standard error shrinks as 1/√P.")
        table = pd.DataFrame([{"documents": f"{p.a} – {p.b}", "true Jaccard": round(p.true, 3),
                               "MinHash estimate": round(p.estimated, 3), "LSH candidate": p.candidate,
                               "linked as duplicates": p.duplicate} for p in result.pairs[:200]])
        st.dataframe(table, hide_index=True, width="stretch", height=220)


def _mix(shown: tuple[pl.Document, ...]) -> None:
    with st.expander("Look at the raw mix (every line labelled)"):
        for doc in shown:
            source = f", copy of document {doc.source}" if doc.source >= 0 else ""
            st.markdown(f"**Document {doc.index}** ({doc.origin}{source})")
            st.dataframe(pd.DataFrame(doc.lines, columns=["line", "kind"]), hide_index=True, width="stretch")


def render() -> None:
    st.markdown(
        "A web crawl is mostly text nobody wants a model to learn: cookie banners, menus, symbol soup, and the "
        "same page many times over. Here a noisy mix is generated (seeded) from the bundled corpus, so every "
        "line knows what it is, and each cleaning step can be switched off and scored. Duplicates matter: "
        "repeated text is memorised and wastes compute (Lee et al. 2021).")
    bind(PARAMS, rules=(_permutations_fit,))
    _widgets()
    ui.sync_params(PARAMS)
    mix, clean = _configs()
    with ui.heavy("Cleaning the mix"):
        result, shown = _run(mix, clean)
    _counts(result)
    _near_dedup(result)
    _mix(shown)
    st.subheader("The math")
    st.latex(r"J(A, B) = \frac{|A \cap B|}{|A \cup B|}, \qquad "
             r"\Pr\big[\min h(A) = \min h(B)\big] = J(A, B), \qquad "
             r"\mathrm{SE}(\hat J) = \sqrt{J(1 - J)/P}")
    st.latex(r"\Pr[\text{candidate}] = 1 - (1 - s^{r})^{b}, \qquad s^\star \approx (1/b)^{1/r}")
    st.markdown("A document is the set of its word k-grams (shingles). MinHash keeps, for each of P random hash "
                "functions, the smallest hash over the set; two documents agree on one such minimum with "
                "probability equal to their Jaccard. LSH cuts the P values into b bands of r rows and compares "
                "only documents that agree on a whole band: near-linear work instead of N(N−1)/2 comparisons.")
    ui.code_behind(dedup.minhash, dedup.lsh_candidates, dedup.near_duplicates, pl.line_quality)
    ui.papers(("Broder 1997, On the resemblance and containment of documents",
               "https://doi.org/10.1109/SEQUEN.1997.666900"),
              ("Deduplicating Training Data Makes Language Models Better (Lee et al. 2021)",
               "https://arxiv.org/abs/2107.06499"),
              ("C4 / T5 (Raffel et al. 2019)", "https://arxiv.org/abs/1910.10683"),
              ("Gopher's quality filters (Rae et al. 2021)", "https://arxiv.org/abs/2112.11446"))
