"""A tiny CLIP: two encoders, one shared space, and zero-shot classification from it.

CLIP (Radford et al. 2021, https://arxiv.org/abs/2103.00020) trains two encoders side by side:
a Vision Transformer turns a picture into one vector, a text Transformer turns its caption into
one vector, both projected to the same E-dim space and L2-normalized. For a batch of B pairs,

    logits = exp(t) · I @ Tᵀ                      # (B, B): image i against caption j
    loss   = ½ [CE(logits, diag) + CE(logitsᵀ, diag)]   # symmetric InfoNCE, t learned

so each picture must pick its own caption out of the batch and each caption its own picture:
the diagonal of the similarity matrix. Zero-shot classification is then "which label prompt
('a photo of a red circle', ...) is most similar to this picture".

Shapes: B pictures, S image size, E the shared embedding size, T text tokens.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.multimodal.shapes import (
    COLOURS,
    HELDOUT_SEED,
    POSITIONS,
    SHAPES,
    Spec,
    caption,
    distinct_specs,
    draw_pictures,
    prompt,
    random_spec,
)
from core.multimodal.uploads import to_model_picture


# ---- images in: preprocessing --------------------------------------------------------------
@dataclass(frozen=True)
class ImagePrep:
    """What a picture goes through before the vision tower: resize to S×S, scale to [0, 1],
    subtract the mean and divide by the std of the training pictures (per channel)."""
    image_size: int = 32
    mean: tuple = (0.5, 0.5, 0.5)
    std: tuple = (0.5, 0.5, 0.5)

    @classmethod
    def fit(cls, pictures: np.ndarray) -> "ImagePrep":
        """Per-channel mean/std of uint8 pictures (B, S, S, 3)."""
        x = pictures.reshape(-1, 3) / 255.0
        return cls(pictures.shape[1], tuple(round(float(v), 4) for v in x.mean(0)),
                   tuple(round(float(v), 4) for v in x.std(0)))

    def processor_config(self) -> dict:
        """The same steps as a CLIPImageProcessor config (preprocessor_config.json), without the
        centre crop: our pictures have things on the left and right that a crop would cut off."""
        return {"image_processor_type": "CLIPImageProcessor", "do_resize": True,
                "size": {"height": self.image_size, "width": self.image_size}, "resample": 3,
                "do_center_crop": False, "do_rescale": True, "rescale_factor": 1 / 255,
                "do_normalize": True, "image_mean": list(self.mean), "image_std": list(self.std),
                "do_convert_rgb": True}

    @classmethod
    def load(cls, model_dir: str | Path) -> "ImagePrep":
        raw = json.loads((Path(model_dir) / "preprocessor_config.json").read_text())
        return cls(raw["size"]["height"], tuple(raw["image_mean"]), tuple(raw["image_std"]))


def preprocess(images, prep: ImagePrep) -> torch.Tensor:
    """Pictures -> pixel_values (B, 3, S, S) float32, normalized.

    `images`: a uint8 array (B, H, W, 3) or (H, W, 3), or a list of PIL images / uint8 arrays.
    Arrays that are already S×S (our generated pictures) go in as they are.
    """
    from PIL import Image

    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = images[None]
    S = prep.image_size
    pictures = np.stack([
        im if isinstance(im, np.ndarray) and im.shape == (S, S, 3)
        else to_model_picture(im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im, np.uint8)), S)
        for im in images
    ])  # (B, S, S, 3) uint8
    x = torch.from_numpy(pictures.astype(np.float32) / 255.0)
    x = (x - torch.tensor(prep.mean)) / torch.tensor(prep.std)  # per channel, broadcast over (B, S, S, 3)
    return x.permute(0, 3, 1, 2).contiguous()  # (B, 3, S, S)

# ---- text in: captions end in <|endoftext|>, which the text tower pools --------------------
def tokenize(tokenizer, texts: list[str], max_len: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    """Captions -> (input_ids (N, T), attention_mask (N, T)); each ends in eos, padded on the right.
    Over-long captions are cut to max_len - 1 tokens before the eos."""
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"][: max_len - 1] + [tokenizer.eos_token_id] for t in texts]
    T = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), T), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(r)] = torch.tensor(r)
        attention_mask[i, : len(r)] = 1
    return input_ids, attention_mask


@torch.no_grad()
def embed_images(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """pixel_values (B, 3, S, S) -> unit-length image embeddings (B, E)."""
    feats = model.get_image_features(pixel_values=pixel_values).pooler_output  # (B, E)
    return feats / feats.norm(dim=-1, keepdim=True)


@torch.no_grad()
def embed_texts(model, tokenizer, texts: list[str]) -> torch.Tensor:
    """Texts -> unit-length text embeddings (N, E)."""
    input_ids, attention_mask = tokenize(tokenizer, texts, model.config.text_config.max_position_embeddings)
    feats = model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output  # (N, E)
    return feats / feats.norm(dim=-1, keepdim=True)


def clip_logits(image_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(B, E), (N, E) unit vectors -> (B, N) logits = exp(t) · cosine similarity."""
    return logit_scale * image_embeds @ text_embeds.T  # (B, N)


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of a (B, B) logit matrix whose matches are on the diagonal."""
    target = torch.arange(len(logits))
    return 0.5 * (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target))


def untrained_clip(config, seed: int = 0):
    """A CLIP with the same architecture and freshly initialized (random) weights: the 'before'."""
    from transformers import CLIPModel

    with torch.random.fork_rng():  # seeded without disturbing anyone else's random stream
        torch.manual_seed(seed)
        return CLIPModel(config).eval()


# ---- the similarity matrix of a batch ------------------------------------------------------
@dataclass(frozen=True)
class SimilarityResult:
    pictures: np.ndarray  # (B, S, S, 3) uint8
    captions: list  # B captions, caption i belongs to picture i
    cosine: np.ndarray  # (B, B): picture i (row) against caption j (column)
    logit_scale: float  # exp(t)
    loss: float  # symmetric InfoNCE of exp(t)·cosine
    top1: float  # fraction of pictures whose most similar caption is their own


@torch.no_grad()
def similarity_batch(model, tokenizer, prep: ImagePrep, n: int = 8, seed: int = 0) -> SimilarityResult:
    """n pictures with all-different shape/colour/position and their captions, scored all against all."""
    specs = distinct_specs(n, seed)
    pictures = draw_pictures(specs, prep.image_size)
    captions = [caption(s) for s in specs]
    image_embeds = embed_images(model, preprocess(pictures, prep))
    text_embeds = embed_texts(model, tokenizer, captions)
    cosine = image_embeds @ text_embeds.T  # (B, B)
    scale = model.logit_scale.exp().item()
    loss = info_nce(scale * cosine).item()
    top1 = (cosine.argmax(dim=1) == torch.arange(n)).float().mean().item()
    return SimilarityResult(pictures, captions, cosine.numpy(), scale, loss, top1)


# ---- zero-shot classification --------------------------------------------------------------
LABEL_SETS = ("colour + shape", "colour + shape + position")


def label_set(name: str) -> list[tuple]:
    """The labels of a set: [(colour, shape, position or None), ...], 24 or 120 of them."""
    if name == LABEL_SETS[0]:
        return [(c, s, None) for c in COLOURS for s in SHAPES]
    if name == LABEL_SETS[1]:
        return [(c, s, p) for c in COLOURS for s in SHAPES for p in POSITIONS]
    raise ValueError(f"unknown label set {name!r}; choose from {LABEL_SETS}")


@dataclass(frozen=True)
class ZeroShotResult:
    labels: list  # (colour, shape, position or None) per prompt
    prompts: list  # 'a photo of a red circle', ...
    probs: np.ndarray  # (N,) softmax over the prompts
    marginals: dict  # {'colour': {'red': p, ...}, 'shape': {...}, 'position': {...}}: sums of probs


@torch.no_grad()
def zero_shot(model, tokenizer, prep: ImagePrep, picture, labels: str = LABEL_SETS[0]) -> ZeroShotResult:
    """One picture (uint8 array or PIL image) -> probabilities over the label prompts."""
    chosen = label_set(labels)
    prompts = [prompt(*lab) for lab in chosen]
    image_embeds = embed_images(model, preprocess([picture], prep))  # (1, E)
    logits = clip_logits(image_embeds, embed_texts(model, tokenizer, prompts), model.logit_scale.exp().item())[0]  # (N,)
    probs = logits.softmax(-1).numpy()
    marginals = {"colour": {}, "shape": {}, "position": {}}
    for (colour, shape, position), p in zip(chosen, probs):
        marginals["colour"][colour] = marginals["colour"].get(colour, 0.0) + float(p)
        marginals["shape"][shape] = marginals["shape"].get(shape, 0.0) + float(p)
        if position is not None:
            marginals["position"][position] = marginals["position"].get(position, 0.0) + float(p)
    return ZeroShotResult(chosen, prompts, probs, {k: v for k, v in marginals.items() if v})


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer, prep: ImagePrep, n: int = 500, first_seed: int = HELDOUT_SEED,
                       labels: str = LABEL_SETS[0], batch_size: int = 250) -> dict:
    """Accuracy of argmax over the label prompts on n held-out pictures (seeds never used in training)."""
    chosen = label_set(labels)
    text_embeds = embed_texts(model, tokenizer, [prompt(*lab) for lab in chosen])  # (L, E)
    specs = [random_spec(first_seed + i) for i in range(n)]
    hits = {"all": 0, "colour": 0, "shape": 0, "position": 0}
    for start in range(0, n, batch_size):
        chunk = specs[start : start + batch_size]
        image_embeds = embed_images(model, preprocess(draw_pictures(chunk, prep.image_size), prep))
        best = (image_embeds @ text_embeds.T).argmax(dim=1).tolist()  # (b,)
        for spec, b in zip(chunk, best):
            colour, shape, position = chosen[b]
            hits["colour"] += colour == spec.colour
            hits["shape"] += shape == spec.shape
            hits["position"] += position == spec.position
            hits["all"] += colour == spec.colour and shape == spec.shape and position in (None, spec.position)
    out = {"labels": labels, "n_labels": len(chosen), "n": n, "first_seed": first_seed,
           "accuracy": round(hits["all"] / n, 4), "colour_accuracy": round(hits["colour"] / n, 4),
           "shape_accuracy": round(hits["shape"] / n, 4)}
    if labels == LABEL_SETS[1]:
        out["position_accuracy"] = round(hits["position"] / n, 4)
    return out


if __name__ == "__main__":
    from core.models import load_clip, model_path

    model, tokenizer = load_clip()
    prep = ImagePrep.load(model_path("tiny-clip"))
    result = similarity_batch(model, tokenizer, prep, n=6, seed=0)
    print(f"logit scale exp(t) = {result.logit_scale:.1f}, batch loss {result.loss:.3f}, top-1 {result.top1:.2f}")
    for caption_text, row in zip(result.captions, result.cosine):
        print(f"{caption_text:38s} " + " ".join(f"{v:+.2f}" for v in row))
    spec = Spec("triangle", "purple", "top", seed=HELDOUT_SEED)
    zs = zero_shot(model, tokenizer, prep, draw_pictures([spec])[0])
    best = np.argsort(-zs.probs)[:3]
    print("zero-shot:", ", ".join(f"{zs.prompts[i]!r} {zs.probs[i]:.2f}" for i in best))
    print(zero_shot_accuracy(model, tokenizer, prep, n=300))
