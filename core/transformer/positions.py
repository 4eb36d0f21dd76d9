"""Where is each token? Position encodings, and why attention needs them.

Attention by itself is order-blind: softmax(QKᵀ/√D)V treats the tokens as a set. Shuffle the
input tokens and the outputs are the same vectors, shuffled the same way (`order_blindness`).
A decoder's causal mask leaks some order back in, but only "who comes before whom". Three ways to
tell the model where each token is:

- sinusoidal (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, §3.5): added to the embeddings,
      PE[t, 2i] = sin(t / 10000^(2i/C)),   PE[t, 2i+1] = cos(t / 10000^(2i/C))        # (T, C)
- learned (GPT-2, BERT): a trained (T_max, C) table added to the embeddings; a seeded random table
  stands in for an untrained one, and MiniLM's real trained table is there to compare.
- rotary, RoPE (Su et al. 2021, https://arxiv.org/abs/2104.09864): rotate each pair of dimensions
  of q and k by the angle t·θ_i, θ_i = theta^(-2i/D). Rotations compose, so
      rope(q, m) · rope(k, n) = q · R(n - m) k
  depends on the positions only through m - n (`rope_relative_demo`, on tiny-lm's real q and k).
  Hugging Face's Llama pairs dimension i with i + D/2 (`rotate_half`) rather than the paper's
  adjacent 2i, 2i+1: a fixed permutation of q's and k's dimensions, the same dot products.

Shapes: T tokens, C model dim, H heads, H_kv key/value heads, D head dim.
"""
from dataclasses import dataclass

import numpy as np

MAX_T = 128  # position tables to plot: 128 × 256 cells at most, one heatmap
MAX_C = 256
MAX_TOKENS = 64  # prompts run through tiny-lm here
MAX_DISTANCE = 256  # relative distances in the RoPE demo
MAX_OFFSETS = 16
MAX_OFFSET = 4096  # absolute positions stay where float64 angles are still exact to ~1e-12


@dataclass(frozen=True)
class PositionEncodings:
    sinusoidal: np.ndarray  # (T, C)
    learned: np.ndarray  # (T, C) a seeded N(0, 0.02²) table, as GPT-2 initialises its own
    rope_angles: np.ndarray  # (T, D/2) the angle t·θ_i by which RoPE turns dimension pair i at position t
    sinusoidal_similarity: np.ndarray  # (T, T) cosine similarity of the sinusoidal rows: it falls with |m - n|


def _check_table(T: int, C: int) -> None:
    if not (1 <= T <= MAX_T and 2 <= C <= MAX_C and C % 2 == 0):
        raise ValueError(f"need 1 <= T <= {MAX_T} and an even 2 <= C <= {MAX_C}, got T={T}, C={C}")


def sinusoidal(T: int, C: int, base: float = 10000.0) -> np.ndarray:
    """(T, C): row t is sin/cos of t at C/2 frequencies, from fast (i = 0) to slow. sinusoidal(1, 4) -> [[0, 1, 0, 1]]."""
    _check_table(T, C)
    t = np.arange(T)[:, None]  # (T, 1)
    freq = base ** (-np.arange(0, C, 2) / C)  # (C/2,) 1, ..., ~1/base
    pe = np.zeros((T, C))
    pe[:, 0::2] = np.sin(t * freq)  # (T, C/2)
    pe[:, 1::2] = np.cos(t * freq)
    return pe


def learned_table(T: int, C: int, seed: int = 0, std: float = 0.02) -> np.ndarray:
    """(T, C) a random table, what a learned position embedding looks like before training."""
    _check_table(T, C)
    return np.random.default_rng(seed).normal(0.0, std, size=(T, C))


def rope_inv_freq(D: int, theta: float = 10000.0) -> np.ndarray:
    """(D/2,) θ_i = theta^(-2i/D): rope_inv_freq(4, 100.0) -> [1, 0.1]."""
    return 1.0 / theta ** (np.arange(0, D, 2) / D)


def rope_angles(positions: np.ndarray, D: int, theta: float = 10000.0) -> np.ndarray:
    """(T,) positions -> (T, D/2) angles t·θ_i."""
    return np.asarray(positions, dtype=np.float64)[:, None] * rope_inv_freq(D, theta)[None, :]


def rotate_half(x: np.ndarray) -> np.ndarray:
    """(..., D) [x1, x2] -> [-x2, x1]: pairs dimension i with i + D/2, as Hugging Face's Llama does."""
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope_rotate(x: np.ndarray, positions, theta: float = 10000.0) -> np.ndarray:
    """Rotate queries or keys by their positions: x (..., T, D), positions (T,) -> (..., T, D).

    Each pair (x_i, x_{i+D/2}) turns by the angle t·θ_i; lengths are unchanged.
    """
    D = x.shape[-1]
    angles = rope_angles(np.asarray(positions), D, theta)  # (T, D/2)
    cos = np.cos(np.concatenate([angles, angles], axis=-1))  # (T, D)
    sin = np.sin(np.concatenate([angles, angles], axis=-1))
    return x * cos + rotate_half(x) * sin


def encodings(T: int, C: int, D: int, theta: float = 10000.0, seed: int = 0) -> PositionEncodings:
    """All three encodings for T positions, to plot side by side."""
    _check_table(T, C)
    if not (2 <= D <= MAX_C and D % 2 == 0):
        raise ValueError(f"head dim D must be even, 2..{MAX_C}, got {D}")
    pe = sinusoidal(T, C)
    unit = pe / np.linalg.norm(pe, axis=-1, keepdims=True)  # every row has norm √(C/2)
    return PositionEncodings(pe, learned_table(T, C, seed), rope_angles(np.arange(T), D, theta), unit @ unit.T)


def encoder_position_table(model, T: int) -> np.ndarray:
    """The first T rows of a BERT-style encoder's trained position table: MiniLM -> (T, 384)."""
    table = model.embeddings.position_embeddings.weight.detach().numpy()
    return table[: min(T, table.shape[0], MAX_T)].astype(np.float64)


# ---- attention on tiny-lm's own weights -----------------------------------------------------
def _token_ids(tokenizer, prompt: str, max_tokens: int) -> list[int]:
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][: min(max_tokens, MAX_TOKENS)]
    if not ids:
        raise ValueError("the prompt has no tokens")
    return ids


def _np(t) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467): x / √(mean(x²) + eps) · weight."""
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * weight


def head_qk(model, ids: list[int], layer: int, head: int) -> tuple[np.ndarray, np.ndarray]:
    """Query head `head` and the key head it shares (GQA), before RoPE: (q (T, D), k (T, D)) in float64.

    The input of layer l is the model's own hidden_states[l]; input_layernorm, q_proj and k_proj
    come from the layer's weights.
    """
    import torch

    cfg = model.config
    D = cfg.head_dim
    group = cfg.num_attention_heads // cfg.num_key_value_heads  # query heads per KV head
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[layer][0]  # (T, C)
    block = model.model.layers[layer]
    x = rms_norm(_np(hidden), _np(block.input_layernorm.weight), block.input_layernorm.variance_epsilon)
    q = x @ _np(block.self_attn.q_proj.weight).T  # (T, C) @ (C, H·D) -> (T, H·D)
    k = x @ _np(block.self_attn.k_proj.weight).T  # (T, H_kv·D)
    kv = head // group
    return q[:, head * D:(head + 1) * D], k[:, kv * D:(kv + 1) * D]


@dataclass(frozen=True)
class RopeRelative:
    tokens: list[str]
    layer: int
    head: int
    query_index: int  # which token's query vector
    key_index: int  # which token's key vector
    offsets: list[int]  # absolute positions the key is placed at
    distances: list[int]  # m - n: the query sits `distance` positions after the key
    scores: np.ndarray  # (len(offsets), len(distances)) rope(q, n+Δ)·rope(k, n)/√D; every row the same
    score_without_rope: float  # q·k/√D: what every entry would be without positions
    max_spread: float  # largest difference across offsets at one distance (float rounding only)


def rope_relative_demo(model, tokenizer, prompt: str, layer: int = 0, head: int = 0, query_index: int = -1,
                       key_index: int = 0, offsets=(0, 7, 50, 300), max_distance: int = 64) -> RopeRelative:
    """Place one real query vector and one real key vector at many absolute positions: the score depends
    only on their distance. Bounded: MAX_TOKENS prompt tokens, MAX_OFFSETS offsets, MAX_DISTANCE distances.
    """
    ids = _token_ids(tokenizer, prompt, MAX_TOKENS)
    offsets = [int(o) for o in offsets][:MAX_OFFSETS]
    if not offsets or not all(0 <= o <= MAX_OFFSET for o in offsets):
        raise ValueError(f"offsets must be 1..{MAX_OFFSETS} positions in 0..{MAX_OFFSET}, got {offsets}")
    distances = list(range(min(max_distance, MAX_DISTANCE) + 1))
    q_all, k_all = head_qk(model, ids, layer, head)
    q, k = q_all[query_index], k_all[key_index]  # (D,), (D,)
    theta = model.config.rope_parameters["rope_theta"]
    D = q.shape[-1]
    scores = np.empty((len(offsets), len(distances)))
    for i, n in enumerate(offsets):
        k_rot = rope_rotate(k[None], [n], theta)[0]  # (D,)
        q_rot = rope_rotate(np.repeat(q[None], len(distances), 0), [n + d for d in distances], theta)  # (Δ, D)
        scores[i] = q_rot @ k_rot / np.sqrt(D)
    tokens = [tokenizer.decode([i]) for i in ids]
    spread = float((scores.max(0) - scores.min(0)).max())
    return RopeRelative(tokens, layer, head, query_index % len(ids), key_index % len(ids), offsets, distances,
                        scores, float(q @ k / np.sqrt(D)), spread)


# ---- order blindness -------------------------------------------------------------------------
def self_attention(x: np.ndarray, wq: np.ndarray, wk: np.ndarray, wv: np.ndarray, wo: np.ndarray, heads: int,
                   kv_heads: int, positions=None, theta: float = 10000.0, causal: bool = False) -> np.ndarray:
    """Multi-head (GQA) self-attention in numpy: x (T, C) -> (T, C).

    Weights as nn.Linear stores them: wq (H·D, C), wk and wv (H_kv·D, C), wo (C, H·D).
    positions (T,) applies RoPE to q and k; None leaves attention order-blind.
    """
    T = x.shape[0]
    D = wq.shape[0] // heads
    q = (x @ wq.T).reshape(T, heads, D).transpose(1, 0, 2)  # (H, T, D)
    k = (x @ wk.T).reshape(T, kv_heads, D).transpose(1, 0, 2)  # (H_kv, T, D)
    v = (x @ wv.T).reshape(T, kv_heads, D).transpose(1, 0, 2)
    if positions is not None:
        q, k = rope_rotate(q, positions, theta), rope_rotate(k, positions, theta)
    k = np.repeat(k, heads // kv_heads, axis=0)  # (H, T, D): each KV head serves a group of query heads
    v = np.repeat(v, heads // kv_heads, axis=0)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(D)  # (H, T, T)
    if causal:
        scores = scores + np.triu(np.full((T, T), -np.inf), k=1)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = (probs @ v).transpose(1, 0, 2).reshape(T, heads * D)  # (H, T, D) -> (T, H·D)
    return out @ wo.T  # (T, C)


@dataclass(frozen=True)
class OrderBlindness:
    tokens: list[str]
    permutation: list[int]  # shuffled[i] = tokens[permutation[i]]
    output_norms: np.ndarray  # (T,) |attention output| of each token, original order, no positions
    shuffled_output_norms: np.ndarray  # (T,) the same for the shuffled input: the same values, permuted
    diff_no_positions: float  # max |attn(X[perm]) - attn(X)[perm]|: ~1e-15, a pure permutation
    diff_rope: float  # the same with RoPE: large, order now matters
    diff_causal: float  # no positions but a causal mask: large too, the mask itself encodes order


def order_blindness(x: np.ndarray, weights: tuple, heads: int, kv_heads: int, tokens: list[str], seed: int = 0,
                    theta: float = 10000.0) -> OrderBlindness:
    """Shuffle the rows of x (T, C) with a seeded permutation and compare the attention outputs three
    ways: no positions (a pure permutation of the outputs), RoPE, and a causal mask (both not).

    weights = (wq, wk, wv, wo) as in `self_attention`; tokens (T,) label the rows.
    """
    T = x.shape[0]
    perm = np.random.default_rng(seed).permutation(T)

    def diff(**kw) -> float:
        shuffled_in = self_attention(x[perm], *weights, heads, kv_heads, theta=theta, **kw)
        return float(np.abs(shuffled_in - self_attention(x, *weights, heads, kv_heads, theta=theta, **kw)[perm]).max())

    plain = self_attention(x, *weights, heads, kv_heads)  # (T, C)
    shuffled = self_attention(x[perm], *weights, heads, kv_heads)
    return OrderBlindness(list(tokens), perm.tolist(), np.linalg.norm(plain, axis=-1),
                          np.linalg.norm(shuffled, axis=-1), diff(), diff(positions=np.arange(T)), diff(causal=True))


def toy_order_blindness(seed: int = 0, T: int = 6, C: int = 16, heads: int = 2) -> OrderBlindness:
    """The same experiment on a tiny seeded attention layer with random inputs: tokens are 'x0'..'x{T-1}'."""
    if not (2 <= T <= MAX_TOKENS and heads >= 1 and C % (2 * heads) == 0 and C <= MAX_C):
        raise ValueError(f"need 2 <= T <= {MAX_TOKENS} and C <= {MAX_C} a multiple of 2·heads, got T={T}, C={C}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, C))
    weights = tuple(rng.standard_normal((C, C)) / np.sqrt(C) for _ in range(4))  # wq, wk, wv, wo
    return order_blindness(x, weights, heads, heads, [f"x{i}" for i in range(T)], seed)


def tiny_lm_order_blindness(model, tokenizer, prompt: str, layer: int = 0, seed: int = 0) -> OrderBlindness:
    """tiny-lm's attention at `layer`, run on the prompt's token embeddings (after input_layernorm)
    with and without RoPE and the causal mask. At most MAX_TOKENS tokens."""
    ids = _token_ids(tokenizer, prompt, MAX_TOKENS)
    cfg = model.config
    block = model.model.layers[layer]
    emb = _np(model.model.embed_tokens.weight)[ids]  # (T, C)
    x = rms_norm(emb, _np(block.input_layernorm.weight), block.input_layernorm.variance_epsilon)
    attn = block.self_attn
    weights = tuple(_np(m.weight) for m in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj))
    return order_blindness(x, weights, cfg.num_attention_heads, cfg.num_key_value_heads,
                           [tokenizer.decode([i]) for i in ids], seed, cfg.rope_parameters["rope_theta"])


if __name__ == "__main__":
    from core.models import load_causal_lm

    enc = encodings(T=64, C=128, D=32)
    print("sinusoidal", enc.sinusoidal.shape, "| similarity of position 10 to 10, 11, 20, 40:",
          np.round(enc.sinusoidal_similarity[10, [10, 11, 20, 40]], 3))
    model, tokenizer = load_causal_lm("tiny-lm")
    demo = rope_relative_demo(model, tokenizer, "And the LORD said unto Moses", layer=2, head=1)
    print(f"RoPE, layer {demo.layer} head {demo.head}: q of {demo.tokens[demo.query_index]!r}, "
          f"k of {demo.tokens[demo.key_index]!r}")
    for off, row in zip(demo.offsets, demo.scores):
        print(f"  key at position {off:3d}: scores at distance 0, 1, 5, 20 = {np.round(row[[0, 1, 5, 20]], 4)}")
    print(f"  largest spread across offsets {demo.max_spread:.1e}; without RoPE {demo.score_without_rope:.4f}")
    blind = tiny_lm_order_blindness(model, tokenizer, "In the beginning God created the heaven", layer=0)
    print("order blindness, permutation", blind.permutation)
    print(f"  no positions: max diff {blind.diff_no_positions:.1e} (a pure permutation); "
          f"RoPE: {blind.diff_rope:.3f}; causal mask: {blind.diff_causal:.3f}")
