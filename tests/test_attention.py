"""core.transformer.attention and core.charts.transformer: hand-worked cases, PyTorch as the independent
reference, and the real encoder's own attention maps."""
import math
import subprocess
import sys

import altair as alt
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


# ---- the layer's output: probs @ V, heads concatenated, W_O --------------------------------------------------
def test_split_and_merge_heads_hand_worked():
    x = np.arange(12.0).reshape(2, 6)  # T = 2 tokens, C = 6 = 3 heads of D = 2
    heads = attention.split_heads(x, 3)
    assert heads.shape == (3, 2, 2)
    assert heads[1].tolist() == [[2.0, 3.0], [8.0, 9.0]]  # head 2 owns columns 2..3
    assert np.array_equal(attention.merge_heads(heads), x)  # the round trip


def test_dense_outputs_are_caught_for_every_layer_and_hooks_removed(encoder, result):
    T = len(result.tokens)
    assert result.dense_outputs.shape == (6, T, 384)
    assert all(not block.attention.output.dense._forward_hooks for block in encoder[0].encoder.layer)


@pytest.mark.parametrize("layer", [0, 3, 5])
def test_attention_output_from_scratch_matches_model(encoder, result, layer):
    out = attention.attention_output_from_scratch(encoder[0], result, layer)
    T = len(result.tokens)
    assert out.probs.shape == (12, T, T) and out.v.shape == out.head_outputs.shape == (12, T, 32)
    assert out.concat.shape == out.output.shape == (T, 384)
    assert out.probs_diff < 1e-5
    assert out.max_abs_diff < 1e-5
    assert np.abs(out.output - result.dense_outputs[layer]).max() == pytest.approx(out.max_abs_diff)


def test_attention_output_equals_torch_on_the_same_input(encoder, result):
    """An independent route: the model's own BertSelfAttention and output dense on hidden_states[2]."""
    model = encoder[0]
    block = model.encoder.layer[2].attention
    x = torch.tensor(result.hidden_states[2])[None]  # (1, T, C)
    with torch.no_grad():
        context = block.self(x)[0]  # (1, T, C): the heads' probs @ V, concatenated
        ref = block.output.dense(context)[0].numpy()  # (T, C)
    out = attention.attention_output_from_scratch(model, result, 2)
    assert np.allclose(out.concat, context[0].numpy(), atol=1e-5)
    assert np.allclose(out.output, ref, atol=1e-5)


def test_causal_output_differs_from_the_bidirectional_model(encoder, result):
    out = attention.attention_output_from_scratch(encoder[0], result, 1, causal=True)
    assert out.causal and out.max_abs_diff > 0.01
    # the first token sees only itself under the mask: its head outputs are its own values
    assert np.allclose(out.head_outputs[:, 0], out.v[:, 0])


# ---- model view and head view ---------------------------------------------------------------------------------
def test_model_view_spec_and_row_budget():
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=(6, 12, 5))  # (L, H, T, T)
    spec = charts.model_view(weights).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert len(values) == 6 * 12 * 5 * 5
    assert {v["layer"] for v in values} == set(range(1, 7)) and {v["head"] for v in values} == set(range(1, 13))
    cells = np.zeros_like(weights)
    for v in values:
        cells[v["layer"] - 1, v["head"] - 1, v["q"], v["k"]] = v["w"]
    assert np.allclose(cells, weights, atol=1e-3)  # every weight at its (layer, head, query, key) cell
    assert spec["facet"]["row"]["field"] == "layer" and spec["facet"]["column"]["field"] == "head"
    T = charts.model_view_tokens(6, 12)
    assert T == 23 and 6 * 12 * T * T <= charts.MODEL_VIEW_MAX_ROWS < 6 * 12 * (T + 1) ** 2
    with alt.data_transformers.disable_max_rows():  # Streamlit's transformer has no row cap; plain altair's has
        full = charts.model_view(np.full((6, 12, T, T), 1 / T)).to_dict()
    assert len(next(iter(full["datasets"].values()))) == 6 * 12 * T * T
    with pytest.raises(ValueError, match="at most 23 tokens"):
        charts.model_view(np.full((6, 12, 24, 24), 1 / 24))
    with pytest.raises(ValueError, match=r"expected weights \(L, H, T, T\)"):
        charts.model_view(np.ones((12, 5, 5)))
    with pytest.raises(ValueError, match="5 tokens"):
        charts.model_view(np.ones((6, 12, 5, 4)))


def test_head_view_spec_lines_and_threshold():
    tokens = ["[CLS]", "the", "cat", "[SEP]"]
    weights = np.zeros((12, 4, 4))
    weights[:, :, 0] = 0.97  # every head: mostly [CLS] ...
    weights[:, :, 3] = 0.03  # ... and a little [SEP], under the threshold
    weights[2] = np.eye(4)  # head 3: each token looks at itself
    spec = charts.head_view(tokens, weights, [1, 3]).to_dict()
    rules = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rule")
    assert "data" not in rules  # the lines are the layered chart's own data
    lines = spec["datasets"][spec["data"]["name"]]
    assert len(lines) == 4 + 4  # head 1: four lines to [CLS]; head 3: four to themselves; no 0.03 line
    self_lines = {(line["q"], line["k"]) for line in lines if line["head"] == 3}
    assert self_lines == {(i, i) for i in range(4)}
    assert {line["w"] for line in lines if line["head"] == 1} == {0.97}
    enc = rules["encoding"]
    assert {"x", "x2", "y", "y2", "opacity", "color"} <= set(enc)
    assert enc["color"]["scale"]["domain"] == list(range(1, 13))  # a head keeps its colour whichever are drawn
    assert enc["color"]["legend"]["values"] == [1, 3]
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert len(texts) == 2 and spec["params"][0]["name"] == "hover_query"
    empty = charts.head_view(tokens, weights, []).to_dict()  # no head chosen: the tokens, no lines
    assert empty["datasets"][empty["data"]["name"]] == []


def test_head_view_rejects_bad_shapes_with_precise_errors():
    tokens = ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"expected weights \(H, T, T\), got shape \(3, 3\)"):
        charts.head_view(tokens, np.eye(3), [1])
    with pytest.raises(ValueError, match="3 tokens"):
        charts.head_view(tokens, np.ones((12, 4, 4)), [1])
    with pytest.raises(ValueError, match=r"heads are numbered 1..12, got \[0, 13\]"):
        charts.head_view(tokens, np.ones((12, 3, 3)) / 3, [0, 5, 13])
    with pytest.raises(ValueError, match="min_weight"):
        charts.head_view(tokens, np.ones((12, 3, 3)) / 3, [1], min_weight=1.0)
