"""core.finetuning.finetune: LoRA against hand formulas and against the base model, full FT vs LoRA on the real tiny LM."""
import copy

import numpy as np
import pytest
import torch

from core.charts import fine_tuning as charts
from core.finetuning import finetune as ft
from core.models import MODELS_DIR
from tests.conftest import assert_unchanged, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_task_data_and_encoding(tokenizer):
    train, heldout = ft.load_task()
    assert len(heldout) == ft.N_HELDOUT and len(train) >= 40
    assert ft.PROMPTS[0] in [q for q, _ in train] and ft.PROMPTS[1] in [q for q, _ in heldout]
    assert not {q for q, _ in train} & {q for q, _ in heldout}
    ids, labels = ft.encode_pairs(tokenizer, [("Who built the ark?", "Noah.")])
    eos = tokenizer.eos_token_id
    expected = [eos] + tokenizer.encode("Question: Who built the ark?\nAnswer: Noah.") + [eos]
    assert ids[0].tolist() == expected and labels[0].tolist() == expected
    ids, labels = ft.encode_pairs(tokenizer, [("a?", "b."), ("a longer question?", "a longer answer.")])
    pad = labels == -100
    assert pad[0].any() and not pad[1].any()
    assert (ids[pad] == tokenizer.pad_token_id).all()


def test_lora_parameter_count_hand_worked(tiny):
    # q_proj 32->32, v_proj 32->16 (2 KV heads x 8): r=4 gives 4*(32+32) + 4*(32+16) = 448 per layer, 2 layers
    assert ft.lora_parameter_count(tiny.config, 4, "qv") == 896
    assert ft.trainable_count(ft.with_lora(tiny, 4, 8, "qv"))[0] == 896
    # all linear: q 32+32, k 32+16, v 32+16, o 32+32, gate/up 32+64 each, down 64+32 -> 512 per unit rank
    assert ft.lora_parameter_count(tiny.config, 2, "all") == 2 * 2 * 512
    assert ft.trainable_count(ft.with_lora(tiny, 2, 8, "all"))[0] == 2 * 2 * 512
    assert ft.max_rank(tiny.config, "qv") == 16 and ft.max_rank(tiny.config, "all") == 16


def test_lora_parameter_count_real_model(real):
    model, _ = real
    # 6 layers x r=8 x ((192+192) + (192+64)) = 30,720: about 1% of 3.15M
    assert ft.lora_parameter_count(model.config, 8, "qv") == 30_720
    lora = ft.with_lora(model, 8, 16, "qv")
    trainable, total = ft.trainable_count(lora)
    assert trainable == 30_720
    assert total == sum(p.numel() for p in model.parameters()) + 30_720
    assert ft.max_rank(model.config, "qv") == 64


def test_llama_parameter_count_formula(tiny, real):
    from transformers import LlamaConfig

    for model in (tiny, real[0]):
        assert ft.llama_parameter_count(model.config) == sum(p.numel() for p in model.parameters())
    assert ft.llama_parameter_count(LlamaConfig(**ft.LLAMA2_7B)) == 6_738_415_616  # Llama-2-7B, untied head
    # the LoRA paper's setting on 7B: r=8 on q and v, 32 layers x 8 x (4096+4096) x 2
    assert ft.lora_parameter_count(LlamaConfig(**ft.LLAMA2_7B), 8, "qv") == 4_194_304


def test_fresh_lora_gives_exactly_the_base_logits(tiny, tokenizer):
    ids, labels = ft.encode_pairs(tokenizer, ft.load_task()[1])
    mask = (labels != -100).long()
    lora = ft.with_lora(tiny, 4, 32, "all", seed=3)
    # A is random, B is zero: the adapter adds exactly 0
    assert any(p.abs().sum() > 0 for n, p in lora.named_parameters() if "lora_A" in n)
    assert all(torch.count_nonzero(p) == 0 for n, p in lora.named_parameters() if "lora_B" in n)
    with torch.no_grad():
        assert torch.equal(lora(input_ids=ids, attention_mask=mask).logits, tiny(input_ids=ids, attention_mask=mask).logits)


def test_lora_trains_adapters_only_and_merges(tiny, tokenizer):
    before = snapshot(tiny)
    cfg = ft.FinetuneConfig(steps=4, rank=4, alpha=8, lr_lora=3e-2, batch_size=4)
    result, lora = ft.finetune(tiny, tokenizer, cfg, "lora")
    assert_unchanged(tiny, before)  # the model we were given is untouched
    assert ft.base_weight_change(tiny, lora) == 0.0  # the frozen copy inside the adapter model too
    for name, p in lora.get_base_model().named_parameters():
        if "lora_" not in name:
            assert torch.equal(p, before[name.replace(".base_layer", "")]), name
    assert any(torch.count_nonzero(p) > 0 for n, p in lora.named_parameters() if "lora_B" in n)
    # ΔW = (alpha/r)·B A by hand, against peft's delta and against the merged weight
    layer = lora.get_base_model().model.layers[0].self_attn.q_proj
    by_hand = (8 / 4) * layer.lora_B["default"].weight @ layer.lora_A["default"].weight  # (C_out, C_in)
    assert torch.allclose(ft.weight_delta(tiny, lora, "q_proj"), by_hand, atol=1e-7)
    merged = copy.deepcopy(lora).merge_and_unload()
    w_before = before["model.layers.0.self_attn.q_proj.weight"]
    assert torch.allclose(merged.model.layers[0].self_attn.q_proj.weight, w_before + by_hand, atol=1e-6)
    assert torch.linalg.matrix_rank(by_hand) == result.delta_rank <= 4
    assert (result.delta_sv[4:] < 1e-5 * result.delta_sv[0]).all()
    # merged (merge_and_unload) and unmerged give the same logits
    diff, scale = ft.merge_check(lora, tokenizer)
    assert diff < 1e-5 and scale > 0.1


def test_full_finetune_changes_weights_not_the_original(tiny, tokenizer):
    before = snapshot(tiny)
    result, trained = ft.finetune(tiny, tokenizer, ft.FinetuneConfig(steps=3, batch_size=4), "full")
    assert_unchanged(tiny, before)
    assert result.trainable == result.total == sum(p.numel() for p in tiny.parameters())
    assert not torch.equal(trained.model.layers[0].self_attn.q_proj.weight, tiny.model.layers[0].self_attn.q_proj.weight)
    assert result.delta_rank > 4  # a full update is not low-rank


def test_memory_tally_and_profiler_agree_with_adam_formula(tiny, tokenizer):
    for method in ("full", "lora"):
        result, model = ft.finetune(tiny, tokenizer, ft.FinetuneConfig(steps=1, rank=4, batch_size=4), method)
        n_tensors = sum(1 for p in model.parameters() if p.requires_grad)
        assert result.weights_bytes == 4 * result.total
        assert result.grads_bytes == 4 * result.trainable
        # Adam: exp_avg and exp_avg_sq per parameter (2x trainable, FP32), plus a scalar step per tensor
        assert result.optimizer_bytes == 4 * 2 * result.trainable + 4 * n_tensors
        # The profiler's allocation events, summed, leave exactly the new gradients + Adam state alive
        assert result.memory_mb[-1] * 2**20 == pytest.approx(result.grads_bytes + result.optimizer_bytes, abs=0.5)
        assert result.peak_bytes >= result.weights_bytes + result.grads_bytes + result.optimizer_bytes


def test_seeded_runs_are_identical(tiny, tokenizer):
    cfg = ft.FinetuneConfig(steps=3, rank=2, alpha=4, batch_size=4, seed=7)
    for method in ("full", "lora"):
        a, _ = ft.finetune(tiny, tokenizer, cfg, method)
        b, _ = ft.finetune(tiny, tokenizer, cfg, method)
        assert a.losses == b.losses and a.samples == b.samples
    c, _ = ft.finetune(tiny, tokenizer, ft.FinetuneConfig(steps=3, rank=2, alpha=4, batch_size=4, seed=8), "full")
    assert c.losses != a.losses


def test_loss_decreases_on_the_task_real_model(real):
    model, tokenizer = real
    before = snapshot(model)
    steps = []
    cmp = ft.compare(model, tokenizer, ft.FinetuneConfig(steps=8), on_step=lambda m, s, loss: steps.append((m, s)))
    assert_unchanged(model, before)
    assert steps == [(m, s) for m in ("full", "lora") for s in range(8)]
    for run in (cmp.full, cmp.lora):
        assert len(run.losses) == 8
        assert np.mean(run.losses[-3:]) < 0.8 * run.losses[0], run.losses
        assert run.heldout_loss < cmp.base_heldout_loss
        assert run.step_ms > 0 and run.peak_bytes > run.weights_bytes
    assert cmp.lora.trainable == 30_720 and cmp.full.trainable == cmp.full.total
    assert cmp.lora.optimizer_bytes < cmp.full.optimizer_bytes / 50
    # float32 rounding grows with the logits (up to ~20 here): 1e-4 absolute is ~1e-5 relative
    assert cmp.base_max_change == 0.0 and cmp.merge_max_diff < 1e-4 < cmp.logit_max_abs
    assert cmp.lora.delta_rank <= 8 < cmp.full.delta_rank


def test_budget_caps_steps_and_rank(tiny):
    cfg, notes = ft.within_budget(ft.FinetuneConfig(steps=10**6, rank=1000, modules="qv"), tiny.config)
    assert (cfg.steps, cfg.rank) == (ft.MAX_STEPS, 16)  # q_proj 32x32, v_proj 32x16: rank <= 16
    assert notes == ("1,000,000 steps asked; a run makes 2 to 100, so 100",
                     "rank 1000 asked; ΔW of these matrices has rank ≤ 16, so r = 16")
    cfg, notes = ft.within_budget(ft.FinetuneConfig(steps=0, rank=0, alpha=0), tiny.config)
    assert (cfg.steps, cfg.rank, cfg.alpha) == (ft.MIN_STEPS, 1, 1) and len(notes) == 2
    assert ft.within_budget(ft.FinetuneConfig(), tiny.config) == (ft.FinetuneConfig(), ())
    with pytest.raises(ValueError, match="modules"):
        ft.within_budget(ft.FinetuneConfig(modules="everything"), tiny.config)


def test_time_cap_stops_both_methods_at_the_same_step(tiny, tokenizer):
    # A cap already spent: each method stops as soon as it may, after MIN_STEPS, and says so.
    steps = []
    cmp = ft.compare(tiny, tokenizer, ft.FinetuneConfig(steps=50, rank=2, batch_size=2), max_seconds=0.0,
                     on_step=lambda m, s, loss: steps.append((m, s)))
    assert len(cmp.full.losses) == len(cmp.lora.losses) == ft.MIN_STEPS
    assert steps == [(m, s) for m in ("full", "lora") for s in range(ft.MIN_STEPS)]
    assert cmp.config.steps == 50
    assert cmp.notes == ("full: stopped after 2 of 50 steps by the 0 s cap on a run (the server is shared)",)
    # an ample cap runs every step and notes nothing
    cmp = ft.compare(tiny, tokenizer, ft.FinetuneConfig(steps=3, rank=2, batch_size=2), max_seconds=3600)
    assert len(cmp.full.losses) == len(cmp.lora.losses) == 3 and cmp.notes == ()


def test_charts(tiny, tokenizer):
    runs = [ft.finetune(tiny, tokenizer, ft.FinetuneConfig(steps=2, rank=2, batch_size=2), m)[0] for m in ("full", "lora")]
    df = charts.loss_frame(runs)
    assert list(df.columns) == ["method", "step", "loss"] and len(df) == 4
    spec = charts.loss_curves(df, base_heldout=5.0).to_dict()
    assert len(spec["layer"]) == 2
    timeline = charts.memory_timeline_frame(runs, max_points=50)
    assert set(timeline.method) == {"full", "lora"} and len(timeline) <= 2 * 51
    for r in runs:  # thinning keeps the peak
        assert timeline[timeline.method == r.method].MB.max() == pytest.approx(r.memory_mb.max())
    assert charts.memory_timeline(timeline).to_dict()["mark"]["type"] == "line"
    tally = charts.memory_tally_frame(runs)
    assert tally.groupby("method").MB.sum()["full"] == pytest.approx(
        (runs[0].weights_bytes + runs[0].grads_bytes + runs[0].optimizer_bytes) / 2**20)
    assert charts.memory_bars(tally).to_dict()["encoding"]["x"]["stack"] == "zero"
    sv = charts.spectrum_frame(runs, top=10)
    assert sv.groupby("method").sigma.max().tolist() == [1.0, 1.0] and (sv.sigma > 0).all()
    assert charts.spectrum(sv).to_dict()["encoding"]["y"]["scale"]["type"] == "log"


def test_core_does_not_import_streamlit():
    import subprocess
    import sys

    code = ("import sys, core.finetuning.finetune, core.finetuning.guide, core.finetuning.preference, "
            "core.finetuning.qlora, core.charts.fine_tuning, core.charts.finetuning_depth; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(MODELS_DIR.parent.parent))
    assert out.stdout.strip() == "False"
