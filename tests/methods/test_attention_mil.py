"""Attention MIL (STPN / UntrimmedNets style): pooling, sparsity, T-CAS by hand, contract."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.config import load_run_config
from wsal.data.temporal import TemporalBatch, collate_temporal
from wsal.methods import METHODS
from wsal.methods.attention_mil import (
    AttentionMIL,
    AttentionMILConfig,
    attention_pool_features,
    attention_pool_scores,
    relative_attention,
    sparsity_loss,
    video_bce_loss,
)

REPO = Path(__file__).resolve().parents[2]


def _batch(feats: list[np.ndarray], labels: list[list[float]]) -> TemporalBatch:
    items = [
        {
            "feats": np.asarray(f, np.float32),
            "snippet_index": np.arange(len(f)),
            "video_labels": np.asarray(y, np.float32),
            "video_index": i,
        }
        for i, (f, y) in enumerate(zip(feats, labels))
    ]
    return collate_temporal(items)


# ------------------------------------------------------------------------------------------
# Pooling and losses by hand
# ------------------------------------------------------------------------------------------


def test_feature_pooling_by_hand():
    """Video 0: T = 2, a = (0.5, 1.0), x = (2, 0), (0, 4) -> (0.5 * 2, 1.0 * 4) / 2 = (0.5, 2)."""
    feats = torch.tensor(
        [[[2.0, 0.0], [0.0, 4.0], [9.0, 9.0]], [[1.0, 1.0], [3.0, 5.0], [2.0, 2.0]]]
    )
    att = torch.tensor([[0.5, 1.0, 0.7], [1.0, 0.0, 0.5]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    pooled = attention_pool_features(feats, att, mask)
    torch.testing.assert_close(pooled[0], torch.tensor([0.5, 2.0]))  # padding (9, 9) ignored
    torch.testing.assert_close(pooled[1], torch.tensor([(1 + 1) / 3, (1 + 1) / 3]))


def test_score_pooling_by_hand():
    """Soft selection: sum a s / sum a = (0.5 * 2 + 1.0 * (-1)) / 1.5 = 0 for class 0."""
    scores = torch.tensor([[[2.0, 1.0], [-1.0, 4.0], [50.0, 50.0]]])
    att = torch.tensor([[0.5, 1.0, 0.9]])
    mask = torch.tensor([[True, True, False]])
    pooled = attention_pool_scores(scores, att, mask)
    torch.testing.assert_close(pooled, torch.tensor([[0.0, (0.5 + 4.0) / 1.5]]))
    empty = attention_pool_scores(scores, att, torch.zeros(1, 3, dtype=torch.bool))
    assert torch.all(empty == 0)


def test_sparsity_loss_is_mean_over_real_snippets():
    """Video 0: (0.2 + 0.4) / 2 = 0.3; video 1: (1 + 0 + 0.5) / 3 = 0.5; all-padding ignored."""
    att = torch.tensor([[0.2, 0.4, 0.9], [1.0, 0.0, 0.5], [0.7, 0.7, 0.7]])
    mask = torch.tensor([[True, True, False], [True, True, True], [False, False, False]])
    assert sparsity_loss(att, mask).item() == pytest.approx(0.4)
    assert sparsity_loss(att, torch.zeros_like(mask)).item() == 0.0


def test_video_bce_by_hand():
    logits = torch.tensor([[0.0, 2.0], [7.0, 7.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    loss = video_bce_loss(logits, labels, torch.tensor([True, False]))
    want = (math.log(2) + math.log(1 + math.e**2)) / 2
    assert loss.item() == pytest.approx(want, abs=1e-6)


# ------------------------------------------------------------------------------------------
# Model: T-CAS, actionness, total loss, ablation
# ------------------------------------------------------------------------------------------


def _model(pool: str, **kw) -> AttentionMIL:
    torch.manual_seed(0)
    return AttentionMIL(feature_dim=5, num_classes=3, attention_hidden=8, pool=pool, **kw)


def _demo_batch(seed: int = 0) -> TemporalBatch:
    rng = np.random.default_rng(seed)
    return _batch([rng.normal(size=(t, 5)) for t in (9, 4, 1)], [[1, 0, 0], [0, 1, 1], [0, 0, 1]])


def test_relative_attention_by_hand():
    att = torch.tensor([[0.2, 0.4, 0.9], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    rel = relative_attention(att, mask)
    torch.testing.assert_close(rel, torch.tensor([[0.5, 1.0, 0.0], [0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("pool", ["features", "scores"])
def test_tcas_is_attention_times_class_probability(pool):
    model = _model(pool)
    batch = _demo_batch()
    out = model(batch)
    a = out.actionness
    raw = out.extras["attention"]
    if pool == "features":  # STPN: the attention itself
        torch.testing.assert_close(a, raw)
    else:  # soft selection: only ratios are learned -> attention relative to its maximum
        torch.testing.assert_close(a, relative_attention(raw, batch.mask))
        assert torch.all(a.amax(dim=1) == 1)
    expected = a.unsqueeze(-1) * torch.sigmoid(out.extras["snippet_logits"])
    torch.testing.assert_close(out.cas, expected * batch.mask.unsqueeze(-1))
    assert torch.all(a[~batch.mask] == 0) and torch.all(out.cas[~batch.mask] == 0)
    assert torch.all((a >= 0) & (a <= 1))
    torch.testing.assert_close(out.video_scores, torch.sigmoid(out.extras["video_logits"]))


def test_feature_pooling_video_logits_equal_classifier_of_pooled_features():
    model = _model("features")
    batch = _demo_batch()
    out = model(batch)
    pooled = attention_pool_features(batch.feats, out.actionness, batch.mask)
    torch.testing.assert_close(out.extras["video_logits"], model.classifier(pooled))


def test_score_pooling_video_logits_are_soft_selection_of_snippet_logits():
    model = _model("scores")
    batch = _demo_batch()
    out = model(batch)
    for b, t in enumerate(batch.lengths.tolist()):
        a = out.actionness[b, :t]
        s = out.extras["snippet_logits"][b, :t]
        torch.testing.assert_close(out.extras["video_logits"][b], (a[:, None] * s).sum(0) / a.sum())


@pytest.mark.parametrize("pool", ["features", "scores"])
def test_total_is_bce_plus_beta_sparsity_and_switch_trains(pool):
    model = _model(pool, sparsity_weight=0.1)
    batch = _demo_batch(1)
    first = None
    # plain gradient descent: Adam's first step imports too much for a unit test
    for _ in range(25):
        losses = model.losses(batch, model(batch))
        torch.testing.assert_close(losses["total"], losses["bce"] + 0.1 * losses["sparsity"])
        first = losses["total"].item() if first is None else first
        model.zero_grad()
        losses["total"].backward()
        for n, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), n
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    assert losses["total"].item() < first


def test_pool_switch_changes_pooling_not_snippet_scores():
    batch = _demo_batch()
    a, b = _model("features"), _model("scores")
    out_a, out_b = a(batch), b(batch)  # same seed: same weights
    torch.testing.assert_close(out_a.extras["attention"], out_b.extras["attention"])
    torch.testing.assert_close(out_a.extras["snippet_logits"], out_b.extras["snippet_logits"])
    assert not torch.allclose(out_a.extras["video_logits"], out_b.extras["video_logits"])


def test_constructor_is_keyword_only_and_validates():
    with pytest.raises(TypeError):
        AttentionMIL(5, 3)  # type: ignore[misc]
    with pytest.raises(ValueError):
        AttentionMIL(feature_dim=5, num_classes=3, pool="max")  # type: ignore[arg-type]
    assert AttentionMIL.localizer_preset == "attention_mil"


def test_defaults():
    cfg = AttentionMILConfig()
    # STPN: beta = 1e-4 on the L1 sum over T = 400 segments == 0.04 on the per-snippet mean
    assert (cfg.attention_hidden, cfg.sparsity_weight, cfg.pool) == (256, 0.04, "features")


@pytest.mark.parametrize("dataset", ["thumos14", "activitynet12", "synthetic"])
def test_configs_load(monkeypatch, dataset):
    monkeypatch.setitem(METHODS, "attention_mil", AttentionMIL)
    cfg = load_run_config(REPO / "configs" / "attention_mil" / f"{dataset}.yaml")
    assert cfg.method == "attention_mil" and isinstance(cfg.model, AttentionMILConfig)
    over = load_run_config(
        REPO / "configs" / "attention_mil" / f"{dataset}.yaml", ["model.pool=scores"]
    )
    assert over.model.pool == "scores"
