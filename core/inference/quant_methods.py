"""Post-training weight quantization of one matrix, three ways: RTN, GPTQ-style and AWQ-style.

All three store an nn.Linear weight W (O, I) (the layer computes y = x Wᵀ) as b-bit integers
with a scale and a zero point per group of `group_size` consecutive input columns of a row
(asymmetric min-max, as in the GPTQ and AWQ reference code). They differ in what they minimise:

- RTN (round to nearest) rounds every weight on its own: the smallest ‖W − Ŵ‖ for the grid,
  blind to the data the layer will see.
- GPTQ (Frantar et al. 2022, https://arxiv.org/abs/2210.17323) quantizes one column at a time and
  pushes each column's rounding error onto the columns not yet quantized, through the inverse of
  the layer Hessian H = 2XᵀX of calibration inputs X (N, I). It targets the OUTPUT error
  ‖XWᵀ − XŴᵀ‖, and may even make ‖W − Ŵ‖ larger than RTN does.
- AWQ (Lin et al. 2023, https://arxiv.org/abs/2306.00978) multiplies input channel j of W by s_j
  before rounding and divides the input by s_j (exact in full precision), with s = mean|X_j|^α and α
  searched on calibration data: weights that meet large activations get relatively finer steps.

Shapes: W (O, I) out x in; X (N, I) tokens x in; groups G = I / group_size.
"""
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class QuantConfig:
    bits: int = 4
    group_size: int = 0  # 0: one group per row (per-channel); else it must divide the row length I


def _groups(cfg: QuantConfig, in_features: int) -> int:
    """Group length along the input dimension: QuantConfig(4, 64) on I=192 -> 64; group_size 0 -> I."""
    g = cfg.group_size or in_features
    if in_features % g:
        raise ValueError(f"group size {g} does not divide the {in_features} input features")
    return g


def minmax_params(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, zero) of the asymmetric grid for each row of w (O, g) -> (O, 1), (O, 1).

    The range is stretched to include 0 (as GPTQ's reference quantizer does) so that 0 is exact.
    """
    maxq = 2**bits - 1
    lo = w.amin(dim=1, keepdim=True).clamp(max=0)
    hi = w.amax(dim=1, keepdim=True).clamp(min=0)
    flat = (hi - lo) == 0  # an all-zero group: any scale works
    scale = torch.where(flat, torch.ones_like(hi), (hi - lo) / maxq)
    zero = torch.round(-lo / scale)
    return scale, zero


def quantize(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    """Integer codes q = clamp(round(w / scale) + zero, 0, 2^bits - 1), same shape as w."""
    return torch.clamp(torch.round(w / scale) + zero, 0, 2**bits - 1)


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """Back to real numbers: ŵ = scale * (q - zero)."""
    return scale * (q - zero)


def rtn_codes(W: torch.Tensor, cfg: QuantConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(q, scale, zero) for round-to-nearest: q (O, I) integer codes, scale and zero (O, G, 1)."""
    O, I = W.shape
    g = _groups(cfg, I)
    grouped = W.reshape(O, I // g, g)  # (O, G, g)
    scale, zero = minmax_params(grouped.reshape(-1, g), cfg.bits)  # (O*G, 1)
    scale, zero = scale.reshape(O, I // g, 1), zero.reshape(O, I // g, 1)  # (O, G, 1)
    q = quantize(grouped, scale, zero, cfg.bits)  # (O, G, g)
    return q.reshape(O, I), scale, zero


def rtn(W: torch.Tensor, cfg: QuantConfig) -> torch.Tensor:
    """Round to nearest: Ŵ (O, I), each weight on its own group's grid."""
    O, I = W.shape
    g = _groups(cfg, I)
    q, scale, zero = rtn_codes(W, cfg)
    return dequantize(q.reshape(O, I // g, g), scale, zero).reshape(O, I)


def gptq(W: torch.Tensor, X: torch.Tensor, cfg: QuantConfig, damp: float = 0.01) -> torch.Tensor:
    """GPTQ: Ŵ (O, I) quantized column by column with error feedback through H⁻¹ (H = 2XᵀX).

    After quantizing column i, the optimal update of the remaining columns (Optimal Brain Surgeon)
    is W[:, i:] -= (w_i - ŵ_i) / U[i, i] * U[i, i:], where U is the upper Cholesky factor of H⁻¹.
    This is the paper's Algorithm 1 without the lazy block updates (a speed trick, same result).
    """
    W = W.detach().double().clone()  # float64: the Cholesky of a small damped H is then exact enough
    X = X.detach().double()
    O, I = W.shape
    g = _groups(cfg, I)
    H = 2 * X.T @ X / len(X)  # (I, I), scaled by 1/N so that damping is relative
    dead = torch.diag(H) == 0  # inputs that are always 0: their weights do not matter
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * torch.diag(H).mean() * torch.eye(I, dtype=H.dtype)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)  # (I, I)

    Q = torch.zeros_like(W)
    scale = zero = None
    for i in range(I):
        if i % g == 0:  # a new group: its grid comes from the weights as updated so far
            scale, zero = minmax_params(W[:, i : i + g], cfg.bits)  # (O, 1)
        w = W[:, i : i + 1]  # (O, 1)
        Q[:, i : i + 1] = dequantize(quantize(w, scale, zero, cfg.bits), scale, zero)
        err = (w - Q[:, i : i + 1]) / Hinv[i, i]  # (O, 1)
        W[:, i:] -= err @ Hinv[i : i + 1, i:]  # (O, I - i): spread the error over later columns
    return Q.float()


def awq_scales(X: torch.Tensor, alpha: float) -> torch.Tensor:
    """Per-input-channel scales s (I,) = mean|X_j|^α, normalised so that max(s)·min(s) = 1."""
    s = X.abs().mean(dim=0).clamp(min=1e-4).pow(alpha)  # (I,)
    return s / (s.max() * s.min()).sqrt()


def awq_apply(W: torch.Tensor, s: torch.Tensor, cfg: QuantConfig) -> torch.Tensor:
    """Ŵ (O, I) = RTN(W·diag(s))·diag(s)⁻¹: the layer computes (x / s) · RTN(W·s)ᵀ ≈ x Wᵀ."""
    return rtn(W * s, cfg) / s


@dataclass(frozen=True)
class AwqResult:
    W_hat: torch.Tensor  # (O, I)
    alpha: float  # the chosen exponent
    alphas: tuple  # the grid searched
    errors: tuple  # calibration output error for each alpha


def awq(W: torch.Tensor, X: torch.Tensor, cfg: QuantConfig, grid: int = 20) -> AwqResult:
    """AWQ: search α in [0, 1) on a grid for the scales that minimise ‖XWᵀ − XŴᵀ‖ on calibration X.

    α = 0 gives s = 1, i.e. plain RTN, so the search can never do worse than RTN on X.
    (The paper also searches a clipping ratio for each group; left out here to keep one idea.)
    """
    W, X = W.detach().float(), X.detach().float()
    target = X @ W.T  # (N, O)
    alphas = tuple(k / grid for k in range(grid))
    errors, best = [], None
    for alpha in alphas:
        W_hat = awq_apply(W, awq_scales(X, alpha), cfg)
        err = (target - X @ W_hat.T).pow(2).mean().item()
        errors.append(err)
        if best is None or err < best[0]:
            best = (err, alpha, W_hat)
    return AwqResult(best[2], best[1], alphas, tuple(errors))


def relative_error(A: torch.Tensor, B: torch.Tensor) -> float:
    """‖A − B‖_F / ‖A‖_F."""
    return ((A - B).norm() / A.norm().clamp(min=1e-12)).item()


@dataclass(frozen=True)
class MethodError:
    method: str  # "RTN" | "GPTQ" | "AWQ"
    bits: int
    group_size: int
    weight_error: float  # ‖W − Ŵ‖_F / ‖W‖_F
    calib_output_error: float  # ‖XWᵀ − XŴᵀ‖_F / ‖XWᵀ‖_F on the calibration inputs
    heldout_output_error: float  # the same on held-out inputs the methods never saw
    seconds: float
    detail: str = ""


def compare_methods(W: torch.Tensor, X_calib: torch.Tensor, X_eval: torch.Tensor,
                    cfg: QuantConfig) -> list[MethodError]:
    """RTN, GPTQ and AWQ on the same W (O, I) with calibration X_calib (N, I), scored on X_eval (M, I)."""
    import time

    W = W.detach().float()
    rows = []
    for method in ("RTN", "GPTQ", "AWQ"):
        start = time.perf_counter()
        detail = ""
        if method == "RTN":
            W_hat = rtn(W, cfg)
        elif method == "GPTQ":
            W_hat = gptq(W, X_calib, cfg)
        else:
            result = awq(W, X_calib, cfg)
            W_hat, detail = result.W_hat, f"α = {result.alpha:.2f}"
        seconds = time.perf_counter() - start
        rows.append(MethodError(method, cfg.bits, cfg.group_size, relative_error(W, W_hat),
                                relative_error(X_calib @ W.T, X_calib @ W_hat.T),
                                relative_error(X_eval @ W.T, X_eval @ W_hat.T), seconds, detail))
    return rows


if __name__ == "__main__":
    torch.manual_seed(0)
    mixing = torch.randn(64, 64) * torch.linspace(0.1, 3.0, 64)  # correlated inputs, uneven channel sizes
    X_calib, X_eval = torch.randn(512, 64) @ mixing, torch.randn(512, 64) @ mixing
    W = torch.randn(48, 64) * 0.05
    for bits in (8, 4, 3):
        for row in compare_methods(W, X_calib, X_eval, QuantConfig(bits, 16)):
            print(f"{row.method:4s} {bits} bits g16: weight err {row.weight_error:.4f}  "
                  f"calib out err {row.calib_output_error:.4f}  "
                  f"held-out out err {row.heldout_output_error:.4f} {row.detail}")
