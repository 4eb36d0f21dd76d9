"""core.inference.kv_cache: the memory formula against published per-token figures and against the tiny LM's real
cache tensors; cached and uncached greedy decoding give the same tokens, and the uncached path really
recomputes the whole prefix (counted by a hook, not by the code under test)."""
import pytest
import torch

from core.inference import kv_cache as kv

KIB, GIB = 2**10, 2**30
PROMPT = "And the LORD said unto Moses,"


def shape(name: str) -> kv.AttentionShape:
    return next(m for m in kv.PUBLISHED_MODELS if m.name == name)


# ---- the calculator against published figures ------------------------------------------------
def test_per_token_figures_of_published_models():
    assert kv.kv_bytes_per_token(shape("Llama-2-7B")) == 2 * 32 * 32 * 128 * 2 == 512 * KIB
    assert kv.kv_bytes_per_token(shape("Llama-2-13B")) == 800 * KIB
    assert kv.kv_bytes_per_token(shape("Llama-2-70B")) == 2 * 80 * 8 * 128 * 2 == 320 * KIB
    assert kv.kv_bytes_per_token(shape("Mistral-7B")) == 128 * KIB  # 32 layers, 8 KV heads of 128
    assert kv.kv_bytes_per_token(shape("Falcon-7B")) == 8 * KIB  # MQA: one KV head of 64
    assert kv.kv_bytes_per_token(shape("GPT-3 175B")) == 4608 * KIB  # 4.5 MiB per token


def test_whole_cache_dtype_and_batch():
    llama7 = shape("Llama-2-7B")
    assert kv.kv_cache_bytes(llama7, 4096) == 2 * GIB  # the often-quoted "2 GB per 4k-token sequence"
    assert kv.kv_cache_bytes(llama7, 4096, batch=8, bytes_per_value=kv.BYTES_PER_VALUE["INT8"]) == 8 * GIB
    assert kv.kv_bytes_per_token(llama7, kv.BYTES_PER_VALUE["FP32"]) == 1024 * KIB


def test_attention_kinds_and_variants():
    assert [m.kind for m in kv.PUBLISHED_MODELS] == ["MHA", "MHA", "GQA", "GQA", "GQA", "MQA", "MHA"]
    mha, gqa, mqa = kv.attention_variants(shape("Llama-2-70B"))
    assert (mha.kind, gqa.kind, mqa.kind) == ("MHA", "GQA", "MQA")
    assert kv.kv_bytes_per_token(mha) == 8 * kv.kv_bytes_per_token(gqa) == 64 * kv.kv_bytes_per_token(mqa)
    assert mha.kv_heads == 64 and gqa.kv_heads == 8 and mqa.kv_heads == 1


def test_grouped_variants_only_where_the_groups_divide_the_heads():
    for m in kv.PUBLISHED_MODELS:
        for v in kv.attention_variants(m):
            assert m.heads % v.kv_heads == 0, v.name
    assert [v.kv_heads for v in kv.attention_variants(shape("Falcon-7B"))] == [71, 1]  # 71 is prime: no GQA-8


def test_every_published_config_cites_its_source():
    for m in kv.PUBLISHED_MODELS:
        assert "https://" in m.source and m.heads % m.kv_heads == 0


# ---- the real tiny model ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lm():
    from core.models import load_causal_lm

    return load_causal_lm("tiny-lm")


def test_real_cache_tensors_match_the_formula(lm):
    model, tok = lm
    ids = tok(PROMPT, return_tensors="pt").input_ids
    T = ids.size(1)
    rows = kv.measure_cache(model, ids)
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads  # computed here, independently of attention_shape_of
    assert len(rows) == 2 * cfg.num_hidden_layers
    assert {r.shape for r in rows} == {(1, cfg.num_key_value_heads, T, head_dim)}
    assert {r.dtype for r in rows} == {"float32"}
    measured = sum(r.nbytes for r in rows)
    shape_ = kv.attention_shape_of(cfg, "tiny-lm")
    assert measured == kv.kv_cache_bytes(shape_, T, bytes_per_value=4)
    assert measured == 2 * 6 * 2 * 32 * 4 * T  # tiny-lm: 6 layers, 2 KV heads of 32, float32
    assert shape_.kind == "GQA"


def test_cached_and_uncached_greedy_give_identical_tokens(lm):
    model, tok = lm
    ids = tok(PROMPT, return_tensors="pt").input_ids
    cached = kv.greedy_run(model, ids, 48, use_cache=True)
    uncached = kv.greedy_run(model, ids, 48, use_cache=False)
    assert cached.new_ids == uncached.new_ids
    hf = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=48,
                        use_cache=False, pad_token_id=tok.pad_token_id)[0, ids.size(1):].tolist()
    assert list(uncached.new_ids[: len(hf)]) == hf  # generate stops at end-of-text, ours does not


def test_uncached_path_really_recomputes_the_prefix(lm):
    model, tok = lm
    ids = tok(PROMPT, return_tensors="pt").input_ids
    T0, n = ids.size(1), 12
    seen = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, inp, out: seen.append(inp[0].size(1)))
    try:
        uncached = kv.greedy_run(model, ids, n, use_cache=False)
        uncached_seen, seen[:] = list(seen), []
        cached = kv.greedy_run(model, ids, n, use_cache=True)
    finally:
        hook.remove()
    assert uncached_seen == [T0 + i for i in range(n)] == list(uncached.tokens_in)
    assert seen == [T0] + [1] * (n - 1) == list(cached.tokens_in)
    per_token = kv.kv_bytes_per_token(kv.attention_shape_of(model.config), 4)
    assert list(cached.cache_bytes) == [(T0 + i) * per_token for i in range(n)]
    assert set(uncached.cache_bytes) == {0}


def test_timing_curve_and_time_generation(lm):
    model, tok = lm
    curve = kv.timing_curve(model, tok, PROMPT, new_tokens=96, reps=1)
    assert curve.same_tokens and len(curve.ms_cache) == len(curve.ms_no_cache) == 96
    assert curve.positions[0] == len(tok(PROMPT).input_ids)
    # No timing assertion (timings on a shared machine are noise; bench/ measures the ratio). That the
    # no-cache path really recomputes the whole prefix is checked by counting tokens in the test above.
    assert curve.seconds_cache > 0 and curve.seconds_no_cache > 0
    seconds, tokens = kv.time_generation(model, tok, PROMPT, 10, use_cache=True)
    assert seconds > 0 and len(tokens) == 10


def test_kv_charts():
    import pandas as pd

    from core.charts import inference as charts

    timing = pd.DataFrame({"position": [5, 6, 5, 6], "ms": [1.0, 1.1, 2.0, 2.4], "mode": ["on", "on", "off", "off"]})
    assert charts.kv_timing_chart(timing).to_dict()["mark"]["type"] == "line"
    sizes = pd.DataFrame({"position": [5, 6], "kib": [15.0, 18.0], "formula_kib": [15.0, 18.0]})
    assert len(charts.kv_size_chart(sizes).to_dict()["layer"]) == 2
    memory = pd.DataFrame([{"model": v.name, "kind": v.kind, "gib": kv.kv_cache_bytes(v, 4096) / GIB}
                           for v in kv.attention_variants(shape("Llama-2-70B"))])
    spec = charts.kv_memory_chart(memory, "gib").to_dict()
    assert [row["gib"] for row in spec["datasets"][spec["data"]["name"]]] == [10.0, 1.25, 0.15625]


# ---- the timing demo's work budget -------------------------------------------------------------
def test_token_passes_by_hand():
    assert kv.token_passes(8, 128) == (8 + 127, sum(range(8, 8 + 128))) == (135, 9152)
    assert kv.token_passes(3, 1) == (3, 3)  # one step: the prompt alone, with or without the cache


def test_plan_timing_cuts_repetitions_then_tokens():
    # 8 + 2·2·96 = 392 passes; warm-up (11 + 38) + 2·(103 + 5,328) = 10,911 token-passes
    assert not kv.plan_timing(8, 96, 2).cut
    assert kv.plan_timing(8, 96, 2).forwards == 392 and kv.plan_timing(8, 96, 2).token_passes == 49 + 2 * (103 + 5328)
    at_128 = kv.plan_timing(8, 128, 2)  # 2 runs would be 520 passes: one run fits
    assert (at_128.new_tokens, at_128.reps, at_128.forwards) == (128, 1, 264)
    extreme = kv.plan_timing(8, 256, 2)  # one uncached run of 256 tokens alone is 34,688 token-passes
    assert (extreme.new_tokens, extreme.reps, extreme.asked_tokens, extreme.asked_reps) == (170, 1, 256, 2)
    assert extreme.forwards == 8 + 2 * 170 and extreme.token_passes == 15_951 <= kv.TIMING_MAX_TOKEN_PASSES
    assert sum(kv.token_passes(8, 4)) + sum(kv.token_passes(8, 171)) > kv.TIMING_MAX_TOKEN_PASSES  # 171 would not fit


@pytest.mark.parametrize("prompt_len", [1, 7, 40])
@pytest.mark.parametrize("tokens", [32, 64, 128, 160, 256, 1000])
def test_plan_timing_never_exceeds_the_budget(prompt_len, tokens):
    plan = kv.plan_timing(prompt_len, tokens, 3)
    assert plan.forwards <= kv.TIMING_MAX_FORWARDS and plan.token_passes <= kv.TIMING_MAX_TOKEN_PASSES
    assert 1 <= plan.new_tokens <= tokens and 1 <= plan.reps <= 3


def test_budgeted_timing_curve_runs_what_the_plan_counts(lm):
    model, tok = lm
    passes = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, inp, out: passes.append(inp[0].size(1)))
    try:
        curve = kv.timing_curve(model, tok, PROMPT, new_tokens=256, reps=2, budget=True)
    finally:
        hook.remove()
    plan = curve.plan
    assert plan.cut and plan.asked_tokens == 256 and curve.reps == plan.reps == 1
    assert len(curve.positions) == len(curve.ms_no_cache) == plan.new_tokens < 256
    assert len(passes) == plan.forwards and sum(passes) == plan.token_passes  # counted by a hook, not by the plan
    assert curve.same_tokens
