"""A plain next-token training loop for causal LMs, used by the asset build and the Pretraining page.

The loss is cross-entropy between the model's logits at position t and the token at t+1
(Hugging Face shifts the labels inside the model when `labels=input_ids`).
"""
import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 3e-3
    warmup: int = 20
    weight_decay: float = 0.1
    seed: int = 0


def random_windows(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """Sample B windows of T tokens from one long 1-D token stream -> (B, T)."""
    starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,), generator=generator)
    return torch.stack([ids[s : s + seq_len] for s in starts.tolist()])  # (B, T)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_causal_lm(model, ids: torch.Tensor, cfg: TrainConfig, on_step=None) -> list[float]:
    """Train `model` in place on the token stream `ids`; returns the loss of each step.

    `on_step(step, loss)` is called after every step (progress bars, logging).
    """
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95),
    )
    model.train()
    losses = []
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = random_windows(ids, cfg.batch_size, cfg.seq_len, generator)  # (B, T)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if on_step:
            on_step(step, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def perplexity(model, ids: torch.Tensor, seq_len: int = 128, max_tokens: int | None = None, batch_size: int = 32) -> float:
    """exp(mean next-token cross-entropy) over non-overlapping windows of a token stream.

    Windows of seq_len + 1 tokens (inputs and shifted targets) are scored B at a time.
    """
    if max_tokens:
        ids = ids[:max_tokens]
    n_windows = (len(ids) - 1) // seq_len
    windows = ids[: n_windows * seq_len + 1].unfold(0, seq_len + 1, seq_len)  # (N, T + 1), sharing edges
    total_nll, total_tokens = 0.0, 0
    for start in range(0, n_windows, batch_size):
        batch = windows[start : start + batch_size]  # (B, T + 1)
        logits = model(input_ids=batch[:, :-1]).logits.float()  # (B, T, V)
        total_nll += torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), reduction="sum").item()
        total_tokens += batch[:, 1:].numel()
    tail = ids[n_windows * seq_len :]  # the last partial window, if any
    if len(tail) >= 2:
        logits = model(input_ids=tail[:-1].unsqueeze(0)).logits[0].float()  # (T', V)
        total_nll += torch.nn.functional.cross_entropy(logits, tail[1:], reduction="sum").item()
        total_tokens += len(tail) - 1
    return math.exp(total_nll / total_tokens)


def unigram_perplexity(train_ids: torch.Tensor, eval_ids: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of a unigram model (add-one smoothed token frequencies from training) on eval_ids."""
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    log_probs = torch.log(counts / counts.sum())
    return math.exp(-log_probs[eval_ids].mean().item())
