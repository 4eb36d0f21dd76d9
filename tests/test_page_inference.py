"""AppTest of the Inference page: every section opens; Decoding, KV cache and Speculative decoding with
their main widgets moved, bad prompts, and the URL state; links past the work budgets (odd values snapped,
extreme values cut with a message); measurements that run only on their own button.
(Quantization and Serving have their own files for their widgets.)"""
import re

import pytest
from conftest import ODD_TEXTS, ROOT, assert_ok, open_page

PAGE = "app_pages/inference.py"


def section(name: str, at=None):
    at = at or open_page(PAGE)
    at.segmented_control(key="section").set_value(name)
    return at.run()


def metric(at, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def messages(at) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.error, at.success) for e in kind)


def test_defaults_open_on_decoding():
    at = open_page(PAGE)
    assert_ok(at, "Inference")
    assert any("Decoding strategies" in h.value for h in at.header)
    assert at.code[0].value.startswith("And God said, Let there be")  # the prompt and its continuation
    assert at.segmented_control(key="dec_strategy").value == "greedy"
    assert at.query_params["section"] == "Decoding"


@pytest.mark.parametrize("strategy", ["temperature", "top-k", "top-p", "beam"])
def test_every_strategy_with_its_knobs(strategy):
    at = open_page(PAGE)
    at.segmented_control(key="dec_strategy").set_value(strategy).run()
    knobs = {"dec_temp": 0.7, "dec_top_k": 5, "dec_top_p": 0.6, "dec_beams": 4}
    enabled = {"temperature": ["dec_temp"], "top-k": ["dec_temp", "dec_top_k"], "top-p": ["dec_temp", "dec_top_p"],
               "beam": ["dec_beams"]}
    for key in knobs:  # the knobs a strategy does not use are disabled
        assert at.slider(key=key).disabled == (key not in enabled[strategy])
    for key in enabled[strategy]:
        at.slider(key=key).set_value(knobs[key])
    at.slider(key="dec_penalty").set_value(1.3)
    at.slider(key="dec_tokens").set_value(16)
    at.run()
    assert_ok(at, "Inference")
    if strategy == "beam":
        assert any("log p / length" in str(df.value.columns.tolist()) for df in at.dataframe)
    else:
        at.slider(key="dec_step").set_value(3).run()
        assert_ok(at, "Inference")
        candidates = at.dataframe[0].value  # the chosen step's candidates
        assert candidates["chosen"].sum() == 1 and {"model p", "p after filters"} <= set(candidates.columns)
    expected = {"dec_strategy": strategy, "dec_penalty": "1.3", "dec_tokens": "16",
                **{key: str(knobs[key]) for key in enabled[strategy]}}
    assert {k: at.query_params[k] for k in expected} == expected


@pytest.mark.parametrize("text", ODD_TEXTS, ids=["empty", "whitespace", "100kB", "non-ASCII"])
def test_odd_prompts_are_handled(text):
    at = open_page(PAGE)
    at.text_area(key="dec_prompt").input(text).run()
    assert_ok(at, "Inference")
    if not text.strip():
        assert "Type some prompt" in messages(at)
    elif len(text) > 400:  # the box takes at most 400 characters: the long text is refused, as in a browser
        assert at.text_area(key="dec_prompt").value == "And God said, Let there be"
        at.text_area(key="dec_prompt").set_value(text).run()  # forced past the box: cut, with a message
        assert_ok(at, "Inference")
        assert "at most 400" in messages(at) and at.code[0].value.startswith(text[:400])
        assert len(at.query_params["dec_prompt"]) == 400
    else:
        assert at.code[0].value.startswith(text)


def test_url_state_is_read():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.query_params.update({"section": "Speculative decoding", "spec_k": "99", "spec_tokens": "16",
                            "dec_strategy": "top-p", "dec_top_p": "0.5"})
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at, "Inference")
    assert any("Speculative decoding" in h.value for h in at.header)
    assert at.slider(key="spec_k").value == 8  # out of range in the URL: clamped
    section("Decoding", at)
    assert at.segmented_control(key="dec_strategy").value == "top-p" and at.slider(key="dec_top_p").value == 0.5


def test_kv_cache_section():
    at = section("KV cache", open_page(PAGE, timeout=300))  # timed runs: slow on a loaded test machine
    assert_ok(at, "Inference")
    assert metric(at, "same tokens") == "yes ✓"
    assert float(metric(at, "speedup").rstrip("×")) > 1.0
    # the quiz now asks about that measured speedup, the measured value (as the metric shows it) among the options
    asked = [r for r in at.radio if r.label.startswith("On this machine, how many times faster")]
    assert len(asked) == 1 and metric(at, "speedup") in asked[0].options
    at.selectbox(key="kv_model").set_value("Llama-2-7B")
    at.segmented_control(key="kv_dtype").set_value("INT8")
    at.number_input(key="kv_context").set_value(4096)
    at.run()
    assert_ok(at, "Inference")
    text = "\n".join(m.value for m in at.markdown)
    assert "256 KiB per token" in text and "1.00 GiB" in text  # 2·32·32·128·1 B; × 4096 tokens
    measured, formula = re.findall(r"\*\*([\d,]+) bytes\*\*", text)
    assert measured == formula  # the real cache tensors add up to 2·L·H_kv·D·4·T
    at.slider(key="kv_tokens").set_value(64).run()
    assert_ok(at, "Inference")
    assert at.query_params["kv_tokens"] == "64" and at.query_params["kv_model"] == "Llama-2-7B"


def test_speculative_section(monkeypatch):
    from ui.inference import speculative

    at = section("Speculative decoding")
    assert_ok(at, "Inference")
    assert metric(at, "identical to the target alone") == "yes ✓"
    at.slider(key="spec_k").set_value(2)
    at.slider(key="spec_tokens").set_value(24)
    at.run()
    assert_ok(at, "Inference")
    assert metric(at, "identical to the target alone") == "yes ✓"
    assert at.query_params["spec_k"] == "2"
    for text in ODD_TEXTS[:2]:
        at.text_area(key="spec_prompt").input(text).run()
        assert_ok(at, "Inference")
        assert "Type some prompt" in messages(at)
    at.text_area(key="spec_prompt").input("And Moses said").run()
    # The measurement, shrunk for the test: one k, few tokens (the page uses k = 1..6, 128 tokens).
    monkeypatch.setattr(speculative, "SWEEP_K", (2,))
    monkeypatch.setattr(speculative, "TIMING_TOKENS", 16)
    at.button(key="spec_measure").click().run()
    assert_ok(at, "Inference")
    assert "Why not 2-3×?" in messages(at)


@pytest.mark.parametrize("name", ["Quantization", "Serving"])
def test_other_sections_open(name):
    at = section(name)
    assert_ok(at, "Inference")


# ---- links past the budgets, and measurements that run only on their own button ----------------------
EXTREME_SERVING = {"section": "Serving", "sv_batch": "1", "sv_n": "500", "sv_output": "512", "sv_dist": "fixed",
                   "sv_max_new": "1024", "sv_rate": "200"}


def open_url(params: dict, timeout: float = 300):
    """The Inference page opened from a link with these query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout)
    at.query_params.update(params)
    at.run()
    return at.switch_page(PAGE).run()


def chart_rows(at) -> list[int]:
    """Rows each altair chart on the page sends to the browser."""
    import pyarrow as pa

    return [sum(pa.ipc.open_stream(d.data.data).read_all().num_rows for d in chart.proto.datasets)
            for chart in at.get("vega_lite_chart")]


def test_extreme_serving_link_is_cut_to_the_budget_and_its_charts_stay_small():
    at = open_url(EXTREME_SERVING | {"dec_temp": "0.33", "kv_tokens": "255"})
    assert_ok(at, "Inference")
    # the other sections' values are cleaned in the URL too, as their widgets would read them
    assert at.query_params["dec_temp"] == "0.35" and at.query_params["kv_tokens"] == "256"
    assert at.slider(key="sv_batch").value == 1 and at.slider(key="sv_n").value == 500
    text = messages(at)
    # 500 requests × 512 tokens = 256,000 asked; 80,000 // 512 = 156 requests served; 256,000 / 79,872 = 3.2
    assert "256,000 output tokens from 500 requests" in text and "serves the first 156 requests" in text
    assert "3.2× less work" in text
    rows = chart_rows(at)
    assert rows and max(rows) <= 5_000  # was 1,024,000 rows for the timeline alone
    # one request at a time: 79,872 steps, averaged 80 at a time into 999 points
    assert any("mean of 80 consecutive steps" in c.value for c in at.caption)


def test_odd_link_values_snap_to_the_slider_grid_and_the_kv_timing_is_capped():
    at = open_url({"section": "KV cache", "kv_tokens": "255", "kv_context": "5000", "sv_n": "255"})
    assert_ok(at, "Inference")
    assert at.slider(key="kv_tokens").value == 256 and at.query_params["kv_tokens"] == "256"  # step 32
    assert at.number_input(key="kv_context").value == 5120  # step 512 from 512
    text = messages(at)
    assert "Work budget: 256 tokens × 2 runs" in text and "timed 171 tokens × 1 run" in text
    assert metric(at, "same tokens") == "yes ✓"


def test_decoding_link_values_snap_to_the_slider_grid():
    at = open_url({"section": "Decoding", "dec_strategy": "temperature", "dec_temp": "0.33", "dec_tokens": "999"})
    assert_ok(at, "Inference")
    assert at.slider(key="dec_temp").value == 0.35 and at.slider(key="dec_tokens").value == 128


def test_quantization_link_past_the_measure_budget_says_what_it_will_run():
    at = open_url({"section": "Quantization", "q_prompts": "8", "q_tokens": "48", "q_reps": "5", "q_ppl": "4096"})
    assert_ok(at, "Inference")
    text = messages(at)
    assert "Asked: 6 × 8 × 48 × 5 = 11,520 generated tokens and perplexity on 4,096" in text
    assert any("6 variants × 5 prompts × 48 tokens × 1 rounds = 1,440 generated tokens" in c.value for c in at.caption)
    at.session_state["q_stop_stopped"] = True  # what a click on Stop during a run leaves for the rerun
    at.run()
    assert "Measurement stopped." in messages(at)
    at.run()
    assert "Measurement stopped" not in messages(at)  # said once


def test_speedup_sweep_runs_only_on_its_button(monkeypatch):
    from core.inference import speculative as spec
    from ui.inference import speculative

    monkeypatch.setattr(speculative, "SWEEP_K", (2,))  # shrunk for the test: one k, few tokens
    monkeypatch.setattr(speculative, "TIMING_TOKENS", 8)
    calls, real = [], spec.speedup_sweep
    monkeypatch.setattr(spec, "speedup_sweep", lambda *args, **kwargs: calls.append(args[3]) or real(*args, **kwargs))
    at = section("Speculative decoding")
    assert not calls and "spec_sweep" not in at.session_state
    at.button(key="spec_measure").click().run()
    assert_ok(at, "Inference")
    assert calls == ["And the LORD said unto Moses,"]
    first = at.session_state["spec_sweep"]
    at.slider(key="spec_k").set_value(2).run()
    at.text_area(key="spec_prompt").input("And Moses said").run()
    assert_ok(at, "Inference")
    assert len(calls) == 1 and at.session_state["spec_sweep"] is first  # not rerun, not replaced
    assert any("Measured on another prompt" in c.value for c in at.caption)
    assert "Why not 2-3×?" in messages(at)  # the kept result is still shown


def test_quantization_measure_runs_only_on_its_button(monkeypatch):
    from core.inference import quant_measure

    calls, real = [], quant_measure.measure_variants
    monkeypatch.setattr(quant_measure, "measure_variants", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    at = section("Quantization")
    at.slider(key="q_prompts").set_value(1)
    at.slider(key="q_tokens").set_value(4)
    at.slider(key="q_reps").set_value(1)
    at.select_slider(key="q_ppl").set_value(256)
    at.run()
    assert not calls
    at.button(key="q_measure").click().run()
    assert_ok(at, "Inference")
    assert len(calls) == 1
    first = at.session_state["q_results"]
    at.number_input(key="q_layer").set_value(1)
    at.slider(key="q_tokens").set_value(8)
    at.run()
    assert_ok(at, "Inference")
    assert len(calls) == 1 and at.session_state["q_results"] is first
    assert any("press Measure for the new settings" in c.value for c in at.caption)
