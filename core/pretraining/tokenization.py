"""Byte-level BPE (Sennrich et al. 2015, arXiv 1508.07909, https://arxiv.org/abs/1508.07909; GPT-2's byte-level
variant, Radford et al. 2019) trained with Hugging Face `tokenizers`, and the same algorithm
written out in plain Python (`bpe_from_scratch`) to show what the trainer does.

BPE starts from the 256 byte values and repeatedly merges the most frequent adjacent pair
into a new token until the vocabulary reaches its target size. Byte-level means any text,
in any script, can be encoded: nothing is ever out of vocabulary. GPT-2 shows each byte as a
printable character (a space is 'Ġ'), so token strings look like 'Ġthe'.

Because training is greedy, the merges of a small vocabulary are a prefix of the merges of a
larger one: `truncate_bpe` cuts a trained tokenizer down to any smaller size for free.

Vocabulary layout here: ids 0-1 special tokens, 2-257 the 256 bytes, 258+ merges in order.

Budgets: training and measuring run live on a shared 2-core server, so `train_bpe_budgeted` and
`measure_compression` cap what one request may cost (characters of text, vocabulary size, points on
a curve) and return what they cut, in words.
"""
import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from core.pretraining.data import ASSETS

SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>"]
N_BASE = len(SPECIAL_TOKENS) + 256  # vocabulary before the first merge
BUNDLED_TOKENIZER = ASSETS / "models" / "tokenizer" / "tokenizer.json"


def train_bpe(texts, vocab_size: int, min_frequency: int = 2):
    """Train a byte-level BPE tokenizer: iterable of str -> tokenizers.Tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def to_transformers(tokenizer):
    """Wrap a `tokenizers.Tokenizer` so `save_pretrained` / `AutoTokenizer` can use it."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|pad|>", unk_token=None)


def training_sample(every: int = 3) -> list[str]:
    """Every `every`-th verse of the training split: ~1.3 MB for every=3, which trains in about a second.

    A stride rather than a prefix, so every book is represented; the KJV's vocabulary is small
    enough that a 500 kB prefix runs out of pairs seen twice before 5,000 tokens.
    """
    from core.pretraining.data import corpus_text

    return corpus_text("train").splitlines()[::every]


# ---- budgets: what one live request may cost -----------------------------------------------------
@dataclass(frozen=True)
class TrainBudget:
    """What one live training run may cost. HF's trainer counts the words once (linear in the characters)
    and then adds one merge per new token; the every-3rd-verse sample (1.31 MB) at 8,000 tokens, the
    page's largest request, trains in about a second on one core, so the product of the two is capped there."""
    max_chars: int = 1_500_000  # characters of training text (newlines counted)
    max_vocab: int = 8_000
    max_chars_x_vocab: int = 1_500_000 * 8_000


@dataclass(frozen=True)
class BudgetedBPE:
    tokenizer: object  # tokenizers.Tokenizer
    n_chars: int  # characters it was trained on (newlines counted)
    n_lines: int
    vocab_asked: int
    notes: tuple[str, ...]  # how the request was cut down, in words; () when it ran as asked


def thin_lines(lines: list[str], max_chars: int) -> list[str]:
    """At most max_chars characters (newlines counted) of `lines`, as an even stride through all of them
    (every book keeps a voice), then cut at the end if still over: thin_lines(['ab', 'cd', 'ef'], 6) -> ['ab', 'ef']."""
    total = sum(len(line) + 1 for line in lines)
    if total <= max_chars:
        return list(lines)
    if max_chars <= 0:
        return []
    kept, size = [], 0
    for line in lines[:: math.ceil(total / max_chars)]:
        if size + len(line) + 1 > max_chars:
            break
        kept.append(line)
        size += len(line) + 1
    return kept


def train_bpe_budgeted(lines: list[str], vocab_size: int, budget: TrainBudget = TrainBudget()) -> BudgetedBPE:
    """train_bpe within the budget: fewer characters (an even stride) and at most max_vocab tokens, then a
    vocabulary small enough that characters × vocabulary fits. What was cut is said in `notes`."""
    notes = []
    sample = thin_lines(lines, budget.max_chars)
    n_chars = sum(len(line) + 1 for line in sample)
    if len(sample) < len(lines):
        notes.append(f"trained on {n_chars:,} of {sum(len(line) + 1 for line in lines):,} characters "
                     f"(the limit is {budget.max_chars:,})")
    vocab = max(N_BASE, min(vocab_size, budget.max_vocab, budget.max_chars_x_vocab // max(n_chars, 1)))
    if vocab != vocab_size:
        notes.append(f"{vocab_size:,} tokens asked; this run trains {vocab:,} (between {N_BASE} and "
                     f"{min(budget.max_vocab, budget.max_chars_x_vocab // max(n_chars, 1)):,} on this text)")
    return BudgetedBPE(train_bpe(sample, vocab), n_chars, len(sample), vocab_size, tuple(notes))


def load_bundled_tokenizer():
    """The 4,096-token byte-level BPE of the tiny LMs (trained on the whole training split)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(BUNDLED_TOKENIZER))


def merges(tokenizer, n: int | None = None) -> list[tuple[str, str]]:
    """The first `n` merges a BPE tokenizer learned, in order: [('t', 'h'), ('Ġ', 'th'), ...]."""
    model = json.loads(tokenizer.to_str())["model"]
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return pairs[:n]


def truncate_bpe(tokenizer, vocab_size: int):
    """The tokenizer this BPE training run would have produced at a smaller `vocab_size`.

    Keeps the special tokens, the 256 bytes and the first vocab_size - 258 merges.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {tok: i for tok, i in tokenizer.get_vocab().items() if i < vocab_size}
    small = Tokenizer(models.BPE(vocab, merges(tokenizer, max(vocab_size - N_BASE, 0))))
    small.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    small.decoder = decoders.ByteLevel()
    small.add_special_tokens(SPECIAL_TOKENS)
    return small


@lru_cache(maxsize=1)
def char_of_byte() -> dict[int, str]:
    """GPT-2's printable stand-in for every byte: {32: 'Ġ', 97: 'a', 10: 'Ċ', ...}."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:  # control bytes, space, etc. get shifted out of the way, past 255
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


@lru_cache(maxsize=1)
def _byte_of_char() -> dict[str, int]:
    return {c: b for b, c in char_of_byte().items()}


def token_bytes(token: str) -> bytes:
    """The raw bytes behind a byte-level token string: 'Ġcat' -> b' cat'."""
    table = _byte_of_char()
    return bytes(table[c] for c in token)


def readable(token: str) -> str:
    """A byte-level token as text, or its bytes in hex when they are part of a longer UTF-8 character:
    'Ġcat' -> ' cat'; 'æĹ' (the first 2 of 3 bytes of 日) -> '<e6 97>'."""
    raw = token_bytes(token)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "<" + raw.hex(" ") + ">"


def plain_tokenizer(tokenizer):
    """The `tokenizers.Tokenizer` behind `tokenizer`, with no padding and no truncation.

    MiniLM's tokenizer.json pads and truncates everything to 128 tokens, which would count [PAD]
    as tokens. Such a tokenizer is copied first, never mutated, since it may be shared; so is the
    backend of a Hugging Face tokenizer, which rewrites those settings at each call.
    """
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None and tokenizer.padding is None and tokenizer.truncation is None:
        return tokenizer
    plain = Tokenizer.from_str((backend or tokenizer).to_str())
    plain.no_padding()
    plain.no_truncation()
    return plain


@dataclass(frozen=True)
class Split:
    tokens: list[str]  # readable pieces (WordPiece keeps its '##' marks)
    ids: list[int]
    chars_per_token: float


def split_text(tokenizer, text: str) -> Split:
    """How a tokenizer cuts `text`, with no special tokens: 'hello' -> Split(tokens=['hel', 'lo'], ...).

    Takes a `tokenizers.Tokenizer` (byte-level BPE or WordPiece) or a Hugging Face fast tokenizer.
    """
    from tokenizers import models

    backend = plain_tokenizer(tokenizer)
    enc = backend.encode(text, add_special_tokens=False)
    if isinstance(backend.model, models.WordPiece):
        pieces = list(enc.tokens)
    else:
        pieces = [readable(t) for t in enc.tokens]
    return Split(pieces, list(enc.ids), len(text) / max(len(enc.ids), 1))


def chars_per_token(tokenizer, lines: list[str]) -> float:
    """Compression on a text given as lines: characters (newlines not counted) per token."""
    backend = plain_tokenizer(tokenizer)
    n_tokens = sum(len(e.ids) for e in backend.encode_batch(lines, add_special_tokens=False))
    return sum(len(line) for line in lines) / max(n_tokens, 1)


@dataclass(frozen=True)
class CompressionPoint:
    vocab_size: int
    chars_per_token: float


def compression_curve(tokenizer, sizes: list[int], heldout_lines: list[str]) -> list[CompressionPoint]:
    """Characters per token on held-out text for each vocabulary size, cutting one trained BPE down."""
    largest = tokenizer.get_vocab_size()
    return [CompressionPoint(v, chars_per_token(truncate_bpe(tokenizer, v), heldout_lines))
            for v in sorted(set(sizes)) if v <= largest]


@dataclass(frozen=True)
class MeasureBudget:
    """What one compression measurement may cost: each point encodes the held-out text once."""
    max_chars: int = 250_000  # held-out characters encoded per point (the held-out split is 200 kB)
    max_points: int = 8  # vocabulary sizes on one curve


@dataclass(frozen=True)
class Compression:
    points: list[CompressionPoint]
    n_chars: int  # held-out characters measured on (newlines not counted)
    notes: tuple[str, ...]  # how the request was cut down, in words; () when it ran as asked


def measure_compression(tokenizer, sizes: list[int], heldout_lines: list[str],
                        budget: MeasureBudget = MeasureBudget()) -> Compression:
    """compression_curve within the budget: at most max_points sizes (the smallest kept) on at most
    max_chars of held-out text (an even stride). Sizes above the tokenizer's own are dropped, and said."""
    notes = []
    lines = thin_lines(heldout_lines, budget.max_chars)
    if len(lines) < len(heldout_lines):
        notes.append(f"measured on {len(lines):,} of {len(heldout_lines):,} held-out lines "
                     f"(the limit is {budget.max_chars:,} characters)")
    largest = tokenizer.get_vocab_size()
    wanted = sorted(set(sizes))
    too_big = [v for v in wanted if v > largest]
    if too_big:
        notes.append(f"sizes above this tokenizer's {largest:,} tokens dropped: {', '.join(map(str, too_big))}")
    kept = [v for v in wanted if v <= largest][: budget.max_points]
    if len(kept) < len(wanted) - len(too_big):
        notes.append(f"{len(wanted) - len(too_big)} sizes asked; a curve has at most {budget.max_points} points")
    return Compression(compression_curve(tokenizer, kept, lines), sum(map(len, lines)), tuple(notes))


# ---- the same algorithm in plain Python (after minbpe) ------------------------------------------
@dataclass(frozen=True)
class Merge:
    pair: tuple[str, str]
    new_token: str
    count: int  # how often the pair occurred in the corpus when it was chosen


def pretokenize(text: str) -> Counter:
    """Split text into byte-level words, the unit BPE never merges across: Counter({'Ġthe': 2, ...})."""
    from tokenizers import pre_tokenizers

    splitter = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return Counter(word for word, _ in splitter.pre_tokenize_str(text))


def bpe_from_scratch(texts: list[str], n_merges: int, min_frequency: int = 2) -> list[Merge]:
    """Learn the first `n_merges` BPE merges by counting pairs: ['aaab aaab'] -> first ('a', 'a').

    Each step: count every adjacent pair of symbols in every word (weighted by the word's
    frequency), merge the most frequent pair everywhere, repeat. Ties go to the pair whose
    symbols have the smaller ids (bytes by code point, then merges in creation order), as in
    Hugging Face's trainer, so both produce the same merges.
    """
    words = Counter()
    for text in texts:
        words.update(pretokenize(text))
    symbols = {w: list(w) for w in words}  # each word as its current list of symbols
    ids = {c: i for i, c in enumerate(sorted({c for w in words for c in w}))}
    learned = []
    for _ in range(n_merges):
        pair_counts = Counter()
        for word, count in words.items():
            syms = symbols[word]
            for pair in zip(syms, syms[1:]):
                pair_counts[pair] += count
        if not pair_counts:
            break
        best = max(pair_counts, key=lambda p: (pair_counts[p], -ids[p[0]], -ids[p[1]]))
        if pair_counts[best] < min_frequency:
            break
        new = best[0] + best[1]
        ids.setdefault(new, len(ids))
        learned.append(Merge(best, new, pair_counts[best]))
        for word in words:
            symbols[word] = _merge_pair(symbols[word], best, new)
    return learned


def _merge_pair(syms: list[str], pair: tuple[str, str], new: str) -> list[str]:
    """Replace every non-overlapping occurrence of `pair`, left to right: (a a a b, (a a)) -> aa a b."""
    out, i = [], 0
    while i < len(syms):
        if i + 1 < len(syms) and (syms[i], syms[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(syms[i])
            i += 1
    return out


if __name__ == "__main__":
    import time

    from core.pretraining.data import corpus_text

    lines = training_sample()
    heldout = corpus_text("heldout").splitlines()
    start = time.perf_counter()
    tok = train_bpe(lines, 8000)
    print(f"trained 8,000 tokens on {sum(map(len, lines)):,} chars in {time.perf_counter() - start:.2f}s")
    print("first merges:", merges(tok, 8))
    for point in compression_curve(tok, [300, 1000, 4000, 8000], heldout):
        print(f"  vocab {point.vocab_size:5d}: {point.chars_per_token:.2f} chars/token on held-out text")
    print(split_text(tok, "In the beginning God created the heaven and the earth. 日本"))
    print(bpe_from_scratch(["aaab aaab"], 3))
