"""A toy attention lab: every matrix of multi-head attention, small enough to look at.

Random token vectors X go through the whole of multi-head attention (Vaswani et al. 2017,
https://arxiv.org/abs/1706.03762, §3.2), and every intermediate is returned:

    Q = X W_Q,  K = X W_K,  V = X W_V          # (T, C) @ (C, H·D) -> split into heads (H, T, D)
    scores = Q Kᵀ / √D                          # (H, T, T); without the √D when scaling is off
    masked = scores + M                         # M: 0 where a query may look, -inf where not
    probs = softmax(masked)                     # (H, T, T), each row sums to 1
    heads = probs V                             # (H, T, D)
    concat = [head_1, ..., head_H]              # (T, H·D)
    output = concat W_O                         # (T, C)

Masks: none (an encoder), causal (a decoder: no peeking at later tokens), padding (the last n_pad
tokens are padding and no query may look at them).

Why divide by √D: with q and k of D independent unit-variance entries, q·k has variance D. Unscaled,
the scores spread as √D grows, the softmax saturates into nearly one-hot rows (entropy -> 0) and
its gradients vanish; dividing by √D keeps the variance at 1 for every D (§3.2.1).
`entropy_vs_dk` measures exactly that.

Shapes: T tokens, C model dim (d_model), H heads, D per-head dim (d_k).
"""
from dataclasses import dataclass

import numpy as np

# The lab keeps every matrix in its result (a cached, picklable dataclass): at these maxima the weights are
# 4 × 256 × 256 floats (2 MiB) and a heatmap has at most 32 × 256 cells.
MAX_T = 32
MAX_D_MODEL = 256
MAX_HEADS = 16
MAX_HEAD_DIMS = 256  # heads · d_k
MAX_D_K = 1024  # entropy_vs_dk only: it keeps no matrices
ENTROPY_MAX_T = 64
MASKS = ("none", "causal", "padding")


@dataclass(frozen=True)
class ToyConfig:
    seed: int = 0
    T: int = 6  # tokens
    d_model: int = 16  # C
    d_k: int = 4  # D, per head
    heads: int = 2  # H
    scale: bool = True  # divide the scores by √d_k
    mask: str = "causal"  # "none" | "causal" | "padding"
    n_pad: int = 0  # padding tokens at the end (mask="padding")

    def check(self) -> None:
        if not (1 <= self.T <= MAX_T and 1 <= self.d_model <= MAX_D_MODEL and 1 <= self.heads <= MAX_HEADS
                and 1 <= self.d_k and self.heads * self.d_k <= MAX_HEAD_DIMS):
            raise ValueError(f"need T <= {MAX_T}, d_model <= {MAX_D_MODEL}, heads <= {MAX_HEADS}, heads · d_k <= "
                             f"{MAX_HEAD_DIMS} (all >= 1); got {self}")
        if self.mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS}, got {self.mask!r}")
        if self.mask == "padding" and not 0 <= self.n_pad < self.T:
            raise ValueError(f"n_pad must be in 0..T-1 (at least one real token), got {self.n_pad} for T={self.T}")


@dataclass(frozen=True)
class ToyAttention:
    config: ToyConfig
    X: np.ndarray  # (T, C) token vectors
    Wq: np.ndarray  # (C, H·D)
    Wk: np.ndarray  # (C, H·D)
    Wv: np.ndarray  # (C, H·D)
    Wo: np.ndarray  # (H·D, C)
    Q: np.ndarray  # (H, T, D)
    K: np.ndarray  # (H, T, D)
    V: np.ndarray  # (H, T, D)
    mask: np.ndarray  # (T, T) additive: 0 or -inf
    scores: np.ndarray  # (H, T, T) before the mask
    masked_scores: np.ndarray  # (H, T, T)
    probs: np.ndarray  # (H, T, T) rows sum to 1
    head_outputs: np.ndarray  # (H, T, D)
    concat: np.ndarray  # (T, H·D)
    output: np.ndarray  # (T, C)

    @property
    def entropy(self) -> np.ndarray:
        """(H, T) entropy in bits of every row of probs."""
        return row_entropy(self.probs)


def additive_mask(T: int, kind: str, n_pad: int = 0) -> np.ndarray:
    """(T, T) mask added to the scores. additive_mask(3, 'causal') -> [[0, -inf, -inf], [0, 0, -inf], [0, 0, 0]];
    'padding' with n_pad = 1 -> the last column is -inf in every row."""
    mask = np.zeros((T, T))
    if kind == "causal":
        mask[np.triu_indices(T, k=1)] = -np.inf
    elif kind == "padding" and n_pad:
        mask[:, T - n_pad:] = -np.inf  # keys that are padding; padded queries still look at real tokens
    return mask


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis; -inf entries get probability 0."""
    weights = np.exp(x - x.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def row_entropy(probs: np.ndarray) -> np.ndarray:
    """(..., T) -> (...,) entropy in bits of each row: [0.5, 0.5] -> 1.0; a one-hot row -> 0.0."""
    p = np.asarray(probs, dtype=np.float64)
    logs = np.log2(np.where(p > 0, p, 1.0))  # 0 · log 0 is 0
    return 0.0 - (p * logs).sum(-1)  # 0.0 - makes a one-hot row's -0.0 a plain 0.0


def split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    """(T, H·D) -> (H, T, D)."""
    T, HD = x.shape
    return x.reshape(T, heads, HD // heads).transpose(1, 0, 2)


def run(cfg: ToyConfig) -> ToyAttention:
    """Multi-head attention on seeded random inputs and weights, every stage kept."""
    cfg.check()
    rng = np.random.default_rng(cfg.seed)
    T, C, D, H = cfg.T, cfg.d_model, cfg.d_k, cfg.heads
    X = rng.standard_normal((T, C))
    # Xavier-like init (variance 1/fan_in) keeps Q, K, V entries at about unit variance.
    Wq, Wk, Wv = (rng.standard_normal((C, H * D)) / np.sqrt(C) for _ in range(3))
    Wo = rng.standard_normal((H * D, C)) / np.sqrt(H * D)
    Q, K, V = (split_heads(X @ W, H) for W in (Wq, Wk, Wv))  # (T, C) @ (C, H·D) -> (H, T, D)
    scores = Q @ K.transpose(0, 2, 1)  # (H, T, D) @ (H, D, T) -> (H, T, T)
    if cfg.scale:
        scores = scores / np.sqrt(D)
    mask = additive_mask(T, cfg.mask, cfg.n_pad)
    masked = scores + mask  # (H, T, T)
    probs = softmax(masked)
    head_outputs = probs @ V  # (H, T, T) @ (H, T, D) -> (H, T, D)
    concat = head_outputs.transpose(1, 0, 2).reshape(T, H * D)  # (T, H·D)
    return ToyAttention(cfg, X, Wq, Wk, Wv, Wo, Q, K, V, mask, scores, masked, probs, head_outputs, concat,
                        concat @ Wo)


@dataclass(frozen=True)
class EntropyVsDk:
    d_ks: list[int]
    T: int
    entropy_scaled: list[float]  # mean row entropy (bits) with scores / √d_k
    entropy_unscaled: list[float]  # without the scaling
    score_std_scaled: list[float]  # std of the scores: ~1 for every d_k
    score_std_unscaled: list[float]  # ~√d_k
    max_bits: float  # log2 T: a uniform row


def entropy_vs_dk(d_ks=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), T: int = 16, samples: int = 16,
                  seed: int = 0) -> EntropyVsDk:
    """Mean softmax entropy of random unit-variance q and k, with and without 1/√d_k, for each d_k.

    Bounded: at most 16 values of d_k <= MAX_D_K, T <= ENTROPY_MAX_T, samples <= 32 (32·64·1024 draws per d_k).
    """
    if not (2 <= T <= ENTROPY_MAX_T and 1 <= samples <= 32 and 1 <= len(d_ks) <= 16
            and all(1 <= d <= MAX_D_K for d in d_ks)):
        raise ValueError(f"need 2 <= T <= {ENTROPY_MAX_T}, 1 <= samples <= 32, 1..16 values of 1 <= d_k <= {MAX_D_K}")
    rng = np.random.default_rng(seed)
    rows = {"es": [], "eu": [], "ss": [], "su": []}
    for d in d_ks:
        q = rng.standard_normal((samples, T, d))
        k = rng.standard_normal((samples, T, d))
        raw = q @ k.transpose(0, 2, 1)  # (S, T, T), variance d
        scaled = raw / np.sqrt(d)
        rows["eu"].append(float(row_entropy(softmax(raw)).mean()))
        rows["es"].append(float(row_entropy(softmax(scaled)).mean()))
        rows["su"].append(float(raw.std()))
        rows["ss"].append(float(scaled.std()))
    return EntropyVsDk(list(d_ks), T, rows["es"], rows["eu"], rows["ss"], rows["su"], float(np.log2(T)))


if __name__ == "__main__":
    res = run(ToyConfig(seed=0, T=5, d_model=8, d_k=4, heads=2, mask="causal"))
    for name in ("X", "Wq", "Q", "scores", "probs", "head_outputs", "concat", "output"):
        print(f"{name:13s} {getattr(res, name).shape}")
    print("head 1 probs (causal):\n", np.round(res.probs[0], 3))
    print("row entropy (bits), head 1:", np.round(res.entropy[0], 3))
    curve = entropy_vs_dk()
    print(f"mean entropy over T={curve.T} keys (max {curve.max_bits:.0f} bits):")
    for d, es, eu in zip(curve.d_ks, curve.entropy_scaled, curve.entropy_unscaled):
        print(f"  d_k={d:4d}  scaled {es:.2f}  unscaled {eu:.2f}")
