"""What a decoder-only language model actually outputs: one score per vocabulary token.

A causal LM such as Llama (Touvron et al. 2023, https://arxiv.org/abs/2302.13971) reads the
prompt and, at the last position, emits logits z (V,), one per token of its vocabulary. The
next-token distribution at temperature τ is

    p_i = exp(z_i / τ) / Σ_j exp(z_j / τ)

τ < 1 sharpens it towards the argmax (τ -> 0 is greedy decoding), τ > 1 flattens it towards
uniform. Its entropy H = -Σ p_i log2 p_i (bits) says how unsure the model is; 2^H is the number
of equally likely tokens with the same uncertainty.

Shapes: T prompt tokens, V vocabulary size.
"""
from dataclasses import dataclass

import numpy as np

MAX_PROMPT_TOKENS = 256  # the tiny LM was trained on 128-token windows; it accepts up to 512


@dataclass(frozen=True)
class NextTokenLogits:
    prompt_tokens: list[str]  # the prompt as the model saw it (last MAX_PROMPT_TOKENS tokens)
    logits: np.ndarray  # (V,) float64, the scores for the token after the prompt
    vocab: list[str]  # (V,) each token id decoded to text
    n_tokens_full: int  # prompt length before truncation

    @property
    def truncated(self) -> bool:
        return self.n_tokens_full > len(self.prompt_tokens)


@dataclass(frozen=True)
class Distribution:
    temperature: float
    top_ids: list[int]  # the k most likely next tokens, most likely first
    top_tokens: list[str]
    top_probs: list[float]
    entropy_bits: float  # of the whole distribution over V tokens
    nucleus_90: int  # how many tokens it takes to cover 90% of the probability (top-p = 0.9)


def next_token_logits(model, tokenizer, prompt: str, max_tokens: int = MAX_PROMPT_TOKENS) -> NextTokenLogits:
    """Run the causal LM on `prompt` and keep the logits at the last position.

    'And the LORD said unto' -> logits (V,), whose argmax decodes to ' Moses' for the KJV model.
    Prompts longer than `max_tokens` keep their last `max_tokens` tokens (the model's context).
    """
    import torch

    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    kept = ids[-max_tokens:]
    with torch.no_grad():
        logits = model(torch.tensor([kept])).logits  # (1, T, V)
    last = logits[0, -1].double().numpy()  # (V,)
    vocab = tokenizer.batch_decode([[i] for i in range(last.shape[0])])
    return NextTokenLogits([tokenizer.decode([i]) for i in kept], last, vocab, len(ids))


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """(V,) logits -> (V,) probabilities of softmax(logits / τ): ([0, ln 3], 1.0) -> [0.25, 0.75]."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    weights = np.exp(scaled - scaled.max())  # subtracting the max avoids overflow at small τ
    return weights / weights.sum()


def entropy_bits(probs: np.ndarray) -> float:
    """Shannon entropy in bits: [0.5, 0.5] -> 1.0; [1, 0] -> 0.0 (0 log 0 is taken as 0)."""
    p = np.asarray(probs, dtype=np.float64)
    nonzero = p[p > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


def distribution(result: NextTokenLogits, temperature: float, k: int = 10) -> Distribution:
    """The next-token distribution at `temperature`, summarised by its top k tokens."""
    probs = softmax_with_temperature(result.logits, temperature)  # (V,)
    order = np.argsort(-probs, kind="stable")  # (V,) most likely first
    top = order[:k]
    nucleus = int(np.searchsorted(np.cumsum(probs[order]), 0.9) + 1)
    return Distribution(temperature, top.tolist(), [result.vocab[i] for i in top],
                        probs[top].tolist(), entropy_bits(probs), min(nucleus, len(probs)))


def entropy_curve(logits: np.ndarray, temperatures) -> list[float]:
    """The entropy (bits) of softmax(logits / τ) for each τ: it rises with τ, from 0 towards log2 V."""
    return [entropy_bits(softmax_with_temperature(logits, t)) for t in temperatures]


if __name__ == "__main__":
    from core.models import load_causal_lm

    model, tokenizer = load_causal_lm("tiny-lm")
    res = next_token_logits(model, tokenizer, "And the LORD said unto")
    print("prompt tokens:", res.prompt_tokens, "| V =", res.logits.shape[0])
    for temp in (0.5, 1.0, 2.0):
        dist = distribution(res, temp, k=5)
        tops = ", ".join(f"{t!r} {p:.2f}" for t, p in zip(dist.top_tokens, dist.top_probs))
        print(f"T={temp}: H={dist.entropy_bits:.2f} bits, 90% in {dist.nucleus_90} tokens | {tops}")
