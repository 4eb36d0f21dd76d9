"""What a long context costs: attention time and memory measured as the context grows, against T².

Self-attention scores every pair of the T tokens (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762):

    scores = Q Kᵀ / √D        (B, H, T, T)   T² numbers per head and layer
    probs  = softmax(scores)   (B, H, T, T)
    out    = probs V           (B, H, T, D)

so its time and the memory of `probs` grow with T², while the projections and the MLP grow with T.
A short context is dominated by the linear part; a long one by the quadratic part. FlashAttention
(Dao et al. 2022, https://arxiv.org/abs/2205.14135) computes the same result in tiles and never stores
the T × T matrix, which removes the memory term but not the T² arithmetic.

Measured here, on whatever CPU runs it, for one real model at a time:
- forward_ms: a whole forward pass of T tokens, eager attention;
- attention_ms: only softmax(QKᵀ/√D)V for the model's L layers and H heads at T, on random q, k, v;
  both the fastest of `reps` runs, because on a shared CPU the other runs measure the neighbours too;
- attention_bytes: the bytes of the attention probabilities the model itself returned
  (output_attentions=True): L · H · T² · 4 for float32, read off the tensors, not computed.

Bounded: at most MAX_TOKENS tokens and MAX_LENGTHS lengths, each forward well under a second on 2 quiet
cores, and no new length is started after `max_seconds` (the curve then says how far it got).
"""
import time
from dataclasses import dataclass

import numpy as np

MAX_TOKENS = 1024
MAX_LENGTHS = 6
MAX_REPS = 3


@dataclass(frozen=True)
class CostPoint:
    tokens: int  # T
    forward_ms: float  # whole model, fastest of reps
    attention_ms: float  # softmax(QKᵀ/√D)V alone, all layers, fastest of reps
    attention_bytes: int  # probabilities returned by the model, all layers and heads


@dataclass(frozen=True)
class CostCurve:
    model: str
    layers: int  # L
    heads: int  # H
    head_dim: int  # D
    points: tuple[CostPoint, ...]
    reps: int
    seconds: float  # wall time of the whole measurement
    asked: tuple[int, ...] = ()  # the lengths asked for; more than measured when max_seconds ran out

    def rows(self) -> list[dict]:
        return [{"model": self.model, "tokens": p.tokens, "forward_ms": p.forward_ms, "attention_ms": p.attention_ms,
                 "attention_MB": p.attention_bytes / 1e6} for p in self.points]


def attention_core(q, k, v):
    """softmax(QKᵀ/√D)V for q, k, v (B, H, T, D) -> (B, H, T, D); the (B, H, T, T) probabilities in between."""
    import torch

    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5  # (B, H, T, T)
    probs = torch.softmax(scores, dim=-1)  # (B, H, T, T)
    return probs @ v  # (B, H, T, D)


def _best_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return float(min(times))


def model_shape(model) -> tuple[int, int, int]:
    """(L, H, D) of a Hugging Face transformer's attention."""
    cfg = model.config
    H = cfg.num_attention_heads
    return cfg.num_hidden_layers, H, getattr(cfg, "head_dim", None) or cfg.hidden_size // H


def measure_cost(model, ids: list[int], lengths, name: str, reps: int = 2, seed: int = 0,
                 max_seconds: float = 8.0) -> CostCurve:
    """Time a forward pass and the attention core at each length T in `lengths`, and read the bytes of
    the attention probabilities the model returns. `ids` holds at least max(lengths) token ids; the model
    must run eager attention (output_attentions needs it): pass a copy set to eager, not a shared model.
    """
    import torch

    lengths = sorted({int(t) for t in lengths})
    reps = max(1, min(int(reps), MAX_REPS))
    if len(lengths) > MAX_LENGTHS or lengths[-1] > MAX_TOKENS or lengths[0] < 1 or len(ids) < lengths[-1]:
        raise ValueError(f"at most {MAX_LENGTHS} lengths of 1..{MAX_TOKENS} tokens, and that many ids; got "
                         f"{lengths} with {len(ids)} ids")
    L, H, D = model_shape(model)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    points = []
    for T in lengths:
        if time.perf_counter() - start > max_seconds:
            break
        batch = torch.tensor([ids[:T]])  # (1, T)
        with torch.no_grad():
            out = model(batch, output_attentions=True)  # warm-up, and the probabilities to weigh
            attention_bytes = sum(a.numel() * a.element_size() for a in out.attentions)  # L × (1, H, T, T)
            del out
            forward_ms = _best_ms(lambda batch=batch: model(batch), reps)
            q, k, v = (torch.randn(1, H, T, D, generator=gen) for _ in range(3))  # (1, H, T, D) each
            attention_ms = L * _best_ms(lambda q=q, k=k, v=v: attention_core(q, k, v), reps)
        points.append(CostPoint(T, forward_ms, attention_ms, int(attention_bytes)))
    return CostCurve(name, L, H, D, tuple(points), reps, time.perf_counter() - start, tuple(lengths))


def eager_copy(model):
    """A copy of a Hugging Face model switched to eager attention (which can return its probabilities);
    the shared, cached model is never changed."""
    import copy

    clone = copy.deepcopy(model)
    clone.set_attn_implementation("eager")
    return clone.eval()


def quadratic_reference(tokens: np.ndarray, anchor_tokens: int, anchor_value: float) -> np.ndarray:
    """c·T² through one measured point: quadratic_reference([256, 512], 512, 40.0) -> [10.0, 40.0]."""
    return anchor_value * (np.asarray(tokens, dtype=np.float64) / anchor_tokens) ** 2


def growth_exponent(tokens, values) -> float:
    """Slope of log(value) against log(T) over the points: 2 for a quadratic, 1 for a linear cost."""
    t, v = np.log(np.asarray(tokens, dtype=np.float64)), np.log(np.maximum(np.asarray(values, dtype=np.float64), 1e-12))
    return float(np.polyfit(t, v, 1)[0]) if len(t) >= 2 else float("nan")


if __name__ == "__main__":
    from core.models import load_encoder

    encoder, tokenizer = load_encoder()
    ids = tokenizer("the quick brown fox " * 200, add_special_tokens=False)["input_ids"]
    curve = measure_cost(encoder, ids, (64, 128, 256, 512), "MiniLM")
    for p in curve.points:
        print(f"T={p.tokens:4}  forward {p.forward_ms:7.1f} ms  attention {p.attention_ms:6.1f} ms  "
              f"probabilities {p.attention_bytes / 1e6:6.1f} MB")
    print(f"growth exponents: attention time {growth_exponent([p.tokens for p in curve.points], [p.attention_ms for p in curve.points]):.2f}, "
          f"memory {growth_exponent([p.tokens for p in curve.points], [p.attention_bytes for p in curve.points]):.2f}")
