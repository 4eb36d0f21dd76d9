"""Scaling laws (6ND, Chinchilla, the compute-optimal split) against independent computations and the paper's
Table 3; the stored sweep of tiny GPTs against the live trainer; the parameter-count formula against numel();
the subprocess data-parallel run's failure modes; the Pretraining quiz's numbers recomputed from core."""
import math

import numpy as np
import pytest

from core.charts import pretraining_scaling as charts
from core.pretraining import dedup, live_training, parallel
from core.pretraining import scaling as sc
from core.pretraining import tokenizers_compare as tc
from tests.test_quizzes import answer_of


# ---- 6ND and the Chinchilla law ---------------------------------------------------------------------
def test_six_nd_and_the_law_hand_worked():
    assert sc.training_flops(1e9, 20e9) == pytest.approx(1.2e20)
    n, d = 70e9, 1.4e12
    assert sc.chinchilla_loss(n, d) == pytest.approx(1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28)
    rule = sc.twenty_tokens_rule(5.76e23)  # Gopher's budget: sqrt(C / 120) parameters
    assert rule.parameters == pytest.approx(math.sqrt(5.76e23 / 120)) and rule.tokens_per_parameter == pytest.approx(20)
    assert 6 * rule.parameters * rule.tokens == pytest.approx(5.76e23)
    assert sc.training_days(1e23, 1024, 312e12, 0.4) == pytest.approx(1e23 / (1024 * 312e12 * 0.4) / 86400)


@pytest.mark.parametrize("flops", [1e18, 1e21, 5.76e23, 1e26])
def test_closed_form_optimum_equals_a_brute_force_search(flops):
    """Independent: scan 200,001 model sizes along the budget (D = C / 6N) and take the lowest loss."""
    best = sc.compute_optimal(flops)
    n = np.geomspace(best.parameters / 100, best.parameters * 100, 200_001)
    loss = sc.chinchilla_loss(n, flops / (6 * n))
    assert n[np.argmin(loss)] == pytest.approx(best.parameters, rel=1e-3)
    assert best.loss == pytest.approx(loss.min(), abs=1e-12)
    assert 6 * best.parameters * best.tokens == pytest.approx(flops)


def test_exponents_are_the_papers_approach_3():
    a, b = sc.BETA / (sc.ALPHA + sc.BETA), sc.ALPHA / (sc.ALPHA + sc.BETA)
    assert a == pytest.approx(0.46, abs=0.01) and b == pytest.approx(0.54, abs=0.01)  # Hoffmann et al., Table 2
    ratio = sc.compute_optimal(1e24).parameters / sc.compute_optimal(1e22).parameters
    assert ratio == pytest.approx(100 ** a)


def test_six_nd_reproduces_the_papers_table_3():
    for n, flops, d in sc.PAPER_TABLE_3:
        # the 67B row prints 1.5T tokens for 1.43T: rounded, 4.7% off; every other row within 1%
        assert sc.training_flops(n, d) == pytest.approx(flops, rel=0.05 if n == 67e9 else 0.01), n
        assert 20 <= d / n <= 22.5, n


def test_isoflop_curves_keep_the_budget_and_bottom_out_at_the_optimum():
    rows = sc.isoflop_curve(1e21, n_points=61)
    assert all(6 * r["parameters"] * r["tokens"] == pytest.approx(1e21) for r in rows)
    losses = [r["loss"] for r in rows]
    assert int(np.argmin(losses)) == 30 and min(losses) == pytest.approx(sc.compute_optimal(1e21).loss)
    assert len(sc.isoflop_rows([1e18, 1e20], n_points=10)) == 20
    for bad in (lambda: sc.isoflop_rows([1e20] * 9), lambda: sc.isoflop_curve(1e20, 500),
                lambda: sc.compute_optimal(1.0), lambda: sc.allocation(1e40, 1e9),
                lambda: sc.training_days(1e20, 0, 1e12, 0.5)):
        with pytest.raises(ValueError):
            bad()


def test_published_models_tokens_per_parameter():
    tpp = {m.name: m.tokens / m.parameters for m in sc.PUBLISHED}
    assert tpp["Chinchilla"] == pytest.approx(20) and tpp["GPT-3"] < 2 and tpp["Gopher"] < 2
    gopher, chinchilla = (next(m for m in sc.PUBLISHED if m.name == k) for k in ("Gopher", "Chinchilla"))
    assert sc.chinchilla_loss(chinchilla.parameters, chinchilla.tokens) < sc.chinchilla_loss(gopher.parameters,
                                                                                               gopher.tokens)


# ---- the measured sweep ----------------------------------------------------------------------------
def test_parameter_count_formula_equals_numel():
    for preset in live_training.PRESETS:
        model = live_training.build_model(preset)
        assert live_training.parameter_count(preset) == sum(p.numel() for p in model.parameters()), preset


def test_stored_sweep_is_complete_consistent_and_learns():
    points = {(p.model, p.steps): p for p in sc.MEASURED_SWEEP}
    assert set(points) == {(m, s) for m in sc.SWEEP_PRESETS for s in sc.SWEEP_STEPS}
    for (model, steps), p in points.items():
        assert p.parameters == live_training.parameter_count(model) and p.stopped_by == "steps"
        assert p.tokens == steps * sc.SWEEP_BATCH * sc.SWEEP_SEQ
        assert p.flops == pytest.approx(sc.training_flops(p.parameters, p.tokens), rel=1e-5)
        assert 3.0 < p.heldout_loss < math.log(live_training.VOCAB)
    for model in sc.SWEEP_PRESETS:  # more steps, lower held-out loss
        losses = [points[(model, s)].heldout_loss for s in sc.SWEEP_STEPS]
        assert losses == sorted(losses, reverse=True), model
    for steps in sc.SWEEP_STEPS[1:]:  # the same tokens: the bigger model ends lower
        assert points[("micro", steps)].heldout_loss < points[("nano", steps)].heldout_loss


def test_a_live_point_reproduces_the_stored_one():
    stored = next(p for p in sc.MEASURED_SWEEP if (p.model, p.steps) == ("nano", 25))
    live = sc.run_point("nano", 25, max_seconds=60.0, limit_seconds=600.0)
    if live.stopped_by != "steps":
        pytest.skip("this machine is too busy to finish 25 steps in 60 s")
    assert live.heldout_loss == pytest.approx(stored.heldout_loss, abs=2e-3)  # seeded: the same run
    assert (live.parameters, live.tokens) == (stored.parameters, stored.tokens)
    with pytest.raises(ValueError):
        sc.run_point("nano", 30)  # not a sweep point


def test_time_limit_is_lifted_only_when_asked():
    cfg = sc.sweep_config("nano", 25, max_seconds=120.0)
    with pytest.raises(ValueError):
        live_training.validate(cfg)
    live_training.validate(cfg, limit_seconds=3600.0)


def test_scaling_charts():
    budgets = [1e18, 1e20]
    optima = [sc.compute_optimal(c).__dict__ for c in budgets]
    spec = charts.isoflop_chart(sc.isoflop_rows(budgets, 20), optima, {"parameters": 1e8, "tokens": 1e9,
                                                                          "loss": 3.0}).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "point", "point"]
    assert spec["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    live = [sc.ScalingPoint("nano", 10, 25, 100, 6e3, 6.0, "time")]
    spec = charts.sweep_chart(sc.measured_rows(), sc.measured_rows(live)).to_dict()
    assert len(spec["layer"]) == 2
    assert len(charts.sweep_chart([], sc.measured_rows(live)).to_dict()["layer"]) == 1
    with pytest.raises(ValueError):
        charts.sweep_chart([], [])
    assert charts.budget_label(5.76e23) == "C = 5.8e+23"


# ---- the other additions to core -----------------------------------------------------------------
def test_train_on_corpus_is_the_comparisons_tokenizer():
    comparison = tc.compare((400,), train_chars=30_000, heldout_chars=5_000)
    for algorithm in tc.ALGORITHMS:
        tokenizer = tc.train_on_corpus(algorithm, 400, 30_000)
        stat = next(s for s in comparison.stats if s.algorithm == algorithm)
        assert tokenizer.get_vocab_size() == stat.vocab_size
        split = next(s for s in comparison.splits if s.algorithm == algorithm and s.sample == "code")
        assert tuple(tc.pieces(tokenizer, algorithm, split.text)[0]) == split.pieces
    with pytest.raises(ValueError):
        tc.train_on_corpus("BPE", 100)


def test_a_failing_worker_is_reported_not_hung():
    with pytest.raises(RuntimeError, match="data-parallel process failed"):
        parallel._run_workers(batches="not a list of tensors", lr=0.1, seed=0, timeout_s=60)


# ---- the quiz's numbers, recomputed -------------------------------------------------------------
def test_pretraining_quiz_figures_come_from_core():
    assert answer_of("Pretraining", "P = 100 hash functions") == f"{math.sqrt(0.5 * 0.5 / 100):.2f}"
    assert answer_of("Pretraining", "b = 20 bands") == f"{dedup.lsh_probability(0.5, 20, 5):.2f}"
    why = next(q.why for q in sc_questions() if "b = 20 bands" in q.question)
    assert f"{dedup.lsh_probability(0.8, 20, 5):.4f}" in why and f"{dedup.lsh_probability(0.3, 20, 5):.2f}" in why
    assert f"{dedup.lsh_threshold(20, 5):.2f}" in why
    assert answer_of("Pretraining", "T = 128 tokens") == f"{128 - 1} and about {round(0.15 * 128)}"
    assert answer_of("Pretraining", "4,096-token vocabulary starts") == f"{math.log(4096):.2f} nats"
    flops = sc.training_flops(1e9, sc.TOKENS_PER_PARAMETER * 1e9)
    assert answer_of("Pretraining", "1-billion-parameter") == "20B tokens, 1.2 × 10²⁰ FLOPs" and flops == 1.2e20
    assert answer_of("Pretraining", "p = 4 pipeline stages") == f"3/7 ≈ {parallel.bubble_fraction(4, 4):.0%}"
    assert f"{parallel.bubble_fraction(4, 16):.0%}" in next(q.why for q in sc_questions() if "p = 4" in q.question)
    zero = {stage: round(v["total"] / 1e9, 1) for stage, v in parallel.zero_memory(7.5e9, 64).items()}
    baseline, stage1, _, stage3 = (zero[s] for s in parallel.ZERO_STAGES)
    assert answer_of("Pretraining", "7.5B-parameter") == f"{baseline:.0f} GB against {stage3} GB"
    assert f"{stage1} GB" in next(q.why for q in sc_questions() if "7.5B-parameter" in q.question)


def sc_questions():
    from core.content.quizzes import QUIZZES

    return QUIZZES["Pretraining"]


def test_the_pretraining_quiz_has_questions_for_every_section():
    from tests.test_quizzes import page_headers

    sections = {q.section for q in sc_questions()}
    assert {"Data pipeline", "MLM vs CLM", "Train a tiny GPT", "Scaling", "Parallelism"} <= sections
    assert sections <= page_headers("Pretraining") and len(sc_questions()) >= 8
