"""The bounded training loop and the greedy decoder that every depth module of fine-tuning shares.

A page calls training from a button, on a 2-core server shared by a classroom, so every run here is
bounded three times: by its step count (clipped to MAX_STEPS whatever the caller asks), by a wall-clock
deadline (a run that reaches it keeps the steps it made and says `timed_out`; one button's work fits
in MAX_SECONDS), and by the caller, through `on_progress(fraction, message) -> bool`, which sees each
step and stops the run by returning False. Everything is seeded: the same settings give the same
losses (a run cut by its deadline has fewer of them).

Decoding is greedy and recomputes the whole sequence at every step, without a KV cache. It is
slower than `generate`, but for the 3M-parameter tiny LM and a few dozen tokens that costs
milliseconds, and it gives every method the same decoder: with peft 0.21.2 and transformers 5.24,
`generate` drops a prefix-tuning model's prefix (transformers ignores the deprecated
`past_key_values` once it has built its own `cache`) and gives prompt tuning a different answer
than its own forward pass does. Shapes: B batch, T tokens, V vocab.
"""
import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.finetuning.finetune import profile_allocations, tensor_bytes

MAX_STEPS = 60  # hard cap for one run: ~10 s on 2 cores for the tiny LM at batch 16
MAX_SECONDS = 60.0  # one button's work (a comparison of several runs included), wall clock


@dataclass(frozen=True)
class TrainTrace:
    losses: tuple  # training loss of each step taken
    step_ms: float  # median wall time of a step (the profiled first step excluded); nan if only one
    peak_bytes: int  # trainable model's weights + the highest allocation torch.profiler saw in step 1
    stopped_early: bool  # on_progress returned False (the caller asked to stop)
    timed_out: bool = False  # the deadline passed before the last step: the run kept the steps it made


def sample_batch(input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor, batch_size: int,
                 generator: torch.Generator) -> tuple:
    """A seeded random batch of right-padded rows, trimmed to its longest row: three (B, T) tensors."""
    idx = torch.randint(0, len(input_ids), (batch_size,), generator=generator)  # (B,)
    longest = int(attention_mask[idx].sum(1).max())
    return input_ids[idx, :longest], labels[idx, :longest], attention_mask[idx, :longest]


def deadline_after(seconds: float | None) -> float | None:
    """A deadline on time.perf_counter()'s clock, `seconds` from now: deadline_after(None) -> None (no limit)."""
    return None if seconds is None else time.perf_counter() + max(0.0, seconds)


def train_bounded(model, batch_loss, steps: int, lr: float, seed: int, on_progress=None, label: str = "",
                  weight_decay: float = 0.0, deadline: float | None = None) -> TrainTrace:
    """AdamW on `model`'s trainable parameters for min(steps, MAX_STEPS) steps; the model ends in eval mode.

    batch_loss(generator) -> scalar loss tensor: draws its own batch from the seeded generator.
    on_progress(fraction, message) -> bool: called after each step; False stops the run.
    deadline: a time.perf_counter() value (deadline_after); past it the run ends after the current step,
    having made at least two (step 1 is profiled, so the step time is the median of steps 2…N).
    Step 1 runs under the memory profiler (core.finetuning.finetune.profile_allocations).
    """
    steps = max(1, min(int(steps), MAX_STEPS))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks

    def one_step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss(generator)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item()

    model.train()
    losses, times, peak, stopped, timed_out = [], [], 0, False, False
    try:
        for step in range(steps):
            if step == 0:
                loss, step_peak, _, _ = profile_allocations(one_step)
                peak = tensor_bytes(model.parameters()) + step_peak
            else:
                start = time.perf_counter()
                loss = one_step()
                times.append((time.perf_counter() - start) * 1e3)
            losses.append(loss)
            if on_progress is not None and on_progress((step + 1) / steps,
                                                       f"{label} step {step + 1}/{steps}: loss {loss:.3f}") is False:
                stopped = True
                break
            if deadline is not None and step >= 1 and step + 1 < steps and time.perf_counter() > deadline:
                timed_out = True
                break
    finally:
        model.eval()
    return TrainTrace(losses=tuple(losses), step_ms=float(np.median(times)) if times else float("nan"),
                      peak_bytes=int(peak), stopped_early=stopped, timed_out=timed_out)


@torch.no_grad()
def greedy_ids(model, prompt_ids: list, eos_id: int, max_new_tokens: int = 16) -> list:
    """Greedy continuation of prompt_ids without a KV cache: [12, 7] -> [31, 5, eos_id] (eos kept if reached)."""
    ids, new = list(prompt_ids), []
    for _ in range(max_new_tokens):
        input_ids = torch.tensor([ids + new])  # (1, T)
        logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits  # (1, T', V)
        next_id = int(logits[0, -1].argmax())
        new.append(next_id)
        if next_id == eos_id:
            break
    return new


def decode_answer(tokenizer, new_ids: list) -> str:
    """Generated ids -> text, with ' [end]' when the model stopped itself and ' …' when it was cut off."""
    eos = tokenizer.eos_token_id
    if eos in new_ids:
        return tokenizer.decode(new_ids[: new_ids.index(eos)]) + " [end]"
    return tokenizer.decode(new_ids) + " …"


if __name__ == "__main__":
    from core.finetuning.finetune import encode_pairs, load_task
    from core.models import load_causal_lm

    base, tok = load_causal_lm("tiny-lm")
    model = copy.deepcopy(base)
    input_ids, labels = encode_pairs(tok, load_task()[0])
    attention_mask = (labels != -100).long()

    def qa_loss(generator):
        ids, lab, mask = sample_batch(input_ids, labels, attention_mask, 8, generator)
        return model(input_ids=ids, attention_mask=mask, labels=lab).loss

    def stop_after_three(fraction: float, message: str) -> bool:
        print(f"  {fraction:4.0%} {message}")
        return fraction < 0.3

    trace = train_bounded(model, qa_loss, steps=10, lr=1e-3, seed=0, on_progress=stop_after_three, label="full")
    print(f"stopped early: {trace.stopped_early}; {len(trace.losses)} steps, peak {trace.peak_bytes / 2**20:.1f} MB")
    prompt = [tok.eos_token_id] + tok.encode("Question: Who built the ark?\nAnswer:")
    print("greedy answer:", decode_answer(tok, greedy_ids(model, prompt, tok.eos_token_id, 12)))
