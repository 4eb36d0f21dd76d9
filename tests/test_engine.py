"""Our decode path (core.inference.engine) against Hugging Face: the same logits, the same greedy tokens, the same
seeded samples, batched or not; its cache stays put; its bounds hold. Hand-worked cases for the small pieces."""
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from core.inference import engine as E
from core.models import load_causal_lm

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny ops: a second thread only adds hand-offs

PROMPTS = ("And the LORD said unto Moses,", "In the beginning God created", "Jesus wept.",
           "And it came to pass, when the men of the city saw")


@pytest.fixture(scope="module")
def lm():
    model, tok = load_causal_lm("tiny-lm")
    return model, tok, E.Engine(model)


def hf_generate(model, ids, n, mask=None, stop_at_eos=True, **kw):
    extra = {} if stop_at_eos else {"eos_token_id": None}
    return model.generate(ids, attention_mask=torch.ones_like(ids) if mask is None else mask, max_new_tokens=n,
                          **extra, **kw)


def left_padded(tok, texts):
    ids = [tok.encode(t) for t in texts]
    T = max(len(i) for i in ids)
    input_ids = torch.tensor([[tok.pad_token_id] * (T - len(i)) + i for i in ids])  # (B, T)
    mask = torch.tensor([[0] * (T - len(i)) + [1] * len(i) for i in ids])  # (B, T)
    return input_ids, mask


# ---- small pieces, by hand ------------------------------------------------------------------------------------
def test_interleave_rope_rows_by_hand():
    w = torch.arange(8.0)[:, None]  # 2 heads of D = 4, one input column: row r holds r
    assert E.interleave_rope_rows(w, n_heads=2, head_dim=4).flatten().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_rope_as_complex_multiply_equals_rotate_half():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    torch.manual_seed(0)
    D, T = 8, 5
    inv_freq = 1.0 / (100.0 ** (torch.arange(0, D, 2).float() / D))
    x = torch.randn(1, 1, T, D)  # (B, H, T, D) in Hugging Face's half layout
    angles = torch.arange(T).float()[:, None] * inv_freq  # (T, D/2)
    emb = torch.cat([angles, angles], -1)
    ref, _ = apply_rotary_pos_emb(x, x, emb.cos()[None], emb.sin()[None])
    pairs = E.interleave_rope_rows(x[0, 0].T, 1, D).T.contiguous()  # (T, D) interleaved
    ours = torch.view_as_real(torch.view_as_complex(pairs.view(T, D // 2, 2)) * E.rope_table(inv_freq, 1.0, T))
    back = torch.cat([ours[..., 0], ours[..., 1]], -1)  # (T, D) back to halves
    torch.testing.assert_close(back, ref[0, 0], atol=1e-6, rtol=0)
    assert torch.allclose(E.rope_table(inv_freq, 1.0, T)[0], torch.ones(D // 2, dtype=torch.complex64))


def test_warp_logits_by_hand_and_against_transformers():
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    assert E.warp_logits(scores, E.Sampling(True, top_k=2)).tolist() == [[2.0, 1.0, -float("inf"), -float("inf")]]
    assert E.warp_logits(scores, E.Sampling(True, temperature=2.0, top_k=0)).tolist() == [[1.0, 0.5, 0.0, -0.5]]
    assert E.warp_logits(scores, E.Sampling(True, top_k=0, top_p=0.5))[0, 1:].isinf().all()  # p(top) = 0.64 > 0.5
    torch.manual_seed(0)
    logits = torch.randn(3, 50) * 3
    for s in (E.Sampling(True, 0.7, 10, 0.9), E.Sampling(True, 1.3, 0, 0.5), E.Sampling(True, 1.0, 5, 1.0)):
        ref = logits
        for warper in ([TemperatureLogitsWarper(s.temperature)] if s.temperature != 1 else []) + \
                ([TopKLogitsWarper(s.top_k)] if s.top_k else []) + ([TopPLogitsWarper(s.top_p)] if s.top_p < 1 else []):
            ref = warper(None, ref)
        assert torch.equal(E.warp_logits(logits, s), ref)


# ---- against the Hugging Face model ---------------------------------------------------------------------------
def test_logits_match_the_model(lm):
    model, tok, eng = lm
    for text in PROMPTS:
        ids = tok(text, return_tensors="pt").input_ids
        with torch.no_grad():
            ref = model(ids).logits
        torch.testing.assert_close(eng.forward(ids), ref, atol=1e-4, rtol=1e-4)
    ids, mask = left_padded(tok, PROMPTS)
    with torch.no_grad():
        ref = model(ids, attention_mask=mask).logits
    real = mask.bool()
    torch.testing.assert_close(eng.forward(ids, mask)[real], ref[real], atol=1e-4, rtol=1e-4)


def test_cached_extend_equals_one_pass(lm):
    # cached vs uncached: the prompt fed in three pieces through the KV cache gives the logits of one full pass
    model, tok, eng = lm
    ids = tok(PROMPTS[3], return_tensors="pt").input_ids
    full = eng.forward(ids)
    pieces = [eng.extend(ids[:, :4], 0), eng.extend(ids[:, 4:5], 4), eng.extend(ids[:, 5:], 5)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_greedy_equals_generate(lm):
    model, tok, eng = lm
    one_token = tok("And", return_tensors="pt").input_ids
    assert one_token.shape == (1, 1)
    cases = [(one_token, 40), (tok(PROMPTS[0], return_tensors="pt").input_ids, 200),
             (tok(PROMPTS[2], return_tensors="pt").input_ids, 1)]
    for ids, n in cases:
        ref = hf_generate(model, ids, n, do_sample=False, stop_at_eos=False)
        assert torch.equal(eng.generate(ids, n, stop_at_eos=False), ref), (ids.tolist(), n)
    ids = tok(PROMPTS[1], return_tensors="pt").input_ids  # with end-of-text: both stop at the same token
    ref = hf_generate(model, ids, 60, do_sample=False)
    ours = eng.generate(ids, 60)
    assert torch.equal(ours, ref) and (ours.size(1) == ids.size(1) + 60 or ours[0, -1] in eng.eos_token_ids)


@pytest.mark.parametrize("sampling", [E.Sampling(True), E.Sampling(True, 0.7, 20, 0.9), E.Sampling(True, 1.2, 0, 0.8)])
def test_seeded_sampling_equals_generate(lm, sampling):
    model, tok, eng = lm
    ids = tok(PROMPTS[0], return_tensors="pt").input_ids
    for seed in (0, 1):
        torch.manual_seed(seed)
        ref = hf_generate(model, ids, 32, do_sample=True, temperature=sampling.temperature, top_k=sampling.top_k,
                          top_p=sampling.top_p, stop_at_eos=False)
        assert torch.equal(eng.generate(ids, 32, sampling=sampling, seed=seed, stop_at_eos=False), ref), seed
        torch.manual_seed(seed)  # seed=None draws from the global RNG, as generate does
        assert torch.equal(eng.generate(ids, 32, sampling=sampling, stop_at_eos=False), ref), seed


def test_batch_of_different_lengths_equals_generate(lm):
    model, tok, eng = lm
    ids, mask = left_padded(tok, PROMPTS[:3])
    assert len(set(mask.sum(1).tolist())) == 3  # three lengths: the padding matters
    assert torch.equal(eng.generate(ids, 30, attention_mask=mask), hf_generate(model, ids, 30, mask, do_sample=False))
    torch.manual_seed(5)
    ref = hf_generate(model, ids, 20, mask, do_sample=True, temperature=0.9, top_k=30)
    ours = eng.generate(ids, 20, attention_mask=mask, sampling=E.Sampling(True, 0.9, 30), seed=5)
    assert torch.equal(ours, ref)
    alone = eng.generate(ids[2:, -3:], 30, stop_at_eos=False)  # row 2 ("Jesus wept.", 3 tokens) decoded alone
    together = eng.generate(ids, 30, attention_mask=mask, stop_at_eos=False)
    assert torch.equal(together[2, -30:], alone[0, -30:])


def test_other_llama_shapes_and_rope_scaling():
    # multi-head (H_kv = H), an untied head, scaled RoPE with an attention factor (YaRN): a random model each
    for rope in ({"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0},
                 {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0, "original_max_position_embeddings": 32}):
        torch.manual_seed(0)
        config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                             rope_parameters=rope, tie_word_embeddings=False, eos_token_id=None, pad_token_id=0)
        model = LlamaForCausalLM(config).eval()
        ids = torch.randint(0, 64, (2, 50))
        with torch.no_grad():
            ref = model(ids).logits
        eng = E.Engine(model)
        torch.testing.assert_close(eng.forward(ids), ref, atol=1e-5, rtol=1e-5)
        assert torch.equal(eng.generate(ids[:1, :5], 20), model.generate(ids[:1, :5], max_new_tokens=20, do_sample=False))


# ---- the cache, the model, the bounds --------------------------------------------------------------------------
def test_cache_is_preallocated_and_never_moves(lm):
    model, tok, eng = lm
    cfg = eng.cfg
    assert eng.k_cache[0].shape == (eng.max_batch, cfg.n_kv_head, eng.max_positions, cfg.head_dim)
    before = [t.data_ptr() for t in eng.k_cache + eng.v_cache]
    ids, mask = left_padded(tok, PROMPTS[:2])
    eng.generate(ids, 50, attention_mask=mask, stop_at_eos=False)
    eng.generate(ids[:1], 5, sampling=E.Sampling(True), seed=0)
    eng.extend(ids[:1], 0)
    assert [t.data_ptr() for t in eng.k_cache + eng.v_cache] == before


def test_the_model_is_not_mutated():
    from tests.conftest import assert_unchanged, snapshot

    model, tok = load_causal_lm("tiny-lm-draft")
    before = snapshot(model)
    E.Engine(model).generate(tok("And God said", return_tensors="pt").input_ids, 8)
    assert_unchanged(model, before)


def test_bounds_give_clear_errors(lm):
    model, tok, _ = lm
    eng = E.Engine(model, max_batch=2, max_positions=32)
    ids = tok(PROMPTS[0], return_tensors="pt").input_ids
    with pytest.raises(ValueError, match="positions"):
        eng.generate(ids, eng.max_positions)
    with pytest.raises(ValueError, match="max_new_tokens"):
        eng.generate(ids, 0)
    with pytest.raises(ValueError, match="batch"):
        eng.generate(ids.expand(eng.max_batch + 1, -1), 4)
    with pytest.raises(ValueError, match="left padding"):
        eng.generate(ids.expand(2, -1), 4, attention_mask=torch.tensor([[1] * ids.size(1), [1] + [0] * (ids.size(1) - 1)]))
    with pytest.raises(ValueError, match="temperature"):
        E.Sampling(True, temperature=0.0)
    with pytest.raises(ValueError, match="positions"):
        eng.extend(ids, eng.max_positions - 2)
    rope = LlamaConfig(rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0})
    with pytest.raises(ValueError, match="dynamic"):
        E.EngineConfig.from_hf(rope)
    assert eng.generate(ids, eng.max_positions - ids.size(1), stop_at_eos=False).size(1) == eng.max_positions


# ---- speculative decoding on the engine (core.inference.engine_speculative) ------------------------------------
def test_prompt_lookup_by_hand():
    from core.inference.engine_speculative import prompt_lookup

    assert prompt_lookup([5, 6, 7, 8, 5, 6], 2) == [7, 8]  # "5 6" seen before, followed by 7, 8
    assert prompt_lookup([5, 6, 7, 8, 5, 6], 9) == [7, 8, 5, 6]  # never more than the text holds
    assert prompt_lookup([1, 2, 9, 1, 3, 1], 1) == [3]  # the latest earlier occurrence of "1"
    assert prompt_lookup([1, 2, 3], 4) == [] and prompt_lookup([7], 4) == []


@pytest.fixture(scope="module")
def draft_engine():
    return E.Engine(load_causal_lm("tiny-lm-draft")[0])


def test_speculative_equals_the_targets_own_greedy(lm, draft_engine):
    from core.inference import engine_speculative as S

    model, tok, eng = lm
    for text, n in (("And", 40), (PROMPTS[0], 64)):
        ids = tok(text, return_tensors="pt").input_ids
        plain = S.plain_greedy(eng, ids, n)
        assert plain.new_ids == tuple(eng.generate(ids, n, stop_at_eos=False)[0, ids.size(1):].tolist())
        for run in (S.speculative_greedy(eng, draft_engine, ids, n, k=1), S.speculative_greedy(eng, draft_engine, ids, n, k=4),
                    S.prompt_lookup_greedy(eng, ids, n, k=4)):
            assert run.new_ids == plain.new_ids
            assert sum(run.accepted) + len(run.proposed) == n  # every round: its accepted guesses + one target token
            assert 0 <= run.acceptance <= 1 and run.tokens_per_pass >= 1
    ids = tok(PROMPTS[1], return_tensors="pt").input_ids  # with end-of-text: the same stop as generate
    ref = eng.generate(ids, 60)[0, ids.size(1):].tolist()
    assert list(S.speculative_greedy(eng, draft_engine, ids, 60, k=3, stop_at_eos=True).new_ids) == ref
    assert list(S.prompt_lookup_greedy(eng, ids, 60, stop_at_eos=True).new_ids) == ref
    with pytest.raises(ValueError, match="positions"):
        S.prompt_lookup_greedy(eng, ids, eng.max_positions)


def test_generate_without_cache_gives_the_same_tokens(lm):
    model, tok, eng = lm
    ids = tok(PROMPTS[2], return_tensors="pt").input_ids
    assert torch.equal(eng.generate_without_cache(ids, 24), eng.generate(ids, 24, stop_at_eos=False))


def test_bench_figures_from_timings():
    from bench import engine as bench_engine

    times = {"generate": [2.0, 2.2], "generate_1thread": [1.0, 1.1], "engine": [0.5, 0.4], "matmul": [0.1, 0.1],
             "copy": [0.05, 0.05]}
    details = {"engine_threads": 1, "process_threads": 2}
    figs = {f.key: f for f in bench_engine.decode_figures(times, 256, 3_000_000, 12e6, 2, details)}
    assert figs["engine_tokens_per_s"].value == pytest.approx(256 / 0.45)
    assert figs["engine_speedup_vs_generate"].value == pytest.approx(1.05 / 0.45)  # against generate's faster setting
    bandwidth = 2 * 256 * 2**20 / 0.05
    flops = 2 * 2048**3 / 0.1
    bound = min(flops / 6e6, bandwidth / 12e6)
    assert figs["engine_roofline_fraction"].value == pytest.approx(256 / 0.45 / bound)
    assert set(figs) <= set(bench_engine.KEYS)
    from bench.__main__ import BENCHMARKS

    assert BENCHMARKS["engine"] == bench_engine.KEYS  # `python -m bench` reports every engine figure
    assert "avx2" in bench_engine.cpu_features()


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = counts.sum() * probs
    return float(((counts - expected) ** 2 / expected).sum())


def test_accept_or_resample_keeps_the_targets_distribution():
    # V = 4, k = 2, a target that ignores context: the first emitted token must follow p_0 and, when d_1 was
    # accepted, the second must follow p_1, however different the draft's q is (Leviathan et al., Theorem 1).
    from core.inference.engine_speculative import accept_or_resample

    p = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.2, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])  # (k + 1, V)
    q = torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.4, 0.4]])  # (k, V)
    g = torch.Generator().manual_seed(0)
    first, second = torch.zeros(4), torch.zeros(4)
    for _ in range(6000):
        guesses = [int(torch.multinomial(q[i], 1, generator=g)) for i in range(2)]
        out = accept_or_resample(p, q, guesses, g)
        first[out[0]] += 1
        if out[0] == guesses[0]:
            second[out[1]] += 1
    critical = 16.27  # chi-square, 3 degrees of freedom, p = 0.001
    assert chi_square(first, p[0]) < critical and chi_square(second, p[1]) < critical
    assert chi_square(first, q[0]) > 10 * critical  # the test can tell: accepting every guess would give q


def test_speculative_sampling_on_the_engine(lm):
    from core.inference import engine_speculative as S

    model, tok, eng = lm
    ids = tok(PROMPTS[0], return_tensors="pt").input_ids
    same = E.Engine(model)  # the target as its own draft: p == q, so every guess is accepted
    run = S.speculative_sample(eng, same, ids, 40, k=4, sampling=E.Sampling(True, 0.8, 40), seed=1)
    assert len(run.new_ids) == 40 and run.acceptance > 0.95
    draft = E.Engine(load_causal_lm("tiny-lm-draft")[0])
    a = S.speculative_sample(eng, draft, ids, 40, k=3, seed=2)
    assert a.new_ids == S.speculative_sample(eng, draft, ids, 40, k=3, seed=2).new_ids  # seeded: reproducible
    assert 0 < a.acceptance < 1 and all(0 <= t < eng.cfg.vocab_size for t in a.new_ids)
    with pytest.raises(ValueError, match="greedy"):
        S.speculative_sample(eng, draft, ids, 8, sampling=E.GREEDY)


def test_where_the_time_goes(lm):
    from core.inference import engine_profile as P

    assert [P.kind_of(op) for op in ("aten::addmm", "aten::_scaled_dot_product_flash_attention_for_cpu",
                                     "aten::multinomial", "aten::rsqrt", "aten::_to_copy", "aten::lerp")] == \
        ["matmul", "attention", "sampling", "norms & elementwise", "views & copies", "other ops"]
    model, tok, eng = lm
    ids = tok(PROMPTS[2], return_tensors="pt").input_ids
    ours = P.profile_decode("engine", lambda n: eng.generate(ids, n, stop_at_eos=False), 8)
    ref = P.profile_decode("generate", lambda n: model.generate(ids, attention_mask=torch.ones_like(ids),
                                                                  max_new_tokens=n, do_sample=False, eos_token_id=None), 8)
    for prof in (ours, ref):
        assert prof.tokens == 8 and prof.ms_per_token["matmul"] > 0 and len(prof.top_ops) == 8
        assert sum(prof.ms_per_token.values()) >= prof.wall_ms_per_token * (1 - 1e-6)  # ops + the rest = wall
    assert ours.ops_per_token < 0.6 * ref.ops_per_token  # the point of the engine: far fewer operations per token


def test_engine_for_builds_once_and_declines_what_it_does_not_implement(lm):
    model, tok, _ = lm
    first = E.engine_for(model)
    assert isinstance(first, E.Engine) and E.engine_for(model) is first and first.max_batch == 1
    assert E.engine_for(torch.nn.Linear(2, 2)) is None  # not a Llama
    biased = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                          num_attention_heads=2, num_key_value_heads=1, attention_bias=True))
    assert E.engine_for(biased) is None  # a Llama the engine refuses (biases)
    # the decoding demo and the agent's LM proposal run on it: the same text as generate (tests in
    # test_decoding.py and test_agents.py compare them with model.generate)
    from core.inference import decoding

    gen = decoding.generate(model, tok, PROMPTS[0], decoding.DecodeConfig("greedy", max_new_tokens=12))
    assert list(gen.new_ids) == hf_generate(model, tok(PROMPTS[0], return_tensors="pt").input_ids, 12)[0, -12:].tolist()
