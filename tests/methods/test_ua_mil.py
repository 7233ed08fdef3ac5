"""ua_mil (Arnab et al., ECCV 2020): pooling functions (Eq. 3-5) and the loss of Eq. 6."""

import math

import pytest
import torch
import torch.nn.functional as F

from wsal.data.keyframe import KeyframeBatch
from wsal.methods.ua_mil import UAMIL, mil_pool, uncertainty_bce

P = torch.tensor([[[0.2, 0.9], [0.6, 0.1], [0.4, 0.5], [0.99, 0.99]]])  # (1, 4, 2); last = padding
MASK = torch.tensor([[True, True, True, False]])


def test_max_pooling_by_hand():
    torch.testing.assert_close(mil_pool(P, MASK, "max"), torch.tensor([[0.6, 0.9]]))


def test_mean_pooling_by_hand():
    want = torch.tensor([[(0.2 + 0.6 + 0.4) / 3, (0.9 + 0.1 + 0.5) / 3]])
    torch.testing.assert_close(mil_pool(P, MASK, "mean"), want)
    torch.testing.assert_close(mil_pool(P, MASK, "gmean", r=1.0), want)


def test_generalized_mean_by_hand():
    r = 3.0
    want = [
        ((0.2**r + 0.6**r + 0.4**r) / 3) ** (1 / r),
        ((0.9**r + 0.1**r + 0.5**r) / 3) ** (1 / r),
    ]
    torch.testing.assert_close(mil_pool(P, MASK, "gmean", r=r), torch.tensor([want]))


@pytest.mark.parametrize("r", [1.0, 5.0])
def test_lse_pooling_by_hand(r):
    want = [
        math.log((math.exp(r * 0.2) + math.exp(r * 0.6) + math.exp(r * 0.4)) / 3) / r,
        math.log((math.exp(r * 0.9) + math.exp(r * 0.1) + math.exp(r * 0.5)) / 3) / r,
    ]
    torch.testing.assert_close(mil_pool(P, MASK, "lse", r=r), torch.tensor([want]))


def test_large_r_approaches_max_and_empty_bags_give_zero():
    assert torch.allclose(
        mil_pool(P, MASK, "gmean", r=200.0), torch.tensor([[0.6, 0.9]]), atol=0.01
    )
    assert torch.allclose(mil_pool(P, MASK, "lse", r=500.0), torch.tensor([[0.6, 0.9]]), atol=0.01)
    empty = torch.zeros(1, 4, dtype=torch.bool)
    for pooling in ("max", "mean", "gmean", "lse"):
        assert torch.equal(mil_pool(P, empty, pooling), torch.zeros(1, 2)), pooling


def _loss(p, v, y=1.0):
    bce = F.binary_cross_entropy(torch.tensor(p), torch.tensor(y))
    return float(uncertainty_bce(bce, torch.tensor(v)))


def test_uncertainty_loss_surface_ordering():
    """Fig. 3: correct+confident < wrong+uncertain < wrong+confident (label 1)."""
    correct_confident = _loss(0.95, 0.0)
    wrong_uncertain = _loss(0.02, 1.5)
    wrong_confident = _loss(0.02, 0.0)
    assert correct_confident < wrong_uncertain < wrong_confident
    # for a wrong prediction the loss is minimised at v = log(BCE) > 0, for a right one at v = 0
    bce = -math.log(0.02)
    vs = torch.linspace(0, 4, 401)
    best = vs[torch.argmin(torch.exp(-vs) * bce + vs)]
    assert abs(float(best) - math.log(bce)) < 0.02
    assert _loss(0.95, 0.0) < _loss(0.95, 0.5)


def _batch(b=2, n=3, d=5, c=3, full=False):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(b, n, d, generator=g)
    mask = torch.ones(b, n, dtype=torch.bool)
    mask[1, 2] = False
    labels = torch.tensor([[1.0, 0, 1], [0, 0, 0]])
    inst = (torch.rand(b, n, c, generator=g) > 0.5).float() if full else None
    return KeyframeBatch(feats, mask, torch.rand(b, n, 4), labels, torch.arange(b), inst)


def test_uncertainty_is_taken_from_the_max_pooled_instance():
    torch.manual_seed(0)
    model = UAMIL(feature_dim=5, num_classes=3, hidden_dim=8, dropout=0.0)
    batch = _batch()
    out = model(batch)
    arg = out.extras["logits"].masked_fill(~batch.mask.unsqueeze(-1), -1e9).argmax(1)
    want = out.extras["v"].gather(1, arg.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(out.extras["bag_v"], want)
    assert torch.all(out.extras["v"] >= 0)  # softplus
    bce = F.binary_cross_entropy_with_logits(
        out.extras["bag_logits"], batch.labels, reduction="none"
    )
    torch.testing.assert_close(
        model.losses(batch, out)["total"], (torch.exp(-want) * bce + want).mean()
    )


def test_switching_uncertainty_off_is_plain_max_pooling_bce():
    torch.manual_seed(0)
    model = UAMIL(feature_dim=5, num_classes=3, hidden_dim=8, dropout=0.0, uncertainty=False)
    assert model.uncertainty_head is None
    batch = _batch()
    out = model(batch)
    want = F.binary_cross_entropy(mil_pool(out.instance_scores, batch.mask, "max"), batch.labels)
    torch.testing.assert_close(model.losses(batch, out)["total"], want)


def test_full_supervision_uses_instance_labels():
    torch.manual_seed(0)
    model = UAMIL(feature_dim=5, num_classes=3, hidden_dim=8, dropout=0.0)
    batch = _batch(full=True)
    out = model(batch)
    bce = F.binary_cross_entropy_with_logits(
        out.extras["logits"], batch.instance_labels, reduction="none"
    )
    want = bce[batch.mask].mean()
    torch.testing.assert_close(model.losses(batch, out)["total"], want)


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling"):
        UAMIL(feature_dim=3, num_classes=2, pooling="median")
    with pytest.raises(ValueError, match="r must"):
        UAMIL(feature_dim=3, num_classes=2, pooling="lse", r=0.0)
