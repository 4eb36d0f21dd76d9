"""The Transformer opened up: attention in a real pretrained encoder, positions, the block, the sizes, and
the next-token distribution of a decoder read at every layer.

Modules:
- attention: WordPiece tokens and attention maps of all-MiniLM-L6-v2, recomputed from scratch.
- toy_attention: every matrix of multi-head attention on a toy example; softmax entropy against d_k.
- positions: sinusoidal, learned and RoPE encodings; RoPE's relative property; order-blindness without positions.
- block_trace: one tiny-lm block recomputed by hand from its weights; MiniLM's attention sub-layer; architectures.
- calculator: parameters, FLOPs and memory (weights, gradients, optimizer, activations, KV cache) from a config.
- logit_lens: the tiny LM's prediction decoded at every layer.
- next_token: the tiny LM's next-token probabilities, temperature and entropy.
"""
