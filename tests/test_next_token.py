"""core.transformer.next_token and its charts: temperature softmax and entropy against PyTorch and hand-worked
cases; logits against the model's own forward pass and greedy generate, on a tiny seeded Llama."""
import math

import numpy as np
import pytest
import torch

from core.charts import transformer as charts
from core.transformer import next_token


def test_softmax_with_temperature_hand_worked():
    assert np.allclose(next_token.softmax_with_temperature(np.array([0.0, math.log(3)]), 1.0), [0.25, 0.75])
    # τ = 0.5 squares the odds: 3:1 becomes 9:1
    assert np.allclose(next_token.softmax_with_temperature(np.array([0.0, math.log(3)]), 0.5), [0.1, 0.9])
    with pytest.raises(ValueError):
        next_token.softmax_with_temperature(np.zeros(3), 0.0)


@pytest.mark.parametrize("temperature", [0.05, 0.3, 1.0, 2.0])
def test_softmax_with_temperature_matches_torch(temperature):
    logits = np.random.default_rng(1).normal(0, 5, size=4096)
    ours = next_token.softmax_with_temperature(logits, temperature)
    ref = torch.softmax(torch.tensor(logits) / temperature, dim=-1).numpy()
    assert np.allclose(ours, ref, rtol=1e-9, atol=1e-15)
    assert ours.sum() == pytest.approx(1.0)


def test_entropy_hand_worked_and_vs_torch():
    assert next_token.entropy_bits([0.5, 0.5]) == pytest.approx(1.0)
    assert next_token.entropy_bits([1.0, 0.0, 0.0]) == 0.0
    assert next_token.entropy_bits(np.full(8, 1 / 8)) == pytest.approx(3.0)
    probs = np.random.default_rng(2).dirichlet(np.ones(50))
    ref = torch.distributions.Categorical(probs=torch.tensor(probs)).entropy().item() / math.log(2)
    assert next_token.entropy_bits(probs) == pytest.approx(ref, rel=1e-9)


def test_entropy_rises_with_temperature():
    logits = np.random.default_rng(3).normal(0, 3, size=1000)
    temps = [0.05, 0.1, 0.3, 0.7, 1.0, 1.5, 2.0]
    curve = next_token.entropy_curve(logits, temps)
    assert all(a < b for a, b in zip(curve, curve[1:]))
    assert curve[0] < 0.5 and curve[-1] < math.log2(1000)


def _fake(logits):
    return next_token.NextTokenLogits(["x"], np.log(np.asarray(logits)), [f"t{i}" for i in range(len(logits))], 1)


def test_distribution_top_k_and_nucleus_hand_worked():
    dist = next_token.distribution(_fake([0.05, 0.5, 0.15, 0.3]), 1.0, k=3)
    assert dist.top_ids == [1, 3, 2]
    assert dist.top_tokens == ["t1", "t3", "t2"]
    assert np.allclose(dist.top_probs, [0.5, 0.3, 0.15])
    assert dist.nucleus_90 == 3  # 0.5 + 0.3 = 0.8 < 0.9 <= 0.95
    # temperature reshapes the probabilities, never the ranking
    hot = next_token.distribution(_fake([0.05, 0.5, 0.15, 0.3]), 2.0, k=3)
    assert hot.top_ids == dist.top_ids and hot.top_probs[0] < dist.top_probs[0]


@pytest.fixture(scope="module")
def tiny_llama():
    """A 1-layer random Llama with the bundled 4,096-token tokenizer: seeded, built in milliseconds."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from core.pretraining.tokenization import BUNDLED_TOKENIZER

    tokenizer = AutoTokenizer.from_pretrained(BUNDLED_TOKENIZER.parent)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(config).eval(), tokenizer


def test_logits_are_the_models_last_position(tiny_llama):
    model, tokenizer = tiny_llama
    res = next_token.next_token_logits(model, tokenizer, "And the LORD said unto")
    ids = tokenizer("And the LORD said unto", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0, -1].double().numpy()
    assert res.logits.shape == (4096,) and np.allclose(res.logits, ref)
    assert "".join(res.prompt_tokens) == "And the LORD said unto"
    assert len(res.vocab) == 4096 and res.vocab[ids[1]] == tokenizer.decode([ids[1]])
    greedy = model.generate(torch.tensor([ids]), max_new_tokens=1, do_sample=False, pad_token_id=1)[0, -1].item()
    assert next_token.distribution(res, 0.05, k=1).top_ids == [greedy]


def test_long_prompt_keeps_its_last_tokens(tiny_llama):
    model, tokenizer = tiny_llama
    prompt = "and it came to pass " * 30
    res = next_token.next_token_logits(model, tokenizer, prompt, max_tokens=20)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert res.truncated and res.n_tokens_full == len(ids) and len(res.prompt_tokens) == 20
    with torch.no_grad():
        ref = model(torch.tensor([ids[-20:]])).logits[0, -1].double().numpy()
    assert np.allclose(res.logits, ref)


def test_bundled_tiny_lm_is_far_from_uniform():
    from core.models import load_causal_lm, model_path

    try:
        model_path("tiny-lm")
    except FileNotFoundError as err:
        pytest.skip(str(err))
    model, tokenizer = load_causal_lm("tiny-lm")
    res = next_token.next_token_logits(model, tokenizer, "And the LORD said unto")
    dist = next_token.distribution(res, 1.0)
    # a trained model is confident after this prompt; a uniform guess would be log2(4096) = 12 bits
    assert dist.entropy_bits < 8
    assert sum(dist.top_probs) > 0.3


# ---- charts --------------------------------------------------------------------------------------
def test_next_token_bars_spec():
    spec = charts.next_token_bars([" Moses", " him"], {"τ = 1": [0.6, 0.2], "τ = 2": [0.3, 0.2]}).to_dict()
    rows = spec["datasets"][spec["data"]["name"]]
    assert len(rows) == 4 and rows[0]["token"] == "' Moses'"
    assert spec["encoding"]["yOffset"]["field"] == "temperature"
    with pytest.raises(ValueError, match="2 tokens"):
        charts.next_token_bars([" a", " b"], {"τ = 1": [1.0]})


def test_entropy_chart_spec():
    spec = charts.entropy_chart([0.5, 1.0, 2.0], [1.0, 2.0, 3.0], 1.0, 2.0, 12.0).to_dict()
    assert len(spec["layer"]) == 3
