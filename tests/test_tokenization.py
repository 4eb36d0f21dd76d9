"""core.pretraining.tokenization and core.charts.pretraining: a hand-worked BPE case, round trips, the plain-Python
trainer against Hugging Face `tokenizers`, truncation against training at that size."""
import pandas as pd
import pytest

from core.charts import pretraining as charts
from core.pretraining import tokenization as tok
from core.pretraining.data import corpus_text

NON_ASCII = "Ünïcødé 日本語のテキスト 🤖 ∑ √ ≠ naïve café"


@pytest.fixture(scope="module")
def sample() -> list[str]:
    return tok.training_sample(every=40)  # ~100 kB: trains in a fraction of a second


@pytest.fixture(scope="module")
def heldout() -> list[str]:
    return corpus_text("heldout").splitlines()[:1500]


@pytest.fixture(scope="module")
def bpe_2000(sample):
    return tok.train_bpe(sample, 2000)


def test_hand_worked_first_merges():
    # words 'aaab' and 'Ġaaab' (Ġ = the space). Pairs: (a,a) 4, (a,b) 2, (Ġ,a) 1 -> merge 'aa'.
    # Then 'aa a b': (aa,a) 2 and (a,b) 2 tie; the smaller ids win: 'a' < 'aa', so (a,b). Then (aa,ab) 2.
    expected = [("a", "a"), ("a", "b"), ("aa", "ab")]
    assert tok.merges(tok.train_bpe(["aaab aaab"], 300), 3) == expected
    scratch = tok.bpe_from_scratch(["aaab aaab"], 3)
    assert [m.pair for m in scratch] == expected
    assert [m.count for m in scratch] == [4, 2, 2]
    assert [m.new_token for m in scratch] == ["aa", "ab", "aaab"]


def test_merge_pair_is_left_to_right_and_non_overlapping():
    assert tok._merge_pair(list("aaab"), ("a", "a"), "aa") == ["aa", "a", "b"]
    assert tok._merge_pair(list("aaaa"), ("a", "a"), "aa") == ["aa", "aa"]


def test_scratch_trainer_equals_huggingface_on_kjv(sample):
    n = 40
    mine = tok.bpe_from_scratch(sample, n)
    assert [m.pair for m in mine] == tok.merges(tok.train_bpe(sample, tok.N_BASE + n), n)
    assert all(a.count >= b.count for a, b in zip(mine, mine[1:]))  # greedy: counts never rise


@pytest.mark.parametrize("vocab_size", [300, 2000])
def test_vocab_size_is_honoured(sample, vocab_size):
    assert tok.train_bpe(sample, vocab_size).get_vocab_size() == vocab_size


def test_training_stops_when_no_pair_repeats():
    tokenizer = tok.train_bpe(["the cat"], 1000)
    assert tokenizer.get_vocab_size() < 300  # only pairs seen at least twice are merged


@pytest.mark.parametrize("text", ["In the beginning God created the heaven and the earth.", NON_ASCII,
                                  "  two  spaces\nand a newline\t", ""])
def test_round_trip(bpe_2000, text):
    assert bpe_2000.decode(bpe_2000.encode(text).ids) == text
    bundled = tok.load_bundled_tokenizer()
    assert bundled.decode(bundled.encode(text).ids) == text


def test_bundled_tokenizer_is_4096():
    assert tok.load_bundled_tokenizer().get_vocab_size() == 4096


def test_truncate_equals_training_at_that_size(sample, bpe_2000):
    small, direct = tok.truncate_bpe(bpe_2000, 700), tok.train_bpe(sample, 700)
    assert small.get_vocab() == direct.get_vocab()
    for text in ["And Moses said unto the LORD, Behold.", NON_ASCII]:
        assert small.encode(text).ids == direct.encode(text).ids
        assert small.decode(small.encode(text).ids) == text


def test_chars_per_token_rises_with_vocab_size(bpe_2000, heldout):
    curve = tok.compression_curve(bpe_2000, [300, 500, 1000, 2000, 9999], heldout)
    assert [p.vocab_size for p in curve] == [300, 500, 1000, 2000]  # sizes beyond the run are dropped
    values = [p.chars_per_token for p in curve]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert 1.0 < values[0] < values[-1] < 6.0


def test_chars_per_token_is_a_direct_count(bpe_2000):
    lines = ["and the earth", "was without form"]
    n = len(bpe_2000.encode(lines[0]).ids) + len(bpe_2000.encode(lines[1]).ids)
    assert tok.chars_per_token(bpe_2000, lines) == pytest.approx((13 + 16) / n)


def test_token_bytes_and_readable():
    assert tok.token_bytes("Ġcat") == b" cat"
    assert tok.token_bytes("Ċ") == b"\n"
    assert tok.readable("Ġcat") == " cat"
    day = "日".encode()  # 3 bytes: e6 97 a5
    first_two = "".join(tok.char_of_byte()[b] for b in day[:2])
    assert tok.readable(first_two) == "<e6 97>"


def test_split_text_byte_level(bpe_2000):
    split = tok.split_text(bpe_2000, "the LORD 日")
    assert "".join(split.tokens[:-3]) == "the LORD "
    assert split.tokens[-3:] == ["<e6>", "<97>", "<a5>"]  # no KJV merge joins these bytes: one token each
    assert split.chars_per_token == pytest.approx(len("the LORD 日") / len(split.ids))


def test_split_text_wordpiece():
    from transformers import AutoTokenizer

    from core.models import model_path

    wordpiece = AutoTokenizer.from_pretrained(model_path("minilm"))
    # MiniLM's tokenizer.json pads and truncates to 128: neither may leak into the counts,
    # and the shared tokenizer must not be changed to achieve that
    padding = wordpiece.backend_tokenizer.padding
    assert padding is not None and padding["length"] == 128
    split = tok.split_text(wordpiece, "Unbelievably good")
    assert split.tokens == ["un", "##bel", "##ie", "##va", "##bly", "good"]
    assert len(tok.split_text(wordpiece, "word " * 300).ids) == 300
    assert tok.chars_per_token(wordpiece, ["good"]) == 4.0
    assert wordpiece.backend_tokenizer.padding == padding
    assert split.ids == wordpiece("Unbelievably good", add_special_tokens=False)["input_ids"]


# ---- charts --------------------------------------------------------------------------------------
def test_compression_chart_spec():
    curve = pd.DataFrame({"vocab_size": [300, 1000], "chars_per_token": [1.5, 3.0]})
    refs = pd.DataFrame({"tokenizer": ["bundled"], "vocab_size": [4096], "chars_per_token": [4.0]})
    spec = charts.compression_chart(curve, refs, chosen=1000).to_dict()
    assert len(spec["layer"]) == 3
    assert spec["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    with pytest.raises(ValueError, match="chars_per_token"):
        charts.compression_chart(pd.DataFrame({"vocab_size": [1]}))


def test_token_chips_escape_html():
    html = charts.token_chips_html(["<script>", " the", "\n"], [1, 2, 3])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "␣the" in html and "↵" in html and html.count("<span") == 3
    with pytest.raises(ValueError):
        charts.token_chips_html(["a"], [1, 2])


# ---- budgets ---------------------------------------------------------------------------------------
def test_thin_lines_hand_worked():
    lines = ["ab", "cd", "ef"]  # 3 characters each, newline counted: 9 in all
    assert tok.thin_lines(lines, 9) == lines
    assert tok.thin_lines(lines, 6) == ["ab", "ef"]  # stride ceil(9 / 6) = 2
    assert tok.thin_lines(lines, 3) == ["ab"]  # stride 3
    assert tok.thin_lines(lines, 2) == [] and tok.thin_lines(lines, 0) == []
    long = tok.training_sample(every=40)
    thinned = tok.thin_lines(long, 20_000)
    assert sum(len(line) + 1 for line in thinned) <= 20_000 and thinned[0] == long[0]


def test_default_budget_admits_the_pages_largest_request():
    # Counted, not timed: the page trains on the every-3rd-verse sample at up to 8,000 tokens.
    budget, n_chars = tok.TrainBudget(), sum(len(line) + 1 for line in tok.training_sample())
    assert n_chars <= budget.max_chars and n_chars * budget.max_vocab <= budget.max_chars_x_vocab
    heldout = corpus_text("heldout").splitlines()
    assert sum(len(line) + 1 for line in heldout) <= tok.MeasureBudget().max_chars


def test_train_bpe_budgeted_cuts_and_says_so(sample):
    budget = tok.TrainBudget(max_chars=20_000, max_vocab=600, max_chars_x_vocab=20_000 * 400)
    run = tok.train_bpe_budgeted(sample, 5000, budget)
    thinned = tok.thin_lines(sample, 20_000)
    assert run.n_chars == sum(len(line) + 1 for line in thinned) <= 20_000 and run.n_lines == len(thinned)
    vocab = 20_000 * 400 // run.n_chars  # characters x vocabulary binds before max_vocab
    assert 400 <= vocab < 600 and run.tokenizer.get_vocab_size() == vocab
    # the same as training directly on the thinned text at that size
    assert run.tokenizer.get_vocab() == tok.train_bpe(thinned, vocab).get_vocab()
    assert run.notes[0].startswith(f"trained on {run.n_chars:,} of ") and f"5,000 tokens asked; this run trains {vocab:,}" in run.notes[1]
    small = tok.train_bpe_budgeted(["aaab aaab"], 10)  # below the 258 base tokens: raised to them
    assert small.notes == ("10 tokens asked; this run trains 258 (between 258 and 8,000 on this text)",)
    fits = tok.train_bpe_budgeted(sample[:200], 400)
    assert fits.notes == () and fits.tokenizer.get_vocab() == tok.train_bpe(sample[:200], 400).get_vocab()


def test_measure_compression_within_budget(bpe_2000, heldout):
    budget = tok.MeasureBudget(max_chars=30_000, max_points=3)
    measured = tok.measure_compression(bpe_2000, [2000, 300, 9999, 500, 1000, 300], heldout, budget)
    lines = tok.thin_lines(heldout, 30_000)
    assert [p.vocab_size for p in measured.points] == [300, 500, 1000]  # the smallest three that exist
    assert measured.points == tok.compression_curve(bpe_2000, [300, 500, 1000], lines)
    assert measured.n_chars == sum(map(len, lines))
    assert measured.notes == (f"measured on {len(lines):,} of {len(heldout):,} held-out lines (the limit is 30,000 characters)",
                              "sizes above this tokenizer's 2,000 tokens dropped: 9999",
                              "4 sizes asked; a curve has at most 3 points")
    assert tok.measure_compression(bpe_2000, [300], heldout[:100]).notes == ()
