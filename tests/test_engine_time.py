"""Where the decode time goes (core.inference.engine_ladder, engine_profile): the bounds' arithmetic against a direct
computation, the speedup formula against the Speculative section's, and one small measured run whose invariants
hold (r(1) = 1, ceilings T / r, the profile's split adds up to its wall time). One run for the module: ~10 s."""
import statistics
import time

import pytest
import torch

from core.inference import engine_ladder as el
from core.inference import engine_profile as P
from core.inference import speculative as spec
from core.inference.engine import Engine
from core.models import load_causal_lm

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PROMPT = "And the LORD spake unto Moses, saying,"


@pytest.fixture(scope="module")
def run():
    model, tok = load_causal_lm("tiny-lm")
    draft, _ = load_causal_lm("tiny-lm-draft")
    engine = Engine(model)
    ids = tok(PROMPT, return_tensors="pt").input_ids
    progress = []
    result = el.measure(model, engine, ids, el.RunConfig(new_tokens=8, rounds=1), Engine(draft),
                        lambda f, m: progress.append((f, m)))
    return result, model, engine, ids, progress


# ---- arithmetic, by hand --------------------------------------------------------------------------------
def test_roofline_by_hand():
    flop, memory = el.roofline(7e9, 989e12, 3.35e12, bytes_per_param=2)
    assert flop == pytest.approx(989e12 / 14e9) and memory == pytest.approx(3.35e12 / 14e9)
    assert round(memory) == 239 and round(flop) == 70_643
    _, with_kv = el.roofline(1_000, 1e9, 1e6, kv_bytes=1_000)  # 4,000 weight bytes + 1,000 KV bytes per token
    assert with_kv == pytest.approx(1e6 / 5_000)


def test_pass_ratio_and_crossover_by_hand():
    # 1 weight of 1 byte at 1 byte/s: reading it takes 1 s; 2 FLOP/s: T tokens take T s of arithmetic
    assert [el.pass_ratio_roofline(T, 1, 1, 1, 2) for T in (1, 2, 5)] == [1.0, 2.0, 5.0]
    assert el.pass_ratio_roofline(9, 7e9, 2, 3.35e12, 989e12) == 1.0  # a big model on a GPU: nine tokens, one read
    assert el.compute_bound_tokens(2, 3.35e12, 989e12) == pytest.approx(989e12 * 2 / (2 * 3.35e12))  # ~295


def test_expected_speedup_by_hand_and_against_the_speculative_section():
    assert el.expected_speedup(1.0, 4, 0.0, 2.5) == pytest.approx(2.0)  # 5 tokens for 2.5 steps
    assert el.expected_speedup(0.0, 3, 0.5, 1.2) == pytest.approx(1 / (1.5 + 1.2))  # only the target's token
    for alpha, k, c in ((0.6, 4, 0.14), (0.8, 2, 0.3), (1.0, 8, 0.0)):  # r = 1 is Leviathan et al.'s own formula
        assert el.expected_speedup(alpha, k, c, 1.0) == pytest.approx(spec.expected_speedup(alpha, k, c))


def test_run_config_is_cut_to_the_budget():
    assert el.RunConfig(999, 99, 600).clamped() == el.RunConfig(el.MAX_NEW_TOKENS, el.MAX_ROUNDS, el.MAX_SECONDS)
    assert el.RunConfig(1, 0).clamped() == el.RunConfig(el.MIN_NEW_TOKENS, 1, el.MAX_SECONDS)


def test_torch_threads_are_restored():
    before = torch.get_num_threads()
    with P.torch_threads(1):
        assert torch.get_num_threads() == 1
    with P.torch_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_alternate_rotates_and_stops_at_the_deadline():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = el.alternate(fns, 3)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")  # warm-up, then rotating rounds
    assert all(len(t) == 3 for t in times.values())
    calls.clear()
    rounds = []
    times = el.alternate(fns, 5, deadline=time.perf_counter() - 1, on_round=rounds.append)  # already past it
    assert rounds == [1] and all(len(t) == 1 for t in times.values())  # the first round always runs


# ---- one small measured run -------------------------------------------------------------------------------
def test_profile_split_adds_up_to_the_wall_time(run):
    result, *_ = run
    generate, engine = result.profiles
    for prof in (generate, engine):
        assert prof.tokens == 8 and prof.ms_per_token["matmul"] > 0
        total = sum(prof.ms_per_token.values())
        if prof.ms_per_token["python & framework"] > 0:  # the rest of the wall time is what no operation took
            assert total == pytest.approx(prof.wall_ms_per_token, rel=1e-9)
        else:  # operations on several threads can sum past the wall time
            assert total >= prof.wall_ms_per_token
        assert sum(prof.shares.values()) == pytest.approx(1.0)
    assert engine.ops_per_token < 0.6 * generate.ops_per_token
    frame = P.profile_frame(result.profiles)
    assert set(frame["name"]) == {"model.generate", "our engine"}
    assert frame.groupby("name")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert el.profile_chart(frame).to_dict()["mark"]["type"] == "bar"


def test_ladder_bounds_from_its_own_timings(run):
    result, model, _, ids, _ = run
    ladder = result.ladder
    assert ladder.same_tokens and ladder.rounds == 1 and not ladder.stopped_early
    n_params = sum(p.numel() for p in model.parameters())
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 4 * (ids.size(1) + 8 / 2)  # FP32 K and V
    flops = 2 * 1024**3 / statistics.median(ladder.seconds["matmul"])
    bandwidth = 2 * 64 * 2**20 / statistics.median(ladder.seconds["copy"])
    assert ladder.bounds == pytest.approx((flops / (2 * n_params), bandwidth / (4 * n_params + kv)))
    assert ladder.tokens_per_s("engine") == pytest.approx(8 / ladder.seconds["engine"][0])
    frame = el.ladder_frame(ladder)
    generates = 2 if "generate_1thread" in ladder.seconds else 1  # a 1-thread rung only when the process has more
    assert list(frame["what"]) == ["measured"] * (generates + 1) + ["bound"] * 2 and (frame["tokens/s"] > 0).all()
    assert ladder.best_generate == max(frame["tokens/s"][:generates])
    assert el.ladder_chart(frame).to_dict()["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"


def test_verification_ratios(run):
    result, *_ = run
    v = result.verification
    assert v.Ts == el.VERIFY_TS and v.rounds == v.planned_rounds == 2 and all(ms > 0 for ms in v.ms)
    assert v.ratios[0] == 1.0 and all(r > 0 for r in v.ratios)
    assert v.ceilings == pytest.approx([T / r for T, r in zip(v.Ts, v.ratios)]) and v.ceilings[0] == 1.0
    assert 0 < v.draft_cost < 1  # the draft is the smaller model
    frame = el.verification_frame(v)
    assert len(frame) == 3 * len(v.Ts)
    assert el.verification_chart(frame).to_dict()["mark"]["type"] == "line"


def test_the_timed_pass_is_the_verification_pass(run):
    """extend over T new tokens after the cached context gives the logits of one pass over all of them."""
    _, model, engine, ids, _ = run
    context = engine.generate(ids, 12, stop_at_eos=False)  # (1, T + 12)
    P_ = context.size(1) - 5
    engine.extend(context[:, :P_], 0)
    cached = engine.extend(context[:, P_:], P_)  # (1, 5, V)
    with torch.inference_mode():
        full = model(context).logits[:, P_:]  # (1, 5, V)
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=1e-4)


def test_progress_is_reported_in_order(run):
    *_, progress = run
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any("verification" in m for _, m in progress)
