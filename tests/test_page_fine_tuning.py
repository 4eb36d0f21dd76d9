"""AppTest of the Fine-tuning page: fast first render, rank clamping, URL state, a short real training run."""
import re

import pytest

from conftest import ROOT, assert_ok, open_page

PAGE = "app_pages/fine_tuning.py"


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one torch thread, LLM_LAB_THREADS=1


def _messages(at) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.error, at.success) for e in kind)


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_first_render_does_not_train():
    at = open_page(PAGE)
    assert_ok(at, "Fine-tuning")
    assert "Click **Train both**" in _messages(at)
    metrics = _metrics(at)
    assert metrics["LoRA trains (formula)"] == "30,720 parameters"  # 6 x 8 x ((192+192) + (192+64))
    assert metrics["Full fine-tuning trains"].endswith(" parameters")
    assert not any("held-out loss" in str(df.value) for df in at.dataframe)
    # the base model's greedy answers are shown before any training
    assert sum("`Question: Who built the ark?` →" in m.value for m in at.markdown) == 1


def test_rank_is_clamped_with_a_message():
    at = open_page(PAGE)
    at.slider(key="ft_rank").set_value(128)
    at.run()
    assert_ok(at, "Fine-tuning")
    assert "Training with r = 64" in _messages(at)
    # 64 is what the plan uses: 6 x 64 x 640
    assert _metrics(at)["LoRA trains (formula)"] == "245,760 parameters"
    assert at.query_params["ft_rank"] == "128"


def test_train_both_shows_measured_numbers():
    at = open_page(PAGE)
    at.slider(key="ft_steps").set_value(3)
    at.slider(key="ft_rank").set_value(4)
    at.slider(key="ft_alpha").set_value(8)
    at.radio(key="ft_modules").set_value("all")
    at.run()
    assert_ok(at, "Fine-tuning")
    assert {k: at.query_params[k] for k in ("ft_steps", "ft_rank", "ft_alpha", "ft_modules")} == {
        "ft_steps": "3", "ft_rank": "4", "ft_alpha": "8", "ft_modules": "all"}
    at.button(key="ft_train").click()
    at.run()
    assert_ok(at, "Fine-tuning")
    table = next(df.value for df in at.dataframe if "measured" in df.value.columns)
    row = {r["measured"]: r for _, r in table.iterrows()}
    # all linear layers at r=4: 6 layers x 4 x (384 + 256 + 256 + 384 + 704 + 704 + 704)
    assert row["trainable parameters"]["LoRA r=4"] == f"{6 * 4 * 3392:,}"
    for key in ("time per step (ms, median)", "peak memory of step 1 (MB, profiler)"):
        assert float(row[key]["full fine-tuning"]) > 0 and float(row[key]["LoRA r=4"]) > 0
    assert re.fullmatch(r"\d+\.\d\d → \d+\.\d\d", row["training loss, first → last step"]["LoRA r=4"])
    samples = at.table[0].value
    assert samples.index.tolist() == ["base tiny-lm", "full fine-tuning", "LoRA r=4"] and samples.shape[1] == 2
    assert "LORD" in samples.iloc[0, 0]  # the base model answers in verse
    assert _metrics(at)["Frozen weights changed by LoRA, max |Δ|"] == "0"
    assert float(_metrics(at)["Merged vs adapter logits, max |Δ|"]) < 1e-4  # float32 rounding of logits ~±20
    # a rerun with the same settings shows the kept run without clicking again
    at.run()
    assert_ok(at, "Fine-tuning")
    assert any("measured" in df.value.columns for df in at.dataframe)
    kept = at.session_state["ft_result"]
    # a later edit does not train again: the kept run stays on screen, labelled with the settings it ran with
    at.slider(key="ft_rank").set_value(16).run()
    assert_ok(at, "Fine-tuning")
    assert at.session_state["ft_result"] is kept or at.session_state["ft_result"][0] == kept[0]
    assert "Your settings have changed since" in _messages(at) and "r = 4" in _messages(at)
    table = next(df.value for df in at.dataframe if "measured" in df.value.columns)
    assert "LoRA r=4" in table.columns
    assert not [b for b in at.button if b.key == "ft_stop"]  # Stop exists only while a run is going


def test_stopped_run_says_so_and_keeps_nothing():
    at = open_page(PAGE)
    at.session_state["ft_stopped"] = True  # what the Stop button's callback sets before the rerun it causes
    at.run()
    assert_ok(at, "Fine-tuning")
    assert "Stopped: the run was ended before it finished" in _messages(at)
    assert "Click **Train both**" in _messages(at) and "ft_result" not in at.session_state
    at.run()
    assert "Stopped" not in _messages(at)  # said once


def test_url_values_are_clamped_and_snapped():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update({"ft_steps": "1e9", "ft_rank": "-5", "ft_alpha": "7.6", "ft_seed": "12.7",
                            "ft_lr_full": "<script>alert(1)</script>", "ft_modules": "[x](javascript:alert(1))"})
    at.run()
    assert_ok(at, "Fine-tuning")
    assert at.slider(key="ft_steps").value == 100 and at.slider(key="ft_rank").value == 1
    assert at.slider(key="ft_alpha").value == 7 and at.number_input(key="ft_seed").value == 12  # whole numbers
    assert at.select_slider(key="ft_lr_full").value == 1e-3 and at.radio(key="ft_modules").value == "qv"
