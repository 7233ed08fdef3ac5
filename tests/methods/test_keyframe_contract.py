"""Contract tests over every keyframe entry of METHODS (ARCHITECTURE.md convention 12)."""

import numpy as np
import pytest
import torch

from wsal.config import load_run_config
from wsal.data.keyframe import collate_keyframe
from wsal.engine.trainer import build_method
from wsal.methods import METHODS, method_names

D, C = 12, 4


def _bag(rng, n, num_classes):
    x1 = rng.uniform(0, 0.6, (n, 2))
    return rng.normal(size=(n, D)).astype(np.float32), np.concatenate([x1, x1 + 0.3], 1)


def _batch(sizes, num_classes=C, seed=0, triplets=False):
    rng = np.random.default_rng(seed)
    items = []
    for i, n in enumerate(sizes):
        labels = np.zeros(num_classes, np.float32)
        labels[rng.integers(num_classes)] = 1
        f, b = _bag(rng, n, num_classes)
        item = {"feats": f, "boxes": b.astype(np.float32), "labels": labels, "bag_index": i}
        if triplets:
            for side, m in (("pos", max(1, n - 1)), ("neg", n + 1)):
                f, b = _bag(rng, m, num_classes)
                item[f"{side}_feats"], item[f"{side}_boxes"] = f, b.astype(np.float32)
        items.append(item)
    return collate_keyframe(items)


def _model(name, num_classes=C):
    torch.manual_seed(0)
    cfg = load_run_config(None, [f"method={name}", "model.hidden_dim=16"])
    return build_method(name, cfg.model, feature_dim=D, num_classes=num_classes)


@pytest.fixture(params=method_names("keyframe"))
def name(request):
    return request.param


def test_registered_as_keyframe_methods():
    assert {"ua_mil", "mitl"} <= set(method_names("keyframe"))
    assert not set(method_names("keyframe")) & set(method_names("temporal"))
    assert METHODS["mitl"].bag == "keyframe" and METHODS["ua_mil"].bag == "clip"


def test_shapes_and_finite_losses(name):
    model = _model(name)
    batch = _batch([3, 7, 1], triplets=METHODS[name].uses_triplets)
    out = model(batch)
    assert out.instance_scores.shape == (3, 7, C) and out.bag_scores.shape == (3, C)
    assert torch.all((out.instance_scores >= 0) & (out.instance_scores <= 1))
    assert torch.all((out.bag_scores >= 0) & (out.bag_scores <= 1))
    assert torch.all(out.instance_scores[~batch.mask] == 0)
    losses = model.losses(batch, out)
    assert "total" in losses and all(torch.isfinite(v) for v in losses.values())


def test_every_parameter_receives_a_gradient(name):
    model = _model(name)
    batch = _batch([5, 2, 8, 3, 6], triplets=METHODS[name].uses_triplets)
    model.losses(batch, model(batch))["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not (p.grad != 0).any()]
    assert not missing, f"parameters without gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_eval_determinism_and_no_triplets_needed(name):
    model = _model(name).eval()
    batch = _batch([4, 2])  # prediction batches carry no triplet bags
    with torch.no_grad():
        a, b = model(batch), model(batch)
    torch.testing.assert_close(a.instance_scores, b.instance_scores, rtol=0, atol=0)
    torch.testing.assert_close(a.bag_scores, b.bag_scores, rtol=0, atol=0)


def test_scores_do_not_depend_on_padding(name):
    model = _model(name).eval()
    single = _batch([3], seed=4)
    padded = _batch([3, 9], seed=4)
    with torch.no_grad():
        a, b = model(single), model(padded)
    torch.testing.assert_close(a.instance_scores[0], b.instance_scores[0, :3])
    torch.testing.assert_close(a.bag_scores[0], b.bag_scores[0])


@pytest.mark.parametrize("sizes", [[1], [1, 1, 1], [4, 0], [0, 0]])
def test_one_instance_bags_and_all_padding_rows(name, sizes):
    model = _model(name)
    trip = METHODS[name].uses_triplets
    batch = _batch([max(n, 1) for n in sizes], triplets=trip)
    for i, n in enumerate(sizes):
        if n == 0:  # an all-padding row
            batch.mask[i] = False
            batch.feats[i] = 0
            if trip:
                batch.pos_mask[i] = False
                batch.neg_mask[i] = False
    out = model(batch)
    losses = model.losses(batch, out)
    assert all(torch.isfinite(v) for v in losses.values())
    assert torch.isfinite(out.instance_scores).all() and torch.isfinite(out.bag_scores).all()
    assert torch.all(out.instance_scores[~batch.mask] == 0)
    losses["total"].backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_one_class(name):
    model = _model(name, num_classes=1)
    batch = _batch([3, 5], num_classes=1, triplets=METHODS[name].uses_triplets)
    assert torch.isfinite(model.losses(batch, model(batch))["total"])
