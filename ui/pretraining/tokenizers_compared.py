"""Pretraining · Tokenizers compared: BPE, WordPiece and Unigram trained live on the same text
(core.pretraining.tokenizers_compare): characters per token against vocabulary size, how each splits code,
numbers and other languages, your own text, and BPE's encoding of a sentence replayed merge by merge.
"""
import streamlit as st

import ui
from core.charts import pretraining as chip_charts
from core.charts import pretraining_depth as charts
from core.pretraining import tokenizers_compare as tc
from core.state import Param
from ui.pretraining import bind

SIZE_SETS = {  # the vocabulary sizes trained side by side: 3 algorithms x 4 sizes, a few seconds on 2 cores
    "300 – 2,000": (300, 500, 1000, 2000),
    "500 – 4,000": (500, 1000, 2000, 4000),
    "1,000 – 8,000": (1000, 2000, 4000, 8000),
}
ALL_SIZES = tuple(sorted({v for sizes in SIZE_SETS.values() for v in sizes}))
MAX_TEXT = 300
PARAMS = [
    Param("tc_sizes", "500 – 4,000", choices=tuple(SIZE_SETS)),
    Param("tc_chars", 200_000, 50_000, tc.MAX_TRAIN_CHARS, step=50_000),
    Param("tc_view", 1000, choices=ALL_SIZES),
    Param("tc_text", "Café prices: $1,299.99 in 2024; print(f'{x:>8}') → 日本語", max_len=MAX_TEXT),
    Param("tc_sentence", "the firstborn of Egypt", max_len=tc.MAX_SENTENCE),
]


def _view_in_set(values: dict) -> dict:
    """The size whose splits are shown must be one of the sizes trained: the nearest one."""
    sizes = SIZE_SETS[values["tc_sizes"]]
    view = min(sizes, key=lambda v: abs(v - values["tc_view"]))
    return {**values, "tc_view": view}


# ~12 trainings and 12 x 8 sample splits: a few hundred kB. Unigram's EM is the slowest part.
@ui.cached_compute(max_entries=16, max_size="16MB")
def _compare(sizes: tuple[int, ...], train_chars: int) -> tc.Comparison:
    return tc.compare(sizes, train_chars=train_chars, heldout_chars=50_000)


@ui.cached_compute(max_entries=48, max_size="48MB")  # a tokenizer of <= 8,000 entries pickles to ~0.5 MB
def _tokenizer(algorithm: str, size: int, train_chars: int):
    return tc.train_on_corpus(algorithm, size, train_chars)


def _chips(tokenizer, algorithm: str, text: str) -> None:
    enc = tokenizer.encode(text, add_special_tokens=False)
    pieces, n_unknown = tc.pieces(tokenizer, algorithm, text)
    unknown = f", {n_unknown} unknown" if n_unknown else ""
    st.markdown(f"**{algorithm}**: {len(enc.ids)} tokens{unknown}, "
                f"{len(text) / max(len(enc.ids), 1):.2f} characters per token")
    st.html(chip_charts.token_chips_html(pieces, enc.ids))


def _your_text(size: int, train_chars: int) -> None:
    st.subheader("Your text, three ways")
    st.text_area("Text to split", key="tc_text", height=68, max_chars=MAX_TEXT)
    text = ui.text_input_checked(st.session_state.tc_text, MAX_TEXT, "text")
    if text is None:
        return
    with ui.heavy("Training the three tokenizers"):
        trained = {a: _tokenizer(a, size, train_chars) for a in tc.ALGORITHMS}
    for algorithm, tokenizer in trained.items():
        _chips(tokenizer, algorithm, text)
    st.caption("Byte-level BPE never fails: a character it has not seen is spelled from its UTF-8 bytes (hex). "
               "WordPiece turns a whole word with an unknown character into [UNK]; Unigram (byte fallback off, as "
               "here) turns runs of unknown characters into <unk>. `##` marks a WordPiece piece that continues a "
               "word, `▁` a Unigram piece that starts one, `␣` a byte-level BPE space.")


def _replay(size: int, train_chars: int) -> None:
    st.subheader("BPE, merge by merge")
    st.text_input("Sentence to encode", key="tc_sentence", max_chars=tc.MAX_SENTENCE)
    sentence = ui.text_input_checked(st.session_state.tc_sentence, tc.MAX_SENTENCE, "sentence")
    if sentence is None:
        return
    with ui.heavy("Training BPE"):
        bpe = _tokenizer("BPE", size, train_chars)
    steps = tc.bpe_steps(bpe, sentence)
    st.markdown(f"Encoding applies the learned merges in the order they were learned: at each step the "
                f"lowest-ranked merge present anywhere in the sentence. {len(steps) - 1} merges take it from "
                f"{sum(len(w) for w in steps[0].words)} bytes to {sum(len(w) for w in steps[-1].words)} tokens.")
    st.dataframe(charts.merge_steps_frame(steps), hide_index=True, width="stretch")
    st.caption("rank = the merge's position in the learned list (0 = learned first, the corpus's most frequent "
               "pair). The last row is exactly what `tokenizer.encode` returns (a unit test checks it).")


def render() -> None:
    st.markdown(
        "Three ways to learn a subword vocabulary, trained here on the same text with Hugging Face `tokenizers`. "
        "**BPE** (GPT-2, Llama) merges the most frequent adjacent pair, starting from bytes. **WordPiece** "
        "(BERT) splits words into the longest pieces it knows, marking continuations `##`. **Unigram** "
        "(SentencePiece: T5, ALBERT) starts from many candidate pieces and prunes those the corpus likelihood "
        "misses least. None of them sees code, prices or other scripts in the King James Bible: watch what "
        "each does with them.")
    bind(PARAMS, rules=(_view_in_set,))
    c1, c2, c3 = st.columns(3)
    c1.segmented_control("Vocabulary sizes trained", list(SIZE_SETS), key="tc_sizes", required=True)
    c2.slider("Training text (characters)", 50_000, tc.MAX_TRAIN_CHARS, step=50_000, key="tc_chars")
    sizes = SIZE_SETS[st.session_state.tc_sizes]
    c3.select_slider("Show splits at vocabulary size", sizes, key="tc_view")
    ui.sync_params(PARAMS)
    train_chars, view = int(st.session_state.tc_chars), int(st.session_state.tc_view)
    with ui.heavy("Training BPE, WordPiece and Unigram"):
        comparison = _compare(sizes, train_chars)
    ui.chart(charts.tokenizer_compression_chart, comparison)
    stats = charts.tokenizer_stats_frame(comparison)
    st.dataframe(stats.rename(columns={"requested_vocab": "asked", "vocab_size": "got",
                                       "chars_per_token": "chars per token", "unknown_rate": "unknown share",
                                       "train_seconds": "training (s)"}).round(4), hide_index=True, width="stretch")
    st.caption(f"Trained on {comparison.train_chars:,} characters (every 3rd training verse), measured on "
               f"{comparison.heldout_chars:,} held-out characters; training seconds measured on this server when "
               "first run (cached since). A trainer may stop below the size asked: Unigram keeps only pieces "
               "worth their likelihood, BPE stops when no pair repeats.")

    st.subheader(f"Code, numbers and other languages at {view:,} tokens")
    ui.chart(charts.tokenizer_samples_chart, comparison, view)
    st.dataframe(charts.splits_frame(comparison, view), hide_index=True, width="stretch",
                 column_config={"pieces": st.column_config.TextColumn(width="large")})
    _your_text(view, train_chars)
    _replay(view, train_chars)
    st.subheader("How they differ")
    st.markdown(
        "- **BPE** merges the pair with the highest count; encoding replays the merges in order.\n"
        "- **WordPiece** (as BERT describes it) merges the pair with the highest count(ab) / (count(a)·count(b)) "
        "and encodes greedily, longest match first. Note: Hugging Face's `WordPieceTrainer` learns its vocabulary "
        "with BPE's counts and only encodes the WordPiece way.\n"
        "- **Unigram** gives each piece a probability and picks the most likely segmentation (Viterbi); training "
        "(EM) drops the pieces whose loss hurts the likelihood least, which also allows sampling segmentations "
        "(subword regularisation).")
    ui.code_behind(tc.train, tc.bpe_steps)
    ui.papers(("Sennrich et al. 2015, BPE", "https://arxiv.org/abs/1508.07909"),
              ("BERT, WordPiece (Devlin et al. 2018)", "https://arxiv.org/abs/1810.04805"),
              ("Subword regularization, Unigram (Kudo 2018)", "https://arxiv.org/abs/1804.10959"),
              ("SentencePiece (Kudo & Richardson 2018)", "https://arxiv.org/abs/1808.06226"))
