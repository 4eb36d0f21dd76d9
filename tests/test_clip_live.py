"""Training a tiny CLIP live (core.multimodal.clip_live) and its charts (core.charts.multimodal_depth)."""
from dataclasses import replace

import numpy as np
import pytest

from core.charts import multimodal_depth as charts
from core.multimodal import clip_live

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = clip_live.LiveClipConfig(batch_size=32, steps=40, lr=3e-3, n_train=600, eval_n=120, checkpoints=2,
                                 max_seconds=60.0)


@pytest.fixture(scope="module")
def clip_tokenizer():
    from transformers import AutoTokenizer

    from core.models import model_path

    return AutoTokenizer.from_pretrained(model_path("tiny-clip"))


@pytest.fixture(scope="module")
def trained(clip_tokenizer):
    return clip_live.run(SMALL, seed=0, tokenizer=clip_tokenizer)


def test_loss_falls_from_chance(trained):
    assert trained.stopped_by == "steps" and len(trained.losses) == SMALL.steps
    first, last = np.mean(trained.losses[:5]), np.mean(trained.losses[-5:])
    assert abs(first - np.log(SMALL.batch_size)) < 0.5  # random weights: about ln B
    assert last < first - 0.5, (first, last)


def diagonal_margin(cosine: np.ndarray) -> float:
    """Mean cosine of the matching pairs minus that of the mismatches."""
    return float(np.diag(cosine).mean() - cosine[~np.eye(len(cosine), dtype=bool)].mean())


def test_zero_shot_beats_chance_and_the_diagonal_sharpens(trained):
    start, end = trained.checkpoints[0], trained.checkpoints[-1]
    assert [c.step for c in trained.checkpoints] == [0, 20, 40]
    assert end.accuracy > 3 / 24, end  # chance over 24 prompts is 1/24
    assert end.accuracy > start.accuracy
    assert end.batch_loss < start.batch_loss
    assert diagonal_margin(end.cosine) > diagonal_margin(start.cosine)
    assert end.cosine.shape == (clip_live.SNAPSHOT_PAIRS, clip_live.SNAPSHOT_PAIRS)


def test_same_seed_same_result(trained, clip_tokenizer):
    again = clip_live.run(SMALL, seed=0, tokenizer=clip_tokenizer)
    np.testing.assert_allclose(again.losses, trained.losses, rtol=0, atol=1e-6)
    assert [c.accuracy for c in again.checkpoints] == [c.accuracy for c in trained.checkpoints]
    np.testing.assert_allclose(again.map_coords, trained.map_coords, atol=1e-6)


def test_fixed_temperature_stays_put(clip_tokenizer):
    cfg = replace(SMALL, steps=3, learn_temperature=False, temperature=0.2, checkpoints=1, eval_n=10)
    result = clip_live.run(cfg, seed=1, tokenizer=clip_tokenizer)
    assert result.scales == pytest.approx([5.0] * 3, rel=1e-5)
    assert all(c.logit_scale == pytest.approx(5.0, rel=1e-5) for c in result.checkpoints)


def test_generator_yields_every_step(clip_tokenizer):
    steps = clip_live.train_live(replace(SMALL, steps=3, checkpoints=1, eval_n=10), seed=2, tokenizer=clip_tokenizer)
    seen = [p.step for p in steps]
    assert seen == [1, 2, 3]


def test_time_cap_stops_the_run(clip_tokenizer):
    cfg = replace(SMALL, steps=400, max_seconds=0.01, checkpoints=1, eval_n=10)
    result = clip_live.run(cfg, seed=0, tokenizer=clip_tokenizer)
    assert result.stopped_by == "time" and len(result.losses) < 400
    assert result.checkpoints[-1].step == len(result.losses)


@pytest.mark.parametrize("change", [{"steps": 10_000}, {"max_seconds": 600.0}, {"batch_size": 4096},
                                    {"n_train": 10**6}, {"eval_n": 10**5}, {"temperature": 0.0},
                                    {"hidden": 33}, {"checkpoints": 50}])
def test_over_budget_is_refused(change):
    with pytest.raises(ValueError, match="out of budget"):
        clip_live.validate(replace(SMALL, **change))


def test_pca_equals_covariance_eigendecomposition():
    x = np.random.default_rng(0).normal(size=(30, 6)) @ np.diag([5, 3, 1, 0.5, 0.2, 0.1])
    coords, explained = clip_live.pca_2d(x)
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))  # ascending
    top = vectors[:, ::-1][:, :2]  # (E, 2)
    independent = centred @ top
    signs = np.sign(np.sum(coords * independent, axis=0))  # each axis's sign is a convention
    np.testing.assert_allclose(coords, independent * signs, atol=1e-10)
    np.testing.assert_allclose(explained, values[::-1][:2] / values.sum(), atol=1e-12)


def test_pca_hand_case():
    coords, explained = clip_live.pca_2d(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [0.0, -0.5]]))
    np.testing.assert_allclose(np.abs(coords), [[1, 0], [1, 0], [0, 0.5], [0, 0.5]], atol=1e-12)
    assert explained == pytest.approx((0.8, 0.2))


def test_charts(trained):
    loss = charts.clip_loss_chart(trained.losses, SMALL.batch_size).to_dict()
    assert len(loss["layer"]) == 2
    cps = trained.checkpoints
    acc = charts.accuracy_chart([c.step for c in cps], [c.accuracy for c in cps], [c.colour_accuracy for c in cps],
                                [c.shape_accuracy for c in cps], 1 / 24).to_dict()
    assert acc["layer"][0]["encoding"]["y"]["scale"]["domain"] == [0, 1]
    emb = charts.embedding_map(trained.map_coords, trained.map_kinds, trained.map_labels,
                               trained.map_explained).to_dict()
    assert emb["encoding"]["shape"]["field"] == "kind"
    assert len(trained.map_kinds) == 2 * clip_live.MAP_PAIRS
    with pytest.raises(ValueError, match="one row per kind"):
        charts.embedding_map(trained.map_coords[:3], trained.map_kinds, trained.map_labels, trained.map_explained)
    with pytest.raises(ValueError, match="one value per checkpoint"):
        charts.accuracy_chart([0, 1], [0.1], [0.1], [0.1], 1 / 24)
