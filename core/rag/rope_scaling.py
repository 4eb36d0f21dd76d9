"""Stretching RoPE past the trained length: position interpolation, NTK-aware scaling and YaRN.

RoPE (Su et al. 2021, https://arxiv.org/abs/2104.09864) turns dimension pair i of a query or key at
position t by the angle t·θ_i, with θ_i = base^(−2i/D), i = 0 .. D/2 − 1 (`inv_freq`, shape (D/2,)).
Pair i completes a turn every λ_i = 2π/θ_i positions (its wavelength): pair 0 every 6 tokens, the last
pair every ~2π·base tokens. A model trained on L tokens has seen angles up to L·θ_i only; past L the
slow pairs reach angles it never saw, and perplexity climbs. Three fixes rescale θ for a factor s:

- Position interpolation, PI (Chen et al. 2023, https://arxiv.org/abs/2306.15595): θ_i' = θ_i / s.
  Position s·L now turns every pair as far as position L did: no unseen angle, but neighbouring
  tokens become s times closer, which blurs the fast pairs that tell them apart.
- NTK-aware (bloc97 2023, a Reddit post; analysed in the YaRN paper): raise the base instead,
  base' = base · s^(D/(D−2)). The fastest pair (i = 0) is untouched and the slowest is divided by
  exactly s: high frequencies extrapolate, low ones interpolate, smoothly in between.
- YaRN (Peng et al. 2023, https://arxiv.org/abs/2309.00071): per pair, by how many turns r_i = L/λ_i
  it makes in the trained length: pairs with more than β = 32 turns keep θ_i (their angles were all
  seen), pairs with less than α = 1 turn take θ_i / s (PI), and a linear ramp over the pair index
  blends them in between, as the reference code and Hugging Face do. It also sharpens attention:
  cos and sin are multiplied by 0.1·ln(s) + 1, so the logits q·k grow by its square.

`scaled_inv_freq` gives (inv_freq (D/2,), attention factor) for each; `with_rope` copies a Hugging Face
Llama and puts them in its rotary embedding (never touching the shared, cached model);
`perplexity_by_position` measures the effect on tiny-lm, which was trained on 128-token windows.
"""
import math
from dataclasses import dataclass

import numpy as np

METHODS = ("original", "PI", "NTK-aware", "YaRN")
YARN_BETA_FAST, YARN_BETA_SLOW = 32.0, 1.0  # the paper's α = 1, β = 32 turns
MAX_EVAL_TOKENS = 1024  # positions tiny-lm is asked about (8 × its training windows)
MAX_EVAL_SEQUENCES = 8


def default_inv_freq(D: int, base: float = 10000.0) -> np.ndarray:
    """θ_i = base^(−2i/D), (D/2,): default_inv_freq(4, 100) -> [1.0, 0.1]."""
    return base ** (-np.arange(0, D, 2, dtype=np.float64) / D)


def pi_inv_freq(D: int, base: float, factor: float) -> np.ndarray:
    """Position interpolation: every θ_i divided by s, (D/2,)."""
    return default_inv_freq(D, base) / factor


def ntk_inv_freq(D: int, base: float, factor: float) -> np.ndarray:
    """NTK-aware: the same formula with base · s^(D/(D−2)), (D/2,). The first θ stays 1, the last is θ/s."""
    return default_inv_freq(D, base * factor ** (D / (D - 2)))


def yarn_ramp(D: int, base: float, original_len: int, beta_fast: float = YARN_BETA_FAST,
              beta_slow: float = YARN_BETA_SLOW, truncate: bool = True) -> np.ndarray:
    """Per pair, how much it interpolates: 0 for pairs turning > beta_fast times in original_len, 1 for
    pairs turning < beta_slow times, linear in the pair index in between, (D/2,).

    The pair index where pair i turns r times in L positions: i = D·ln(L / (2π·r)) / (2·ln base).
    The reference code rounds the two ends outward to whole pairs (truncate).
    """
    def index_at(turns: float) -> float:
        return D * math.log(original_len / (turns * 2 * math.pi)) / (2 * math.log(base))

    low, high = index_at(beta_fast), index_at(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0.0), min(high, D - 1.0)
    if high == low:
        high += 0.001  # as the reference code: no division by zero
    return np.clip((np.arange(D // 2) - low) / (high - low), 0.0, 1.0)


def yarn_attention_factor(factor: float) -> float:
    """YaRN's temperature: cos and sin are multiplied by 0.1·ln(s) + 1 (1 for s ≤ 1)."""
    return 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0


def yarn_inv_freq(D: int, base: float, factor: float, original_len: int) -> np.ndarray:
    """YaRN: θ_i' = (1 − γ_i)·θ_i + γ_i·θ_i/s with γ = yarn_ramp, (D/2,)."""
    theta = default_inv_freq(D, base)
    gamma = yarn_ramp(D, base, original_len)
    return (1.0 - gamma) * theta + gamma * theta / factor


def scaled_inv_freq(method: str, D: int, base: float, factor: float, original_len: int) -> tuple[np.ndarray, float]:
    """(inv_freq (D/2,), attention factor) for one of METHODS."""
    if method == "original":
        return default_inv_freq(D, base), 1.0
    if method == "PI":
        return pi_inv_freq(D, base, factor), 1.0
    if method == "NTK-aware":
        return ntk_inv_freq(D, base, factor), 1.0
    if method == "YaRN":
        return yarn_inv_freq(D, base, factor, original_len), yarn_attention_factor(factor)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def frequency_table(D: int, base: float, factor: float, original_len: int) -> list[dict]:
    """For a chart: per method and pair i, θ_i'/θ_i and the turns the pair makes in s·L positions."""
    theta = default_inv_freq(D, base)
    rows = []
    for method in METHODS:
        inv, _ = scaled_inv_freq(method, D, base, factor, original_len)
        for i, (new, old) in enumerate(zip(inv, theta)):
            rows.append({"method": method, "pair": i, "ratio": float(new / old),
                         "turns": float(factor * original_len * new / (2 * math.pi)),
                         "trained turns": float(original_len * old / (2 * math.pi))})
    return rows


# ---- on a real model ----------------------------------------------------------------------------------
def rope_config(model) -> tuple[int, float]:
    """(D, base) of a Hugging Face Llama's rotary embedding."""
    cfg = model.config
    D = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    params = getattr(cfg, "rope_parameters", None) or {}
    return D, float(params.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))


def with_rope(model, method: str, factor: float, original_len: int):
    """A deep copy of a Llama-style model whose rotary embedding uses the method's θ and attention factor.

    The copy keeps rope_type 'default', so transformers never recomputes the frequencies we set.
    """
    import copy

    import torch

    D, base = rope_config(model)
    inv, attention = scaled_inv_freq(method, D, base, factor, original_len)
    scaled = copy.deepcopy(model)
    rotary = scaled.model.rotary_emb
    rotary.inv_freq = torch.tensor(inv, dtype=torch.float32)
    rotary.attention_scaling = attention
    return scaled.eval()


@dataclass(frozen=True)
class PerplexityByPosition:
    methods: tuple[str, ...]  # M
    factor: float
    trained_len: int
    tokens: int  # T, positions per sequence
    sequences: int  # S
    bucket: int  # positions per bucket
    bucket_start: np.ndarray  # (B,) first position of each bucket
    nll: np.ndarray  # (M, B) mean negative log-likelihood (nats) of the tokens in each bucket
    seconds: float

    @property
    def perplexity(self) -> np.ndarray:
        return np.exp(self.nll)  # (M, B)


def heldout_ids(tokenizer, n_tokens: int) -> list[int]:
    """The first n_tokens of the held-out KJV chapters (never seen in training), as token ids, encoded as
    training saw its text (scripts/build_assets.py): each verse on its own, then end-of-text."""
    from core.pretraining.data import split_verses

    ids: list[int] = []
    for verse in split_verses()[1]:
        if len(ids) >= n_tokens:
            break
        ids.extend(tokenizer.encode(verse.text))
        ids.append(tokenizer.eos_token_id)
    return ids[:n_tokens]


def perplexity_by_position(model, ids: np.ndarray, methods=METHODS, factor: float = 4.0, trained_len: int = 128,
                           bucket: int = 32) -> PerplexityByPosition:
    """Per-position loss of the model on sequences ids (S, T), with RoPE rescaled by each method.

    Loss at position t is −log p(ids[t] | ids[:t]) for t = 1 .. T−1; buckets of `bucket` positions are
    averaged over all S sequences. Bounded: T ≤ MAX_EVAL_TOKENS, S ≤ MAX_EVAL_SEQUENCES.
    """
    import time

    import torch

    ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
    S, T = ids.shape
    if T > MAX_EVAL_TOKENS or S > MAX_EVAL_SEQUENCES or T < 2:
        raise ValueError(f"need 2 ≤ T ≤ {MAX_EVAL_TOKENS} and S ≤ {MAX_EVAL_SEQUENCES}, got {ids.shape}")
    start = time.perf_counter()
    batch = torch.tensor(ids)  # (S, T)
    starts = np.arange(1, T, bucket)  # buckets of target positions 1..T-1
    nll = np.zeros((len(methods), len(starts)))
    for m, method in enumerate(methods):
        scaled = with_rope(model, method, factor, trained_len)
        with torch.no_grad():
            logits = scaled(batch).logits  # (S, T, V)
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (S, T-1, V)
        token_nll = -logp.gather(-1, batch[:, 1:, None])[..., 0].mean(0).numpy()  # (T-1,) averaged over S
        nll[m] = [token_nll[s - 1: s - 1 + bucket].mean() for s in starts]
    return PerplexityByPosition(tuple(methods), factor, trained_len, T, S, bucket, starts, nll,
                                time.perf_counter() - start)


if __name__ == "__main__":
    D, base, s, L = 32, 10000.0, 4.0, 128
    for method in METHODS:
        inv, attn = scaled_inv_freq(method, D, base, s, L)
        print(f"{method:10} θ'/θ first {inv[0] / default_inv_freq(D, base)[0]:.3f}, "
              f"last {inv[-1] / default_inv_freq(D, base)[-1]:.3f}, attention factor {attn:.3f}")
    from core.models import load_causal_lm

    model, tokenizer = load_causal_lm("tiny-lm")
    ids = np.array(heldout_ids(tokenizer, 4 * 512)).reshape(4, 512)
    result = perplexity_by_position(model, ids, factor=4.0)
    for method, row in zip(result.methods, result.perplexity):
        print(f"{method:10} " + " ".join(f"{p:6.1f}" for p in row[::2]))
