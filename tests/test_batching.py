"""Batched generation on the tiny LM: left padding by hand, batched greedy == each prompt alone == HF
generate, the throughput record, the cost fit and the roofline formula."""
import pytest
import torch

from core.inference import batching
from core.models import load_causal_lm


@pytest.fixture(scope="module")
def lm():
    return load_causal_lm("tiny-lm")


def test_left_pad_by_hand():
    ids, mask = batching.left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError):
        batching.left_pad([[1], []], pad_id=0)


def test_batched_greedy_equals_each_prompt_alone(lm):
    model, tok = lm
    prompts = [tok.encode(t) for t in ("And God said, Let there be light", "Jesus wept.",
                                       "In the beginning", "The LORD is my shepherd; I shall not want.")]
    assert len({len(p) for p in prompts}) >= 3  # different lengths, so padding matters
    together = batching.batched_greedy(model, prompts, 12, tok.pad_token_id)
    alone = [batching.batched_greedy(model, [p], 12, tok.pad_token_id)[0] for p in prompts]
    assert together == alone
    for prompt, row in zip(prompts, alone):  # and both equal transformers' own greedy generate
        ids = torch.tensor([prompt])
        ref = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=12,
                             pad_token_id=tok.pad_token_id)[0, len(prompt):].tolist()
        assert row[: len(ref)] == ref  # generate stops at end-of-text; ours runs on past it


def test_padding_needs_the_attention_mask(lm):
    # The independent check that the mask matters: a left-padded row run without its attention mask
    # attends to the padding and gives other logits than the same prompt alone; with it, the same.
    model, tok = lm
    short = tok.encode("Jesus wept.")
    ids, mask = batching.left_pad([tok.encode("And God said, Let there be light upon the earth"), short], tok.pad_token_id)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        masked = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[1, -1]
        unmasked = model(input_ids=ids, position_ids=positions).logits[1, -1]
        alone = model(input_ids=torch.tensor([short])).logits[0, -1]
    assert torch.allclose(masked, alone, atol=1e-4)
    assert not torch.allclose(unmasked, alone, atol=1e-2)


def test_throughput_record_is_consistent(lm):
    model, tok = lm
    res = batching.measure_batched_throughput(model, tok, batch_sizes=(1, 2), new_tokens=4, reps=1)
    assert res.batch_sizes == (1, 2) and res.reps == 1 and len(res.prompt_tokens) == 2
    for b, s, tps, ms in zip(res.batch_sizes, res.seconds, res.tokens_per_s, res.step_ms):
        assert s > 0 and tps == pytest.approx(b * 4 / s) and ms == pytest.approx(1000 * s / 4)


def test_fit_step_cost_recovers_a_line():
    fixed, per_row = batching.fit_step_cost([1, 2, 4, 8, 16], [3 + 0.5 * b for b in (1, 2, 4, 8, 16)])
    assert fixed == pytest.approx(3.0) and per_row == pytest.approx(0.5)


def test_roofline_by_hand():
    # 7B FP16 on 312 TFLOP/s and 2 TB/s: FLOP bound 312e12 / 14e9 = 22,286; memory bound 2e12 / 14e9 = 142.9
    flop_bound, memory_bound = batching.roofline_tokens_per_s(7e9, 312e12, 2e12, bytes_per_param=2)
    assert flop_bound == pytest.approx(22285.7, rel=1e-4) and memory_bound == pytest.approx(142.857, rel=1e-4)
    assert batching.roofline_tokens_per_s(7e9, 312e12, 2e12, 2, batch=8)[1] == pytest.approx(8 * memory_bound)


def test_machine_measurements_are_positive():
    assert batching.measure_matmul_flops(n=128, reps=2) > 0
    assert batching.measure_copy_bandwidth(n_bytes=2**20, reps=2) > 0


def test_plan_throughput_by_hand():
    page = batching.plan_throughput((1, 2, 4, 8, 16), 32, 3)  # the page's default: 5 · 32 · 3 = 480 passes
    assert not page.cut and page.forwards == 480
    longest = batching.plan_throughput((1, 2, 4, 8, 16), 64, 3)  # 960 passes: 2 reps fit 640
    assert (longest.new_tokens, longest.reps, longest.forwards) == (64, 2, 640) and longest.cut
    huge = batching.plan_throughput((1, 2, 4, 8, 16), 2000, 3)  # one rep, then 640 // 5 = 128 tokens
    assert (huge.new_tokens, huge.reps, huge.forwards) == (128, 1, 640)
