"""The corpus as one long stream of token ids, for the live training demos.

Same layout as scripts/build_assets.py's training data: each verse encoded by tiny-lm's byte-level
BPE, followed by <|endoftext|> (id 0). The demos read a bounded part of it: every `every`-th
verse, up to `max_tokens`, so encoding stays well under a second.
"""
from functools import lru_cache

import torch

EOT_ID = 0  # <|endoftext|>
PAD_ID = 1  # <|pad|>
MAX_STREAM_TOKENS = 400_000


@lru_cache(maxsize=1)
def tokenizer():
    """tiny-lm's 4,096-token BPE (a `tokenizers.Tokenizer`), loaded once."""
    from core.pretraining.tokenization import load_bundled_tokenizer

    return load_bundled_tokenizer()


@lru_cache(maxsize=8)
def token_stream(split: str = "train", max_tokens: int = 200_000, every: int = 1) -> torch.Tensor:
    """Verses of a split (every `every`-th), each followed by end-of-text, up to max_tokens -> (N,) long."""
    from core.pretraining.data import corpus_text

    if not 1 <= max_tokens <= MAX_STREAM_TOKENS:
        raise ValueError(f"max_tokens must be in 1..{MAX_STREAM_TOKENS}, got {max_tokens}")
    lines = corpus_text(split).splitlines()[::every]
    ids, chunk = [], 2000  # encode in chunks, stopping once enough tokens are in
    for start in range(0, len(lines), chunk):
        for enc in tokenizer().encode_batch(lines[start : start + chunk], add_special_tokens=False):
            ids.extend(enc.ids)
            ids.append(EOT_ID)
        if len(ids) >= max_tokens:
            break
    return torch.tensor(ids[:max_tokens], dtype=torch.long)


def decode(ids) -> str:
    """Token ids -> text (special tokens kept visible, so verse breaks show as <|endoftext|>)."""
    return tokenizer().decode(list(ids), skip_special_tokens=False)


if __name__ == "__main__":
    stream = token_stream("train", 50_000, every=5)
    print(f"{len(stream):,} tokens; the first 20: {stream[:20].tolist()}")
    print(repr(decode(stream[:40])))
