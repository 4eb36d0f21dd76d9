"""LLaVA's wiring: image features projected into a language model's embedding space as tokens.

LLaVA (Liu et al. 2023, https://arxiv.org/abs/2304.08485) projects CLIP's patch features with a
small learned matrix into the LLM's embedding space and puts them in front of the text tokens.

Shapes: B pictures, N patches, C_v vision width, C_lm the LM's width, T text tokens, V vocab.
"""
import math
from dataclasses import dataclass

import torch


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


