"""Fine-tuning at depth: PEFT families, QLoRA, instruction masking, reward model and DPO, guide, charts.

Unit tests run on a random 2-layer Llama (seconds); the bundled tiny-lm is used where the point is the
real model (4-bit loading, greedy decoding against generate).
"""
import copy
import json
import math

import numpy as np
import pytest
import torch

from core.charts import finetuning_depth as charts
from core.finetuning import adaption_prompt as ap
from core.finetuning import bottleneck, guide, instruction, loop, preference, qlora
from core.finetuning import peft_families as pf
from tests.conftest import assert_unchanged, qa_batch, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- bottleneck adapters ---------------------------------------------------------------------------
def test_adapter_formula_hand_case():
    # tiny-lm: C=192, m=16, L=6: 2 adapters × 6 layers × (2·192·16 + 192 + 16)
    assert bottleneck.adapter_parameter_count(192, 16, 6) == 2 * 6 * (6144 + 208) == 76_224


def test_adapter_is_identity_at_start_and_leaves_the_source_alone(tiny, tokenizer):
    before = snapshot(tiny)
    adapted = bottleneck.with_bottleneck_adapters(tiny, bottleneck=5)
    ids, mask = qa_batch(tokenizer)
    with torch.no_grad():
        assert torch.equal(adapted(input_ids=ids, attention_mask=mask).logits,
                           tiny(input_ids=ids, attention_mask=mask).logits)
    trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    assert trainable == bottleneck.adapter_parameter_count(32, 5, 2)
    assert all(("adapter" in n) == p.requires_grad for n, p in adapted.named_parameters())
    assert_unchanged(tiny, before)


def test_adapter_forward_matches_the_formula():
    torch.manual_seed(1)
    adapter = bottleneck.BottleneckAdapter(6, 3)
    torch.nn.init.normal_(adapter.up.weight)
    torch.nn.init.normal_(adapter.up.bias)
    h = torch.randn(2, 4, 6)  # (B, T, C)
    W_d, b_d, W_u, b_u = adapter.down.weight, adapter.down.bias, adapter.up.weight, adapter.up.bias
    expected = h + torch.nn.functional.gelu(h @ W_d.T + b_d) @ W_u.T + b_u
    assert torch.allclose(adapter(h), expected, atol=1e-6)


# ---- PEFT families -----------------------------------------------------------------------------------
def test_formulas_hand_cases_on_tiny_lm_shapes(real):
    config, cfg = real[0].config, pf.PeftConfig()
    expected = {"lora": 6 * 8 * ((192 + 192) + (192 + 64)),  # q: 192→192, v: 192→64 (2 KV heads × 32)
                "dora": 6 * 8 * 640 + 6 * (192 + 64),  # + one magnitude per output row
                "adapter": 76_224, "prompt": 8 * 192, "prefix": 8 * 6 * 2 * 64,
                "ia3": 6 * (64 + 64 + 512),  # k and v outputs, down_proj's input
                "llama_adapter": 6 * (8 * 192 + 1), "full": 3_148_224}
    for method, count in expected.items():
        assert pf.formula_count(config, method, cfg) == count, method


@pytest.mark.parametrize("cfg", [pf.PeftConfig(), pf.PeftConfig(lora_rank=3, lora_targets="all", bottleneck=7,
                                                                 n_virtual=3, adapter_len=2, adapter_layers=1)])
@pytest.mark.parametrize("method", pf.METHODS)
def test_trainable_parameters_equal_the_formula(tiny, method, cfg):
    model = pf.build(tiny, method, cfg)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == pf.formula_count(tiny.config, method, cfg)


def perturb_adapters(model) -> None:
    """Give LoRA's B, DoRA's magnitude and IA³'s vectors non-trivial values, as training would."""
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                p.normal_(0, 0.3)
            elif "ia3_l" in name or "magnitude" in name:
                p.mul_(1 + 0.3 * torch.randn_like(p))


@pytest.mark.parametrize("method", pf.MERGEABLE)
def test_merged_equals_unmerged_and_leaves_no_adapter_modules(tiny, tokenizer, method):
    model = pf.build(tiny, method, pf.PeftConfig(lora_targets="all"))
    perturb_adapters(model)
    ids, mask = qa_batch(tokenizer)
    with torch.no_grad():
        changed = (model(input_ids=ids, attention_mask=mask).logits - tiny(input_ids=ids, attention_mask=mask).logits)
    assert changed.abs().max() > 1e-3  # the adapters do something, so equality below means something
    diff, scale, extra = pf.merge_check(model, ids, mask)
    assert diff <= 1e-5 * max(1.0, scale)
    assert extra == 0


def test_run_method_is_seeded_bounded_and_never_mutates(tiny, tokenizer):
    before = snapshot(tiny)
    cfg = pf.PeftConfig(steps=2, batch_size=2, max_new_tokens=2)
    a, _ = pf.run_method(tiny, tokenizer, "lora", cfg)
    b, _ = pf.run_method(tiny, tokenizer, "lora", cfg)
    assert a.losses == b.losses and len(a.losses) == 2
    assert a.trainable == a.formula and 0 < a.share < 1 and a.merged_extra_modules == 0
    assert_unchanged(tiny, before)
    calls = []
    stopped, _ = pf.run_method(tiny, tokenizer, "full", pf.PeftConfig(steps=5, batch_size=2, max_new_tokens=1),
                               on_progress=lambda f, m: calls.append((f, m)) or False)
    assert len(stopped.losses) == 1 and stopped.stopped_early and calls[0][0] == pytest.approx(0.2)
    huge = pf.PeftConfig(steps=10**6, batch_size=10**6, lora_rank=10**6, n_virtual=10**6).clipped()
    assert (huge.batch_size, huge.lora_rank, huge.n_virtual) == (pf.MAX_BATCH, pf.MAX_RANK, pf.MAX_VIRTUAL)


def test_compare_runs_each_method_once(tiny, tokenizer):
    cmp = pf.compare(tiny, tokenizer, pf.PeftConfig(steps=1, batch_size=2, max_new_tokens=1),
                     methods=("ia3", "prompt", "ia3", "nonsense"))
    assert [r.method for r in cmp.results] == ["ia3", "prompt"] and cmp.config.steps == 1
    assert all(np.isfinite(r.heldout_loss) for r in cmp.results)
    assert len(cmp.base_answers) == len(pf.QUESTIONS)


def test_comparison_budget():
    assert pf.budgeted_steps(60, len(pf.METHODS)) == 30 and pf.budgeted_steps(60, 2) == 60
    assert pf.budgeted_steps(10**9, 1) == loop.MAX_STEPS and pf.budgeted_steps(-5, 3) == 1


def test_greedy_without_cache_equals_generate(real):
    model, tok = real
    prompt = [tok.eos_token_id] + tok.encode("In the beginning God created")
    ours = loop.greedy_ids(model, prompt, tok.eos_token_id, max_new_tokens=8)
    ids = torch.tensor([prompt])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    assert ours == out[0, len(prompt):].tolist()
    assert loop.decode_answer(tok, [tok.encode(" Noah.")[0], tok.eos_token_id]).endswith("[end]")


# ---- LLaMA-Adapter finding ------------------------------------------------------------------------
def test_adaption_prompt_handles_gqa(tiny, tokenizer):
    diff, scale = ap.gqa_check(tiny, tokenizer)
    assert scale > 1e-3 and diff < 1e-5


def test_adaption_prompt_nan_is_fp16_adam_not_gqa(tiny, tokenizer):
    fp32_losses, grad_max, nan32 = ap.first_steps(tiny, tokenizer, steps=2)
    assert grad_max == 0.0  # zero-init gate: the prompt gets no gradient in step 1
    assert all(math.isfinite(x) for x in fp32_losses) and not nan32
    fp16_losses, _, nan16 = ap.first_steps(copy.deepcopy(tiny).half(), tokenizer, steps=2)
    assert math.isfinite(fp16_losses[0]) and math.isnan(fp16_losses[1]) and nan16
    assert torch.tensor(1e-8, dtype=torch.float16) == 0  # Adam's eps underflows: 0 / (0 + 0)


# ---- QLoRA -----------------------------------------------------------------------------------------
def test_nf4_bits_hand_values():
    assert qlora.nf4_bits_per_param(False) == 4.5  # 4 + 32/64
    with_dq = qlora.nf4_bits_per_param(True)
    assert with_dq == pytest.approx(4 + 8 / 64 + 32 / (64 * 256)) and with_dq == pytest.approx(4.127, abs=1e-3)


def test_memory_table_reproduces_the_papers_claims():
    rows = qlora.memory_table(rank=64)
    totals = qlora.totals(rows)
    params = {r.model: r.params for r in rows}
    assert params["7B"] == pytest.approx(6.74e9, rel=0.01) and params["65B"] == pytest.approx(65.2e9, rel=0.01)
    for size, N in params.items():
        assert totals[(size, "full 16-bit")] == pytest.approx(16 * N / 1e9)  # 2 + 2 + 12 bytes per parameter
        assert totals[(size, "QLoRA")] < totals[(size, "full 16-bit")] / 10
    assert totals[("65B", "QLoRA")] < qlora.PAPER_GPU_GB  # "65B on a single 48GB GPU" (weights + LoRA state)
    assert totals[("65B", "full 16-bit")] > qlora.PAPER_FULL_GB  # "more than 780 GB"
    # the LoRA count by hand for 7B, r=64, all 7 matrices: 32 · 64 · (4·(4096+4096) + 3·(4096+11008))
    assert qlora.lora_params(qlora.llama_config("7B"), 64) == 32 * 64 * (4 * 8192 + 3 * 15104)


def test_qlora_trains_on_a_4bit_base_on_cpu(real):
    model, tok = real
    nf4_model = qlora.load_nf4()
    weights = qlora.nf4_weights(nf4_model)
    linear = sum(p.numel() for n, p in model.named_parameters() if n.endswith("proj.weight"))
    assert weights.linear_params == linear
    assert weights.packed_bytes == linear // 2  # two 4-bit codes per byte
    assert weights.bits_per_param == pytest.approx(qlora.nf4_bits_per_param(True), abs=0.01)
    cfg = qlora.QLoRAConfig(steps=2, batch_size=2, rank=2)
    run = qlora.run(nf4_model, tok, cfg, quantized=True)
    assert all(math.isfinite(x) for x in run.losses) and len(run.losses) == 2
    assert run.trainable == pf.formula_count(model.config, "lora", pf.PeftConfig(lora_rank=2, lora_targets="all"))
    assert run.weight_bytes < 0.5 * pf.ft.tensor_bytes(model.parameters())
    assert abs(run.base_heldout_loss - pf.ft.heldout_loss(model, tok)) < 0.5  # NF4 is close to FP32, not equal


# ---- instruction tuning --------------------------------------------------------------------------
def test_instruction_data():
    train, heldout = instruction.load_instructions()
    assert 60 <= len(train) + len(heldout) <= 150 and len(heldout) >= 10
    assert {r.task for r in heldout} <= {r.task for r in train}
    assert not {r.instruction for r in train} & {r.instruction for r in heldout}


def test_chat_template_hand_case_and_no_mutation(tokenizer):
    chat = instruction.chat_tokenizer(tokenizer)
    assert tokenizer.chat_template is None
    text = chat.apply_chat_template(instruction.messages("Reverse: a b", "b a."), tokenize=False)
    assert text == "<|endoftext|>User:\nReverse: a b\nBot:\nb a.<|endoftext|>"
    prompt = chat.apply_chat_template(instruction.messages("Reverse: a b"), add_generation_prompt=True, tokenize=False)
    assert prompt == "<|endoftext|>User:\nReverse: a b\nBot:\n"


def test_prompt_mask_labels(tokenizer):
    chat = instruction.chat_tokenizer(tokenizer)
    train, heldout = instruction.load_instructions()
    for row in train + heldout:  # every row: the prompt is a token prefix
        instruction.encode_example(chat, row.instruction, row.response, True)
    ids, masked = instruction.encode_example(chat, "Reverse: a b", "b a.", mask_prompt=True)
    _, full = instruction.encode_example(chat, "Reverse: a b", "b a.", mask_prompt=False)
    n_prompt = len(instruction.prompt_ids(chat, "Reverse: a b"))
    assert full == ids
    assert masked[:n_prompt] == [-100] * n_prompt and masked[n_prompt:] == ids[n_prompt:]
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.decode(ids[n_prompt:-1]) == "b a."
    mask = instruction.token_mask(chat, "Reverse: a b", "b a.", mask_prompt=True)
    assert sum(mask.in_loss) == len(ids) - n_prompt and not any(mask.in_loss[:n_prompt])
    assert sum(instruction.token_mask(chat, "Reverse: a b", "b a.", False).in_loss) == len(ids) - 1
    long = instruction.token_mask(chat, "x " * 10_000, "y " * 10_000, True)
    assert len(long.pieces) <= 2 * instruction.MAX_MASK_CHARS + 16


def test_heldout_response_loss_equals_hf_masked_loss(tiny, tokenizer):
    chat = instruction.chat_tokenizer(tokenizer)
    rows = instruction.load_instructions()[1][:1]  # one row: HF's mean over labelled tokens is ours exactly
    response_loss, prompt_loss = instruction.heldout_losses(tiny, chat, rows)
    ids, labels, mask = instruction.encode(chat, rows, mask_prompt=True)
    with torch.no_grad():
        assert response_loss == pytest.approx(tiny(input_ids=ids, attention_mask=mask, labels=labels).loss.item(),
                                              rel=1e-5)
    assert prompt_loss > 0


def test_sft_is_seeded_and_reports_both_modes(tiny, tokenizer):
    cfg = instruction.SFTConfig(steps=2, batch_size=2, max_new_tokens=2)
    a, model = instruction.sft(tiny, tokenizer, cfg, mask_prompt=True)
    b, _ = instruction.sft(tiny, tokenizer, cfg, mask_prompt=True)
    c, _ = instruction.sft(tiny, tokenizer, cfg, mask_prompt=False)
    assert a.losses == b.losses and a.losses != c.losses
    assert 0 <= a.exact_match <= 1 and len(a.answers) == len(instruction.load_instructions()[1])
    assert instruction.normalise("  Tuesday. [end]") == "tuesday."
    assert model is not tiny


# ---- preferences ---------------------------------------------------------------------------------
def test_preference_data():
    train, heldout = preference.load_preferences()
    assert 60 <= len(train) + len(heldout) <= 150 and len(heldout) >= 10
    assert all(p.chosen != p.rejected for p in train + heldout)
    assert {p.kind for p in train} == {"wrong", "ramble", "runs on"}


def test_bradley_terry_loss_against_numpy():
    r_w, r_l = torch.tensor([1.0, -0.5, 2.0]), torch.tensor([0.0, 0.5, 2.0])
    expected = np.mean(np.log1p(np.exp(-(r_w.numpy() - r_l.numpy()))))  # -log σ(d) = log(1 + e^-d)
    assert preference.bradley_terry_loss(r_w, r_l).item() == pytest.approx(expected, rel=1e-6)
    assert preference.bradley_terry_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(math.log(2))


def test_dpo_loss_against_an_independent_formula():
    pw, pl, rw, rl = (torch.tensor(v) for v in ([-5.0, -3.0, -8.0], [-6.0, -2.0, -8.5], [-5.5, -3.0, -7.0],
                                                [-5.5, -2.5, -9.0]))
    beta = 0.5
    z = beta * ((pw.numpy() - rw.numpy()) - (pl.numpy() - rl.numpy()))
    expected = float(np.mean(-np.log(1 / (1 + np.exp(-z)))))
    loss, chosen, rejected = preference.dpo_loss(pw, pl, rw, rl, beta)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert torch.allclose(chosen - rejected, torch.tensor(z, dtype=torch.float32))
    same = preference.dpo_loss(pw, pl, pw, pl, beta)[0]  # π = π_ref: every implicit reward is 0
    assert same.item() == pytest.approx(math.log(2))


def test_sequence_logprobs_against_a_loop(tiny, tokenizer):
    chat = instruction.chat_tokenizer(tokenizer)
    ids, labels, mask = preference.encode_responses(chat, ["Reverse: a b", "Is fire hot?"], ["b a.", "Yes."])
    ours = preference.sequence_logprobs(tiny, ids, labels, mask)
    with torch.no_grad():
        for i in range(2):
            logits = tiny(input_ids=ids[i: i + 1]).logits[0]
            total = sum(torch.log_softmax(logits[t - 1], -1)[ids[i, t]].item() for t in range(ids.shape[1])
                        if labels[i, t] != -100)
            assert ours[i].item() == pytest.approx(total, rel=1e-5)


def test_reward_model_reads_the_last_real_token(tiny, tokenizer):
    chat = instruction.chat_tokenizer(tokenizer)
    rm = preference.RewardModel(tiny).eval()
    ids, _, mask = preference.encode_responses(chat, ["Reverse: a b", "Is fire hot?"], ["b a.", "Yes. " * 5])
    with torch.no_grad():
        padded = rm(ids, mask)
        alone = rm(ids[:1, : int(mask[0].sum())], mask[:1, : int(mask[0].sum())])
    assert padded[0].item() == pytest.approx(alone[0].item(), abs=1e-5)


def test_reward_model_and_dpo_run_bounded_and_seeded(tiny, tokenizer):
    before = snapshot(tiny)
    rm, _ = preference.train_reward_model(tiny, tokenizer, preference.RewardConfig(steps=2, batch_size=2))
    assert len(rm.losses) == len(rm.accuracies) == 2 and 0 <= rm.heldout_accuracy <= 1
    assert len(rm.heldout_margins) == len(preference.load_preferences()[1])
    cfg = preference.DPOConfig(steps=2, batch_size=2, max_new_tokens=2)
    a, policy = preference.dpo(tiny, tokenizer, cfg)
    b, _ = preference.dpo(tiny, tokenizer, cfg)
    assert a.losses == b.losses
    assert a.losses[0] == pytest.approx(math.log(2), abs=1e-5)  # step 1: π = π_ref
    assert a.margins[0] == pytest.approx(0.0, abs=1e-5) and a.kl_to_ref >= 0
    assert_unchanged(tiny, before)
    assert policy is not tiny


def test_pipeline_data_is_consistent():
    keys = {s.key for s in preference.RLHF_PIPELINE}
    assert all(a in keys and b in keys for a, b, _ in preference.PIPELINE_EDGES)
    assert {s.route for s in preference.RLHF_PIPELINE} == set(preference.PIPELINE_PAPERS)


# ---- guide and charts ----------------------------------------------------------------------------
def test_guide_rows(fake_comparison):
    empty = guide.guide_rows()
    assert len(empty) == 4 and all(r.measured == "" for r in empty)
    filled = guide.guide_rows(peft=fake_comparison, rag_measured="recall@5 0.9")
    by_name = {r.approach.split()[0]: r.measured for r in filled}
    assert "6.00" in by_name["Prompting"] and "1,000 trainable" in by_name["Full"]
    assert "lora 3.00" in by_name["PEFT"] and "ia3 3" in by_name["PEFT"] and by_name["RAG"] == "recall@5 0.9"


def test_charts_build(fake_comparison, tokenizer):
    df = charts.comparison_frame(fake_comparison)
    assert list(df.method) == ["full", "lora", "ia3"] and df.share_pct.iloc[1] == pytest.approx(1.0)
    for metric in charts.METRICS:
        assert charts.comparison_bars(df, metric, base_value=6.0).to_dict()
    with pytest.raises(ValueError):
        charts.comparison_bars(df, "nonsense")
    assert len(charts.loss_frame(fake_comparison)) == 6
    assert charts.loss_curves(charts.loss_frame(fake_comparison)).to_dict()

    chat = instruction.chat_tokenizer(tokenizer)
    mask_df = charts.token_mask_frame(instruction.token_mask(chat, "Reverse: a b", "b a.", True), per_line=8)
    assert "⏎" in set(mask_df.piece) and set(mask_df.in_loss) == {"in the loss", "no loss"}
    assert charts.token_mask_chart(mask_df).to_dict()

    run = instruction.SFTRun(True, (1.0,), 1.0, 2.0, 3.0, 0.5, (("next", 0.5),), (), False)
    cmp = instruction.MaskComparison(instruction.SFTConfig(), run, run, run, None, None)
    assert len(charts.mask_effect_frame(cmp)) == 9 and charts.mask_effect_bars(charts.mask_effect_frame(cmp)).to_dict()

    dpo = preference.DPOResult(preference.DPOConfig(), (0.69, 0.6), (0.0, 0.2), (0.0, 1.0), (0.0, 0.1), (0.0, -0.1),
                               1.0, 0.2, 0.5, 0.8, 0.01, (), False)
    assert len(charts.dpo_frame(dpo)) == 10 and charts.dpo_chart(charts.dpo_frame(dpo)).to_dict()
    rm = preference.RewardResult(preference.RewardConfig(), (0.7,), (0.5,), 0.5, 0.75, (0.3, -0.1), ("wrong", "ramble"),
                                 False)
    assert charts.reward_margin_chart(charts.reward_margin_frame(rm)).to_dict()
    boxes, arrows = charts.pipeline_frame(preference.RLHF_PIPELINE, preference.PIPELINE_EDGES)
    assert len(boxes) == 5 and len(arrows) == 4 and charts.pipeline_diagram(boxes, arrows).to_dict()

    memory = charts.qlora_memory_frame(qlora.memory_table())
    assert set(memory.setup) == {"full 16-bit", "QLoRA"} and charts.qlora_memory_bars(memory).to_dict()
    base_run = qlora.BaseRun("lora", 2**20, 10, (1.0,), 5.0, 2**21, 3.0, 2.0, ())
    q = qlora.QLoRAComparison(qlora.QLoRAConfig(), base_run, qlora.BaseRun("qlora", 2**19, 10, (1.0,), 9.0, 2**21,
                                                                           3.1, 2.1, ()),
                              qlora.NF4Weights(64, 32, 1, 4, 0), "test")
    assert len(charts.qlora_run_frame(q)) == 10 and charts.qlora_run_bars(charts.qlora_run_frame(q)).to_dict()


def test_assets_readme_names_the_files_and_licence():
    from core.pretraining.data import ASSETS

    text = (ASSETS / "finetune" / "README.md").read_text()
    for name in ("qa.tsv", "instructions.jsonl", "preferences.jsonl", "licence"):
        assert name in text
    for line in (ASSETS / "finetune" / "preferences.jsonl").read_text().splitlines():
        assert set(json.loads(line)) == {"prompt", "chosen", "rejected", "kind", "split"}
