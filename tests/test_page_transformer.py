"""AppTest of the Transformer page: defaults, the main widgets, URL state, and bad input."""
import re

import pytest
from conftest import LONG_TEXT, ODD_TEXTS, ROOT, assert_ok, open_page

from core.models import model_path

PAGE = "app_pages/transformer.py"
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
    assert any(c.value == "Layer 4, every head." for c in at.caption)
    assert float(_metric(at, "max |from scratch − model|")) < 1e-5
    assert at.query_params["layer"] == "4" and at.query_params["head"] == "7"


def test_causal_mask_changes_the_map():
    at = open_page(PAGE)
    at.toggle(key="causal_mask").set_value(True)
    at.run()
    assert_ok(at, "Transformer")
    assert float(_metric(at, "max |from scratch − model|")) > 0.01
    assert float(_metric(at, "max |recomputed output − model|")) > 0.01  # the mask changes the output too
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


# ---- attention, completed: the layer's output, the model view, the head view -----------------------------------
def test_head_view_toggles_heads_and_follows_the_layer():
    at = open_page(PAGE)
    assert float(_metric(at, "max |recomputed output − model|")) < 1e-5
    assert _metric(at, "output (T, C)") == "13 × 384"
    assert at.pills(key="hv_heads_pick").value == list(range(1, 13))
    assert at.query_params["hv_heads"] == "all"
    subheaders = [s.value for s in at.subheader]
    assert {"Every layer and head at once: the model view", "Lines between tokens: the head view",
            "The layer's output: probs · V, concatenated, W_O"} <= set(subheaders)
    at.pills(key="hv_heads_pick").set_value([7, 2])
    at.slider(key="layer").set_value(3)
    at.run()
    assert_ok(at, "Transformer")
    assert at.query_params["hv_heads"] == "2,7" and at.query_params["layer"] == "3"
    assert any("for 2 head(s) of layer 3" in c.value for c in at.caption)
    assert float(_metric(at, "max |recomputed output − model|")) < 1e-5  # layer 3's output now
    at.pills(key="hv_heads_pick").set_value([]).run()
    assert_ok(at, "Transformer")
    assert at.query_params["hv_heads"] == "none" and "Pick at least one head" in _messages(at)
    assert [s.value for s in at.subheader] == subheaders  # the outline does not depend on the heads


@pytest.mark.parametrize("raw, heads, url", [("12,1,5", [1, 5, 12], "1,5,12"), ("none", [], "none"),
                                             ("0,13", list(range(1, 13)), "all"),
                                             ("<script>alert(1)</script>", list(range(1, 13)), "all")])
def test_head_view_heads_come_from_the_url(raw, heads, url):
    from ui.transformer.basics import PARAMS

    (param,) = [p for p in PARAMS if p.key == "hv_heads"]
    assert param.parse(raw) == url and param.dump(param.parse(url)) == url  # a clean URL reads back as itself
    if raw != "12,1,5":
        return  # one page run is enough: the rest is the Param's parsing
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update({"hv_heads": raw, "layer": "6"})
    at.run()
    assert_ok(at, "Transformer")
    assert at.pills(key="hv_heads_pick").value == heads
    assert at.query_params["hv_heads"] == url
    assert any("for 3 head(s) of layer 6" in c.value for c in at.caption)


# ---- the deeper sections, one at a time (`t_section` in the URL) ------------------------------------------------
SECTIONS = ("Tokens and attention", "Model size", "Toy attention lab", "Positions", "The block", "Logit lens")
HEADERS = {"Model size": "How big is a model?", "Toy attention lab": "Toy attention lab", "Positions": "Positions",
           "The block": "The block", "Logit lens": "Logit lens"}


def _section(name: str, **query):
    """The page alone, opened by a link at section `name` with extra URL parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update({"t_section": name, **query})
    at.run()
    return at


def _headers(at) -> list[str]:
    return [h.value for h in at.header]


def test_section_switch_keeps_the_url_and_the_first_section_is_the_default():
    at = open_page(PAGE)
    assert at.segmented_control(key="t_section").value == "Tokens and attention"
    assert at.query_params["t_section"] == "Tokens and attention"
    at.segmented_control(key="t_section").set_value("Model size").run()
    assert_ok(at, "Transformer")
    assert _headers(at) == ["How big is a model?"]  # one section at a time
    assert at.query_params["t_section"] == "Model size"
    at.segmented_control(key="t_section").set_value("Tokens and attention").run()
    assert_ok(at, "Transformer")
    assert "1 · Tokens" in _headers(at)


@pytest.mark.parametrize("name", list(HEADERS))
def test_a_deep_link_opens_its_section_with_defaults(name):
    at = _section(name)
    assert_ok(at, "Transformer")
    assert at.segmented_control(key="t_section").value == name
    assert _headers(at)[0] == HEADERS[name]
    assert "1 · Tokens" not in _headers(at)
    assert not at.warning, [w.value for w in at.warning]
    assert any(s.value == "Check yourself" for s in at.subheader)  # the quiz closes every section


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "model size", "", "9" * 400])
def test_an_unknown_section_falls_back_to_the_first(value):
    at = _section(value)
    assert_ok(at, "Transformer")
    assert at.segmented_control(key="t_section").value == "Tokens and attention"
    assert "1 · Tokens" in _headers(at)


# ---- How big is a model? ---------------------------------------------------------------------------------------
def test_model_size_preset_change_updates_the_numbers():
    from core.transformer import calculator as calc

    at = _section("Model size")
    assert _metric(at, "parameters") == f"{calc.parameters(calc.preset('Llama-2-7B')).total:,}" == "6,738,415,616"
    for name in ("Mistral-7B", "all-MiniLM-L6-v2"):
        at.selectbox(key="calc_preset").set_value(name).run()
        assert_ok(at, "Transformer")
        cfg = calc.preset(name)
        assert _metric(at, "parameters") == f"{calc.parameters(cfg).total:,}"
        assert at.number_input(key="calc_layers").value == cfg.layers  # the overrides follow the preset
        assert at.number_input(key="calc_kv_heads").value == cfg.kv_heads
        assert at.query_params["calc_preset"] == name
    assert _metric(at, "KV cache per token") == "none (encoder)"
    published = {row["model"]: row for row in at.dataframe[2].value.to_dict("records")}
    assert set(published) == {c.name for c in calc.PRESETS}
    assert all(abs(float(r["difference"].rstrip("%"))) < 1.0 and r["source"] for r in published.values())


def test_model_size_overrides_and_the_kv_heads_rule():
    from core.transformer import calculator as calc

    at = _section("Model size")
    at.number_input(key="calc_kv_heads").set_value(5).run()  # 5 does not divide 32 heads: the largest divisor below
    assert_ok(at, "Transformer")
    assert at.number_input(key="calc_kv_heads").value == 4
    gqa = calc.with_changes(calc.preset("Llama-2-7B"), kv_heads=4)
    assert _metric(at, "parameters") == f"{calc.parameters(gqa).total:,}"
    assert _metric(at, "published") == "(modified)"
    assert _metric(at, "KV cache per token") == calc.human(calc.kv_cache_bytes_per_token(gqa), "B") == "64.00 KiB"
    at.slider(key="calc_batch").set_value(8)
    at.radio(key="calc_recompute").set_value("full")
    at.toggle(key="calc_tied").set_value(True)
    at.run()
    assert_ok(at, "Transformer")
    tied = calc.with_changes(gqa, tied_embeddings=True)
    assert _metric(at, "parameters") == f"{calc.parameters(tied).total:,}"
    train = calc.training_memory(tied, True, "adam", 8, 4096, "full")
    assert _metric(at, "training memory") == calc.human(train.total, "B")
    assert at.query_params["calc_kv_heads"] == "4" and at.query_params["calc_tied"] == "true"


# ---- Toy attention lab ------------------------------------------------------------------------------------------
def _entropy(at) -> float:
    return float(_metric(at, "mean row entropy").split()[0])


def test_toy_lab_scaling_off_lowers_the_entropy():
    at = _section("Toy attention lab")
    scaled = _entropy(at)
    at.toggle(key="toy_scale").set_value(False).run()
    assert_ok(at, "Transformer")
    assert _entropy(at) < scaled
    assert at.query_params["toy_scale"] == "false"


def test_toy_lab_causal_mask_zeroes_the_upper_triangle():
    import numpy as np

    at = _section("Toy attention lab", toy_mask="none", toy_T="8")
    probs = at.dataframe[0].value.to_numpy()  # the followed head's probs, as numbers
    assert probs.shape == (8, 8) and probs[np.triu_indices(8, k=1)].min() > 0
    at.radio(key="toy_mask").set_value("causal").run()
    assert_ok(at, "Transformer")
    probs = at.dataframe[0].value.to_numpy()
    assert np.all(probs[np.triu_indices(8, k=1)] == 0) and np.allclose(probs.sum(1), 1, atol=1e-3)
    at.radio(key="toy_mask").set_value("padding").run()  # the padding count is enabled with its mask
    at.number_input(key="toy_n_pad").set_value(3).run()
    assert_ok(at, "Transformer")
    assert np.all(at.dataframe[0].value.to_numpy()[:, -3:] == 0)  # no query looks at a padding key


def test_toy_lab_rules_hold_when_a_widget_moves():
    at = _section("Toy attention lab", toy_d_k="64", toy_heads="2")
    assert at.slider(key="toy_d_k").value == 64
    at.slider(key="toy_heads").set_value(16).run()  # 16 heads × 64 > 256: d_k gives way
    assert_ok(at, "Transformer")
    assert at.slider(key="toy_d_k").value == 16
    at.slider(key="toy_head").set_value(16).run()
    at.slider(key="toy_heads").set_value(3).run()  # the head followed must exist
    assert_ok(at, "Transformer")
    assert at.slider(key="toy_head").value == 3
    at.radio(key="toy_mask").set_value("padding").run()
    at.number_input(key="toy_n_pad").set_value(20).run()
    at.slider(key="toy_T").set_value(4).run()  # at least one real token
    assert_ok(at, "Transformer")
    assert at.number_input(key="toy_n_pad").value == 3


# ---- Positions, the block, the logit lens ---------------------------------------------------------------------
@needs_tiny_lm
def test_positions_rope_depends_on_distance_and_attention_is_order_blind():
    at = _section("Positions")
    assert float(_metric(at, "max spread across key positions")) < 1e-9
    assert float(_metric(at, "no positions: max |attn(shuffled) − shuffled attn|")) < 1e-9
    assert float(_metric(at, "with RoPE")) > 1e-3 and float(_metric(at, "causal mask, no positions")) > 1e-3
    at.slider(key="pos_layer").set_value(5)
    at.slider(key="pos_head").set_value(6)
    at.number_input(key="pos_query").set_value(40)  # past the prompt's 6 tokens: its last, with a note
    at.slider(key="pos_T").set_value(100)
    at.run()
    assert_ok(at, "Transformer")
    assert "so the query is token 5" in _messages(at)
    assert float(_metric(at, "max spread across key positions")) < 1e-9
    assert at.query_params["pos_layer"] == "5" and at.query_params["pos_T"] == "100"


def test_positions_one_encoding_table_at_a_time():
    at = _section("Positions", pos_T="128", pos_C="256")
    assert len(at.get("vega_lite_chart")) == 3  # the table, RoPE's distance curve, the shuffled norms
    for table in ("learned (untrained)", "RoPE angles", "similarity", "MiniLM (trained)"):
        at.segmented_control(key="pos_table").set_value(table).run()
        assert_ok(at, "Transformer")
        assert at.query_params["pos_table"] == table
    assert at.slider(key="pos_C").disabled and at.slider(key="pos_D").disabled  # MiniLM's table is 384 wide
    assert "for neighbouring positions" in "\n".join(c.value for c in at.caption)


@needs_tiny_lm
def test_the_block_matches_the_model_at_every_layer_choice():
    at = _section("The block")
    assert float(_metric(at, "max |by hand − model|, block output")) < 1e-4
    for label in ("heads concatenated (probs · V)", "output dense (concat W_O + b)",
                  "sub-layer (LayerNorm(x + dense))"):
        assert float(_metric(at, label)) < 1e-4
    stages = at.dataframe[0].value
    assert list(stages.columns) == ["stage", "module", "formula", "shape (T, width)", "mean |token|"]
    assert stages["stage"].iloc[0] == "token embedding" and stages["module"].str.contains("q_proj").any()
    assert [r["family"] for r in at.dataframe[1].value.to_dict("records")] == [
        "encoder-only", "decoder-only", "encoder-decoder"]
    at.slider(key="blk_layer").set_value(6)  # the last block: compared after the final norm
    at.selectbox(key="blk_stage").set_value(12)
    at.run()
    assert_ok(at, "Transformer")
    assert float(_metric(at, "max |by hand − model|, block output")) < 1e-4
    assert at.query_params["blk_layer"] == "6" and at.query_params["blk_stage"] == "12"


@needs_tiny_lm
def test_logit_lens_top_k_and_the_next_token_probability():
    at = _section("Logit lens")
    assert 0 < float(_metric(at, "mean p(actual next token), last layer")) <= 1
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["embedding"] + [f"layer {i}" for i in range(1, 7)]
    assert table["top 3"].str.count(" · ").eq(2).all()
    at.slider(key="lens_top_k").set_value(7).run()
    assert_ok(at, "Transformer")
    assert at.dataframe[0].value["top 7"].str.count(" · ").eq(6).all()
    at.text_input(key="lens_prompt").input("And").run()  # one token: nothing of the prompt left to predict
    assert_ok(at, "Transformer")
    assert "one-token prompt" in _messages(at)


# ---- links past the widgets, and text meant to break the page -------------------------------------------------
@pytest.mark.parametrize("name, query, expected", [
    ("Model size", {"calc_heads": "32", "calc_kv_heads": "7", "calc_batch": "1e9", "calc_seq": "1000",
                    "calc_width": "-5", "calc_precision": "FP64", "calc_mixed": "maybe"},
     {"calc_kv_heads": 4, "calc_batch": 64, "calc_seq": 1024, "calc_width": 64, "calc_heads": 32,
      "calc_precision": "BF16/FP16", "calc_mixed": True}),
    ("Model size", {"calc_preset": "<img src=x>", "calc_layers": "nan"},
     {"calc_preset": "Llama-2-7B", "calc_layers": 32}),
    ("Toy attention lab", {"toy_T": "999", "toy_d_k": "999", "toy_heads": "16", "toy_mask": "padding",
                           "toy_n_pad": "1e9", "toy_head": "-4", "toy_seed": "inf"},
     {"toy_T": 32, "toy_d_k": 16, "toy_heads": 16, "toy_n_pad": 31, "toy_head": 1, "toy_seed": 0}),
    ("Toy attention lab", {"toy_T": "3", "toy_mask": "padding", "toy_n_pad": "9", "toy_head": "9", "toy_heads": "2.6"},
     {"toy_T": 3, "toy_n_pad": 2, "toy_heads": 2, "toy_head": 2}),  # whole heads: 2.6 -> 2
    ("Positions", {"pos_T": "-5", "pos_C": "255", "pos_D": "1e9", "pos_query": "63", "pos_layer": "0"},
     {"pos_T": 1, "pos_C": 254, "pos_D": 256, "pos_query": 63, "pos_layer": 1}),
    ("The block", {"blk_layer": "99", "blk_stage": "99"}, {"blk_layer": 6, "blk_stage": 17}),
    ("Logit lens", {"lens_top_k": "nan"}, {"lens_top_k": 3}),
])
def test_hostile_url_values_are_clamped(name, query, expected):
    at = _section(name, **query)
    assert_ok(at, "Transformer")
    for key, value in expected.items():
        assert at.get_by_key(key).value == value, (key, at.get_by_key(key).value)


@needs_tiny_lm
@pytest.mark.parametrize("name, key", [("Positions", "pos_prompt"), ("The block", "blk_prompt"),
                                       ("Logit lens", "lens_prompt")])
def test_hostile_prompts_in_the_deeper_sections(name, key):
    at = _section(name)
    for text in [*HOSTILE_TEXTS, "", "   \n\t "]:
        at.text_input(key=key).input(text).run()
        assert_ok(at, "Transformer")
        assert "<script" not in "".join(h.proto.body for h in at.get("html"))
        assert not any("alert" in c.value or "javascript" in c.value for c in [*at.caption, *at.markdown])
        if not text.strip():
            assert "Type some prompt" in _messages(at)
