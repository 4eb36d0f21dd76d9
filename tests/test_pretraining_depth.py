"""Pretraining at depth: the data pipeline (MinHash, LSH, dedup), tokenizers compared, MLM vs CLM,
live training, parallelism, and their charts. Hand-worked cases, independent computations, invariants."""
import itertools
import math

import numpy as np
import pytest
import torch

from core.charts import pretraining_depth as charts
from core.pretraining import dedup, live_training, objectives, parallel, pipeline
from core.pretraining import tokenizers_compare as tc
from core.pretraining.tokenization import load_bundled_tokenizer, readable

LN_V = math.log(4096)


# ---- MinHash, LSH, exact dedup ----------------------------------------------------------------------
def test_jaccard_and_shingles_hand_worked():
    assert dedup.jaccard(frozenset({1, 2}), frozenset({2, 3})) == pytest.approx(1 / 3)
    assert dedup.shingles("A b, c", 2) == {"a b", "b c"}
    assert dedup.shingles("one two", 5) == {"one two"}  # shorter than k: one shingle
    assert dedup.components(4, [(1, 3)]) == [0, 1, 2, 1]
    assert dedup.components(5, [(3, 4), (1, 4)]) == [0, 1, 2, 1, 1]


def test_minhash_of_identical_and_disjoint_sets():
    a = frozenset(f"w{i}" for i in range(50))
    b = frozenset(f"v{i}" for i in range(50))
    sig = dedup.signatures([a, a, b], 128, seed=3)
    assert dedup.estimated_jaccard(sig[0], sig[1]) == 1.0
    assert dedup.estimated_jaccard(sig[0], sig[2]) == 0.0  # a·x + b mod p is one-to-one: no false agreements


def test_minhash_estimates_jaccard_on_many_pairs():
    """200 pairs of 60-element sets with overlaps spread over 0..1, P = 256 hash functions.

    Standard error sqrt(J (1 - J) / P) <= 0.031. Stated tolerance: every pair within 0.15 (~5 sigma),
    mean |error| <= 0.03, mean signed error within 0.01 (the estimator is unbiased)."""
    rng = np.random.default_rng(0)
    sets, truth = [], []
    for _ in range(200):
        shift = int(rng.integers(0, 61))
        ids = rng.choice(10**9, size=60 + shift, replace=False)
        a, b = frozenset(f"w{x}" for x in ids[:60]), frozenset(f"w{x}" for x in ids[shift : shift + 60])
        sets += [a, b]
        truth.append(dedup.jaccard(a, b))
    sig = dedup.signatures(sets, 256, seed=0)
    est = np.array([dedup.estimated_jaccard(sig[2 * i], sig[2 * i + 1]) for i in range(200)])
    err = est - np.array(truth)
    assert min(truth) < 0.05 and max(truth) > 0.9  # the range is covered
    assert np.abs(err).max() <= 0.15
    assert np.abs(err).mean() <= 0.03
    assert abs(err.mean()) <= 0.01


def test_lsh_probability_hand_worked():
    assert dedup.lsh_probability(0.5, 2, 2) == pytest.approx(0.4375)  # 1 - (1 - 1/4)^2
    assert dedup.lsh_probability(0.3, 1, 1) == pytest.approx(0.3)  # one band of one row: P = s
    assert dedup.lsh_probability(0.0, 20, 5) == 0.0 and dedup.lsh_probability(1.0, 20, 5) == 1.0
    # b = 20, r = 5, s = 0.8: 0.8^5 = 0.32768; 1 - 0.67232^20 = 1 - 0.000356
    assert dedup.lsh_probability(0.8, 20, 5) == pytest.approx(0.999644, abs=1e-6)
    assert dedup.lsh_threshold(20, 5) == pytest.approx(0.05 ** 0.2)
    s = np.linspace(0, 1, 11)
    assert np.all(np.diff(dedup.lsh_probability(s, 8, 4)) >= 0)  # the S-curve rises


def test_batched_estimates_and_the_candidate_limit():
    sets = [frozenset(f"w{i}" for i in range(s, s + 30)) for s in range(0, 60, 3)]
    sig = dedup.signatures(sets, 64, seed=5)
    pairs = [(0, 1), (2, 7), (5, 19)]
    assert dedup.estimated_jaccards(sig, pairs).tolist() == [dedup.estimated_jaccard(sig[i], sig[j]) for i, j in pairs]
    assert len(dedup.lsh_candidates(sig, 64, 1)) > 10 and len(dedup.lsh_candidates(sig, 64, 1, limit=10)) == 10


def test_lsh_candidate_rate_matches_the_formula():
    """Independent check: 400 pairs with Jaccard exactly 0.5 (60-element sets sharing 40), b = 8, r = 4.
    Measured share of candidates vs 1 - (1 - 0.5^4)^8 = 0.403; binomial sd 0.025, tolerance 0.07."""
    rng = np.random.default_rng(1)
    sets = []
    for _ in range(400):
        ids = rng.choice(10**9, size=80, replace=False)
        sets += [frozenset(f"w{x}" for x in ids[:60]), frozenset(f"w{x}" for x in ids[20:])]
    assert dedup.jaccard(sets[0], sets[1]) == 0.5
    pairs = dedup.lsh_candidates(dedup.signatures(sets, 32, seed=2), 8, 4)
    rate = sum((2 * i, 2 * i + 1) in pairs for i in range(400)) / 400
    assert rate == pytest.approx(dedup.lsh_probability(0.5, 8, 4), abs=0.07)


def test_exact_dedup_against_a_direct_count():
    assert dedup.exact_duplicates(["a b", "A  b", "c", " c\n"]) == [1, 3]
    docs = pipeline.make_mix(pipeline.MixConfig(n_documents=120, seed=4))
    texts = [d.text for d in docs]
    direct = len(texts) - len({" ".join(t.lower().split()) for t in texts})
    assert len(dedup.exact_duplicates(texts)) == direct
    only_exact = pipeline.CleanConfig(strip_boilerplate=False, quality_filter=False, near_dedup=False)
    res = pipeline.run_pipeline(pipeline.MixConfig(n_documents=120, seed=4), only_exact)
    by_step = {s.step: s for s in res.steps}
    assert by_step["raw"].documents - by_step["exact dedup"].documents == direct
    assert by_step["exact dedup"].removed_noise == sum(d.origin == "exact duplicate" for d in docs) == direct


# ---- the pipeline --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline_result():
    return pipeline.run_pipeline(pipeline.MixConfig(n_documents=150, seed=0))


def test_token_counts_equal_encoding_whole_documents():
    """Independent count: the pipeline sums per-line tokens plus one per line break; encode whole texts."""
    docs = list(pipeline.make_mix(pipeline.MixConfig(n_documents=150, seed=3, exact_dup_rate=0.5)))
    n_docs, n_chars, n_tokens = pipeline.count(docs)
    whole = load_bundled_tokenizer().encode_batch([d.text for d in docs], add_special_tokens=False)
    assert n_tokens == sum(len(e.ids) for e in whole)
    assert (n_docs, n_chars) == (len(docs), sum(len(d.text) for d in docs))


def test_quality_rules_hand_worked():
    cfg = pipeline.CleanConfig()
    assert pipeline.line_quality("ok", cfg) == "too few words"
    assert pipeline.line_quality("@#$ %&* ^^! {}|", cfg) == "too many symbols"
    assert pipeline.line_quality("sooooooo good indeed", cfg) == "repeated character"
    assert pipeline.line_quality("1 2 3 4 and", cfg) == "too few words with letters"
    assert pipeline.line_quality("In the beginning God created the heaven and the earth.", cfg) is None
    assert pipeline.longest_run("aaab") == 3 and pipeline.longest_run("") == 0
    assert pipeline.is_boilerplate("Accept all  COOKIES") and pipeline.is_boilerplate("Sign  in or create an account")
    assert not pipeline.is_boilerplate("And God said, Let there be light: and there was light.")


def test_planted_near_duplicates_are_found(pipeline_result):
    res = pipeline_result
    assert res.planted_total >= 15
    assert res.planted_found / res.planted_total >= 0.7
    planted = [p for p in res.pairs if p.true >= 0.8 and not p.candidate]
    assert planted == []  # P[candidate] >= 0.9996 at s >= 0.8 with b = 20, r = 5
    for p in res.pairs:  # duplicates are exactly the candidates at or above the threshold
        assert p.duplicate == (p.candidate and p.estimated >= res.clean.threshold)


def test_pipeline_counts_shrink_and_are_seeded(pipeline_result):
    steps = pipeline_result.steps
    assert [s.step for s in steps] == charts.STEP_ORDER
    for before, after in itertools.pairwise(steps):
        assert after.documents <= before.documents and after.characters <= before.characters
        assert after.tokens <= before.tokens
    for s in steps[1:]:  # every step removes mostly noise
        assert s.removed_noise > 5 * s.removed_clean
    again = pipeline.run_pipeline(pipeline.MixConfig(n_documents=150, seed=0))
    assert again.steps == steps and again.pairs == pipeline_result.pairs


def test_a_switched_off_step_keeps_everything():
    res = pipeline.run_pipeline(pipeline.MixConfig(n_documents=60, seed=2),
                                pipeline.CleanConfig(quality_filter=False, near_dedup=False))
    by_step = {s.step: s for s in res.steps}
    assert not by_step["quality filter"].enabled
    assert by_step["quality filter"].tokens == by_step["strip boilerplate"].tokens
    assert by_step["near dedup"].documents == by_step["exact dedup"].documents and res.pairs == ()


def test_pipeline_rejects_settings_past_its_budget():
    with pytest.raises(ValueError):
        pipeline.make_mix(pipeline.MixConfig(n_documents=pipeline.MAX_ORIGINALS + 1))
    with pytest.raises(ValueError):
        pipeline.make_mix(pipeline.MixConfig(exact_dup_rate=0.9))
    with pytest.raises(ValueError):
        pipeline.run_pipeline(pipeline.MixConfig(n_documents=10), pipeline.CleanConfig(bands=64, rows=16))


# ---- tokenizers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer_comparison():
    return tc.compare(vocab_sizes=(400, 1000), train_chars=60_000, heldout_chars=20_000)


def test_three_tokenizers_side_by_side(tokenizer_comparison):
    stats = {(s.algorithm, s.requested_vocab): s for s in tokenizer_comparison.stats}
    assert set(stats) == {(a, v) for a in tc.ALGORITHMS for v in (400, 1000)}
    for (algorithm, v), s in stats.items():
        assert s.vocab_size <= v and s.chars_per_token > 1
        assert stats[(algorithm, 1000)].chars_per_token > stats[(algorithm, 400)].chars_per_token
    assert stats[("BPE", 400)].unknown_rate == 0.0
    splits = {(s.algorithm, s.vocab_size, s.sample): s for s in tokenizer_comparison.splits}
    assert splits[("BPE", 1000, "Chinese")].n_unknown == 0  # byte-level: never out of vocabulary
    assert "[UNK]" in splits[("WordPiece", 1000, "Chinese")].pieces
    assert "<unk>" in splits[("Unigram", 1000, "Chinese")].pieces
    assert any(p.startswith("##") for p in splits[("WordPiece", 1000, "French")].pieces)


def test_bpe_replay_ends_at_the_tokenizers_encoding():
    tokenizer = load_bundled_tokenizer()
    sentence = "And the firstborn of Egypt, 1611 photosynthesis!"
    steps = tc.bpe_steps(tokenizer, sentence)
    final = [s for word in steps[-1].words for s in word]
    assert final == [readable(t) for t in tokenizer.encode(sentence, add_special_tokens=False).tokens]
    assert "".join(s for word in steps[0].words for s in word) == sentence  # step 0: the bytes themselves
    ranks = [s.rank for s in steps[1:]]
    assert ranks == sorted(set(ranks))  # each step applies a later merge than the one before
    sizes = [sum(len(w) for w in s.words) for s in steps]
    assert all(b < a for a, b in itertools.pairwise(sizes))


# ---- MLM vs CLM ---------------------------------------------------------------------------------
def test_masking_equals_hugging_faces_collator():
    from transformers import DataCollatorForLanguageModeling

    from core.pretraining.tokenization import to_transformers

    hf_tok = to_transformers(load_bundled_tokenizer())
    hf_tok.add_special_tokens({"mask_token": objectives.MASK_TOKEN})
    assert hf_tok.mask_token_id == objectives.MASK_ID and len(hf_tok) == objectives.VOCAB
    ids = torch.randint(2, 4096, (6, 40), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 0  # end-of-text: special, never masked
    collator = DataCollatorForLanguageModeling(hf_tok, mlm_probability=0.15, seed=7)
    theirs = collator([row.tolist() for row in ids])
    inputs, labels, _ = objectives.mask_tokens(ids, torch.Generator().manual_seed(7))
    assert torch.equal(inputs, theirs["input_ids"]) and torch.equal(labels, theirs["labels"])


def test_masking_statistics_and_invariants():
    ids = torch.randint(2, 4096, (64, 256), generator=torch.Generator().manual_seed(1))
    ids[:, ::50] = 0
    inputs, labels, action = objectives.mask_tokens(ids, torch.Generator().manual_seed(2))
    selected = labels != -100
    assert not selected[ids == 0].any()
    assert torch.equal(labels[selected], ids[selected]) and torch.equal(inputs[~selected], ids[~selected])
    assert selected.float().mean().item() == pytest.approx(0.15 * 251 / 256, abs=0.01)
    n = selected.sum().item()
    assert (action == 1).sum().item() / n == pytest.approx(0.8, abs=0.03)
    assert (action == 2).sum().item() / n == pytest.approx(0.1, abs=0.03)
    assert (action == 3).sum().item() / n == pytest.approx(0.1, abs=0.03)
    assert (inputs[action == 1] == objectives.MASK_ID).all()
    assert torch.equal(inputs[action == 3], ids[action == 3])


def test_clm_and_mlm_views_of_one_sentence():
    sentence = "And God said, Let there be light: and there was light."
    clm = objectives.clm_view(sentence)
    assert clm.targets[:-1] == clm.tokens[1:] and clm.targets[-1] == ""
    assert clm.n_predicted == len(clm.tokens) - 1 and clm.inputs == clm.tokens
    mlm = objectives.mlm_view(sentence, 0.5, seed=0)
    assert mlm.n_predicted == sum(t != "" for t in mlm.targets) > 0
    for tok_, inp, tgt, act in zip(mlm.tokens, mlm.inputs, mlm.targets, mlm.actions):
        assert (tgt == "") == (act == "")
        if act in ("", "unchanged (10%)"):
            assert inp == tok_
        if act == "[MASK] (80%)":
            assert inp == objectives.MASK_TOKEN and tgt == tok_
    assert objectives.mlm_view(sentence, 0.5, seed=0) == mlm  # seeded


def test_objectives_train_briefly_from_ln_v(monkeypatch):
    monkeypatch.setattr(objectives, "MAX_SECONDS", 600.0)  # this test checks learning, not the clock (a busy CI)
    cfg = objectives.ObjectiveConfig(hidden_size=32, heads=2, intermediate_size=96, seq_len=32, batch_size=4,
                                     steps=16, lr=1e-2, eval_windows=4, max_seconds=600.0)
    calls = []
    cmp = objectives.compare_objectives(cfg, on_progress=lambda f, m: calls.append(f) or True)
    assert cmp.initial_loss == pytest.approx(math.log(4097)) and calls[-1] == 1.0
    for run in (cmp.clm, cmp.mlm):
        assert len(run.losses) == 16
        assert run.losses[0] == pytest.approx(cmp.initial_loss, abs=0.3)
        assert np.mean(run.losses[-5:]) < run.losses[0] - 0.3
    assert cmp.clm.predicted_per_step == 4 * 31
    assert 0.05 * 4 * 32 < cmp.mlm.predicted_per_step < 0.25 * 4 * 32


def test_objectives_stop_when_asked_and_at_the_time_cap():
    cfg = objectives.ObjectiveConfig(hidden_size=32, heads=2, intermediate_size=96, seq_len=16, batch_size=2,
                                     steps=12, eval_windows=2)
    stopped = objectives.compare_objectives(cfg, on_progress=lambda f, m: False)
    assert stopped.stopped_early and len(stopped.clm.losses) == len(stopped.mlm.losses) == 10
    cmp = objectives.compare_objectives(cfg.__class__(**{**cfg.__dict__, "max_seconds": 1e-3}))
    assert cmp.stopped_early and len(cmp.clm.losses) == len(cmp.mlm.losses) == 1
    with pytest.raises(ValueError):
        objectives.compare_objectives(cfg.__class__(max_seconds=objectives.MAX_SECONDS + 1))


# ---- live training ------------------------------------------------------------------------------
TINY = live_training.LiveConfig(batch_size=4, seq_len=32, steps=3, eval_every=100, eval_windows=4, sample_tokens=4,
                                max_seconds=60)


@pytest.fixture(scope="module")
def live_result():
    return live_training.train_live(TINY)


def test_initial_loss_is_near_ln_v(live_result):
    assert live_result.initial_expected == pytest.approx(LN_V)
    assert live_result.losses[0] == pytest.approx(LN_V, abs=0.15)
    assert live_result.checkpoints[0].step == 0
    assert live_result.checkpoints[0].heldout_loss == pytest.approx(LN_V, abs=0.15)
    assert live_result.checkpoints[-1].step == len(live_result.losses) == 3
    assert live_result.stopped_by == "steps" and live_result.peak_bytes > live_result.weights_bytes


def test_gradient_accumulation_equals_the_big_batch():
    check = live_training.grad_accum_check(micro_batch=2, accum=4, seq_len=16)
    assert check.max_abs_diff <= 1e-6 and check.max_abs_grad > 1e-3
    assert check.loss_accum == pytest.approx(check.loss_full, abs=1e-6)


def test_training_learns_is_seeded_and_follows_the_schedule(live_result, monkeypatch):
    monkeypatch.setattr(live_training, "MAX_SECONDS", 600.0)  # learning, not the clock, is tested here
    again = live_training.train_live(TINY)
    assert again.losses == live_result.losses
    assert [c.sample for c in again.checkpoints] == [c.sample for c in live_result.checkpoints]
    cfg = live_training.LiveConfig(batch_size=8, seq_len=32, steps=20, lr=1e-2, warmup=5, eval_every=10,
                                   eval_windows=4, sample_tokens=0, max_seconds=600)
    a = live_training.train_live(cfg)
    assert np.mean(a.losses[-5:]) < a.losses[0] - 1.0
    assert [c.step for c in a.checkpoints] == [0, 10, 20]
    assert a.checkpoints[-1].heldout_loss < a.checkpoints[0].heldout_loss - 0.5
    from core.pretraining.training import TrainConfig, lr_at

    assert a.lrs == tuple(lr_at(s, TrainConfig(steps=20, lr=1e-2, warmup=5)) for s in range(20))
    const = live_training.train_live(cfg.__class__(**{**cfg.__dict__, "schedule": "constant", "steps": 3}))
    assert const.lrs == (1e-2,) * 3


def test_accumulation_bf16_and_stopping():
    accumulated = live_training.train_live(live_training.LiveConfig(
        batch_size=2, grad_accum=3, seq_len=16, steps=2, eval_windows=2, sample_tokens=0, precision="bf16"))
    assert len(accumulated.losses) == 2 and all(math.isfinite(x) for x in accumulated.losses)
    stopped = live_training.train_live(TINY, on_progress=lambda f, m: False)
    assert stopped.stopped_by == "user" and len(stopped.losses) == 1
    timed_out = live_training.train_live(live_training.LiveConfig(**{**TINY.__dict__, "max_seconds": 1e-3}))
    assert timed_out.stopped_by == "time" and len(timed_out.losses) == 1 and len(timed_out.checkpoints) == 2
    cut = live_training.train_live(live_training.LiveConfig(**{**TINY.__dict__, "max_seconds": 1e-3, "grad_accum": 2}))
    assert cut.stopped_by == "time" and cut.losses == ()  # the cap fell between micro-batches: no update


@pytest.mark.parametrize("change", [{"steps": live_training.MAX_STEPS + 1}, {"max_seconds": 600},
                                    {"batch_size": 64, "seq_len": 128}, {"preset": "huge"}, {"precision": "fp8"}])
def test_live_config_outside_the_budget_is_refused(change):
    with pytest.raises(ValueError):
        live_training.validate(live_training.LiveConfig(**change))


def test_cpu_features_from_cpuinfo(tmp_path):
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    feats = live_training.cpu_features(with_bf16)
    assert feats.bf16_native and all(feats.flags.values()) and "1.2x" in feats.explanation
    avx2 = tmp_path / "b"
    avx2.write_text("flags\t\t: fpu sse avx2 fma\n")
    feats = live_training.cpu_features(avx2)
    assert not feats.bf16_native and feats.flags["avx2"] and "14x" in feats.explanation
    assert isinstance(feats.capability, str) and feats.capability
    assert live_training.cpu_features(tmp_path / "missing").flags == {f: False for f in live_training.CPU_FLAGS}


# ---- parallelism --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dp_result():
    return parallel.data_parallel(batch_size=8, seq_len=16, steps=2)


def test_data_parallel_gradients_equal_the_full_batch(dp_result):
    assert dp_result.world_size == 2 and dp_result.allreduced_grad.shape == (dp_result.parameters,)
    np.testing.assert_allclose(dp_result.allreduced_grad, dp_result.single_grad, atol=1e-6, rtol=0)
    assert dp_result.local_max_diff > 1e-4  # half a batch alone is not the full gradient ...
    # ... the mean of the two halves is
    np.testing.assert_allclose(dp_result.local_grads.mean(0), dp_result.single_grad, atol=1e-6, rtol=0)
    assert dp_result.ranks_weight_diff == 0.0 and dp_result.weight_max_diff <= 1e-6


def test_gpipe_bubble_formula_and_schedule():
    assert parallel.bubble_fraction(1, 8) == 0.0
    assert parallel.bubble_fraction(4, 4) == pytest.approx(3 / 7)
    assert parallel.bubble_fraction(4, 1) == pytest.approx(0.75)
    for p, m in [(2, 1), (4, 4), (4, 16), (8, 3)]:
        rows = parallel.gpipe_schedule(p, m)
        slots = 2 * (m + p - 1)
        assert len({(r["stage"], r["slot"]) for r in rows}) == len(rows) == 2 * p * m  # no slot used twice
        assert max(r["slot"] for r in rows) == slots - 1
        assert 1 - len(rows) / (p * slots) == pytest.approx(parallel.bubble_fraction(p, m))  # idle share, counted
        when = {(r["stage"], r["pass"], r["micro_batch"]): r["slot"] for r in rows}
        for s in range(1, p):  # a stage works on a micro-batch only after its neighbour has
            for i in range(m):
                assert when[(s, "forward", i)] > when[(s - 1, "forward", i)]
                assert when[(s - 1, "backward", i)] > when[(s, "backward", i)]


@pytest.mark.parametrize("n", [1, 2, 4])
def test_megatron_split_matmuls_sum_to_the_full_one(n):
    check = parallel.megatron_mlp_check(n_devices=n, tokens=5, hidden=8)
    assert check.max_diff < 1e-12 * max(1.0, check.output_scale)
    assert check.shapes["A_i (column block)"] == (8, 32 // n) and check.shapes["B_i (row block)"] == (32 // n, 8)
    if n > 1:
        assert check.wrong_split_diff > 1e-3  # GeLU of partial sums is not GeLU of the sum


def test_zero_memory_reproduces_the_papers_figure_1():
    mem = parallel.zero_memory(7.5e9, 64)  # Rajbhandari et al. 2019, Figure 1: 120, 31.4, 16.6, 1.9 GB
    totals = [round(mem[s]["total"] / 1e9, 1) for s in parallel.ZERO_STAGES]
    assert totals == [120.0, 31.4, 16.6, 1.9]
    one_device = parallel.zero_memory(1e9, 1)
    assert {round(v["total"]) for v in one_device.values()} == {16e9}  # (2 + 2 + 12) Ψ whatever the stage
    assert mem[parallel.ZERO_STAGES[1]]["optimizer states"] == pytest.approx(12 * 7.5e9 / 64)


# ---- charts -------------------------------------------------------------------------------------
def _data_rows(spec: dict) -> int:
    return sum(len(v) for v in spec.get("datasets", {}).values())


def test_pipeline_charts(pipeline_result):
    spec = charts.pipeline_counts_chart(pipeline_result).to_dict()
    assert spec["facet"]["column"]["field"] == "measure" and _data_rows(spec) == 15
    columns = ["step", "unit", "noise removed", "good text removed"]
    assert list(charts.removals_frame(pipeline_result).columns) == columns
    spec = charts.s_curve_chart(pipeline_result).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "rule", "tick"]
    spec = charts.jaccard_scatter_chart(pipeline_result.pairs).to_dict()
    assert spec["layer"][1]["encoding"]["x"]["field"] == "true Jaccard"
    charts.jaccard_scatter_chart(()).to_dict()  # no pairs: an empty chart, not an error


def test_tokenizer_charts(tokenizer_comparison):
    spec = charts.tokenizer_compression_chart(tokenizer_comparison).to_dict()
    assert spec["encoding"]["x"]["scale"]["type"] == "log" and _data_rows(spec) == 6
    frame = charts.splits_frame(tokenizer_comparison, 1000)
    assert len(frame) == 3 * len(tc.SAMPLES)
    charts.tokenizer_samples_chart(tokenizer_comparison, 1000).to_dict()
    steps = tc.bpe_steps(load_bundled_tokenizer(), "the firstborn")
    table = charts.merge_steps_frame(steps)
    assert table["step"].tolist() == list(range(len(steps))) and "␣" in table["sentence"].iloc[0]


def test_training_and_objective_charts(live_result):
    spec = charts.live_loss_chart(live_result).to_dict()
    assert len(spec["layer"]) == 3
    assert len(charts.live_loss_frame(live_result)) == len(live_result.losses) + len(live_result.checkpoints)
    charts.lr_chart(live_result).to_dict()
    view = objectives.mlm_view("In the beginning God created the heaven and the earth.", 0.3)
    assert list(charts.objective_view_frame(view).columns) == ["position", "token", "model reads", "target", "rule"]


def test_objective_loss_chart():
    run = objectives.ObjectiveRun("CLM", "LlamaForCausalLM", 10, (8.3, 7.0), 100, 7.0, 0.1)
    mlm = objectives.ObjectiveRun("MLM", "BertForMaskedLM", 10, (8.3, 7.5, 7.2), 15, 7.1, 0.1)
    cmp = objectives.ObjectiveComparison(objectives.ObjectiveConfig(), run, mlm, math.log(4097), False)
    spec = charts.objectives_loss_chart(cmp).to_dict()
    assert _data_rows(spec) == 5 + 1


def test_parallel_charts(dp_result):
    spec = charts.bubble_chart(parallel.bubble_table()).to_dict()
    assert spec["encoding"]["x"]["scale"]["type"] == "log" and _data_rows(spec) == 18
    spec = charts.gpipe_schedule_chart(parallel.gpipe_schedule(4, 4)).to_dict()
    assert spec["layer"][0]["mark"]["type"] == "rect"
    mem = parallel.zero_memory(7.5e9, 64)
    assert len(charts.zero_frame(mem)) == 12
    charts.zero_chart(mem).to_dict()
    spec = charts.gradient_agreement_chart(dp_result, max_points=100).to_dict()
    assert _data_rows(spec) == 300
    with pytest.raises(ValueError, match="missing columns"):
        charts.bubble_chart([{"stages": 2}])
    assert charts.human_bytes(1.5e9) == "1.5 GB" and charts.human_bytes(0) == "0 B"


def test_results_pickle_for_the_page_cache(pipeline_result, tokenizer_comparison, live_result, dp_result):
    import pickle

    for result in (pipeline_result, tokenizer_comparison, live_result, dp_result):
        assert pickle.loads(pickle.dumps(result)).__class__ is result.__class__
