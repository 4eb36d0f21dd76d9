"""LLaVA at toy scale: CLIP's patch features, projected into a language model's embedding space, as tokens.

LLaVA (Liu et al. 2023, https://arxiv.org/abs/2304.08485) takes the patch features of a frozen CLIP vision
tower (the layer before the last, CLS dropped), maps them with a small learned projector into the LLM's
word-embedding space and puts these *visual tokens* in front of the text tokens:

    Z_v = CLIP_{layer -2}(X_v)          # (B, N, C_v)  patch features, frozen
    H_v = projector(Z_v)                # (B, N, C)    visual tokens; LLaVA-1.5: a 2-layer MLP
    x   = [H_v ; embed(question)]       # (B, N + T, C) what the LM reads
    answer = LM.generate(x)             # greedy, one token at a time

Here the CLIP is the bundled tiny-clip (32×32 pictures, P = 8: N = 16 patches of C_v = 64) and the LM is
tiny-lm (C = 192, trained only on the King James Bible). core.multimodal.llava_train trains the projector
and a LoRA on the LM in LLaVA's two stages; assets/models/tiny-llava/ holds only what training added.

Shapes: B pictures, N patches, C_v vision width, C the LM's width, T text tokens, V vocab.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.multimodal.shapes import (
    COLOURS,
    HELDOUT_SEED,
    POSITION_PHRASES,
    SHAPES,
    Spec,
    caption,
    draw_pictures,
    random_spec,
)

# The instructions, one per task; the answer is a fixed phrase of the picture's attributes.
PROMPTS = {"caption": "Describe the picture.", "colour": "What colour is the shape?",
           "shape": "What shape is it?", "position": "Where is it?"}
TASKS = tuple(PROMPTS)
MAX_NEW_TOKENS = 16  # the longest answer ("an orange triangle at the bottom") is 12 tokens + end-of-text
MAX_EVAL_PICTURES = 300  # evaluation budget: 300 pictures × 4 tasks × 2 runs is a few seconds on one core
EVAL_FIRST_SEED = HELDOUT_SEED + 500_000  # held-out pictures: training uses seeds below HELDOUT_SEED


def prompt_text(task: str) -> str:
    """The text after the visual tokens: prompt_text('shape') -> ' What shape is it?'."""
    return f" {PROMPTS[task]}"


def answer_text(spec: Spec, task: str) -> str:
    """The target answer: answer_text(Spec('circle', 'red', 'left'), 'position') -> 'on the left'."""
    return {"caption": caption(spec, 0), "colour": spec.colour, "shape": spec.shape,
            "position": POSITION_PHRASES[spec.position]}[task]


# ---- the model: projector + frozen CLIP tower + (adapted) LM ---------------------------------
class Projector(nn.Module):
    """LLaVA-1.5's projector, a 2-layer MLP: patch features (B, N, C_v) -> visual tokens (B, N, C)."""

    def __init__(self, vision_width: int, lm_width: int):
        super().__init__()
        self.fc1 = nn.Linear(vision_width, lm_width)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(lm_width, lm_width)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(features)))  # (B, N, C)


@torch.no_grad()
def image_features(vision_model, pixel_values: torch.Tensor) -> torch.Tensor:
    """pixel_values (B, 3, S, S) -> patch features (B, N, C_v) from the penultimate layer, CLS dropped."""
    hidden = vision_model(pixel_values=pixel_values, output_hidden_states=True).hidden_states
    return hidden[-2][:, 1:, :]  # (B, N, C_v): LLaVA found the layer before the last keeps more local detail


def join(visual_tokens: torch.Tensor | None, text_ids: torch.Tensor, embed: nn.Embedding) -> torch.Tensor:
    """[visual tokens; embedded text] -> inputs_embeds (B, N + T, C); no visual tokens gives (B, T, C)."""
    text_tokens = embed(text_ids)  # (B, T, C)
    if visual_tokens is None:
        return text_tokens
    return torch.cat([visual_tokens.to(text_tokens.dtype), text_tokens], dim=1)  # (B, N + T, C)


@dataclass
class TinyLlava:
    """The pieces, loaded: CLIP's vision tower (frozen), the projector, the LM with its LoRA merged in."""
    vision: nn.Module
    projector: Projector
    lm: nn.Module
    tokenizer: object
    prep: object  # core.multimodal.clip.ImagePrep
    config: dict

    def visual_tokens(self, pictures) -> torch.Tensor:
        """uint8 pictures (B, S, S, 3) or one (S, S, 3) -> visual tokens (B, N, C)."""
        from core.multimodal.clip import preprocess

        return self.projector(image_features(self.vision, preprocess(pictures, self.prep)))


@torch.no_grad()
def greedy_generate(lm, inputs_embeds: torch.Tensor, eos_id: int, max_new_tokens: int = MAX_NEW_TOKENS) -> list[list[int]]:
    """Greedy decoding from embeddings (B, T0, C) with a KV cache -> B lists of new token ids, each cut at eos.
    All rows share one prompt length (same task), so no padding is needed."""
    out = lm(inputs_embeds=inputs_embeds, use_cache=True)
    next_ids = out.logits[:, -1].argmax(-1)  # (B,)
    generated = [next_ids]
    for _ in range(min(max_new_tokens, MAX_NEW_TOKENS) - 1):
        if bool((torch.stack(generated, 1) == eos_id).any(1).all()):
            break
        out = lm(input_ids=next_ids[:, None], cache=out.cache, use_cache=True)  # one new token, the KV cache the rest
        next_ids = out.logits[:, -1].argmax(-1)
        generated.append(next_ids)
    rows = torch.stack(generated, 1).tolist()  # (B, new)
    return [r[: r.index(eos_id)] if eos_id in r else r for r in rows]


@torch.no_grad()
def answer(model: TinyLlava, pictures, task: str, with_image: bool = True) -> list[str]:
    """Greedy answers to one task for B pictures (uint8 (B, S, S, 3)); with_image=False drops the visual
    tokens, so the LM sees the question alone (the blind baseline)."""
    pictures = np.asarray(pictures)
    pictures = pictures[None] if pictures.ndim == 3 else pictures
    B = len(pictures)
    text_ids = model.tokenizer(prompt_text(task), return_tensors="pt", add_special_tokens=False)["input_ids"]
    text_ids = text_ids.expand(B, -1)  # (B, T)
    visual = model.visual_tokens(pictures) if with_image else None  # (B, N, C)
    inputs_embeds = join(visual, text_ids, model.lm.get_input_embeddings())
    new_ids = greedy_generate(model.lm, inputs_embeds, model.tokenizer.eos_token_id)
    return [model.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in new_ids]


def parse_caption(text: str) -> dict:
    """The attributes a caption names, None where it names none or several:
    parse_caption('a red circle on the left') -> {'colour': 'red', 'shape': 'circle', 'position': 'left'}."""
    words = set(text.lower().replace(".", " ").split())

    def one(found):
        return found[0] if len(found) == 1 else None

    return {"colour": one([c for c in COLOURS if c in words]), "shape": one([s for s in SHAPES if s in words]),
            "position": one([p for p, phrase in POSITION_PHRASES.items() if phrase in text.lower()])}


def heldout_specs(n: int, seed: int = 0) -> list[Spec]:
    """n held-out pictures (seeds far above every training seed), attributes drawn from the seed."""
    n = min(n, MAX_EVAL_PICTURES)
    return [random_spec(EVAL_FIRST_SEED + seed * MAX_EVAL_PICTURES + i) for i in range(n)]


def majority_baseline(specs: list[Spec]) -> dict:
    """The best an image-blind answerer can do: always give the most common answer of this very set (an
    optimistic bound, since it peeks at the answers' counts)."""
    result = {}
    for task in ("colour", "shape", "position"):
        answers = [answer_text(s, task) for s in specs]
        result[task] = round(max(answers.count(a) for a in set(answers)) / len(specs), 4)
    captions = [answer_text(s, "caption") for s in specs]
    result["caption"] = round(max(captions.count(c) for c in set(captions)) / len(specs), 4)
    return result


@torch.no_grad()
def evaluate(model: TinyLlava, n: int = 100, seed: int = 0) -> dict:
    """Accuracy on n ≤ MAX_EVAL_PICTURES held-out pictures, with the picture and without (visual tokens
    dropped), next to the majority answer. Caption: exact match, and each attribute parsed from it."""
    specs = heldout_specs(n, seed)
    pictures = draw_pictures(specs, model.prep.image_size)
    result = {"n": len(specs), "first_seed": specs[0].seed, "majority": majority_baseline(specs)}
    for mode, with_image in (("with_image", True), ("without_image", False)):
        scores = {}
        for task in TASKS:
            answers = answer(model, pictures, task, with_image)
            truths = [answer_text(s, task) for s in specs]
            scores[task] = float(np.mean([a == t for a, t in zip(answers, truths)]))
            if task == "caption":
                parsed = [parse_caption(a) for a in answers]
                for attr in ("colour", "shape", "position"):
                    scores[f"caption_{attr}"] = float(np.mean([p[attr] == getattr(s, attr) for p, s in zip(parsed, specs)]))
        result[mode] = {k: round(v, 4) for k, v in scores.items()}
    return result


# ---- the trace: every stage's shape, and what the visual tokens are closest to ------------------------
@dataclass(frozen=True)
class LlavaTrace:
    rows: list  # (step, shape, note) for each stage of the pipeline
    projector_params: int
    n_image_tokens: int
    n_text_tokens: int
    nearest: tuple = ()  # per visual token: (patch row, patch col, norm, nearest vocabulary token, its cosine)
    text_norm: float = 0.0  # mean norm of the LM's own token embeddings, to compare with the visual tokens'
    answer: str = ""


@torch.no_grad()
def llava_plumbing(clip_model, pixel_values: torch.Tensor, lm, lm_tokenizer, text: str, seed: int = 0) -> LlavaTrace:
    """The same wiring with an UNTRAINED projector (a random linear map, seeded): the shapes of every stage
    before any training, the starting point of stage 1."""
    features = image_features(clip_model.vision_model, pixel_values)  # (1, N, C_v)
    generator = torch.Generator().manual_seed(seed)
    C_v, C = features.shape[-1], lm.config.hidden_size
    W = torch.randn(C_v, C, generator=generator) / math.sqrt(C_v)
    image_tokens = features @ W  # (1, N, C)
    text_ids = lm_tokenizer(text, return_tensors="pt")["input_ids"]  # (1, T)
    joined = join(image_tokens, text_ids, lm.get_input_embeddings())  # (1, N + T, C)
    logits = lm(inputs_embeds=joined).logits  # (1, N + T, V)
    rows = [
        ("picture (pixel_values)", tuple(pixel_values.shape), "B, 3, S, S"),
        ("patch features (CLS dropped)", tuple(features.shape), "B, N, C_v"),
        ("projector W (untrained here)", tuple(W.shape), "C_v, C_lm"),
        ("image tokens = features @ W", tuple(image_tokens.shape), "B, N, C_lm"),
        ("joined sequence", tuple(joined.shape), "B, N + T, C_lm"),
        ("LM logits", tuple(logits.shape), "B, N + T, V"),
    ]
    return LlavaTrace(rows, C_v * C, features.shape[1], text_ids.shape[1])


@torch.no_grad()
def llava_trace(model: TinyLlava, picture: np.ndarray, task: str = "caption") -> LlavaTrace:
    """Run the trained tiny LLaVA on one picture (S, S, 3) for one task: the shape at every stage, each
    visual token's nearest word in the LM's vocabulary (cosine similarity to the embedding matrix), and the
    greedy answer."""
    from core.multimodal.clip import preprocess

    pixel_values = preprocess(picture, model.prep)  # (1, 3, S, S)
    hidden = model.vision(pixel_values=pixel_values, output_hidden_states=True).hidden_states
    features = hidden[-2][:, 1:, :]  # (1, N, C_v)
    visual = model.projector(features)  # (1, N, C)
    text_ids = model.tokenizer(prompt_text(task), return_tensors="pt", add_special_tokens=False)["input_ids"]  # (1, T)
    embed = model.lm.get_input_embeddings()
    joined = join(visual, text_ids, embed)  # (1, N + T, C)
    logits = model.lm(inputs_embeds=joined).logits  # (1, N + T, V)
    vocab = embed.weight  # (V, C)
    cosine = nn.functional.normalize(visual[0], dim=-1) @ nn.functional.normalize(vocab, dim=-1).T  # (N, V)
    best = cosine.max(-1)
    side = round(features.shape[1] ** 0.5)
    nearest = tuple((i // side, i % side, round(float(visual[0, i].norm()), 2),
                model.tokenizer.convert_ids_to_tokens(int(best.indices[i])).replace("Ġ", "␣"),
                round(float(best.values[i]), 3)) for i in range(features.shape[1]))
    n_proj = sum(p.numel() for p in model.projector.parameters())
    C_v, C = features.shape[-1], visual.shape[-1]
    rows = [
        ("picture (pixel_values)", tuple(pixel_values.shape), "B, 3, S, S"),
        ("CLIP vision hidden states, penultimate layer", tuple(hidden[-2].shape), "B, 1 + N, C_v (CLS + patches)"),
        ("patch features Z_v (CLS dropped)", tuple(features.shape), "B, N, C_v"),
        (f"projector: Linear({C_v}, {C}) → GELU → Linear({C}, {C})", (n_proj,), "trained parameters"),
        ("visual tokens H_v = projector(Z_v)", tuple(visual.shape), "B, N, C"),
        ("text token embeddings", tuple(embed(text_ids).shape), "B, T, C"),
        ("joined sequence [H_v; text]", tuple(joined.shape), "B, N + T, C"),
        ("LM logits", tuple(logits.shape), "B, N + T, V"),
    ]
    return LlavaTrace(rows, n_proj, features.shape[1], text_ids.shape[1], nearest,
                      round(float(vocab.norm(dim=-1).mean()), 2), answer(model, picture, task)[0])


# ---- loading the asset -------------------------------------------------------------------------
def load_tiny_llava(path: str | Path | None = None) -> TinyLlava:
    """tiny-clip's vision tower + tiny-lm (fresh copies, never the shared cached ones) + the projector and
    LoRA stored in assets/models/tiny-llava, the LoRA merged into the LM's weights (W + (α/r)·B·A)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    from core import models
    from core.multimodal.clip import ImagePrep

    path = Path(path) if path else models.model_path("tiny-llava")
    config = json.loads((path / "config.json").read_text())
    clip_model, _ = models.load_clip(config["vision_model"])
    lm, tokenizer = models.load_causal_lm(config["language_model"])
    weights = {k: v.float() for k, v in load_file(path / "adapter.safetensors").items()}
    projector = Projector(config["vision_width"], config["lm_width"])
    projector.load_state_dict({k.removeprefix("projector."): v for k, v in weights.items() if k.startswith("projector.")})
    lora = LoraConfig(**config["lora"])
    with models.loading():  # peft builds modules too: same process-wide care as from_pretrained
        peft_lm = get_peft_model(lm, lora)
        set_peft_model_state_dict(peft_lm, {k.removeprefix("lm."): v for k, v in weights.items() if k.startswith("lm.")})
        lm = peft_lm.merge_and_unload()
    prep = ImagePrep.load(models.model_path(config["vision_model"]))
    return TinyLlava(clip_model.vision_model.eval(), projector.eval(), lm.eval(), tokenizer, prep, config)


if __name__ == "__main__":
    tiny = load_tiny_llava()
    specs = heldout_specs(4)
    pictures = draw_pictures(specs, tiny.prep.image_size)
    for task in TASKS:
        print(task, answer(tiny, pictures, task), "| truth:", [answer_text(s, task) for s in specs])
    print(json.dumps(evaluate(tiny, n=50), indent=1))
