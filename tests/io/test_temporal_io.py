"""Readers and writers of temporal annotations: every real file in ``shared/data`` loads with the
counts of its README, malformed inputs raise FormatError naming the file and place, writers
round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wsal.errors import FormatError
from wsal.io.temporal import (
    SUBSET_PRESETS,
    read_activitynet_gt,
    read_activitynet_results,
    read_fps_dict,
    read_point_labels,
    read_split_file,
    read_thumos14_txt,
    read_wtalc_annotations,
    read_wtalc_features,
    write_activitynet_gt,
    write_activitynet_results,
    write_split_file,
)
from wsal.structures import Segments, TemporalDetections, TemporalGroundTruth

ANET_JSON = "activitynet12/activity_net.v1-2.min-missing-removed.json"


def _rows(gt: TemporalGroundTruth) -> list[tuple[str, str, float, float]]:
    """Sorted (video, class name, start, end) rows: order-free comparison of two readers."""
    names = [gt.classes[c] for c in gt.segments.labels.tolist()]
    bounds = gt.segments.bounds.round(6).tolist()
    return sorted(
        (v, n, s, e) for v, n, (s, e) in zip(gt.video_ids.tolist(), names, bounds, strict=True)
    )


def _count(values: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values.values():
        out[v] = out.get(v, 0) + 1
    return out


@pytest.fixture(scope="module")
def anet(shared_data: Path) -> TemporalGroundTruth:
    """The ActivityNet 1.2 JSON (big: read once per module)."""
    return read_activitynet_gt(shared_data / ANET_JSON)


# --------------------------------------------------------------------------------------------
# Real files
# --------------------------------------------------------------------------------------------


def test_basnet_thumos14_gt(shared_data: Path) -> None:
    gt = read_activitynet_gt(shared_data / "thumos14/gt.json")
    assert len(gt.videos) == 410
    assert _count(gt.subsets) == {"train": 200, "test": 210}
    assert len(gt.subset("test")) == 3311
    assert len(gt.subset("train")) == 3007
    assert len(gt.classes) == 20 and gt.classes[0] == "HighJump"  # first appearance
    first = gt.for_video("video_test_0000896")  # segments stored as strings "18.6"
    np.testing.assert_array_equal(first.bounds[0], [18.6, 24.8])
    assert all(np.isnan(d) for d in gt.durations.values())


def test_thumos14_gt_with_duration(shared_data: Path) -> None:
    gt = read_activitynet_gt(shared_data / "thumos14/gt_with_duration.json", subset_map="thumos14")
    assert len(gt.videos) == 412
    assert _count(gt.subsets) == {"test": 212, "train": 200}
    assert len(gt) == 6365 and len(gt.subset("test")) == 3358
    assert all(np.isfinite(d) for d in gt.durations.values())


def test_clip_to_duration(shared_data: Path) -> None:
    path = shared_data / "thumos14/gt_with_duration.json"
    raw = read_activitynet_gt(path)
    dur = np.array([raw.durations[v] for v in raw.video_ids])
    beyond = raw.segments.ends > dur
    assert beyond.sum() == 92  # kept by default
    clipped = read_activitynet_gt(path, clip_to_duration=True)
    dur_c = np.array([clipped.durations[v] for v in clipped.video_ids])
    assert np.all(clipped.segments.ends <= dur_c)
    assert np.all(clipped.segments.lengths > 0)
    assert len(clipped) == len(raw) - int((raw.segments.starts >= dur).sum())


def test_official_txt_agrees_with_json_layouts(shared_data: Path) -> None:
    test = read_thumos14_txt(shared_data / "thumos14/annotations_txt/test")
    val = read_thumos14_txt(shared_data / "thumos14/annotations_txt/val")
    assert len(test.videos) == 213 and len(test) == 3358 and len(test.ambiguous) == 99
    assert len(val.videos) == 200 and len(val) == 3007 and len(val.ambiguous) == 89
    assert test.classes[:3] == ["BaseballPitch", "BasketballDunk", "Billiards"]  # detclasslist
    assert set(test.subsets.values()) == {"test"} and set(val.subsets.values()) == {"val"}
    acm = read_activitynet_gt(shared_data / "thumos14/gt_with_duration.json")
    assert _rows(test) == _rows(acm.subset("test"))
    assert _rows(val) == _rows(acm.subset("validation"))
    # the one test video whose only annotations are Ambiguous
    assert set(test.videos) - set(acm.subset("test").videos) == {"video_test_0001292"}


def test_activitynet12_json(anet: TemporalGroundTruth) -> None:
    assert len(anet.videos) == 8907
    assert _count(anet.subsets) == {"training": 4441, "validation": 2198, "testing": 2268}
    assert len(anet) == 9869 and len(anet.classes) == 100
    assert int((anet.segments.lengths == 0).sum()) == 9  # zero-length segments are kept
    assert len(anet.subset("validation")) == 3281


def test_activitynet12_json_preset_and_clip(shared_data: Path) -> None:
    gt = read_activitynet_gt(
        shared_data / ANET_JSON, subset_map="activitynet", clip_to_duration=True
    )
    assert _count(gt.subsets) == {"train": 4441, "test": 4466}
    assert len(gt) == 9869 - 9  # the zero-length ones are empty
    dur = np.array([gt.durations[v] for v in gt.video_ids])
    assert np.all(gt.segments.ends <= dur)


def test_wtalc_thumos14(shared_data: Path) -> None:
    gt = read_wtalc_annotations(shared_data / "thumos14/wtalc/Thumos14reduced-Annotations")
    assert len(gt.videos) == 412
    assert _count(gt.subsets) == {"validation": 200, "test": 212}
    assert len(gt) == 6365 and len(gt.classes) == 20 and len(gt.ambiguous) == 99
    assert len(gt.fps) == 412 and set(gt.fps.values()) == {24.0, 25.0, 30.0}
    assert gt.durations["video_validation_0000051"] == pytest.approx(169.794)
    acm = read_activitynet_gt(shared_data / "thumos14/gt_with_duration.json")
    assert _rows(gt) == _rows(acm)


def test_wtalc_activitynet12(shared_data: Path, anet: TemporalGroundTruth) -> None:
    folder = shared_data / "activitynet12/wtalc/ActivityNet1.2-Annotations"
    gt = read_wtalc_annotations(folder, subset_map="activitynet")
    assert len(gt.videos) == 7202
    assert _count(gt.subsets) == {"train": 4819, "test": 2383}
    assert len(gt) == 10733 and len(gt.classes) == 100
    assert gt.videos[0] == "video_4" and not gt.fps
    assert sorted(gt.classes) == sorted(anet.classes)


def test_split_files_match_basnet_subsets(shared_data: Path) -> None:
    train = read_split_file(shared_data / "thumos14/split_train.txt")
    test = read_split_file(shared_data / "thumos14/split_test.txt")
    assert len(train) == 200 and len(test) == 210
    gt = read_activitynet_gt(shared_data / "thumos14/gt.json")
    assert set(test) == set(gt.subset("test").videos)
    assert set(train) == set(gt.subset("train").videos)


def test_fps_dict(shared_data: Path) -> None:
    fps = read_fps_dict(shared_data / "thumos14/fps_dict.json")
    assert len(fps) == 2584
    assert 23.9 < min(fps.values()) and max(fps.values()) < 30.1


def test_point_labels(shared_data: Path) -> None:
    points = read_point_labels(shared_data / "thumos14/point_labels.csv")
    assert len(points) == 3003 and len(points.classes) == 20
    assert points.classes[2] == "Billiards" and points.labels[0] == 2
    assert np.all((points.start_frames <= points.points) & (points.points <= points.stop_frames))
    fps = read_fps_dict(shared_data / "thumos14/fps_dict.json")
    seconds = points.point_seconds(fps)
    assert seconds[0] == pytest.approx(2151 / fps["video_validation_0000051"])


# --------------------------------------------------------------------------------------------
# Malformed input
# --------------------------------------------------------------------------------------------


def _gt_doc(segment: object = (1.0, 2.0), label: str = "Jump") -> dict:
    return {
        "version": "VERSION 1.3",
        "database": {
            "v1": {"subset": "testing", "annotations": [{"segment": list(segment), "label": label}]}
        },
    }


def _write(path: Path, obj: object) -> Path:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_truncated_json_names_file_and_position(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.json", json.dumps(_gt_doc(), indent=1)[:-20])
    with pytest.raises(FormatError) as e:
        read_activitynet_gt(path)
    assert e.value.path == str(path) and "line" in e.value.where and "column" in e.value.where
    assert str(path) in str(e.value)


def test_missing_database(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.json", {"version": "x"})
    with pytest.raises(FormatError, match="database") as e:
        read_activitynet_gt(path)
    assert e.value.path == str(path)


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        (("1.0", "abc"), "expected a number"),
        ((1.0, None), "expected a number"),
        ((1.0,), "start, end"),
    ],
)
def test_non_numeric_segment(tmp_path: Path, segment: tuple, message: str) -> None:
    path = _write(tmp_path / "gt.json", _gt_doc(segment))
    with pytest.raises(FormatError, match=message) as e:
        read_activitynet_gt(path)
    assert e.value.path == str(path)
    assert e.value.where == "database.v1.annotations[0].segment"


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_non_finite_segment_rejected(tmp_path: Path, bad: str) -> None:
    path = _write(tmp_path / "gt.json", json.dumps(_gt_doc((1.0, 2.0))).replace("2.0", bad))
    with pytest.raises(FormatError, match="non-finite") as e:
        read_activitynet_gt(path)
    assert e.value.where == "database.v1.annotations[0].segment"


def test_reversed_gt_segment_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.json", _gt_doc((5.0, 2.0)))
    with pytest.raises(FormatError, match="ends before"):
        read_activitynet_gt(path)


def test_unknown_label_with_given_classes(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.json", _gt_doc(label="Swim"))
    with pytest.raises(FormatError, match=r"'v1'.*'Swim'") as e:
        read_activitynet_gt(path, classes=["Jump"])
    assert e.value.path == str(path)
    gt = read_activitynet_gt(path, classes=["Jump", "Swim"])
    assert gt.segments.labels.tolist() == [1] and gt.classes == ["Jump", "Swim"]


def test_subset_map_unknown_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.json", _gt_doc())
    with pytest.raises(FormatError, match="subset 'testing'"):
        read_activitynet_gt(path, subset_map={"validation": "train"})
    assert read_activitynet_gt(path, subset_map="activitynet").subsets == {"v1": "test"}
    with pytest.raises(ValueError, match="unknown subset preset"):
        read_activitynet_gt(path, subset_map="kinetics")
    assert set(SUBSET_PRESETS) == {"thumos14", "activitynet"}


def test_missing_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    for reader in (read_activitynet_gt, read_activitynet_results, read_fps_dict, read_split_file):
        with pytest.raises(FormatError, match="not found") as e:
            reader(missing)
        assert e.value.path == str(missing)
    with pytest.raises(FormatError) as e:
        read_thumos14_txt(tmp_path / "no_folder")
    assert e.value.path == str(tmp_path / "no_folder")
    with pytest.raises(FormatError) as e:
        read_wtalc_annotations(tmp_path)  # folder without videoname.npy
    assert e.value.path == str(tmp_path / "videoname.npy")


def test_results_malformed_rows(tmp_path: Path) -> None:
    row = {"label": "Jump", "segment": [1, 2], "score": 0.5}
    cases = {
        "results.v1[1]": [row, {"label": "Jump", "segment": [1, 2]}],
        "results.v1[0].segment": [{**row, "segment": ["a", 2]}],
        "results.v1[0].score": [{**row, "score": "high"}],
        "results.v1[0].label": [{**row, "label": 3}],
    }
    for where, rows in cases.items():
        path = _write(tmp_path / "res.json", {"results": {"v1": rows}})
        with pytest.raises(FormatError) as e:
            read_activitynet_results(path)
        assert (e.value.path, e.value.where) == (str(path), where)


def test_results_nan_score_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "res.json",
        '{"results": {"v1": [{"label": "A", "segment": [1, 2], "score": NaN}]}}',
    )
    with pytest.raises(FormatError, match="non-finite") as e:
        read_activitynet_results(path)
    assert e.value.where == "results.v1[0].score"


def test_results_reversed_segment_and_unknown_label_kept(tmp_path: Path) -> None:
    rows = [
        {"label": "A", "segment": [5, 2], "score": 0.5},
        {"label": "B", "segment": ["1.5", "2"], "score": 1},
    ]
    path = _write(tmp_path / "res.json", {"results": {"v1": rows}})
    dets = read_activitynet_results(path, classes=["A"])
    assert dets.segments.labels.tolist() == [0, -1]
    np.testing.assert_array_equal(dets.segments.bounds, [[5, 2], [1.5, 2]])
    assert read_activitynet_results(path).classes == ["A", "B"]


def _thumos_folder(tmp_path: Path, golf: str) -> Path:
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "detclasslist.txt").write_text("33 GolfSwing\r\n45 Diving\r\n")
    (folder / "GolfSwing_test.txt").write_text(golf)
    (folder / "Diving_test.txt").write_text("video_test_2  1.0 2.0\n\n")
    (folder / "Ambiguous_test.txt").write_text("video_test_3 0 1.5\n")
    return folder


def test_thumos_txt_small_folder(tmp_path: Path) -> None:
    folder = _thumos_folder(tmp_path, "video_test_1  3.5 7.0\nvideo_test_2 0.0  1.0\n")
    gt = read_thumos14_txt(folder)
    assert gt.classes == ["GolfSwing", "Diving"]
    assert gt.videos == ["video_test_1", "video_test_2", "video_test_3"]
    assert gt.segments.labels.tolist() == [0, 0, 1]
    assert gt.ambiguous_video_ids.tolist() == ["video_test_3"]
    assert gt.subsets["video_test_1"] == "test"


@pytest.mark.parametrize(
    "golf",
    ["video_test_1 3.5 7.0\nvideo_test_2 0.0\n", "video_test_1 3.5 7.0\nvideo_test_2 zero 1.0\n"],
)
def test_thumos_txt_bad_line(tmp_path: Path, golf: str) -> None:
    folder = _thumos_folder(tmp_path, golf)
    with pytest.raises(FormatError) as e:
        read_thumos14_txt(folder, split="test")
    assert e.value.path == str(folder / "GolfSwing_test.txt") and e.value.where == "line 2"


def test_thumos_txt_missing_class_file(tmp_path: Path) -> None:
    folder = _thumos_folder(tmp_path, "video_test_1 1 2\n")
    (folder / "Diving_test.txt").unlink()
    with pytest.raises(FormatError, match="not found") as e:
        read_thumos14_txt(folder, split="test")
    assert e.value.path == str(folder / "Diving_test.txt")


def _save_object_array(path: Path, items: list) -> None:
    """Write an object .npy like the W-TALC files (writing pickles is fine; we never load them
    with the unsafe loader)."""
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    np.save(path, arr, allow_pickle=True)


def test_wtalc_features_valid_and_nan(tmp_path: Path) -> None:
    path = tmp_path / "Thumos14reduced-I3D-JOINTFeatures.npy"
    good = [np.ones((3, 4), np.float32), np.zeros((5, 4), np.float32)]
    _save_object_array(path, good)
    feats = read_wtalc_features(path, ["a", "b"])
    assert [f.shape for f in feats] == [(3, 4), (5, 4)]
    bad = [good[0], good[1].copy()]
    bad[1][2, 1] = np.nan
    _save_object_array(path, bad)
    with pytest.raises(FormatError, match="NaN in snippet 2") as e:
        read_wtalc_features(path, ["a", "b"])
    assert e.value.path == str(path) and e.value.where == "video 1 (b)"


@pytest.mark.parametrize(
    ("items", "names", "message"),
    [
        ([np.ones((3, 4)), np.ones((2, 5))], None, "feature dim 5"),
        ([np.ones(3)], None, "2-D"),
        ([np.ones((3, 4), dtype=np.int64)], None, "floating-point"),
        ([np.ones((3, 4))], ["a", "b"], "1 feature arrays but 2 video names"),
    ],
)
def test_wtalc_features_invalid(
    tmp_path: Path, items: list, names: list | None, message: str
) -> None:
    path = tmp_path / "feats.npy"
    _save_object_array(path, items)
    with pytest.raises(FormatError, match=message) as e:
        read_wtalc_features(path, names)
    assert e.value.path == str(path)


def test_split_file_errors(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.txt", "\n  \n")
    with pytest.raises(FormatError, match="empty split file") as e:
        read_split_file(empty)
    assert e.value.path == str(empty)
    dup = _write(tmp_path / "dup.txt", "a\nb\n\na\n")
    with pytest.raises(FormatError, match="repeats line 1") as e:
        read_split_file(dup)
    assert e.value.where == "line 4"


def test_fps_dict_bad_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "fps.json", {"v1": 30.0, "v2": "fast"})
    with pytest.raises(FormatError) as e:
        read_fps_dict(path)
    assert (e.value.path, e.value.where) == (str(path), "v2")


def test_point_labels_bad_rows(tmp_path: Path) -> None:
    header = "class,class_index,start_frame,stop_frame,video_id,point\n"
    path = _write(tmp_path / "p.csv", header + "A,0,1,9,v1,5\nA,0,1,9,v1,x\n")
    with pytest.raises(FormatError, match="integer") as e:
        read_point_labels(path)
    assert e.value.where == "line 3, point"
    _write(path, header + "A,0,1,9,v1,5\nA,0,10,20,v1,25\n")
    with pytest.raises(FormatError, match="not inside") as e:
        read_point_labels(path)
    assert e.value.where == "line 3"
    _write(path, "class,start_frame\nA,1\n")
    with pytest.raises(FormatError, match="missing column"):
        read_point_labels(path)


# --------------------------------------------------------------------------------------------
# Writers round-trip
# --------------------------------------------------------------------------------------------


def _assert_same_gt(a: TemporalGroundTruth, b: TemporalGroundTruth) -> None:
    assert a.videos == b.videos and a.subsets == b.subsets and a.classes == b.classes
    assert a.fps == b.fps
    np.testing.assert_array_equal(
        [a.durations[v] for v in a.videos], [b.durations[v] for v in b.videos]
    )
    np.testing.assert_array_equal(a.video_ids, b.video_ids)
    np.testing.assert_array_equal(a.segments.bounds, b.segments.bounds)
    np.testing.assert_array_equal(a.segments.labels, b.segments.labels)


def test_gt_round_trip_real_file(shared_data: Path, tmp_path: Path) -> None:
    gt = read_activitynet_gt(shared_data / "thumos14/gt_with_duration.json")
    write_activitynet_gt(tmp_path / "gt.json", gt)
    _assert_same_gt(gt, read_activitynet_gt(tmp_path / "gt.json"))


def test_gt_round_trip_fps_nan_duration_and_empty_video(tmp_path: Path) -> None:
    gt = TemporalGroundTruth(
        videos=["a", "b", "c"],
        subsets={"a": "validation", "b": "testing", "c": "testing"},
        durations={"a": 12.5, "b": float("nan"), "c": 3.0},
        video_ids=np.array(["a", "a", "b"]),
        segments=Segments(np.array([[0.1, 0.2], [1 / 3, 2.0], [4.0, 4.0]]), np.array([1, 0, 1])),
        classes=["x", "y"],
        fps={"a": 29.97},
    )
    write_activitynet_gt(tmp_path / "gt.json", gt, version="TEST")
    doc = json.loads((tmp_path / "gt.json").read_text())
    assert doc["version"] == "TEST" and doc["taxonomy"] == []
    assert "duration" not in doc["database"]["b"] and doc["database"]["c"]["annotations"] == []
    back = read_activitynet_gt(tmp_path / "gt.json", classes=["x", "y"])
    _assert_same_gt(gt, back)


def test_results_round_trip(tmp_path: Path) -> None:
    dets = TemporalDetections(
        video_ids=np.array(["v2", "v1", "v2"]),
        segments=Segments(
            np.array([[0.5, 1.25], [2.0, 1.0], [1 / 7, 3.0]]),
            np.array([1, 0, 1]),
            np.array([0.9, 0.1, 1e-12]),
        ),
        classes=["A", "B"],
    )
    write_activitynet_results(tmp_path / "res.json", dets)
    doc = json.loads((tmp_path / "res.json").read_text())
    assert set(doc) == {"version", "results", "external_data"} and list(doc["results"]) == [
        "v2",
        "v1",
    ]
    back = read_activitynet_results(tmp_path / "res.json", classes=["A", "B"])
    order = [0, 2, 1]  # grouped by video, first-appearance order
    np.testing.assert_array_equal(back.video_ids, dets.video_ids[order])
    np.testing.assert_array_equal(back.segments.bounds, dets.segments.bounds[order])
    np.testing.assert_array_equal(back.segments.scores, dets.segments.scores[order])
    np.testing.assert_array_equal(back.segments.labels, dets.segments.labels[order])


def test_results_writer_refuses_nan_and_unknown_labels(tmp_path: Path) -> None:
    seg = Segments(np.array([[0.0, 1.0]]), np.array([0]), np.array([np.nan]))
    with pytest.raises(ValueError, match="NaN"):
        write_activitynet_results(
            tmp_path / "r.json", TemporalDetections(np.array(["v"]), seg, ["A"])
        )
    seg = Segments(np.array([[0.0, 1.0]]), np.array([-1]), np.array([0.5]))
    with pytest.raises(ValueError, match="label"):
        write_activitynet_results(
            tmp_path / "r.json", TemporalDetections(np.array(["v"]), seg, ["A"])
        )
    assert not (tmp_path / "r.json").exists()


def test_split_round_trip(tmp_path: Path) -> None:
    write_split_file(tmp_path / "s.txt", ["b", "a", "c"])
    assert read_split_file(tmp_path / "s.txt") == ["b", "a", "c"]
    for bad in ([], ["a", "a"], ["a b"], [""]):
        with pytest.raises(ValueError):
            write_split_file(tmp_path / "bad.txt", bad)
