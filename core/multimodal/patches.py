"""Images as patch tokens: how a Vision Transformer reads a picture.

The Vision Transformer (Dosovitskiy et al. 2020, https://arxiv.org/abs/2010.11929) cuts an
S×S picture into (S/P)² patches of P×P pixels, flattens each to P·P·3 numbers and projects
it linearly (a Conv2d with stride P is exactly that) to a token: a picture is a sentence of
patches.

Shapes: S image size, P patch size, N = (S/P)² patches, C hidden size.
"""
import math

import numpy as np
import torch


# ---- images as patch tokens (ViT) ----------------------------------------------------------
def patchify(picture: np.ndarray, P: int) -> np.ndarray:
    """(H, W, C) -> (N, P, P, C) patches in raster order (row by row), N = (H/P)·(W/P)."""
    H, W, C = picture.shape
    if H % P or W % P:
        raise ValueError(f"patch size {P} does not divide the picture size {H}×{W}")
    grid = picture.reshape(H // P, P, W // P, P, C)  # (H/P, P, W/P, P, C)
    return grid.transpose(0, 2, 1, 3, 4).reshape(-1, P, P, C)  # (N, P, P, C)


def unpatchify(patches: np.ndarray, H: int, W: int) -> np.ndarray:
    """The inverse of patchify: (N, P, P, C) -> (H, W, C)."""
    N, P, _, C = patches.shape
    grid = patches.reshape(H // P, W // P, P, P, C)  # (H/P, W/P, P, P, C)
    return grid.transpose(0, 2, 1, 3, 4).reshape(H, W, C)


@torch.no_grad()
def patch_embeddings(model, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ViT's first step two ways: (Conv2d with stride P as the model runs it,
    flatten each patch and multiply by the same weights) -> both (B, N, C)."""
    conv = model.vision_model.embeddings.patch_embedding  # weight (C, 3, P, P), no bias
    P = conv.kernel_size[0]
    B, _, H, W = pixel_values.shape
    as_conv = conv(pixel_values).flatten(2).transpose(1, 2)  # (B, C, H/P, W/P) -> (B, N, C)
    patches = pixel_values.reshape(B, 3, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)  # (B, H/P, W/P, 3, P, P)
    flat = patches.reshape(B, -1, 3 * P * P)  # (B, N, 3·P·P): one row of numbers per patch
    as_linear = flat @ conv.weight.reshape(conv.out_channels, -1).T  # (B, N, C)
    return as_conv, as_linear


def grid_picture(picture: np.ndarray, P: int, scale: int = 4, line=(255, 255, 255)) -> np.ndarray:
    """Upscale a picture (nearest) and draw the patch grid on it -> (H·scale, W·scale, 3) uint8."""
    big = picture.repeat(scale, axis=0).repeat(scale, axis=1).copy()
    for k in range(0, picture.shape[0] + 1, P):
        big[max(0, k * scale - 1) : k * scale + 1, :] = line
    for k in range(0, picture.shape[1] + 1, P):
        big[:, max(0, k * scale - 1) : k * scale + 1] = line
    return big


def patch_sequence(patches: np.ndarray, per_row: int, scale: int = 2, gap: int = 2) -> np.ndarray:
    """Lay patches (N, P, P, 3) out in reading order as a strip of tokens with white gaps."""
    N, P = patches.shape[:2]
    rows, cell = math.ceil(N / per_row), P * scale + gap
    strip = np.full((rows * cell + gap, per_row * cell + gap, 3), 255, dtype=np.uint8)
    for i, patch in enumerate(patches):
        r, c = divmod(i, per_row)
        strip[gap + r * cell : gap + r * cell + P * scale, gap + c * cell : gap + c * cell + P * scale] = \
            patch.repeat(scale, axis=0).repeat(scale, axis=1)
    return strip


