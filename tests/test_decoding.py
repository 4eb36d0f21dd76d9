"""core.inference.decoding: hand-worked filters, the same filters as transformers' logits processors, and generation
token for token equal to `model.generate` (greedy, seeded sampling, beam search) on the real tiny LM."""
import math

import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from core.inference import decoding
from core.inference.decoding import DecodeConfig

INF = float("-inf")
PROMPTS = ["And God said", "In the beginning God created the heaven"]


# ---- hand-worked cases -----------------------------------------------------------------------
def test_filters_on_hand_worked_examples():
    assert torch.equal(decoding.apply_temperature(torch.tensor([2.0, 0.0]), 2.0), torch.tensor([1.0, 0.0]))
    assert torch.equal(decoding.top_k_filter(torch.tensor([1.0, 3.0, 2.0]), 2), torch.tensor([INF, 3.0, 2.0]))
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    kept = lambda p: torch.isfinite(decoding.top_p_filter(logits, p)).tolist()  # noqa: E731
    assert kept(0.7) == [True, True, False]  # 0.5 < 0.7 <= 0.5 + 0.3
    assert kept(0.5) == [True, False, False]  # the top token alone already reaches 0.5
    assert kept(0.81) == [True, True, True]
    assert kept(0.01) == [True, False, False]  # the most probable token always stays
    got = decoding.repetition_penalty(torch.tensor([2.0, -2.0, 1.0]), torch.tensor([0, 1]), 2.0)
    assert torch.equal(got, torch.tensor([1.0, -4.0, 1.0]))


def test_temperature_rejects_zero():
    with pytest.raises(ValueError):
        decoding.apply_temperature(torch.zeros(3), 0.0)


# ---- the same as transformers' logits processors ---------------------------------------------
@pytest.fixture(scope="module")
def random_logits():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(6, 500, generator=generator) * 3  # (B, V)


@pytest.mark.parametrize("k", [1, 5, 50, 499, 500, 1000])
def test_top_k_matches_transformers(random_logits, k):
    expected = TopKLogitsWarper(top_k=min(k, 500))(None, random_logits)
    assert torch.equal(decoding.top_k_filter(random_logits, k), expected)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.99])
def test_top_p_matches_transformers(random_logits, p):
    expected = TopPLogitsWarper(top_p=p)(None, random_logits)
    got = decoding.top_p_filter(random_logits, p)
    assert torch.equal(torch.isfinite(got), torch.isfinite(expected))
    assert torch.equal(got[torch.isfinite(got)], expected[torch.isfinite(expected)])


@pytest.mark.parametrize("t", [0.3, 1.0, 1.7])
def test_temperature_matches_transformers(random_logits, t):
    expected = TemperatureLogitsWarper(t)(None, random_logits)
    torch.testing.assert_close(decoding.apply_temperature(random_logits, t), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("penalty", [1.0, 1.3, 2.0])
def test_repetition_penalty_matches_transformers(random_logits, penalty):
    previous = torch.randint(0, 500, (6, 40), generator=torch.Generator().manual_seed(1))  # (B, T), with repeats
    expected = RepetitionPenaltyLogitsProcessor(penalty)(previous, random_logits.clone())
    torch.testing.assert_close(decoding.repetition_penalty(random_logits, previous, penalty), expected,
                               rtol=0, atol=0)


def test_processed_probabilities_are_a_distribution(random_logits):
    for strategy in decoding.STRATEGIES[:4]:
        cfg = DecodeConfig(strategy, temperature=0.7, top_k=10, top_p=0.8, repetition_penalty=1.2)
        probs = decoding.process_logits(random_logits[0], torch.tensor([1, 2, 3]), cfg).softmax(-1)
        assert math.isclose(float(probs.sum()), 1.0, abs_tol=1e-5)
        if strategy == "top-k":
            assert int((probs > 0).sum()) == 10


# ---- generation on the real tiny LM, token for token against model.generate -------------------
@pytest.fixture(scope="module")
def lm():
    from core.models import load_causal_lm

    return load_causal_lm("tiny-lm")


def _hf(model, tok, prompt, **kwargs):
    ids = tok(prompt, return_tensors="pt").input_ids
    out = model.generate(ids, attention_mask=torch.ones_like(ids), pad_token_id=tok.pad_token_id, **kwargs)
    return tuple(out[0, ids.size(1):].tolist())


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_matches_generate(lm, prompt):
    model, tok = lm
    ours = decoding.generate(model, tok, prompt, DecodeConfig("greedy", max_new_tokens=40))
    assert ours.new_ids == _hf(model, tok, prompt, do_sample=False, max_new_tokens=40)
    assert len(ours.steps) == len(ours.new_ids)
    assert all(s.kept == 4096 for s in ours.steps)  # greedy filters nothing


@pytest.mark.parametrize("strategy, knobs", [("temperature", dict(temperature=0.7)),
                                             ("top-k", dict(temperature=1.2, top_k=8)),
                                             ("top-p", dict(temperature=0.9, top_p=0.8))])
def test_seeded_sampling_matches_generate(lm, strategy, knobs):
    """Same filters, same seed, same random stream: the very same tokens as transformers' sampler."""
    model, tok = lm
    cfg = DecodeConfig(strategy, repetition_penalty=1.2, max_new_tokens=30, seed=7, **knobs)
    ours = decoding.generate(model, tok, PROMPTS[0], cfg)
    torch.manual_seed(7)
    hf = _hf(model, tok, PROMPTS[0], do_sample=True, max_new_tokens=30, repetition_penalty=1.2,
             temperature=cfg.temperature, top_k=cfg.top_k if strategy == "top-k" else 0,
             top_p=cfg.top_p if strategy == "top-p" else 1.0)
    assert ours.new_ids == hf


@pytest.mark.parametrize("beams", [2, 3, 5])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_beam_search_matches_generate(lm, prompt, beams):
    model, tok = lm
    ours = decoding.generate(model, tok, prompt, DecodeConfig("beam", num_beams=beams, max_new_tokens=20))
    hf = _hf(model, tok, prompt, do_sample=False, num_beams=beams, early_stopping=True, max_new_tokens=20)
    assert ours.new_ids == hf
    assert ours.finished[0][0] == ours.text or tok.eos_token_id in ours.new_ids
    scores = [norm for _, _, norm in ours.finished]
    assert scores == sorted(scores, reverse=True)


def test_beam_search_finds_a_sequence_at_least_as_probable_as_greedy(lm):
    model, tok = lm
    ids = tok(PROMPTS[0], return_tensors="pt").input_ids

    def logprob(new_ids):
        full = torch.cat([ids, torch.tensor([new_ids])], dim=1)
        with torch.no_grad():
            logp = model(full).logits[0, :-1].log_softmax(-1)
        return sum(float(logp[ids.size(1) - 1 + i, t]) for i, t in enumerate(new_ids))

    cfg = dict(max_new_tokens=8, stop_at_eos=False)
    greedy = decoding.generate(model, tok, PROMPTS[0], DecodeConfig("greedy", **cfg)).new_ids
    beam = decoding.generate(model, tok, PROMPTS[0], DecodeConfig("beam", num_beams=4, **cfg))
    if tok.eos_token_id not in beam.new_ids:  # same length: total log-probabilities are comparable
        assert logprob(list(beam.new_ids)) >= logprob(list(greedy)) - 1e-4


def test_sampling_is_seeded_and_top_k_1_is_greedy(lm):
    model, tok = lm
    cfg = DecodeConfig("top-p", temperature=1.0, top_p=0.95, max_new_tokens=24, seed=3, stop_at_eos=False)
    first, again = (decoding.generate(model, tok, PROMPTS[1], cfg) for _ in range(2))
    other = decoding.generate(model, tok, PROMPTS[1], DecodeConfig(**{**cfg.__dict__, "seed": 4}))
    assert first.new_ids == again.new_ids and first.new_ids != other.new_ids
    greedy = decoding.generate(model, tok, PROMPTS[1], DecodeConfig("greedy", max_new_tokens=16))
    top1 = decoding.generate(model, tok, PROMPTS[1], DecodeConfig("top-k", top_k=1, max_new_tokens=16, seed=9))
    assert top1.new_ids == greedy.new_ids
    assert all(s.kept == 1 for s in top1.steps)


def test_steps_record_candidates_and_the_choice(lm):
    model, tok = lm
    gen = decoding.generate(model, tok, "Ünïcødé 日本語 🤖", DecodeConfig("top-k", top_k=5, max_new_tokens=6))
    for step in gen.steps:
        assert step.chosen_id in [c.token_id for c in step.candidates]
        assert sum(c.prob for c in step.candidates) <= 1 + 1e-6
        ranked = sorted(step.candidates, key=lambda c: -c.prob)  # T = 1: the top 5 by p survive, no others
        assert all(c.final_prob > 0 for c in ranked[:5]) and all(c.final_prob == 0 for c in ranked[5:])
        assert step.chosen_rank == 1 + [c.token_id for c in ranked].index(step.chosen_id) <= 5
        assert step.kept == 5


def test_unknown_strategy_is_refused(lm):
    with pytest.raises(ValueError):
        decoding.generate(*lm, "And", DecodeConfig("mystery"))


def test_decoding_charts_build_from_a_real_generation(lm):
    import pandas as pd

    from core.charts import inference as charts

    gen = decoding.generate(*lm, PROMPTS[0], DecodeConfig("top-p", top_p=0.5, max_new_tokens=5))
    step = gen.steps[0]
    frame = pd.DataFrame([{"token": c.token, "prob": c.prob, "final_prob": c.final_prob,
                           "chosen": c.token_id == step.chosen_id} for c in step.candidates])
    spec = charts.candidates_chart(frame, "step 1").to_dict()
    assert len(spec["datasets"][spec["data"]["name"]]) == 2 * len(frame)  # model p and filtered p per token
    path = pd.DataFrame([{"step": i, "rank": r, "token": c.token, "prob": c.prob, "chosen": c.token_id == s.chosen_id}
                         for i, s in enumerate(gen.steps) for r, c in enumerate(s.candidates)])
    assert len(charts.decoding_path_chart(path).to_dict()["layer"]) == 3
    with pytest.raises(ValueError, match="missing"):
        charts.candidates_chart(frame.drop(columns="chosen"))


# ---- the work budget -----------------------------------------------------------------------------
def test_fit_budget_by_hand():
    cfg, keep, notes = decoding.fit_budget(DecodeConfig("beam", num_beams=10, max_new_tokens=500), 450, 512)
    assert (cfg.num_beams, cfg.max_new_tokens, keep) == (6, 128, 512 - 128)
    assert len(notes) == 3 and "first 384" in notes[2]
    cfg, keep, notes = decoding.fit_budget(DecodeConfig("top-k", max_new_tokens=24), 10, 512)
    assert (cfg.max_new_tokens, keep, notes) == (24, 10, ())  # within the budget: untouched
    assert decoding.fit_budget(DecodeConfig("greedy", num_beams=9), 10, 512)[2] == ()  # beams unused by greedy


def test_generate_keeps_prompt_and_output_inside_the_positions(lm):
    model, tok = lm
    prompt = "Ünïcødé 日本語のテキスト 🤖 ∑ √ ≠ " * 15  # ~800 byte-level tokens: more than the 512 positions
    assert len(tok(prompt).input_ids) > 512
    gen = decoding.generate(model, tok, prompt, DecodeConfig("greedy", max_new_tokens=300, stop_at_eos=False))
    assert len(gen.prompt_ids) == 512 - decoding.MAX_NEW_TOKENS and len(gen.new_ids) == decoding.MAX_NEW_TOKENS
    assert list(gen.prompt_ids) == tok(prompt).input_ids[: 512 - decoding.MAX_NEW_TOKENS]
    assert len(gen.notes) == 2
    assert decoding.generate(model, tok, "And God said", DecodeConfig(max_new_tokens=4)).notes == ()
