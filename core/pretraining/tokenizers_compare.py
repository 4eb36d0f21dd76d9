"""Three subword tokenizers trained live on the same text: BPE, WordPiece and Unigram.

Each is trained by Hugging Face `tokenizers` in the setup its best-known model uses:
- BPE (Sennrich et al. 2015, https://arxiv.org/abs/1508.07909), byte-level as in GPT-2: starts from
  the 256 bytes, merges the most frequent adjacent pair. Never out of vocabulary.
- WordPiece (Schuster & Nakajima 2012; BERT, Devlin et al. 2018, https://arxiv.org/abs/1810.04805):
  words split on spaces and punctuation, pieces inside a word marked '##', encoded greedily
  longest-match-first; a word with any unknown character becomes one [UNK]. Note: the
  `tokenizers` WordPieceTrainer learns its vocabulary with BPE's pair-frequency merges (not the
  likelihood score of the original paper) and only encodes the WordPiece way.
- Unigram (Kudo 2018, https://arxiv.org/abs/1804.10959), as in SentencePiece (Kudo & Richardson
  2018, https://arxiv.org/abs/1808.06226): starts from a large set of substrings and prunes the
  pieces whose removal least lowers the corpus likelihood; spaces become '▁'. Unknown characters
  become <unk> (SentencePiece's byte fallback is off here).

Compared side by side: compression on held-out text (characters per token) against vocabulary
size, the share of unknown tokens, and how each splits code, numbers and non-English text, none
of which the training text (the King James Bible) contains. Plus BPE's encoding of one sentence
replayed merge by merge.
"""
import itertools
import time
from dataclasses import dataclass

from core.pretraining import tokenization as tok

ALGORITHMS = ("BPE", "WordPiece", "Unigram")
MIN_VOCAB, MAX_VOCAB = 300, 8000
MAX_TRAIN_CHARS = 300_000  # Unigram's EM is the slowest: a few seconds at 300 kB on 2 cores
MAX_HELDOUT_CHARS = 100_000
MAX_SIZES = 4  # vocabulary sizes per comparison: 3 x 4 trainings
MAX_SENTENCE = 300  # characters, for the merge replay
UNKNOWN = {"WordPiece": "[UNK]", "Unigram": "<unk>"}
SAMPLES = {
    "English": "In the beginning God created the heaven and the earth.",
    "code": "def area(r):\n    return 3.14159 * r ** 2",
    "numbers": "In 1611, 31,102 verses; call 555-0199 or pay $1,299.99",
    "French": "Au commencement, Dieu créa les cieux et la terre.",
    "German": "Im Anfang schuf Gott Himmel und Erde.",
    "Greek": "Ἐν ἀρχῇ ἦν ὁ λόγος",
    "Chinese": "起初，神创造天地。",
    "emoji": "Great job 👍🎉",
}


def _lines(split: str, max_chars: int, every: int = 1) -> list[str]:
    """Lines of a corpus split, every `every`-th one, until max_chars characters."""
    from core.pretraining.data import corpus_text

    out, n = [], 0
    for line in corpus_text(split).splitlines()[::every]:
        if n + len(line) > max_chars:
            break
        out.append(line)
        n += len(line)
    return out


def train(algorithm: str, texts: list[str], vocab_size: int):
    """Train one of ALGORITHMS on `texts` -> tokenizers.Tokenizer (vocabulary at most vocab_size)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if algorithm == "BPE":
        return tok.train_bpe(texts, vocab_size)
    if algorithm == "WordPiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=["[UNK]", "[PAD]", "[MASK]"],
                                            show_progress=False)
    elif algorithm == "Unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<pad>"], unk_token="<unk>",
                                          show_progress=False)
    else:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def train_on_corpus(algorithm: str, vocab_size: int, train_chars: int = 200_000):
    """One of ALGORITHMS trained on the text `compare` trains on (every 3rd training verse, up to
    train_chars) -> tokenizers.Tokenizer: the same tokenizer as compare's at that size."""
    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB or not 1 <= train_chars <= MAX_TRAIN_CHARS:
        raise ValueError(f"vocab_size in {MIN_VOCAB}..{MAX_VOCAB}, train_chars in 1..{MAX_TRAIN_CHARS}")
    return train(algorithm, _lines("train", train_chars, every=3), vocab_size)


def pieces(tokenizer, algorithm: str, text: str) -> tuple[list[str], int]:
    """(readable pieces, number of unknown tokens) of `text`: unknown ones shown as [UNK] / <unk>.

    Byte-level BPE pieces are decoded to text, or hex when they hold part of a character.
    (HF Unigram fuses a run of unknown characters into one <unk> whose token string is the
    original text; its id tells.)
    """
    enc = tokenizer.encode(text, add_special_tokens=False)
    if algorithm == "BPE":
        return [tok.readable(t) for t in enc.tokens], 0
    unk_id = tokenizer.token_to_id(UNKNOWN[algorithm])
    out = [UNKNOWN[algorithm] if i == unk_id else t for t, i in zip(enc.tokens, enc.ids)]
    return out, sum(i == unk_id for i in enc.ids)


@dataclass(frozen=True)
class TokenizerStats:
    algorithm: str
    requested_vocab: int
    vocab_size: int  # what the trainer produced (Unigram stops early on a small text)
    chars_per_token: float  # on held-out text
    unknown_rate: float  # share of held-out tokens that are unknown
    train_seconds: float  # wall time of training, measured when it ran


@dataclass(frozen=True)
class SampleSplit:
    algorithm: str
    vocab_size: int  # requested
    sample: str  # key of SAMPLES, or 'yours'
    text: str
    pieces: tuple[str, ...]
    n_unknown: int


@dataclass(frozen=True)
class Comparison:
    stats: tuple[TokenizerStats, ...]  # one per (algorithm, size)
    splits: tuple[SampleSplit, ...]  # one per (algorithm, size, sample)
    train_chars: int
    heldout_chars: int


def compare(vocab_sizes=(500, 1000, 2000, 4000), train_chars: int = 200_000, heldout_chars: int = 50_000,
            samples: dict | None = None, on_progress=None) -> Comparison:
    """Train every algorithm at every size on the same text; measure and split the samples with each.

    Training text: every 3rd verse of the training split, up to train_chars; held-out: the held-out
    chapters, up to heldout_chars. `on_progress(fraction, message)` after each training.
    """
    sizes = sorted({int(v) for v in vocab_sizes})
    if not sizes or len(sizes) > MAX_SIZES or not all(MIN_VOCAB <= v <= MAX_VOCAB for v in sizes):
        raise ValueError(f"1..{MAX_SIZES} vocabulary sizes in {MIN_VOCAB}..{MAX_VOCAB}, got {vocab_sizes}")
    texts = _lines("train", min(train_chars, MAX_TRAIN_CHARS), every=3)
    heldout = _lines("heldout", min(heldout_chars, MAX_HELDOUT_CHARS))
    samples = SAMPLES if samples is None else samples
    stats, splits = [], []
    total, done = len(ALGORITHMS) * len(sizes), 0
    for algorithm in ALGORITHMS:
        for size in sizes:
            start = time.perf_counter()
            tokenizer = train(algorithm, texts, size)
            seconds = time.perf_counter() - start
            encoded = tokenizer.encode_batch(heldout, add_special_tokens=False)
            n_tokens = sum(len(e.ids) for e in encoded)
            unk = tokenizer.token_to_id(UNKNOWN[algorithm]) if algorithm in UNKNOWN else None
            n_unknown = sum(i == unk for e in encoded for i in e.ids) if unk is not None else 0
            stats.append(TokenizerStats(algorithm, size, tokenizer.get_vocab_size(),
                                        sum(map(len, heldout)) / max(n_tokens, 1), n_unknown / max(n_tokens, 1),
                                        seconds))
            for name, text in samples.items():
                ps, n_unk = pieces(tokenizer, algorithm, text)
                splits.append(SampleSplit(algorithm, size, name, text, tuple(ps), n_unk))
            done += 1
            if on_progress and on_progress(done / total, f"trained {algorithm} at {size:,}") is False:
                return Comparison(tuple(stats), tuple(splits), sum(map(len, texts)), sum(map(len, heldout)))
    return Comparison(tuple(stats), tuple(splits), sum(map(len, texts)), sum(map(len, heldout)))


# ---- BPE encoding replayed merge by merge ---------------------------------------------------------
@dataclass(frozen=True)
class MergeStep:
    step: int  # 0 is the starting point: every word as its bytes
    pair: tuple[str, str]  # the merge applied (readable), ('', '') at step 0
    rank: int  # its position in the learned merge list (lower = learned earlier), -1 at step 0
    words: tuple[tuple[str, ...], ...]  # every pre-tokenized word as its current symbols, readable


def bpe_steps(tokenizer, sentence: str) -> list[MergeStep]:
    """Encode `sentence` with a byte-level BPE the way the algorithm does, recording each merge.

    Each step applies, everywhere in the sentence, the learned merge of lowest rank that occurs in
    it; ranks therefore strictly increase. The last step's symbols are tokenizer.encode's tokens.
    """
    if len(sentence) > MAX_SENTENCE:
        raise ValueError(f"the sentence has {len(sentence)} characters; at most {MAX_SENTENCE}")
    ranks = {pair: r for r, pair in enumerate(tok.merges(tokenizer))}
    words = [list(w) for w, _ in _pretokenized(sentence)]

    def snapshot():
        return tuple(tuple(tok.readable(s) for s in w) for w in words)

    steps = [MergeStep(0, ("", ""), -1, snapshot())]
    while True:
        present = {pair for w in words for pair in itertools.pairwise(w) if pair in ranks}
        if not present:
            return steps
        best = min(present, key=ranks.__getitem__)
        words = [tok._merge_pair(w, best, best[0] + best[1]) for w in words]
        steps.append(MergeStep(len(steps), (tok.readable(best[0]), tok.readable(best[1])), ranks[best], snapshot()))


def _pretokenized(sentence: str) -> list[tuple[str, tuple[int, int]]]:
    """The byte-level words of a sentence in order: 'Hi there' -> [('Hi', (0, 2)), ('Ġthere', (2, 8))]."""
    from tokenizers import pre_tokenizers

    return pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(sentence)


if __name__ == "__main__":
    cmp = compare(vocab_sizes=(500, 2000))
    print(f"trained on {cmp.train_chars:,} characters, measured on {cmp.heldout_chars:,} held-out characters")
    for s in cmp.stats:
        print(f"  {s.algorithm:9s} asked {s.requested_vocab:5,} got {s.vocab_size:5,}: "
              f"{s.chars_per_token:.2f} chars/token, "
              f"{100 * s.unknown_rate:.2f}% unknown, trained in {s.train_seconds:.2f} s")
    for sp in cmp.splits:
        if sp.vocab_size == 2000 and sp.sample in ("code", "numbers", "French", "Chinese"):
            shown = " | ".join(sp.pieces).replace("\n", "↵")
            print(f"  {sp.algorithm:9s} {sp.sample:8s} {len(sp.pieces):3d} tokens: {shown}")
    bpe = train("BPE", _lines("train", 200_000, every=3), 1000)
    for st in bpe_steps(bpe, "the firstborn of Egypt")[:12]:
        sentence = " | ".join("·".join(sym.replace(" ", "␣") for sym in w) for w in st.words)
        print(f"  step {st.step:2d} rank {st.rank:4d} {'+'.join(st.pair).replace(' ', '␣'):12s} {sentence}")
