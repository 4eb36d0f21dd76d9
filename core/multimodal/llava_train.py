"""Training the tiny LLaVA in LLaVA's two stages, and the asset build.

LLaVA (Liu et al. 2023, https://arxiv.org/abs/2304.08485, §4.2) trains in two stages:

1. **Feature alignment**: CLIP and the LLM frozen, only the projector learns, on image-caption pairs
   (595K from CC3M there; here captions of synthetic pictures, core.multimodal.shapes).
2. **Instruction tuning**: the projector and the LLM learn (here the LLM through a LoRA, Hu et al. 2021,
   https://arxiv.org/abs/2106.09685), on questions about the pictures.

In both, each example is [visual tokens; prompt; answer; end-of-text] and the loss is the next-token
cross-entropy **on the answer tokens only**: the visual tokens and the prompt get label -100.

Shapes: B examples, N patches, C_v vision width, C the LM's width, T text tokens.
"""
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.multimodal.llava import (
    TASKS,
    Projector,
    answer_text,
    evaluate,
    image_features,
    join,
    load_tiny_llava,
    prompt_text,
)
from core.multimodal.shapes import Spec, draw_pictures, random_spec
from core.pretraining.training import TrainConfig, lr_at

IGNORE = -100  # the label cross-entropy skips (Hugging Face's ignore_index)


@dataclass(frozen=True)
class LlavaTrainConfig:
    n_train: int = 6000  # training pictures: seeds 0 .. n_train - 1, all below shapes.HELDOUT_SEED
    stage1_steps: int = 80
    stage2_steps: int = 320
    batch_size: int = 32
    stage1_lr: float = 5e-3  # LLaVA used 2e-3 (stage 1) and 2e-5 (a full 13B LLM in stage 2); tiny models and a LoRA take more
    stage2_lr: float = 3e-3
    warmup: int = 15
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: tuple = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # every linear layer
    seed: int = 0
    eval_n: int = 300


# ---- examples: prompt and answer, the loss masked to the answer ------------------------------
def collate(tokenizer, specs: list[Spec], tasks: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The text part of B examples -> (text_ids (B, T), labels (B, T), attention_mask (B, T)), right-padded.
    labels copy the answer tokens and the end-of-text; the prompt and the padding get IGNORE."""
    rows = []
    for spec, task in zip(specs, tasks):
        prompt_ids = tokenizer(prompt_text(task), add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(" " + answer_text(spec, task), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids))
    T = max(len(ids) for ids, _ in rows)
    text_ids = torch.full((len(rows), T), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), T), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, (ids, lab) in enumerate(rows):
        text_ids[i, : len(ids)], labels[i, : len(ids)], attention_mask[i, : len(ids)] = (
            torch.tensor(ids), torch.tensor(lab), 1)
    return text_ids, labels, attention_mask


def llava_loss(lm, visual_tokens: torch.Tensor, text_ids: torch.Tensor, labels: torch.Tensor,
               attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the answer tokens of [visual tokens (B, N, C); text (B, T)]. The visual
    tokens get label IGNORE: nothing asks the LM to predict a picture."""
    B, N = visual_tokens.shape[:2]
    inputs_embeds = join(visual_tokens, text_ids, lm.get_input_embeddings())  # (B, N + T, C)
    full_labels = torch.cat([torch.full((B, N), IGNORE, dtype=torch.long), labels], dim=1)  # (B, N + T)
    full_mask = torch.cat([torch.ones((B, N), dtype=torch.long), attention_mask], dim=1)  # (B, N + T)
    return lm(inputs_embeds=inputs_embeds, attention_mask=full_mask, labels=full_labels).loss


def train_stage(projector: Projector, lm, tokenizer, features: torch.Tensor, specs: list[Spec], tasks: tuple[str, ...],
                params: list, steps: int, lr: float, cfg: LlavaTrainConfig, seed: int, on_step=None) -> list[float]:
    """One stage in place: each step B random pictures (their precomputed CLIP features (n, N, C_v)), a task
    drawn per picture, AdamW on `params` only. Returns the loss per step."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = TrainConfig(steps=steps, lr=lr, warmup=cfg.warmup)  # warm-up, then cosine to 10% (lr_at)
    projector.train()
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, schedule)
        idx = rng.choice(len(specs), size=cfg.batch_size, replace=False)
        batch_tasks = [tasks[int(t)] for t in rng.integers(len(tasks), size=cfg.batch_size)]
        text_ids, labels, attention_mask = collate(tokenizer, [specs[i] for i in idx], batch_tasks)
        loss = llava_loss(lm, projector(features[idx]), text_ids, labels, attention_mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(loss.item())
        if on_step:
            on_step(step, losses[-1])
    projector.eval()
    return losses


@torch.no_grad()
def all_features(vision_model, pictures: np.ndarray, prep, chunk: int = 500) -> torch.Tensor:
    """CLIP patch features of every training picture, once: the tower is frozen -> (n, N, C_v)."""
    from core.multimodal.clip import preprocess

    return torch.cat([image_features(vision_model, preprocess(pictures[i : i + chunk], prep))
                      for i in range(0, len(pictures), chunk)])


def lora_config(cfg: LlavaTrainConfig) -> dict:
    return {"r": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "target_modules": list(cfg.lora_targets),
            "lora_dropout": 0.0, "bias": "none"}


def build_tiny_llava(out_dir: str | Path, log=print, cfg: LlavaTrainConfig = LlavaTrainConfig()) -> dict:
    """Train the projector (stage 1), then projector + LoRA (stage 2), save only those (FP16 safetensors +
    config.json) to out_dir, re-load them as shipped and measure held-out accuracy. Returns the report."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save_file

    from core import models
    from core.multimodal.clip import ImagePrep

    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    clip_model, _ = models.load_clip("tiny-clip")
    lm, tokenizer = models.load_causal_lm("tiny-lm")  # a fresh copy: this build adapts it
    lm.requires_grad_(False)
    prep = ImagePrep.load(models.model_path("tiny-clip"))
    specs = [random_spec(seed) for seed in range(cfg.n_train)]
    features = all_features(clip_model.vision_model, draw_pictures(specs, prep.image_size), prep)  # (n, N, C_v)
    log(f"llava: {len(specs)} training pictures -> CLIP features {tuple(features.shape)} "
        f"({time.perf_counter() - start:.0f}s)")

    projector = Projector(features.shape[-1], lm.config.hidden_size)
    n_projector = sum(p.numel() for p in projector.parameters())
    t0 = time.perf_counter()

    def logger(stage, steps):
        def on_step(step, loss):
            if step % 25 == 0 or step == steps - 1:
                log(f"  llava {stage} step {step:4d} loss {loss:.3f} ({time.perf_counter() - t0:.0f}s)")
        return on_step

    log(f"llava stage 1: projector only ({n_projector:,} parameters), captions, {cfg.stage1_steps} steps")
    losses1 = train_stage(projector, lm, tokenizer, features, specs, ("caption",), list(projector.parameters()),
                          cfg.stage1_steps, cfg.stage1_lr, cfg, cfg.seed, logger("stage1", cfg.stage1_steps))
    stage1_seconds = time.perf_counter() - t0

    peft_lm = get_peft_model(lm, LoraConfig(**lora_config(cfg)))
    lora_params = [p for p in peft_lm.parameters() if p.requires_grad]
    n_lora = sum(p.numel() for p in lora_params)
    log(f"llava stage 2: projector + LoRA r={cfg.lora_r} ({n_lora:,} parameters), {len(TASKS)} tasks, "
        f"{cfg.stage2_steps} steps")
    t0 = time.perf_counter()
    losses2 = train_stage(projector, peft_lm, tokenizer, features, specs, TASKS, list(projector.parameters()) + lora_params,
                          cfg.stage2_steps, cfg.stage2_lr, cfg, cfg.seed + 1, logger("stage2", cfg.stage2_steps))
    stage2_seconds = time.perf_counter() - t0

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = {f"projector.{k}": v for k, v in projector.state_dict().items()}
    weights |= {f"lm.{k}": v for k, v in get_peft_model_state_dict(peft_lm).items()}
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in weights.items()}, out_dir / "adapter.safetensors")
    config = {"model_type": "tiny-llava", "vision_model": "tiny-clip", "language_model": "tiny-lm",
              "vision_feature_layer": -2, "vision_width": features.shape[-1], "lm_width": lm.config.hidden_size,
              "n_visual_tokens": features.shape[1], "projector": "mlp2x_gelu", "lora": lora_config(cfg),
              "prompts": {t: prompt_text(t) for t in TASKS}, "dtype_on_disk": "float16"}
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    shipped = load_tiny_llava(out_dir)  # the weights as shipped: FP16 on disk, LoRA merged
    t0 = time.perf_counter()
    scores = evaluate(shipped, n=cfg.eval_n)
    w, wo, maj = scores["with_image"], scores["without_image"], scores["majority"]
    log(f"llava: held-out ({scores['n']} pictures, {time.perf_counter() - t0:.0f}s) with picture / without / majority: "
        + ", ".join(f"{t} {w[t]:.2f}/{wo[t]:.2f}/{maj[t]:.2f}" for t in TASKS))
    return {
        "name": "tiny-llava", "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.__dict__.items()},
        "projector_parameters": n_projector, "lora_parameters": n_lora,
        "stage1_seconds": round(stage1_seconds, 1), "stage2_seconds": round(stage2_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1), "threads": torch.get_num_threads(),
        "stage1_final_loss": round(float(np.mean(losses1[-20:])), 4),
        "stage2_final_loss": round(float(np.mean(losses2[-20:])), 4),
        "heldout": scores,
        "size_bytes": sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()),
    }


if __name__ == "__main__":
    import sys

    from core.compute import set_threads

    set_threads()
    report = build_tiny_llava(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/tiny-llava"))
    print(json.dumps(report, indent=2))
