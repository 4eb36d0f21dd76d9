"""The Transformer at full depth: the size calculator, position encodings, the toy attention lab, a block traced
by hand, the logit lens, and their charts. Hand-worked cases, independent references (transformers' own
architectures and RoPE, PyTorch's SDPA and FLOP counter, the models' own hidden states and logits) and invariants."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.charts import transformer_depth as charts
from core.transformer import block_trace, logit_lens, positions
from core.transformer import calculator as calc
from core.transformer import toy_attention as toy

PROMPT = "And the LORD said unto Moses, Speak unto the children of Israel"
KIB, GIB = 2**10, 2**30


def test_new_modules_do_not_import_streamlit():
    code = ("import sys, core.transformer.calculator, core.transformer.positions, core.transformer.toy_attention, "
            "core.transformer.block_trace, core.transformer.logit_lens, core.charts.transformer_depth; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def lm():
    from core.models import load_causal_lm

    return load_causal_lm("tiny-lm")


@pytest.fixture(scope="module")
def encoder():
    from core.models import load_encoder

    return load_encoder()


# ---- calculator --------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", calc.PRESETS, ids=lambda c: c.name)
def test_presets_within_one_percent_of_published(cfg):
    computed = calc.parameters(cfg).total
    assert abs(computed - cfg.published_params) / cfg.published_params < 0.01, (cfg.name, computed)
    assert cfg.source


def test_hand_worked_llama_2_7b():
    p = calc.parameters(calc.preset("Llama-2-7B"))
    assert p.embeddings == p.lm_head == 32000 * 4096
    assert p.per_layer == 4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096
    assert p.total == 6_738_415_616


def test_tiny_lm_formula_is_exact(lm):
    model, _ = lm
    cfg = calc.config_from_hf(model.config, "tiny-lm")
    p = calc.parameters(cfg)
    assert p.total == sum(t.numel() for t in model.parameters()) == 3_148_224
    block = model.model.layers[0]
    assert p.attention == 6 * sum(t.numel() for t in block.self_attn.parameters())
    assert p.mlp == 6 * sum(t.numel() for t in block.mlp.parameters())
    assert p.embeddings == model.model.embed_tokens.weight.numel() and p.lm_head == 0  # tied


def test_minilm_formula_is_exact(encoder):
    model, _ = encoder
    n = sum(t.numel() for t in model.parameters())
    assert calc.parameters(calc.config_from_hf(model.config)).total == n == 22_713_216
    assert calc.parameters(calc.preset("all-MiniLM-L6-v2")).total == n


def _meta_count(cls, config) -> int:
    with torch.device("meta"):  # the architecture without memory for its weights
        return sum(p.numel() for p in cls(config).parameters())


def test_presets_equal_transformers_architectures():
    from transformers import (
        BertConfig,
        BertModel,
        FalconConfig,
        FalconForCausalLM,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    cases = {
        "GPT-2 small": (GPT2LMHeadModel, GPT2Config()),
        "BERT-base": (BertModel, BertConfig()),
        "Llama-2-70B": (LlamaForCausalLM, LlamaConfig(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                                                      num_attention_heads=64, num_key_value_heads=8, vocab_size=32000,
                                                      tie_word_embeddings=False)),
        "Mistral-7B": (MistralForCausalLM, MistralConfig()),
        "Qwen2-0.5B": (Qwen2ForCausalLM, Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                                     num_hidden_layers=24, num_attention_heads=14,
                                                     num_key_value_heads=2, tie_word_embeddings=True)),
    }
    for name, (cls, config) in cases.items():
        assert calc.parameters(calc.preset(name)).total == _meta_count(cls, config), name
    # Falcon-7B: transformers ties the lm_head (6.92B); the published 7.2B counts it separately.
    falcon = calc.preset("Falcon-7B")
    tied = _meta_count(FalconForCausalLM, FalconConfig())  # FalconConfig's defaults are Falcon-7B's
    assert calc.parameters(calc.with_changes(falcon, tied_embeddings=True)).total == tied == 6_921_720_704
    assert calc.parameters(falcon).total == tied + 65024 * 4544


def test_gqa_and_tying_what_ifs():
    llama70 = calc.preset("Llama-2-70B")
    mha = calc.with_changes(llama70, kv_heads=64)
    assert calc.parameters(mha).total - calc.parameters(llama70).total == 80 * 2 * 8192 * (8192 - 1024)
    assert calc.kv_cache_bytes_per_token(mha) == 8 * calc.kv_cache_bytes_per_token(llama70)
    gpt2 = calc.preset("GPT-2 small")
    assert calc.parameters(calc.with_changes(gpt2, tied_embeddings=False)).total - calc.parameters(gpt2).total \
        == 50257 * 768
    assert mha.published_params is None and mha.attention_kind == "MHA" and llama70.attention_kind == "GQA"
    assert calc.preset("Falcon-7B").attention_kind == "MQA"


def test_kv_cache_matches_the_inference_module():
    from core.inference import kv_cache as kv

    for shape in kv.PUBLISHED_MODELS:
        if any(c.name == shape.name for c in calc.PRESETS):
            assert calc.kv_cache_bytes_per_token(calc.preset(shape.name)) == kv.kv_bytes_per_token(shape), shape.name
    llama7 = calc.preset("Llama-2-7B")
    assert calc.kv_cache_bytes_per_token(llama7) == 512 * KIB
    assert calc.kv_cache_bytes_per_token(llama7, "INT4") == 128 * KIB
    assert calc.inference_memory(llama7, tokens=4096).kv_cache == 2 * GIB


def test_flops_equal_torch_flop_counter(lm):
    """2·N per token for the weight matrices and the full T × T attention products, counted by PyTorch."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoModelForCausalLM

    from core.models import model_path

    model = AutoModelForCausalLM.from_pretrained(model_path("tiny-lm"), dtype=torch.float32,
                                                 attn_implementation="eager").eval()  # a copy: QKᵀ as matmuls
    cfg = calc.config_from_hf(model.config, "tiny-lm")
    for T in (8, 24):
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(torch.arange(T)[None] + 10)
        f = calc.flops_per_token(cfg, T)
        # the model computes the whole T × T score matrix and masks half of it: twice the causal average
        assert counter.get_total_flops() == T * f.forward_2n + 2 * T * f.attention_per_token
        assert f.training_per_token == 3 * f.forward_per_token


def test_encoder_flops_equal_torch_flop_counter(encoder):
    from torch.utils.flop_counter import FlopCounterMode

    model, tokenizer = encoder
    batch = tokenizer("The cat sat on the mat.", return_tensors="pt")
    T = batch["input_ids"].shape[1]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(**batch)
    f = calc.flops_per_token(calc.config_from_hf(model.config), T)
    assert counter.get_total_flops() == T * f.forward_per_token + 2 * 384 * 384  # + the pooler, once


def test_flops_hand_worked():
    f = calc.flops_per_token(calc.preset("Llama-2-7B"), 4096)
    assert f.attention_per_token == 2 * 32 * 4096 * 4096
    assert f.matmul_params == 32 * (4 * 4096**2 + 3 * 4096 * 11008) + 32000 * 4096
    assert f.forward_2n == pytest.approx(2 * 6.74e9, rel=0.02)


def test_training_memory_16_bytes_per_parameter():
    cfg = calc.preset("Llama-2-7B")
    n = calc.parameters(cfg).total
    mixed = calc.training_memory(cfg, mixed_precision=True, seq_len=1, recompute="full")
    assert mixed.weights + mixed.gradients + mixed.master_weights + mixed.optimizer_states == 16 * n
    assert (mixed.weights, mixed.master_weights, mixed.optimizer_states) == (2 * n, 4 * n, 8 * n)
    fp32 = calc.training_memory(cfg, mixed_precision=False, seq_len=1, recompute="full")
    assert fp32.master_weights == 0 and fp32.weights + fp32.gradients + fp32.optimizer_states == 16 * n
    assert calc.training_memory(cfg, optimizer="sgd", seq_len=1).optimizer_states == 0
    with pytest.raises(ValueError):
        calc.training_memory(cfg, optimizer="lion")


def test_activation_formula_hand_worked():
    cfg = calc.ModelConfig("toy", layers=2, d_model=64, heads=4, kv_heads=4, ffn_dim=256, vocab=100, context=32)
    s, b, h, a = 32, 3, 64, 4
    assert calc.activation_bytes(cfg, s, b) == 2 * s * b * h * (34 + 5 * a * s / h)
    assert calc.activation_bytes(cfg, s, b, "selective") == 2 * 34 * s * b * h
    assert calc.activation_bytes(cfg, s, b, "full") == 2 * 2 * s * b * h
    assert calc.activation_bytes(cfg, s, b, precision="FP32") == 2 * calc.activation_bytes(cfg, s, b)
    with pytest.raises(ValueError):
        calc.activation_bytes(cfg, s, b, "some")


def test_weights_by_precision_and_rows():
    cfg = calc.preset("Mistral-7B")
    w = calc.weights_by_precision(cfg)
    assert w["FP32"] == 2 * w["BF16/FP16"] == 4 * w["INT8"] == 8 * w["INT4"]
    rows = calc.breakdown_rows([cfg, calc.preset("GPT-2 small")])
    assert sum(r["params"] for r in rows if r["model"] == "Mistral-7B") == calc.parameters(cfg).total
    assert not any(r["part"] == "lm_head" and r["model"] == "GPT-2 small" for r in rows)  # tied
    mem = calc.memory_rows({"train": calc.training_memory(cfg, seq_len=128)})
    assert {r["part"] for r in mem} == {"weights", "gradients", "master weights", "optimizer states", "activations"}
    assert calc.human(2**31, "B") == "2.00 GiB" and calc.human(1.5e9) == "1.50 G"
    with pytest.raises(KeyError):
        calc.preset("GPT-5")


# ---- positions ---------------------------------------------------------------------------------
def test_sinusoidal_hand_worked():
    assert np.allclose(positions.sinusoidal(1, 4), [[0, 1, 0, 1]])
    pe = positions.sinusoidal(50, 4)
    t = np.arange(50)
    assert np.allclose(pe[:, 0], np.sin(t)) and np.allclose(pe[:, 1], np.cos(t))
    assert np.allclose(pe[:, 2], np.sin(t / 100)) and np.allclose(pe[:, 3], np.cos(t / 100))  # 10000^(2/4)


def test_sinusoidal_shift_is_a_rotation():
    """PE(t + k) is a fixed linear map (a rotation per frequency) of PE(t), the property Vaswani et al. cite."""
    pe = positions.sinusoidal(40, 8)
    k = 5
    freqs = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    for i, w in enumerate(freqs):
        rot = np.array([[np.cos(k * w), -np.sin(k * w)], [np.sin(k * w), np.cos(k * w)]])  # row [sin, cos] @ rot
        assert np.allclose(pe[k:, 2 * i:2 * i + 2], pe[:-k, 2 * i:2 * i + 2] @ rot)


def test_encodings_shapes_and_bounds():
    enc = positions.encodings(T=32, C=64, D=16, seed=1)
    assert enc.sinusoidal.shape == enc.learned.shape == (32, 64)
    assert enc.rope_angles.shape == (32, 8)
    assert np.allclose(np.diag(enc.sinusoidal_similarity), 1.0)
    assert np.array_equal(enc.learned, positions.encodings(T=32, C=64, D=16, seed=1).learned)  # seeded
    with pytest.raises(ValueError):
        positions.encodings(T=positions.MAX_T + 1, C=64, D=16)
    with pytest.raises(ValueError):
        positions.sinusoidal(4, 7)


def test_encoder_position_table_is_minilms_own(encoder):
    model, _ = encoder
    table = positions.encoder_position_table(model, 20)
    assert table.shape == (20, 384)
    assert np.array_equal(table, model.embeddings.position_embeddings.weight[:20].detach().double().numpy())


def test_rope_hand_worked_and_norm_preserving():
    x = np.array([[1.0, 0.0]])  # D = 2: one pair, θ_0 = 1, turned by t radians
    assert np.allclose(positions.rope_rotate(x, [math.pi / 2]), [[0.0, 1.0]])
    rng = np.random.default_rng(0)
    q = rng.standard_normal((3, 10, 16))
    rotated = positions.rope_rotate(q, np.arange(10))
    assert np.allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(q, axis=-1))
    assert np.allclose(rotated[:, 0], q[:, 0])  # position 0 is not turned


def test_rope_equals_transformers_on_tiny_lm(lm):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model, tokenizer = lm
    cfg = model.config
    ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    T, D = len(ids), cfg.head_dim
    block = model.model.layers[1]
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[1]  # (1, T, C)
        x = block.input_layernorm(hidden)
        q = block.self_attn.q_proj(x).view(1, T, -1, D).transpose(1, 2)  # (1, H, T, D)
        k = block.self_attn.k_proj(x).view(1, T, -1, D).transpose(1, 2)  # (1, H_kv, T, D)
        cos, sin = model.model.rotary_emb(hidden, torch.arange(T)[None])
        q_ref, k_ref = apply_rotary_pos_emb(q, k, cos, sin)
    theta = cfg.rope_parameters["rope_theta"]
    assert np.allclose(positions.rope_rotate(q[0].double().numpy(), np.arange(T), theta), q_ref[0].numpy(), atol=1e-5)
    assert np.allclose(positions.rope_rotate(k[0].double().numpy(), np.arange(T), theta), k_ref[0].numpy(), atol=1e-5)


def test_rope_score_depends_only_on_distance(lm):
    model, tokenizer = lm
    demo = positions.rope_relative_demo(model, tokenizer, PROMPT, layer=2, head=3, query_index=-1, key_index=1,
                                        offsets=(0, 3, 40, 500), max_distance=30)
    assert demo.scores.shape == (4, 31)
    assert demo.max_spread < 1e-9
    assert np.allclose(demo.scores, demo.scores[0], atol=1e-9)
    assert demo.scores[0, 0] == pytest.approx(demo.score_without_rope)  # distance 0: the rotations cancel
    assert np.ptp(demo.scores[0]) > 1e-3  # but the score does change with distance
    with pytest.raises(ValueError):
        positions.rope_relative_demo(model, tokenizer, PROMPT, offsets=(positions.MAX_OFFSET + 1,))
    # the pair at its real positions in the prompt gives the entry at its real distance
    q, k = positions.head_qk(model, tokenizer(PROMPT, add_special_tokens=False)["input_ids"], 2, 3)
    m, n = len(q) - 1, 1
    theta = model.config.rope_parameters["rope_theta"]
    real = positions.rope_rotate(q[[m]], [m], theta)[0] @ positions.rope_rotate(k[[n]], [n], theta)[0] / math.sqrt(32)
    assert real == pytest.approx(demo.scores[0, m - n])


def test_toy_attention_without_positions_is_order_blind():
    res = positions.toy_order_blindness(seed=3, T=7, C=16, heads=2)
    assert sorted(res.permutation) == list(range(7)) and res.permutation != list(range(7))
    assert res.diff_no_positions < 1e-12
    assert res.diff_rope > 1e-3 and res.diff_causal > 1e-3
    assert np.allclose(res.shuffled_output_norms, res.output_norms[res.permutation])  # same multiset, permuted


def test_tiny_lm_without_positions_is_order_blind(lm):
    model, tokenizer = lm
    res = positions.tiny_lm_order_blindness(model, tokenizer, "In the beginning God created the heaven", layer=1)
    assert res.diff_no_positions < 1e-10
    assert res.diff_rope > 1e-3 and res.diff_causal > 1e-3
    assert np.allclose(np.sort(res.shuffled_output_norms), np.sort(res.output_norms))


# ---- toy attention lab -------------------------------------------------------------------------
def test_masks_and_entropy_hand_worked():
    assert np.array_equal(np.isinf(toy.additive_mask(3, "causal")), np.triu(np.ones((3, 3), bool), 1))
    pad = toy.additive_mask(4, "padding", n_pad=1)
    assert np.isinf(pad[:, 3]).all() and (pad[:, :3] == 0).all()
    assert not toy.additive_mask(3, "none").any()
    assert toy.row_entropy(np.array([0.5, 0.5])) == pytest.approx(1.0)
    assert toy.row_entropy(np.array([1.0, 0.0])) == 0.0
    assert toy.row_entropy(np.full(8, 1 / 8)) == pytest.approx(3.0)


@pytest.mark.parametrize("mask,n_pad", [("none", 0), ("causal", 0), ("padding", 2)])
@pytest.mark.parametrize("scale", [True, False])
def test_toy_attention_equals_torch_sdpa(mask, n_pad, scale):
    cfg = toy.ToyConfig(seed=7, T=6, d_model=12, d_k=5, heads=3, scale=scale, mask=mask, n_pad=n_pad)
    res = toy.run(cfg)
    allowed = torch.tensor(np.isfinite(res.mask))  # (T, T) True where a query may look
    q, k, v = (torch.tensor(a) for a in (res.Q, res.K, res.V))  # (H, T, D)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                                           scale=None if scale else 1.0)
    assert np.allclose(res.head_outputs, ref.numpy(), atol=1e-10)
    assert np.allclose(res.output, res.concat @ res.Wo)
    assert np.allclose(res.concat[:, 5:10], res.head_outputs[1])  # head 2 sits in columns D..2D


def test_toy_attention_invariants():
    cfg = toy.ToyConfig(seed=1, T=8, d_model=16, d_k=4, heads=2, mask="padding", n_pad=3)
    res = toy.run(cfg)
    assert res.X.shape == (8, 16) and res.Wq.shape == (16, 8) and res.Q.shape == (2, 8, 4)
    assert res.scores.shape == res.probs.shape == (2, 8, 8) and res.output.shape == (8, 16)
    assert np.allclose(res.probs.sum(-1), 1.0)
    assert (res.probs[:, :, 5:] == 0).all()  # nobody looks at padding
    assert res.entropy.shape == (2, 8) and (res.entropy <= np.log2(5) + 1e-12).all()
    assert np.array_equal(res.output, toy.run(cfg).output)  # seeded
    causal = toy.run(toy.ToyConfig(seed=1, T=8, mask="causal"))
    assert causal.entropy[:, 0] == pytest.approx([0.0, 0.0])  # the first token can only look at itself
    for bad in (toy.ToyConfig(T=0), toy.ToyConfig(T=toy.MAX_T + 1), toy.ToyConfig(mask="diagonal"),
                toy.ToyConfig(heads=16, d_k=17),
                toy.ToyConfig(T=4, mask="padding", n_pad=4)):
        with pytest.raises(ValueError):
            toy.run(bad)


def test_entropy_saturates_without_scaling():
    curve = toy.entropy_vs_dk(d_ks=(1, 4, 16, 64, 256, 1024), T=16, samples=16, seed=0)
    assert curve.max_bits == 4.0
    assert curve.entropy_unscaled[-1] < 0.3 and curve.entropy_unscaled[0] > 3.0
    assert all(a > b for a, b in zip(curve.entropy_unscaled[1:], curve.entropy_unscaled[2:]))
    assert max(curve.entropy_scaled) - min(curve.entropy_scaled) < 0.3  # scaling keeps it flat
    assert np.allclose(curve.score_std_scaled, 1.0, atol=0.15)
    assert np.allclose(np.array(curve.score_std_unscaled) / np.sqrt(curve.d_ks), 1.0, atol=0.15)
    for bad in ({"d_ks": (toy.MAX_D_K + 1,)}, {"samples": 33}, {"T": toy.ENTROPY_MAX_T + 1}, {"d_ks": ()}):
        with pytest.raises(ValueError):
            toy.entropy_vs_dk(**bad)


# ---- block trace -------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", range(6))
def test_block_trace_matches_hidden_states(lm, layer):
    model, tokenizer = lm
    trace = block_trace.trace_block(model, tokenizer, PROMPT, layer)
    T = len(trace.tokens)
    assert trace.max_diff_embedding == 0.0
    assert trace.max_diff_output < 1e-5
    shapes = {s.name: s.shape for s in trace.stages}
    assert shapes["q_proj"] == (T, 192) and shapes["k_proj"] == shapes["v_proj"] == (T, 64)
    assert shapes["gate_proj"] == shapes["SiLU(gate) * up"] == (T, 512) and shapes["down_proj"] == (T, 192)
    assert trace.probs.shape == (6, T, T) and np.allclose(trace.probs.sum(-1), 1.0)
    assert (trace.probs[:, np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0).all()
    assert trace.residual_norms.shape == (7,)
    assert all(s.mean_norm > 0 for s in trace.stages)


def test_block_trace_stages_equal_the_modules(lm):
    model, tokenizer = lm
    trace = block_trace.trace_block(model, tokenizer, PROMPT, 3)
    stage = {s.name: s.value for s in trace.stages}
    block = model.model.layers[3]
    x = torch.tensor(stage["block input (residual stream)"], dtype=torch.float32)
    with torch.no_grad():
        n1 = block.input_layernorm(x)
        assert np.allclose(stage["input_layernorm (RMSNorm)"], n1.numpy(), atol=1e-5)
        assert np.allclose(stage["q_proj"], block.self_attn.q_proj(n1).numpy(), atol=1e-5)
        n2 = torch.tensor(stage["post_attention_layernorm (RMSNorm)"], dtype=torch.float32)
        assert np.allclose(stage["down_proj"], block.mlp(n2).numpy(), atol=1e-5)
    assert np.allclose(stage["residual add"], stage["block input (residual stream)"] + stage["o_proj"])


def test_residual_stream_before_the_final_norm(lm):
    model, tokenizer = lm
    ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        model(torch.tensor([ids]), output_hidden_states=True)  # transformers adds its own hooks on a first call
    hooks_before = [len(layer._forward_hooks) for layer in model.model.layers]
    stream = block_trace.residual_stream(model, ids)
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        last = model.model.norm(torch.tensor(stream[-1], dtype=torch.float32))
    assert stream.shape == (7, len(ids), 192)
    assert np.allclose(stream[:-1], torch.stack(hidden[:-1])[:, 0].numpy(), atol=1e-6)
    assert np.allclose(last.numpy(), hidden[-1][0].numpy(), atol=1e-5)  # transformers' last entry is normed
    assert [len(layer._forward_hooks) for layer in model.model.layers] == hooks_before  # ours are removed


@pytest.mark.parametrize("layer", [0, 5])
def test_encoder_attention_trace_matches_hooks(encoder, layer):
    model, tokenizer = encoder
    attention = model.encoder.layer[layer].attention
    modules = (attention, attention.self, attention.output.dense)
    with torch.no_grad():
        model(**tokenizer("warm", return_tensors="pt"), output_hidden_states=True)  # transformers adds its own hooks
    hooks_before = [len(m._forward_hooks) for m in modules]
    trace = block_trace.encoder_attention_trace(model, tokenizer, "The cat sat on the mat because it was tired.", layer)
    T = len(trace.tokens)
    assert trace.tokens[0] == "[CLS]" and trace.probs.shape == (12, T, T) and trace.concat.shape == (T, 384)
    assert max(trace.diff_concat, trace.diff_dense, trace.diff_sublayer) < 1e-5
    assert [len(m._forward_hooks) for m in modules] == hooks_before  # ours are removed


def test_architecture_table():
    kinds = [a.kind for a in block_trace.ARCHITECTURES]
    assert kinds == ["encoder-only", "decoder-only", "encoder-decoder"]
    assert all(a.mask and a.objective and a.typical_uses and "arXiv" in a.examples for a in block_trace.ARCHITECTURES)


# ---- logit lens ------------------------------------------------------------------------------
def test_last_layer_lens_equals_model_logits(lm):
    model, tokenizer = lm
    ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    lens = logit_lens.lens_logits(model, block_trace.residual_stream(model, ids))  # (L + 1, T, V)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    assert lens.shape == (7, len(ids), 4096)
    assert torch.allclose(lens[-1], logits, atol=1e-5)


def test_logit_lens_result(lm):
    model, tokenizer = lm
    res = logit_lens.logit_lens(model, tokenizer, PROMPT, top_k=3)
    T = len(res.tokens)
    assert res.layer_names[0] == "embedding" and len(res.layer_names) == 7
    assert res.top_ids.shape == res.top_probs.shape == (7, T, 3)
    assert (np.diff(res.top_probs, axis=-1) <= 1e-12).all() and (res.top_probs <= 1).all()
    assert res.next_token_probs.shape == (7, T - 1) and res.entropy_bits.shape == (7, T)
    with torch.no_grad():
        final = torch.softmax(model(torch.tensor([tokenizer(PROMPT, add_special_tokens=False)["input_ids"]]))
                              .logits[0].double(), -1)
    assert np.array_equal(res.top_ids[-1, :, 0], final.argmax(-1).numpy())
    assert np.allclose(res.top_probs[-1, :, 0], final.max(-1).values.numpy(), atol=1e-6)
    assert res.top_tokens[-1][-1][0] == tokenizer.decode([int(res.top_ids[-1, -1, 0])])


def test_logit_lens_is_bounded(lm):
    model, tokenizer = lm
    res = logit_lens.logit_lens(model, tokenizer, "word " * 500, top_k=50)
    assert len(res.tokens) == logit_lens.MAX_TOKENS and res.top_ids.shape[-1] == logit_lens.MAX_TOP_K
    with pytest.raises(ValueError):
        logit_lens.logit_lens(model, tokenizer, "")


# ---- charts ------------------------------------------------------------------------------------
def _rows(spec: dict) -> list:
    if "datasets" in spec:
        return next(iter(spec["datasets"].values()))
    return spec["data"]["values"]


def test_matrix_heatmaps_spec():
    res = toy.run(toy.ToyConfig(T=5, mask="causal"))
    spec = charts.matrix_heatmap(res.masked_scores[0], "scores", "query", "key",
                                 row_names=list("abcde"), col_names=list("abcde")).to_dict()
    rows = _rows(spec)
    assert len(rows) == 25 and sum(r["shown"] == "masked" for r in rows) == 10
    assert spec["encoding"]["y"]["sort"][0] == "0 a"
    spec = charts.heads_heatmaps(res.probs, "probs", probabilities=True).to_dict()
    assert len(_rows(spec)) == 2 * 5 * 5 and spec["facet"]["field"] == "head"
    with pytest.raises(ValueError, match="2-D"):
        charts.matrix_heatmap(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="labels"):
        charts.matrix_heatmap(np.zeros((2, 3)), row_names=["a"])
    with pytest.raises(ValueError, match="cells"):
        charts.matrix_heatmap(np.zeros((300, 300)))
    assert len(_rows(charts.entropy_rows_chart(res.entropy, 3.0, list("abcde")).to_dict())) > 0


def test_position_and_rope_charts_spec():
    enc = positions.encodings(T=16, C=32, D=8)
    spec = charts.position_encoding_heatmap(enc.sinusoidal, "sinusoidal").to_dict()
    assert len(_rows(spec)) == 16 * 32
    scores = np.tile(np.linspace(1, 0, 11), (3, 1))
    spec = charts.rope_distance_chart(list(range(11)), scores, [0, 5, 50], 0.7).to_dict()
    assert len(spec["layer"]) == 2
    with pytest.raises(ValueError):
        charts.rope_distance_chart(list(range(10)), scores, [0, 5, 50])
    blind = positions.toy_order_blindness(T=4)
    spec = charts.order_blindness_chart(blind.tokens, blind.permutation, blind.output_norms,
                                        blind.shuffled_output_norms).to_dict()
    assert len(_rows(spec)) == 8


def test_entropy_vs_dk_chart_spec():
    curve = toy.entropy_vs_dk(d_ks=(1, 8, 64), T=8, samples=4)
    spec = charts.entropy_vs_dk_chart(curve.d_ks, curve.entropy_scaled, curve.entropy_unscaled,
                                      curve.max_bits).to_dict()
    assert spec["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    with pytest.raises(ValueError):
        charts.entropy_vs_dk_chart([1, 2], [1.0], [1.0, 2.0], 3.0)


def test_logit_lens_and_block_charts_spec():
    names, tokens = ["embedding", "layer 1"], ["A", "B", "A"]
    spec = charts.logit_lens_grid(names, tokens, [["x", "y", "z"], ["u", "v", "w"]], np.full((2, 3), 0.4)).to_dict()
    rows = _rows(spec)
    assert len(rows) == 6 and rows[0]["prediction"] == "'x'"
    with pytest.raises(ValueError):
        charts.logit_lens_grid(names, tokens, [["x"]], np.zeros((3, 3)))
    spec = charts.block_norms_chart(["a", "b"], [1.0, 2.0], [(3, 4), (3, 8)]).to_dict()
    assert [r["stage"] for r in _rows(spec)] == ["00 a", "01 b"]
    assert len(_rows(charts.residual_norms_chart(np.arange(7.0)).to_dict())) == 7


def test_calculator_charts_spec():
    cfgs = [calc.preset("Llama-2-7B"), calc.preset("GPT-2 small")]
    spec = charts.param_breakdown_chart(calc.breakdown_rows(cfgs)).to_dict()
    assert {r["model"] for r in _rows(spec)} == {"Llama-2-7B", "GPT-2 small"}
    est = {"inference BF16": calc.inference_memory(cfgs[0], tokens=4096),
           "training": calc.training_memory(cfgs[0], seq_len=4096, recompute="selective")}
    rows = _rows(charts.memory_chart(calc.memory_rows(est)).to_dict())
    assert {r["setting"] for r in rows} == set(est)
    with pytest.raises(ValueError):
        charts.memory_chart([{"model": "x"}])
