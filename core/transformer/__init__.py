"""The Transformer opened up: attention in a real pretrained encoder, and the next-token distribution of a decoder.

Modules:
- attention: WordPiece tokens and attention maps of all-MiniLM-L6-v2, recomputed from scratch.
- next_token: the tiny LM's next-token probabilities, temperature and entropy.
"""
