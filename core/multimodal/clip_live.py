"""Training a tiny CLIP live: watch contrastive learning pull matching pictures and captions together.

A smaller cousin of the bundled tiny CLIP (core.multimodal.clip_training): one vision layer and one
text layer of width 32, so a hundred steps fit in well under a minute on two CPU cores. Each step
draws B (picture, caption) pairs, embeds both sides, and minimises the symmetric InfoNCE of

    logits = exp(t) · I @ Tᵀ     # (B, B), I and T unit-length (B, E) embeddings

with the temperature τ = 1/exp(t) either learned (CLIP: it starts at 0.07) or held fixed. At
checkpoints we record what the learner watches: the similarity matrix of one fixed held-out batch
(its diagonal sharpens), zero-shot accuracy over the 24 colour + shape prompts on held-out pictures,
and at the end a 2-D PCA map of held-out picture and caption embeddings.

`train_live(cfg, seed)` is a generator: it yields a `Progress` after every step and returns a
`LiveClipResult` (read it from StopIteration, or use `run`). Steps and seconds are capped in core,
whatever a widget or a link asks for. CLIP: Radford et al. 2021, https://arxiv.org/abs/2103.00020.
"""
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.multimodal.clip import (
    ImagePrep,
    info_nce,
    preprocess,
    similarity_batch,
    tokenize,
    zero_shot_accuracy,
)
from core.multimodal.clip_training import ClipTrainConfig, clip_config, lr_at
from core.multimodal.shapes import (
    HELDOUT_SEED,
    TEMPLATES,
    caption,
    draw_pictures,
    random_spec,
)

MAX_STEPS = 400
MAX_SECONDS = 60.0
MAX_BATCH = 128
MAX_TRAIN_PICTURES = 4000
MAX_EVAL = 400  # held-out pictures per zero-shot checkpoint
MAX_CHECKPOINTS = 8
SNAPSHOT_PAIRS = 8  # the fixed held-out batch whose similarity matrix is shown sharpening
MAP_PAIRS = 48  # held-out pictures (and their captions) in the PCA map
TEMPERATURE_RANGE = (0.01, 1.0)  # τ; exp(t) = 1/τ is capped at 100 as in CLIP


@dataclass(frozen=True)
class LiveClipConfig:
    batch_size: int = 64
    steps: int = 150
    lr: float = 3e-3
    temperature: float = 0.07  # τ at the start (learned) or throughout (fixed)
    learn_temperature: bool = True
    max_seconds: float = 45.0
    n_train: int = 2000
    eval_n: int = 200
    checkpoints: int = 6
    warmup: int = 10
    # the architecture: one layer each side, width 32 (the bundled tiny CLIP: 3 + 2 layers, width 64)
    hidden: int = 32
    layers: int = 1
    heads: int = 2


@dataclass(frozen=True)
class Progress:
    step: int  # steps done
    steps: int
    loss: float
    fraction: float
    message: str


@dataclass(frozen=True)
class ClipCheckpoint:
    step: int
    accuracy: float  # zero-shot over 24 colour + shape prompts on eval_n held-out pictures (chance 1/24)
    colour_accuracy: float
    shape_accuracy: float
    cosine: np.ndarray  # (SNAPSHOT_PAIRS, SNAPSHOT_PAIRS): the fixed held-out batch, picture i vs caption j
    batch_loss: float  # InfoNCE of that batch at the current exp(t)
    logit_scale: float  # exp(t)


@dataclass(frozen=True)
class LiveClipResult:
    config: LiveClipConfig
    seed: int
    n_params: int
    losses: list  # training loss per step
    scales: list  # exp(t) after each step
    checkpoints: list  # ClipCheckpoint at step 0, along the way and at the end
    snapshot_captions: list  # captions of the fixed held-out batch
    snapshot_pictures: np.ndarray  # (SNAPSHOT_PAIRS, S, S, 3) uint8
    map_coords: np.ndarray  # (2·MAP_PAIRS, 2): PCA of pictures then captions
    map_kinds: list  # 'picture' or 'caption', per row of map_coords
    map_labels: list  # 'red circle', ... per row
    map_explained: tuple  # fraction of variance along PC1, PC2
    stopped_by: str  # 'steps' or 'time'
    seconds: float  # the whole run, set-up, checkpoints and the final map included
    step_ms: float  # median time of one training step


def validate(cfg: LiveClipConfig) -> None:
    """Refuse work past the budget, whatever asked for it."""
    problems = []
    if not 1 <= cfg.steps <= MAX_STEPS or not 0 < cfg.max_seconds <= MAX_SECONDS:
        problems.append(f"steps in 1..{MAX_STEPS} and max_seconds in (0, {MAX_SECONDS:.0f}]")
    if not 2 <= cfg.batch_size <= min(MAX_BATCH, cfg.n_train) or not cfg.n_train <= MAX_TRAIN_PICTURES:
        problems.append(f"batch_size in 2..{MAX_BATCH}, n_train at most {MAX_TRAIN_PICTURES} and >= batch_size")
    if not 1 <= cfg.eval_n <= MAX_EVAL or not 1 <= cfg.checkpoints <= MAX_CHECKPOINTS:
        problems.append(f"eval_n in 1..{MAX_EVAL}, checkpoints in 1..{MAX_CHECKPOINTS}")
    if not TEMPERATURE_RANGE[0] <= cfg.temperature <= TEMPERATURE_RANGE[1] or not 0 < cfg.lr <= 0.1:
        problems.append(f"temperature in {TEMPERATURE_RANGE}, lr in (0, 0.1]")
    if not (1 <= cfg.layers <= 3 and 8 <= cfg.hidden <= 64 and cfg.hidden % cfg.heads == 0):
        problems.append("layers in 1..3, hidden in 8..64 and divisible by heads")
    if problems:
        raise ValueError("LiveClipConfig out of budget: " + "; ".join(problems))


def architecture(cfg: LiveClipConfig) -> ClipTrainConfig:
    """The bundled model's training config, shrunk: the same clip_config builds both."""
    return ClipTrainConfig(vision_hidden=cfg.hidden, vision_layers=cfg.layers, text_hidden=cfg.hidden,
                           text_layers=cfg.layers, heads=cfg.heads, projection_dim=cfg.hidden,
                           steps=cfg.steps, lr=cfg.lr, warmup=min(cfg.warmup, cfg.steps))


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Rows (N, E) -> (coordinates (N, 2) on the first two principal axes, their explained-variance fractions).

    Centre, then SVD: x_c = U S Vᵀ, and x_c V[:, :2] = U[:, :2] S[:2]. Each axis's sign is fixed so that
    its largest loading is positive (SVD's signs are arbitrary)."""
    centred = x - x.mean(axis=0, keepdims=True)  # (N, E)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)  # s (K,), vt (K, E)
    axes = vt[:2] * np.sign(vt[:2, [np.abs(vt[0]).argmax(), np.abs(vt[1]).argmax()]].diagonal())[:, None]  # (2, E)
    variance = s**2
    return centred @ axes.T, tuple(float(v) for v in variance[:2] / variance.sum())  # (N, 2)


def _features(model, input_ids, attention_mask, pixel_values) -> tuple[torch.Tensor, torch.Tensor]:
    """-> unit-length image (B, E) and text (B, E) embeddings, with gradients."""
    image = model.get_image_features(pixel_values=pixel_values).pooler_output  # (B, E)
    text = model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output  # (B, E)
    return image / image.norm(dim=-1, keepdim=True), text / text.norm(dim=-1, keepdim=True)


@torch.no_grad()
def _map(model, tokenizer, prep: ImagePrep, seed: int) -> tuple[np.ndarray, list, list, tuple]:
    from core.multimodal.clip import embed_images, embed_texts

    specs = [random_spec(HELDOUT_SEED + 500_000 + 1000 * seed + i) for i in range(MAP_PAIRS)]
    images = embed_images(model, preprocess(draw_pictures(specs, prep.image_size), prep))  # (N, E)
    texts = embed_texts(model, tokenizer, [caption(s, 3) for s in specs])  # (N, E): 'a red circle'
    coords, explained = pca_2d(torch.cat([images, texts]).numpy().astype(np.float64))  # (2N, 2)
    labels = [f"{s.colour} {s.shape}" for s in specs]
    return coords, ["picture"] * MAP_PAIRS + ["caption"] * MAP_PAIRS, labels + labels, explained


def train_live(cfg: LiveClipConfig = LiveClipConfig(), seed: int = 0, tokenizer=None):
    """Train a fresh tiny CLIP; yields a Progress after each step, returns a LiveClipResult.

    Stops at cfg.steps or after cfg.max_seconds of the whole run (set-up and checkpoints included, checked
    after every step), whichever comes first: the wait is bounded, not just the training.
    Seeded: the same cfg and seed give the same losses, checkpoints and map.
    """
    from transformers import AutoTokenizer, CLIPModel

    from core.models import model_path

    validate(cfg)
    start_all = time.perf_counter()
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_path("tiny-clip"))
    arch = architecture(cfg)
    specs = [random_spec(seed * MAX_TRAIN_PICTURES + i) for i in range(cfg.n_train)]  # all below HELDOUT_SEED
    pictures = draw_pictures(specs, arch.image_size)  # (n_train, S, S, 3)
    prep = ImagePrep.fit(pictures)
    pixels = preprocess(pictures, prep)  # (n_train, 3, S, S)
    with torch.random.fork_rng():  # seeded without disturbing anyone else's random stream
        torch.manual_seed(seed)
        model = CLIPModel(clip_config(tokenizer, arch))
    with torch.no_grad():
        model.logit_scale.fill_(math.log(1 / cfg.temperature))
    model.logit_scale.requires_grad_(cfg.learn_temperature)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in trainable if p.dim() >= 2 and "embedding" not in n], "weight_decay": 0.1},
         {"params": [p for n, p in trainable if p.dim() < 2 or "embedding" in n], "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.98))
    rng = np.random.default_rng(seed)
    every = max(1, -(-cfg.steps // cfg.checkpoints))
    losses, scales, step_times, checkpoints = [], [], [], []

    def checkpoint(step: int) -> None:
        model.eval()
        zs = zero_shot_accuracy(model, tokenizer, prep, n=cfg.eval_n, first_seed=HELDOUT_SEED)
        batch = similarity_batch(model, tokenizer, prep, n=SNAPSHOT_PAIRS, seed=seed)
        checkpoints.append(ClipCheckpoint(step, zs["accuracy"], zs["colour_accuracy"], zs["shape_accuracy"],
                                          batch.cosine, batch.loss, batch.logit_scale))
        model.train()

    checkpoint(0)
    model.train()
    stopped_by = "steps"
    for step in range(cfg.steps):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, arch)
        idx = rng.choice(cfg.n_train, size=cfg.batch_size, replace=False)
        texts = [caption(specs[i], int(rng.integers(len(TEMPLATES)))) for i in idx]
        input_ids, attention_mask = tokenize(tokenizer, texts, arch.max_text_len)  # (B, T) each
        image_embeds, text_embeds = _features(model, input_ids, attention_mask, pixels[idx])
        loss = info_nce(model.logit_scale.exp() * image_embeds @ text_embeds.T)  # logits (B, B)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():  # as in CLIP: logits at most 100× the cosine
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        scales.append(model.logit_scale.exp().item())
        step_times.append(time.perf_counter() - t0)
        done = step + 1
        if time.perf_counter() - start_all > cfg.max_seconds and done < cfg.steps:
            stopped_by = "time"
        if done % every == 0 or done == cfg.steps or stopped_by == "time":
            checkpoint(done)
        yield Progress(done, cfg.steps, losses[-1], done / cfg.steps,
                       f"step {done}/{cfg.steps}, loss {losses[-1]:.3f}, exp(t) {scales[-1]:.1f}")
        if stopped_by == "time":
            break
    model.eval()
    coords, kinds, labels, explained = _map(model, tokenizer, prep, seed)
    snapshot = similarity_batch(model, tokenizer, prep, n=SNAPSHOT_PAIRS, seed=seed)
    return LiveClipResult(cfg, seed, sum(p.numel() for p in model.parameters()), losses, scales, checkpoints,
                          snapshot.captions, snapshot.pictures, coords, kinds, labels, explained, stopped_by,
                          time.perf_counter() - start_all, 1000 * float(np.median(step_times)))


def run(cfg: LiveClipConfig = LiveClipConfig(), seed: int = 0, on_progress=None, tokenizer=None) -> LiveClipResult:
    """Drive train_live to the end: on_progress(Progress) after every step; returns its result."""
    steps = train_live(cfg, seed, tokenizer)
    while True:
        try:
            progress = next(steps)
        except StopIteration as done:
            return done.value
        if on_progress:
            on_progress(progress)


if __name__ == "__main__":
    cfg = replace(LiveClipConfig(), steps=100)
    result = run(cfg, 0, lambda p: p.step % 20 == 0 and print(p.message))
    for c in result.checkpoints:
        print(f"step {c.step:4d}: zero-shot {c.accuracy:.1%} (chance {1 / 24:.1%}), colour {c.colour_accuracy:.1%}, "
              f"shape {c.shape_accuracy:.1%}, held-out batch loss {c.batch_loss:.3f}, exp(t) {c.logit_scale:.1f}")
    print(f"{result.n_params:,} parameters, {len(result.losses)} steps ({result.stopped_by}), "
          f"{result.step_ms:.0f} ms/step, {result.seconds:.1f} s in all; PCA explains {result.map_explained}")
