"""Fine-tuning within budget, and the numbers the guide and the quiz show: deadlines that cut a run but keep it
comparable, the held-out answer-token loss every approach is measured by (checked against HF's masked loss),
few-shot prompting, the guide's measured rows, the shared padding helper, the new charts."""
import copy
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from core.charts import finetuning_depth as charts
from core.finetuning import guide, instruction, loop, preference, qlora
from core.finetuning import peft_families as pf
from tests.conftest import fake_method, qa_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- budgets, prompting and the guide's measured rows ------------------------------------------------
def test_a_deadline_keeps_two_steps_and_says_so(tiny, tokenizer):
    ids, mask = qa_batch(tokenizer)

    def run(steps, deadline):
        model = copy.deepcopy(tiny)
        labels = ids.masked_fill(mask == 0, -100)
        return loop.train_bounded(model, lambda g: model(input_ids=ids, attention_mask=mask, labels=labels).loss,
                                  steps=steps, lr=1e-3, seed=0, deadline=deadline)

    past = run(5, 0.0)  # perf_counter() == 0 is long gone
    assert len(past.losses) == 2 and past.timed_out and not past.stopped_early
    free = run(3, loop.deadline_after(None))
    assert len(free.losses) == 3 and not free.timed_out and free.losses[:2] == past.losses
    assert loop.deadline_after(None) is None and loop.deadline_after(10.0) > loop.deadline_after(0.0)


def test_compare_runs_the_first_method_and_skips_what_no_longer_fits(tiny, tokenizer):
    cmp = pf.compare(tiny, tokenizer, pf.PeftConfig(steps=4, batch_size=2, max_new_tokens=1),
                     methods=("lora", "ia3"), max_seconds=0.0)
    assert [r.method for r in cmp.results] == ["lora"]
    assert cmp.results[0].timed_out and len(cmp.results[0].losses) == 2
    assert any("ia3" in n for n in cmp.notes) and any("lora: 2 of 4 steps" in n for n in cmp.notes)
    ran = pf.compare(tiny, tokenizer, pf.PeftConfig(steps=2, batch_size=2, max_new_tokens=1), methods=("ia3",),
                     max_seconds=None)
    assert ran.notes == () and len(ran.results[0].forward_ms) == 3 and min(ran.results[0].forward_ms) > 0
    assert np.isfinite(ran.base_answer_loss) and np.isfinite(ran.results[0].answer_loss)


def test_answer_labels_hand_case(tokenizer):
    eos = tokenizer.eos_token_id
    ids, labels = pf.encode_with_answer_labels(tokenizer, "Who built the ark?", "Noah.")
    answer = tokenizer.encode("Question: Who built the ark?\nAnswer: Noah.")[
        len(tokenizer.encode("Question: Who built the ark?\nAnswer:")):]
    assert [t for t in labels if t != -100] == answer + [eos] and ids[-1] == eos and ids[0] == eos
    shot_ids, shot_labels = pf.encode_with_answer_labels(tokenizer, "Who built the ark?", "Noah.",
                                                        shots=[("Who was the first man?", "Adam.")])
    assert [t for t in shot_labels if t != -100] == answer + [eos]  # the example's answer carries no loss
    assert shot_ids[-len(ids) + 1:] == ids[1:] and shot_ids.count(eos) == 3


@pytest.mark.parametrize("method", ["full", "prompt"])
def test_answer_loss_equals_hf_loss_on_answer_labels(tiny, tokenizer, method):
    """Our sum over answer tokens / count, against HF's (and peft's, which pads labels for virtual tokens) mean."""
    model = pf.build(tiny, method, pf.PeftConfig(n_virtual=3))
    pairs = [("Who built the ark?", "Noah.")]  # one pair: HF's mean over its labelled tokens is ours exactly
    shots = [("Who was the first man?", "Adam.")]
    for context in ((), shots):
        ids, labels = pf.encode_with_answer_labels(tokenizer, *pairs[0], shots=context)
        with torch.no_grad():
            hf = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
        assert pf.answer_loss(model, tokenizer, pairs, context) == pytest.approx(hf, rel=1e-5)


def test_few_shot_counts_its_context_and_clips(tiny, tokenizer):
    from core.finetuning.finetune import format_prompt, load_task

    two = guide.few_shot(tiny, tokenizer, 2, max_new_tokens=2)
    train, heldout = load_task()
    expected = sum(len(tokenizer.encode(f"{format_prompt(q)} {a}")) + 1 for q, a in train[:2])
    assert two.shots == 2 and two.context_tokens == expected and len(two.answers) == len(pf.QUESTIONS)
    assert two.zero_shot_answer_loss == pytest.approx(pf.answer_loss(tiny, tokenizer, heldout))
    assert two.answer_loss == pytest.approx(pf.answer_loss(tiny, tokenizer, heldout, train[:2]))
    none = guide.few_shot(tiny, tokenizer, -3, max_new_tokens=1)
    assert none.shots == 0 and none.context_tokens == 0 and none.answer_loss == none.zero_shot_answer_loss
    assert guide.few_shot(tiny, tokenizer, 10**6, max_new_tokens=1).shots == guide.MAX_SHOTS


def test_measured_rows_and_prompting_in_the_guide(fake_comparison):
    prompting = guide.PromptingResult(shots=4, zero_shot_answer_loss=5.6, answer_loss=5.4, context_tokens=83,
                                      answers=("x", "y", "z"))
    assert guide.measured_rows() == ()
    rows = guide.measured_rows(prompting, fake_comparison)
    assert [r["approach"] for r in rows] == ["prompting, zero-shot", "prompting, 4-shot", "full fine-tuning", "lora",
                                             "ia3"]
    assert rows[1]["extra_tokens"] == 83 and rows[0]["trainable"] == 0 and math.isnan(rows[0]["peak_MB"])
    prompt_row = guide.measured_rows(peft=pf.PeftComparison(
        config=pf.PeftConfig(n_virtual=5), base_heldout_loss=6.0, base_answers=("x",),
        results=(fake_method("prompt", 40, 4.0),), threads=1))[0]
    assert prompt_row["extra_tokens"] == 5
    filled = guide.guide_rows(prompting=prompting)
    assert "4-shot prompting: answer-token loss 5.40 (zero-shot 5.60)" in filled[0].measured


def test_pad_examples_is_shared_by_instruction_and_preference(tokenizer):
    ids, labels, mask = instruction.pad_examples([([5, 6, 7], [-100, 6, 7]), ([8], [8])], pad_id=1)
    assert ids.tolist() == [[5, 6, 7], [8, 1, 1]] and labels.tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    chat = instruction.chat_tokenizer(tokenizer)
    rows = instruction.load_instructions()[1][:3]
    ours = preference.encode_responses(chat, [r.instruction for r in rows], [r.response for r in rows])
    theirs = instruction.encode(chat, rows, mask_prompt=True)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_cut_runs_stay_comparable(tiny, tokenizer):
    cfg = instruction.SFTConfig(steps=5, batch_size=2, max_new_tokens=1)
    cmp = instruction.compare_masking(tiny, tokenizer, cfg, max_seconds=0.0)
    assert len(cmp.masked.losses) == len(cmp.unmasked.losses) == 2 and cmp.masked.timed_out
    sft_run, dpo_result = preference.sft_then_dpo(tiny, tokenizer, cfg, preference.DPOConfig(steps=2, batch_size=2,
                                                                                             max_new_tokens=1),
                                                  max_seconds=None)
    assert len(sft_run.losses) == 5 and len(dpo_result.losses) == 2
    assert dpo_result.losses[0] == pytest.approx(math.log(2), abs=1e-5)  # DPO starts at π = π_ref = the SFT model


def test_latency_and_reward_charts(fake_comparison):
    timed = pf.PeftComparison(config=pf.PeftConfig(), base_heldout_loss=6.0, base_answers=("x",), threads=1,
                              results=(replace(fake_method("lora", 10, 3.0), forward_ms=(1.0, 1.3, 1.01)),
                                       fake_method("adapter", 10, 3.0)))
    df = charts.latency_frame(timed)
    assert list(df.model) == ["base", "adapted", "merged"] and set(df.method) == {"lora"}
    assert charts.latency_bars(df).to_dict()
    rm = preference.RewardResult(preference.RewardConfig(), (0.7, 0.6), (0.5, 0.75), 0.5, 0.75, (0.3,), ("wrong",),
                                 False)
    frame = charts.reward_frame(rm)
    assert len(frame) == 4 and charts.reward_curves(frame).to_dict()


# ---- the quiz's numbers come from core ----------------------------------------------------------------------------
def _answer(words: str) -> str:
    from core.content.quizzes import QUIZZES

    (q,) = [q for q in QUIZZES["Fine-tuning"] if words in q.question]
    return q.options[q.answer]


def test_fine_tuning_quiz_figures_come_from_core(real):
    ia3 = pf.formula_count(real[0].config, "ia3", pf.PeftConfig())
    assert _answer("IA³ on tiny-lm") == f"{ia3:,}" == "3,840"
    assert _answer("double quantization (8-bit") == f"≈ {qlora.nf4_bits_per_param(True):.3f}"
    r_w, r_l = torch.tensor([2.0]), torch.tensor([0.0])
    p_preferred = math.exp(-preference.bradley_terry_loss(r_w, r_l).item())  # σ(2) = e^(-(-log σ(2)))
    assert _answer("r(x, y_w) = 2") == f"σ(2) ≈ {p_preferred:.2f}"
    logp = torch.tensor([-3.0, -7.5])
    first_step = preference.dpo_loss(logp, logp.flip(0), logp, logp.flip(0), beta=0.1)[0].item()  # π = π_ref
    assert _answer("DPO's first step") == f"log 2 ≈ {first_step:.3f}"
