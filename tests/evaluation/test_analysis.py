"""Error analysis: DETAD (temporal) and the ACT-style tube breakdown on hand-computed cases."""

import numpy as np
import pytest

from wsal.evaluation.analysis import (
    FP_TYPES,
    detad_analysis,
    match_temporal,
    tube_error_breakdown,
)
from wsal.evaluation.temporal import temporal_map
from wsal.structures import (
    Segments,
    TemporalDetections,
    TemporalGroundTruth,
    Tube,
    TubeDetections,
    TubeGroundTruth,
)


def _gt(rows):
    vids = sorted({v for v, *_ in rows})
    return TemporalGroundTruth(
        videos=vids,
        subsets={v: "test" for v in vids},
        durations={v: 100.0 for v in vids},
        video_ids=[r[0] for r in rows],
        segments=Segments([[r[1], r[2]] for r in rows], labels=[r[3] for r in rows]),
        classes=["A", "B"],
    )


def _dets(rows):
    return TemporalDetections(
        [r[0] for r in rows],
        Segments(
            [[r[1], r[2]] for r in rows], labels=[r[3] for r in rows], scores=[r[4] for r in rows]
        ),
        ["A", "B"],
    )


GT = _gt([("v1", 0, 10, 0), ("v1", 20, 30, 1), ("v2", 0, 10, 0), ("v2", 50, 51, 1)])
DETS = _dets(
    [
        ("v1", 0, 10, 0, 0.9),  # true positive
        ("v1", 1, 10, 0, 0.8),  # double detection (tIoU 0.9 with the matched A)
        ("v1", 20, 30, 0, 0.7),  # wrong label (tIoU 1 with B)
        ("v2", 0, 3, 0, 0.6),  # localization (tIoU 0.3 with A)
        ("v1", 18, 24, 0, 0.5),  # confusion (tIoU 1/3 with B)
        ("v1", 40, 50, 0, 0.4),  # background
        ("v1", 60, 70, 0, 0.38),  # background
        ("v2", 0, 10, 0, 0.35),  # true positive
        ("v3", 0, 10, 0, 0.3),  # background (video without ground truth)
        ("v1", 20, 30, 1, 0.9),  # true positive of B
    ]
)


def test_detad_hand_computed_breakdown():
    r = detad_analysis(GT, DETS, tiou_thresholds=[0.5])
    np.testing.assert_array_equal(r.counts[0], [3, 1, 1, 1, 1, 3])
    np.testing.assert_allclose(r.fractions, np.array([3, 1, 1, 1, 1, 3]) / 10)
    # AP(A) = 0.5 * 1 + 0.5 * 2/8, AP(B) = 0.5 (one of two instances found)
    assert r.average_mAP == pytest.approx((0.625 + 0.5) / 2)
    for name in ("double", "wrong_label", "localization", "confusion"):
        assert r.map_gain[name] == pytest.approx((0.5 + 0.5 * 2 / 7 - 0.625) / 2)
    assert r.map_gain["background"] == pytest.approx((0.5 + 0.5 * 2 / 6 - 0.625) / 2)
    # top-1G block: A's two best (TP, double) and B's one (TP)
    np.testing.assert_allclose(r.profile[0], [2 / 3, 1 / 3, 0, 0, 0, 0])
    np.testing.assert_allclose(r.profile[1], [0, 0, 0.5, 0.5, 0, 0])
    np.testing.assert_array_equal(r.gt_per_bin, [1, 0, 3, 0, 0])  # lengths 1, 10, 10, 10
    assert r.missed_per_bin[0] == 1.0 and r.missed_per_bin[2] == 0.0
    assert np.isnan(r.missed_per_bin[1]) and r.missed == pytest.approx(0.25)
    assert set(r.to_json()["fractions"]) == set(FP_TYPES)


def test_detad_limit_factor_keeps_top_kG_per_class():
    r = detad_analysis(GT, DETS, tiou_thresholds=[0.5], limit_factor=1)
    assert r.counts.sum() == 3  # A: 2 instances -> 2 predictions; B: 2 instances, 1 prediction
    np.testing.assert_array_equal(r.counts[0], [2, 1, 0, 0, 0, 0])


def test_matching_equals_the_official_evaluator_on_random_data():
    rng = np.random.default_rng(0)
    g_rows, d_rows = [], []
    for v in range(6):
        for _ in range(rng.integers(1, 5)):
            s = rng.uniform(0, 80)
            g_rows.append((f"v{v}", s, s + rng.uniform(1, 20), int(rng.integers(0, 2))))
        for _ in range(rng.integers(0, 12)):
            s = rng.uniform(0, 80)
            d_rows.append(
                (f"v{v}", s, s + rng.uniform(1, 20), int(rng.integers(0, 2)), rng.random())
            )
    gt, dets = _gt(g_rows), _dets(d_rows)
    thr = np.linspace(0.1, 0.7, 7)
    m = match_temporal(gt, dets, tiou_thresholds=thr)
    ref = temporal_map(gt, dets, tiou_thresholds=thr)
    order = [m.classes.index(c) for c in ref.classes]
    np.testing.assert_allclose(m.class_ap()[order], ref.ap, atol=1e-12)
    # a matched ground-truth segment is never taken twice at one threshold
    for k in range(thr.size):
        taken = m.matched_gt[k][m.matched_gt[k] >= 0]
        assert taken.size == np.unique(taken).size == m.tp[k].sum()


def _tube(first, last, box, label, score=float("nan")):
    n = last - first + 1
    return Tube(np.arange(first, last + 1), np.tile(box, (n, 1)), label=label, score=score)


def test_tube_breakdown_hand_computed():
    a, far = [0, 0, 9, 9], [200, 200, 209, 209]
    gt = TubeGroundTruth(
        labels=["X", "Y"],
        videos={"v": {"nframes": 100, "width": 320, "height": 240}},
        tubes={
            "v": [
                _tube(1, 50, a, 0),
                _tube(60, 80, [50, 50, 59, 59], 1),
                _tube(81, 100, a, 0),  # never detected
            ]
        },
    )
    det = [
        _tube(1, 50, a, 0, 0.9),  # true positive
        _tube(1, 50, a, 0, 0.8),  # duplicate -> other
        _tube(60, 80, [50, 50, 59, 59], 0, 0.7),  # classification
        _tube(1, 20, a, 0, 0.6),  # timing: spatial 1, temporal 20/50
        _tube(1, 50, [5, 0, 14, 9], 0, 0.5),  # localization: spatial 1/3
        _tube(1, 50, far, 0, 0.4),  # other: no spatial overlap
        _tube(1, 10, [100, 100, 109, 109], 1, 0.3),  # other: no Y tube at that time
    ]
    dets = TubeDetections({"v": det}, ["X", "Y"])
    r = tube_error_breakdown(gt, dets, iou_threshold=0.5, nms_threshold=None)
    np.testing.assert_array_equal(r.counts, [1, 1, 1, 1, 3])
    np.testing.assert_array_equal(r.per_video["v"], [0, 4, 1, 2, 3, 4, 4])
    assert (r.missed, r.num_gt) == (2, 3) and r.missed_fraction == pytest.approx(2 / 3)
    nms = tube_error_breakdown(gt, dets, iou_threshold=0.5, nms_threshold=0.3)
    np.testing.assert_array_equal(nms.counts, [1, 1, 0, 0, 2])  # d2, d4, d5 suppressed
    assert nms.to_json()["counts"]["true_positive"] == 1
