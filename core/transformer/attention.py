"""Attention, read off a real pretrained encoder and then recomputed from scratch.

Scaled dot-product attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762):

    scores = Q Kᵀ / √D + mask        # (H, T, T): how well each query matches each key
    probs  = softmax(scores, dim=-1)  # each row sums to 1: where token t looks
    out    = probs V                  # (H, T, D): a weighted average of the values
    concat = [out_1; ...; out_H]      # (T, C): the heads side by side, C = H * D
    output = concat W_Oᵀ + b_O        # (T, C): W_O mixes the heads (BERT's attention.output.dense)

The encoder is all-MiniLM-L6-v2 (Wang et al. 2020, https://arxiv.org/abs/2002.10957), a
BERT-style model (Devlin et al. 2018, https://arxiv.org/abs/1810.04805): L=6 layers, H=12 heads,
C=384 model dim, D=32 head dim, WordPiece tokens. It is loaded with eager attention so that
`output_attentions=True` returns the probabilities. `attention_from_scratch` recomputes them for
one layer and head from the layer's own query/key weights and the hidden states entering that
layer, and measures how far the two disagree (float rounding only, ~1e-7).
`attention_output_from_scratch` goes on to the layer's output: every head's probs @ V, the heads
concatenated, the output projection W_O, checked against the model's own attention.output.dense
output, caught by forward hooks during the same run that returned the maps.

Shapes: T tokens, L layers, H heads, D head dim, C = H * D model dim.
"""
from dataclasses import dataclass

import numpy as np

MAX_TOKENS = 64  # a 64 x 64 heatmap is still readable; the encoder itself takes 512


@dataclass(frozen=True)
class EncoderAttention:
    tokens: list[str]  # WordPiece tokens, [CLS] first and [SEP] last
    ids: list[int]
    attentions: np.ndarray  # (L, H, T, T) row t = where query token t looks
    hidden_states: np.ndarray  # (L + 1, T, C) the input to each layer (0 = embeddings), last = output
    dense_outputs: np.ndarray  # (L, T, C) each layer's attention output projection (attention.output.dense)
    n_tokens_full: int  # tokens the text would take without truncation (with [CLS] and [SEP])

    @property
    def truncated(self) -> bool:
        return self.n_tokens_full > len(self.tokens)


@dataclass(frozen=True)
class ScratchAttention:
    layer: int  # 0-based
    head: int  # 0-based
    q: np.ndarray  # (T, D) queries of this head
    k: np.ndarray  # (T, D) keys of this head
    scores: np.ndarray  # (T, T) Q Kᵀ / √D + mask, before the softmax
    probs: np.ndarray  # (T, T) softmax of the scores
    max_abs_diff: float  # largest |probs - the model's own attention|


@dataclass(frozen=True)
class ScratchOutput:
    layer: int  # 0-based
    causal: bool
    probs: np.ndarray  # (H, T, T) every head's attention map
    v: np.ndarray  # (H, T, D) every head's values
    head_outputs: np.ndarray  # (H, T, D) probs @ V, one per head
    concat: np.ndarray  # (T, C) the heads side by side
    output: np.ndarray  # (T, C) concat W_Oᵀ + b_O
    probs_diff: float  # largest |probs - the model's own attention|, over all heads
    max_abs_diff: float  # largest |output - the model's attention.output.dense output|


def encoder_attention(model, tokenizer, text: str, max_tokens: int = MAX_TOKENS) -> EncoderAttention:
    """Run the encoder on `text` and keep every attention map and hidden state.

    'The cat sat.' -> tokens ['[CLS]', 'the', 'cat', 'sat', '.', '[SEP]'], attentions (6, 12, 6, 6).
    Text longer than `max_tokens` WordPiece tokens (counting [CLS] and [SEP]) is cut.
    The output projection of each layer's attention is not among the model's outputs, so forward
    hooks catch it during the same run (and are removed even if the run fails).
    """
    import torch

    n_full = len(tokenizer(text)["input_ids"])
    batch = tokenizer(text, truncation=True, max_length=max_tokens, return_tensors="pt")
    dense = {}

    def catch(layer: int):
        def hook(module, args, output):
            dense[layer] = output[0].detach().numpy()  # (1, T, C) -> (T, C)
        return hook

    handles = [block.attention.output.dense.register_forward_hook(catch(i))
               for i, block in enumerate(model.encoder.layer)]
    try:
        with torch.no_grad():
            out = model(**batch, output_attentions=True, output_hidden_states=True)
    finally:
        for handle in handles:
            handle.remove()
    ids = batch["input_ids"][0].tolist()
    attentions = torch.stack(out.attentions)[:, 0]  # (L, 1, H, T, T) -> (L, H, T, T)
    hidden = torch.stack(out.hidden_states)[:, 0]  # (L + 1, 1, T, C) -> (L + 1, T, C)
    dense_outputs = np.stack([dense[i] for i in range(len(dense))])  # (L, T, C)
    return EncoderAttention(tokenizer.convert_ids_to_tokens(ids), ids, attentions.numpy(), hidden.numpy(),
                            dense_outputs, n_full)


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: softmax([0, ln 3]) -> [0.25, 0.75]."""
    shifted = scores - scores.max(axis=axis, keepdims=True)  # exp never overflows; the result is unchanged
    weights = np.exp(shifted)
    return weights / weights.sum(axis=axis, keepdims=True)


def causal_mask(T: int) -> np.ndarray:
    """(T, T) additive mask: 0 where query t may see key s (s <= t), -inf above the diagonal."""
    return np.triu(np.full((T, T), -np.inf), k=1)


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None = None):
    """(q (..., T, D), k (..., T, D), additive mask (T, T) or None) -> (scores, probs), each (..., T, T).

    One head takes (T, D); all heads at once take (H, T, D).
    """
    D = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(D)  # (..., T, D) @ (..., D, T) -> (..., T, T)
    if mask is not None:
        scores = scores + mask
    return scores, softmax(scores, axis=-1)


def _weights(linear) -> tuple[np.ndarray, np.ndarray]:
    """A torch Linear's (weight (out, in), bias (out,)) as float64 numpy."""
    return (linear.weight.detach().numpy().astype(np.float64),
            linear.bias.detach().numpy().astype(np.float64))


def head_projections(model, hidden: np.ndarray, layer: int, head: int) -> tuple[np.ndarray, np.ndarray]:
    """The queries and keys of one head: hidden (T, C) -> (q (T, D), k (T, D)).

    BERT's `query` and `key` are C -> C linear layers; head h owns output rows h*D .. (h+1)*D.
    """
    self_attn = model.encoder.layer[layer].attention.self
    D = self_attn.attention_head_size
    rows = slice(head * D, (head + 1) * D)
    w_q, b_q = _weights(self_attn.query)
    w_k, b_k = _weights(self_attn.key)
    x = hidden.astype(np.float64)  # (T, C)
    return x @ w_q[rows].T + b_q[rows], x @ w_k[rows].T + b_k[rows]  # (T, C) @ (C, D) -> (T, D)


def split_heads(x: np.ndarray, H: int) -> np.ndarray:
    """(T, C) -> (H, T, D), D = C / H: head h gets columns h*D .. (h+1)*D."""
    T, C = x.shape
    return x.reshape(T, H, C // H).transpose(1, 0, 2)  # (T, H, D) -> (H, T, D)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """(H, T, D) -> (T, C), C = H * D: the heads side by side, head 1 in the first D columns."""
    H, T, D = x.shape
    return x.transpose(1, 0, 2).reshape(T, H * D)  # (T, H, D) -> (T, C)


def qkv_projections(model, hidden: np.ndarray, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values of every head: hidden (T, C) -> (q, k, v), each (H, T, D)."""
    self_attn = model.encoder.layer[layer].attention.self
    H = self_attn.num_attention_heads
    x = hidden.astype(np.float64)  # (T, C)
    projected = []
    for linear in (self_attn.query, self_attn.key, self_attn.value):
        w, b = _weights(linear)  # (C, C), (C,)
        projected.append(split_heads(x @ w.T + b, H))  # (T, C) -> (H, T, D)
    q, k, v = projected
    return q, k, v


def attention_from_scratch(model, result: EncoderAttention, layer: int, head: int,
                           causal: bool = False) -> ScratchAttention:
    """Recompute one head's attention from the model's weights (float64, numpy, no torch).

    The input to layer l is hidden_states[l]. With a single unpadded sentence the encoder's mask
    is all zeros; `causal=True` adds the mask a decoder such as Llama uses instead, and then the
    difference from the (bidirectional) model is no longer ~0, on purpose.
    """
    q, k = head_projections(model, result.hidden_states[layer], layer, head)
    mask = causal_mask(len(result.tokens)) if causal else None
    scores, probs = scaled_dot_product_attention(q, k, mask)
    diff = float(np.abs(probs - result.attentions[layer, head]).max())
    return ScratchAttention(layer, head, q, k, scores, probs, diff)


def attention_output_from_scratch(model, result: EncoderAttention, layer: int,
                                  causal: bool = False) -> ScratchOutput:
    """Recompute layer `layer`'s whole multi-head attention, up to its output projection (float64).

    softmax(QKᵀ/√D + M) V per head (H, T, D) -> concatenated (T, C) -> concat W_Oᵀ + b_O (T, C),
    then compared with the model's attention.output.dense output. BERT adds the residual and a
    LayerNorm after this (the block section traces those); `causal=True` changes the output, on purpose.
    """
    q, k, v = qkv_projections(model, result.hidden_states[layer], layer)  # each (H, T, D)
    mask = causal_mask(len(result.tokens)) if causal else None
    _, probs = scaled_dot_product_attention(q, k, mask)  # (H, T, T)
    head_outputs = probs @ v  # (H, T, T) @ (H, T, D) -> (H, T, D)
    concat = merge_heads(head_outputs)  # (T, C)
    w_o, b_o = _weights(model.encoder.layer[layer].attention.output.dense)  # (C, C), (C,)
    output = concat @ w_o.T + b_o  # (T, C) @ (C, C) -> (T, C)
    return ScratchOutput(layer, causal, probs, v, head_outputs, concat, output,
                         float(np.abs(probs - result.attentions[layer]).max()),
                         float(np.abs(output - result.dense_outputs[layer]).max()))


def head_links(result: EncoderAttention, query: int, key: int) -> np.ndarray:
    """How much query token `query` attends to token `key`, in every layer and head: (L, H)."""
    return result.attentions[:, :, query, key]


if __name__ == "__main__":
    from core.models import load_encoder

    model, tokenizer = load_encoder()
    res = encoder_attention(model, tokenizer, "The cat sat on the mat because it was tired.")
    print("tokens:", res.tokens)
    print("attentions:", res.attentions.shape, "hidden states:", res.hidden_states.shape)
    for layer in range(res.attentions.shape[0]):
        scratch = attention_from_scratch(model, res, layer, 0)
        full = attention_output_from_scratch(model, res, layer)
        print(f"layer {layer + 1}: head 1 map max |scratch - model| = {scratch.max_abs_diff:.2e}, "
              f"output {full.output.shape} max |scratch - model| = {full.max_abs_diff:.2e}")
    it, cat = res.tokens.index("it"), res.tokens.index("cat")
    links = head_links(res, it, cat)
    best_l, best_h = np.unravel_index(links.argmax(), links.shape)
    print(f"'it' -> 'cat' strongest in layer {best_l + 1}, head {best_h + 1}: {links.max():.2f}")
