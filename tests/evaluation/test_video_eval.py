"""Tests of wsal.evaluation.video: ACT video-mAP against the official numbers, tube IoU,
3D-NMS, AP, streaming, and the UCF Sports AUC."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import wsal.evaluation.video as video
from wsal.evaluation.video import (
    VideoEvaluator,
    act_pr_to_ap,
    evaluate_video_files,
    nms_3d,
    tube_iou_pairwise,
    video_auc,
    video_map,
)
from wsal.io.tubes import read_gt_tubes, read_tube_results
from wsal.structures import Tube, TubeDetections, TubeGroundTruth, tube_iou

TOL = 1e-6  # as a fraction (1e-4 in percent), the tolerance suggested by the fixture README
DET_FILES = ("det_good.json", "det_mediocre.json")
FAMILIES = {
    "results_official_nms0.3": {"nms_threshold": 0.3, "ap_variant": "act"},
    "results_no_nms": {"nms_threshold": None, "ap_variant": "act"},
    "results_official_nms0.3_float64_pr": {"nms_threshold": 0.3, "ap_variant": "act_float64"},
}


# --------------------------------------------------------------------------------------------
# Official numbers (expected.json)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "video"


@pytest.fixture(scope="module")
def expected(video_dir: Path) -> dict:
    return json.loads((video_dir / "expected.json").read_text())


@pytest.fixture(scope="module")
def fixture_gt(video_dir: Path) -> TubeGroundTruth:
    return read_gt_tubes(video_dir / "gt_tubes.json")


@pytest.fixture(scope="module")
def fixture_dets(video_dir: Path, fixture_gt: TubeGroundTruth) -> dict[str, TubeDetections]:
    return {name: read_tube_results(video_dir / name, fixture_gt.labels) for name in DET_FILES}


@pytest.mark.parametrize("det_file", DET_FILES)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_expected_single_thresholds(
    video_dir: Path, expected: dict, family: str, det_file: str
) -> None:
    exp = expected[family][det_file]
    res = evaluate_video_files(
        video_dir / "gt_tubes.json",
        video_dir / det_file,
        iou_thresholds=(0.2, 0.5, 0.75),
        **FAMILIES[family],
    )
    assert res.labels == expected["labels"]
    for k, key in enumerate(("0.2", "0.5", "0.75")):
        for c, label in enumerate(res.labels):
            assert res.ap[c, k] == pytest.approx(exp[key]["ap_percent"][label] / 100, abs=TOL)
        assert res.mAP[k] == pytest.approx(exp[key]["mAP_percent"] / 100, abs=TOL)
    if FAMILIES[family]["ap_variant"] == "act":  # the float32 values are bit-identical
        ap32 = np.float32(100) * res.ap.astype(np.float32)
        for k, key in enumerate(("0.2", "0.5", "0.75")):
            want = [np.float32(exp[key]["ap_percent"][label]) for label in res.labels]
            np.testing.assert_array_equal(ap32[:, k], want)
            assert np.mean(ap32[:, k]) == np.float32(exp[key]["mAP_percent"])


@pytest.mark.parametrize("det_file", DET_FILES)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_expected_050_095(
    fixture_gt: TubeGroundTruth, fixture_dets: dict, expected: dict, family: str, det_file: str
) -> None:
    exp = expected[family][det_file]["0.5:0.05:0.95"]
    th = np.linspace(0.5, 0.95, 10)
    res = video_map(fixture_gt, fixture_dets[det_file], iou_thresholds=th, **FAMILIES[family])
    np.testing.assert_allclose(res.thresholds, exp["thresholds"], atol=1e-12)
    np.testing.assert_allclose(res.mAP, np.array(exp["mAP_percent_per_threshold"]) / 100, atol=TOL)
    assert res.average_mAP == pytest.approx(exp["mAP_percent"] / 100, abs=TOL)
    if "mAP_percent_float64_mean" in exp:
        assert res.average_mAP == pytest.approx(exp["mAP_percent_float64_mean"] / 100, abs=TOL)
    assert sorted(res.to_json()["mAP"]) == [f"{t:.2f}" for t in th]


def test_arange_thresholds_match_linspace(fixture_gt: TubeGroundTruth, fixture_dets: dict) -> None:
    dets = fixture_dets["det_mediocre.json"]
    a = video_map(fixture_gt, dets, iou_thresholds=np.linspace(0.5, 0.95, 10))
    b = video_map(fixture_gt, dets, iou_thresholds=0.5 + 0.05 * np.arange(10))
    np.testing.assert_array_equal(a.mAP, b.mAP)


def test_act_pr_to_ap_bit_identical() -> None:
    """act_pr_to_ap equals a literal transcription of ACT's float32 pr array + pr_to_ap."""
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 9, 100, 1000, 4097):
        tp = rng.random(n) < 0.4
        n_gt = max(1, int(tp.sum()) + int(rng.integers(0, 5)))
        pr = np.empty((n + 1, 2), dtype=np.float32)
        pr[0] = (1.0, 0.0)
        ntp = nfp = 0
        for i, is_tp in enumerate(tp):
            ntp, nfp = ntp + is_tp, nfp + (not is_tp)
            pr[i + 1, 0] = float(ntp) / float(ntp + nfp)
            pr[i + 1, 1] = float(ntp) / float(n_gt)
        official = np.sum((pr[1:, 1] - pr[:-1, 1]) * (pr[1:, 0] + pr[:-1, 0]) * 0.5)
        ctp = np.cumsum(tp)
        ours = act_pr_to_ap(ctp / np.arange(1, n + 1), ctp / n_gt)
        assert ours == float(official)


# --------------------------------------------------------------------------------------------
# Tube IoU (iou3dt), hand-computed
# --------------------------------------------------------------------------------------------


def _tube(first: int, boxes, label: int = 0, score: float = float("nan")) -> Tube:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return Tube(np.arange(first, first + len(boxes)), boxes, label=label, score=score)


def _const(first: int, n: int, box, label: int = 0, score: float = float("nan")) -> Tube:
    return _tube(first, np.tile(np.asarray(box, dtype=np.float64), (n, 1)), label, score)


BOX = [0, 0, 9, 9]  # 10 x 10 pixels in the +1 convention


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (_const(1, 10, BOX), _const(1, 10, BOX), 1.0),  # identical
        (_const(1, 10, BOX), _const(6, 10, BOX), 5 / 15),  # partial temporal overlap
        (_const(1, 10, BOX), _const(11, 5, BOX), 0.0),  # adjacent, no overlap
        (_const(1, 10, BOX), _const(30, 5, BOX), 0.0),  # far apart
        (_const(1, 4, BOX), _const(1, 4, [5, 0, 14, 9]), 50 / 150),  # +1: inter 5*10, union 150
        (_const(1, 4, BOX), _const(1, 4, [9, 9, 18, 18]), 1 / 199),  # one shared pixel
        (_const(1, 4, BOX), _const(1, 4, [10, 0, 19, 9]), 0.0),  # touching, +1 gives 0 width
        (
            _tube(1, [BOX, BOX, BOX, BOX]),
            _tube(3, [BOX, [5, 0, 14, 9], BOX, BOX]),
            (2 / 6) * (1 + 1 / 3) / 2,  # temporal 2/6 x mean of frames 3, 4
        ),
        (_const(1, 3, BOX), _const(2, 1, BOX), 1 / 3),  # one-frame tube inside a longer one
    ],
)
def test_tube_iou_hand_computed(a: Tube, b: Tube, want: float) -> None:
    assert tube_iou_pairwise([a], [b])[0, 0] == pytest.approx(want, abs=1e-12)
    assert tube_iou_pairwise([b], [a])[0, 0] == pytest.approx(want, abs=1e-12)
    assert tube_iou(a, b) == pytest.approx(want, abs=1e-12)


def test_tube_iou_degenerate_boxes() -> None:
    """x2 == x1 is a valid 1-pixel box (+1 convention); x2 < x1 - 1 contributes IoU 0."""
    thin = _const(1, 2, [5, 0, 5, 9])
    assert tube_iou_pairwise([thin], [thin])[0, 0] == 1.0
    assert tube_iou_pairwise([thin], [_const(1, 2, BOX)])[0, 0] == pytest.approx(10 / 100)
    reversed_box = _tube(1, [[9, 0, 0, 9], BOX])  # frame 1 invalid, frame 2 identical
    got = tube_iou_pairwise([reversed_box], [_const(1, 2, BOX)])
    assert got[0, 0] == pytest.approx(0.5) and np.isfinite(got).all()
    both_reversed = _const(1, 2, [9, 9, 0, 0])  # negative w and h: positive "area", still 0
    assert tube_iou_pairwise([both_reversed], [both_reversed])[0, 0] == 0.0
    nan_box = _tube(1, [[np.nan, 0, 9, 9], BOX])
    assert tube_iou_pairwise([nan_box], [_const(1, 2, BOX)])[0, 0] == pytest.approx(0.5)


def test_tube_iou_matches_structures_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Vectorized pairs equal the per-pair reference, also when split into many blocks."""
    rng = np.random.default_rng(1)

    def random_tube() -> Tube:
        n, first = int(rng.integers(1, 40)), int(rng.integers(1, 60))
        xy = rng.uniform(0, 100, size=(n, 2))
        return _tube(first, np.concatenate([xy, xy + rng.uniform(-3, 60, size=(n, 2))], axis=1))

    a = [random_tube() for _ in range(17)]
    b = [random_tube() for _ in range(9)]
    want = np.array([[tube_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(tube_iou_pairwise(a, b), want, rtol=0, atol=1e-12)
    monkeypatch.setattr(video, "_BLOCK_ELEMENTS", 50)
    np.testing.assert_allclose(tube_iou_pairwise(a, b), want, rtol=0, atol=1e-12)
    assert tube_iou_pairwise([], b).shape == (0, 9) and tube_iou_pairwise(a, []).shape == (17, 0)


# --------------------------------------------------------------------------------------------
# 3D-NMS
# --------------------------------------------------------------------------------------------


def test_nms_3d_threshold_exactly_kept() -> None:
    a = _const(1, 10, BOX)
    b = _const(8, 3, BOX)  # IoU with a = 3/10 = 0.3 exactly -> kept
    c = _const(5, 6, BOX)  # IoU with a = 6/10 -> suppressed
    d = _const(3, 6, BOX)  # IoU with a = 0.6 -> suppressed
    assert tube_iou_pairwise([a], [b])[0, 0] == 0.3
    keep = nms_3d([b, c, a, d], [0.5, 0.8, 0.9, 0.7], 0.3)
    assert keep.tolist() == [2, 0]


def test_nms_3d_only_kept_tubes_suppress() -> None:
    a = _const(1, 10, BOX)
    b = _const(6, 10, BOX)  # IoU(a, b) = 5/15 > 0.3: suppressed by a
    c = _const(9, 10, BOX)  # IoU(a, c) = 2/18 <= 0.3, IoU(b, c) = 7/13 > 0.3
    keep = nms_3d([a, b, c], [0.9, 0.8, 0.7], 0.3)
    assert keep.tolist() == [0, 2]  # c survives: its suppressor b was itself suppressed
    assert nms_3d([], [], 0.3).tolist() == []
    assert nms_3d([a, a], [0.5, 0.5], 0.3).tolist() == [0]  # ties: earlier index first
    with pytest.raises(ValueError):
        nms_3d([a], [np.nan], 0.3)


# --------------------------------------------------------------------------------------------
# Small hand-made evaluations
# --------------------------------------------------------------------------------------------


def _gt(tubes: dict[str, list[Tube]], labels=("a", "b")) -> TubeGroundTruth:
    videos = {v: {"nframes": 100, "width": 320, "height": 240} for v in tubes}
    return TubeGroundTruth(labels=list(labels), videos=videos, tubes=tubes)


def test_ap_trapezoid_tiny_list() -> None:
    """TP, FP, TP over 2 GT tubes: precision 1, 1/2, 2/3; recall 1/2, 1/2, 1."""
    g1, g2 = _const(1, 10, BOX), _const(1, 10, [100, 100, 149, 149])
    gt = _gt({"v1": [g1], "v2": [g2]})
    dets = TubeDetections(
        {
            "v1": [_const(1, 10, BOX, 0, 0.9), _const(1, 10, [50, 50, 60, 60], 0, 0.8)],
            "v2": [_const(1, 10, [100, 100, 149, 149], 0, 0.7)],
        },
        ["a", "b"],
    )
    want_trapezoid = 0.5 * (1 + 1) / 2 + 0 + 0.5 * (0.5 + 2 / 3) / 2
    for variant, want in (
        ("act", want_trapezoid),
        ("act_float64", want_trapezoid),
        ("voc", 0.5 + 0.5 * 2 / 3),
    ):
        res = video_map(gt, dets, iou_thresholds=(0.5,), ap_variant=variant)
        assert res.ap[0, 0] == pytest.approx(want, abs=1e-7)
        assert np.isnan(res.ap[1, 0])  # label "b" has no GT tube: NaN, excluded from the mean
        assert res.mAP[0] == pytest.approx(want, abs=1e-7)
    assert res.num_gt.tolist() == [2, 0] and res.num_detections.tolist() == [3, 0]
    assert res.to_json()["per_class"]["b"] == {"0.50": None}


def test_label_without_detections_and_empty_detections() -> None:
    gt = _gt({"v1": [_const(1, 10, BOX, 0)], "v2": [_const(1, 10, BOX, 1)]})
    dets = TubeDetections({"v1": [_const(1, 10, BOX, 0, 0.9)]}, ["a", "b"])
    res = video_map(gt, dets)
    np.testing.assert_array_equal(res.ap[0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(res.ap[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(res.mAP, 0.5)
    empty = video_map(gt, TubeDetections({}, ["a", "b"]))
    np.testing.assert_array_equal(empty.ap, np.zeros((2, 3)))
    assert empty.average_mAP == 0.0


def test_matching_rules() -> None:
    """Unmatched-GT removal, IoU >= th counts, other videos' GT never matched."""
    g = _const(1, 10, BOX)
    gt = _gt({"v1": [g], "v2": []})
    dets = TubeDetections(
        {
            "v1": [
                _const(1, 10, BOX, 0, 0.9),
                _const(1, 10, BOX, 0, 0.8),
                _const(6, 10, BOX, 0, 0.95),
            ],
            "v2": [_const(1, 10, BOX, 0, 0.99)],  # no GT in v2: false positive
        },
        ["a", "b"],
    )
    # no NMS: ranked 0.99 (FP, v2), 0.95 (IoU 1/3), 0.9 (TP at 0.5), 0.8 (GT taken: FP)
    res = video_map(
        gt, dets, iou_thresholds=(1 / 3, 0.5), nms_threshold=None, ap_variant="act_float64"
    )
    # th = 1/3: FP, TP, FP, FP -> p 0, 1/2, 1/3, 1/4; r 0, 1, 1, 1 -> area 1 * (0 + 1/2) / 2
    assert res.ap[0, 0] == pytest.approx(0.25)
    # th = 0.5: FP, FP, TP, FP -> p 0, 0, 1/3; r 0, 0, 1 -> area 1 * (0 + 1/3) / 2
    assert res.ap[0, 1] == pytest.approx(1 / 6)


def test_ignored_videos_and_labels(fixture_gt: TubeGroundTruth, fixture_dets: dict) -> None:
    dets = fixture_dets["det_mediocre.json"]
    base = video_map(fixture_gt, dets)
    extra = {v: list(ts) for v, ts in dets.tubes.items()}
    vid = next(iter(extra))
    extra["not/in_gt"] = [_const(1, 5, BOX, 0, 0.99)]
    extra[vid] = [*extra[vid], _const(1, 5, BOX, 5, 0.99), _const(1, 5, BOX, -1, 0.99)]
    res = video_map(fixture_gt, TubeDetections(extra, [*dets.labels, "Unknown"]))
    np.testing.assert_array_equal(res.ap, base.ap)
    # label lists are matched by name, not by index
    perm = list(reversed(dets.labels))
    remapped = {
        v: [Tube(t.frames, t.boxes, perm.index(dets.labels[t.label]), t.score) for t in ts]
        for v, ts in dets.tubes.items()
    }
    np.testing.assert_array_equal(video_map(fixture_gt, TubeDetections(remapped, perm)).ap, base.ap)


def test_streaming_equals_whole(fixture_gt: TubeGroundTruth, fixture_dets: dict) -> None:
    dets = fixture_dets["det_mediocre.json"]
    th = np.linspace(0.5, 0.95, 10)
    whole = video_map(fixture_gt, dets, iou_thresholds=th)
    ev = VideoEvaluator(fixture_gt, iou_thresholds=th)
    ev.process("stale/video", [_const(1, 5, BOX, 0, 0.5)])
    ev.reset()
    for vid, tubes in reversed(list(dets.tubes.items())):
        half = len(tubes) // 2
        ev.process(vid, tubes[:half])  # a video may arrive in several parts
        ev.process(vid, tubes[half:])
    got = ev.evaluate()
    np.testing.assert_array_equal(got.ap, whole.ap)
    assert got.average_mAP == whole.average_mAP
    assert got.to_json() == whole.to_json()


def test_result_json_and_table(fixture_gt: TubeGroundTruth, fixture_dets: dict) -> None:
    res = video_map(fixture_gt, fixture_dets["det_good.json"])
    out = res.to_json()
    assert set(out) == {"mAP", "average_mAP", "per_class"}
    assert list(out["mAP"]) == ["0.20", "0.50", "0.75"]
    assert list(out["per_class"]) == fixture_gt.labels
    values = [*out["mAP"].values(), out["average_mAP"]]
    values += [v for d in out["per_class"].values() for v in d.values()]
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values)
    assert out["average_mAP"] == pytest.approx(np.mean(res.mAP))
    json.dumps(out, allow_nan=False)
    table = res.format_table()
    assert all(label in table for label in fixture_gt.labels) and "99.75" in table


def test_invalid_arguments(fixture_gt: TubeGroundTruth, fixture_dets: dict) -> None:
    dets = fixture_dets["det_good.json"]
    with pytest.raises(ValueError, match="ap_variant"):
        video_map(fixture_gt, dets, ap_variant="coco")
    with pytest.raises(ValueError, match="2 decimals"):
        video_map(fixture_gt, dets, iou_thresholds=(0.5, 0.501))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        video_map(fixture_gt, dets, iou_thresholds=(1.5,))
    vid = next(iter(dets.tubes))
    bad = TubeDetections({vid: [_const(1, 5, BOX, 0)]}, dets.labels)  # NaN score
    with pytest.raises(ValueError, match="finite scores"):
        video_map(fixture_gt, bad)


# --------------------------------------------------------------------------------------------
# UCF Sports AUC
# --------------------------------------------------------------------------------------------


def test_video_auc_hand_computed() -> None:
    """Class a: positives v0, v1; negatives v2, v3. Ranked: v0 (correct), v2 (neg), v1."""
    box_far = [200, 200, 230, 230]
    gt = _gt(
        {
            "v0": [_const(1, 10, BOX, 0)],
            "v1": [_const(1, 10, BOX, 0)],
            "v2": [_const(1, 10, BOX, 1)],
            "v3": [_const(1, 10, BOX, 1)],
        }
    )
    dets = TubeDetections(
        {
            "v0": [_const(1, 10, BOX, 0, 0.9), _const(1, 10, box_far, 0, 0.1)],
            "v1": [_const(3, 8, BOX, 0, 0.7)],  # overlap 0.8
            "v2": [_const(1, 10, BOX, 0, 0.8)],
        },
        ["a", "b"],
    )
    res = video_auc(gt, dets, overlaps=(0.5, 0.9))
    # sigma 0.5: ROC (0,0) (0,.5) (.5,.5) (.5,1) -> area on [0, 0.6]: .5*.5 + .1*1
    assert res.auc[0, 0] == pytest.approx(0.35)
    # sigma 0.9: v1 mislocalized, TPR stays 0.5 -> 0.6 * 0.5
    assert res.auc[0, 1] == pytest.approx(0.30)
    np.testing.assert_array_equal(res.auc[1], [0.0, 0.0])  # class b: never detected
    np.testing.assert_allclose(res.mean_auc, [0.175, 0.15])
    full = video_auc(gt, dets, overlaps=(0.5,), max_fpr=1.0)
    assert full.auc[0, 0] == pytest.approx(0.25 + 0.5)
    assert list(full.to_json()["AUC"]) == ["0.50"]


def test_video_auc_ties_and_missing_classes() -> None:
    gt = _gt({"v0": [_const(1, 10, BOX, 0)], "v1": []})
    dets = TubeDetections(
        {"v0": [_const(1, 10, BOX, 0, 0.5)], "v1": [_const(1, 10, BOX, 0, 0.5)]}, ["a", "b"]
    )
    res = video_auc(gt, dets, overlaps=(0.5,), max_fpr=1.0)
    assert res.auc[0, 0] == pytest.approx(0.5)  # tie: diagonal from (0, 0) to (1, 1)
    assert np.isnan(res.auc[1, 0])  # no positive video for class b
    assert res.mean_auc[0] == pytest.approx(0.5)
