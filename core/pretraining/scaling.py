"""Scaling laws: how loss falls with model size N and training tokens D, and how to split a compute budget.

Training compute (Kaplan et al. 2020, https://arxiv.org/abs/2001.08361): a forward pass costs about 2
FLOPs per parameter per token and the backward pass twice that, so training costs

    C ≈ 6 · N · D  FLOPs.

(With tied embeddings, as in the tiny GPTs here, the table counts once and is used once, as the
lm_head matmul: the lookup at the input is free, so total N is the right count.)

Chinchilla (Hoffmann et al. 2022, https://arxiv.org/abs/2203.15556) fitted, over 400+ runs,

    L(N, D) = E + A / N^α + B / D^β,   E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28

(their Approach 3; loss in nats per token on their MassiveText data). Minimising L under
C = 6ND gives N_opt = G (C/6)^a and D_opt = G⁻¹ (C/6)^b with G = (αA / βB)^(1/(α+β)),
a = β/(α+β), b = α/(α+β). Their Approaches 1 and 2 give a ≈ b ≈ 0.5: parameters and tokens
should grow together, about 20 tokens per parameter (their Table 3), where earlier models such
as GPT-3 (175B parameters, 300B tokens) had under 2.

The measured sweep: the tiny GPTs of core.pretraining.live_training, each trained for a few
step counts on the bundled corpus, held-out loss against 6ND. Deterministic (seeded, step-capped,
not time-capped), run once by `python -m core.pretraining.scaling --sweep` and stored below.
"""
import math
import sys
from dataclasses import dataclass

import numpy as np

# ---- the Chinchilla law ------------------------------------------------------------------------------
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28  # Hoffmann et al. 2022, Approach 3 (their eq. 10)
TOKENS_PER_PARAMETER = 20  # the rule of thumb read off their Table 3 (Approach 1)
MIN_FLOPS, MAX_FLOPS = 1e12, 1e30
MAX_CURVE_POINTS = 200
MAX_BUDGETS = 8

# Their Table 3: compute-optimal (parameters, FLOPs, tokens) projected by Approach 1, as printed.
PAPER_TABLE_3 = (
    (400e6, 1.92e19, 8.0e9), (1e9, 1.21e20, 20.2e9), (10e9, 1.23e22, 205.1e9), (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12), (280e9, 9.90e24, 5.9e12), (520e9, 3.43e25, 11.0e12), (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
)


@dataclass(frozen=True)
class Published:
    name: str
    parameters: float  # N
    tokens: float  # D, training tokens
    source: str


PUBLISHED = (
    Published("GPT-3", 175e9, 300e9, "Brown et al. 2020 (arXiv 2005.14165), Table D.1"),
    Published("Gopher", 280e9, 300e9, "Rae et al. 2021 (arXiv 2112.11446)"),
    Published("Chinchilla", 70e9, 1.4e12, "Hoffmann et al. 2022 (arXiv 2203.15556)"),
    Published("LLaMA-65B", 65e9, 1.4e12, "Touvron et al. 2023 (arXiv 2302.13971)"),
    Published("Llama-2-7B", 7e9, 2.0e12, "Touvron et al. 2023 (arXiv 2307.09288)"),
)


def training_flops(parameters: float, tokens: float) -> float:
    """C = 6·N·D: (1e9 parameters, 20e9 tokens) -> 1.2e20 FLOPs."""
    return 6.0 * parameters * tokens


def chinchilla_loss(parameters, tokens):
    """L(N, D) = E + A/N^α + B/D^β (floats or arrays), in nats per token on Chinchilla's data."""
    return E + A / np.power(parameters, ALPHA) + B / np.power(tokens, BETA)


@dataclass(frozen=True)
class Allocation:
    flops: float  # C
    parameters: float  # N
    tokens: float  # D = C / 6N
    loss: float  # L(N, D) by the fitted law

    @property
    def tokens_per_parameter(self) -> float:
        return self.tokens / self.parameters


def _check_budget(flops: float) -> None:
    if not MIN_FLOPS <= flops <= MAX_FLOPS:
        raise ValueError(f"compute must be in {MIN_FLOPS:.0e}..{MAX_FLOPS:.0e} FLOPs, got {flops:.3g}")


def allocation(flops: float, parameters: float) -> Allocation:
    """Spend C on a model of N parameters: D = C / 6N tokens, and the loss the law predicts."""
    _check_budget(flops)
    tokens = flops / (6.0 * parameters)
    return Allocation(flops, parameters, tokens, float(chinchilla_loss(parameters, tokens)))


def compute_optimal(flops: float) -> Allocation:
    """The N (and D = C / 6N) that minimise L(N, D) at C = 6ND, in closed form (Hoffmann et al. eq. 4)."""
    _check_budget(flops)
    G = (ALPHA * A / (BETA * B)) ** (1.0 / (ALPHA + BETA))
    a = BETA / (ALPHA + BETA)
    return allocation(flops, G * (flops / 6.0) ** a)


def twenty_tokens_rule(flops: float) -> Allocation:
    """D = 20 N with 6ND = C: N = sqrt(C / 120). (5.76e23 FLOPs -> 69B parameters, 1.4T tokens.)"""
    _check_budget(flops)
    return allocation(flops, math.sqrt(flops / (6.0 * TOKENS_PER_PARAMETER)))


def isoflop_curve(flops: float, n_points: int = 60, span: float = 30.0) -> list[dict]:
    """L along one compute budget, N from N_opt/span to N_opt·span (log-spaced): rows {flops, parameters,
    tokens, loss}. The U shape: too small a model underfits, too large a one sees too few tokens."""
    if not 2 <= n_points <= MAX_CURVE_POINTS or not 1 < span <= 1000:
        raise ValueError(f"n_points in 2..{MAX_CURVE_POINTS}, span in (1, 1000]")
    best = compute_optimal(flops).parameters
    rows = []
    for n in np.geomspace(best / span, best * span, n_points):
        a = allocation(flops, float(n))
        rows.append({"flops": flops, "parameters": a.parameters, "tokens": a.tokens, "loss": a.loss})
    return rows


def isoflop_rows(budgets, n_points: int = 60) -> list[dict]:
    """isoflop_curve for a few budgets (at most MAX_BUDGETS), concatenated."""
    budgets = list(budgets)
    if not 1 <= len(budgets) <= MAX_BUDGETS:
        raise ValueError(f"1..{MAX_BUDGETS} budgets, got {len(budgets)}")
    return [row for c in budgets for row in isoflop_curve(c, n_points)]


def training_days(flops: float, n_gpus: int, peak_flops_per_s: float, utilisation: float) -> float:
    """Wall-clock days: C / (GPUs · peak FLOP/s · model FLOPs utilisation). (1e23, 1024, 312e12, 0.4) -> 9.1."""
    if n_gpus < 1 or peak_flops_per_s <= 0 or not 0 < utilisation <= 1:
        raise ValueError("need n_gpus >= 1, peak FLOP/s > 0 and utilisation in (0, 1]")
    return flops / (n_gpus * peak_flops_per_s * utilisation) / 86400.0


# ---- the measured sweep: tiny GPTs on the bundled corpus -----------------------------------------------
SWEEP_PRESETS = ("nano", "micro", "tiny-lm")
SWEEP_STEPS = (25, 50, 100, 200, 400)
SWEEP_BATCH, SWEEP_SEQ = 16, 64  # 1,024 tokens per step


@dataclass(frozen=True)
class ScalingPoint:
    model: str  # a live_training preset
    parameters: int  # N
    steps: int  # optimizer steps done
    tokens: int  # D = steps · B · T
    flops: float  # 6 N D
    heldout_loss: float  # nats per token, after training, on 32 held-out windows
    stopped_by: str  # 'steps' for a complete run; 'time' or 'user' when a live run was cut


def sweep_config(preset: str, steps: int, max_seconds: float):
    """The training settings of every sweep point (and of the live run added to it)."""
    from core.pretraining.live_training import LiveConfig

    return LiveConfig(preset=preset, lr=3e-3, schedule="warmup+cosine", warmup=max(1, steps // 10),
                      batch_size=SWEEP_BATCH, grad_accum=1, seq_len=SWEEP_SEQ, precision="fp32", steps=steps,
                      max_seconds=max_seconds, eval_every=steps, eval_windows=32, sample_tokens=0, seed=0)


def run_point(preset: str, steps: int, max_seconds: float = 60.0, on_progress=None,
              limit_seconds: float | None = None) -> ScalingPoint:
    """Train one sweep point (capped like any live run unless limit_seconds says otherwise)."""
    from core.pretraining.live_training import train_live

    if preset not in SWEEP_PRESETS or steps not in SWEEP_STEPS:
        raise ValueError(f"preset in {SWEEP_PRESETS}, steps in {SWEEP_STEPS}")
    result = train_live(sweep_config(preset, steps, max_seconds), on_progress, limit_seconds)
    tokens = len(result.losses) * SWEEP_BATCH * SWEEP_SEQ
    return ScalingPoint(preset, result.parameters, len(result.losses), tokens,
                        training_flops(result.parameters, tokens), result.checkpoints[-1].heldout_loss,
                        result.stopped_by)


# Measured by `python -m core.pretraining.scaling --sweep` (one thread; losses do not depend on speed).
SWEEP_MACHINE = "AMD EPYC (2 cores, shared), torch 2.13.0+cpu, 1 thread"
SWEEP_DATE = "2026-11-29"
MEASURED_SWEEP: tuple[ScalingPoint, ...] = (
    ScalingPoint('nano', 353088, 25, 25600, 5.42343e+10, 6.3015, 'steps'),
    ScalingPoint('nano', 353088, 50, 51200, 1.08469e+11, 5.9303, 'steps'),
    ScalingPoint('nano', 353088, 100, 102400, 2.16937e+11, 5.5435, 'steps'),
    ScalingPoint('nano', 353088, 200, 204800, 4.33875e+11, 5.0060, 'steps'),
    ScalingPoint('nano', 353088, 400, 409600, 8.67749e+11, 4.5061, 'steps'),
    ScalingPoint('micro', 1250432, 25, 25600, 1.92066e+11, 6.0058, 'steps'),
    ScalingPoint('micro', 1250432, 50, 51200, 3.84133e+11, 5.6359, 'steps'),
    ScalingPoint('micro', 1250432, 100, 102400, 7.68265e+11, 5.2110, 'steps'),
    ScalingPoint('micro', 1250432, 200, 204800, 1.53653e+12, 4.6938, 'steps'),
    ScalingPoint('micro', 1250432, 400, 409600, 3.07306e+12, 4.1910, 'steps'),
    ScalingPoint('tiny-lm', 3148224, 25, 25600, 4.83567e+11, 6.0903, 'steps'),
    ScalingPoint('tiny-lm', 3148224, 50, 51200, 9.67134e+11, 5.8523, 'steps'),
    ScalingPoint('tiny-lm', 3148224, 100, 102400, 1.93427e+12, 5.3126, 'steps'),
    ScalingPoint('tiny-lm', 3148224, 200, 204800, 3.86854e+12, 4.7485, 'steps'),
    ScalingPoint('tiny-lm', 3148224, 400, 409600, 7.73708e+12, 4.3526, 'steps'),
)


def measured_rows(points=None) -> list[dict]:
    """The sweep as rows {model, parameters, steps, tokens, flops, heldout_loss, stopped_by}."""
    return [p.__dict__ for p in (MEASURED_SWEEP if points is None else points)]


def _sweep() -> None:
    import torch

    torch.set_num_threads(1)
    points = []
    for preset in SWEEP_PRESETS:
        for steps in SWEEP_STEPS:
            point = run_point(preset, steps, max_seconds=3600.0, limit_seconds=3600.0)
            points.append(point)
            print(f"    ScalingPoint({point.model!r}, {point.parameters}, {point.steps}, {point.tokens}, "
                  f"{point.flops:.6g}, {point.heldout_loss:.4f}, {point.stopped_by!r}),", flush=True)


if __name__ == "__main__":
    if "--sweep" in sys.argv:
        _sweep()
        sys.exit()
    for c in (1e18, 1e21, 5.76e23, 1e25):
        opt, rule = compute_optimal(c), twenty_tokens_rule(c)
        print(f"C = {c:.2e}: law N = {opt.parameters:.3g}, D = {opt.tokens:.3g} ({opt.tokens_per_parameter:.1f} "
              f"tokens/param, L = {opt.loss:.3f}); 20-token rule N = {rule.parameters:.3g}, D = {rule.tokens:.3g}")
    for n, c, d in PAPER_TABLE_3:
        print(f"  Table 3: N = {n:.3g}, D = {d:.3g}: 6ND = {training_flops(n, d):.3g} (paper {c:.3g}), "
              f"{d / n:.1f} tokens/param")
    for m in PUBLISHED:
        print(f"  {m.name:12s} {m.tokens / m.parameters:6.1f} tokens/param, "
              f"C = {training_flops(m.parameters, m.tokens):.3g}, L = {chinchilla_loss(m.parameters, m.tokens):.3f}")
