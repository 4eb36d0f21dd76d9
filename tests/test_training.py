"""core.pretraining.training: perplexity and the unigram baseline against direct computations; training lowers the loss."""
import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from core.pretraining.training import TrainConfig, lr_at, perplexity, train_causal_lm, unigram_perplexity


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


def test_batched_perplexity_equals_a_window_by_window_loop(tiny_model):
    ids = torch.randint(0, 50, (203,), generator=torch.Generator().manual_seed(1))
    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, 16):
            window = ids[start : start + 17]
            logits = tiny_model(input_ids=window[:-1].unsqueeze(0)).logits[0]
            nll += torch.nn.functional.cross_entropy(logits, window[1:], reduction="sum").item()
            count += len(window) - 1
    assert count == 202
    assert perplexity(tiny_model, ids, seq_len=16, batch_size=3) == pytest.approx(math.exp(nll / count), rel=1e-5)


def test_unigram_perplexity_hand_worked():
    # add-one counts over a vocabulary of 3: token 0 seen 3 times -> 4, token 1 once -> 2, token 2 never -> 1
    train = torch.tensor([0, 0, 0, 1])
    probs = torch.tensor([4, 2, 1]) / 7
    eval_ids = torch.tensor([0, 1])
    expected = math.exp(-(math.log(probs[0]) + math.log(probs[1])) / 2)
    assert unigram_perplexity(train, eval_ids, 3) == pytest.approx(expected)


def test_training_lowers_the_loss_and_is_seeded(tiny_model):
    import copy

    ids = torch.arange(0, 50).repeat(20)  # a perfectly predictable stream
    cfg = TrainConfig(steps=30, batch_size=4, seq_len=16, lr=1e-2, warmup=5)
    a, b = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    losses_a, losses_b = train_causal_lm(a, ids, cfg), train_causal_lm(b, ids, cfg)
    assert losses_a == losses_b
    assert losses_a[-1] < 0.5 * losses_a[0]


def test_learning_rate_schedule():
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1, abs=1e-3)
