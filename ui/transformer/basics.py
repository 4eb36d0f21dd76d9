"""Transformer · the first section: tokens, the attention maps of a real pretrained encoder (MiniLM) with
every layer and head at once and lines between tokens (BertViz's model and head views), the same attention
recomputed from scratch up to the layer's output, which heads link two tokens, and the next-token
distribution of the tiny decoder. Its headers stay in app_pages/transformer.py (glossary entries and quiz
questions name them); the subheaders here do not move the page's outline.
"""
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.charts import transformer as charts
from core.charts.pretraining import token_chips_html
from core.state import Param
from core.transformer import attention, next_token

DEFAULT_SENTENCE = "The cat sat on the mat because it was tired."
DEFAULT_PROMPT = "And the LORD said unto"
MAX_CHARS = 500
GRID_TOKENS = 32  # the 12-head overview stays light in the browser up to 32 x 32 per head
TOP_K = 10
N_HEADS = 12  # MiniLM's heads per layer, the head view's toggles
HEADS_PICK = "hv_heads_pick"  # the pills' own key: they hold a list, the URL parameter `hv_heads` one string


def heads_from_text(text: str, n_heads: int = N_HEADS) -> list[int] | None:
    """Head numbers from their URL text, None if it is not valid: '3,1' -> [1, 3]; 'all' -> 1..n; 'none' -> []."""
    text = str(text).strip().lower()
    if text in ("all", "none"):
        return list(range(1, n_heads + 1)) if text == "all" else []
    if not re.fullmatch(r"\d{1,2}(,\d{1,2})*", text, re.ASCII):
        return None
    heads = sorted({int(part) for part in text.split(",")})
    return heads if all(1 <= h <= n_heads for h in heads) else None


def heads_to_text(heads: list[int], n_heads: int = N_HEADS) -> str:
    """The URL text of a set of heads: [3, 1] -> '1,3'; every head -> 'all'; none -> 'none'."""
    heads = sorted(set(heads))
    if heads == list(range(1, n_heads + 1)):
        return "all"
    return ",".join(map(str, heads)) or "none"


@dataclass(frozen=True)
class HeadsParam(Param):
    """A set of heads in the URL ('all', 'none' or '1,3,12'); anything else falls back to the default."""

    def parse(self, raw: str) -> str:
        heads = heads_from_text(raw)
        return self.default if heads is None else heads_to_text(heads)


PARAMS = [
    Param("sentence", DEFAULT_SENTENCE, max_len=MAX_CHARS),
    Param("layer", 1, 1, 6, step=1),
    Param("head", 1, 1, 12, step=1),
    HeadsParam("hv_heads", "all", max_len=40),
    Param("temperature", 1.0, 0.05, 2.0, step=0.05),
    Param("prompt", DEFAULT_PROMPT, max_len=MAX_CHARS),
]


@dataclass(frozen=True)
class EncoderRun:
    result: attention.EncoderAttention
    text: str
    layer: int  # 1-based, as the slider shows it
    head: int


@ui.cached_compute(max_entries=64, max_size="32MB")
def _encoder_attention(text: str) -> attention.EncoderAttention:
    model, tokenizer = ui.encoder()
    return attention.encoder_attention(model, tokenizer, text)


@ui.cached_compute(max_entries=64, max_size="32MB")
def _output_from_scratch(text: str, layer: int, causal: bool) -> attention.ScratchOutput:
    model, _ = ui.encoder()
    return attention.attention_output_from_scratch(model, _encoder_attention(text), layer, causal)


@ui.cached_compute(max_entries=64, max_size="32MB")
def _next_token_logits(prompt: str) -> next_token.NextTokenLogits:
    model, tokenizer = ui.causal_lm("tiny-lm")
    return next_token.next_token_logits(model, tokenizer, prompt)


def encoder_run() -> EncoderRun | None:
    """The sentence, layer and head widgets, and MiniLM's attention for the sentence (None after a message)."""
    sentence = st.text_area("Your sentence", key="sentence", height=80)
    c_layer, c_head = st.columns(2)
    layer = c_layer.slider("Layer", 1, 6, key="layer")
    head = c_head.slider("Head", 1, 12, key="head")
    text = ui.text_input_checked(sentence, MAX_CHARS, "sentence")
    if text is None or not ui.require_model("minilm"):
        return None
    with ui.heavy("Running the encoder"):
        result = _encoder_attention(text)
    if result.truncated:
        st.warning(f"Your text is {result.n_tokens_full} WordPiece tokens; the maps show the first "
                   f"{len(result.tokens)} (the encoder takes 512, but a larger heatmap is unreadable).")
    return EncoderRun(result, text, layer, head)


def tokens(run: EncoderRun) -> None:
    res, text = run.result, run.text
    st.markdown(
        "A transformer never sees letters: the tokenizer cuts the text into pieces from a fixed vocabulary "
        "(here MiniLM's **WordPiece**, 30,522 entries, lowercased) and the model sees their ids. "
        "`[CLS]` opens every input and `[SEP]` closes it; a piece starting with `##` continues the previous "
        "word, so rare words are spelled from common parts instead of being unknown.")
    st.html(token_chips_html(res.tokens, res.ids))
    _, tokenizer = ui.encoder()
    st.caption("For example, the same tokenizer cuts *unbelievably tokenization* into "
               + " ".join(f"`{t}`" for t in tokenizer.tokenize("unbelievably tokenization")) + ".")
    continuations = [t for t in res.tokens if t.startswith("##")]
    unknown = res.tokens.count("[UNK]")
    st.caption(f"{res.n_tokens_full} tokens for {len(text)} characters"
               + (f" (the first {len(res.tokens)} shown)" if res.truncated else "")
               + (f" · {len(continuations)} `##` continuation piece(s)" if continuations
                  else " · every word is a single token")
               + (f" · {unknown} `[UNK]` (not in the vocabulary)" if unknown else ""))
    if not text.isascii():
        st.info("Non-ASCII text: this uncased WordPiece tokenizer lowercases and strips accents (é → e), "
                "splits Chinese/Japanese characters one by one, and maps characters missing from its "
                "vocabulary (most emoji) to `[UNK]`: the model cannot tell them apart.")
    with st.expander("Token ids"):
        kinds = ["special" if t in ("[CLS]", "[SEP]", "[UNK]") else "continues a word" if t.startswith("##")
                 else "word start" for t in res.tokens]
        st.dataframe(pd.DataFrame({"position": range(len(res.tokens)), "token": res.tokens, "id": res.ids,
                                   "kind": kinds}), hide_index=True)


def attention_maps(run: EncoderRun) -> None:
    res, layer, head = run.result, run.layer, run.head
    st.markdown(
        "all-MiniLM-L6-v2 has 6 layers of 12 heads. Each head builds its own attention map: row *t* is "
        "a probability distribution saying where token *t* looks when it updates its representation. "
        "Pick a layer and a head with the sliders above; many heads specialise (the previous token, "
        "the next one, `[SEP]` as a resting place, the word a pronoun refers to).")
    weights = res.attentions[layer - 1, head - 1]  # (T, T)
    ui.chart(charts.attention_heatmap, res.tokens, weights, f"layer {layer}, head {head}")
    # A fixed heading: a link's layer must not change the page's outline (tests/test_hostile_inputs.py compares it).
    st.subheader("All 12 heads of the layer at a glance")
    T = min(len(res.tokens), GRID_TOKENS)
    cut = len(res.tokens) > GRID_TOKENS
    st.caption(f"Layer {layer}, every head"
               + (f"; the first {GRID_TOKENS} of {len(res.tokens)} tokens in each small map." if cut else "."))
    ui.chart(charts.heads_grid, res.attentions[layer - 1, :, :T, :T])
    model_view(run)
    head_view(run)


def model_view(run: EncoderRun) -> None:
    res = run.result
    st.subheader("Every layer and head at once: the model view")
    L, H = res.attentions.shape[:2]
    T = min(len(res.tokens), charts.model_view_tokens(L, H))
    st.markdown(
        f"All {L * H} maps of the model for your sentence, one row per layer, one column per head (BertViz calls "
        "this the *model view*). Early layers tend to look at neighbours (bands next to the diagonal), later ones "
        "gather on `[CLS]`, `[SEP]` and punctuation (bright columns): a head with nothing to do parks its weight "
        "there.")
    if T < len(res.tokens):
        st.caption(f"The first {T} of {len(res.tokens)} tokens in each map: {L} × {H} maps of {T} × {T} cells "
                   f"keep the chart under {charts.MODEL_VIEW_MAX_ROWS:,} cells for the browser.")
    ui.chart(charts.model_view, res.attentions[:, :, :T, :T])


def head_view(run: EncoderRun) -> None:
    res, layer = run.result, run.layer
    st.subheader("Lines between tokens: the head view")
    st.markdown(
        f"Layer {layer} (the slider above), drawn as BertViz draws it: each token on the left sends a line to "
        "every token on the right it looks at, as opaque as the weight, one colour per head. Toggle heads to "
        "compare them, and hover a token on the left to keep only its lines.")
    H = res.attentions.shape[1]
    if HEADS_PICK not in st.session_state:  # first run, or back from another section: start from the URL
        picked = heads_from_text(st.session_state.get("hv_heads", "all"), H)
        st.session_state[HEADS_PICK] = list(range(1, H + 1)) if picked is None else picked
    heads = st.pills("Heads shown", list(range(1, H + 1)), selection_mode="multi", key=HEADS_PICK)
    st.session_state["hv_heads"] = heads_to_text(heads, H)
    if not heads:
        st.info("Pick at least one head to draw its lines.")
        return
    T = min(len(res.tokens), GRID_TOKENS)
    weights = res.attentions[layer - 1, :, :T, :T]  # (H, T, T)
    ui.chart(charts.head_view, res.tokens[:T], weights, heads, width="content")
    kept = int((weights[[h - 1 for h in heads]] >= charts.HEAD_VIEW_MIN_WEIGHT).sum())
    st.caption(f"{kept:,} lines of weight ≥ {charts.HEAD_VIEW_MIN_WEIGHT} for {len(heads)} head(s) of layer {layer}; "
               "lighter ones are left out to keep the picture (and the browser) light. Each token's lines in one "
               "head carry weights summing to at most 1, since its row of the map is a softmax."
               + (f" The first {T} of {len(res.tokens)} tokens." if T < len(res.tokens) else ""))
    ui.code_behind(charts.head_view, label="The drawing code (arrays in, chart out)")


def from_scratch(run: EncoderRun) -> None:
    res, layer, head = run.result, run.layer, run.head
    st.markdown(
        f"Take the hidden states entering layer {layer} (`output_hidden_states=True`), multiply them by that "
        f"layer's query and key weights for head {head}, and apply the formula yourself in NumPy "
        "(float64). If the formula is right, the result is the model's own attention map.")
    st.latex(r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{D}} + M\right)V")
    st.latex(r"Q = XW_Q + b_Q, \qquad K = XW_K + b_K, \qquad V = XW_V + b_V")
    causal = st.toggle("Add a causal mask M (what a decoder such as Llama uses)", key="causal_mask")
    model, _ = ui.encoder()
    scratch = attention.attention_from_scratch(model, res, layer - 1, head - 1, causal=causal)
    row_error = np.abs(scratch.probs.sum(axis=-1) - 1).max()
    c1, c2, c3 = st.columns(3)
    c1.metric("max |from scratch − model|", f"{scratch.max_abs_diff:.1e}")
    c2.metric("max |row sum − 1|", f"{row_error:.1e}")
    c3.metric("Q and K, each (T, D)", " × ".join(map(str, scratch.q.shape)))
    if causal:
        st.info("With the causal mask each token sees only itself and the tokens before it (M = −∞ above the "
                "diagonal), so the map no longer matches this bidirectional encoder: the difference above is "
                "the mask's effect, not an error.")
    else:
        st.success(f"Recomputed from the weights, the map matches the model to {scratch.max_abs_diff:.1e} "
                   "(float32 vs float64 rounding).")
    ui.chart(charts.attention_heatmap, res.tokens, scratch.probs, f"from scratch: layer {layer}, head {head}"
             + (" (causal)" if causal else ""))
    ui.code_behind(attention.attention_from_scratch, attention.head_projections,
                   attention.scaled_dot_product_attention, attention.softmax)
    output_from_scratch(run, causal)


def output_from_scratch(run: EncoderRun, causal: bool) -> None:
    layer = run.layer
    st.subheader("The layer's output: probs · V, concatenated, W_O")
    st.markdown(
        f"The map only says where to look; what a head hands on is the average of the **values** V with those "
        f"weights. Do it for all 12 heads of layer {layer}, put the 12 results side by side, and mix them with one "
        "more matrix, the output projection W_O (BERT's `attention.output.dense`). That is the attention's "
        "output, which the model caught here with a forward hook; BERT then adds the residual and a LayerNorm "
        "(traced in the section *The block*).")
    st.latex(r"\mathrm{head}_h = P_h V_h, \quad V_h = X W_V^h + b_V^h, \qquad "
             r"\mathrm{out} = [\mathrm{head}_1; \dots; \mathrm{head}_{12}]\, W_O^\top + b_O")
    with ui.heavy("Recomputing the layer's output"):
        out = _output_from_scratch(run.text, layer - 1, causal)
    H, T, D = out.head_outputs.shape
    C = out.concat.shape[1]
    st.dataframe(pd.DataFrame([
        ("values, per head", "V_h = X W_V^h + b_V^h", "(T, D) each", f"{H} × ({T}, {D})"),
        ("head outputs", "head_h = P_h · V_h", "(T, T)·(T, D) → (T, D) each", f"{H} × ({T}, {D})"),
        ("concatenated", "[head_1; …; head_H]", "(T, H·D) = (T, C)", f"({T}, {C})"),
        ("output projection", "concat · W_Oᵀ + b_O", "(T, C)·(C, C) → (T, C)", f"({T}, {C})"),
    ], columns=["step", "formula", "shape", "this sentence"]), hide_index=True)
    c1, c2, c3 = st.columns(3)
    c1.metric("max |recomputed output − model|", f"{out.max_abs_diff:.1e}")
    c2.metric(f"max |probs − model|, all {H} heads", f"{out.probs_diff:.1e}")
    c3.metric("output (T, C)", " × ".join(map(str, out.output.shape)))
    if causal:
        st.info("With the causal mask on, the maps change and so does the output: the difference above is the "
                "mask's effect. Turn the mask off to see the recomputation match the model.")
    else:
        st.success(f"From the weights alone, layer {layer}'s attention output matches the model's to "
                   f"{out.max_abs_diff:.1e}, for all {T}×{C} numbers.")
    ui.code_behind(attention.attention_output_from_scratch, attention.qkv_projections, attention.split_heads,
                   attention.merge_heads)


def head_links(run: EncoderRun) -> None:
    res = run.result
    st.markdown("Pick a token that looks and a token it may look at: the grid shows that weight in every "
                "layer and head. In the default sentence, look for the heads that send *it* to *cat*.")
    labels = charts.token_labels(res.tokens)
    default_q = res.tokens.index("it") if "it" in res.tokens else len(labels) - 1
    default_k = res.tokens.index("cat") if "cat" in res.tokens else 0
    c1, c2 = st.columns(2)
    q = labels.index(c1.selectbox("query token (looks)", labels, index=default_q))
    k = labels.index(c2.selectbox("key token (looked at)", labels, index=default_k))
    links = attention.head_links(res, q, k)  # (L, H)
    best_l, best_h = np.unravel_index(links.argmax(), links.shape)
    ui.chart(charts.head_links_chart, links, res.tokens[q], res.tokens[k])
    st.caption(f"Strongest: layer {best_l + 1}, head {best_h + 1} ({links.max():.2f}); "
               f"mean over all 72 heads {links.mean():.2f}, uniform would be {1 / len(res.tokens):.2f}.")
    ui.code_behind(attention.encoder_attention, attention.head_links)


def next_token_probabilities() -> None:
    st.markdown(
        "A decoder-only model (GPT, Llama) outputs one score, a *logit*, for every token of its vocabulary; "
        "softmax turns them into the probability of each possible next token. The bundled tiny Llama "
        "(3.15M parameters, 4,096 byte-level BPE tokens) was trained on the King James Bible, so give it "
        "biblical English. Temperature divides the logits before the softmax: low τ sharpens, high τ flattens.")
    prompt = st.text_input("Prompt", key="prompt")
    temperature = st.slider("Temperature τ", 0.05, 2.0, step=0.05, key="temperature")
    if not ui.require_model("tiny-lm"):
        return
    prompt = ui.text_input_checked(prompt, MAX_CHARS, "prompt")
    if prompt is None:
        return
    if not prompt.isascii():
        st.info("Non-ASCII prompt: byte-level BPE still encodes every character (as its UTF-8 bytes), but the "
                "tiny LM saw almost only English ASCII text, so expect meaningless predictions.")
    with ui.heavy("Running the tiny LM"):
        res = _next_token_logits(prompt)
    if res.truncated:
        st.warning(f"The prompt is {res.n_tokens_full} tokens; the model reads the last {len(res.prompt_tokens)}.")
    dist = next_token.distribution(res, temperature, TOP_K)
    raw = next_token.distribution(res, 1.0, TOP_K)
    V = len(res.logits)
    c1, c2, c3 = st.columns(3)
    c1.metric("entropy", f"{dist.entropy_bits:.2f} bits", f"{dist.entropy_bits - raw.entropy_bits:+.2f} vs τ = 1",
              delta_color="off")
    c2.metric("most likely next token", repr(dist.top_tokens[0]), f"p = {dist.top_probs[0]:.3f}", delta_color="off")
    c3.metric("tokens covering 90%", f"{dist.nucleus_90:,} of {V:,}")
    series = {"τ = 1 (the model's own)": raw.top_probs}
    if temperature != 1.0:
        probs = next_token.softmax_with_temperature(res.logits, temperature)
        series[f"τ = {temperature:g}"] = probs[raw.top_ids].tolist()
    ui.chart(charts.next_token_bars, raw.top_tokens, series)
    st.caption("Dividing by τ never changes the ranking, only how the probability is spread: the top "
               f"{TOP_K} are the same tokens at every temperature.")
    temps = np.round(np.arange(0.05, 2.0001, 0.05), 2).tolist()
    ui.chart(charts.entropy_chart, temps, next_token.entropy_curve(res.logits, temps), temperature, dist.entropy_bits,
             float(np.log2(V)))
    st.latex(r"p_i = \frac{e^{z_i/\tau}}{\sum_{j=1}^{V} e^{z_j/\tau}}, \qquad "
             r"H = -\sum_i p_i \log_2 p_i \;\text{bits}")
    st.caption("The prompt as the model saw it (its last 40 tokens):")
    st.code(" | ".join(repr(t) for t in res.prompt_tokens[-40:]), language=None, wrap_lines=True)
    ui.code_behind(next_token.next_token_logits, next_token.softmax_with_temperature, next_token.entropy_bits,
                   next_token.distribution)


def math() -> None:
    st.markdown(
        "Multi-head attention runs H heads in parallel, each with its own projections of size D = C / H "
        "(here 384 / 12 = 32), and mixes their outputs with one more matrix. The √D keeps the dot products "
        "from growing with D, which would push the softmax into one-hot rows with vanishing gradients.")
    st.latex(r"\mathrm{MultiHead}(X) = [\mathrm{head}_1; \dots; \mathrm{head}_H]\,W_O")
    st.latex(r"\mathrm{head}_h = \mathrm{softmax}\!\left(\frac{(XW_Q^h)(XW_K^h)^\top}{\sqrt{D}} + M\right) XW_V^h")
    st.markdown(
        "An **encoder** (BERT, MiniLM) uses M = 0: every token sees the whole sentence, which suits understanding "
        "and embeddings. A **decoder** (GPT, Llama) uses the causal mask, M = −∞ above the diagonal, so it can be "
        "trained to predict each next token and then generate one token at a time.")
    ui.papers(
        ("Attention Is All You Need (Vaswani et al. 2017)", "https://arxiv.org/abs/1706.03762"),
        ("BERT (Devlin et al. 2018)", "https://arxiv.org/abs/1810.04805"),
        ("MiniLM (Wang et al. 2020)", "https://arxiv.org/abs/2002.10957"),
        ("BertViz: A Multiscale Visualization of Attention (Vig 2019)", "https://arxiv.org/abs/1906.05714"),
        ("LLaMA (Touvron et al. 2023)", "https://arxiv.org/abs/2302.13971"),
    )
