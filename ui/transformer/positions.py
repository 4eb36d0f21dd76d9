"""Transformer · Positions: attention is order-blind, so every model says where each token is. Sinusoidal,
learned and rotary (RoPE) encodings, MiniLM's real trained position table, RoPE's relative
property on tiny-lm's own query and key vectors, and the order-blindness experiment
(core.transformer.positions).
"""
import numpy as np
import streamlit as st

import ui
from core.charts import transformer_depth as charts
from core.state import Param
from core.transformer import positions as pos
from ui.transformer import MAX_PROMPT_CHARS, bind, checked_prompt, clamp_index

TABLES = ("sinusoidal", "learned (untrained)", "RoPE angles", "similarity", "MiniLM (trained)")
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid
    Param("pos_table", "sinusoidal", choices=TABLES),
    Param("pos_T", 64, 1, pos.MAX_T, step=1),
    Param("pos_C", 128, 2, pos.MAX_C, step=2),
    Param("pos_D", 32, 2, pos.MAX_C, step=2),
    Param("pos_prompt", "And the LORD said unto Moses", max_len=MAX_PROMPT_CHARS),
    Param("pos_layer", 3, 1, 6, step=1),
    Param("pos_head", 2, 1, 6, step=1),
    Param("pos_query", 5, 0, pos.MAX_TOKENS - 1, step=1),
    Param("pos_key", 0, 0, pos.MAX_TOKENS - 1, step=1),
    Param("pos_seed", 0, 0, 999, step=1),
]
OFFSETS = (0, 7, 50, 300)  # absolute positions of the key: the curves must lie on top of each other
MAX_DISTANCE = 64


@ui.cached_compute(max_entries=32, max_size="4MB")  # scores (4, 65) floats and a few tokens an entry
def _rope_relative(prompt: str, layer: int, head: int, query: int, key: int) -> pos.RopeRelative:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return pos.rope_relative_demo(model, tokenizer, prompt, layer, head, query, key, OFFSETS, MAX_DISTANCE)


@ui.cached_compute(max_entries=32, max_size="2MB")  # two norm vectors of <= 64 floats an entry
def _order_blindness(prompt: str, layer: int, seed: int) -> pos.OrderBlindness:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return pos.tiny_lm_order_blindness(model, tokenizer, prompt, layer, seed)


def _minilm_table(T: int) -> None:
    if not ui.require_model("minilm"):
        return
    model, _ = ui.encoder()
    table = pos.encoder_position_table(model, T)  # a slice of the loaded weights, no forward pass
    ui.chart(charts.position_encoding_heatmap, table,
             f"MiniLM's trained position table, first {table.shape[0]} of 512 positions × 384 dims", width="stretch")
    if len(table) > 2:
        unit = table / np.linalg.norm(table, axis=-1, keepdims=True)
        far = min(30, len(table) - 1)
        near_cos = float(np.mean(np.sum(unit[1:] * unit[:-1], axis=-1)))
        far_cos = float(np.mean(np.sum(unit[far:] * unit[:-far], axis=-1)))
        st.caption(f"Learned from data alone: the mean cosine similarity of MiniLM's rows is {near_cos:.2f} "
                   f"for neighbouring positions and {far_cos:.2f} for positions {far} apart"
                   + (", the fall with distance the sinusoids build by design." if near_cos > far_cos else "."))


def _tables() -> None:
    """One table at a time: the five together would send up to 147,000 heatmap cells to the browser, one at most
    49,152 (MiniLM's 128 × 384)."""
    table = st.segmented_control("Encoding", TABLES, key="pos_table", required=True) or TABLES[0]
    c1, c2, c3 = st.columns(3)
    T = c1.slider("positions T", 1, pos.MAX_T, step=1, key="pos_T")
    C = c2.slider("model dim C (even)", 2, pos.MAX_C, step=2, key="pos_C",
                  disabled=table in ("RoPE angles", "MiniLM (trained)"))
    D = c3.slider("RoPE head dim D (even)", 2, pos.MAX_C, step=2, key="pos_D", disabled=table != "RoPE angles")
    enc = pos.encodings(T, C, D)  # at most 128 × 256 values per table: NumPy in a blink, no lock needed
    if table == "sinusoidal":
        ui.chart(charts.position_encoding_heatmap, enc.sinusoidal, "sinusoidal: sin / cos of t at C/2 "
                 "frequencies", width="stretch")
        st.caption("Fast dimensions (left) cycle every few positions, slow ones (right) barely move: together they "
                   "give every position a distinct pattern.")
        st.latex(r"PE_{t,2i} = \sin\!\left(t / 10000^{2i/C}\right), \qquad "
                 r"PE_{t,2i+1} = \cos\!\left(t / 10000^{2i/C}\right)")
    elif table == "learned (untrained)":
        ui.chart(charts.position_encoding_heatmap, enc.learned, "learned: a random N(0, 0.02²) table, as "
                 "GPT-2 starts", width="stretch")
        st.caption("Before training a learned table is noise: every position is a random vector. Training shapes "
                   "it; compare MiniLM's trained table.")
    elif table == "RoPE angles":
        ui.chart(charts.position_encoding_heatmap, np.cos(enc.rope_angles), "RoPE: cos of the angle t·θ_i of "
                 "each pair i", width="stretch")
        st.caption("RoPE adds nothing to the embeddings: it turns each pair of q's and k's dimensions by t·θ_i, "
                   "fast for the first pairs, slow for the last.")
    elif table == "similarity":
        st.altair_chart(charts.matrix_heatmap(enc.sinusoidal_similarity, "sinusoidal: cosine similarity of "
                                              "positions", "position m", "position n", width=420, height=420))
        st.caption("Nearby positions get similar sinusoidal vectors (the band on the diagonal), far ones less so.")
    else:
        _minilm_table(T)


def _rope_demo(prompt: str, n_tokens: int) -> None:
    st.subheader("RoPE depends only on the distance")
    st.markdown(
        "Take one real query vector and one real key vector of tiny-lm, rotate them as if the key sat at "
        f"position n and the query m = n + Δ, and compute the score for n = {', '.join(map(str, OFFSETS))}. "
        "Rotations compose, so the score depends on Δ = m − n alone: the four curves lie on top of each other.")
    c1, c2, c3, c4 = st.columns(4)
    layer = c1.slider("layer", 1, 6, step=1, key="pos_layer")
    head = c2.slider("head", 1, 6, step=1, key="pos_head")
    query = c3.number_input("query token", 0, pos.MAX_TOKENS - 1, step=1, key="pos_query")
    key = c4.number_input("key token", 0, pos.MAX_TOKENS - 1, step=1, key="pos_key")
    query, key = clamp_index(query, n_tokens, "query"), clamp_index(key, n_tokens, "key")
    with ui.heavy("Running the tiny LM"):
        demo = _rope_relative(prompt, layer - 1, head - 1, query, key)
    ui.chart(charts.rope_distance_chart, demo.distances, demo.scores, demo.offsets, demo.score_without_rope,
             width="stretch")
    m1, m2 = st.columns(2)
    m1.metric("max spread across key positions", f"{demo.max_spread:.1e}", "float rounding only", delta_color="off")
    m2.metric("score without RoPE", f"{demo.score_without_rope:.3f}")
    config = ui.causal_lm("tiny-lm")[0].config
    st.text(f"query: token {demo.query_index} {demo.tokens[demo.query_index]!r} · key: token {demo.key_index} "
            f"{demo.tokens[demo.key_index]!r}")  # plain text: the tokens come from the viewer's prompt
    st.caption(f"Layer {layer}, head {head}. tiny-lm shares each key head between "
               f"{config.num_attention_heads // config.num_key_value_heads} query heads (grouped-query attention).")
    st.latex(r"\mathrm{rope}(q, m) \cdot \mathrm{rope}(k, n) = q^\top R_{\theta}(n - m)\, k, \qquad "
             r"\theta_i = 10000^{-2i/D}")


def _order_demo(prompt: str) -> None:
    st.subheader("Without positions, attention is order-blind")
    st.markdown(
        "Shuffle the prompt's tokens and run tiny-lm's attention (the layer chosen above, on the token embeddings) "
        "three ways. With no positions the outputs are the same vectors, shuffled the same way: attention treats "
        "its input as a set. RoPE breaks that; so does a causal mask, which tells each token who came before it.")
    seed = st.number_input("shuffle seed", 0, 999, step=1, key="pos_seed")
    with ui.heavy("Running the tiny LM's attention"):
        blind = _order_blindness(prompt, st.session_state["pos_layer"] - 1, seed)
    m1, m2, m3 = st.columns(3)
    m1.metric("no positions: max |attn(shuffled) − shuffled attn|", f"{blind.diff_no_positions:.1e}")
    m2.metric("with RoPE", f"{blind.diff_rope:.3f}")
    m3.metric("causal mask, no positions", f"{blind.diff_causal:.3f}")
    ui.chart(charts.order_blindness_chart, blind.tokens, blind.permutation, blind.output_norms,
             blind.shuffled_output_norms)


def render() -> None:
    st.header("Positions")
    ui.explain(
        "softmax(QKᵀ/√D)V never looks at where a token is: shuffle the input and each token gets the same output. "
        "So every transformer adds position information: a **sinusoidal** table added to the embeddings (the "
        "original Transformer), a **learned** table (GPT-2, BERT, MiniLM), or **rotary** embeddings that turn q and "
        "k by an angle proportional to the position (RoPE: Llama, Mistral, this app's tiny-lm).")
    bind(PARAMS)
    _tables()
    st.text_input("Prompt for tiny-lm", key="pos_prompt")
    text = checked_prompt("pos_prompt")
    if text is not None and ui.require_model("tiny-lm"):
        _, tokenizer = ui.causal_lm("tiny-lm")
        n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if n_tokens > pos.MAX_TOKENS:
            st.info(f"The prompt is {n_tokens} tokens; these demos read its first {pos.MAX_TOKENS}.")
        if n_tokens < 2:
            st.info("Type a prompt of at least two tokens: the demos compare tokens with each other.")
        else:
            try:  # the core refuses what it cannot run: a message, not a traceback
                _rope_demo(text, min(n_tokens, pos.MAX_TOKENS))
                _order_demo(text)
            except ValueError as err:
                st.warning(f"Cannot run the tiny LM on that prompt: {err}.")
    ui.sync_params(PARAMS)
    ui.papers(("RoFormer: rotary position embedding (Su et al. 2021)", "https://arxiv.org/abs/2104.09864"),
              ("Attention Is All You Need, §3.5 (Vaswani et al. 2017)", "https://arxiv.org/abs/1706.03762"))
    ui.code_behind(pos.sinusoidal, pos.rope_angles, pos.rotate_half, pos.rope_rotate, pos.rope_relative_demo,
                   pos.self_attention, pos.order_blindness)
