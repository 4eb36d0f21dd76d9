"""The logit lens: what would the model predict if it stopped after layer l?

A decoder turns its last hidden state into next-token logits with the final norm and the lm_head.
The residual stream has the same width C after every block, so the same read-out can be applied to
the stream after block l (nostalgebraist 2020, "interpreting GPT: the logit lens",
https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens):

    lens_l = lm_head(RMSNorm_final(h_l))          # (T, V) for h_l the stream after block l

Layer 0 is the token embedding itself (with tied embeddings, close to predicting the input token
again); the last layer's lens is exactly the model's own logits. In between one watches the
prediction form. Later work trains a small probe per layer instead (the tuned lens, Belrose et al.
2023, https://arxiv.org/abs/2303.08112), since early layers do not speak the last layer's basis.

Shapes: T prompt tokens (at most MAX_TOKENS), L blocks, V vocabulary, k top tokens.
"""
from dataclasses import dataclass

import numpy as np

from core.transformer.block_trace import residual_stream

MAX_TOKENS = 64
MAX_TOP_K = 10


@dataclass(frozen=True)
class LogitLens:
    tokens: list[str]  # (T,) the prompt's tokens
    layer_names: list[str]  # (L + 1,) 'embedding', 'layer 1', ..., 'layer L'
    top_ids: np.ndarray  # (L + 1, T, k) most likely next tokens at each layer and position
    top_tokens: list[list[list[str]]]  # (L + 1, T, k) decoded
    top_probs: np.ndarray  # (L + 1, T, k)
    next_token_probs: np.ndarray  # (L + 1, T - 1) probability each layer gives the prompt's actual next token
    entropy_bits: np.ndarray  # (L + 1, T)


def lens_logits(model, stream: np.ndarray):
    """The final norm and lm_head applied to every layer's stream: (L + 1, T, C) -> torch (L + 1, T, V)."""
    import torch

    with torch.no_grad():
        hidden = torch.tensor(stream, dtype=model.lm_head.weight.dtype)
        return model.lm_head(model.model.norm(hidden))


def logit_lens(model, tokenizer, prompt: str, top_k: int = 5, max_tokens: int = MAX_TOKENS) -> LogitLens:
    """Decode tiny-lm's prediction at every layer and position: its first max_tokens (<= 64) tokens, top_k <= 10."""
    import torch

    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][: min(max_tokens, MAX_TOKENS)]
    if not ids:
        raise ValueError("the prompt has no tokens")
    k = max(1, min(top_k, MAX_TOP_K))
    logits = lens_logits(model, residual_stream(model, ids)).double()  # (L + 1, T, V)
    logp = torch.log_softmax(logits, dim=-1)
    probs = logp.exp()
    top = probs.topk(k, dim=-1)  # values and indices (L + 1, T, k)
    top_ids = top.indices.numpy()
    nxt = torch.tensor(ids[1:])  # (T - 1,)
    next_probs = probs[:, :-1].gather(-1, nxt[None, :, None].expand(probs.shape[0], -1, 1))[..., 0]  # (L + 1, T - 1)
    entropy = -(probs * logp).sum(-1) / np.log(2)  # (L + 1, T) bits
    decoded = tokenizer.batch_decode([[i] for i in range(probs.shape[-1])])
    L = probs.shape[0] - 1
    return LogitLens([decoded[i] for i in ids], ["embedding"] + [f"layer {l}" for l in range(1, L + 1)],
                     top_ids, [[[decoded[i] for i in row] for row in layer] for layer in top_ids],
                     top.values.numpy(), next_probs.numpy(), entropy.numpy())


if __name__ == "__main__":
    from core.models import load_causal_lm

    model, tokenizer = load_causal_lm("tiny-lm")
    lens = logit_lens(model, tokenizer, "And the LORD said unto Moses, Speak unto the children of", top_k=3)
    print("prompt:", lens.tokens)
    for name, tokens, probs, entropy in zip(lens.layer_names, lens.top_tokens, lens.top_probs, lens.entropy_bits):
        guess = ", ".join(f"{t!r} {p:.2f}" for t, p in zip(tokens[-1], probs[-1]))
        print(f"  {name:10s} after the last token: {guess}  (entropy {entropy[-1]:.1f} bits)")
    print("mean probability of the actual next token, per layer:", np.round(lens.next_token_probs.mean(-1), 3))
