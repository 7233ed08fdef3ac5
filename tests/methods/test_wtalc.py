"""W-TALC (Paul et al., ECCV 2018): k, k-max MIL loss, CASL against a naive reference, contract."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.config import load_run_config
from wsal.data.temporal import TemporalBatch, collate_temporal
from wsal.methods import METHODS
from wsal.methods.wtalc import (
    WTALC,
    WTALCConfig,
    co_activity_features,
    co_activity_loss,
    kmax_k,
    kmax_mil_loss,
    temporal_softmax,
)

REPO = Path(__file__).resolve().parents[2]


def _batch(feats: list[np.ndarray], labels: list[list[float]]) -> TemporalBatch:
    items = [
        {
            "feats": f.astype(np.float32),
            "snippet_index": np.arange(f.shape[0]),
            "video_labels": np.asarray(y, np.float32),
            "video_index": i,
        }
        for i, (f, y) in enumerate(zip(feats, labels))
    ]
    return collate_temporal(items)


# ------------------------------------------------------------------------------------------
# k-max MIL
# ------------------------------------------------------------------------------------------


def test_k_is_ceil_of_real_length_over_8():
    lengths = torch.tensor([1, 7, 8, 9, 16, 17, 750, 0])
    assert kmax_k(lengths, 8).tolist() == [1, 1, 1, 2, 2, 3, 94, 1]


def test_k_uses_real_length_not_padded_length():
    """Video 0 has T = 9 real snippets (k = 2) padded to 17; padding never enters the top-k."""
    torch.manual_seed(0)
    model = WTALC(feature_dim=3, num_classes=2, hidden_dim=4).eval()
    rng = np.random.default_rng(0)
    batch = _batch([rng.normal(size=(9, 3)), rng.normal(size=(17, 3))], [[1, 0], [0, 1]])
    out = model(batch)
    logits = out.extras["logits"]
    for b, (t, k) in enumerate([(9, 2), (17, 3)]):
        expected = logits[b, :t].topk(k, dim=0).values.mean(0)
        torch.testing.assert_close(out.extras["video_logits"][b], expected)
    assert torch.all(out.cas[0, 9:] == 0)


def test_kmax_mil_loss_by_hand():
    """Logits [2, 0], labels [1, 1] -> y/|y|_1 = [.5, .5]: loss = log(1 + e^2) - 1."""
    video_logits = torch.tensor([[2.0, 0.0]])
    loss = kmax_mil_loss(video_logits, torch.tensor([[1.0, 1.0]]), torch.tensor([True]))
    assert loss.item() == pytest.approx(math.log(1 + math.e**2) - 1.0, abs=1e-6)
    # single label: plain softmax cross-entropy; an invalid (all-padding) video is ignored
    two = torch.tensor([[2.0, 0.0], [5.0, -5.0]])
    loss = kmax_mil_loss(two, torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([True, False]))
    assert loss.item() == pytest.approx(math.log(1 + math.e**2), abs=1e-6)


def test_kmax_mil_loss_on_a_tiny_sequence():
    """T = 9 -> k = 2; CAS logits of class 0 top-2 = (3 + 1) / 2, class 1 top-2 = (0 + 0) / 2."""
    logits = torch.zeros(1, 12, 2)
    logits[0, :9, 0] = torch.tensor([0.0, 3.0, -1.0, 1.0, 0.0, 0.0, -2.0, 0.5, 0.0])
    logits[0, 9:, :] = 100.0  # padding: must be ignored
    mask = torch.zeros(1, 12, dtype=torch.bool)
    mask[0, :9] = True
    from wsal.methods.base import masked_topk_mean

    video = masked_topk_mean(logits, mask, kmax_k(mask.sum(1), 8))
    torch.testing.assert_close(video, torch.tensor([[2.0, 0.0]]))
    loss = kmax_mil_loss(video, torch.tensor([[1.0, 0.0]]), torch.tensor([True]))
    assert loss.item() == pytest.approx(-math.log(math.e**2 / (math.e**2 + 1)), abs=1e-6)


# ------------------------------------------------------------------------------------------
# Co-activity similarity loss
# ------------------------------------------------------------------------------------------


def _naive_casl(embedding, logits, lengths, labels, margin):
    """Paper definition, one video / pair / class at a time (reference for the test only)."""

    def cos_dist(u, v):
        return 1.0 - float(u @ v) / max(float(u.norm() * v.norm()), 1e-12)

    b, _, c = logits.shape
    high, low = {}, {}
    for i in range(b):
        t = int(lengths[i])
        if t < 2:
            continue
        x = embedding[i, :t].double()
        for j in range(c):
            a = torch.softmax(logits[i, :t, j].double(), dim=0)
            high[i, j] = x.T @ a
            low[i, j] = x.T @ (1 - a) / (t - 1)
    per_class = []
    for j in range(c):
        members = [i for i in range(b) if labels[i, j] > 0 and (i, j) in high]
        pair_losses = []
        for p in range(len(members)):
            for q in range(p + 1, len(members)):
                m, n = members[p], members[q]
                d_hh = cos_dist(high[m, j], high[n, j])
                d_hl = cos_dist(high[m, j], low[n, j])
                d_lh = cos_dist(low[m, j], high[n, j])
                pair_losses.append(
                    0.5 * (max(0.0, d_hh - d_hl + margin) + max(0.0, d_hh - d_lh + margin))
                )
        if pair_losses:
            per_class.append(sum(pair_losses) / len(pair_losses))
    return sum(per_class) / len(per_class) if per_class else 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_casl_matches_naive_loop(seed):
    g = torch.Generator().manual_seed(seed)
    b, t, c, h = 7, 11, 4, 5
    lengths = torch.tensor([11, 5, 1, 8, 0, 11, 3])
    mask = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    embedding = torch.randn(b, t, h, generator=g).relu()
    logits = 2 * torch.randn(b, t, c, generator=g)
    labels = (torch.rand(b, c, generator=g) < 0.5).float()
    labels[:, 0] = 1.0  # class 0 in every video: many pairs, including the degenerate videos
    att = temporal_softmax(logits, mask)
    high, low = co_activity_features(embedding, att, mask)
    got = co_activity_loss(high, low, labels, lengths >= 2, margin=0.5)
    want = _naive_casl(embedding, logits, lengths, labels, margin=0.5)
    assert got.item() == pytest.approx(want, abs=1e-5)


def test_temporal_softmax_excludes_padding_and_is_finite_on_empty_rows():
    logits = torch.randn(2, 6, 3)
    mask = torch.tensor([[True] * 4 + [False] * 2, [False] * 6])
    a = temporal_softmax(logits, mask)
    torch.testing.assert_close(a[0, :4], torch.softmax(logits[0, :4], dim=0))
    assert torch.all(a[0, 4:] == 0) and torch.all(a[1] == 0)


def test_casl_zero_without_pairs_and_hinge_by_hand():
    high = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])  # (B=2, C=1, H=2)
    low = torch.tensor([[[0.0, 1.0]], [[0.0, 1.0]]])
    valid = torch.tensor([True, True])
    # identical high features, orthogonal low ones: d_hh = 0, d_hl = d_lh = 1 -> max(0, -0.5) = 0
    assert co_activity_loss(high, low, torch.ones(2, 1), valid, 0.5).item() == 0.0
    # low equals high: d_hh = d_hl = 0 -> hinge = margin
    assert co_activity_loss(high, high, torch.ones(2, 1), valid, 0.5).item() == pytest.approx(0.5)
    # no two videos share a class -> 0
    assert co_activity_loss(high, low, torch.tensor([[1.0], [0.0]]), valid, 0.5).item() == 0.0


# ------------------------------------------------------------------------------------------
# Model, losses, ablation, configs
# ------------------------------------------------------------------------------------------


def test_losses_combine_with_lambda_and_outputs_are_probabilities():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    batch = _batch([rng.normal(size=(t, 6)) for t in (12, 5, 9)], [[1, 0, 0], [1, 1, 0], [0, 1, 0]])
    model = WTALC(feature_dim=6, num_classes=3, hidden_dim=16, dropout=0.0, mill_weight=0.3)
    out = model(batch)
    losses = model.losses(batch, out)
    total = 0.3 * losses["mill"] + 0.7 * losses["casl"]
    torch.testing.assert_close(losses["total"], total)
    torch.testing.assert_close(out.video_scores, torch.sigmoid(out.extras["video_logits"]))
    torch.testing.assert_close(out.cas[0], torch.sigmoid(out.extras["logits"][0]))
    assert out.actionness is None and WTALC.localizer_preset == "wtalc"


def test_ablation_mill_only_trains():
    """lambda = 1 (MILL only, the paper's ablation) still optimises; CASL is still reported."""
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    feats = [rng.normal(size=(10, 6)) for _ in range(4)]
    for i, f in enumerate(feats):
        f[2:5] += 3.0 * (1 if i % 2 else -1)
    batch = _batch(feats, [[1, 0], [0, 1], [1, 0], [0, 1]])
    model = WTALC(feature_dim=6, num_classes=2, hidden_dim=8, dropout=0.0, mill_weight=1.0)
    first = None
    # plain gradient descent: Adam's first step imports too much for a unit test
    for _ in range(30):
        losses = model.losses(batch, model(batch))
        torch.testing.assert_close(losses["total"], losses["mill"])
        first = losses["total"].item() if first is None else first
        model.zero_grad()
        losses["total"].backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    assert losses["total"].item() < first


def test_constructor_is_keyword_only_and_validates():
    with pytest.raises(TypeError):
        WTALC(4, 2)  # type: ignore[misc]
    with pytest.raises(ValueError):
        WTALC(feature_dim=4, num_classes=2, k_divisor=0)
    with pytest.raises(ValueError):
        WTALC(feature_dim=4, num_classes=2, mill_weight=1.5)


@pytest.mark.parametrize("dataset", ["thumos14", "thumos14_paper", "activitynet12", "synthetic"])
def test_configs_load(monkeypatch, dataset):
    monkeypatch.setitem(METHODS, "wtalc", WTALC)
    cfg = load_run_config(REPO / "configs" / "wtalc" / f"{dataset}.yaml")
    assert cfg.method == "wtalc" and isinstance(cfg.model, WTALCConfig)
    assert cfg.train.lr == 1e-4 or dataset == "synthetic"


def test_thumos14_configs_budget_and_localizer():
    """thumos14_paper.yaml: the release's 100k iterations and its logit-unit test procedure;
    thumos14.yaml: the same recipe at 500 iterations with the probability-scale preset."""
    paper = load_run_config(REPO / "configs" / "wtalc" / "thumos14_paper.yaml")
    fast = load_run_config(REPO / "configs" / "wtalc" / "thumos14.yaml")
    assert paper.train.epochs * paper.train.iterations_per_epoch == 100_000
    assert fast.train.epochs * fast.train.iterations_per_epoch == 500
    assert paper.localize.preset == "wtalc_code" and fast.localize.preset == "wtalc"
    for cfg in (paper, fast):
        assert (cfg.train.lr, cfg.train.weight_decay, cfg.data.max_snippets) == (1e-4, 5e-4, 750)
        assert cfg.train.classes_per_batch * cfg.train.videos_per_class == 10


def test_hidden_dim_none_is_the_input_width():
    """hidden_dim=None builds the release's Linear(n_feature, n_feature) embedding."""
    model = WTALC(feature_dim=12, num_classes=3, hidden_dim=None)
    assert model.embed[0].weight.shape == (12, 12) and model.classifier.weight.shape == (3, 12)
    with pytest.raises(ValueError):
        WTALC(feature_dim=4, num_classes=2, hidden_dim=0)


def test_paper_defaults():
    cfg = WTALCConfig()
    assert (cfg.hidden_dim, cfg.dropout, cfg.k_divisor) == (2048, 0.7, 8)
    assert (cfg.casl_margin, cfg.mill_weight) == (0.5, 0.5)


def test_gradients_flow_through_casl_into_both_layers():
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    batch = _batch([rng.normal(size=(t, 6)) for t in (8, 6, 7)], [[1, 0], [1, 0], [1, 1]])
    model = WTALC(feature_dim=6, num_classes=2, hidden_dim=8, dropout=0.0)
    out = model(batch)
    casl = model.losses(batch, out)["casl"]
    assert casl.item() > 0
    casl.backward()
    assert model.embed[0].weight.grad.abs().sum() > 0
    assert model.classifier.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------
# Raw logits and the "wtalc_code" localizer preset (the released evaluation)
# ------------------------------------------------------------------------------------------


def _released_wtalc_segments(p: np.ndarray, c_score: np.ndarray) -> list[tuple]:
    """A direct transcription of the per-video part of W-TALC's released evaluation
    (sujoyp/wtalc-pytorch, detectionMAP.getLocMAP): classes with class score <= 0 are zeroed;
    per class, threshold max - 0.5 (max - min) strictly, runs of >= 2 snippets, score
    max(run) + 0.7 x class score. ``c_score`` is passed in (see the test)."""
    p = p * (c_score > 0.0)
    out = []
    for c in range(p.shape[1]):
        tmp = p[:, c]
        threshold = np.max(tmp) - (np.max(tmp) - np.min(tmp)) * 0.5
        vid_pred = np.concatenate([np.zeros(1), (tmp > threshold).astype("float32"), np.zeros(1)])
        diff = [vid_pred[i] - vid_pred[i - 1] for i in range(1, len(vid_pred))]
        s = [i for i, d in enumerate(diff) if d == 1]
        e = [i for i, d in enumerate(diff) if d == -1]
        for j in range(len(s)):
            if e[j] - s[j] >= 2:
                out.append((s[j], e[j], c, np.max(tmp[s[j] : e[j]]) + 0.7 * c_score[c]))
    return out


@pytest.mark.parametrize("t", [9, 40, 123])
def test_wtalc_code_preset_reproduces_the_released_evaluation(t):
    """WTALC's ``logits`` / ``video_logits`` through preset "wtalc_code" = the released
    detectionMAP procedure on the same logits, segment for segment. The release's class score
    is the mean of the top floor(T/8) logits; wsal's video logit uses ceil(T/8) (training's
    k), so the transcription is given wsal's video logit."""
    from wsal.localize.temporal import PRESETS, localize_video
    from wsal.structures import SnippetTiming

    torch.manual_seed(t)
    model = WTALC(feature_dim=5, num_classes=4, hidden_dim=16).eval()
    rng = np.random.default_rng(t)
    x = rng.normal(size=(t, 5)) + np.sin(np.arange(t) / 4.0)[:, None] * 2
    out = model(_batch([x], [[1, 0, 0, 0]]))
    logits = out.logits[0].detach().double().numpy()
    video = out.video_logits[0].detach().double().numpy()
    torch.testing.assert_close(out.logits, out.extras["logits"])
    timing = SnippetTiming()  # 16 frames at 25 fps = 0.64 s per snippet
    seg = localize_video(
        np.zeros_like(logits),
        timing=timing,
        config=PRESETS["wtalc_code"],
        logits=logits,
        video_logits=video,
    )
    want = sorted(_released_wtalc_segments(logits, video), key=lambda r: (-r[3], r[2], r[0]))
    got = [
        (round(b[0] / 0.64), round(b[1] / 0.64), int(c), float(sc))
        for b, c, sc in zip(seg.bounds, seg.labels, seg.scores)
    ]
    assert [g[:3] for g in got] == [w[:3] for w in want]
    np.testing.assert_allclose([g[3] for g in got], [w[3] for w in want], rtol=1e-6)


def test_logits_are_masked_and_video_logits_are_kmax_pooled():
    torch.manual_seed(0)
    rng = np.random.default_rng(4)
    batch = _batch([rng.normal(size=(t, 6)) for t in (12, 5)], [[1, 0], [0, 1]])
    out = WTALC(feature_dim=6, num_classes=2, hidden_dim=8).eval()(batch)
    assert torch.all(out.logits[1, 5:] == 0)
    torch.testing.assert_close(out.logits[0], out.extras["logits"][0])
    torch.testing.assert_close(out.video_logits, out.extras["video_logits"])
    torch.testing.assert_close(out.video_scores, torch.sigmoid(out.video_logits))
