"""Tests of wsal.io.tubes: gt/result tube JSON, the UCF101-24 pickle, split lists, proposals."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsal.errors import FormatError
from wsal.io.safe_pickle import safe_pickle_load
from wsal.io.tubes import (
    UCF101_24_CLASSES,
    TubeProposals,
    proposal_filename,
    read_gt_tubes,
    read_tube_proposals,
    read_tube_results,
    read_ucf101_24_pickle,
    read_video_list,
    ucf101_24_to_gt_tubes,
    write_gt_tubes,
    write_tube_proposals,
    write_tube_results,
)
from wsal.structures import Tube, TubeDetections, TubeGroundTruth

# --------------------------------------------------------------------------------------------
# Shared, loaded once per module
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ucf_dir(shared_data: Path) -> Path:
    return shared_data / "ucf101_24"


@pytest.fixture(scope="module")
def ucf_gt(ucf_dir: Path) -> TubeGroundTruth:
    return read_ucf101_24_pickle(ucf_dir / "pyannot.pkl")


@pytest.fixture(scope="module")
def ucf_raw(ucf_dir: Path) -> dict:
    return safe_pickle_load(ucf_dir / "pyannot.pkl")


@pytest.fixture(scope="module")
def video_fixtures(fixtures_dir: Path) -> Path:
    return fixtures_dir / "video"


def _flat(tubes: dict[str, list[Tube]]) -> tuple[list, np.ndarray, np.ndarray]:
    """Per-tube (video, label, first, length) keys and all frames / boxes, concatenated."""
    keys = [(v, t.label, t.first_frame, len(t)) for v, ts in tubes.items() for t in ts]
    all_tubes = [t for ts in tubes.values() for t in ts]
    frames = np.concatenate([t.frames for t in all_tubes]) if all_tubes else np.zeros(0)
    boxes = np.concatenate([t.boxes for t in all_tubes]) if all_tubes else np.zeros((0, 4))
    return keys, frames, boxes


def _assert_same_tubes(a: dict[str, list[Tube]], b: dict[str, list[Tube]]) -> None:
    assert list(a) == list(b)
    ka, fa, ba = _flat(a)
    kb, fb, bb = _flat(b)
    assert ka == kb
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(ba, bb)


# --------------------------------------------------------------------------------------------
# UCF101-24 pickle
# --------------------------------------------------------------------------------------------


def test_ucf_pickle_counts_and_classes(ucf_gt: TubeGroundTruth) -> None:
    assert len(ucf_gt.videos) == 3194
    assert len(ucf_gt) == 4458
    assert ucf_gt.labels == list(UCF101_24_CLASSES)
    assert list(ucf_gt.videos) == sorted(ucf_gt.videos)
    for vid, tubes in ucf_gt.tubes.items():
        cls = vid.split("/")[0]
        assert all(ucf_gt.labels[t.label] == cls for t in tubes)


def test_ucf_pickle_conventions(ucf_gt: TubeGroundTruth) -> None:
    """Frames 1..numf, boxes inside the 320x240 frame with 0-based inclusive corners."""
    boxes = np.concatenate([t.boxes for ts in ucf_gt.tubes.values() for t in ts])
    assert boxes.shape == (573862, 4)
    assert boxes.min(axis=0).tolist() == [0.0, 0.0, 15.0, 18.0]
    assert boxes[:, [0, 2]].max() <= 319 and boxes[:, [1, 3]].max() <= 239
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    for vid, meta in ucf_gt.videos.items():
        assert (meta["width"], meta["height"]) == (320, 240)
        for t in ucf_gt.tubes[vid]:
            assert 1 <= t.first_frame <= t.last_frame <= meta["nframes"]


def test_ucf_pickle_exact_conversion(ucf_gt: TubeGroundTruth, ucf_raw: dict) -> None:
    """sf/ef -> frames sf+1..ef; x,y,w,h -> x-1, y-1, x+w-1, y+h-1 with no uint8 wrap-around."""
    vid = "Basketball/v_Basketball_g02_c01"
    ann = ucf_raw[vid]["annotations"][0]
    assert ann["boxes"].dtype == np.uint8 and (ann["sf"], ann["ef"]) == (26, 44)
    tube = ucf_gt.tubes[vid][0]
    np.testing.assert_array_equal(tube.frames, np.arange(27, 45))
    assert ann["boxes"][0].tolist() == [197, 73, 109, 165]
    assert tube.boxes[0].tolist() == [196.0, 72.0, 305.0, 237.0]  # 197 + 109 > 255: no wrap
    assert ucf_gt.videos[vid]["nframes"] == int(ucf_raw[vid]["numf"])


def test_ucf_pickle_with_class_names(ucf_dir: Path, ucf_gt: TubeGroundTruth) -> None:
    gt2 = read_ucf101_24_pickle(ucf_dir / "pyannot_with_class_names.pkl")
    assert (len(gt2.videos), len(gt2)) == (3194, 4458)
    assert gt2.labels == ucf_gt.labels
    assert gt2.videos == ucf_gt.videos
    _assert_same_tubes(gt2.tubes, ucf_gt.tubes)


def test_ucf_pickle_class_name_sources(tmp_path: Path) -> None:
    """Given names win; embedded names are checked against the ids; else derived from ids."""
    db = {"B/v_B_g01_c01": _ucf_entry(label=1), "A/v_A_g01_c01": _ucf_entry(label=0)}
    path = _write_pickle(tmp_path / "p.pkl", db)
    assert read_ucf101_24_pickle(path).labels == ["A", "B"]
    assert read_ucf101_24_pickle(path, class_names=["x", "y"]).labels == ["x", "y"]
    wrapped = _write_pickle(
        tmp_path / "w.pkl", {"db": db, "classes": ["A", "B"], "trainvideos": []}
    )
    assert read_ucf101_24_pickle(wrapped).labels == ["A", "B"]
    wrong = _write_pickle(tmp_path / "x.pkl", {"db": db, "classes": ["B", "A"]})
    with pytest.raises(FormatError, match="disagree with video ids"):
        read_ucf101_24_pickle(wrong)
    with pytest.raises(FormatError, match="label 1 outside 0..0"):
        read_ucf101_24_pickle(path, class_names=["only"])


def test_video_lists(ucf_dir: Path, ucf_gt: TubeGroundTruth) -> None:
    test = read_video_list(ucf_dir / "testlist01.txt")
    assert len(test) == 910 and set(test) <= set(ucf_gt.videos)
    train = read_video_list(ucf_dir / "pyannot_with_class_names.pkl")
    assert len(train) == 2290
    assert len(set(train) & set(ucf_gt.videos)) == 2284
    assert not set(train) & set(test)
    assert len(set(train) | set(test)) - 6 == len(ucf_gt.videos)


def test_video_list_text_variants(tmp_path: Path) -> None:
    f = tmp_path / "list.txt"
    f.write_text("# comment\nA/v_A_g01_c01.avi 1\n\n  B/v_B_g01_c01  \n")
    assert read_video_list(f) == ["A/v_A_g01_c01", "B/v_B_g01_c01"]
    f.write_text("A/x\nB/y\nA/x\n")
    with pytest.raises(FormatError, match="line 3"):
        read_video_list(f)


def test_converter_round_trip(ucf_dir: Path, ucf_gt: TubeGroundTruth, tmp_path: Path) -> None:
    """Convert a list file (a slice of testlist01 plus one unannotated id), read it back."""
    wanted = read_video_list(ucf_dir / "testlist01.txt")[::9] + ["Nope/v_Nope_g01_c01"]
    list_file = tmp_path / "list.txt"
    list_file.write_text("\n".join(wanted) + "\n")
    out = tmp_path / "gt_tubes.json"
    with pytest.warns(UserWarning, match="1 requested videos have no annotation"):
        gt = ucf101_24_to_gt_tubes(ucf_dir / "pyannot.pkl", out, videos=list_file)
    assert list(gt.videos) == wanted[:-1] and len(gt.videos) == 102
    assert gt.labels == ucf_gt.labels
    _assert_same_tubes(gt.tubes, {v: ucf_gt.tubes[v] for v in wanted[:-1]})
    back = read_gt_tubes(out)
    assert back.labels == gt.labels and back.videos == gt.videos
    _assert_same_tubes(back.tubes, gt.tubes)


def _write_pickle(path: Path, obj: object) -> Path:
    path.write_bytes(pickle.dumps(obj))
    return path


def _ucf_entry(sf: int = 0, ef: int = 3, rows: int = 3, label: int = 0) -> dict:
    boxes = np.tile(np.array([[10, 20, 30, 40]], dtype=np.uint16), (rows, 1))
    return {
        "numf": np.uint8(5),
        "label": label,
        "annotations": [{"sf": sf, "ef": ef, "label": label, "boxes": boxes}],
    }


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        (_ucf_entry(rows=2), "['boxes']"),
        (_ucf_entry(sf=3, ef=3, rows=0), "[0]"),
        (_ucf_entry(sf=2, ef=7, rows=5), "[0]"),
        (_ucf_entry(label=30), "['label']"),
        ({"numf": 5, "label": 0}, "A/v_A_g01_c01"),
        ("not a dict", "A/v_A_g01_c01"),
    ],
)
def test_ucf_pickle_malformed(tmp_path: Path, entry: object, where: str) -> None:
    path = _write_pickle(tmp_path / "bad.pkl", {"A/v_A_g01_c01": entry})
    with pytest.raises(FormatError) as err:
        read_ucf101_24_pickle(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_ucf_pickle_small_valid(tmp_path: Path) -> None:
    path = _write_pickle(tmp_path / "ok.pkl", {"A/v_A_g01_c01": _ucf_entry()})
    gt = read_ucf101_24_pickle(path)
    assert gt.labels == ["A"]
    np.testing.assert_array_equal(gt.tubes["A/v_A_g01_c01"][0].frames, [1, 2, 3])
    assert gt.tubes["A/v_A_g01_c01"][0].boxes[0].tolist() == [9.0, 19.0, 39.0, 59.0]


class _Evil:
    """Pickles as a call of os.system: unpickling it with pickle.load would run a command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _write_pickle(tmp_path / "evil.pkl", {"A/v_A_g01_c01": _Evil(marker)})
    with pytest.raises(FormatError, match="not allowed") as err:
        read_ucf101_24_pickle(path)
    assert str(path) in str(err.value)
    with pytest.raises(FormatError):
        read_video_list(path)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# gt_tubes.json and tube results of the video fixtures
# --------------------------------------------------------------------------------------------


def test_fixture_gt_tubes(video_fixtures: Path) -> None:
    gt = read_gt_tubes(video_fixtures / "gt_tubes.json")
    assert gt.labels == ["Basketball", "Biking", "Diving", "Fencing", "GolfSwing"]
    assert (len(gt.videos), len(gt)) == (30, 54)
    raw = json.loads((video_fixtures / "gt_tubes.json").read_text())
    assert list(gt.videos) == list(raw["videos"])
    first = next(iter(raw["videos"].values()))["tubes"][0]
    tube = next(iter(gt.tubes.values()))[0]
    np.testing.assert_array_equal(tube.frames, first["frames"])
    np.testing.assert_array_equal(tube.boxes, first["boxes"])
    assert all(np.isnan(t.score) for _, ts in gt.tubes.items() for t in ts)


@pytest.mark.parametrize(("name", "count"), [("det_good.json", 71), ("det_mediocre.json", 103)])
def test_fixture_results(video_fixtures: Path, tmp_path: Path, name: str, count: int) -> None:
    labels = read_gt_tubes(video_fixtures / "gt_tubes.json").labels
    dets = read_tube_results(video_fixtures / name, labels)
    assert len(dets) == count and dets.labels == labels
    assert all(np.isfinite(t.score) and t.label >= 0 for _, t in dets)
    write_tube_results(tmp_path / "r.json", dets)
    back = read_tube_results(tmp_path / "r.json")
    assert back.labels == labels
    _assert_same_tubes(back.tubes, dets.tubes)
    assert [t.score for _, t in back] == [t.score for _, t in dets]


def test_gt_round_trip(video_fixtures: Path, tmp_path: Path) -> None:
    gt = read_gt_tubes(video_fixtures / "gt_tubes.json")
    write_gt_tubes(tmp_path / "gt.json", gt)
    back = read_gt_tubes(tmp_path / "gt.json")
    assert back.labels == gt.labels and back.videos == gt.videos
    _assert_same_tubes(back.tubes, gt.tubes)


def _results_file(tmp_path: Path, tubes: list[dict]) -> Path:
    path = tmp_path / "res.json"
    path.write_text(json.dumps({"results": {"v/1": tubes}}))
    return path


def _det(label: str, score: float = 0.5, first: int = 1, n: int = 2) -> dict:
    return {
        "label": label,
        "score": score,
        "frames": list(range(first, first + n)),
        "boxes": [[0, 0, 9, 9]] * n,
    }


def test_results_label_handling(tmp_path: Path) -> None:
    path = _results_file(tmp_path, [_det("b"), _det("z"), _det("a")])
    assert read_tube_results(path).labels == ["b", "z", "a"]
    dets = read_tube_results(path, ["a", "b"])
    assert [t.label for t in dets.tubes["v/1"]] == [1, 0]
    kept = read_tube_results(path, ["a", "b"], keep_unknown=True)
    assert [t.label for t in kept.tubes["v/1"]] == [1, -1, 0]
    with pytest.raises(ValueError, match="label index -1"):
        write_tube_results(tmp_path / "out.json", kept)


def test_results_frame_scores(tmp_path: Path) -> None:
    box = np.array([[0.0, 0.0, 9.0, 9.0]] * 2)
    t1 = Tube([3, 4], box, label=0, score=0.7, frame_scores=[0.1, 0.2])
    t2 = Tube([3, 4], box, label=0, score=0.6)  # NaN frame scores: not written
    write_tube_results(tmp_path / "r.json", TubeDetections({"v": [t1, t2]}, ["a"]))
    raw = json.loads((tmp_path / "r.json").read_text())
    assert raw["results"]["v"][0]["frame_scores"] == [0.1, 0.2]
    assert "frame_scores" not in raw["results"]["v"][1]
    back = read_tube_results(tmp_path / "r.json")
    np.testing.assert_array_equal(back.tubes["v"][0].frame_scores, [0.1, 0.2])
    assert np.isnan(back.tubes["v"][1].frame_scores).all()


_tube_strategy = st.builds(
    lambda first, n, seed, score, label: (first, n, seed, score, label),
    st.integers(1, 500),
    st.integers(1, 30),
    st.integers(0, 2**31 - 1),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(0, 2),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_tube_strategy, max_size=6))
def test_results_round_trip_property(tmp_path: Path, specs: list[tuple]) -> None:
    tubes = []
    for first, n, seed, score, label in specs:
        boxes = np.random.default_rng(seed).uniform(0, 320, size=(n, 4))
        tubes.append(Tube(np.arange(first, first + n), boxes, label=label, score=score))
    dets = TubeDetections({"x/v_1": tubes, "y/v_2": []}, ["a", "b", "c"])
    write_tube_results(tmp_path / "p.json", dets)
    back = read_tube_results(tmp_path / "p.json")
    _assert_same_tubes(back.tubes, dets.tubes)
    assert [t.score for _, t in back] == [t.score for _, t in dets]


# --------------------------------------------------------------------------------------------
# Malformed JSON inputs: every case names the file and the key path
# --------------------------------------------------------------------------------------------


def _gt_doc() -> dict:
    tube = {"label": "a", "frames": [2, 3, 4], "boxes": [[0, 0, 9, 9], [1, 1, 9, 9], [2, 2, 9, 9]]}
    return {
        "labels": ["a", "b"],
        "videos": {"c/v_1": {"nframes": 10, "width": 320, "height": 240, "tubes": [tube]}},
    }


def _mutate(doc: dict, path: list, value: object) -> dict:
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()
_TUBE = ["videos", "c/v_1", "tubes", 0]


@pytest.mark.parametrize(
    ("path", "value", "message", "where"),
    [
        ([*_TUBE, "frames"], [2, 3, 5], "consecutive", 'videos["c/v_1"].tubes[0].frames[2]'),
        ([*_TUBE, "frames"], [2, 3], "'boxes' has 3 entries but 'frames' has 2", "tubes[0]"),
        ([*_TUBE, "label"], "zzz", "unknown label 'zzz'", "tubes[0].label"),
        ([*_TUBE, "boxes", 1], [1, 1, 9], "4 numbers", "tubes[0].boxes[1]"),
        ([*_TUBE, "boxes", 2], [2, "x", 9, 9], "non-number", "tubes[0].boxes[2]"),
        ([*_TUBE, "boxes", 0], [None, 0, 9, 9], "non-number", "tubes[0].boxes[0]"),
        ([*_TUBE, "frames"], ["2", "3", "4"], "numbers only", "tubes[0].frames"),
        ([*_TUBE, "frames"], [2.5, 3.5, 4.5], "not an integer", "tubes[0].frames[0]"),
        ([*_TUBE, "frames"], [0, 1, 2], "1-indexed", "tubes[0].frames[0]"),
        ([*_TUBE, "frames"], [9, 10, 11], "beyond nframes=10", "tubes[0].frames"),
        ([*_TUBE, "frames"], [], "empty tube", "tubes[0].frames"),
        ([*_TUBE, "boxes"], _DELETE, "missing key 'boxes'", "tubes[0]"),
        (["videos", "c/v_1", "nframes"], "ten", "expected an integer", "nframes"),
        (["videos", "c/v_1", "width"], _DELETE, "missing key 'width'", 'videos["c/v_1"]'),
        (["labels"], ["a", "a"], "duplicate label", "labels[1]"),
        (["labels"], _DELETE, "missing key 'labels'", "top level"),
        (["videos"], [], "expected an object", "videos"),
    ],
)
def test_gt_malformed(tmp_path: Path, path: list, value: object, message: str, where: str) -> None:
    f = tmp_path / "gt_tubes.json"
    f.write_text(json.dumps(_mutate(_gt_doc(), path, value)))
    with pytest.raises(FormatError) as err:
        read_gt_tubes(f)
    text = str(err.value)
    assert str(f) in text and message in text and where in text, text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (json.dumps(_gt_doc())[:-40], "invalid or truncated JSON"),
        ("", "empty file"),
        ('{"labels": ["a"], "videos": {"v": {"nframes": NaN}}}', "non-finite number NaN"),
        ("[1, 2, 3]", "expected an object"),
    ],
)
def test_gt_malformed_text(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "gt_tubes.json"
    f.write_text(content)
    with pytest.raises(FormatError, match=message) as err:
        read_gt_tubes(f)
    assert str(f) in str(err.value)


def test_gt_not_utf8_and_missing(tmp_path: Path) -> None:
    f = tmp_path / "gt.json"
    f.write_bytes(b'{"labels": ["\xff"]}')
    with pytest.raises(FormatError, match="not UTF-8"):
        read_gt_tubes(f)
    with pytest.raises(FormatError, match="cannot read file"):
        read_gt_tubes(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("tube", "message", "where"),
    [
        ({k: v for k, v in _det("a").items() if k != "score"}, "missing key 'score'", '["v/1"][0]'),
        ({**_det("a"), "score": "high"}, "expected a number", '["v/1"][0].score'),
        ({**_det("a"), "label": 3}, "label must be a string", '["v/1"][0].label'),
        ({**_det("a"), "frames": [1, 3]}, "consecutive", '["v/1"][0].frames[1]'),
        ({**_det("a"), "frame_scores": [0.1]}, "1 frame scores for 2 frames", "frame_scores"),
    ],
)
def test_results_malformed(tmp_path: Path, tube: dict, message: str, where: str) -> None:
    path = _results_file(tmp_path, [tube])
    with pytest.raises(FormatError) as err:
        read_tube_results(path, ["a"])
    text = str(err.value)
    assert str(path) in text and message in text and where in text, text


def test_results_non_finite_score(tmp_path: Path) -> None:
    path = tmp_path / "res.json"
    path.write_text(json.dumps({"results": {"v/1": [_det("a")]}}).replace("0.5", "1e400"))
    with pytest.raises(FormatError, match="expected a finite number") as err:
        read_tube_results(path)
    assert str(path) in str(err.value) and '["v/1"][0].score' in str(err.value)
    path.write_text(json.dumps({"results": {"v/1": [_det("a")]}}).replace("0.5", "-Infinity"))
    with pytest.raises(FormatError, match="non-finite number -Infinity") as err:
        read_tube_results(path)
    assert "line 1, column " in str(err.value)


def test_results_truncated(tmp_path: Path, video_fixtures: Path) -> None:
    path = tmp_path / "det.json"
    path.write_text((video_fixtures / "det_good.json").read_text()[:5000])
    with pytest.raises(FormatError, match="truncated") as err:
        read_tube_results(path)
    assert str(path) in str(err.value) and "line 1" in str(err.value)


# --------------------------------------------------------------------------------------------
# Proposals of the tube folder
# --------------------------------------------------------------------------------------------


def test_proposal_filename() -> None:
    assert proposal_filename("Biking/v_Biking_g01_c03") == "Biking__v_Biking_g01_c03.npz"
    assert proposal_filename("-5KQ66BBWC4") == "-5KQ66BBWC4.npz"


@pytest.mark.parametrize(
    "bad",
    ["", "../x", "a/../../b", "/etc/passwd", "a\\b", "a\x00b", "a/./b", "..", "a\nb", "x" * 300],
)
def test_proposal_filename_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        proposal_filename(bad)


def _proposals(n: int = 5, d: int = 3) -> TubeProposals:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, size=(n, 2))
    return TubeProposals(
        frames=rng.integers(1, 50, size=n),
        boxes=np.concatenate([xy, xy + 20], axis=1),
        scores=rng.random(n),
        features=rng.standard_normal((n, d)).astype(np.float32),
    )


def test_proposals_round_trip(tmp_path: Path) -> None:
    p = _proposals()
    path = tmp_path / proposal_filename("Biking/v_1")
    write_tube_proposals(path, p)
    back = read_tube_proposals(path)
    for key in ("frames", "boxes", "scores", "features"):
        np.testing.assert_array_equal(getattr(back, key), getattr(p, key))
    assert back.frames.dtype == np.int64 and back.features.dtype == np.float32
    empty = TubeProposals(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0), np.zeros((0, 7)))
    write_tube_proposals(tmp_path / "e.npz", empty)
    assert len(read_tube_proposals(tmp_path / "e.npz")) == 0


def _arrays(**override: object) -> dict:
    p = _proposals()
    arrays = {"frames": p.frames, "boxes": p.boxes, "scores": p.scores, "features": p.features}
    arrays.update(override)
    return {k: v for k, v in arrays.items() if v is not None}


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_arrays(scores=None), "missing array 'scores'"),
        (_arrays(boxes=np.zeros((5, 3))), "expected (5, 4)"),
        (_arrays(scores=np.array([0.1, np.nan, 0, 0, 0])), "non-finite"),
        (_arrays(frames=np.array([0, 1, 2, 3, 4])), "1-indexed"),
        (_arrays(frames=np.arange(1.0, 6.0)), "frames must be integers"),
        (_arrays(features=np.zeros((4, 3))), "expected (5, D)"),
        (_arrays(features=np.array([object()] * 5)), "unreadable array"),
    ],
)
def test_proposals_malformed(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "p.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(FormatError) as err:
        read_tube_proposals(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_proposals_not_npz(tmp_path: Path) -> None:
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    npy = tmp_path / "a.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    truncated = tmp_path / "t.npz"
    write_tube_proposals(truncated, _proposals(50, 64))
    truncated.write_bytes(truncated.read_bytes()[:300])
    for path in (garbage, npy, truncated, tmp_path / "missing.npz"):
        with pytest.raises(FormatError) as err:
            read_tube_proposals(path)
        assert str(path) in str(err.value)


def test_proposals_writer_rejects_nan(tmp_path: Path) -> None:
    p = _proposals()
    p.boxes[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        write_tube_proposals(tmp_path / "x.npz", p)
    assert not (tmp_path / "x.npz").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError):
            TubeProposals(np.arange(1, 4), np.zeros((3, 4)), np.zeros(2), np.zeros((3, 1)))
