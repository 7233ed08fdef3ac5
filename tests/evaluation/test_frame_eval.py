"""AVA Frame-mAP: official numbers, hand-computed cases, streaming, and a per-row reference."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsal.evaluation.frame import FrameEvaluator, FrameMAPResult, evaluate_frame_files, frame_map
from wsal.io.ava import read_ava_detections, read_ava_gt, read_excluded_timestamps, read_labelmap
from wsal.structures import Boxes, KeyframeDetections, KeyframeGroundTruth, box_iou_matrix

# --------------------------------------------------------------------------------------------
# Official numbers
# --------------------------------------------------------------------------------------------

_CASES = [
    (det, protocol, key)
    for det in ("det_good.csv", "det_mediocre.csv")
    for protocol, key in (("ava2019", "results"), ("ava2020", "results_head_2020_no_exclusions"))
]


@pytest.mark.parametrize(("det", "protocol", "key"), _CASES)
def test_fixture_numbers(fixtures_dir: Path, det: str, protocol: str, key: str) -> None:
    folder = fixtures_dir / "frame"
    expected = json.loads((folder / "expected.json").read_text())[key][det]
    result = evaluate_frame_files(
        folder / "gt.csv",
        folder / det,
        folder / "label_map.pbtxt",
        exclusions_path=folder / "excluded_timestamps.csv" if protocol == "ava2019" else None,
        protocol=protocol,
    )
    assert result.protocol == protocol
    assert abs(result.mAP - expected["mAP"]) < 1e-9
    out = result.to_json()
    assert set(out) == {"mAP", "average_mAP", "per_class"}
    assert abs(out["mAP"]["0.50"] - expected["mAP"]) < 1e-9
    assert out["average_mAP"] == out["mAP"]["0.50"]
    assert set(out["per_class"]) == set(expected["per_class"])
    for cid, want in expected["per_class"].items():
        got = out["per_class"][cid]
        assert got["name"] == want["name"]
        if want["ap"] is None:
            assert got["ap"] is None
        else:
            assert abs(got["ap"] - want["ap"]) < 1e-9
    json.dumps(out, allow_nan=False)


def test_fixture_cap_is_active(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "frame"
    gt = read_ava_gt(folder / "gt.csv")
    dets = read_ava_detections(folder / "det_good.csv")
    lm = read_labelmap(folder / "label_map.pbtxt")
    ex = read_excluded_timestamps(folder / "excluded_timestamps.csv")
    capped = frame_map(gt, dets, lm, excluded=ex)
    uncapped = frame_map(gt, dets, lm, excluded=ex, max_dets_per_keyframe=0)
    # the 8-person keyframe has 64 rows: 14 fall to the cap of 50
    assert int(uncapped.num_dets.sum()) - int(capped.num_dets.sum()) == 14


def test_format_table_lists_every_class(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "frame"
    result = evaluate_frame_files(
        folder / "gt.csv", folder / "det_good.csv", folder / "label_map.pbtxt"
    )
    table = result.format_table()
    assert "walk" in table and "dance" in table and "n/a" in table and "mAP" in table


# --------------------------------------------------------------------------------------------
# Hand-computed cases
# --------------------------------------------------------------------------------------------

LM = {1: "a", 2: "b", 3: "c"}
FULL = [0.0, 0.0, 1.0, 1.0]


def _gt(rows: list[tuple]) -> KeyframeGroundTruth:
    """rows: (video, ts, box, label[, person])."""
    if not rows:
        return KeyframeGroundTruth(np.zeros(0, str), [], np.zeros((0, 4)), [], [])
    return KeyframeGroundTruth(
        [r[0] for r in rows],
        [r[1] for r in rows],
        Boxes(np.array([r[2] for r in rows], dtype=float)),
        [r[3] for r in rows],
        [r[4] if len(r) > 4 else i for i, r in enumerate(rows)],
    )


def _dets(rows: list[tuple]) -> KeyframeDetections:
    """rows: (video, ts, box, label, score)."""
    if not rows:
        return KeyframeDetections(np.zeros(0, str), [], np.zeros((0, 4)), [], [])
    return KeyframeDetections(
        [r[0] for r in rows],
        [r[1] for r in rows],
        Boxes(np.array([r[2] for r in rows], dtype=float)),
        [r[3] for r in rows],
        [r[4] for r in rows],
    )


def _ap(result: FrameMAPResult, class_id: int) -> float:
    return float(result.ap[result.class_ids.tolist().index(class_id)])


def test_iou_threshold_is_inclusive_and_continuous() -> None:
    gt = _gt([("v", 1, [0.0, 0.0, 0.5, 1.0], 1)])
    exact_half = frame_map(gt, _dets([("v", 1, FULL, 1, 0.9)]), LM)  # IoU 0.5 exactly
    assert _ap(exact_half, 1) == 1.0
    below = frame_map(gt, _dets([("v", 1, [0.0, 0.0, 1.0, 1.01], 1, 0.9)]), LM)
    assert _ap(below, 1) == 0.0
    # the +1 pixel convention would make these tiny boxes overlap; AVA's does not
    tiny = _gt([("v", 1, [0.0, 0.0, 0.001, 0.001], 1)])
    assert _ap(frame_map(tiny, _dets([("v", 1, [0.002, 0.0, 0.003, 0.001], 1, 1.0)]), LM), 1) == 0


def test_paired_iou_equals_box_iou_matrix() -> None:
    from wsal.evaluation.frame import _paired_iou

    rng = np.random.default_rng(0)
    lo_hi = np.sort(rng.random((50, 2, 2)), axis=2)  # (box, x/y, low/high)
    a = np.stack([lo_hi[:, 0, 0], lo_hi[:, 1, 0], lo_hi[:, 0, 1], lo_hi[:, 1, 1]], axis=1)
    b = a[::-1].copy()
    np.testing.assert_array_equal(_paired_iou(a, b), np.diag(box_iou_matrix(a, b)))


def test_cap_of_50_counts_label_map_rows_and_invalid_boxes() -> None:
    gt = _gt([("v", 1, FULL, 1)])
    tp = ("v", 1, FULL, 1, 0.5)
    others = [("v", 1, FULL, 2, 0.9)] * 50  # label-map class 2, higher scores
    assert _ap(frame_map(gt, _dets([*others, tp]), LM), 1) == 0.0
    assert _ap(frame_map(gt, _dets([*others, tp]), LM, max_dets_per_keyframe=51), 1) == 1.0
    assert _ap(frame_map(gt, _dets([*others[:49], tp]), LM), 1) == 1.0
    invalid = [("v", 1, [0.5, 0.5, 0.5, 0.9], 1, 0.9)] * 50  # zero width: dropped after the cap
    assert _ap(frame_map(gt, _dets([*invalid, tp]), LM), 1) == 0.0
    unknown = [("v", 1, FULL, 99, 0.9)] * 60  # not in the label map: never counted
    assert _ap(frame_map(gt, _dets([*unknown, tp]), LM), 1) == 1.0
    other_kf = [("v", 2, FULL, 2, 0.9)] * 60  # the cap is per keyframe
    assert _ap(frame_map(gt, _dets([*other_kf, tp]), LM), 1) == 1.0


def test_invalid_boxes_are_neither_tp_nor_fp() -> None:
    gt = _gt([("v", 1, FULL, 1)])
    dets = _dets(
        [
            ("v", 1, [0.6, 0.0, 0.4, 1.0], 1, 0.99),  # x2 < x1
            ("v", 1, [0.0, 0.3, 1.0, 0.3], 1, 0.98),  # zero height
            ("v", 1, [0.0, np.nan, 1.0, 1.0], 1, 0.97),  # NaN coordinate
            ("v", 1, FULL, 1, 0.5),
        ]
    )
    result = frame_map(gt, dets, LM)
    assert _ap(result, 1) == 1.0 and result.num_dets[0] == 1
    # an ordered box with an infinite corner is kept (official) and overlaps nothing: FP
    inf_box = _dets([("v", 1, [0.0, 0.0, np.inf, 1.0], 1, 0.99), ("v", 1, FULL, 1, 0.5)])
    assert _ap(frame_map(gt, inf_box, LM), 1) == pytest.approx(0.5)


def test_no_fallback_to_second_best_box() -> None:
    a, b = [0.0, 0.0, 0.6, 1.0], [0.2, 0.0, 0.8, 1.0]  # det [0.1, 0, 0.7, 1] overlaps both
    gt = _gt([("v", 1, a, 1), ("v", 1, b, 1)])
    dets = _dets([("v", 1, a, 1, 0.9), ("v", 1, [0.05, 0.0, 0.65, 1.0], 1, 0.8)])
    # the second detection's best box is `a` (already matched): FP although IoU(b) >= 0.5
    assert box_iou_matrix(np.array([[0.05, 0.0, 0.65, 1.0]]), np.array([b]))[0, 0] >= 0.5
    assert _ap(frame_map(gt, dets, LM), 1) == pytest.approx(0.5)


def test_max_iou_below_threshold_never_matches_other_box() -> None:
    gt = _gt([("v", 1, [0.0, 0.0, 0.5, 1.0], 1)])
    det = _dets([("v", 1, [0.3, 0.0, 1.0, 1.0], 1, 0.9)])
    assert _ap(frame_map(gt, det, LM), 1) == 0.0


def test_equal_iou_goes_to_the_higher_person_id() -> None:
    a, b = [0.0, 0.0, 0.5, 1.0], [0.5, 0.0, 1.0, 1.0]
    gt = _gt([("v", 1, a, 1, 0), ("v", 1, b, 1, 1)])
    # IoU 1/3 with both boxes: the official GT order (descending person_id) picks b, so the
    # second detection can still match a
    dets = _dets([("v", 1, [0.25, 0.0, 0.75, 1.0], 1, 0.9), ("v", 1, a, 1, 0.8)])
    assert _ap(frame_map(gt, dets, LM, iou_threshold=0.3), 1) == 1.0
    swapped = _gt([("v", 1, a, 1, 1), ("v", 1, b, 1, 0)])
    assert _ap(frame_map(swapped, dets, LM, iou_threshold=0.3), 1) == pytest.approx(0.5)


def test_duplicate_detections_are_false_positives() -> None:
    a, b = [0.0, 0.0, 0.4, 1.0], [0.6, 0.0, 1.0, 1.0]
    gt = _gt([("v", 1, a, 1), ("v", 1, b, 1)])
    dets = _dets([("v", 1, a, 1, 0.9), ("v", 1, a, 1, 0.8), ("v", 1, b, 1, 0.7)])
    # TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    assert _ap(frame_map(gt, dets, LM), 1) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_duplicate_gt_rows_are_two_positives_but_one_is_matchable() -> None:
    gt = _gt([("v", 1, FULL, 1, 0), ("v", 1, FULL, 1, 0)])
    dets = _dets([("v", 1, FULL, 1, 0.9), ("v", 1, FULL, 1, 0.8)])
    assert _ap(frame_map(gt, dets, LM), 1) == pytest.approx(0.5)


def test_unannotated_keyframes_fp_in_2019_ignored_in_2020() -> None:
    gt = _gt([("v", 1, FULL, 1), ("v", 2, FULL, 3)])  # keyframe (v, 2) only has class 3
    fp_rows = [
        ("v", 9, FULL, 1, 0.95),  # keyframe without GT rows
        ("other", 1, FULL, 1, 0.94),  # unknown video
    ]
    dets = _dets([*fp_rows, ("v", 1, FULL, 1, 0.5)])
    assert _ap(frame_map(gt, dets, LM, protocol="ava2019"), 1) == pytest.approx(1 / 3)
    assert _ap(frame_map(gt, dets, LM, protocol="ava2020"), 1) == 1.0
    # a keyframe of the GT (any class) is evaluated in 2020 as well
    dets = _dets([("v", 2, FULL, 1, 0.95), ("v", 1, FULL, 1, 0.5)])
    assert _ap(frame_map(gt, dets, LM, protocol="ava2020"), 1) == pytest.approx(0.5)
    # a keyframe whose GT rows are all outside the label map counts too (2020 code)
    gt_unknown = _gt([("v", 1, FULL, 1), ("v", 3, FULL, 80)])
    dets = _dets([("v", 3, FULL, 1, 0.95), ("v", 1, FULL, 1, 0.5)])
    assert _ap(frame_map(gt_unknown, dets, LM, protocol="ava2020"), 1) == pytest.approx(0.5)


def test_excluded_keyframes_drop_gt_and_detections() -> None:
    gt = _gt([("v", 1, FULL, 1), ("v", 2, FULL, 1)])
    dets = _dets(
        [("v", 2, FULL, 2, 0.99), ("v", 2, [0.5, 0.5, 0.6, 0.6], 1, 0.9), ("v", 1, FULL, 1, 0.5)]
    )
    result = frame_map(gt, dets, LM, excluded={("v", 2)})
    assert _ap(result, 1) == 1.0 and result.num_gt[0] == 1
    assert math.isnan(_ap(result, 2))
    with pytest.raises(ValueError, match="ava2020"):
        frame_map(gt, dets, LM, excluded={("v", 2)}, protocol="ava2020")


def test_class_without_gt_is_nan_and_left_out_of_the_mean() -> None:
    gt = _gt([("v", 1, FULL, 1), ("v", 1, [0.0, 0.0, 0.2, 0.2], 2)])
    dets = _dets([("v", 1, FULL, 1, 0.9), ("v", 1, FULL, 3, 0.8)])  # class 2: no detections
    result = frame_map(gt, dets, LM)
    assert _ap(result, 1) == 1.0 and _ap(result, 2) == 0.0 and math.isnan(_ap(result, 3))
    assert result.mAP == pytest.approx(0.5)
    assert result.to_json()["per_class"]["3"] == {"name": "c", "ap": None}


def test_empty_inputs() -> None:
    gt = _gt([("v", 1, FULL, 1)])
    result = frame_map(gt, _dets([]), LM)
    assert _ap(result, 1) == 0.0 and result.mAP == 0.0
    empty = frame_map(_gt([]), _dets([("v", 1, FULL, 1, 0.9)]), LM)
    assert np.isnan(empty.ap).all() and math.isnan(empty.mAP)
    assert empty.to_json()["mAP"] == {"0.50": None} and empty.to_json()["average_mAP"] is None
    both = frame_map(_gt([]), _dets([]), LM)
    assert math.isnan(both.mAP)
    assert list(frame_map(gt, _dets([]), LM, iou_threshold=0.75).to_json()["mAP"]) == ["0.75"]


def test_invalid_arguments() -> None:
    gt = _gt([("v", 1, FULL, 1)])
    with pytest.raises(ValueError, match="NaN score"):
        frame_map(gt, _dets([("v", 1, FULL, 1, np.nan)]), LM)
    frame_map(gt, _dets([("v", 1, FULL, 7, np.nan)]), LM)  # rows outside the label map: dropped
    with pytest.raises(ValueError, match="invalid box"):
        frame_map(_gt([("v", 1, [0.5, 0.0, 0.4, 1.0], 1)]), _dets([]), LM)
    with pytest.raises(ValueError, match="protocol"):
        frame_map(gt, _dets([]), LM, protocol="ava2018")
    with pytest.raises(ValueError, match="empty"):
        frame_map(gt, _dets([]), {})


def test_timestamps_are_compared_as_integers(tmp_path: Path) -> None:
    (tmp_path / "gt.csv").write_text("v,0935,0,0,1,1,1,0\n")
    (tmp_path / "det.csv").write_text("v,935,0,0,1,1,1,0.9\n")
    (tmp_path / "lm.pbtxt").write_text('item {\n  name: "a"\n  id: 1\n}\n')
    result = evaluate_frame_files(tmp_path / "gt.csv", tmp_path / "det.csv", tmp_path / "lm.pbtxt")
    assert result.mAP == 1.0


def test_grouping_survives_hash_collisions_and_huge_timestamps(monkeypatch, fixtures_dir) -> None:
    import wsal.evaluation.frame as frame

    folder = fixtures_dir / "frame"
    gt = read_ava_gt(folder / "gt.csv")
    dets = read_ava_detections(folder / "det_good.csv")
    lm = read_labelmap(folder / "label_map.pbtxt")
    reference = frame_map(gt, dets, lm)
    monkeypatch.setattr(frame, "_HASH_MULT", np.uint64(0))  # every id hashes to its last char
    np.testing.assert_array_equal(frame_map(gt, dets, lm).ap, reference.ap)
    big = 2**62
    gt2 = _gt([("v", big, FULL, 1), ("v", -big, FULL, 1)])
    dets2 = _dets([("v", big, FULL, 1, 0.9), ("v", -big, FULL, 1, 0.8), ("v", 0, FULL, 1, 0.95)])
    assert _ap(frame_map(gt2, dets2, LM), 1) == pytest.approx(2 / 3)


def test_streaming_equals_whole(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "frame"
    gt = read_ava_gt(folder / "gt.csv")
    dets = read_ava_detections(folder / "det_mediocre.csv")
    lm = read_labelmap(folder / "label_map.pbtxt")
    ex = read_excluded_timestamps(folder / "excluded_timestamps.csv")
    whole = frame_map(gt, dets, lm, excluded=ex)
    evaluator = FrameEvaluator(gt, lm, excluded=ex)
    evaluator.process(dets[:10])
    evaluator.reset()
    for chunk in np.array_split(np.arange(len(dets)), 7):
        evaluator.process(dets[chunk])
    streamed = evaluator.evaluate()
    np.testing.assert_array_equal(streamed.ap, whole.ap)
    assert streamed.mAP == whole.mAP
    evaluator.reset()
    assert (evaluator.evaluate().ap[~np.isnan(whole.ap)] == 0).all()


# --------------------------------------------------------------------------------------------
# Property test against a straightforward per-row reference
# --------------------------------------------------------------------------------------------


def _reference_voc_ap(flags: list[bool], num_pos: int) -> float:
    """VOC all-point AP written out with loops."""
    tp = fp = 0
    prec, rec = [], []
    for f in flags:
        tp += f
        fp += not f
        prec.append(tp / (tp + fp))
        rec.append(tp / num_pos)
    mrec = [0.0, *rec, 1.0]
    mpre = [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum(
        (mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]
    )


def _reference_frame_map(gt, dets, class_ids, excluded, protocol, thr, cap) -> list[float]:
    """Per-row transcription of the README semantics (ties by input row, GT by -person_id)."""
    excl = set(excluded or ()) if protocol == "ava2019" else set()
    all_gt_keys = {(v, int(t)) for v, t in zip(gt.video_ids, gt.timestamps, strict=True)}
    gt_at = defaultdict(list)
    for i in range(len(gt)):
        key = (gt.video_ids[i], int(gt.timestamps[i]))
        if gt.labels[i] in class_ids and key not in excl:
            gt_at[key].append(i)
    det_at = defaultdict(list)
    for j in range(len(dets)):
        if dets.labels[j] in class_ids:
            det_at[(dets.video_ids[j], int(dets.timestamps[j]))].append(j)
    ranked = {c: [] for c in class_ids}
    for key, js in det_at.items():
        js = sorted(js, key=lambda j: -dets.scores[j])
        js = js[:cap] if cap > 0 else js
        if key in excl or (protocol == "ava2020" and key not in all_gt_keys):
            continue
        x = dets.boxes.xyxy
        js = [j for j in js if x[j, 2] > x[j, 0] and x[j, 3] > x[j, 1]]
        for c in class_ids:
            gis = sorted(
                (i for i in gt_at.get(key, []) if gt.labels[i] == c),
                key=lambda i: -gt.person_ids[i],
            )
            matched = set()
            for j in (j for j in js if dets.labels[j] == c):
                is_tp = False
                if gis:
                    ious = box_iou_matrix(x[j : j + 1], gt.boxes.xyxy[gis])[0]
                    best = int(np.argmax(ious))
                    if ious[best] >= thr and best not in matched:
                        matched.add(best)
                        is_tp = True
                ranked[c].append((-dets.scores[j], j, is_tp))
    out = []
    for c in class_ids:
        num_pos = sum(gt.labels[i] == c for rows in gt_at.values() for i in rows)
        if num_pos == 0:
            out.append(float("nan"))
        else:
            out.append(_reference_voc_ap([f for _, _, f in sorted(ranked[c])], num_pos))
    return out


_COORD = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.6, 0.75, 1.0])


@st.composite
def _box(draw, allow_invalid: bool = False) -> list[float]:
    x = sorted(draw(st.lists(_COORD, min_size=2, max_size=2)))
    y = sorted(draw(st.lists(_COORD, min_size=2, max_size=2)))
    if allow_invalid and draw(st.integers(0, 5)) == 0:
        x = x[::-1]
    return [x[0], y[0], x[1], y[1]]


@st.composite
def _cases(draw):
    """Small cases: 4 keyframes, a pool of person boxes that GT and detections share (so
    matches, duplicates and near-threshold overlaps are common), tied scores, unknown ids."""
    keys = [("v1", 1), ("v1", 2), ("v2", 1), ("-x", 5)]
    pool = draw(st.lists(_box(), min_size=1, max_size=4))
    n_gt = draw(st.integers(0, 8))
    n_det = draw(st.integers(0, 25))
    gt_keys = [draw(st.sampled_from(keys[:3])) for _ in range(n_gt)]
    gt = KeyframeGroundTruth(
        [k[0] for k in gt_keys] or np.zeros(0, str),
        [k[1] for k in gt_keys],
        Boxes(np.array([draw(st.sampled_from(pool)) for _ in range(n_gt)]).reshape(-1, 4)),
        [draw(st.sampled_from([1, 2, 2, 9])) for _ in range(n_gt)],
        [draw(st.integers(-1, 2)) for _ in range(n_gt)],
    )
    det_keys = [draw(st.sampled_from(keys[:3] * 3 + keys[3:])) for _ in range(n_det)]
    det_boxes = [draw(st.one_of(st.sampled_from(pool), _box(True))) for _ in range(n_det)]
    dets = KeyframeDetections(
        [k[0] for k in det_keys] or np.zeros(0, str),
        [k[1] for k in det_keys],
        Boxes(np.array(det_boxes).reshape(-1, 4)),
        [draw(st.sampled_from([1, 1, 2, 2, 3, 9])) for _ in range(n_det)],
        [draw(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9])) for _ in range(n_det)],
    )
    protocol = draw(st.sampled_from(["ava2019", "ava2020"]))
    excluded = None
    if protocol == "ava2019":
        excluded = set(draw(st.lists(st.sampled_from(keys), max_size=2)))
    cap = draw(st.sampled_from([0, 2, 4, 50]))
    thr = draw(st.sampled_from([0.3, 0.5, 0.75]))
    return gt, dets, excluded, protocol, thr, cap


@settings(max_examples=80, deadline=None)
@given(_cases())
def test_matches_per_row_reference(case) -> None:
    gt, dets, excluded, protocol, thr, cap = case
    labelmap = {1: "a", 2: "b", 3: "c"}
    result = frame_map(
        gt,
        dets,
        labelmap,
        excluded=excluded,
        protocol=protocol,
        iou_threshold=thr,
        max_dets_per_keyframe=cap,
    )
    expected = _reference_frame_map(gt, dets, [1, 2, 3], excluded, protocol, thr, cap)
    np.testing.assert_allclose(result.ap, expected, rtol=0, atol=1e-12, equal_nan=True)
