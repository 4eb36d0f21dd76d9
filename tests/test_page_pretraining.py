"""AppTest of the Pretraining page: defaults, vocabulary size and text, URL state, and bad input."""
import pytest
from conftest import LONG_TEXT, ODD_TEXTS, ROOT, assert_ok, open_page
from test_page_transformer import HOSTILE_TEXTS

PAGE = "app_pages/pretraining.py"


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def _messages(at) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.error, at.success) for e in kind)


def test_defaults():
    at = open_page(PAGE)
    assert_ok(at, "Pretraining")
    captions = _captions(at)
    assert "1,000 tokens = 2 special + 256 bytes + 742 merges" in captions
    assert "decode(encode(text)) == text → **True**" in captions
    assert "learned the same first 20 merges" in _messages(at)
    table = next(df.value for df in at.dataframe if "chars_per_token" in df.value.columns)
    bpe = table[table.tokenizer == "BPE on the sample"].sort_values("vocab_size")
    assert bpe.chars_per_token.is_monotonic_increasing and len(bpe) == 6


def test_vocab_size_and_text():
    at = open_page(PAGE)
    at.slider(key="vocab").set_value(3000)
    at.text_area(key="text").input("And Moses said unto the LORD")
    at.run()
    assert_ok(at, "Pretraining")
    assert "3,000 tokens = 2 special + 256 bytes + 2,742 merges" in _captions(at)
    assert any(m.value.startswith("**Your BPE (3,000 tokens)**") for m in at.markdown)
    assert at.query_params["vocab"] == "3000"
    assert at.query_params["text"] == "And Moses said unto the LORD"


def test_odd_texts_give_a_message():
    at = open_page(PAGE)
    expected = {"": "Type some text", "   \n\t ": "Type some text", LONG_TEXT: "takes at most 500",
                ODD_TEXTS[3]: "Non-ASCII text"}
    for text in ODD_TEXTS:
        at.text_area(key="text").input(text)
        at.run()
        assert_ok(at, "Pretraining")
        assert expected[text] in _messages(at), (text[:20], _messages(at))
        if text == ODD_TEXTS[3]:
            assert "decode(encode(text)) == text → **True**" in _captions(at)


def test_url_state_is_read_and_clamped():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)  # the page alone, as a shared link opens it
    at.query_params.update({"vocab": "12", "text": "Behold"})
    at.run()
    assert_ok(at, "Pretraining")
    assert at.slider(key="vocab").value == 300 and at.text_area(key="text").value == "Behold"
    assert "300 tokens = 2 special + 256 bytes + 42 merges" in _captions(at)


def test_hostile_texts_are_shown_as_plain_text():
    at = open_page(PAGE)
    for text in HOSTILE_TEXTS:
        at.text_area(key="text").input(text)
        at.run()
        assert_ok(at, "Pretraining")
        chips = "".join(h.proto.body for h in at.get("html"))
        assert "<script" not in chips and "<img" not in chips  # every token is HTML-escaped
        if "<script>" in text:
            assert "&lt;" in chips and "&gt;" in chips


@pytest.mark.parametrize("raw, snapped", [("301", 300), ("1049", 1000), ("1e3", 1000), ("99999", 8000),
                                          ("-5", 300), ("banana", 1000)])
def test_url_vocab_lands_on_the_slider_grid(raw, snapped):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update({"vocab": raw})
    at.run()
    assert_ok(at, "Pretraining")
    assert at.slider(key="vocab").value == snapped
    assert f"{snapped:,} tokens = 2 special + 256 bytes + {snapped - 258:,} merges" in _captions(at)
