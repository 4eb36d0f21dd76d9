"""Multimodal: a tiny CLIP, images as patch tokens, zero-shot classification, and how LLaVA feeds
image features to a language model.

CLIP (Radford et al. 2021, https://arxiv.org/abs/2103.00020) trains two encoders side by side:
a Vision Transformer turns a picture into one vector, a text Transformer turns its caption into
one vector, both projected to the same E-dim space and L2-normalized. For a batch of B pairs,

    logits = exp(t) · I @ Tᵀ                      # (B, B): image i against caption j
    loss   = ½ [CE(logits, diag) + CE(logitsᵀ, diag)]   # symmetric InfoNCE, t learned

so each picture must pick its own caption out of the batch and each caption its own picture:
the diagonal of the similarity matrix. Zero-shot classification is then "which label prompt
('a photo of a red circle', ...) is most similar to this picture".

The Vision Transformer (Dosovitskiy et al. 2020, https://arxiv.org/abs/2010.11929) cuts an
S×S picture into (S/P)² patches of P×P pixels, flattens each to P·P·3 numbers and projects
it linearly (a Conv2d with stride P is exactly that) to a token: a picture is a sentence of
patches. LLaVA (Liu et al. 2023, https://arxiv.org/abs/2304.08485) projects those patch
features with a small learned matrix into the LLM's embedding space and puts them in front of
the text tokens.

Shapes: B pictures, S image size, P patch size, N = (S/P)² patches, C hidden size, E the
shared embedding size, T text tokens.
"""
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.shapes import (COLOURS, HELDOUT_SEED, POSITIONS, SHAPES, TEMPLATES, Spec, caption, distinct_specs,
                         draw_pictures, prompt, random_spec)

MAX_UPLOAD_BYTES = 5 * 2**20  # the same 5 MB as server.maxUploadSize in .streamlit/config.toml
MAX_UPLOAD_PIXELS = 40_000_000  # larger pictures are refused before they are decoded
UPLOAD_FORMATS = ("PNG", "JPEG")


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


def to_rgb(image):
    """A PIL image in any mode -> RGB; transparent pixels become white (our pictures' background)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    return image.convert("RGB")


def to_model_picture(image, size: int) -> np.ndarray:
    """A PIL image -> RGB, padded to a square with white (not cropped: a crop would cut off the
    shapes on the left and right), resized to size×size (bicubic, antialiased) -> (size, size, 3) uint8."""
    from PIL import Image

    image = to_rgb(image)
    w, h = image.size
    if w != h:
        square = Image.new("RGB", (max(w, h), max(w, h)), (255, 255, 255))
        square.paste(image, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
        image = square
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


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


def load_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
                max_side: int = 512):
    """Bytes of an uploaded file -> a PIL RGB image at most max_side on its longer side.

    Raises ValueError with a message for the user when the file is empty, too large, not a PNG or
    JPEG, has too many pixels (checked from the header, before decoding: no decompression bomb),
    or cannot be decoded."""
    import io

    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ValueError("The file is empty.")
    if len(data) > max_bytes:
        raise ValueError(f"The file is {len(data) / 2**20:.1f} MB; pictures up to {max_bytes / 2**20:.0f} MB are accepted.")
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as err:
        raise ValueError(f"This is not a PNG or JPEG picture that can be read ({type(err).__name__}).") from err
    if image.format not in UPLOAD_FORMATS:
        raise ValueError(f"This is a {image.format} file; upload a PNG or JPEG picture.")
    w, h = image.size
    if w * h > max_pixels:
        raise ValueError(f"The picture is {w:,}×{h:,} pixels; at most {max_pixels / 1e6:.0f} megapixels are accepted.")
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # let the JPEG decoder shrink by 2/4/8 while decoding
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"The picture is damaged and cannot be decoded ({err}).") from err
    image = to_rgb(image)
    image.thumbnail((max_side, max_side), Image.BICUBIC)
    return image


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


# ---- LLaVA: image features as tokens of a language model -----------------------------------
@dataclass(frozen=True)
class LlavaTrace:
    rows: list  # (step, shape, note) for each stage of the pipeline
    projector_params: int
    n_image_tokens: int
    n_text_tokens: int


@torch.no_grad()
def llava_plumbing(clip_model, pixel_values: torch.Tensor, lm, lm_tokenizer, text: str, seed: int = 0) -> LlavaTrace:
    """Run LLaVA's wiring on real tiny models: CLIP patch features (penultimate layer, CLS dropped)
    -> a linear projector (UNTRAINED here: random, seeded) -> LM embedding space, in front of the
    text's token embeddings -> one forward pass of the LM on the joined sequence. It shows the
    shapes and the plumbing; the answer would only mean something after training the projector."""
    vision = clip_model.vision_model(pixel_values=pixel_values, output_hidden_states=True)
    features = vision.hidden_states[-2][:, 1:, :]  # (1, N, C_v): LLaVA uses the penultimate layer's patches
    generator = torch.Generator().manual_seed(seed)
    C_v, C_lm = features.shape[-1], lm.config.hidden_size
    W = torch.randn(C_v, C_lm, generator=generator) / math.sqrt(C_v)
    image_tokens = features @ W  # (1, N, C_lm)
    text_ids = lm_tokenizer(text, return_tensors="pt")["input_ids"]  # (1, T)
    text_tokens = lm.get_input_embeddings()(text_ids)  # (1, T, C_lm)
    joined = torch.cat([image_tokens, text_tokens], dim=1)  # (1, N + T, C_lm)
    logits = lm(inputs_embeds=joined).logits  # (1, N + T, V)
    rows = [
        ("picture (pixel_values)", tuple(pixel_values.shape), "B, 3, S, S"),
        ("CLIP vision hidden states, penultimate layer", tuple(vision.hidden_states[-2].shape), "B, 1 + N, C_v (CLS + patches)"),
        ("patch features (CLS dropped)", tuple(features.shape), "B, N, C_v"),
        ("projector W (untrained here)", tuple(W.shape), "C_v, C_lm"),
        ("image tokens = features @ W", tuple(image_tokens.shape), "B, N, C_lm"),
        ("text token embeddings", tuple(text_tokens.shape), "B, T, C_lm"),
        ("joined sequence", tuple(joined.shape), "B, N + T, C_lm"),
        ("LM logits", tuple(logits.shape), "B, N + T, V"),
    ]
    return LlavaTrace(rows, C_v * C_lm, features.shape[1], text_ids.shape[1])


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
