"""Temporal detection mAP: the official numbers of the fixtures, hand-computed cases, and a
property test of the vectorized matcher against a plain transcription of the official loop."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsal.evaluation.ap import precision_recall, voc_ap
from wsal.evaluation.temporal import (
    PRESETS,
    TemporalEvaluator,
    evaluate_temporal_files,
    parse_thresholds,
    temporal_map,
)
from wsal.evaluation.temporal import _paired_iou as paired_iou
from wsal.io.temporal import read_activitynet_gt, read_activitynet_results
from wsal.structures import Segments, TemporalDetections, TemporalGroundTruth, segment_iou_matrix

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def make_gt(
    rows: Sequence[tuple[str, str, float, float]],
    *,
    videos: Sequence[str] | None = None,
    subsets: dict[str, str] | None = None,
    ambiguous: Sequence[tuple[str, float, float]] = (),
) -> TemporalGroundTruth:
    """Ground truth from ``(video, class, start, end)`` rows (classes in first-appearance order)."""
    classes = list(dict.fromkeys(r[1] for r in rows))
    vids = list(videos) if videos is not None else list(dict.fromkeys(r[0] for r in rows))
    return TemporalGroundTruth(
        videos=vids,
        subsets=subsets or dict.fromkeys(vids, "test"),
        durations=dict.fromkeys(vids, float("nan")),
        video_ids=np.array([r[0] for r in rows], dtype=str),
        segments=Segments(
            np.array([r[2:] for r in rows], dtype=float).reshape(-1, 2),
            np.array([classes.index(r[1]) for r in rows], dtype=np.int64),
        ),
        classes=classes,
        ambiguous_video_ids=np.array([a[0] for a in ambiguous], dtype=str),
        ambiguous=Segments(np.array([a[1:] for a in ambiguous], dtype=float).reshape(-1, 2)),
    )


def make_dets(rows: Sequence[tuple[str, str, float, float, float]]) -> TemporalDetections:
    """Detections from ``(video, class, start, end, score)`` rows."""
    classes = list(dict.fromkeys(r[1] for r in rows))
    return TemporalDetections(
        video_ids=np.array([r[0] for r in rows], dtype=str),
        segments=Segments(
            np.array([r[2:4] for r in rows], dtype=float).reshape(-1, 2),
            np.array([classes.index(r[1]) for r in rows], dtype=np.int64),
            np.array([r[4] for r in rows], dtype=float),
        ),
        classes=classes,
    )


def ap_of(result, cls: str) -> np.ndarray:
    return result.ap[result.classes.index(cls)]


# --------------------------------------------------------------------------------------------
# Official numbers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_expected(fixtures_dir: Path) -> dict:
    return json.loads((fixtures_dir / "temporal/expected.json").read_text())["results"]


@pytest.mark.parametrize("pred_file", ["pred_good.json", "pred_mediocre.json"])
@pytest.mark.parametrize("protocol", ["thumos14_0.1:0.1:0.7", "anet_0.5:0.05:0.95"])
def test_official_fixture_numbers(
    fixtures_dir: Path, fixture_expected: dict, pred_file: str, protocol: str
) -> None:
    expected = fixture_expected[pred_file][protocol]
    thresholds = np.array(expected["tiou_thresholds"])
    preset = PRESETS["thumos14" if protocol.startswith("thumos") else "activitynet"]
    np.testing.assert_array_equal(thresholds, preset)
    folder = fixtures_dir / "temporal"
    result = evaluate_temporal_files(
        folder / "gt.json", folder / pred_file, subset="testing", tiou_thresholds=thresholds
    )
    assert result.classes == expected["classes"]
    for cls in result.classes:
        np.testing.assert_allclose(ap_of(result, cls), expected["ap"][cls], rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.mAP, expected["mAP"], rtol=0, atol=1e-9)
    assert result.average_mAP == pytest.approx(expected["average_mAP"], abs=1e-9)


BIG_PROTOCOLS = [
    ("thumos14", "thumos14_thresholds_np.linspace(0.1,0.7,7)"),
    ("activitynet", "activitynet_thresholds_np.linspace(0.5,0.95,10)"),
]


@pytest.fixture(scope="module")
def big_case(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The 200,000-prediction case written by its generator, read once: (gt, dets, expected)."""
    folder = fixtures_dir / "temporal_big"
    out = tmp_path_factory.mktemp("temporal_big")
    subprocess.run([sys.executable, str(folder / "generate.py"), str(out)], check=True)
    expected = json.loads((folder / "expected.json").read_text())
    gt = read_activitynet_gt(out / "gt_big.json")
    return gt, read_activitynet_results(out / "pred_big.json"), expected


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "key"), BIG_PROTOCOLS)
def test_official_numbers_on_200k_predictions(big_case: tuple, preset: str, key: str) -> None:
    """Official numbers to 1e-9 at every threshold. The case holds predictions with two ground
    truths of exactly equal tIoU in groups of 6-8 segments, which the official
    ``argsort()[::-1]`` (unstable) visits in numpy's order; expected.json was computed with
    numpy 2 on an AVX-512 CPU, so another numpy build could legitimately give other numbers,
    for the official code and for wsal alike."""
    gt, dets, expected = big_case
    result = temporal_map(gt, dets, subset="testing", tiou_thresholds=PRESETS[preset])
    np.testing.assert_allclose(result.mAP, expected[key]["mAP"], rtol=0, atol=1e-9)
    assert result.average_mAP == pytest.approx(expected[key]["average_mAP"], abs=1e-9)


def test_streaming_equals_whole_set_on_fixture(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "temporal"
    gt = read_activitynet_gt(folder / "gt.json")
    dets = read_activitynet_results(folder / "pred_mediocre.json")
    whole = temporal_map(gt, dets, subset="testing")
    evaluator = TemporalEvaluator(gt, subset="testing")
    evaluator.process("not_a_video", Segments(np.array([[0.0, 1.0]]), [0], [0.99]), ["X"])
    evaluator.reset()
    for vid in reversed(list(dict.fromkeys(dets.video_ids.tolist()))):
        seg = dets.for_video(vid)
        names = list(reversed(dets.classes))  # each call may use its own class list
        relabel = len(names) - 1 - seg.labels
        evaluator.process(vid, Segments(seg.bounds, relabel, seg.scores), names)
    streamed = evaluator.evaluate()
    assert streamed.classes == whole.classes
    np.testing.assert_allclose(streamed.ap, whole.ap, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Thresholds and output
# --------------------------------------------------------------------------------------------


def test_parse_thresholds() -> None:
    np.testing.assert_array_equal(parse_thresholds("0.1:0.7:0.1"), PRESETS["thumos14"])
    np.testing.assert_array_equal(parse_thresholds("0.5:0.95:0.05"), PRESETS["activitynet"])
    np.testing.assert_array_equal(parse_thresholds("ActivityNet"), PRESETS["activitynet"])
    np.testing.assert_array_equal(parse_thresholds("0.5"), [0.5])
    np.testing.assert_array_equal(parse_thresholds(" 0.3, 0.5,0.7"), [0.3, 0.5, 0.7])
    for bad in ["", "0.1:0.7", "0.1:0.7:0.25", "1.5", "0.5,0.5", "a", "0.7:0.1:0.1"]:
        with pytest.raises(ValueError):
            parse_thresholds(bad)


def test_to_json_schema_and_table() -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "B", 20, 30)])
    dets = make_dets([("v", "A", 0, 10, 0.9)])
    result = temporal_map(gt, dets, tiou_thresholds="0.1:0.7:0.1")
    doc = result.to_json()
    keys = ["0.10", "0.20", "0.30", "0.40", "0.50", "0.60", "0.70"]
    assert set(doc) == {"mAP", "average_mAP", "per_class"}
    assert list(doc["mAP"]) == keys and list(doc["per_class"]) == ["A", "B"]
    assert doc["per_class"]["A"] == dict.fromkeys(keys, 1.0)
    assert doc["mAP"]["0.30"] == 0.5 and doc["average_mAP"] == 0.5
    json.dumps(doc, allow_nan=False)
    table = result.format_table()
    assert "0.10" in table and "100.00" in table and "average mAP: 50.00" in table
    lines = table.splitlines()
    assert lines[0].startswith("class") and any(line.startswith("mAP") for line in lines)
    odd = temporal_map(gt, dets, tiou_thresholds=[0.125, 0.5]).to_json()
    assert list(odd["mAP"]) == ["0.125", "0.50"]


# --------------------------------------------------------------------------------------------
# Hand-computed cases
# --------------------------------------------------------------------------------------------


def test_paired_iou_cases() -> None:
    a = np.array([[0, 10], [0, 2], [5, 5], [5, 5], [8, 2], [0, 1], [0, 10]], dtype=float)
    b = np.array([[5, 15], [0, 4], [0, 10], [5, 5], [0, 10], [2, 3], [0, 10]], dtype=float)
    # overlap 5/15, exact 0.5, zero-length inside, both zero-length, reversed, disjoint, equal
    np.testing.assert_array_equal(paired_iou(a, b), [1 / 3, 0.5, 0, 0, 0, 0, 1])


def test_ap_on_a_tiny_ranking() -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "A", 20, 30)])
    dets = make_dets([("v", "A", 0, 10, 0.9), ("v", "A", 40, 50, 0.8), ("v", "A", 20, 30, 0.7)])
    # TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 1/2 * 1 + 1/2 * 2/3
    result = temporal_map(gt, dets, tiou_thresholds=[0.5])
    assert result.ap[0, 0] == pytest.approx(0.5 + 1 / 3, abs=1e-15)


def test_empty_predictions() -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "B", 0, 10)])
    result = temporal_map(gt, make_dets([]))
    assert result.ap.shape == (2, 7) and not result.ap.any() and result.average_mAP == 0.0


def test_class_without_predictions_has_ap_zero() -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "B", 0, 10)])
    result = temporal_map(gt, make_dets([("v", "A", 0, 10, 0.5)]))
    np.testing.assert_array_equal(ap_of(result, "A"), 1.0)
    np.testing.assert_array_equal(ap_of(result, "B"), 0.0)
    np.testing.assert_array_equal(result.mAP, 0.5)


def test_duplicate_prediction_is_a_false_positive() -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "A", 20, 30)])
    dup = [("v", "A", 0, 10, 0.9), ("v", "A", 0, 10, 0.8), ("v", "A", 20, 30, 0.7)]
    result = temporal_map(gt, make_dets(dup), tiou_thresholds=[0.5])
    assert result.ap[0, 0] == pytest.approx(0.5 + 1 / 3, abs=1e-15)  # TP, FP, TP


def test_prediction_in_video_without_ground_truth_is_false_positive() -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "A", 20, 30), ("w", "B", 0, 10)])
    rows = [("v", "A", 0, 10, 0.9), ("unknown", "A", 0, 10, 0.8), ("v", "A", 20, 30, 0.7)]
    rows += [("w", "A", 0, 10, 0.85)]  # video with ground truth of another class only
    result = temporal_map(gt, make_dets(rows), tiou_thresholds=[0.5])
    # TP, FP, FP, TP: precision 1, 1/2, 1/3, 1/2 -> 1/2 * 1 + 1/2 * 1/2
    assert ap_of(result, "A")[0] == pytest.approx(0.75, abs=1e-15)


def test_unknown_label_is_ignored() -> None:
    gt = make_gt([("v", "A", 0, 10)])
    rows = [("v", "Other", 0, 10, 0.99), ("v", "A", 0, 10, 0.5)]
    result = temporal_map(gt, make_dets(rows))
    assert result.classes == ["A"] and np.all(result.ap == 1.0)
    dets = make_dets(rows)
    dets.segments.labels[1] = -1  # label -1 is ignored too
    assert np.all(temporal_map(gt, dets).ap == 0.0)


def test_exact_threshold_matches() -> None:
    gt = make_gt([("v", "A", 0, 4)])
    result = temporal_map(gt, make_dets([("v", "A", 0, 2, 0.5)]), tiou_thresholds=[0.5, 0.55])
    np.testing.assert_array_equal(result.ap[0], [1.0, 0.0])


@pytest.mark.parametrize("segment", [(3.0, 3.0), (8.0, 2.0), (10.0, 12.0)])
def test_degenerate_or_disjoint_prediction_never_matches(segment: tuple[float, float]) -> None:
    gt = make_gt([("v", "A", 0, 10), ("v", "A", 3, 3)])
    result = temporal_map(gt, make_dets([("v", "A", *segment, 0.5)]), tiou_thresholds=[0.0, 0.1])
    # even at threshold 0 (tIoU 0 >= 0) the zero-length pair has tIoU 0, not NaN
    assert result.ap[0, 1] == 0.0


def test_matched_ground_truth_is_skipped_then_search_stops_below_threshold() -> None:
    """The official loop: skip locked ground truth, stop at the first one below threshold.

    pred1 locks A. pred2 has tIoU 9/11 with A (locked, skipped) and 1/3 with B: at t=0.3 it
    matches B (a VOC-style "best overlap already taken" rule would call it a FP); at t=0.5
    the search reaches B with 1/3 < 0.5 and stops: FP.
    """
    gt = make_gt([("v", "A", 0, 10), ("v", "A", 6, 16)])
    dets = make_dets([("v", "A", 0, 10, 0.9), ("v", "A", 1, 11, 0.8)])
    result = temporal_map(gt, dets, tiou_thresholds=[0.3, 0.5])
    np.testing.assert_allclose(result.ap[0], [1.0, 0.5], atol=1e-15)


def test_highest_tiou_unmatched_ground_truth_is_taken() -> None:
    """pred1 overlaps G1 (1/3) and G2 (2/3): at t=0.3 it takes G2, the highest, although G1
    passes too. pred2 then finds G2 locked and G1 at 2/13 < 0.3: FP. Taking the first
    passing ground truth (G1) instead would make both predictions true positives (AP 1)."""
    gt = make_gt([("v", "A", 0, 6), ("v", "A", 4, 14)])
    pred1 = ("v", "A", 2, 12, 0.9)
    pred2 = ("v", "A", 4, 13, 0.8)
    ious = segment_iou_matrix(np.array([pred1[2:4], pred2[2:4]]), np.array([[0, 6], [4, 14]]))
    np.testing.assert_allclose(ious, [[1 / 3, 2 / 3], [2 / 13, 0.9]])
    result = temporal_map(gt, make_dets([pred1, pred2]), tiou_thresholds=[0.3, 0.5])
    np.testing.assert_allclose(result.ap[0], [0.5, 0.5], atol=1e-15)


def test_equal_tiou_ground_truth_later_one_taken() -> None:
    """pred1 has tIoU 3/5 with both G1 and G2; like the official reversed argsort (stable for
    2 elements), the later one (G2) is visited first and taken, which leaves G1 for pred2
    (AP 1). Taking G1 would leave pred2 with G2 at 1/3 < 0.5 (AP 1/2)."""
    gt = make_gt([("v", "A", 0, 4), ("v", "A", 2, 6)])
    dets = make_dets([("v", "A", 1, 5, 0.9), ("v", "A", 0, 4, 0.8)])
    result = temporal_map(gt, dets, tiou_thresholds=[0.5])
    assert result.ap[0, 0] == 1.0


GROUP = 8  # a group size where numpy's default sort is a non-stable network on AVX-512
TIED_LAYOUTS = [(a, b) for a in range(GROUP) for b in range(GROUP) if a != b]


@pytest.mark.parametrize(("slot_a", "slot_b"), TIED_LAYOUTS)
def test_equal_tiou_ground_truth_taken_in_official_argsort_order(slot_a: int, slot_b: int) -> None:
    """Reproducer of the big-fixture difference (tIoU ties in a group of more than 3).

    One video, class A, 8 segments in file order: Ga = [0, 8] at ``slot_a``, Gb = [-2, 6] at
    ``slot_b``, far fillers elsewhere. pred1 = [2, 6] has tIoU exactly 4/8 = 0.5 with Ga and
    Gb (exact in binary, and equal to the threshold: it matches). pred2 = [1, 9] has 7/9 with
    Ga and 5/11 with Gb. The official loop visits by ``tiou.argsort()[::-1]``: if it reaches
    Gb first, pred1 takes Gb and pred2 then takes Ga (TP, TP: AP 2/8 at 0.5); if Ga first,
    pred2 finds Ga locked and Gb below 0.5 (TP, FP: AP 1/8). At 0.55 pred1 is a FP and pred2
    takes Ga either way (AP 1/2 * 1/8). numpy's sort is unstable for 8 elements on some CPUs,
    so the expected value asks numpy the order, as the official code does.
    """
    fillers = iter((100.0 + 10 * k, 101.0 + 10 * k) for k in range(GROUP))
    bounds = [next(fillers) for _ in range(GROUP)]
    bounds[slot_a], bounds[slot_b] = (0.0, 8.0), (-2.0, 6.0)
    gt = make_gt([("v", "A", s, e) for s, e in bounds])
    dets = make_dets([("v", "A", 2, 6, 0.9), ("v", "A", 1, 9, 0.8)])
    tiou = segment_iou_matrix(np.array([[2.0, 6.0]]), np.array(bounds))[0]
    assert tiou[slot_a] == tiou[slot_b] == 0.5
    visit = tiou.argsort()[::-1].tolist()  # the official visiting order
    gb_first = visit.index(slot_b) < visit.index(slot_a)
    result = temporal_map(gt, dets, tiou_thresholds=[0.5, 0.55])
    np.testing.assert_array_equal(result.ap[0], [(2 if gb_first else 1) / GROUP, 0.5 / GROUP])
    np.testing.assert_array_equal(result.ap[0], reference_ap(gt, dets, result.thresholds)[0])


@pytest.mark.parametrize("tp_slot", range(GROUP))
def test_equal_scores_ranked_in_official_argsort_order(tp_slot: int) -> None:
    """8 predictions of score 0.5, one exact (the ``tp_slot``-th in input order), the others
    false positives: the official ``scores.argsort()[::-1]`` ranks the exact one at position
    ``r`` (0-based), so AP = precision there = 1 / (r + 1) (recall 1 from that rank on)."""
    rows = [("v", "A", 50.0, 60.0, 0.5)] * GROUP
    rows[tp_slot] = ("v", "A", 0.0, 10.0, 0.5)
    result = temporal_map(make_gt([("v", "A", 0, 10)]), make_dets(rows), tiou_thresholds=[0.5])
    r = np.full(GROUP, 0.5).argsort()[::-1].tolist().index(tp_slot)
    assert result.ap[0, 0] == 1 / (r + 1)


def test_subset_filters_ground_truth_not_predictions() -> None:
    gt = make_gt([("t1", "A", 0, 10), ("tr", "A", 0, 10)], subsets={"t1": "test", "tr": "train"})
    dets = make_dets([("tr", "A", 0, 10, 0.9), ("t1", "A", 0, 10, 0.8)])
    assert temporal_map(gt, dets).ap[0, 0] == 1.0
    result = temporal_map(gt, dets, subset="test", tiou_thresholds=[0.5])
    assert result.ap[0, 0] == 0.5  # the train-video prediction is now a false positive
    assert temporal_map(gt, dets, subset=["test", "train"]).ap[0, 0] == 1.0
    with pytest.raises(ValueError, match="no ground-truth"):
        temporal_map(gt, dets, subset="validation")


def test_nan_scores_rejected_and_infinite_scores_ranked() -> None:
    gt = make_gt([("v", "A", 0, 10)])
    with pytest.raises(ValueError, match="NaN"):
        temporal_map(gt, make_dets([("v", "A", 0, 10, float("nan"))]))
    rows = [("v", "A", 0, 10, -np.inf), ("v", "A", 30, 40, np.inf)]
    result = temporal_map(gt, make_dets(rows), tiou_thresholds=[0.5])
    assert result.ap[0, 0] == 0.5  # FP (inf) ranked before the TP (-inf)


def test_ignore_ambiguous_thumos14_rule() -> None:
    gt = make_gt(
        [("v", "A", 0, 10)],
        ambiguous=[("v", 20, 30), ("w", 0, 100)],
    )
    rows = [
        ("v", "A", 21, 25, 0.95),  # FP inside an ambiguous segment: dropped
        ("v", "A", 30, 35, 0.9),  # touches the ambiguous end only (no positive overlap): kept
        ("v", "A", 2, 12, 0.8),  # tIoU 8/12: TP at 0.5, FP at 0.7 (not ambiguous): kept
        ("v", "A", 8, 21, 0.7),  # FP, overlaps the ambiguous start by 1 s: dropped
    ]
    plain = temporal_map(gt, make_dets(rows), tiou_thresholds=[0.5, 0.7])
    ignored = temporal_map(gt, make_dets(rows), tiou_thresholds=[0.5, 0.7], ignore_ambiguous=True)
    np.testing.assert_allclose(plain.ap[0], [1 / 3, 0.0])
    np.testing.assert_allclose(ignored.ap[0], [0.5, 0.0])  # FP, TP remain at 0.5
    # a prediction overlapping ambiguous: TP at 0.5 stays, FP at 0.7 is dropped there
    gt2 = make_gt([("v", "A", 0, 10)], ambiguous=[("v", 9, 20)])
    rows2 = [("v", "A", 30, 40, 0.9), ("v", "A", 2, 12, 0.8)]
    result = temporal_map(gt2, make_dets(rows2), tiou_thresholds=[0.5, 0.7], ignore_ambiguous=True)
    np.testing.assert_allclose(result.ap[0], [0.5, 0.0])


def test_evaluator_validates_labels() -> None:
    evaluator = TemporalEvaluator(make_gt([("v", "A", 0, 10)]))
    with pytest.raises(ValueError, match="labels"):
        evaluator.process("v", Segments(np.array([[0.0, 1.0]]), [3], [0.5]), ["A"])


# --------------------------------------------------------------------------------------------
# Property test against a plain transcription of the official loop
# --------------------------------------------------------------------------------------------


def reference_ap(
    gt: TemporalGroundTruth, dets: TemporalDetections, thresholds: np.ndarray
) -> np.ndarray:
    """``(C, K)`` AP by the official per-prediction loop (classes in gt order, all present),
    with its sort calls: ``scores.argsort()[::-1]`` and ``tiou.argsort()[::-1]`` (default,
    unstable kind: ties come out as numpy leaves them, as in the official code)."""
    ap = np.zeros((len(gt.classes), thresholds.size))
    for c, name in enumerate(gt.classes):
        g = np.flatnonzero(gt.segments.labels == c)
        in_class = np.array([dets.classes[i] == name for i in dets.segments.labels], dtype=bool)
        p = np.flatnonzero(in_class)
        p = p[dets.segments.scores[p].argsort()[::-1]]
        locked = np.zeros((thresholds.size, g.size), dtype=bool)
        tp = np.zeros((thresholds.size, p.size))
        for i, pi in enumerate(p):
            same = g[gt.video_ids[g] == dets.video_ids[pi]]
            if same.size == 0:
                continue
            tiou = segment_iou_matrix(dets.segments.bounds[[pi]], gt.segments.bounds[same])[0]
            visit = tiou.argsort()[::-1]
            for k, t in enumerate(thresholds):
                for j in visit:
                    if tiou[j] < t:
                        break
                    column = np.flatnonzero(g == same[j])[0]
                    if locked[k, column]:
                        continue
                    locked[k, column] = True
                    tp[k, i] = 1
                    break
        ap[c] = voc_ap(*precision_recall(tp, g.size))
    return ap


coords = st.integers(0, 12).map(float)
videos = st.sampled_from(["v0", "v1", "v2"])
classes = st.sampled_from(["A", "B", "C"])
gt_rows = st.lists(
    st.tuples(videos, classes, coords, st.integers(0, 6).map(float)).map(
        lambda r: (r[0], r[1], r[2], r[2] + r[3])
    ),
    min_size=1,
    max_size=10,
)
pred_rows = st.lists(
    st.tuples(
        st.sampled_from(["v0", "v1", "v2", "v3"]),
        st.sampled_from(["A", "B", "C", "D"]),
        coords,
        coords,  # unordered: reversed and zero-length segments occur
        st.sampled_from([0.1, 0.2, 0.5, 0.7, 0.9]),  # ties occur
    ),
    max_size=25,
)
threshold_sets = st.sampled_from(
    [PRESETS["thumos14"], PRESETS["activitynet"], np.array([0.0, 0.5, 1.0]), np.array([0.3])]
)


@settings(max_examples=300, deadline=None)
@given(gt_rows, pred_rows, threshold_sets)
def test_vectorized_matcher_equals_official_loop(gt_r, pred_r, thresholds) -> None:
    gt = make_gt(gt_r)
    dets = make_dets(pred_r)
    result = temporal_map(gt, dets, tiou_thresholds=thresholds)
    assert result.classes == gt.classes
    np.testing.assert_allclose(result.ap, reference_ap(gt, dets, thresholds), rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(coords, coords), min_size=1, max_size=8),
    st.lists(st.tuples(coords, coords), min_size=1, max_size=8),
)
def test_paired_iou_equals_segment_iou_matrix(a_rows, b_rows) -> None:
    a, b = np.array(a_rows), np.array(b_rows)
    i, j = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    np.testing.assert_array_equal(
        paired_iou(a[i.ravel()], b[j.ravel()]).reshape(i.shape), segment_iou_matrix(a, b)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matcher_equals_official_loop_on_dense_random_case(seed: int) -> None:
    """Many predictions per group, long and short segments, float times: exercises the
    candidate window, the time clusters and many sequential steps."""
    rng = np.random.default_rng(seed)
    n_gt, n_pred = 40, 400
    start = rng.uniform(0, 100, n_gt)
    gt_rows = [
        (f"v{rng.integers(2)}", "AB"[rng.integers(2)], s, s + rng.choice([0.5, 3.0, 30.0]))
        for s in start
    ]
    gt = make_gt(gt_rows)
    src = rng.integers(0, n_gt, n_pred)
    jitter = rng.normal(0, 1.5, (n_pred, 2))
    pred_rows = [
        (gt_rows[i][0], gt_rows[i][1], gt_rows[i][2] + j0, gt_rows[i][3] + j1, float(sc))
        for i, (j0, j1), sc in zip(src, jitter, rng.random(n_pred), strict=True)
    ]
    dets = make_dets(pred_rows)
    for thresholds in (PRESETS["thumos14"], PRESETS["activitynet"]):
        result = temporal_map(gt, dets, tiou_thresholds=thresholds)
        expected = reference_ap(gt, dets, thresholds)
        np.testing.assert_allclose(result.ap, expected, rtol=0, atol=1e-12)
