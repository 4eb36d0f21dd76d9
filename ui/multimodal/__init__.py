"""The Multimodal page's sections that grew past a few lines, one module each: train_clip (train a tiny CLIP
live). Each exposes `render() -> None` and its `PARAMS`; pages/multimodal.py writes each section's header."""
