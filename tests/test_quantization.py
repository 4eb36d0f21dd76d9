"""Quantization: the RTN / GPTQ / AWQ quantizers (hand cases, invariants, GPTQ vs RTN), the formats checked
against bitsandbytes' own kernels, and the model-level measurements against independent computations."""

import numpy as np
import pytest
import torch

from core.charts import quantization as charts
from core.inference import quant_formats, quant_measure, quantization
from core.inference import quant_methods as qm


def _calibration(n: int = 256, features: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Correlated inputs with uneven channel sizes (like real activations) and a weight matrix."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(features, features, generator=g) * torch.linspace(0.1, 3.0, features)
    X = torch.randn(n, features, generator=g) @ mixing  # (N, I)
    W = torch.randn(32, features, generator=g) * 0.05  # (O, I)
    return X, W


# ---- RTN ------------------------------------------------------------------------------------------
def test_rtn_hand_worked_case():
    # 2 bits on [-1, 2]: scale (2 - (-1)) / 3 = 1, zero point 1; 0.5 rounds half to even -> 0.
    W = torch.tensor([[-1.0, 0.0, 0.5, 2.0]])
    q, scale, zero = qm.rtn_codes(W, qm.QuantConfig(bits=2))
    assert q.tolist() == [[0.0, 1.0, 1.0, 3.0]] and scale.item() == 1.0 and zero.item() == 1.0
    assert qm.rtn(W, qm.QuantConfig(bits=2)).tolist() == [[-1.0, 0.0, 0.0, 2.0]]


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_rtn_uses_exactly_2_to_the_bits_levels(bits):
    W = torch.rand(1, 20000, generator=torch.Generator().manual_seed(bits)) * 2 - 1  # uniform: every level is hit
    q, _, _ = qm.rtn_codes(W, qm.QuantConfig(bits))
    assert q.min() == 0 and q.max() == 2**bits - 1
    assert len(torch.unique(q)) == 2**bits
    assert len(torch.unique(qm.rtn(W, qm.QuantConfig(bits)))) == 2**bits


@pytest.mark.parametrize("bits,group", [(2, 0), (3, 16), (4, 32), (8, 0), (4, 64)])
def test_rtn_error_is_at_most_half_a_step(bits, group):
    W = torch.randn(24, 128, generator=torch.Generator().manual_seed(7)) * 0.1
    cfg = qm.QuantConfig(bits, group)
    g = group or 128
    _, scale, _ = qm.rtn_codes(W, cfg)  # (O, G, 1)
    error = (W - qm.rtn(W, cfg)).abs().reshape(24, 128 // g, g)
    assert torch.all(error <= scale / 2 + 1e-6)


def test_group_size_must_divide_the_row():
    with pytest.raises(ValueError, match="does not divide"):
        qm.rtn(torch.randn(4, 100), qm.QuantConfig(4, 64))


# ---- GPTQ and AWQ ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bits,group", [(4, 0), (3, 0), (4, 16), (3, 16), (2, 32)])
def test_gptq_output_error_is_at_most_rtns_on_calibration_data(bits, group):
    X, W = _calibration()
    cfg = qm.QuantConfig(bits, group)
    rtn_err = qm.relative_error(X @ W.T, X @ qm.rtn(W, cfg).T)
    gptq_err = qm.relative_error(X @ W.T, X @ qm.gptq(W, X, cfg).T)
    assert gptq_err <= rtn_err
    assert gptq_err < 0.95 * rtn_err  # and clearly lower: the error feedback does work


def test_gptq_equals_rtn_when_inputs_are_uncorrelated():
    # H = 2XᵀX diagonal -> H⁻¹'s Cholesky factor is diagonal -> no error is pushed to other columns.
    X = torch.cat([torch.eye(16) * s for s in (1.0, 2.0, 3.0)])  # (48, 16), orthogonal columns
    W = torch.randn(8, 16, generator=torch.Generator().manual_seed(1))
    for cfg in (qm.QuantConfig(3, 0), qm.QuantConfig(4, 8)):
        assert torch.allclose(qm.gptq(W, X, cfg), qm.rtn(W, cfg), atol=1e-6)


def test_gptq_output_is_on_the_grid():
    X, W = _calibration()
    cfg = qm.QuantConfig(3, 16)
    W_hat = qm.gptq(W, X, cfg)
    for row in W_hat.reshape(-1, 16):  # each group of one row: at most 2^3 distinct values
        assert len(torch.unique(row)) <= 8


def test_awq_with_unit_scales_equals_rtn():
    X, W = _calibration()
    cfg = qm.QuantConfig(4, 16)
    assert torch.equal(qm.awq_scales(X, 0.0), torch.ones(X.shape[1]))
    assert torch.equal(qm.awq_apply(W, torch.ones(X.shape[1]), cfg), qm.rtn(W, cfg))


def test_awq_search_never_loses_to_rtn_on_calibration_data_and_is_exact_in_full_precision():
    X, W = _calibration()
    cfg = qm.QuantConfig(3, 16)
    result = qm.awq(W, X, cfg)
    rtn_mse = (X @ W.T - X @ qm.rtn(W, cfg).T).pow(2).mean().item()
    assert result.errors[0] == pytest.approx(rtn_mse, rel=1e-6)  # alpha = 0 is RTN
    assert min(result.errors) <= rtn_mse and result.alpha in result.alphas
    s = qm.awq_scales(X, 0.7)
    assert torch.allclose((X / s) @ (W * s).T, X @ W.T, atol=1e-4)  # the rescaling alone changes nothing


def test_eight_bits_is_nearly_exact_for_every_method():
    X, W = _calibration()
    for row in qm.compare_methods(W, X, X, qm.QuantConfig(8, 16)):
        assert row.weight_error < 0.01 and row.calib_output_error < 0.01, row


# ---- formats, checked against bitsandbytes' own kernels --------------------------------------------
def test_grids_match_bitsandbytes_tables():
    import bitsandbytes.functional as F

    assert torch.allclose(quant_formats.nf4_levels(), F.get_4bit_type("nf4", device="cpu"), atol=1e-6)
    bnb_fp4 = torch.tensor(sorted(set(F.get_4bit_type("fp4", device="cpu").tolist())))
    assert torch.allclose(quant_formats.fp4_levels(), bnb_fp4)
    assert len(quant_formats.nf4_levels()) == 16 and len(quant_formats.int8_levels()) == 255


@pytest.mark.parametrize("fmt", ["NF4", "FP4"])
def test_blockwise_4bit_equals_bitsandbytes(fmt):
    import bitsandbytes.functional as F

    W = torch.randn(96, 128, generator=torch.Generator().manual_seed(3)) * 0.05
    W[3, 5] = 0.9  # an outlier: its block's other weights get a coarse grid
    packed, state = F.quantize_4bit(W, blocksize=64, quant_type=fmt.lower())
    assert packed.numel() == W.numel() // 2  # two 4-bit codes per byte
    assert torch.allclose(quant_formats.fake_quantize(W, fmt), F.dequantize_4bit(packed, state), atol=1e-7)


def test_absmax_int8_equals_llm_int8_weights():
    import bitsandbytes.functional as F

    W = torch.randn(64, 96, generator=torch.Generator().manual_seed(4))
    codes, row_absmax, _ = F.int8_vectorwise_quant(W)
    assert torch.allclose(quant_formats.absmax_int8(W), codes.float() * row_absmax[:, None] / 127, atol=1e-7)


def test_bf16_keeps_8_significant_bits():
    W = torch.randn(32, 32, generator=torch.Generator().manual_seed(5))
    relative = ((W - quant_formats.fake_quantize(W, "BF16")) / W).abs()
    assert relative.max() <= 2**-8 + 1e-9 and relative.max() > 0
    with pytest.raises(ValueError):
        quant_formats.fake_quantize(W, "INT3")


def test_normalized_weights_lie_in_the_unit_interval_and_hit_it():
    W = torch.randn(16, 128, generator=torch.Generator().manual_seed(6))
    for fmt in ("INT8", "NF4", "FP4"):
        values, levels = quant_formats.normalized_weights(W, fmt)
        assert values.abs().max() == pytest.approx(1.0) and values.numel() == W.numel()
        assert levels.min() == -1 and levels.max() == 1


# ---- on the real tiny LM ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lm():
    from core.models import load_causal_lm

    return load_causal_lm("tiny-lm")


def test_heldout_tokens_follow_the_build_recipe(lm):
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
    from build_assets import encode_split

    _, tokenizer = lm
    assert torch.equal(quantization.encode_corpus("tiny-lm", "heldout", 1500), encode_split(tokenizer, "heldout")[:1500])


def test_captured_inputs_are_what_the_layer_receives(lm):
    model, _ = lm
    ids = quantization.encode_corpus("tiny-lm", "heldout", 64)
    name = "model.layers.0.self_attn.q_proj"
    X = quantization.capture_inputs(model, ids, [name], seq_len=64)[name]  # (64, 192)
    with torch.no_grad():
        expected = model.model.layers[0].input_layernorm(model.model.embed_tokens(ids))  # (64, 192)
    assert X.shape == (64, 192) and torch.allclose(X, expected, atol=1e-5)
    assert not model.model.layers[0].self_attn.q_proj._forward_hooks  # hooks removed


def test_greedy_loop_equals_generate(lm):
    model, tokenizer = lm
    ids = tokenizer("And God said", return_tensors="pt").input_ids
    tokens, seconds = quantization.greedy(model, ids, 12)
    assert len(seconds) == 12 and min(seconds) > 0  # the prefill and 11 decode steps
    reference = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=12,
                               min_new_tokens=12, pad_token_id=0)[0, ids.shape[1]:]
    assert torch.equal(tokens, reference)


def test_sizes_count_every_weight_once(lm):
    from core.models import parameter_count

    model, _ = lm
    fp32 = quantization.size_breakdown(model)
    assert fp32.total_bytes == 4 * parameter_count(model)  # tied embedding counted once
    assert fp32.linear_weights == 6 * (2 * 192 * 192 + 2 * 64 * 192 + 3 * 192 * 512)
    bf16 = quantization.size_breakdown(quantization.build_variant("BF16", base=model))
    assert bf16.total_bytes * 2 == fp32.total_bytes


def test_layer_errors_order_the_formats(lm):
    model, _ = lm
    rows = quantization.layer_errors(model, quantization.encode_corpus("tiny-lm", "heldout", 128))
    assert len(rows) == 42 * len(quant_formats.FORMATS)
    by = {(r.layer, r.fmt): r for r in rows}
    for layer in {r.layer for r in rows}:
        assert by[layer, "BF16"].weight_error < by[layer, "INT8"].weight_error < by[layer, "NF4"].weight_error
        assert by[layer, "NF4"].weight_error < 0.2
    W = model.get_submodule("model.layers.2.mlp.down_proj").weight
    direct = (W - quant_formats.absmax_int8(W)).norm() / W.norm()
    assert by["model.layers.2.mlp.down_proj", "INT8"].weight_error == pytest.approx(direct.item(), rel=1e-5)
    frame = charts.layer_error_frame(rows)
    assert set(frame["format"]) == set(quant_formats.FORMATS) and len(frame) == 2 * len(rows)
    assert charts.layer_error_chart(frame).to_dict()["facet"]["row"]["field"] == "error kind"


def test_methods_on_a_real_matrix(lm):
    model, _ = lm
    rows = quantization.method_study(model, quantization.matrix_name(1, "down_proj"), group_size=64, bits=(3,),
                              calib_tokens=512, eval_tokens=512)
    by = {r.method: r for r in rows}
    assert by["GPTQ"].calib_output_error <= by["RTN"].calib_output_error
    assert by["AWQ"].calib_output_error <= by["RTN"].calib_output_error + 1e-6
    frame = charts.methods_frame(rows)
    assert len(frame) == 9 and set(frame["method"]) == {"RTN", "GPTQ", "AWQ"}
    assert "facet" in charts.methods_chart(frame).to_dict()


def test_compare_variants_against_direct_measurements(lm):
    from core.pretraining.training import perplexity

    model, _ = lm
    prompts = quantization.DEFAULT_PROMPTS[:2]
    results = quant_measure.compare_variants(("INT8 dynamic", "NF4"), prompts, new_tokens=6, ppl_tokens=256, reps=1,
                                     models={"FP32": model})
    by = {r.name: r for r in results}
    assert list(by) == ["FP32", "INT8 dynamic", "NF4"]  # FP32 added first as the reference
    fp32 = by["FP32"]
    assert fp32.perplexity == pytest.approx(perplexity(model, quantization.encode_corpus("tiny-lm", "heldout", 256)))
    assert fp32.agreement == 1.0 and fp32.identical == 1.0 and fp32.first_divergence == 6
    assert len(fp32.ms_samples) == len(prompts) and fp32.ms_per_token > 0
    assert by["INT8 dynamic"].perplexity < 1.05 * fp32.perplexity
    assert by["NF4"].perplexity < 1.15 * fp32.perplexity
    # NF4 bytes from first principles: 2 codes per byte, one absmax per block of 64 (FP32 as loaded; BF16
    # once bitsandbytes' AVX512-BF16 CPU kernel has repacked the layer), and a 16-entry FP32 level table.
    nf4 = quantization.build_variant("NF4", base=model)
    for warm in (False, True):
        if warm:
            quantization.greedy(nf4, torch.tensor([[5, 6, 7]]), 2)
        expected = 0
        for name in quantization.decoder_linears(model):
            n = model.get_submodule(name).weight.numel()
            absmax_bytes = nf4.get_submodule(name).weight.quant_state.absmax.element_size()
            assert absmax_bytes in (2, 4) and (warm or absmax_bytes == 4)
            expected += n // 2 + absmax_bytes * n // 64 + 4 * 16
        assert quantization.size_breakdown(nf4).linear_bytes == expected
    assert by["NF4"].linear_bytes == expected  # compare_variants counts the layout it generated with
    assert by["NF4"].other_bytes == fp32.other_bytes
    # torch's dynamic INT8: one byte per weight + a float64 scale and an int64 zero point per output row.
    rows = sum(model.get_submodule(name).out_features for name in quantization.decoder_linears(model))
    assert by["INT8 dynamic"].linear_bytes == fp32.linear_weights + 16 * rows
    ratios = quant_measure.summary_ratios(results)
    assert ratios["int4_size_ratio"] == pytest.approx(by["NF4"].size_bytes / fp32.size_bytes)
    assert ratios["int8_ppl_ratio"] == pytest.approx(by["INT8 dynamic"].perplexity / fp32.perplexity)
    assert {"int8_latency_ratio", "int4_ppl_ratio"} <= set(ratios)
    frame = charts.variants_frame(results)
    assert frame.loc[frame.variant == "FP32", "size / FP32"].item() == 1.0
    spec = charts.variants_chart(frame).to_dict()
    assert [len(row["hconcat"]) for row in spec["vconcat"]] == [2, 2]


def test_histogram_chart_checks_its_input():
    values, levels = quant_formats.normalized_weights(torch.randn(8, 64), "NF4")
    spec = charts.histogram_chart(values.numpy(), levels.numpy(), "t").to_dict()
    assert len(spec["layer"]) == 2
    with pytest.raises(ValueError, match="non-empty 1-D"):
        charts.histogram_chart(np.zeros((2, 2)), levels.numpy(), "t")


# ---- the Measure button's work budget -------------------------------------------------------------
def test_plan_measure_by_hand():
    extreme = quant_measure.plan_measure(8, 48, 5, 4096)  # asked: 6 · 8 · 48 · 5 = 11,520 generated tokens
    assert (extreme.prompts, extreme.new_tokens, extreme.reps, extreme.ppl_tokens) == (5, 48, 1, 2048)
    assert extreme.generated_tokens == 6 * 5 * 48 == 1_440 and extreme.cut  # 1,536 // (6 · 48) = 5 prompts
    default = quant_measure.plan_measure(3, 16, 2, 1024)
    assert not default.cut and default.generated_tokens == 576
    rounds = quant_measure.plan_measure(8, 16, 5, 512)  # 768 a round: 1,536 // 768 = 2 rounds
    assert (rounds.prompts, rounds.reps) == (8, 2)
    tokens = quant_measure.plan_measure(1, 400, 1, 256)  # one prompt, one round: 1,536 // 6 = 256 tokens
    assert tokens.new_tokens == 256 and tokens.generated_tokens == quant_measure.MEASURE_MAX_TOKENS


@pytest.mark.parametrize("prompts", [1, 3, 8])
@pytest.mark.parametrize("new_tokens", [4, 16, 48])
@pytest.mark.parametrize("reps", [1, 5])
def test_plan_measure_never_exceeds_the_budget(prompts, new_tokens, reps):
    plan = quant_measure.plan_measure(prompts, new_tokens, reps, 4096)
    assert plan.generated_tokens <= quant_measure.MEASURE_MAX_TOKENS
    assert plan.ppl_tokens <= quant_measure.MEASURE_MAX_PPL_TOKENS
    assert plan.prompts <= prompts and plan.new_tokens <= new_tokens and plan.reps <= reps


def test_measure_variants_yields_progress_and_stops_generating_at_its_time_cap(lm):
    model, _ = lm
    prompts = quantization.DEFAULT_PROMPTS[:3]
    steps = quant_measure.measure_variants(("BF16",), prompts, new_tokens=4, ppl_tokens=256, reps=2,
                                          load=lambda name: model if name == "FP32" else
                                          quantization.build_variant(name, base=model),
                                          max_generation_seconds=0.0)
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as end:
            measurement = end.value
            break
    # 10 pieces: 2 builds, 2 rounds × 3 prompts (the first always runs, the other 5 are skipped), 2 scores
    assert [round(f, 3) for f, _ in progress] == [i / 10 for i in (1, 2, 3, 9, 10)]
    assert measurement.generations == 1 and measurement.planned_generations == 6 and measurement.stopped_early
    fp32, bf16 = measurement.results
    assert len(fp32.texts) == len(bf16.texts) == 1 and len(fp32.ms_samples) == 1
    assert fp32.agreement == 1.0 and fp32.first_divergence == 4
