"""Contract tests over every temporal entry of METHODS (ARCHITECTURE.md convention 12).

The keyframe methods have their own contract tests (tests/methods/test_keyframe_contract.py)."""

import numpy as np
import pytest
import torch

from wsal.config import load_run_config
from wsal.data.temporal import collate_temporal
from wsal.engine.trainer import build_method
from wsal.methods import method_names

D, C = 12, 4


def _batch(lengths, num_classes=C, seed=0):
    rng = np.random.default_rng(seed)
    items = []
    for i, t in enumerate(lengths):
        labels = np.zeros(num_classes, np.float32)
        labels[rng.integers(num_classes)] = 1
        items.append(
            {
                "feats": rng.normal(size=(t, D)).astype(np.float32),
                "snippet_index": np.arange(t),
                "video_labels": labels,
                "video_index": i,
            }
        )
    return collate_temporal(items)


def _model(name, num_classes=C):
    torch.manual_seed(0)
    cfg = load_run_config(None, [f"method={name}"])
    return build_method(name, cfg.model, feature_dim=D, num_classes=num_classes)


@pytest.fixture(params=method_names("temporal"))
def name(request):
    return request.param


def test_shapes_and_finite_losses(name):
    model = _model(name)
    batch = _batch([7, 30, 1, 12])
    out = model(batch)
    assert out.cas.shape == (4, 30, C) and out.video_scores.shape == (4, C)
    assert torch.all((out.cas >= 0) & (out.cas <= 1)) and torch.all(
        (out.video_scores >= 0) & (out.video_scores <= 1)
    )
    if out.actionness is not None:
        assert out.actionness.shape == (4, 30)
    if out.logits is not None:  # logit-unit raw scores (presets with units="logit")
        assert out.logits.shape == (4, 30, C) and out.video_logits.shape == (4, C)
        assert torch.all(out.logits[~batch.mask] == 0) and torch.isfinite(out.video_logits).all()
    losses = model.losses(batch, out)
    assert "total" in losses and all(torch.isfinite(v) for v in losses.values())


def test_every_parameter_receives_a_gradient(name):
    model = _model(name)
    batch = _batch([20, 25, 9, 30, 14, 3])
    grads = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for epoch in range(getattr(model, "contract_epochs", 1)):
        model.on_epoch_start(epoch, total_epochs=getattr(model, "contract_epochs", 1))
        model.zero_grad()
        model.losses(batch, model(batch))["total"].backward()
        for n, p in model.named_parameters():
            assert p.grad is None or torch.isfinite(p.grad).all(), n
            if p.grad is not None:
                grads[n] += p.grad.abs()
    missing = [n for n, g in grads.items() if not (g > 0).any()]
    assert not missing, f"parameters without gradient: {missing}"


def test_eval_determinism(name):
    model = _model(name).eval()
    batch = _batch([10, 4])
    with torch.no_grad():
        a, b = model(batch), model(batch)
    torch.testing.assert_close(a.cas, b.cas, rtol=0, atol=0)
    torch.testing.assert_close(a.video_scores, b.video_scores, rtol=0, atol=0)


@pytest.mark.parametrize("lengths", [[1], [1, 1, 1], [5, 0], [0, 0]])
def test_degenerate_videos(name, lengths):
    model = _model(name)
    batch = _batch([max(t, 1) for t in lengths])
    for i, t in enumerate(lengths):
        if t == 0:  # an all-padding row
            batch.mask[i] = False
            batch.feats[i] = 0
            batch.snippet_index[i] = -1
    out = model(batch)
    losses = model.losses(batch, out)
    assert (
        torch.isfinite(losses["total"])
        and torch.isfinite(out.cas).all()
        and torch.isfinite(out.video_scores).all()
    )
    assert torch.all(out.cas[~batch.mask] == 0)


def test_one_class(name):
    model = _model(name, num_classes=1)
    batch = _batch([6, 9], num_classes=1)
    losses = model.losses(batch, model(batch))
    assert torch.isfinite(losses["total"])
