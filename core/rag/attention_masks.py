"""Cheaper attention patterns for long contexts: which key positions each query may attend to.

A mask is a (T, T) boolean array: mask[t, s] is True when the token at position t (a query, a row)
may attend to the token at position s (a key, a column). All patterns here are causal (s ≤ t):

- causal:   every earlier token, T(T+1)/2 pairs: quadratic.
- sliding window (Longformer, Beltagy et al. 2020, https://arxiv.org/abs/2004.05150; Mistral 7B,
  Jiang et al. 2023, https://arxiv.org/abs/2310.06825): the last w tokens, t − w < s ≤ t, about T·w
  pairs: linear. Information still travels further, one window per layer: L layers reach L·(w − 1) back.
- dilated window (Longformer): w keys spaced d apart, s = t − j·d for j = 0 .. w − 1: the same cost,
  d times the reach.
- strided (Sparse Transformer, Child et al. 2019, https://arxiv.org/abs/1904.10509): the last `stride`
  tokens plus every stride-th one before them; with stride ≈ √T that is about T·2√T pairs.
- global + window (Longformer, BigBird: Zaheer et al. 2020, https://arxiv.org/abs/2007.14062): a
  window, plus a few global tokens that see and are seen by every position.

Shapes: T tokens; masks (T, T) bool. Bounded: T ≤ MAX_T (a mask is drawn cell by cell).
"""
import numpy as np

PATTERNS = ("causal", "sliding window", "dilated window", "strided", "global + window")
MAX_T = 128


def _grid(T: int) -> tuple[np.ndarray, np.ndarray]:
    if not 1 <= T <= MAX_T:
        raise ValueError(f"need 1 <= T <= {MAX_T}, got {T}")
    t = np.arange(T)[:, None]  # (T, 1) query positions
    s = np.arange(T)[None, :]  # (1, T) key positions
    return t, s


def causal(T: int) -> np.ndarray:
    """s ≤ t: causal(3).sum() -> 6."""
    t, s = _grid(T)
    return s <= t


def sliding_window(T: int, w: int) -> np.ndarray:
    """t − w < s ≤ t: the last w tokens, the query's own included. sliding_window(4, 2).sum() -> 7."""
    t, s = _grid(T)
    return (s <= t) & (t - s < w)


def dilated_window(T: int, w: int, d: int) -> np.ndarray:
    """s = t − j·d for j = 0 .. w − 1: w keys, d apart. dilated_window(T, w, 1) == sliding_window(T, w)."""
    t, s = _grid(T)
    gap = t - s  # (T, T)
    return (gap >= 0) & (gap % d == 0) & (gap // d < w)


def strided(T: int, stride: int) -> np.ndarray:
    """The last `stride` tokens, plus every earlier key at a multiple of `stride` back (Child et al. 2019)."""
    t, s = _grid(T)
    gap = t - s
    return (gap >= 0) & ((gap < stride) | (gap % stride == 0))


def global_window(T: int, w: int, n_global: int) -> np.ndarray:
    """A causal window, plus the first n_global tokens: every query sees them, and they see every earlier token."""
    t, s = _grid(T)
    is_global = (s < n_global) | (t < n_global)  # global key columns, global query rows
    return (s <= t) & ((t - s < w) | is_global)


def make(pattern: str, T: int, w: int = 8, d: int = 2, stride: int = 8, n_global: int = 2) -> np.ndarray:
    """The (T, T) mask of one of PATTERNS."""
    if pattern == "causal":
        return causal(T)
    if pattern == "sliding window":
        return sliding_window(T, w)
    if pattern == "dilated window":
        return dilated_window(T, w, d)
    if pattern == "strided":
        return strided(T, stride)
    if pattern == "global + window":
        return global_window(T, w, n_global)
    raise ValueError(f"unknown pattern {pattern!r}; choose from {PATTERNS}")


def pairs_formula(pattern: str, T: int, w: int = 8, d: int = 2, stride: int = 8, n_global: int = 2) -> int:
    """Attended (query, key) pairs counted without building the mask: the cost per head and layer.

    causal T(T+1)/2; sliding Σ_t min(t+1, w); dilated Σ_t min(⌊t/d⌋+1, w); strided Σ_t (min(t+1, stride) +
    ⌊t/stride⌋ − [t ≥ stride]); global + window: the window's pairs plus the global rows and columns outside it.
    """
    t = np.arange(T)
    if pattern == "causal":
        return T * (T + 1) // 2
    if pattern == "sliding window":
        return int(np.minimum(t + 1, w).sum())
    if pattern == "dilated window":
        return int(np.minimum(t // d + 1, w).sum())
    if pattern == "strided":
        local = np.minimum(t + 1, stride)  # gaps 0 .. stride - 1 that reach back no further than position 0
        far = t // stride  # gaps k·stride for k = 1 .. ⌊t/stride⌋, none of them local
        return int((local + far).sum())
    if pattern == "global + window":
        window = np.minimum(t + 1, w)  # keys t-w+1 .. t
        # rows t < n_global see every key 0..t; other rows add the global keys s < n_global outside their window
        outside = np.where(t < n_global, t + 1 - window, np.maximum(np.minimum(n_global, t - w + 1), 0))
        return int((window + outside).sum())
    raise ValueError(f"unknown pattern {pattern!r}; choose from {PATTERNS}")


def reach(pattern: str, layers: int, w: int = 8, d: int = 2, stride: int = 8) -> str:
    """How far back information can travel through `layers` stacked layers, in words."""
    if pattern == "sliding window":
        return f"{layers} × {w - 1} = {layers * (w - 1)} tokens"
    if pattern == "dilated window":
        return f"{layers} × {(w - 1) * d} = {layers * (w - 1) * d} tokens"
    return "every earlier token (two layers suffice)" if pattern == "strided" else "every earlier token"


def mask_rows(mask: np.ndarray) -> list[dict]:
    """Long-format cells for a heatmap: query, key, allowed."""
    T = mask.shape[0]
    return [{"query": int(t), "key": int(s), "allowed": bool(mask[t, s])} for t in range(T) for s in range(T)]


if __name__ == "__main__":
    T = 16
    for p in PATTERNS:
        m = make(p, T, w=4, stride=4)
        print(f"{p:16} {int(m.sum()):4} pairs (formula {pairs_formula(p, T, w=4, stride=4)}) of {T * T}")
        print("\n".join("".join("█" if c else "·" for c in row) for row in m[:8]))
