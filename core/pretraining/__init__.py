"""Pretraining: the corpus, the tokenizer trained on it, and the language model trained on its tokens.

Modules:
- data: the bundled corpus (KJV) and its train / held-out split by chapter.
- tokenization: byte-level BPE trained live, from scratch and with HF tokenizers.
- training: the causal-LM training loop, learning-rate schedule and perplexity.
"""
