"""BF16 autocast vs FP32 training throughput of the tiny LM, on the same batches, timed alternately.

Implemented here (core.pretraining.training has no mixed-precision switch): two deep copies of tiny-lm, each
with its own AdamW; one runs its forward pass under torch.autocast("cpu", dtype=torch.bfloat16).
On a CPU without native BF16 matrix units (AMX / AVX512-BF16), BF16 is emulated and often slower:
the ratio reports what this machine does, not what a GPU would.
"""
import copy
from pathlib import Path

import torch

from bench.common import Figure, alternate, median
from core.models import load_causal_lm
from core.pretraining.training import random_windows


def train_steps(model, optimizer, batches: list[torch.Tensor], bf16: bool) -> float:
    """Run one optimizer step per batch; returns the last loss."""
    model.train()
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return loss.item()


def bf16_flags() -> list[str]:
    """The CPU's native BF16 instruction sets, from /proc/cpuinfo (empty if none or unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in ("avx512_bf16", "amx_bf16") if f in flags]


def run(quick: bool = False) -> list[Figure]:
    from core.inference.quantization import encode_corpus

    base, _ = load_causal_lm("tiny-lm")
    steps, reps, batch_size, seq_len = (2, 3, 8, 128) if quick else (4, 5, 16, 128)
    ids = encode_corpus("tiny-lm", "heldout", 50_000)
    generator = torch.Generator().manual_seed(0)
    batches = [random_windows(ids, batch_size, seq_len, generator) for _ in range(steps)]
    fp32, bf16 = copy.deepcopy(base), copy.deepcopy(base)
    opt32 = torch.optim.AdamW(fp32.parameters(), lr=1e-4)
    opt16 = torch.optim.AdamW(bf16.parameters(), lr=1e-4)
    times = alternate({"fp32": lambda: train_steps(fp32, opt32, batches, False),
                       "bf16": lambda: train_steps(bf16, opt16, batches, True)}, reps)
    tokens = steps * batch_size * seq_len
    fp32_tps, bf16_tps = tokens / median(times["fp32"]), tokens / median(times["bf16"])
    ratio = bf16_tps / fp32_tps
    flags = bf16_flags()
    if ratio >= 1:
        note = ""
    elif flags:
        note = f"BF16 is slower here despite {', '.join(flags)}: autocast's casts outweigh the faster math on 192-wide matrices"
    else:
        note = "BF16 is slower here: this CPU has no native BF16 matrix instructions (avx512_bf16 / amx_bf16), so it is emulated"
    return [Figure("train_tokens_per_s_bf16_ratio", ratio, "x", reps,
                   f"tiny-lm training tokens/s, BF16 autocast / FP32 ({steps} AdamW steps of {batch_size}x{seq_len} tokens)",
                   note=note,
                   details={"fp32_tokens_per_s": round(fp32_tps, 1), "bf16_tokens_per_s": round(bf16_tps, 1),
                            "cpu_bf16_flags": flags, "fp32_seconds": times["fp32"], "bf16_seconds": times["bf16"]})]
