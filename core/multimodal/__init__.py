"""Multimodal: pictures as tokens, a CLIP that ties them to text, and how a language model is made to see.

Modules:
- shapes: the synthetic pictures (shape, colour, position) and their captions.
- uploads: an uploaded picture checked from its header, decoded, turned into an RGB square.
- clip: the tiny CLIP's preprocessing, embeddings, InfoNCE, similarity matrix and zero-shot classification.
- clip_training: the tiny CLIP's config, training loop and asset build.
- clip_live: a smaller CLIP trained live in the page, step by step, with checkpoints and an embedding map.
- patches: images as ViT patch tokens.
- llava: LLaVA's wiring, CLIP features projected into the LM's embedding space; the trained tiny LLaVA.
- llava_train: the tiny LLaVA's two training stages (projector alignment, then instruction tuning with LoRA).
"""
