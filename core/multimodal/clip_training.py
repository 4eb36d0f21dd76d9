"""Training the tiny CLIP: its config, the learning-rate schedule, the loop, and the asset build.

The loss is the symmetric InfoNCE of core.multimodal.clip on batches of synthetic pictures and their
captions (core.multimodal.shapes); scripts/build_assets.py calls `build_tiny_clip`.
"""
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.multimodal.clip import (
    LABEL_SETS,
    ImagePrep,
    preprocess,
    similarity_batch,
    tokenize,
    zero_shot_accuracy,
)
from core.multimodal.shapes import (
    TEMPLATES,
    Spec,
    caption,
    draw_pictures,
    random_spec,
)


# ---- configuration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipTrainConfig:
    image_size: int = 32
    patch_size: int = 8  # (32/8)² = 16 patch tokens (+1 CLS): cheap enough to train on a laptop CPU
    vision_hidden: int = 64
    vision_layers: int = 3
    text_hidden: int = 64
    text_layers: int = 2
    heads: int = 4
    projection_dim: int = 64
    max_text_len: int = 24
    n_train: int = 20_000
    steps: int = 800
    batch_size: int = 128
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.1
    seed: int = 0
    eval_n: int = 1000  # held-out pictures for the zero-shot accuracy in the report


def clip_config(tokenizer, cfg: ClipTrainConfig):
    """A tiny transformers CLIPConfig. The text tower pools the hidden state at the first
    `eos_token_id` (transformers' CLIPTextModel), so our captions end in `<|endoftext|>`."""
    from transformers import CLIPConfig

    text = dict(vocab_size=len(tokenizer), hidden_size=cfg.text_hidden, intermediate_size=4 * cfg.text_hidden,
                num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads,
                max_position_embeddings=cfg.max_text_len, hidden_act="gelu",
                eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                  num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.heads,
                  image_size=cfg.image_size, patch_size=cfg.patch_size, hidden_act="gelu")
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=cfg.projection_dim)


# ---- training and the asset build ----------------------------------------------------------
def lr_at(step: int, cfg: ClipTrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_clip(model, tokenizer, pictures: np.ndarray, specs: list[Spec], prep: ImagePrep,
               cfg: ClipTrainConfig, on_step=None) -> list[float]:
    """Contrastive training in place: each step, B random (picture, caption) pairs, a random caption
    template per pair, symmetric InfoNCE with the learned temperature. Returns the loss per step."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "embedding" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    pixels = preprocess(pictures, prep)  # (n_train, 3, S, S), normalized once
    model.train()
    losses = []
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        idx = rng.choice(len(specs), size=cfg.batch_size, replace=False)
        texts = [caption(specs[i], int(rng.integers(len(TEMPLATES)))) for i in idx]
        input_ids, attention_mask = tokenize(tokenizer, texts, cfg.max_text_len)
        out = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixels[idx], return_loss=True)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():  # as in CLIP: the temperature may not make logits more than 100× the cosine
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(out.loss.item())
        if on_step:
            on_step(step, losses[-1])
    model.eval()
    return losses


def build_tiny_clip(out_dir: str | Path, tokenizer_dir: str | Path, log=print, cfg: ClipTrainConfig = ClipTrainConfig()) -> dict:
    """Draw the training pictures, train the tiny CLIP, save it (FP16 safetensors + tokenizer +
    preprocessor_config.json) to out_dir, re-load it as shipped and measure zero-shot accuracy."""
    from transformers import AutoTokenizer, CLIPModel

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    specs = [random_spec(seed) for seed in range(cfg.n_train)]
    pictures = draw_pictures(specs, cfg.image_size)  # (n_train, S, S, 3)
    prep = ImagePrep.fit(pictures)
    log(f"clip: drew {len(specs)} training pictures in {time.perf_counter() - start:.0f}s; mean {prep.mean} std {prep.std}")

    torch.manual_seed(cfg.seed)
    model = CLIPModel(clip_config(tokenizer, cfg))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"clip: {n_params / 1e6:.2f}M parameters, {cfg.steps} steps of {cfg.batch_size} pairs")
    train_start = time.perf_counter()

    def on_step(step, loss):
        if step % 50 == 0 or step == cfg.steps - 1:
            log(f"  clip step {step:4d} loss {loss:.3f} scale {model.logit_scale.exp().item():5.1f} "
                f"({time.perf_counter() - train_start:.0f}s)")

    losses = train_clip(model, tokenizer, pictures, specs, prep, cfg, on_step)
    train_seconds = time.perf_counter() - train_start

    out_dir = Path(out_dir)
    model.to(torch.float16).save_pretrained(out_dir)  # FP16 on disk: half the bytes in the repo
    for config in (model.config, model.config.text_config, model.config.vision_config):
        config.dtype = torch.float32  # ...but `from_pretrained` (dtype="auto") loads it back as FP32
    model.config.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "preprocessor_config.json").write_text(json.dumps(prep.processor_config(), indent=2) + "\n")

    shipped = CLIPModel.from_pretrained(out_dir, dtype=torch.float32).eval()  # the weights as shipped
    zero_shot_24 = zero_shot_accuracy(shipped, tokenizer, prep, n=cfg.eval_n)
    zero_shot_120 = zero_shot_accuracy(shipped, tokenizer, prep, n=cfg.eval_n, labels=LABEL_SETS[1])
    batch = similarity_batch(shipped, tokenizer, prep, n=16, seed=0)
    log(f"clip: zero-shot colour+shape accuracy {zero_shot_24['accuracy']:.3f}, with position {zero_shot_120['accuracy']:.3f}")
    return {
        "name": "tiny-clip", "parameters": n_params,
        "vision_parameters": sum(p.numel() for p in shipped.vision_model.parameters()),
        "text_parameters": sum(p.numel() for p in shipped.text_model.parameters()),
        "config": {k: v for k, v in cfg.__dict__.items()},
        "image_prep": {"mean": prep.mean, "std": prep.std, "image_size": prep.image_size},
        "train_seconds": round(train_seconds, 1), "total_seconds": round(time.perf_counter() - start, 1),
        "threads": torch.get_num_threads(),
        "final_train_loss": round(float(np.mean(losses[-20:])), 4),
        "logit_scale": round(shipped.logit_scale.exp().item(), 3),
        "zero_shot": zero_shot_24, "zero_shot_with_position": zero_shot_120,
        "heldout_batch_16": {"top1": batch.top1, "loss": round(batch.loss, 4)},
        "size_bytes": sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()),
    }

