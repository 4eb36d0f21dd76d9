"""Pretraining: the corpus and its cleaning, the tokenizer trained on it, the objectives, and the language
model trained on its tokens, on one machine or several.

Modules:
- data: the bundled corpus (KJV) and its train / held-out split by chapter.
- pipeline: a noisy web-like mix made from the corpus and its cleaning steps, counted step by step.
- dedup: exact duplicates (SHA-1) and near duplicates (MinHash + LSH).
- token_stream: the corpus as token ids, laid out as the asset build lays it out.
- tokenization: byte-level BPE trained live, from scratch and with HF tokenizers, within a budget.
- tokenizers_compare: BPE vs WordPiece vs Unigram on the same text.
- objectives: MLM vs CLM on the same sentence and as training objectives.
- training: the causal-LM training loop, learning-rate schedule and perplexity.
- live_training: a tiny GPT trained live, gradient accumulation, the CPU's BF16 support.
- parallel: data parallelism across two processes (gloo), pipeline bubbles, a tensor-parallel split, ZeRO memory.
- scaling: 6ND, the Chinchilla law and the compute-optimal split, and a measured sweep of tiny GPTs.
"""
