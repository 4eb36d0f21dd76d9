"""AppTest of the Fine-tuning page's deeper sections (`f_section` in the URL): each opens without training, and its
main widgets and its training button work on small settings."""
import math

import pytest

from tests.conftest import ROOT, assert_ok, open_page

PAGE = "app_pages/fine_tuning.py"
HEADERS = {"PEFT families": "PEFT families on one task", "QLoRA": "QLoRA: LoRA on a 4-bit base",
           "Instruction tuning": "Instruction tuning: the loss on the response",
           "Preference tuning": "Preference tuning: reward model and DPO",
           "Guide": "Guide: prompting, RAG, fine-tuning or PEFT?"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one torch thread, LLM_LAB_THREADS=1


def _section(name: str, **query):
    """The page alone, opened by a link at section `name` with extra URL parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=240)
    at.query_params.update({"f_section": name, **{k: str(v) for k, v in query.items()}})
    at.run()
    assert_ok(at, "Fine-tuning")
    return at


def _messages(at) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.warning, at.error, at.success) for e in kind)


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


# ---- the selector ------------------------------------------------------------------------------------------------
def test_section_switch_keeps_the_url_and_the_first_section_is_the_default():
    at = open_page(PAGE)
    assert at.segmented_control(key="f_section").value == "Full FT vs LoRA"
    assert at.query_params["f_section"] == "Full FT vs LoRA"
    at.segmented_control(key="f_section").set_value("QLoRA").run()
    assert_ok(at, "Fine-tuning")
    assert [h.value for h in at.header] == [HEADERS["QLoRA"]]  # one section at a time
    assert at.query_params["f_section"] == "QLoRA"


@pytest.mark.parametrize("name", list(HEADERS))
def test_a_deep_link_opens_its_section_without_training(name):
    at = _section(name)
    assert at.segmented_control(key="f_section").value == name
    assert [h.value for h in at.header] == [HEADERS[name]]
    assert not at.warning, [w.value for w in at.warning]
    assert all(f"{key}_result" not in at.session_state for key in ("ft", "pf", "ql", "sft", "rm", "dpo"))  # no training
    assert any(s.value == "Check yourself" for s in at.subheader)


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "qlora", ""])
def test_an_unknown_section_falls_back_to_the_first(value):
    at = _section(value)
    assert at.segmented_control(key="f_section").value == "Full FT vs LoRA"
    assert [h.value for h in at.header] == ["Full fine-tuning vs LoRA"]


def test_bad_url_values_are_clamped():
    at = _section("Preference tuning", dpo_beta="<b>x</b>", dpo_steps="1e9", rm_steps="-4", pf_rank="1e9",
                  sft_example="-3", ql_double_quant="maybe")
    assert at.select_slider(key="dpo_beta").value == 0.1 and at.slider(key="dpo_steps").value == 60
    assert at.slider(key="rm_steps").value == 2
    # other sections' values are cleaned in the URL too, as their widgets would read them
    assert (at.query_params["pf_rank"], at.query_params["sft_example"], at.query_params["ql_double_quant"]) == (
        "64", "0", "true")


# ---- PEFT families ------------------------------------------------------------------------------------------------
def test_peft_families_train_measure_and_merge(monkeypatch):
    from ui.finetuning import families

    monkeypatch.setattr(families, "METHODS", ("lora", "ia3"))  # two mergeable families keep the run short
    at = _section("PEFT families", pf_steps=2, pf_rank=4, pf_targets="all")
    plan = _table(at, "count by hand")
    assert plan.set_index("method").loc["lora", "trainable (formula)"] == 6 * 4 * 3392  # all seven matrices, r=4
    at.button(key="pf_train").click().run()
    assert_ok(at, "Fine-tuning")
    table = _table(at, "= formula")
    assert list(table.method) == ["lora", "ia3"] and set(table["= formula"]) == {"yes"}
    assert table.set_index("method").loc["ia3", "trainable"] == f"{6 * (64 + 64 + 512):,}"
    merged = _table(at, "merged / base")
    assert list(merged.method) == ["lora", "ia3"]
    assert all(float(d) < 1e-4 for d in merged["max |logits merged − unmerged|"])
    assert set(merged["adapter modules left after merge"]) == {0}
    kept = at.session_state["pf_result"]
    at.selectbox(key="pf_metric").set_value("trainable").run()  # a chart choice does not train again
    assert_ok(at, "Fine-tuning")
    assert at.session_state["pf_result"] is kept and at.query_params["pf_metric"] == "trainable"
    at.slider(key="pf_rank").set_value(8).run()  # nor does a later edit: the kept run stays, labelled
    assert "Your settings have changed since" in _messages(at) and "r = 4" in _messages(at)
    assert _table(at, "= formula") is not None


def test_llama_adapter_nan_reproduced():
    at = _section("PEFT families")
    at.button(key="pf_nan").click().run()
    assert_ok(at, "Fine-tuning")
    metrics = _metrics(at)
    assert metrics["1e-8 in FP16"] == "0" and metrics["max |∂loss/∂P| in step 1"] == "0"
    assert float(metrics["GQA: peft vs our formula, max |Δ|"]) < 1e-4
    losses = _table(at, "loss, FP16")
    assert math.isfinite(losses["loss, FP32"].iloc[1]) and math.isnan(losses["loss, FP16"].iloc[1])


# ---- QLoRA --------------------------------------------------------------------------------------------------------
def test_qlora_arithmetic_and_a_short_run():
    from core.finetuning import qlora as ql

    at = _section("QLoRA", ql_steps=2, ql_rank=2)
    arithmetic = _table(at, "paper, QLoRA").set_index("LLaMA")
    totals = ql.totals(ql.memory_table(rank=64))
    assert arithmetic.loc["65B", "QLoRA (GB)"] == round(totals[("65B", "QLoRA")], 1) < ql.PAPER_GPU_GB
    assert arithmetic.loc["65B", "paper, full 16-bit"] == "more than 780 GB"
    at.select_slider(key="ql_paper_rank").set_value(8).run()
    assert _table(at, "paper, QLoRA").set_index("LLaMA").loc["65B", "QLoRA (GB)"] < arithmetic.loc["65B", "QLoRA (GB)"]
    at.button(key="ql_train").click().run()
    assert_ok(at, "Fine-tuning")
    runs = _table(at, "QLoRA, NF4 base").set_index("measured")
    lora_mb, qlora_mb = (float(v) for v in runs.loc["weights in memory (MB)"])
    assert qlora_mb < 0.5 * lora_mb  # the 4-bit base
    assert runs.loc["trainable parameters", "LoRA, FP32 base"] == runs.loc["trainable parameters", "QLoRA, NF4 base"]
    assert any("bits per weight" in m.value for m in at.markdown)


# ---- instruction tuning -------------------------------------------------------------------------------------------
def test_instruction_mask_toggle_and_a_short_run(monkeypatch):
    from ui.finetuning import instruction

    monkeypatch.setattr(instruction, "MAX_NEW_TOKENS", 3)  # 22 held-out answers, three times: keep them short
    at = _section("Instruction tuning", sft_steps=2)
    counted = [c.value for c in at.caption if "are targets of the loss" in c.value]
    masked = int(counted[0].split(" of ")[0])
    at.toggle(key="sft_mask").set_value(False).run()
    counted = [c.value for c in at.caption if "are targets of the loss" in c.value]
    every, total = (int(x) for x in counted[0].split(" tokens")[0].split(" of "))
    assert masked < every == total - 1 and at.query_params["sft_mask"] == "false"
    at.selectbox(key="sft_example").set_value(5).run()
    assert at.query_params["sft_example"] == "5"
    assert any(instruction.TRAIN[5].instruction in c.value for c in at.code)
    at.button(key="sft_train").click().run()
    assert_ok(at, "Fine-tuning")
    measured = _table(at, "held-out response loss")
    assert list(measured.model) == ["base tiny-lm", "SFT, prompt masked", "SFT, every token"]
    assert _table(at, "every token").shape[0] == 22  # every held-out instruction, answered three times


# ---- preference tuning --------------------------------------------------------------------------------------------
def test_reward_model_short_run():
    at = _section("Preference tuning", rm_steps=2)
    at.button(key="rm_train").click().run()
    assert_ok(at, "Fine-tuning")
    accuracy = _metrics(at)["Held-out pair accuracy"]
    assert accuracy.endswith("%") and 0 <= int(accuracy[:-1]) <= 100
    assert any("by how the rejected answer fails: ramble" in c.value for c in at.caption)
    assert at.session_state["rm_result"][1].config.steps == 2


def test_dpo_short_run(monkeypatch):
    from ui.finetuning import preference

    monkeypatch.setattr(preference, "SFT_STEPS", 2)
    monkeypatch.setattr(preference, "MAX_NEW_TOKENS", 3)
    at = _section("Preference tuning", dpo_steps=2, dpo_beta=0.3)
    at.button(key="dpo_train").click().run()
    assert_ok(at, "Fine-tuning")
    metrics = _metrics(at)
    assert metrics["Batch preference accuracy, step 2"].endswith("%") and float(metrics["KL(π ‖ π_ref)"]) >= 0
    assert _table(at, "after DPO").shape[0] == 22
    sft_run, dpo = at.session_state["dpo_result"][1]
    assert dpo.config.beta == 0.3 and dpo.losses[0] == pytest.approx(math.log(2), abs=1e-5)
    assert len(sft_run.losses) == 2


# ---- guide --------------------------------------------------------------------------------------------------------
def test_guide_measures_prompting_and_uses_kept_results():
    from core.finetuning import peft_families as pf

    at = _section("Guide", guide_shots=2)
    rows = _table(at, "tokens added to every query")
    assert list(rows.approach) == ["prompting, zero-shot", "prompting, 2-shot"]
    assert "**PEFT families**" in _messages(at)
    lora = pf.MethodResult(method="lora", trainable=30_720, formula=30_720, base_total=3_148_224, losses=(3.0, 2.0),
                           step_ms=5.0, peak_bytes=2**20, heldout_loss=3.1, answers=("a", "b", "c"),
                           merge_max_diff=0.0, merged_extra_modules=0, stopped_early=False, answer_loss=2.5)
    at.session_state["pf_result"] = ((), pf.PeftComparison(pf.PeftConfig(), 6.0, ("x", "y", "z"), (lora,), 1))
    at.slider(key="guide_shots").set_value(0).run()
    assert_ok(at, "Fine-tuning")
    rows = _table(at, "tokens added to every query")
    assert list(rows.approach) == ["prompting, zero-shot", "lora"] and rows.iloc[1]["held-out answer-token loss"] == 2.5
    assert "**PEFT families**" not in _messages(at)
