"""AppTest of the Transformer page: defaults, the main widgets, URL state, and bad input."""
import re

import pytest
from conftest import LONG_TEXT, ODD_TEXTS, ROOT, assert_ok, open_page

from core.models import model_path

PAGE = "pages/transformer.py"
# Text built to break a page: control characters and an ANSI escape, emoji sequences, right-to-left scripts
# with a direction override, HTML and Markdown injection. Each must be shown as plain text, never run.
HOSTILE_TEXTS = [
    "\x00\x01\x07\x1b[31mred\x1b[0m\x7f",
    "🤖👩‍👩‍👧‍👦🏳️‍🌈",
    "שלום עולם — مرحبا بالعالم \u202eevil\u202c",
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "[click](javascript:alert(1)) **bold** $x^2$ :red[red] <b>b</b> # heading",
]


def _has_tiny_lm() -> bool:
    try:
        model_path("tiny-lm")
        return True
    except FileNotFoundError:
        return False


needs_tiny_lm = pytest.mark.skipif(not _has_tiny_lm(), reason="assets/models/tiny-lm not built yet")


def _metric(at, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def _messages(at) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.error, at.success) for e in kind)


def test_defaults():
    at = open_page(PAGE)
    assert_ok(at, "Transformer")
    assert float(_metric(at, "max |from scratch − model|")) < 1e-5
    assert "13 tokens for 44 characters" in "\n".join(c.value for c in at.caption)
    assert any("layer 6, head 12" in c.value for c in at.caption)  # the head linking 'it' to 'cat'


def test_layer_and_head_sliders_and_url():
    at = open_page(PAGE)
    at.slider(key="layer").set_value(4)
    at.slider(key="head").set_value(7)
    at.run()
    assert_ok(at, "Transformer")
    assert any(s.value == "All 12 heads of layer 4 at a glance" for s in at.subheader)
    assert float(_metric(at, "max |from scratch − model|")) < 1e-5
    assert at.query_params["layer"] == "4" and at.query_params["head"] == "7"


def test_causal_mask_changes_the_map():
    at = open_page(PAGE)
    at.toggle(key="causal_mask").set_value(True)
    at.run()
    assert_ok(at, "Transformer")
    assert float(_metric(at, "max |from scratch − model|")) > 0.01
    assert "causal mask" in _messages(at)


@needs_tiny_lm
def test_temperature_reshapes_the_distribution():
    at = open_page(PAGE)
    default_bits = float(_metric(at, "entropy").split()[0])
    at.slider(key="temperature").set_value(0.3)
    at.run()
    assert_ok(at, "Transformer")
    cold_bits = float(_metric(at, "entropy").split()[0])
    assert cold_bits < default_bits
    assert at.query_params["temperature"] == "0.3"


EXPECTED = {"": "Type some sentence", "   \n\t ": "Type some sentence", LONG_TEXT: "takes at most 500",
            ODD_TEXTS[3]: "Non-ASCII text"}


def test_odd_sentences_give_a_message():
    at = open_page(PAGE)
    for text in ODD_TEXTS:
        at.text_area(key="sentence").input(text)
        at.run()
        assert_ok(at, "Transformer")
        assert EXPECTED[text] in _messages(at), (text[:20], _messages(at))
        if text is LONG_TEXT:
            assert re.search(r"the maps show the first 64", _messages(at))


def test_odd_prompts_give_a_message():
    at = open_page(PAGE)
    expected = {"": "Type some prompt", "   \n\t ": "Type some prompt", LONG_TEXT: "takes at most 500",
                ODD_TEXTS[3]: "Non-ASCII prompt"}
    for text in ODD_TEXTS:
        at.text_input(key="prompt").input(text)
        at.run()
        assert_ok(at, "Transformer")
        messages = _messages(at)
        assert expected[text] in messages or "Model not available" in messages, (text[:20], messages)


def test_url_state_is_read_and_clamped():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)  # the page alone, as a shared link opens it
    at.query_params.update({"layer": "99", "head": "3", "temperature": "0.5", "sentence": "A dog barked."})
    at.run()
    assert_ok(at, "Transformer")
    assert at.slider(key="layer").value == 6 and at.slider(key="head").value == 3
    assert at.slider(key="temperature").value == 0.5
    assert "6 tokens for 13 characters" in "\n".join(c.value for c in at.caption)


def test_hostile_sentences_and_prompts_are_plain_text():
    at = open_page(PAGE)
    for text in HOSTILE_TEXTS:
        at.text_area(key="sentence").input(text)
        at.text_input(key="prompt").input(text)
        at.run()
        assert_ok(at, "Transformer")
        chips = "".join(h.proto.body for h in at.get("html"))
        assert "<script" not in chips and "<img" not in chips  # WordPiece chips are HTML-escaped
        # nothing the viewer typed reaches Markdown: the prompt's tokens are shown in a code block
        assert not any("alert" in c.value or "javascript" in c.value for c in [*at.caption, *at.markdown])


@pytest.mark.parametrize("params, layer, head, temperature", [
    ({"layer": "2.6", "head": "0", "temperature": "0.33"}, 2, 1, 0.35),  # whole layers; τ on the 0.05 grid
    ({"layer": "-3", "head": "1e9", "temperature": "nan"}, 1, 12, 1.0),
    ({"layer": "<script>", "head": "[x](javascript:alert(1))", "temperature": "1.999"}, 1, 1, 2.0),
])
def test_url_values_land_on_the_slider_grid(params, layer, head, temperature):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert_ok(at, "Transformer")
    assert at.slider(key="layer").value == layer and at.slider(key="head").value == head
    assert at.slider(key="temperature").value == pytest.approx(temperature)
