"""core.inference.speculative: our loop, transformers' assisted generation and the target's own greedy decoding
give the same tokens; the rounds add up; the speedup formula on hand-worked cases."""
import math

import pytest
import torch

from core.inference import speculative as spec

PROMPTS = ["And the LORD spake unto Moses, saying,", "In the beginning God created"]


def test_expected_speedup_hand_worked():
    assert math.isclose(spec.expected_speedup(0.8, 4, 0.1), (1 - 0.8**5) / (0.2 * 1.4))  # 2.401
    assert math.isclose(spec.expected_speedup(0.0, 3, 0.5), 1 / 2.5)  # every guess wrong: pure cost
    assert math.isclose(spec.expected_speedup(1.0, 4, 0.0), 5.0)  # perfect, free draft: k + 1 per pass


@pytest.fixture(scope="module")
def models():
    from core.models import load_causal_lm

    target, tok = load_causal_lm("tiny-lm")
    draft, _ = load_causal_lm("tiny-lm-draft")
    return target, draft, tok


def ids_of(tok, prompt):
    return tok(prompt, return_tensors="pt").input_ids


def test_trim_cache(models):
    target, _, tok = models
    cache = target(input_ids=ids_of(tok, PROMPTS[0]), use_cache=True).cache
    T = cache.get_seq_length()
    spec.trim_cache(cache, T + 5)  # longer than the cache: nothing happens
    assert cache.get_seq_length() == T
    spec.trim_cache(cache, 3)
    assert cache.get_seq_length() == 3 and cache.layers[0].keys.shape[2] == 3


@pytest.mark.parametrize("prompt", PROMPTS)
def test_target_greedy_is_generate(models, prompt):
    target, _, tok = models
    ids = ids_of(tok, prompt)
    hf = target.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=40,
                         pad_token_id=tok.pad_token_id)[0, ids.size(1):].tolist()
    assert list(spec.target_greedy(target, tok, ids, 40)) == hf


@pytest.mark.parametrize("prompt, k", [(PROMPTS[0], 1), (PROMPTS[0], 3), (PROMPTS[0], 6), (PROMPTS[1], 2),
                                       (PROMPTS[1], 4)])
def test_our_loop_equals_target_greedy_and_assisted_generation(models, prompt, k):
    target, draft, tok = models
    ids = ids_of(tok, prompt)
    reference = spec.target_greedy(target, tok, ids, 48, stop_at_eos=False)
    ours = spec.speculative_generate(target, draft, tok, ids, 48, k, stop_at_eos=False)
    assisted = spec.hf_generate(target, tok, ids, 48, draft=draft, k=k)  # min_new_tokens: no early stop
    plain = spec.hf_generate(target, tok, ids, 48)
    assert ours.new_ids == reference  # (a) our loop == the target alone
    assert assisted == plain  # (b) assisted generation == the target alone, both through generate
    cut = reference.index(tok.eos_token_id) if tok.eos_token_id in reference else len(reference)
    assert plain[:cut] == reference[:cut]  # generate's min_new_tokens only differs once end-of-text wins
    with_eos = spec.speculative_generate(target, draft, tok, ids, 48, k)
    assert with_eos.new_ids == spec.hf_generate(target, tok, ids, 48, draft=draft, k=k, ignore_eos=False)  # (c)


def test_rounds_add_up(models):
    target, draft, tok = models
    result = spec.speculative_generate(target, draft, tok, ids_of(tok, PROMPTS[0]), 60, 4, stop_at_eos=False)
    assert len(result.new_ids) == 60
    assert sum(r.accepted + 1 for r in result.rounds) == 60
    assert all(0 <= r.accepted <= len(r.proposed) <= 4 for r in result.rounds)
    assert result.target_passes == len(result.rounds) < 60
    assert 0 < result.acceptance <= 1
    new, i = list(result.new_ids), 0
    for r in result.rounds:  # the output is each round's accepted drafts, then the target's token
        assert new[i: i + r.accepted + 1] == list(r.proposed[: r.accepted]) + [r.target_token]
        i += r.accepted + 1


def test_a_perfect_draft_is_always_accepted(models):
    target, _, tok = models
    result = spec.speculative_generate(target, target, tok, ids_of(tok, PROMPTS[1]), 30, 4, stop_at_eos=False)
    assert result.acceptance == 1.0
    assert [r.accepted for r in result.rounds] == [4] * 6  # 6 rounds of 4 drafts + 1 bonus token = 30
    assert result.tokens_per_pass == 5.0


def test_assistant_view_leaves_the_draft_untouched(models):
    _, draft, _ = models
    before = draft.generation_config.to_dict()
    view = spec.assistant_with_k(draft, 3)
    assert view.generation_config.num_assistant_tokens == 3
    assert view.generation_config.assistant_confidence_threshold == 0.0
    assert draft.generation_config.to_dict() == before
    assert view.model.embed_tokens.weight is draft.model.embed_tokens.weight  # shared, not copied


def test_speculative_speedup_reports_consistent_figures(models):
    target, draft, tok = models
    s = spec.speculative_speedup(target, draft, tok, PROMPTS[0], new_tokens=32, k=2, reps=1)
    assert s.same_output and s.k == 2 and s.new_tokens == 32
    assert min(s.target_seconds, s.assisted_seconds, s.greedy_seconds, s.loop_seconds, s.draft_pass_ms,
               s.target_pass_ms) > 0
    assert math.isclose(s.speedup, s.target_seconds / s.assisted_seconds)
    assert math.isclose(s.loop_speedup, s.greedy_seconds / s.loop_seconds)
    assert 1 < s.drafts_per_round <= 2  # k = 2, fewer only in the last round
    assert math.isclose(s.predicted_speedup, s.tokens_per_pass / (1 + s.drafts_per_round * s.cost_ratio))
    assert s.acceptance == spec.acceptance(target, draft, tok, PROMPTS[0], 32, k=2)


def test_speculative_charts():
    import pandas as pd

    from core.charts import inference as charts

    rounds = pd.DataFrame([{"round": 1, "outcome": o, "tokens": n}
                           for o, n in (("accepted", 2), ("rejected", 1), ("target's token", 1))])
    spec = charts.speculative_rounds_chart(rounds).to_dict()
    assert [r["order"] for r in spec["datasets"][spec["data"]["name"]]] == [0, 1, 2]  # stacked in reading order
    sweep = pd.DataFrame({"k": [1, 2], "speedup": [1.2, 1.3], "what": ["ours", "ours"]})
    assert len(charts.speculative_k_chart(sweep).to_dict()["layer"]) == 2


# ---- the work budget -------------------------------------------------------------------------
def test_fit_budget_by_hand():
    k, new_tokens, keep, notes = spec.fit_budget(20, 500, 450, 512)
    assert (k, new_tokens, keep, len(notes)) == (spec.MAX_K, spec.MAX_NEW_TOKENS, 512 - 128, 3)
    assert spec.fit_budget(4, 48, 9, 512) == (4, 48, 9, ())


def test_speculate_is_the_target_greedy_within_the_budget(models):
    target, draft, tok = models
    demo = spec.speculate(target, draft, tok, PROMPTS[0], k=30, new_tokens=200)
    assert demo.result.k == spec.MAX_K and len(demo.result.new_ids) == spec.MAX_NEW_TOKENS
    assert demo.result.new_ids == demo.reference == spec.target_greedy(
        target, tok, ids_of(tok, PROMPTS[0]), spec.MAX_NEW_TOKENS, stop_at_eos=False)
    assert len(demo.notes) == 2


def test_plan_sweep_by_hand():
    page = spec.plan_sweep((1, 2, 3, 4, 5, 6), 64, 2)  # the page's sweep: 6 · (2 + 1) · 4 · 64 = 4,608 tokens
    assert not page.cut and page.decoded_tokens == 4_608 == spec.SWEEP_MAX_TOKENS
    longer = spec.plan_sweep((1, 2, 3, 4, 5, 6), 96, 2)  # 6,912 tokens: one run instead of two fits (4,608)
    assert (longer.ks, longer.new_tokens, longer.reps, longer.decoded_tokens) == ((1, 2, 3, 4, 5, 6), 96, 1, 4_608)
    huge = spec.plan_sweep((1, 2, 3, 4, 5, 6), 512, 3)  # reps 1, then 4,608 // (6 · 2 · 4) = 96 tokens
    assert (huge.new_tokens, huge.reps) == (96, 1)
    many = spec.plan_sweep(tuple(range(1, 100)), 16, 1)  # 4,608 // (2 · 4 · 16) = 36 values of k
    assert many.ks == tuple(range(1, 37)) and many.decoded_tokens <= spec.SWEEP_MAX_TOKENS


def test_speedup_sweep_runs_one_k_at_a_time_and_stops_at_its_time_cap(models):
    target, draft, tok = models
    plan = spec.plan_sweep((1, 2), 8, 1)
    no_cap = float("inf")  # a loaded test machine must not change what this test sees
    steps = spec.speedup_sweep(target, draft, tok, PROMPTS[0], plan, max_seconds=no_cap)
    assert [fraction for fraction, _ in steps] == [0.5, 1.0]
    sweep = list_and_return(spec.speedup_sweep(target, draft, tok, PROMPTS[0], plan, max_seconds=no_cap))
    assert [s.k for s in sweep.speedups] == [1, 2] and not sweep.stopped_early and sweep.work_seconds > 0
    capped = list_and_return(spec.speedup_sweep(target, draft, tok, PROMPTS[0], plan, max_seconds=0.0))
    assert [s.k for s in capped.speedups] == [1] and capped.stopped_early  # the first k always runs


def list_and_return(steps):
    """Drain a generator; return what it returns."""
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value
