"""The Multimodal page's sections that grew past a few lines, one module each: llava (the trained tiny LLaVA,
`render(picture, truth)`) and train_clip (train a tiny CLIP live, `render()`). Each exposes its `PARAMS`;
app_pages/multimodal.py writes each section's header (the quizzes and glossary link to them)."""
