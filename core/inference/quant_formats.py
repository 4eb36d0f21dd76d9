"""Number formats for weights: the grids a weight can land on (INT8, NF4, FP4, BF16) and rounding to them.

absmax INT8 scales each row by its largest |w| and rounds to 255 levels; the 4-bit formats scale each
block of 64 weights by its absmax and round to 16 levels: NF4's are quantiles of a normal distribution
(QLoRA, Dettmers et al. 2023, https://arxiv.org/abs/2305.14314), FP4's a tiny float. `fake_quantize`
rounds and returns FP32, which is how the per-layer error is measured in core.inference.quantization.
"""

import torch

BLOCKSIZE = 64  # bitsandbytes' 4-bit block: one absmax per 64 weights


# ---- the grids: what values a weight can take after quantization ---------------------------------
def int8_levels() -> torch.Tensor:
    """The 255 levels of symmetric absmax INT8 in units of the row's absmax: k / 127, k = -127..127."""
    return torch.arange(-127, 128, dtype=torch.float32) / 127


def nf4_levels(offset: float = 0.9677083) -> torch.Tensor:
    """The 16 NormalFloat-4 levels (QLoRA, section 3): quantiles of N(0, 1), rescaled to [-1, 1].

    8 positive levels at the quantiles linspace(offset, 0.5, 9)[:-1], 7 negative ones at
    linspace(offset, 0.5, 8)[:-1], and an exact 0: each level covers about the same share of a
    normal distribution, which is what trained weights look like.
    """
    positive = torch.special.ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -torch.special.ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values
    return (levels / levels.max()).float()


def fp4_levels() -> torch.Tensor:
    """bitsandbytes' FP4 levels (1 sign, 2 exponent, 1 mantissa bit) in units of the absmax.

    Magnitudes 0, 0.0625, 2, 3, 4, 6, 8, 12 divided by 12: log-spaced, so they are dense near 0 and
    sparse near the absmax (the table in bitsandbytes.functional.get_4bit_type('fp4')). 16 codes,
    15 distinct values: +0 and -0 are both codes.
    """
    magnitudes = torch.tensor([0.0, 0.0625, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]) / 12
    return torch.cat([-magnitudes.flip(0), magnitudes[1:]]).sort().values  # -0 and +0 are one value


FORMATS = ("BF16", "INT8", "NF4", "FP4")  # the weight formats simulated layer by layer


def absmax_int8(W: torch.Tensor) -> torch.Tensor:
    """Ŵ (O, I) of row-wise absmax INT8, as LLM.int8 stores weights: q = round(127·w / max|row|)."""
    absmax = W.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)  # (O, 1)
    return torch.round(W * 127 / absmax) * absmax / 127


def blockwise_4bit(W: torch.Tensor, levels: torch.Tensor, blocksize: int = BLOCKSIZE) -> torch.Tensor:
    """Ŵ (O, I): each block of `blocksize` consecutive weights (row-major) is divided by its absmax and
    rounded to the nearest of the 16 levels, as bitsandbytes' NF4 and FP4 do."""
    blocks = W.reshape(-1, blocksize)  # (O*I/64, 64)
    absmax = blocks.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)  # (n_blocks, 1)
    normalized = blocks / absmax  # in [-1, 1]
    midpoints = (levels[1:] + levels[:-1]) / 2  # (15,) decision boundaries between neighbouring levels
    nearest = torch.bucketize(normalized, midpoints)  # (n_blocks, 64): index of the nearest level
    return (levels[nearest] * absmax).reshape(W.shape)


def fake_quantize(W: torch.Tensor, fmt: str) -> torch.Tensor:
    """Ŵ: W rounded to format `fmt` (one of FORMATS) and back to FP32."""
    if fmt == "BF16":
        return W.to(torch.bfloat16).float()
    if fmt == "INT8":
        return absmax_int8(W)
    if fmt in ("NF4", "FP4"):
        return blockwise_4bit(W, nf4_levels() if fmt == "NF4" else fp4_levels())
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def normalized_weights(W: torch.Tensor, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(W divided by the absmax of its row or block, the format's levels on that scale), for plotting."""
    if fmt == "INT8":
        return (W / W.abs().amax(dim=1, keepdim=True)).flatten(), int8_levels()
    blocks = W.reshape(-1, BLOCKSIZE)
    levels = nf4_levels() if fmt == "NF4" else fp4_levels()
    return (blocks / blocks.abs().amax(dim=1, keepdim=True)).flatten(), levels


