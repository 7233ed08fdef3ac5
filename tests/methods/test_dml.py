"""DML (Islam & Radke, WACV 2020): hand-computed cases, naive loop references, ablations, contract."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsal.config import load_run_config
from wsal.data.temporal import TemporalBatch, collate_temporal
from wsal.engine.trainer import build_method
from wsal.methods import METHODS
from wsal.methods.dml import (
    DeepMetricMIL,
    DMLConfig,
    balanced_bce,
    block_topk_mean,
    class_attention_pool,
    class_pair_means,
    clip_scores,
    contrastive_loss,
    log1mexp,
    pair_distances,
    plain_bce,
    relu_dropout,
    softmax_mil_loss,
    triplet_loss,
    video_log_not_prob,
)

REPO = Path(__file__).resolve().parents[2]


def _load_contract():
    """The generic contract tests (tests/methods/test_contract.py), loaded by file path."""
    spec = importlib.util.spec_from_file_location(
        "_dml_contract", Path(__file__).with_name("test_contract.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_contract = _load_contract()


@pytest.fixture
def dml_registered(monkeypatch):
    """``METHODS["dml"] = DeepMetricMIL`` for one test (restored afterwards)."""
    monkeypatch.setitem(METHODS, "dml", DeepMetricMIL)
    return "dml"


def _batch(lengths, num_classes=4, dim=6, labels=None, seed=0) -> TemporalBatch:
    rng = np.random.default_rng(seed)
    items = []
    for i, t in enumerate(lengths):
        y = np.zeros(num_classes, np.float32)
        if labels is None:
            y[rng.integers(num_classes)] = 1
        else:
            y[list(labels[i])] = 1
        items.append(
            {
                "feats": rng.normal(size=(max(t, 1), dim)).astype(np.float32),
                "snippet_index": np.arange(max(t, 1)),
                "video_labels": y,
                "video_index": i,
            }
        )
    batch = collate_temporal(items)
    for i, t in enumerate(lengths):
        if t == 0:  # an all-padding row
            batch.mask[i] = False
            batch.feats[i] = 0
            batch.snippet_index[i] = -1
    return batch


def _mask(lengths, t=None) -> torch.Tensor:
    t = t or max(max(lengths), 1)
    return torch.arange(t).unsqueeze(0) < torch.as_tensor(lengths).unsqueeze(1)


# ------------------------------------------------------------------ naive references (loops)


def _naive_blocks(n: int, block_size: int | None, merge: bool) -> list[tuple[int, int]]:
    if n == 0:
        return []
    if block_size is None:
        return [(0, n)]
    if merge:
        nb = max(1, n // block_size)
        return [(i * block_size, (i + 1) * block_size) for i in range(nb - 1)] + [
            ((nb - 1) * block_size, n)
        ]
    return [(a, min(n, a + block_size)) for a in range(0, n, block_size)]


def _naive_video_prob(s: torch.Tensor, n: int, block_size, k: int, merge: bool) -> torch.Tensor:
    """P(c|V) of one video ``s (T, C)`` with ``n`` real snippets: Eq. 2-4 with loops."""
    prob_none = torch.ones(s.shape[1], dtype=torch.float64)
    for a, b in _naive_blocks(n, block_size, merge):
        for c in range(s.shape[1]):
            vals = sorted(s[a:b, c].tolist(), reverse=True)[: min(k, b - a)]
            prob_none[c] *= 1 - 1 / (1 + math.exp(-sum(vals) / len(vals)))
    return 1 - prob_none


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / max(float(x.detach().norm()), 1e-12)


def _naive_metric(
    scores,
    embed,
    mask,
    labels,
    *,
    distance,
    loss,
    alpha,
    margin=3.0,
    pos_margin=0.0,
    weight=None,
    factor=None,
) -> torch.Tensor:
    """Sec. 3.4 metric loss with a Python loop over videos, classes and pairs."""
    b, _, c = scores.shape
    zp, zn = {}, {}
    for i in range(b):
        n = int(mask[i].sum())
        if n == 0:
            continue
        s, u = scores[i, :n], embed[i, :n]
        for k in range(c):
            pi = torch.softmax(s[:, k], 0)
            zp[i, k] = _normalize((pi[:, None] * u).sum(0))
            zn[i, k] = _normalize(((1 - pi)[:, None] / max(n - 1, 1) * u).sum(0))

    def dist(k, x, y):
        if distance == "ours":
            return float(weight[k] @ (x - y)) ** 2
        if distance == "euclidean":
            return float((x - y) @ (x - y))
        if distance == "learned":
            m = factor[k].T @ factor[k]  # M^c = A^T A
            return float((x - y) @ m @ (x - y))
        return 1.0 - float(x @ y)  # cosine

    terms = []
    for k in range(c):
        vids = [i for i in range(b) if labels[i, k] > 0 and (i, k) in zp]
        if len(vids) < 2:
            continue
        pairs = [(j, jj) for j in vids for jj in vids if j != jj]
        dp = sum(dist(k, zp[j, k], zp[jj, k]) for j, jj in pairs) / len(pairs)
        dm = sum(dist(k, zp[j, k], zn[jj, k]) for j, jj in pairs) / len(pairs)
        if loss == "triplet":
            terms.append(max(dp - dm + alpha, 0.0))
        else:
            terms.append(max(dp - pos_margin, 0.0) + max(margin - dm, 0.0))
    return torch.tensor(sum(terms) / len(terms) if terms else 0.0, dtype=torch.float64)


# ------------------------------------------------------------------ classification module


def test_clip_scores_eq1():
    x = torch.tensor([-9.0, -4.0, -1.5, 0.0, 3.9, 4.0, 7.0])
    torch.testing.assert_close(
        clip_scores(x, 4.0), torch.tensor([-4.0, -4.0, -1.5, 0.0, 3.9, 4.0, 4.0])
    )
    assert clip_scores(x, None) is x and clip_scores(x, math.inf) is x


def test_block_partition_130_snippets_separate_and_merge():
    # T = 130, l_w = 60: separate -> blocks [0,60) [60,120) [120,130) (last partial, k = 10);
    # merge (Eq. 2-3, floor(130/60) = 2 blocks) -> [0,60) [60,130).
    s = torch.arange(130, dtype=torch.float32).view(1, 130, 1)
    mask = _mask([130])
    sep, valid = block_topk_mean(s, mask, block_size=60, k=10, merge_last=False)
    assert sep.shape == (1, 3, 1) and valid.tolist() == [[True, True, True]]
    # top-10 means: 50..59 -> 54.5, 110..119 -> 114.5, 120..129 -> 124.5
    assert sep[0, :, 0].tolist() == [54.5, 114.5, 124.5]
    mer, valid = block_topk_mean(s, mask, block_size=60, k=10, merge_last=True)
    assert valid.tolist() == [[True, True, False]]
    assert mer[0, :2, 0].tolist() == [54.5, 124.5]  # merged block [60,130): top-10 = 120..129


def test_block_partition_with_padding_and_short_partial_block():
    # video 0: 130 snippets; video 1: 61 (separate: [0,60) + [60,61) with k = 1); video 2:
    # 25 < l_w (one block, k = min(10, 25)); video 3: 7 (one block, k = 7); video 4: padding only
    rng = np.random.default_rng(1)
    s = torch.from_numpy(rng.normal(size=(5, 130, 2)).astype(np.float32))
    lengths = [130, 61, 25, 7, 0]
    mask = _mask(lengths, 130)
    sep, valid = block_topk_mean(s, mask, block_size=60, k=10, merge_last=False)
    assert valid.tolist() == [[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0]]
    torch.testing.assert_close(sep[1, 1], s[1, 60])  # partial block of one snippet: k = 1
    torch.testing.assert_close(sep[3, 0], s[3, :7].mean(0))  # k = min(10, 7) = 7
    torch.testing.assert_close(sep[2, 0], s[2, :25].topk(10, dim=0).values.mean(0))
    assert torch.all(sep[~valid] == 0)
    mer, valid = block_topk_mean(s, mask, block_size=60, k=10, merge_last=True)
    assert valid.tolist() == [[1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0]]
    torch.testing.assert_close(mer[1, 0], s[1, :61].topk(10, dim=0).values.mean(0))


@pytest.mark.parametrize("merge", [True, False])
@pytest.mark.parametrize("block_size,k", [(60, 10), (8, 3), (5, 7), (None, 10), (1, 10)])
def test_block_topk_mean_matches_naive_loop(merge, block_size, k):
    rng = np.random.default_rng(2)
    lengths = [0, 1, 4, 5, 7, 8, 9, 16, 17, 59, 60, 61, 119, 120, 121, 130]
    t = max(lengths)
    s = torch.from_numpy(rng.normal(size=(len(lengths), t, 3))).clamp(-4, 4)
    mask = _mask(lengths, t)
    blocks, valid = block_topk_mean(s, mask, block_size=block_size, k=k, merge_last=merge)
    prob = -torch.expm1(video_log_not_prob(blocks, valid))
    for i, n in enumerate(lengths):
        assert int(valid[i].sum()) == len(_naive_blocks(n, block_size, merge))
        torch.testing.assert_close(prob[i], _naive_video_prob(s[i], n, block_size, k, merge))


def test_video_probability_formula_eq3():
    # two blocks with k-max means 0 and log(3): P(B) = 1/2 and 3/4 -> P(V) = 1 - 1/2 * 1/4 = 7/8
    blocks = torch.tensor([[[0.0], [math.log(3.0)], [5.0]]])
    valid = torch.tensor([[True, True, False]])  # the third block is padding: ignored
    log_not = video_log_not_prob(blocks, valid)
    torch.testing.assert_close(-torch.expm1(log_not), torch.tensor([[0.875]]))


def test_log1mexp_is_accurate_and_finite():
    x = torch.tensor([-1e-20, -1e-6, -0.3, -math.log(2.0), -2.0, -50.0], dtype=torch.float64)
    ref = torch.log(-torch.expm1(x))
    torch.testing.assert_close(log1mexp(x), ref)
    x32 = torch.tensor([-1e-30, -1e-3, -30.0], requires_grad=True)
    log1mexp(x32).sum().backward()
    assert torch.isfinite(x32.grad).all()


def test_balanced_bce_by_hand():
    # labels [1, 0, 0], P = [0.8, 0.3, 0.1]: -(log .8 + (log .7 + log .9) / 2)
    p = torch.tensor([[0.8, 0.3, 0.1], [0.5, 0.5, 0.5]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0, 0], [1.0, 1, 1]], dtype=torch.float64)
    valid = torch.tensor([True, False])  # second video is padding only: ignored
    got = balanced_bce(p.log(), (1 - p).log(), y, valid)
    want = -(math.log(0.8) + (math.log(0.7) + math.log(0.9)) / 2)
    assert got.item() == pytest.approx(want)
    # two positives, one negative, both videos valid
    y2 = torch.tensor([[1.0, 1, 0], [0.0, 0, 0]], dtype=torch.float64)
    got = balanced_bce(p.log(), (1 - p).log(), y2, torch.tensor([True, True]))
    v0 = -((math.log(0.8) + math.log(0.3)) / 2 + math.log(0.9))
    v1 = -(3 * math.log(0.5)) / 3  # no positive class: only the negative side
    assert got.item() == pytest.approx((v0 + v1) / 2)


def test_plain_bce_and_softmax_mil_by_hand():
    p = torch.tensor([[0.8, 0.3, 0.1]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0, 0]], dtype=torch.float64)
    valid = torch.tensor([True])
    bce = plain_bce(p.log(), (1 - p).log(), y, valid)
    assert bce.item() == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.9)) / 3)
    logits = (p / (1 - p)).log()
    smil = softmax_mil_loss(p.log(), (1 - p).log(), y, valid)
    assert smil.item() == pytest.approx(-torch.log_softmax(logits, 1)[0, 0].item())


# ------------------------------------------------------------------ metric module


def test_attention_pooling_tiny_example():
    # one class, video of 2 snippets with scores [0, log 3]: pi = [1/4, 3/4]
    scores = torch.tensor([[[0.0], [math.log(3.0)], [9.0]]])
    embed = torch.tensor([[[4.0, 0.0], [0.0, 4.0], [100.0, 100.0]]])  # third row is padding
    mask = torch.tensor([[True, True, False]])
    z_pos, z_neg = class_attention_pool(scores, embed, mask)
    torch.testing.assert_close(z_pos[0, 0], _normalize(torch.tensor([1.0, 3.0])))
    # (1 - pi) / (n - 1) = [3/4, 1/4] -> [3, 1]
    torch.testing.assert_close(z_neg[0, 0], _normalize(torch.tensor([3.0, 1.0])))


def test_attention_pooling_matches_naive_loop_with_padding():
    rng = np.random.default_rng(3)
    lengths = [5, 1, 0, 9]
    scores = torch.from_numpy(rng.normal(size=(4, 9, 3))).clamp(-4, 4)
    embed = torch.from_numpy(rng.normal(size=(4, 9, 6)))
    mask = _mask(lengths, 9)
    z_pos, z_neg = class_attention_pool(scores, embed, mask)
    for i, n in enumerate(lengths):
        for c in range(3):
            if n == 0:
                assert torch.all(z_pos[i, c] == 0) and torch.all(z_neg[i, c] == 0)
                continue
            pi = torch.softmax(scores[i, :n, c], 0)
            torch.testing.assert_close(z_pos[i, c], _normalize(pi @ embed[i, :n]))
            want = _normalize((1 - pi) / max(n - 1, 1) @ embed[i, :n])
            torch.testing.assert_close(z_neg[i, c], want)
    assert torch.all(z_neg[1] == 0)  # one snippet: nothing outside the attention


def test_distance_ours_tiny_example_eq10():
    # D_c(u, v) = |W_f^c (u - v)|: w = [1, 2], u = [1, 0], v = [0, 1] -> (1 - 2)^2 = 1
    w = torch.tensor([[1.0, 2.0]])
    z = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # (B=2, C=1, d=2)
    d_pos, d_neg = pair_distances(z, torch.zeros_like(z), "ours", class_weight=w)
    assert d_pos[:, :, 0].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert d_neg[:, :, 0].tolist() == [[1.0, 1.0], [4.0, 4.0]]  # z^{not c} = 0: (w . u)^2


@pytest.mark.parametrize("distance", ["ours", "euclidean", "cosine", "learned"])
def test_pair_distances_match_naive_per_class_loop(distance):
    rng = np.random.default_rng(4)
    b, c, d = 5, 3, 7
    z_pos = F.normalize(torch.from_numpy(rng.normal(size=(b, c, d))), dim=-1)
    z_neg = F.normalize(torch.from_numpy(rng.normal(size=(b, c, d))), dim=-1)
    z_neg[2] = 0  # a one-snippet video
    w = torch.from_numpy(rng.normal(size=(c, d)))
    a = torch.from_numpy(rng.normal(size=(c, 4, d)))
    d_pos, d_neg = pair_distances(z_pos, z_neg, distance, class_weight=w, metric_factor=a)
    for k in range(c):
        m = {"ours": torch.outer(w[k], w[k]), "euclidean": torch.eye(d), "learned": a[k].T @ a[k]}
        for i in range(b):
            for j in range(b):
                for got, other in ((d_pos, z_pos), (d_neg, z_neg)):
                    x, y = z_pos[i, k], other[j, k]
                    want = (
                        1 - x @ y if distance == "cosine" else (x - y) @ m[distance].to(x) @ (x - y)
                    )
                    torch.testing.assert_close(got[i, j, k], want)


def test_class_pair_means_and_hinges_by_hand():
    # class 0 in videos {0, 1, 2}; class 1 only in video 1 (no pair -> invalid)
    d_pos = torch.arange(18, dtype=torch.float64).view(3, 3, 2)
    d_neg = 2 * d_pos + 1
    members = torch.tensor([[1, 0], [1, 1], [1, 0]], dtype=torch.bool)
    d_plus, d_minus, valid = class_pair_means(d_pos, d_neg, members)
    off = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    want_plus = sum(d_pos[i, j, 0].item() for i, j in off) / 6
    assert d_plus[0].item() == pytest.approx(want_plus)
    assert d_minus[0].item() == pytest.approx(2 * want_plus + 1)
    assert valid.tolist() == [True, False]
    # triplet [d+ - d- + alpha]_+ and contrastive d+ + [alpha - d-]_+, by hand
    dp, dm, ok = (
        torch.tensor([1.0, 0.5, 9.0]),
        torch.tensor([2.5, 4.0, 0.0]),
        torch.tensor([True, True, False]),
    )
    assert triplet_loss(dp, dm, ok, 3.0).item() == pytest.approx((1.5 + 0.0) / 2)
    assert contrastive_loss(dp, dm, ok, 3.0).item() == pytest.approx(
        ((1.0 + 0.5) + (0.5 + 0.0)) / 2
    )
    assert contrastive_loss(dp, dm, ok, 3.0, pos_margin=0.75).item() == pytest.approx(
        ((0.25 + 0.5) + 0.0) / 2
    )
    none = torch.tensor([False, False, False])
    assert triplet_loss(dp, dm, none, 3.0).item() == 0.0


@pytest.mark.parametrize("distance", ["ours", "euclidean", "cosine", "learned"])
@pytest.mark.parametrize("loss", ["triplet", "contrastive"])
def test_batched_metric_loss_equals_naive_loop(distance, loss):
    torch.manual_seed(0)
    lengths = [7, 12, 1, 0, 12, 3, 9, 12]
    labels = [(0,), (0, 2), (0,), (0,), (1,), (1, 2), (2,), (3,)]
    batch = _batch(lengths, num_classes=5, labels=labels, seed=5)
    model = (
        DeepMetricMIL(
            feature_dim=6,
            num_classes=5,
            embed_dim=8,
            distance=distance,
            metric_loss=loss,
            learned_rank=3,
            alpha=1.5,
            contrastive_margin=2.0,
            contrastive_pos_margin=0.1,
        )
        .double()
        .eval()
    )
    batch.feats = batch.feats.double()
    batch.video_labels = batch.video_labels.double()
    out = model(batch)
    got = model.losses(batch, out)["metric"]
    want = _naive_metric(
        out.extras["scores"].detach(),
        out.extras["embedding"].detach(),
        batch.mask,
        batch.video_labels,
        distance=distance,
        loss=loss,
        alpha=1.5,
        margin=2.0,
        pos_margin=0.1,
        weight=model.classifier.weight.detach(),
        factor=None if model.metric_factor is None else model.metric_factor.detach(),
    )
    torch.testing.assert_close(got.detach(), want)


# ------------------------------------------------------------------ the method


def test_forward_scores_match_the_paper_formulas():
    torch.manual_seed(0)
    lengths = [130, 61, 25, 1]
    batch = _batch(lengths, dim=6)
    model = DeepMetricMIL(feature_dim=6, num_classes=4).eval()
    with torch.no_grad():
        out = model(batch)
        logits = model.classifier(F.relu(model.embed(batch.feats)))
    s = logits.clamp(-4, 4)
    torch.testing.assert_close(out.extras["scores"][batch.mask], s[batch.mask])
    torch.testing.assert_close(out.cas, torch.sigmoid(s) * batch.mask.unsqueeze(-1))
    for i, n in enumerate(lengths):
        want = _naive_video_prob(s[i].double(), n, 60, 10, merge=True).float()
        torch.testing.assert_close(out.video_scores[i], want)


def test_raw_logits_and_window_video_logits_are_the_authors_test_scores():
    """``logits`` are the unclipped snippet logits; ``video_logits`` the released test code's
    video score: max over 60-snippet windows (remainder joined to the last) of the mean of
    the 10 largest logits."""
    torch.manual_seed(0)
    lengths = [130, 61, 25, 1]
    batch = _batch(lengths, dim=6)
    model = DeepMetricMIL(feature_dim=6, num_classes=4).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)  # logits well beyond kappa = 4
        out = model(batch)
        logits = model.classifier(F.relu(model.embed(batch.feats)))
    assert logits.abs().max() > 4
    torch.testing.assert_close(out.logits[batch.mask], logits[batch.mask])
    assert torch.all(out.logits[~batch.mask] == 0)
    for i, n in enumerate(lengths):
        x = logits[i, :n].numpy()
        cuts = [j * 60 for j in range(1, n // 60)]
        want = np.max([np.sort(w, 0)[-10:].mean(0) for w in np.split(x, cuts)], axis=0)
        np.testing.assert_allclose(out.video_logits[i].numpy(), want, rtol=1e-5, atol=1e-6)


def test_cls_weight_and_metric_weight_scale_the_terms():
    """The authors' code minimizes 0.5 * (pos + neg) / 2 + 0.5 * metric."""
    batch = _batch([40, 30, 50, 20], labels=[(0,), (0,), (1,), (1,)])
    torch.manual_seed(0)
    plain = DeepMetricMIL(feature_dim=6, num_classes=4).eval()
    code = DeepMetricMIL(feature_dim=6, num_classes=4, cls_weight=0.25, metric_weight=0.5).eval()
    code.load_state_dict(plain.state_dict())
    a, b = plain.losses(batch, plain(batch)), code.losses(batch, code(batch))
    torch.testing.assert_close(b["cls"], a["cls"])
    torch.testing.assert_close(b["total"], 0.25 * a["cls"] + 0.5 * a["metric"])


def test_padding_does_not_change_a_video():
    torch.manual_seed(0)
    model = DeepMetricMIL(feature_dim=6, num_classes=4).eval()
    alone = _batch([70], dim=6, labels=[(1,)], seed=7)
    padded = _batch([70, 200], dim=6, labels=[(1,), (2,)], seed=7)
    padded.feats[0, :70] = alone.feats[0]
    padded.feats[0, 70:] = 123.0  # garbage in padding must not matter
    with torch.no_grad():
        a, b = model(alone), model(padded)
    torch.testing.assert_close(a.video_scores[0], b.video_scores[0])
    torch.testing.assert_close(a.cas[0], b.cas[0, :70])
    assert torch.all(b.cas[0, 70:] == 0)


ABLATIONS = [
    {},
    {"cls_loss": "bce"},
    {"cls_loss": "softmax_mil"},
    {"metric_loss": "none"},
    {"metric_loss": "contrastive", "contrastive_pos_margin": 0.2},
    {"distance": "cosine"},
    {"distance": "euclidean"},
    {"distance": "learned"},
    {"distance": "learned", "learned_rank": 2},
    {"blocks": False},
    {"last_block": "separate"},
    {"kappa": None},
    {"kappa": 2.0, "block_size": 4, "topk": 2, "alpha": 1.0, "metric_weight": 0.5},
    {"embed_dim": 5, "dropout": 0.0},
]


@pytest.mark.parametrize(
    "overrides", ABLATIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "paper"
)
def test_every_ablation_switch_trains(overrides):
    torch.manual_seed(0)
    cfg = dataclasses.replace(DMLConfig(), **overrides)
    model = build_method_direct(cfg)
    batch = _batch(
        [20, 25, 9, 30, 1, 0, 14, 3], labels=[(0,), (0,), (1,), (1, 2), (2,), (3,), (2,), (0, 3)]
    )
    losses = model.losses(batch, model(batch))
    assert set(losses) == {"total", "cls"} | ({"metric"} if cfg.metric_loss != "none" else set())
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and (p.grad != 0).any(), name


def build_method_direct(
    cfg: DMLConfig, feature_dim: int = 6, num_classes: int = 4
) -> DeepMetricMIL:
    """What the engine does: ``cls(feature_dim=..., num_classes=..., **asdict(cfg))``."""
    return DeepMetricMIL(
        feature_dim=feature_dim, num_classes=num_classes, **dataclasses.asdict(cfg)
    )


@pytest.mark.parametrize("overrides", ABLATIONS[:9])
def test_all_padding_and_one_snippet_batches_give_finite_losses(overrides):
    model = build_method_direct(dataclasses.replace(DMLConfig(), **overrides))
    for lengths in ([0, 0], [1], [1, 1, 0], [0, 5]):
        batch = _batch(lengths, labels=[(0,)] * len(lengths))
        out = model(batch)
        losses = model.losses(batch, out)
        assert all(torch.isfinite(v) for v in losses.values())
        assert torch.isfinite(out.video_scores).all() and torch.all(out.cas[~batch.mask] == 0)
        losses["total"].backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="distance"):
        DeepMetricMIL(feature_dim=4, num_classes=2, distance="manhattan")
    with pytest.raises(ValueError, match="block_size"):
        DeepMetricMIL(feature_dim=4, num_classes=2, block_size=0)
    with pytest.raises(ValueError, match="kappa"):
        DeepMetricMIL(feature_dim=4, num_classes=2, kappa=0.0)


def test_defaults_are_the_papers():
    cfg = DMLConfig()
    assert (cfg.kappa, cfg.block_size, cfg.topk, cfg.alpha, cfg.metric_weight) == (
        4.0,
        60,
        10,
        3.0,
        1.0,
    )
    assert (cfg.cls_loss, cfg.metric_loss, cfg.distance, cfg.blocks) == (
        "bbce",
        "triplet",
        "ours",
        True,
    )
    model = build_method_direct(cfg, feature_dim=12)
    assert model.embed.weight.shape == (12, 12)  # Sec. 3.2: the embedding keeps d = D
    assert DeepMetricMIL.localizer_preset == "dml"


# ------------------------------------------------------------------ configs and contract


@pytest.mark.parametrize("name", ["thumos14", "thumos14_paper", "activitynet12", "synthetic"])
def test_configs_load(dml_registered, name):
    cfg = load_run_config(REPO / "configs" / "dml" / f"{name}.yaml")
    assert cfg.method == "dml" and isinstance(cfg.model, DMLConfig)
    model = build_method("dml", cfg.model, feature_dim=8, num_classes=3)
    assert isinstance(model, DeepMetricMIL)
    t = cfg.train
    if name == "thumos14_paper":  # Sec. 4.2 and Sec. 3.5
        assert t.epochs * t.iterations_per_epoch == 4401 and t.lr == 1e-4
        assert (t.batching, t.classes_per_batch, t.videos_per_class) == ("class_balanced", 4, 5)
        assert (cfg.model.cls_weight, cfg.model.metric_weight) == (1.0, 1.0)
        assert cfg.localize.preset == "dml" and cfg.data.max_snippets == 300
    if name == "thumos14":  # the authors' released code (options.py, train.py, test.py)
        assert t.epochs * t.iterations_per_epoch == 4401 and t.lr == 2e-4
        assert (t.classes_per_batch, t.videos_per_class, t.class_replacement) == (5, 4, True)
        assert (cfg.model.cls_weight, cfg.model.metric_weight) == (0.25, 0.5)
        assert cfg.localize.preset == "dml_code" and cfg.eval.tiou == "thumos14"
    if name == "activitynet12":
        assert cfg.eval.tiou == "activitynet"


CONTRACT_CHECKS = [
    ("test_shapes_and_finite_losses", {}),
    ("test_every_parameter_receives_a_gradient", {}),
    ("test_eval_determinism", {}),
    ("test_one_class", {}),
    *[
        ("test_degenerate_videos", {"lengths": lengths})
        for lengths in ([1], [1, 1, 1], [5, 0], [0, 0])
    ],
]


@pytest.mark.parametrize(
    "check,kwargs", CONTRACT_CHECKS, ids=[f"{c}{k.get('lengths', '')}" for c, k in CONTRACT_CHECKS]
)
def test_generic_contract(dml_registered, check, kwargs):
    getattr(_contract, check)(dml_registered, **kwargs)


def test_relu_dropout_keeps_q_over_128_and_is_unbiased():
    torch.manual_seed(0)
    x = torch.linspace(-1.0, 3.0, 200_000).view(400, 500)
    y = relu_dropout(x, 0.7, True)
    q = round(128 * 0.3)  # 38
    pos = x > 0
    kept = y != 0
    assert not kept[~pos].any()  # ReLU
    assert kept[pos].float().mean().item() == pytest.approx(q / 128, abs=0.005)
    torch.testing.assert_close(y[kept], x[kept] * 128 / q)
    assert y.mean().item() == pytest.approx(F.relu(x).mean().item(), rel=0.02)
    torch.testing.assert_close(relu_dropout(x, 0.7, False), F.relu(x))
    torch.testing.assert_close(relu_dropout(x, 0.0, True), F.relu(x))
    assert torch.all(relu_dropout(x, 1.0, True) == 0)


@pytest.mark.parametrize("q", [1, 38, 64, 127])
def test_keep_mask_lanes_are_independent_uniform_draws(q):
    from wsal.methods.dml import _keep_mask

    torch.manual_seed(1)
    keep = _keep_mask(torch.Size([1000, 803]), q, torch.device("cpu"))  # odd size: a tail word
    assert keep.dtype == torch.uint8 and set(keep.unique().tolist()) <= {0, 1}
    rate = keep.double().mean(0)  # per column, so every byte lane position is checked
    assert rate.mean().item() == pytest.approx(q / 128, abs=0.003)
    lanes = keep.view(-1)[: 1000 * 800].view(-1, 8).double().mean(0)  # each of the 8 lanes
    torch.testing.assert_close(
        lanes, torch.full((8,), q / 128, dtype=torch.float64), atol=0.004, rtol=0
    )


def test_embed_relu_dropout_matches_reference_and_gradients():
    from wsal.methods.dml import embed_relu_dropout

    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 24).double()
    x = torch.randn(50, 16, dtype=torch.float64)
    torch.manual_seed(5)
    got = embed_relu_dropout(x, layer, 0.7, True)
    torch.manual_seed(5)
    want = relu_dropout(layer(x), 0.7, True)
    torch.testing.assert_close(got, want)
    w = torch.randn(50, 24, dtype=torch.float64)
    (gw,) = torch.autograd.grad((got * w).sum(), layer.weight)
    kept = (want > 0).double() * 128 / round(128 * 0.3)
    torch.testing.assert_close(gw, (w * kept).t() @ x)
    torch.testing.assert_close(embed_relu_dropout(x, layer, 0.7, False), F.relu(layer(x)))
