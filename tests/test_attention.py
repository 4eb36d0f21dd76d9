"""core.transformer.attention and core.charts.transformer: hand-worked cases, PyTorch as the independent
reference, and the real encoder's own attention maps."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.charts import transformer as charts
from core.transformer import attention

SENTENCE = "The cat sat on the mat because it was tired."


def test_core_modules_do_not_import_streamlit():
    code = ("import sys, core.transformer.attention, core.transformer.next_token, core.pretraining.tokenization, core.charts.transformer, "
            "core.charts.pretraining; print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_softmax_hand_worked():
    assert np.allclose(attention.softmax(np.array([0.0, math.log(3)])), [0.25, 0.75])
    # huge scores would overflow a naive exp; the shifted version is exact
    assert np.allclose(attention.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])


def test_causal_mask_hand_worked():
    mask = attention.causal_mask(3)
    assert np.array_equal(np.isinf(mask), np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=bool))
    assert (mask[np.tril_indices(3)] == 0).all()


def test_sdpa_hand_worked():
    # q = k = I (D = 2): scores = I / √2, so each row is softmax([1/√2, 0]) in some order
    eye = np.eye(2)
    scores, probs = attention.scaled_dot_product_attention(eye, eye)
    assert np.allclose(scores, eye / math.sqrt(2))
    p = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    assert np.allclose(probs, [[p, 1 - p], [1 - p, p]])


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_torch(causal):
    rng = np.random.default_rng(0)
    T, D = 7, 16
    q, k, v = (rng.standard_normal((T, D)) for _ in range(3))
    _, probs = attention.scaled_dot_product_attention(q, k, attention.causal_mask(T) if causal else None)
    ours = probs @ v  # (T, T) @ (T, D) -> (T, D)
    ref = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a)[None, None] for a in (q, k, v)), is_causal=causal)[0, 0].numpy()
    assert np.allclose(ours, ref, atol=1e-10)
    assert np.allclose(probs.sum(-1), 1.0)
    if causal:
        assert np.allclose(probs[np.triu_indices(T, 1)], 0.0)


@pytest.fixture(scope="module")
def encoder():
    from core.models import load_encoder

    return load_encoder()


@pytest.fixture(scope="module")
def result(encoder):
    model, tokenizer = encoder
    return attention.encoder_attention(model, tokenizer, SENTENCE)


def test_encoder_attention_shapes_and_rows(result):
    T = len(result.tokens)
    assert result.tokens[0] == "[CLS]" and result.tokens[-1] == "[SEP]"
    assert result.tokens[1:4] == ["the", "cat", "sat"]
    assert result.attentions.shape == (6, 12, T, T)
    assert result.hidden_states.shape == (7, T, 384)
    assert np.allclose(result.attentions.sum(-1), 1.0, atol=1e-5)
    assert not result.truncated


@pytest.mark.parametrize("layer,head", [(0, 0), (2, 5), (5, 11)])
def test_attention_from_scratch_matches_model(encoder, result, layer, head):
    scratch = attention.attention_from_scratch(encoder[0], result, layer, head)
    T = len(result.tokens)
    assert scratch.q.shape == scratch.k.shape == (T, 32)
    assert np.allclose(scratch.probs.sum(-1), 1.0, atol=1e-12)
    assert scratch.max_abs_diff < 1e-5
    assert np.abs(scratch.probs - result.attentions[layer, head]).max() == pytest.approx(scratch.max_abs_diff)


def test_head_projections_match_torch_linear(encoder, result):
    model = encoder[0]
    q, k = attention.head_projections(model, result.hidden_states[3], 3, 4)
    x = torch.tensor(result.hidden_states[3])
    with torch.no_grad():
        ref_q = model.encoder.layer[3].attention.self.query(x)[:, 4 * 32:5 * 32].numpy()
        ref_k = model.encoder.layer[3].attention.self.key(x)[:, 4 * 32:5 * 32].numpy()
    assert np.allclose(q, ref_q, atol=1e-4) and np.allclose(k, ref_k, atol=1e-4)


def test_causal_scratch_differs_from_bidirectional_model(encoder, result):
    scratch = attention.attention_from_scratch(encoder[0], result, 1, 1, causal=True)
    T = len(result.tokens)
    assert np.allclose(scratch.probs[np.triu_indices(T, 1)], 0.0)
    assert scratch.max_abs_diff > 0.01


def test_truncation_keeps_cls_and_sep(encoder):
    model, tokenizer = encoder
    res = attention.encoder_attention(model, tokenizer, "word " * 200, max_tokens=16)
    assert len(res.tokens) == 16 and res.tokens[0] == "[CLS]" and res.tokens[-1] == "[SEP]"
    assert res.n_tokens_full == 202 and res.truncated
    assert res.attentions.shape == (6, 12, 16, 16)


def test_head_links_is_the_query_key_entry(result):
    it, cat = result.tokens.index("it"), result.tokens.index("cat")
    links = attention.head_links(result, it, cat)
    assert links.shape == (6, 12)
    assert links[4, 7] == result.attentions[4, 7, it, cat]


# ---- charts --------------------------------------------------------------------------------------
def test_attention_heatmap_spec():
    tokens = ["[CLS]", "the", "cat", "the", "[SEP]"]
    weights = np.full((5, 5), 0.2)
    spec = charts.attention_heatmap(tokens, weights, "t").to_dict()
    rows = spec["datasets"][spec["data"]["name"]]
    assert len(rows) == 25
    assert spec["encoding"]["y"]["sort"] == ["0 [CLS]", "1 the", "2 cat", "3 the", "4 [SEP]"]
    with pytest.raises(ValueError, match="5 tokens"):
        charts.attention_heatmap(tokens, np.ones((4, 4)))


def test_heads_grid_spec():
    weights = np.random.default_rng(0).dirichlet(np.ones(10), size=(12, 10))  # (H, T, T)
    spec = charts.heads_grid(weights).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert len(values) == 12 * 10 * 10
    assert spec["columns"] == 4
    assert {v["head"] for v in values} == set(range(1, 13))


def test_head_links_chart_spec():
    spec = charts.head_links_chart(np.zeros((6, 12)), "it", "cat").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 72 and "'it' to 'cat'" in spec["layer"][0]["title"]
