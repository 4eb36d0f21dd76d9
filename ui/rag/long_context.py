"""RAG · Long context: attention time and memory measured against T² on the real encoder and tiny-lm; RoPE
scaling (PI, NTK-aware, YaRN) drawn and tried on tiny-lm past its trained length; sliding-window and sparse
masks; a needle in a haystack for our retriever, beside the published lost-in-the-middle results."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import rag_depth as charts
from core.rag import attention_masks as masks
from core.rag import long_context as lc
from core.rag import needle as nh
from core.rag import rope_scaling as rs
from core.state import Param

TRAINED_LEN = 128  # tiny-lm's training windows (scripts/build_assets.py, seq_len)
ENCODER_LENGTHS = (64, 128, 256, 512)  # MiniLM has 512 learned positions
LM_LENGTHS = (128, 256, 512, 1024)
PPL_LENGTHS = (256, 512, 1024)
PPL_TOKENS_PER_METHOD = 2048  # S · T per RoPE method: one request of about a second on 2 quiet cores
HAYSTACKS = (50, 100, 250)
DILATION, N_GLOBAL = 2, 2  # the dilated window's gap and the global tokens, fixed to keep the knobs few
PARAMS = [
    Param("lc_len", 512, choices=PPL_LENGTHS),
    Param("lc_factor", 4, choices=(2, 4, 8)),
    Param("lc_T", 32, 16, 64, step=8),
    Param("lc_w", 6, 1, 32, step=1),
    Param("lc_stride", 6, 2, 16, step=1),
    Param("lc_hay", 100, choices=HAYSTACKS),
    Param("lc_nq", "same words", choices=tuple(nh.QUESTIONS)),
]


# ---- cached, lock-guarded measurements --------------------------------------------------------------
@ui.cached_compute(max_entries=8, max_size="1MB")
def _cost(which: str) -> lc.CostCurve:
    if which == "MiniLM encoder":
        model, tokenizer = ui.encoder()
        ids = tokenizer(_kjv_text(), add_special_tokens=False, verbose=False)["input_ids"]
        return lc.measure_cost(model, ids, ENCODER_LENGTHS, which)  # loaded with eager attention already
    model, tokenizer = ui.causal_lm("tiny-lm")
    return lc.measure_cost(lc.eager_copy(model), rs.heldout_ids(tokenizer, LM_LENGTHS[-1]), LM_LENGTHS, which)


@ui.cached_compute(max_entries=48, max_size="1MB")
def _perplexity(method: str, tokens: int, factor: float) -> rs.PerplexityByPosition:
    model, tokenizer = ui.causal_lm("tiny-lm")
    sequences = PPL_TOKENS_PER_METHOD // tokens
    ids = np.array(rs.heldout_ids(tokenizer, sequences * tokens)).reshape(sequences, tokens)  # (S, T)
    return rs.perplexity_by_position(model, ids, (method,), factor, TRAINED_LEN, bucket=tokens // 16)


# The haystack's texts and vectors: at most 250 x 384 float32 (0.4 MB) and 100 kB of text.
@ui.cached_compute(max_entries=4, max_size="8MB")
def _haystack(n_chunks: int) -> tuple[list[str], np.ndarray]:
    from core.rag.retrieval import embed_texts

    texts = nh.haystack_chunks(n_chunks)
    return texts, embed_texts(ui.sentence_embedder(), texts)


@ui.cached_compute(max_entries=16, max_size="1MB")
def _needle(n_chunks: int, question: str, _haystack_data) -> nh.NeedleResult:
    texts, vectors = _haystack_data
    return nh.needle_ranks(ui.sentence_embedder(), texts, vectors, question=question)


def _kjv_text() -> str:
    from core.pretraining.data import corpus_text

    return corpus_text("heldout")[:6000]


# ---- the parts ---------------------------------------------------------------------------------------
def intro() -> None:
    ui.bind_params(PARAMS)
    st.markdown(
        "Why retrieve at all, if a model can read 100,000 tokens? Attention costs grow with the square of the "
        "context, the KV cache grows linearly, a model trained on short windows meets positions it never saw, and "
        "models do not use a long context evenly: Liu et al. (2023) found accuracy highest when the relevant "
        "passage sits at the **start or end** of the prompt and clearly lower in the **middle** (a U-shaped curve, "
        "*Lost in the Middle*). The *best at the edges* order on the *Pipeline* section puts ranks 1, 3, 5, … first "
        "and …, 4, 2 last for that reason; a small k keeps the prompt short and the signal dense. Each measurement "
        "below runs on its own button.")


def cost() -> None:
    st.markdown("One forward pass at each length, and the attention arithmetic alone "
                "(softmax(QKᵀ/√D)V for every layer and head), timed on this server; the memory is that of the "
                "attention probabilities the model itself returned.")
    c1, c2 = st.columns(2)
    for col, which, lengths in ((c1, "MiniLM encoder", ENCODER_LENGTHS), (c2, "tiny-lm", LM_LENGTHS)):
        if col.button(f"Measure {which} at {', '.join(map(str, lengths))} tokens", key=f"lc_cost_{which.split()[0]}"):
            with ui.heavy(f"Timing {which} at growing lengths"):
                st.session_state[f"lc_cost_result_{which}"] = _cost(which)
    curves = [st.session_state[key] for key in ("lc_cost_result_MiniLM encoder", "lc_cost_result_tiny-lm")
              if key in st.session_state]
    for curve in curves:
        _cost_charts(curve)


def _cost_charts(curve: lc.CostCurve) -> None:
    df = pd.DataFrame(curve.rows())
    last = df.iloc[-1]
    st.markdown(f"**{curve.model}** ({curve.layers} layers, {curve.heads} heads of {curve.head_dim} dimensions)")
    time_df = pd.concat([
        pd.DataFrame({"tokens": df["tokens"], "series": "forward pass (measured)", "value": df["forward_ms"]}),
        pd.DataFrame({"tokens": df["tokens"], "series": "attention alone (measured)", "value": df["attention_ms"]}),
        pd.DataFrame({"tokens": df["tokens"], "series": "c·T² through the last attention point",
                      "value": lc.quadratic_reference(df["tokens"], last["tokens"], last["attention_ms"])})])
    memory_df = pd.concat([
        pd.DataFrame({"tokens": df["tokens"], "series": "attention probabilities (measured)", "value": df["attention_MB"]}),
        pd.DataFrame({"tokens": df["tokens"], "series": "c·T² through the last point",
                      "value": lc.quadratic_reference(df["tokens"], last["tokens"], last["attention_MB"])})])
    left, right = st.columns(2)
    ui.chart(charts.cost_chart, time_df, "time", "ms", width="stretch", on=left)
    ui.chart(charts.cost_chart, memory_df, "memory", "MB", width="stretch", on=right)
    t = df["tokens"]
    exponent = lc.growth_exponent(t, df["attention_ms"])
    reading = ("close to quadratic, as the T × T scores predict" if exponent >= 1.6 else
               "below 2: at these sizes each call's fixed overhead (and, on a shared CPU, the neighbours' load) "
               "still weighs on the timings, while the memory, read off the tensors, is exactly quadratic")
    st.caption(
        f"Fastest of {curve.reps} runs at each length on this server's CPU (shared: a busy neighbour slows some runs), "
        f"measured in {curve.seconds:.1f} s. Growth exponents (slope of log cost against log T; 2 = quadratic, "
        f"1 = linear): attention time {exponent:.2f}, {reading}; forward pass "
        f"{lc.growth_exponent(t, df['forward_ms']):.2f}, whose linear parts (projections, MLP) weigh more at short "
        f"lengths; memory {lc.growth_exponent(t, df['attention_MB']):.2f}, exactly {curve.layers} × {curve.heads} × "
        "T² × 4 bytes."
        + (f" Stopped after {len(df)} of {len(curve.asked)} lengths: the measurement's time cap ran out."
           if len(df) < len(curve.asked) else ""))


def rope() -> None:
    c1, c2 = st.columns(2)
    tokens = c1.select_slider("Evaluation length (tokens)", PPL_LENGTHS, key="lc_len")
    factor = c2.select_slider("Scale factor s", (2, 4, 8), key="lc_factor",
                              help=f"s × {TRAINED_LEN} is the length the scaled positions fit into.")
    ui.sync_params(PARAMS)
    model, _ = ui.causal_lm("tiny-lm")
    D, base = rs.rope_config(model)
    ui.chart(charts.rope_ratio_chart, pd.DataFrame(rs.frequency_table(D, base, factor, TRAINED_LEN)), factor,
             width="stretch")
    st.latex(r"\theta_i = b^{-2i/D};\quad \text{PI: } \theta_i' = \theta_i / s;\quad "
             r"\text{NTK: } b' = b\, s^{D/(D-2)};\quad "
             r"\text{YaRN: } \theta_i' = (1-\gamma_i)\,\theta_i + \gamma_i\,\theta_i/s,\ "
             r"\sqrt{1/t} = 0.1 \ln s + 1")
    st.markdown(
        f"tiny-lm's heads have D = {D} dimensions, so {D // 2} rotating pairs with base b = {base:,.0f}. "
        "**PI** divides every frequency by s; **NTK-aware** keeps the fastest pair and divides the slowest by s; "
        "**YaRN** keeps every pair that turns more than 32 times in the trained length, interpolates those turning "
        "less than once, ramps in between, and sharpens attention by (0.1 ln s + 1)². None is fine-tuned here: the "
        "papers fine-tune briefly at the new length, which this measures without.")
    sequences = PPL_TOKENS_PER_METHOD // tokens
    if st.button(f"Measure tiny-lm's perplexity by position: {sequences} held-out sequence(s) of {tokens} tokens, "
                 f"4 methods", key="lc_ppl"):
        results = []
        st.session_state["lc_ppl_result"] = {"settings": (tokens, factor), "results": results}
        st.button("Stop", key="lc_ppl_stop", help="Ends after the current method; the methods done are kept.")
        bar = st.progress(0.0, text="Measuring…")
        for i, method in enumerate(rs.METHODS):
            with ui.heavy(f"tiny-lm with {method} RoPE"):
                results.append(_perplexity(method, tokens, float(factor)))
            bar.progress((i + 1) / len(rs.METHODS), text=f"{method} measured")
        bar.empty()
    result = st.session_state.get("lc_ppl_result")
    if result and result["results"]:
        _perplexity_view(result, (tokens, factor))


def _perplexity_view(result: dict, settings: tuple) -> None:
    runs = result["results"]
    tokens, factor = result["settings"]
    df = pd.DataFrame([{"method": r.methods[0], "position": int(s), "perplexity": float(p)}
                       for r in runs for s, p in zip(r.bucket_start, r.perplexity[0])])
    ui.chart(charts.perplexity_position_chart, df, TRAINED_LEN, width="stretch")
    inside = df[df["position"] < TRAINED_LEN].groupby("method")["perplexity"].mean()
    beyond = df[df["position"] >= TRAINED_LEN].groupby("method")["perplexity"].mean()
    st.dataframe(pd.DataFrame({"perplexity, positions < 128": inside, "perplexity, positions ≥ 128": beyond})
                 .reindex([r.methods[0] for r in runs]).style.format("{:.1f}"), width="stretch")
    r0 = runs[0]
    st.caption(
        f"Measured: mean perplexity of tiny-lm on {r0.sequences} sequence(s) of {tokens} tokens of held-out KJV "
        f"chapters, per bucket of {r0.bucket} positions, s = {factor}; one run each ({sum(r.seconds for r in runs):.1f} s "
        "in all). Few tokens per bucket, so neighbouring buckets differ by chance: compare the methods bucket by "
        "bucket, not one bucket with the next. The first bucket is high for every method: little context yet."
        + _verdict(inside, beyond))
    if len(runs) < len(rs.METHODS):
        st.warning(f"Stopped after {len(runs)} of {len(rs.METHODS)} methods; click the button again to finish.")
    if settings != (tokens, factor):
        st.info(f"Measured at {tokens} tokens with s = {factor}: click the button to measure the current settings.")


def _verdict(inside: pd.Series, beyond: pd.Series) -> str:
    """Which method did best past the trained length, and how much the original degraded, in this run's numbers."""
    if "original" not in beyond or "original" not in inside or len(beyond) < 2:
        return ""
    best, ratio = beyond.idxmin(), beyond["original"] / inside["original"]
    text = (f" Past position {TRAINED_LEN} in this run: {best} has the lowest mean perplexity ({beyond[best]:.1f}; "
            f"original RoPE {beyond['original']:.1f}, {ratio:.2f}× its own before {TRAINED_LEN}).")
    if ratio < 1.5:
        text += (" Original RoPE barely degrades here, probably because tiny-lm's verses are short: most of what it "
                 "predicts needs only nearby tokens, at distances whose angles it has seen.")
    return text


def mask_view() -> None:
    c1, c2, c3 = st.columns(3)
    T = c1.slider("Tokens T (drawn)", 16, 64, step=8, key="lc_T")
    w = c2.slider("Window w", 1, 32, key="lc_w")
    stride = c3.slider("Stride (strided pattern)", 2, 16, key="lc_stride")
    ui.sync_params(PARAMS)
    d, n_global = DILATION, N_GLOBAL
    cells = pd.DataFrame([{"pattern": p, **cell} for p in masks.PATTERNS
                          for cell in masks.mask_rows(masks.make(p, T, w=w, d=d, stride=stride, n_global=n_global))])
    ui.chart(charts.mask_chart, cells)
    rows = [{"pattern": p, "pairs scored": int(masks.make(p, T, w=w, d=d, stride=stride, n_global=n_global).sum()),
             "reach over 6 layers": masks.reach(p, 6, w=w, d=d, stride=stride)} for p in masks.PATTERNS]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    growth = pd.DataFrame([{"pattern": p, "tokens": n,
                            "pairs": masks.pairs_formula(p, n, w=w, d=d, stride=stride, n_global=n_global)}
                           for p in masks.PATTERNS for n in (64, 256, 1024, 4096, 16384)])
    ui.chart(charts.pairs_chart, growth, width="stretch")
    st.caption(f"The dilated window takes w keys {d} apart; {n_global} global tokens. Pairs are counted from the formula in "
               "core/rag/attention_masks.py (checked against the drawn masks in tests). Causal attention's pairs grow "
               "as T²/2; a window's as T·w; a strided pattern's as T·(stride + T/stride), smallest at stride ≈ √T.")


def needle() -> None:
    c1, c2 = st.columns(2)
    n_chunks = c1.select_slider("Haystack (chunks of held-out KJV verses, ~400 characters each)", HAYSTACKS, key="lc_hay")
    phrasing = c2.radio("The question, asked with…", tuple(nh.QUESTIONS), key="lc_nq", horizontal=True)
    ui.sync_params(PARAMS)
    question = nh.QUESTIONS[phrasing]
    st.markdown(f"Needle: *{nh.NEEDLE}* · Question: *{question}*")
    if st.button(f"Hide the needle at 11 depths of {n_chunks} chunks and retrieve", key="lc_needle"):
        with ui.heavy(f"Embedding a haystack of {n_chunks} chunks"):
            hay = _haystack(n_chunks)
        with ui.heavy("Hiding the needle at each depth"):
            st.session_state["lc_needle_result"] = {"settings": (n_chunks, phrasing),
                                                   "result": _needle(n_chunks, question, hay)}
    saved = st.session_state.get("lc_needle_result")
    if saved:
        r: nh.NeedleResult = saved["result"]
        df = pd.DataFrame([{"depth": d, "method": m, "rank": int(r.ranks[i, j])}
                           for i, m in enumerate(r.methods) for j, d in enumerate(r.depths)])
        ui.chart(charts.needle_chart, df, width="stretch")
        st.dataframe(df.pivot(index="method", columns="depth", values="rank"), width="stretch")
        st.caption(f"Measured: the rank among {r.n_chunks} chunks of the one holding the needle, for each depth. A "
                   "retriever scores each chunk on its own, so the needle's position does not matter to it: the ranks "
                   "are flat across depths, and move only with the question's wording (BM25 needs shared words).")
        if saved["settings"] != (n_chunks, phrasing):
            st.info("Measured with another haystack or question: click the button to measure the current ones.")
    st.markdown(
        "**What models do with the same test.** Liu et al. (2023) put the one document that answers a question among "
        "10, 20 or 30 retrieved ones and moved it from first to last: accuracy was U-shaped in its position for "
        "every model they tried, open and closed, including models built for long contexts; in the 20-document "
        "setting GPT-3.5-Turbo answered worse with the document in the middle than with no documents at all. "
        "Greg Kamradt's needle-in-a-haystack runs (2023) showed recall of a planted sentence falling with both "
        "context length and depth for the long-context models of the day. Our models cannot take this test: tiny-lm "
        "does not answer questions, and its training windows are 128 tokens. What this page can show is the "
        "retriever's side: a short prompt of the right chunks, wherever they were in the collection.")
    ui.papers(
        ("Lost in the Middle (Liu et al. 2023)", "https://arxiv.org/abs/2307.03172"),
        ("Needle In A Haystack (Kamradt 2023)", "https://github.com/gkamradt/LLMTest_NeedleInAHaystack"),
        ("RoFormer / RoPE (Su et al. 2021)", "https://arxiv.org/abs/2104.09864"),
        ("Position Interpolation (Chen et al. 2023)", "https://arxiv.org/abs/2306.15595"),
        ("YaRN (Peng et al. 2023)", "https://arxiv.org/abs/2309.00071"),
        ("Longformer (Beltagy et al. 2020)", "https://arxiv.org/abs/2004.05150"),
        ("Sparse Transformers (Child et al. 2019)", "https://arxiv.org/abs/1904.10509"),
        ("BigBird (Zaheer et al. 2020)", "https://arxiv.org/abs/2007.14062"),
        ("FlashAttention (Dao et al. 2022)", "https://arxiv.org/abs/2205.14135"),
    )
    ui.code_behind(lc.measure_cost, rs.scaled_inv_freq, rs.yarn_inv_freq, rs.perplexity_by_position,
                   masks.sliding_window, masks.strided, nh.needle_ranks)
