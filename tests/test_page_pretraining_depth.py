"""AppTest of the Pretraining page's deeper sections (`p_section` in the URL): each section's main widgets, its
numbers against core, runs that start only on their button (kept for the session, stoppable), and links past
the budgets."""
import math

import pytest
from conftest import ROOT, assert_ok, open_page

from core.pretraining import live_training as lt
from core.pretraining import parallel as par
from core.pretraining import pipeline as pl
from core.pretraining import scaling as sc

PAGE = "app_pages/pretraining.py"
SECTIONS = ("Train a tokenizer", "Data pipeline", "Tokenizers compared", "MLM vs CLM", "Train a tiny GPT", "Scaling",
            "Parallelism")


def _section(name: str, **query):
    """The page alone, opened by a link at section `name` with extra URL parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=240)
    at.query_params.update({"p_section": name, **query})
    at.run()
    return at


def _metric(at, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def _messages(at) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.error, at.success) for e in kind)


def _headers(at) -> list[str]:
    return [h.value for h in at.header]


# ---- the section selector -----------------------------------------------------------------------------------
def test_section_switch_keeps_the_url():
    at = _section("Parallelism")
    at.segmented_control(key="p_section").set_value("Scaling").run()
    assert_ok(at, "Pretraining")
    assert _headers(at) == ["Scaling"] and at.query_params["p_section"] == "Scaling"


def test_the_tokenizer_is_the_default_section():
    at = open_page(PAGE)
    assert at.segmented_control(key="p_section").value == "Train a tokenizer"
    assert at.query_params["p_section"] == "Train a tokenizer"
    assert "1 · Train a BPE tokenizer, live" in _headers(at)


@pytest.mark.parametrize("name", ["Scaling", "Parallelism", "MLM vs CLM"])
def test_a_deep_link_opens_its_section_with_the_quiz(name):
    at = _section(name)
    assert_ok(at, "Pretraining")
    assert at.segmented_control(key="p_section").value == name and _headers(at) == [name]
    assert not at.warning, [w.value for w in at.warning]
    assert any(s.value == "Check yourself" for s in at.subheader)


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "scaling", ""])
def test_an_unknown_section_falls_back_to_the_first(value):
    at = _section(value, vocab="300")
    assert_ok(at, "Pretraining")
    assert at.segmented_control(key="p_section").value == "Train a tokenizer"
    assert "1 · Train a BPE tokenizer, live" in _headers(at)


# ---- Data pipeline ---------------------------------------------------------------------------------------------
def test_data_pipeline_counts_equal_core_and_steps_switch_off():
    at = _section("Data pipeline", pipe_docs="100")
    assert_ok(at, "Pretraining")
    expected = pl.run_pipeline(pl.MixConfig(n_documents=100))
    raw, last = expected.steps[0], expected.steps[-1]
    assert _metric(at, "documents kept") == f"{last.documents:,} / {raw.documents:,}"
    assert _metric(at, "planted near copies removed") == f"{expected.planted_found} / {expected.planted_total}"
    steps = next(df.value for df in at.dataframe if "removed: noise" in df.value.columns)
    assert steps["tokens"].tolist() == [s.tokens for s in expected.steps]
    at.toggle(key="pipe_near").set_value(False).run()
    assert_ok(at, "Pretraining")
    assert "Near dedup is switched off" in _messages(at) and at.query_params["pipe_near"] == "false"
    assert _metric(at, "documents kept").endswith(f"/ {raw.documents:,}")


def test_data_pipeline_bands_and_rows_stay_within_the_permutation_budget():
    at = _section("Data pipeline", pipe_docs="50", pipe_bands="64", pipe_rows="16")
    assert_ok(at, "Pretraining")
    assert at.slider(key="pipe_rows").value == 4  # 64 x 4 = 256 MinHash values, the budget
    at.slider(key="pipe_bands").set_value(8).run()
    at.slider(key="pipe_rows").set_value(16).run()
    assert_ok(at, "Pretraining")
    assert at.slider(key="pipe_rows").value == 16 and at.query_params["pipe_rows"] == "16"
    assert _metric(at, "LSH threshold ≈ (1/b)^(1/r)") == f"{(1 / 8) ** (1 / 16):.2f}"


# ---- Tokenizers compared -----------------------------------------------------------------------------------
def test_tokenizers_compared_sizes_view_text_and_replay():
    at = _section("Tokenizers compared", tc_chars="50000", tc_view="4000", tc_sizes="300 – 2,000",
                  tc_sentence="the firstborn")
    assert_ok(at, "Pretraining")
    assert at.select_slider(key="tc_view").value == 2000  # the view snaps into the sizes trained
    stats = next(df.value for df in at.dataframe if "chars per token" in df.value.columns)
    assert len(stats) == 12 and set(stats["algorithm"]) == {"BPE", "WordPiece", "Unigram"}
    replay = next(df.value for df in at.dataframe if "merge" in df.value.columns)
    assert replay["step"].iloc[0] == 0 and replay["symbols"].is_monotonic_decreasing
    chips = [m.value for m in at.markdown if m.value.startswith(("**BPE**", "**WordPiece**", "**Unigram**"))]
    assert len(chips) == 3 and "unknown" in " ".join(chips)  # 日本語 is unknown to WordPiece and Unigram
    at.text_area(key="tc_text").input("").run()
    assert "Type some text" in _messages(at)


# ---- MLM vs CLM --------------------------------------------------------------------------------------------
def test_objectives_views_and_a_short_training_run():
    at = _section("MLM vs CLM", obj_prob="0.5", obj_steps="10", obj_width="32")
    assert_ok(at, "Pretraining")
    assert _metric(at, "CLM: positions with a loss") == "13 of 14"
    table = next(df.value for df in at.dataframe if "MLM rule" in df.value.columns)
    assert (table["CLM predicts"].iloc[:-1].tolist() == table["token"].iloc[1:].tolist())
    assert "Click **Train both**" in _messages(at)
    at.button(key="obj_train").click().run()
    assert_ok(at, "Pretraining")
    runs = next(df.value for df in at.dataframe if "held-out loss" in df.value.columns)
    assert runs["objective"].tolist() == ["CLM", "MLM"] and runs["model"].tolist() == ["LlamaForCausalLM",
                                                                                       "BertForMaskedLM"]
    at.slider(key="obj_steps").set_value(20).run()  # the kept run stays, labelled with its settings
    assert any("from the last run (steps 10" in c.value for c in at.caption)
    at.text_input(key="obj_sentence").input("起初神创造天地" * 12).run()  # 84 characters, over 64 tokens
    assert "Cannot show that sentence" in _messages(at)


# ---- Train a tiny GPT -------------------------------------------------------------------------------------
def test_gpt_budget_rules_and_url_clamps():
    at = _section("Train a tiny GPT", gpt_seq="128", gpt_batch="32", gpt_accum="8", gpt_steps="1e9",
                  gpt_seconds="999", gpt_lr="7")
    assert_ok(at, "Pretraining")
    assert at.slider(key="gpt_batch").value == 16 and at.slider(key="gpt_accum").value == 4  # 16·128·4 = 8,192
    assert at.slider(key="gpt_steps").value == lt.MAX_STEPS and at.slider(key="gpt_seconds").value == 60
    assert at.select_slider(key="gpt_lr").value == 3e-3  # not a choice: the default
    assert _metric(at, "tokens per optimizer step") == "8,192"
    assert _metric(at, "parameters N") == f"{lt.parameter_count('nano'):,}"
    assert "Click **Train**" in _messages(at)


def test_gpt_trains_on_its_button_and_keeps_the_run():
    at = _section("Train a tiny GPT", gpt_steps="10", gpt_batch="4", gpt_seq="32", gpt_seconds="20")
    assert "gpt_train_result" not in at.session_state
    at.button(key="gpt_train").click().run()
    assert_ok(at, "Pretraining")
    assert float(_metric(at, "loss at step 1")) == pytest.approx(math.log(lt.VOCAB), abs=0.15)
    assert _metric(at, "peak memory, step 1").endswith("MB")
    samples = next(df.value for df in at.dataframe if "sample" in df.value.columns)
    assert samples["step"].iloc[0] == 0 and samples["step"].iloc[-1] >= 1
    kept = at.session_state["gpt_train_result"]
    at.select_slider(key="gpt_lr").set_value(1e-2).run()  # a new setting does not train again
    assert_ok(at, "Pretraining")
    assert at.session_state["gpt_train_result"] is kept or at.session_state["gpt_train_result"][0] == kept[0]
    assert any("Your settings have changed since" in c.value for c in at.caption)
    at.button(key="gpt_train").click().run()  # a second run joins the session's table
    assert any("B·T·k" in df.value.columns and len(df.value) == 2 for df in at.dataframe)
    assert not [b for b in at.button if b.key == "gpt_train_stop"]  # Stop exists only while a run is going


def test_gpt_stopped_run_says_so_once():
    at = _section("Train a tiny GPT")
    at.session_state["gpt_train_stopped"] = True  # what the Stop button's callback sets before the rerun
    at.run()
    assert "Stopped: the run was ended before it finished" in _messages(at)
    at.run()
    assert "Stopped" not in _messages(at)


def test_gpt_accumulation_check_and_cpu_features():
    at = _section("Train a tiny GPT", gpt_accum="3")
    assert float(_metric(at, "max |Δgrad|, one batch of 12 vs 3 × 4")) < 1e-6
    assert _metric(at, "loss, one batch") == _metric(at, "loss, Σ of 3 micro-batches ÷ 3")
    feats = lt.cpu_features()
    assert any(feats.explanation in m for m in _messages(at).split("\n"))


def test_gpt_bf16_measurement_runs_on_its_button(monkeypatch):
    from ui.pretraining import train_gpt

    monkeypatch.setattr(train_gpt, "BF16_STEPS", 2)
    monkeypatch.setattr(train_gpt, "BF16_SECONDS", 10.0)
    at = _section("Train a tiny GPT")
    assert not [m for m in at.metric if m.label == "BF16 / FP32 speed"]
    at.button(key="gpt_bf16").click().run()
    assert_ok(at, "Pretraining")
    assert _metric(at, "BF16 / FP32 speed").endswith("×")


# ---- Scaling ------------------------------------------------------------------------------------------------
def test_scaling_calculator_follows_the_sliders():
    at = _section("Scaling", sc_budget="23.8", sc_n="9.8", sc_d="12.3")
    assert_ok(at, "Pretraining")
    best = sc.compute_optimal(10 ** 23.8)
    assert _metric(at, "predicted loss, law's best / 20-token rule") == (
        f"{best.loss:.3f} / {sc.twenty_tokens_rule(10 ** 23.8).loss:.3f}")
    at.slider(key="sc_n").set_value(10.0).run()
    assert_ok(at, "Pretraining")
    assert _metric(at, "predicted loss") == f"{float(sc.chinchilla_loss(1e10, 10 ** 12.3)):.3f}"
    assert at.query_params["sc_n"] == "10.0"
    published = next(df.value for df in at.dataframe if "tokens per parameter" in df.value.columns)
    assert published["model"].tolist() == [m.name for m in sc.PUBLISHED]


def test_scaling_live_run_joins_the_sweep():
    at = _section("Scaling", sc_preset="nano", sc_steps="25")
    at.button(key="sc_run").click().run()
    assert_ok(at, "Pretraining")
    (point,) = at.session_state["sc_live"].values()
    assert (point.model, point.tokens) == ("nano", 25 * sc.SWEEP_BATCH * sc.SWEEP_SEQ) or point.stopped_by != "steps"
    if point.stopped_by == "steps":
        assert any("reproduced" in c.value for c in at.caption)
    at.button(key="sc_run").click().run()  # the same seeded run again (cached): the chart keeps one point
    assert len(at.session_state["sc_live"]) == 1


# ---- Parallelism --------------------------------------------------------------------------------------------
def test_parallelism_calculators():
    at = _section("Parallelism", pp_stages="8", pp_micro="8", tp_devices="4")
    assert_ok(at, "Pretraining")
    assert _metric(at, "bubble: idle share of every device") == f"{par.bubble_fraction(8, 8):.1%}"
    assert float(_metric(at, "max |Σ_i Z_i − Z| (float64)")) < 1e-12
    zero = next(df.value for df in at.dataframe if "paper, Figure 1" in df.value.columns)
    assert zero["paper, Figure 1"].tolist() == ["120.0 GB", "31.4 GB", "16.6 GB", "1.9 GB"]
    assert zero["total per device"].tolist() == ["120.0 GB", "31.4 GB", "16.6 GB", "1.9 GB"]
    at.number_input(key="zero_nd").set_value(8).run()
    zero = next(df.value for df in at.dataframe if "paper, Figure 1" in df.value.columns)
    assert set(zero["paper, Figure 1"]) == {"—"} and at.query_params["zero_nd"] == "8"


def test_data_parallel_runs_on_its_button():
    at = _section("Parallelism", par_batch="8", par_seq="16", par_steps="2")
    assert "Click **Run on two processes**" in _messages(at)
    at.button(key="par_run").click().run()
    assert_ok(at, "Pretraining")
    assert float(_metric(at, "max |all-reduced − one process's| gradient")) < 1e-6
    assert float(_metric(at, "one half-batch alone is off by")) > 1e-4
    assert _metric(at, "weights, process 0 vs 1") == "0.0e+00"
