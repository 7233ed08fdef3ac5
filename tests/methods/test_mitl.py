"""mitl (Biswas & Gall): sim_p / sim_n of hand-made bags (Eq. 3, 4) and the losses (Eq. 2, 5-7)."""

import math

import torch
import torch.nn.functional as F

from wsal.data.keyframe import KeyframeBatch
from wsal.methods.mitl import MITL, bag_similarities


def _unit(*rows):
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1).unsqueeze(0)


def _box(cx, cy, w=0.2, h=0.4):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


# anchor: two persons with embeddings e0, e1 at centres (0.2, 0.5) and (0.8, 0.5)
S = _unit([1, 0, 0], [0, 1, 0])
S_BOX = torch.tensor([[_box(0.2, 0.5), _box(0.8, 0.5)]])
S_MASK = torch.ones(1, 2, dtype=torch.bool)


def test_sim_p_is_the_best_spatially_weighted_pair():
    # positive: p0 = e0 but far away (0.9, 0.5); p1 = 0.6 e1 + 0.8 e2 at the same place as s1
    p = _unit([1, 0, 0], [0, 0.6, 0.8])
    p_box = torch.tensor([[_box(0.9, 0.5), _box(0.8, 0.5)]])
    sim, valid = bag_similarities(S, S_MASK, S_BOX, p, torch.ones(1, 2, dtype=torch.bool), p_box)
    pairs = [math.exp(-(0.7**2)) * 1.0, 1.0 * 0.6]  # (s0, p0) and (s1, p1); others are 0
    assert valid.item() and abs(sim.item() - max(pairs)) < 1e-6
    # without the far copy the best pair is (s1, p1)
    sim2, _ = bag_similarities(S, S_MASK, S_BOX, p, torch.tensor([[False, True]]), p_box)
    assert abs(sim2.item() - 0.6) < 1e-6


def test_sim_n_is_the_least_similar_pair_and_max_ablation():
    n = _unit([1, 0, 0], [-1, 1, 0])  # cosines with s0: 1, -0.707; with s1: 0, 0.707
    sim, valid = bag_similarities(
        S, S_MASK, S_BOX, n, torch.ones(1, 2, dtype=torch.bool), None, reduce="min"
    )
    assert valid.item() and abs(sim.item() + math.sqrt(0.5)) < 1e-6
    sim_max, _ = bag_similarities(
        S, S_MASK, S_BOX, n, torch.ones(1, 2, dtype=torch.bool), None, reduce="max"
    )
    assert abs(sim_max.item() - 1.0) < 1e-6


def test_padding_never_forms_a_pair():
    n = _unit([-1, 0, 0], [0, 1, 0])  # padding instance would give the minimum -1
    sim, _ = bag_similarities(
        S, S_MASK, S_BOX, n, torch.tensor([[False, True]]), None, reduce="min"
    )
    assert abs(sim.item() - 0.0) < 1e-6  # min over (s0, n1) = 0 and (s1, n1) = 1
    sim, valid = bag_similarities(S, S_MASK, S_BOX, n, torch.zeros(1, 2, dtype=torch.bool), None)
    assert not valid.item() and sim.item() == 0.0


def _batch():
    g = torch.Generator().manual_seed(0)
    b, n, d = 3, 4, 6
    mk = lambda: (torch.randn(b, n, d, generator=g), torch.ones(b, n, dtype=torch.bool))  # noqa: E731
    (f, m), (pf, pm), (nf, nm) = mk(), mk(), mk()
    boxes = torch.tensor(_box(0.5, 0.5)).expand(b, n, 4).clone()
    labels = torch.tensor([[1.0, 0], [0, 1], [0, 0]])
    return KeyframeBatch(f, m, boxes, labels, torch.arange(b), None, pf, pm, boxes, nf, nm, boxes)


def test_total_is_miml_plus_triplet_plus_similarity_and_ablations():
    torch.manual_seed(0)
    model = MITL(feature_dim=6, num_classes=2, hidden_dim=8, embed_dim=16, dropout=0.0)
    batch = _batch()
    out = model(batch)
    losses = model.losses(batch, out)
    sp, sn = out.extras["sim_p"], out.extras["sim_n"]
    miml = F.binary_cross_entropy(out.instance_scores.max(1).values, batch.labels)
    trip = F.relu(sn - sp + 0.05).mean()
    sim = F.relu(0.8 - sp).mean()
    torch.testing.assert_close(losses["miml"], miml)
    torch.testing.assert_close(losses["triplet"], trip)
    torch.testing.assert_close(losses["similarity"], sim)
    torch.testing.assert_close(losses["total"], miml + trip + sim)
    for flags, keys in (
        ({"triplet": False}, {"miml", "similarity", "total"}),
        ({"similarity": False}, {"miml", "triplet", "total"}),
        ({"triplet": False, "similarity": False}, {"miml", "total"}),
    ):
        torch.manual_seed(0)
        m = MITL(feature_dim=6, num_classes=2, hidden_dim=8, embed_dim=16, dropout=0.0, **flags)
        assert set(m.losses(batch, m(batch))) == keys
    torch.manual_seed(0)
    m = MITL(feature_dim=6, num_classes=2, hidden_dim=8, embed_dim=16, dropout=0.0, negative="max")
    o = m(batch)
    assert torch.all(o.extras["sim_n"] >= sn - 1e-6)


def test_contrastive_head_is_l2_normalised_and_unused_at_test_time():
    model = MITL(feature_dim=6, num_classes=2, hidden_dim=8, embed_dim=16).eval()
    batch = _batch()
    e = model._embed(model.trunk(batch.feats))
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3, 4))
    assert "sim_p" not in model(batch).extras
