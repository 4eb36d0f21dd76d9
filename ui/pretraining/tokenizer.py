"""Pretraining · Train a BPE tokenizer, live: the first section. Before a model learns anything, a tokenizer is
learned from the data. The section's headers are written by app_pages/pretraining.py (quiz questions and glossary
entries name them, and tests/test_quizzes.py reads a page's headers from its page file); this module draws
what comes under each.
"""
import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

import ui
from core.charts import pretraining as charts
from core.pretraining import tokenization as tok
from core.pretraining.data import corpus_text
from core.state import Param

DEFAULT_TEXT = ("In the beginning God created the heaven and the earth. "
                "Tokenizers love frequent words; rare ones like photosynthesis get split.")
MAX_CHARS = 500
MIN_VOCAB, MAX_VOCAB, VOCAB_STEP = 300, tok.TrainBudget().max_vocab, 100
CURVE_SIZES = [300, 500, 1000, 2000, 4000, 8000]
N_MERGES = 20
SCRATCH_EVERY = 30  # the plain-Python trainer runs on every 30th verse (~130 kB): about a second

PARAMS = [Param("vocab", 1000, MIN_VOCAB, MAX_VOCAB, step=VOCAB_STEP), Param("text", DEFAULT_TEXT, max_len=MAX_CHARS)]


@dataclass(frozen=True)
class Trained:
    tokenizer: object  # tokenizers.Tokenizer
    seconds: float  # wall time of the training run, measured when it ran
    n_chars: int  # size of the training sample
    notes: tuple[str, ...]  # what the budget cut, in words


# One entry per slider position (78 of them), each a tokenizer of at most 8,000 tokens (~200 kB pickled).
# It returns core types only: st.cache_data pickles its values, and a class defined in a page cannot be.
@ui.cached_compute(max_entries=80, max_size="24MB")
def _train_run(vocab_size: int) -> tuple[tok.BudgetedBPE, float]:
    start = time.perf_counter()
    run = tok.train_bpe_budgeted(tok.training_sample(), vocab_size)
    return run, time.perf_counter() - start


def _train(vocab_size: int) -> Trained:
    run, seconds = _train_run(vocab_size)
    return Trained(run.tokenizer, seconds, run.n_chars, run.notes)


@st.cache_resource(show_spinner=False)
def _bundled():
    return tok.load_bundled_tokenizer()


@st.cache_resource(show_spinner=False)
def _wordpiece():
    """MiniLM's WordPiece as a plain `tokenizers.Tokenizer` (its own copy, without padding to 128)."""
    return tok.plain_tokenizer(ui.encoder()[1])


@st.cache_data(max_entries=1, max_size="2MB", show_spinner=False)
def _heldout_lines() -> list[str]:
    return corpus_text("heldout").splitlines()


@ui.cached_compute(max_entries=2, max_size="1MB")
def _compression_curve(with_wordpiece: bool) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """(curve, references, notes): chars/token on held-out text for one BPE run cut to each size, and others."""
    heldout = _heldout_lines()
    measured = tok.measure_compression(_train(MAX_VOCAB).tokenizer, CURVE_SIZES, heldout)
    lines = tok.thin_lines(heldout, tok.MeasureBudget().max_chars)
    refs = [("bundled BPE (whole training split)", _bundled())]
    if with_wordpiece:
        refs.append(("MiniLM WordPiece (modern English)", _wordpiece()))
    references = pd.DataFrame([{"tokenizer": name, "vocab_size": t.get_vocab_size(),
                                "chars_per_token": tok.chars_per_token(t, lines)} for name, t in refs])
    return pd.DataFrame([p.__dict__ for p in measured.points]), references, measured.notes


@ui.cached_compute(max_entries=80, max_size="1MB")
def _compression_at(vocab_size: int) -> pd.DataFrame:
    """The curve's point at the chosen size (one encode of the held-out text): one row, or none past the run."""
    measured = tok.measure_compression(_train(MAX_VOCAB).tokenizer, [vocab_size], _heldout_lines())
    return pd.DataFrame([p.__dict__ for p in measured.points], columns=["vocab_size", "chars_per_token"])


@ui.cached_compute(max_entries=1, max_size="1MB")
def _scratch_merges(n: int) -> tuple[list[tok.Merge], list[tuple[str, str]], float]:
    """The first n merges by the plain-Python trainer, Hugging Face's on the same text, and the seconds."""
    lines = tok.training_sample(SCRATCH_EVERY)
    start = time.perf_counter()
    mine = tok.bpe_from_scratch(lines, n)
    seconds = time.perf_counter() - start
    return mine, tok.merges(tok.train_bpe(lines, tok.N_BASE + n), n), seconds


def widgets() -> tuple[int, str]:
    """The vocabulary slider and the text box (bound to the URL by the page): (vocab_size, text)."""
    ui.bind_params(PARAMS)
    vocab_size = st.slider("Vocabulary size", MIN_VOCAB, MAX_VOCAB, step=VOCAB_STEP, key="vocab")
    text = st.text_area("Your text", key="text", height=80)
    return vocab_size, text


def chips(title: str, split: tok.Split) -> None:
    st.markdown(f"**{title}**: {len(split.ids)} tokens, {split.chars_per_token:.2f} characters per token")
    st.html(charts.token_chips_html(split.tokens, split.ids))


def train(vocab_size: int) -> Trained:
    st.markdown(
        "**Byte-pair encoding** starts from the 256 possible bytes and repeatedly merges the most frequent "
        "adjacent pair into a new token, until the vocabulary has the size you ask for. Frequent words end up "
        "as one token; rare words are spelled from pieces; any text can still be encoded byte by byte.")
    with ui.heavy("Training the tokenizer"):
        trained = _train(vocab_size)
    got, n_merges = trained.tokenizer.get_vocab_size(), len(tok.merges(trained.tokenizer))
    st.caption(f"Trained on {trained.n_chars / 1e6:.2f} MB of the King James Bible (every 3rd verse of the "
               f"training split) in {trained.seconds:.2f} s on this server (one run, measured when first "
               f"trained; cached since): {got:,} tokens = 2 special + 256 bytes + {n_merges:,} merges.")
    for note in trained.notes:
        st.info(f"Cut to this server's budget for a live run: {note}.")
    if got < vocab_size and not trained.notes:
        st.warning(f"The trainer stopped at {got:,} tokens: no pair occurs twice any more in this sample.")
    return trained


def split(trained: Trained, text: str) -> None:
    mine = tok.split_text(trained.tokenizer, text)
    chips(f"Your BPE ({trained.tokenizer.get_vocab_size():,} tokens)", mine)
    chips("Bundled BPE of the tiny LMs (4,096 tokens)", tok.split_text(_bundled(), text))
    if ui.require_model("minilm"):
        wordpiece = tok.split_text(_wordpiece(), text)
        chips("MiniLM's WordPiece (30,522 tokens, lowercased; `##` = continues a word)", wordpiece)
    st.caption("␣ marks a space that belongs to the token: byte-level BPE keeps the space in front of a word, "
               "so ' the' and 'the' are different tokens. Hover a chip to see its id.")
    if not text.isascii():
        st.info("Non-ASCII text: the KJV sample is almost pure ASCII, so byte-level BPE falls back to the raw "
                "UTF-8 bytes of other characters (shown as <e6 97 a5>, several tokens per character) yet never "
                "fails; WordPiece strips accents and maps what it does not know to [UNK].")
    decoded = trained.tokenizer.decode(mine.ids)
    st.caption(f"Round trip: decode(encode(text)) == text → **{decoded == text}**")


def compression(vocab_size: int) -> None:
    st.markdown(
        "A bigger vocabulary means fewer tokens per text (cheaper, longer context) but a bigger embedding "
        "table and rarer tokens, each seen less in training. Measured here on held-out chapters the tokenizer "
        "never saw. Training is greedy, so a smaller vocabulary's merges are the first merges of a bigger "
        "one: the curve is one 8,000-token run cut at each size (a unit test checks this equals training "
        "at that size).")
    with_wordpiece = ui.require_model("minilm")
    with ui.heavy("Measuring compression"):
        curve, references, notes = _compression_curve(with_wordpiece)
        chosen = _compression_at(vocab_size)
    curve = pd.concat([curve, chosen]).drop_duplicates("vocab_size").sort_values("vocab_size", ignore_index=True)
    for note in notes:
        st.info(f"Cut to this server's budget for a measurement: {note}.")
    ui.chart(charts.compression_chart, curve, references, chosen=vocab_size)
    table = pd.concat([curve.assign(tokenizer="BPE on the sample"), references])
    st.dataframe(table[["tokenizer", "vocab_size", "chars_per_token"]].round(3), hide_index=True)
    st.caption(f"Held-out text: {sum(map(len, _heldout_lines())):,} characters (every 20th chapter). "
               "WordPiece was trained on modern English, not on this text, and lowercases it.")


def merges(trained: Trained) -> None:
    st.markdown(
        "The first merges are the most frequent pairs of the corpus. `Ġ` is how byte-level BPE writes "
        "a space, so `Ġth` is ' th'. Below, the same algorithm in 30 lines of plain Python, run on a "
        "smaller sample, with the pair counts at each step, checked against Hugging Face `tokenizers`.")
    first = tok.merges(trained.tokenizer, N_MERGES)
    st.markdown("**Your tokenizer's first merges:** " + " · ".join(f"`{a}`+`{b}`" for a, b in first))
    with ui.heavy("Counting pairs"):
        mine, theirs, seconds = _scratch_merges(N_MERGES)
    st.dataframe(pd.DataFrame({"step": range(1, len(mine) + 1), "pair": [f"{a} + {b}" for a, b in (m.pair for m in mine)],
                               "new token": [m.new_token for m in mine], "count": [m.count for m in mine]}),
                 hide_index=True)
    same = [m.pair for m in mine] == theirs
    (st.success if same else st.error)(
        f"Plain Python ({seconds:.2f} s) and Hugging Face `tokenizers` learned "
        + ("the same" if same else "DIFFERENT") + f" first {N_MERGES} merges on every {SCRATCH_EVERY}th verse.")
    ui.code_behind(tok.bpe_from_scratch, tok._merge_pair)


def math() -> None:
    st.markdown("Each BPE step picks the adjacent pair with the highest count over the corpus, weighted by how "
                "often each word occurs, and replaces it everywhere:")
    st.latex(r"(a, b)^\star = \arg\max_{(a,b)} \sum_{w \in \text{corpus}} \mathrm{count}(w)\cdot"
             r"\#\{\text{places where } b \text{ follows } a \text{ in } w\}")
    st.latex(r"\text{compression} = \frac{\text{characters}}{\text{tokens}}")
    st.markdown("WordPiece (BERT) picks the pair maximising count(ab) / (count(a)·count(b)) instead; "
                "SentencePiece's Unigram model starts big and prunes the tokens that least reduce the corpus "
                "likelihood. The **Tokenizers compared** section trains all three side by side.")
    ui.code_behind(tok.train_bpe, tok.train_bpe_budgeted, tok.truncate_bpe, tok.split_text, tok.chars_per_token)
    ui.papers(
        ("Neural Machine Translation of Rare Words with Subword Units (Sennrich et al. 2015 (arXiv 1508.07909), BPE)",
         "https://arxiv.org/abs/1508.07909"),
        ("Language Models are Unsupervised Multitask Learners (GPT-2, byte-level BPE)",
         "https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf"),
        ("SentencePiece (Kudo & Richardson 2018)", "https://arxiv.org/abs/1808.06226"),
    )
