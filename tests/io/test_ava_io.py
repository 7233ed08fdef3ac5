"""AVA readers and writers: the real files of ``shared/data/ava``, round trips, malformed input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsal.errors import FormatError
from wsal.io.ava import (
    LabelMap,
    ProposalRows,
    read_ava_detections,
    read_ava_gt,
    read_ava_proposals,
    read_excluded_timestamps,
    read_included_timestamps,
    read_labelmap,
    read_video_list,
    write_ava_detections,
    write_ava_gt,
    write_ava_proposals,
    write_excluded_timestamps,
    write_labelmap,
)
from wsal.structures import Boxes, KeyframeDetections, KeyframeGroundTruth

# --------------------------------------------------------------------------------------------
# Real files
# --------------------------------------------------------------------------------------------


def test_labelmap_2019_has_60_classes(shared_data: Path) -> None:
    lm = read_labelmap(shared_data / "ava" / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    assert isinstance(lm, LabelMap)
    assert len(lm) == 60 and len(lm.names) == 60
    assert lm.ids[0] == 1 and lm.names[1] == "bend/bow (at the waist)"
    assert lm.ids[-1] == 80 and lm.names[80] == "watch (a person)"
    assert lm.ids == sorted(lm.ids)
    assert lm.types == {}


def test_labelmap_full_has_80_classes_with_types(shared_data: Path) -> None:
    lm = read_labelmap(shared_data / "ava" / "ava_action_list_v2.2.pbtxt")
    assert lm.ids == list(range(1, 81))
    assert lm.names[2] == "crawl"
    assert lm.types[1] == "PERSON_MOVEMENT"
    counts = {t: list(lm.types.values()).count(t) for t in set(lm.types.values())}
    assert counts == {"PERSON_MOVEMENT": 14, "OBJECT_MANIPULATION": 49, "PERSON_INTERACTION": 17}


def test_labelmap_fixture(fixtures_dir: Path) -> None:
    lm = read_labelmap(fixtures_dir / "frame" / "label_map.pbtxt")
    assert lm.ids == [1, 3, 4, 8, 11, 12, 14, 17]
    assert lm.names[4] == "dance"


def test_write_labelmap_reproduces_official_bytes(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ava" / "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
    lm = read_labelmap(src)
    out = tmp_path / "lm.pbtxt"
    write_labelmap(out, lm.names)
    assert out.read_bytes() == src.read_bytes()


def test_labelmap_round_trip_with_escapes(tmp_path: Path) -> None:
    names = {7: 'say "hi"', 3: "back\\slash", 12: "plain"}
    write_labelmap(tmp_path / "lm.pbtxt", names)
    lm = read_labelmap(tmp_path / "lm.pbtxt")
    assert lm.ids == [7, 3, 12] and lm.names == names


def test_excluded_timestamps_real(shared_data: Path) -> None:
    path = shared_data / "ava" / "ava_val_excluded_timestamps_v2.2.csv"
    pairs = read_excluded_timestamps(path)
    assert len(pairs) == 37
    assert ("5BDj0ow5hnA", 1038) in pairs
    assert len({v for v, _ in pairs}) == 7
    videos, stamps = read_excluded_timestamps(path, as_arrays=True)
    assert videos.shape == stamps.shape == (37,) and stamps.dtype == np.int64


def test_sample_rows_real(shared_data: Path) -> None:
    gt = read_ava_gt(shared_data / "ava" / "ava_sample_rows.csv")
    assert len(gt) == 8
    assert gt.video_ids[0] == "0f39OWEqJ24" and gt.video_ids[-1] == "_-Z6wFjXtGQ"
    assert gt.timestamps.tolist() == [902, 902, 902, 903, 903, 902, 902, 902]
    np.testing.assert_array_equal(gt.boxes.xyxy[0], [0.031, 0.162, 0.670, 0.995])
    assert gt.labels.tolist() == [12, 17, 79, 12, 17, 12, 74, 80]
    assert gt.person_ids.tolist() == [0] * 8


def test_video_list_real(shared_data: Path) -> None:
    videos = read_video_list(shared_data / "ava" / "ava_test_v2.2.txt")
    assert len(videos) == 131 == len(set(videos))
    assert videos[0] == "--205wugM18"


def test_included_timestamps_real(shared_data: Path) -> None:
    stamps = read_included_timestamps(shared_data / "ava" / "ava_included_timestamps_v2.2.txt")
    assert stamps.dtype == np.int64 and stamps.shape == (897,)
    np.testing.assert_array_equal(stamps, np.arange(902, 1799))


@pytest.mark.parametrize(
    ("name", "rows"), [("gt.csv", 341), ("det_good.csv", 2064), ("det_mediocre.csv", 2416)]
)
def test_fixture_csvs(fixtures_dir: Path, name: str, rows: int) -> None:
    path = fixtures_dir / "frame" / name
    data = read_ava_gt(path) if name == "gt.csv" else read_ava_detections(path)
    assert len(data) == rows
    first = path.read_text().splitlines()[0].split(",")
    assert data.video_ids[0] == first[0]
    assert data.timestamps[0] == int(first[1])
    np.testing.assert_array_equal(data.boxes.xyxy[0], [float(x) for x in first[2:6]])
    assert data.labels[0] == int(first[6])


def test_fixture_exclusions(fixtures_dir: Path) -> None:
    pairs = read_excluded_timestamps(fixtures_dir / "frame" / "excluded_timestamps.csv")
    assert len(pairs) == 16 and ("15nXDVCwkLG", 1542) in pairs


# --------------------------------------------------------------------------------------------
# Layout variants
# --------------------------------------------------------------------------------------------


def test_gt_without_person_id_column(tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    path.write_text("-vid,0902,0.1,0.2,0.3,0.4,12\n-vid,0903,0.1,0.2,0.3,0.4,5\n")
    gt = read_ava_gt(path)
    assert gt.video_ids.tolist() == ["-vid", "-vid"]
    assert gt.person_ids.tolist() == [-1, -1]
    assert gt.timestamps.tolist() == [902, 903]


def test_gt_mixed_person_id_columns(tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    path.write_text("a,0902,0.1,0.2,0.3,0.4,12,3\nb,0903,0.1,0.2,0.3,0.4,5\nc,904,0,0,1,1,1,7\n")
    gt = read_ava_gt(path)
    assert gt.person_ids.tolist() == [3, -1, 7]
    assert gt.labels.tolist() == [12, 5, 1]
    assert gt.video_ids.tolist() == ["a", "b", "c"]


def test_crlf_blank_lines_and_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "dets.csv"
    path.write_bytes(b"v1,0902,0.1,0.2,0.3,0.4,1,0.5\r\n\r\n\nv2,903,.1,0.2,0.3,1,2,1e-05")
    dets = read_ava_detections(path)
    assert dets.video_ids.tolist() == ["v1", "v2"]
    np.testing.assert_array_equal(dets.scores, [0.5, 1e-05])
    np.testing.assert_array_equal(dets.boxes.xyxy[1], [0.1, 0.2, 0.3, 1.0])


def test_non_ascii_video_ids(tmp_path: Path) -> None:
    path = tmp_path / "ex.csv"
    path.write_text("vidéo,0902\nplain,903\n", encoding="utf-8")
    videos, stamps = read_excluded_timestamps(path, as_arrays=True)
    assert videos.tolist() == ["vidéo", "plain"] and stamps.tolist() == [902, 903]


def test_empty_file_gives_empty_containers(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert len(read_ava_gt(path)) == 0
    assert len(read_ava_detections(path)) == 0
    assert len(read_ava_proposals(path)) == 0
    assert read_excluded_timestamps(path) == set()


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


def _random_dets(rng: np.random.Generator, n: int) -> KeyframeDetections:
    videos = np.array(["-abc", "_-Z6wFjXtGQ", "x1"])[rng.integers(0, 3, n)]
    corner = rng.random((n, 2)) * 0.5
    boxes = np.concatenate([corner, corner + rng.random((n, 2)) * 0.5], axis=1)
    return KeyframeDetections(
        videos, rng.integers(0, 2000, n), Boxes(boxes), rng.integers(1, 81, n), rng.random(n)
    )


def test_gt_round_trip_exact(tmp_path: Path) -> None:
    d = _random_dets(np.random.default_rng(0), 300)
    gt = KeyframeGroundTruth(d.video_ids, d.timestamps, d.boxes, d.labels, np.arange(300) - 1)
    write_ava_gt(tmp_path / "gt.csv", gt)
    back = read_ava_gt(tmp_path / "gt.csv")
    np.testing.assert_array_equal(back.video_ids, gt.video_ids)
    np.testing.assert_array_equal(back.timestamps, gt.timestamps)
    np.testing.assert_array_equal(back.boxes.xyxy, gt.boxes.xyxy)
    np.testing.assert_array_equal(back.labels, gt.labels)
    np.testing.assert_array_equal(back.person_ids, gt.person_ids)


def test_gt_writer_matches_official_layout(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ava" / "ava_sample_rows.csv"
    write_ava_gt(tmp_path / "gt.csv", read_ava_gt(src), decimals=3)
    assert (tmp_path / "gt.csv").read_text() == src.read_text()


def test_detections_round_trip(tmp_path: Path) -> None:
    dets = _random_dets(np.random.default_rng(1), 500)
    write_ava_detections(tmp_path / "exact.csv", dets, decimals=None)
    back = read_ava_detections(tmp_path / "exact.csv")
    np.testing.assert_array_equal(back.boxes.xyxy, dets.boxes.xyxy)
    np.testing.assert_array_equal(back.scores, dets.scores)
    write_ava_detections(tmp_path / "short.csv", dets)
    back = read_ava_detections(tmp_path / "short.csv")
    np.testing.assert_allclose(back.boxes.xyxy, dets.boxes.xyxy, atol=5e-4 + 1e-12)
    np.testing.assert_array_equal(back.scores, dets.scores)  # scores are always exact
    np.testing.assert_array_equal(back.labels, dets.labels)
    first = (tmp_path / "short.csv").read_text().splitlines()[0].split(",")
    assert len(first[1]) >= 4 and len(first[2].split(".")[1]) == 3


def test_proposals_round_trip_keeps_row_order(tmp_path: Path) -> None:
    d = _random_dets(np.random.default_rng(2), 200)
    write_ava_proposals(tmp_path / "p.csv", d.video_ids, d.timestamps, d.boxes, d.scores)
    back = read_ava_proposals(tmp_path / "p.csv")
    assert isinstance(back, ProposalRows)
    np.testing.assert_array_equal(back.video_ids, d.video_ids)
    np.testing.assert_array_equal(back.timestamps, d.timestamps)
    np.testing.assert_array_equal(back.boxes.xyxy, d.boxes.xyxy)
    np.testing.assert_array_equal(back.scores, d.scores)


def test_excluded_round_trip_and_padding(tmp_path: Path) -> None:
    pairs = {("b", 902), ("a", 1799), ("-c", 5)}
    write_excluded_timestamps(tmp_path / "ex.csv", pairs)
    assert (tmp_path / "ex.csv").read_text() == "-c,0005\na,1799\nb,0902\n"
    assert read_excluded_timestamps(tmp_path / "ex.csv") == pairs


def test_writers_refuse_unwritable_values(tmp_path: Path) -> None:
    d = _random_dets(np.random.default_rng(3), 3)
    bad_id = KeyframeDetections(["a,b", "c", "d"], d.timestamps, d.boxes, d.labels, d.scores)
    with pytest.raises(ValueError, match="video id"):
        write_ava_detections(tmp_path / "x.csv", bad_id)
    nan_score = KeyframeDetections(d.video_ids, d.timestamps, d.boxes, d.labels, [0.1, np.nan, 1])
    with pytest.raises(ValueError, match="NaN"):
        write_ava_detections(tmp_path / "x.csv", nan_score)
    assert not (tmp_path / "x.csv").exists()


_NUMBER_TEXT = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.floats(0, 1).map(repr),
    st.floats(1e-12, 1e-3).map(repr),
    st.integers(0, 99999).map(lambda i: f"{i:04d}"),
    st.tuples(st.integers(0, 10**18), st.integers(0, 19)).map(
        lambda t: (
            f"{str(t[0])[: len(str(t[0])) - t[1]] or '0'}.{str(t[0])[-t[1] :] if t[1] else ''}"
        )
    ),
    st.sampled_from(["-0", "+5", ".5", "5.", "-.25", "1E3", "0.10000000000000001", " 1.5"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_NUMBER_TEXT, _NUMBER_TEXT), min_size=1, max_size=30))
def test_number_parsing_equals_python_float(tmp_path_factory, values) -> None:
    path = tmp_path_factory.mktemp("num") / "p.csv"
    lines = [f"v,1,{a},0,{b},1,{b}" for a, b in values]
    path.write_text("\n".join(lines) + "\n")
    rows = read_ava_proposals(path)
    expect_a = [float(a) for a, _ in values]
    expect_b = [float(b) for _, b in values]
    assert rows.boxes.xyxy[:, 0].tolist() == expect_a
    assert rows.boxes.xyxy[:, 2].tolist() == expect_b
    assert rows.scores.tolist() == expect_b
    assert all(
        math.copysign(1, x) == math.copysign(1, y)
        for x, y in zip(rows.boxes.xyxy[:, 0], expect_a, strict=True)
    )


# --------------------------------------------------------------------------------------------
# Malformed input
# --------------------------------------------------------------------------------------------

_GOOD_DET = "v,0902,0.1,0.2,0.3,0.4,1,0.9\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_GOOD_DET + "v,0902,0.1,0.2,0.3,0.4,1\n", "line 2"),  # wrong column count
        (_GOOD_DET + _GOOD_DET + "v,0902,0.1,0.2,0.3,0.4,1,0.9,7\n", "line 3"),
        (_GOOD_DET + "v,0902,0.1,abc,0.3,0.4,1,0.9\n", "line 2"),  # non-numeric
        (_GOOD_DET + "v,0902,0.1,0.2,0.3,0.4,walk,0.9\n", "line 2"),
        (_GOOD_DET + "v,0902,0.1,0.2,,0.4,1,0.9\n", "line 2"),  # empty field
        (_GOOD_DET + "v,0902,0.1,0.2,nan,0.4,1,0.9\n", "line 2"),  # NaN coordinate
        (_GOOD_DET + "v,0902,0.1,0.2,0.3,0.4,1,nan\n", "line 2"),  # NaN score
        (_GOOD_DET + "v,09.5,0.1,0.2,0.3,0.4,1,0.9\n", "line 2"),  # non-integer timestamp
        (_GOOD_DET + ",0902,0.1,0.2,0.3,0.4,1,0.9\n", "line 2"),  # empty video id
    ],
)
def test_malformed_detection_csv(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_ava_detections(path)
    assert str(path) in str(info.value) and needle in str(info.value)


@pytest.mark.parametrize(
    ("reader", "text"),
    [
        (read_ava_gt, "v,0902,0.1,0.2,0.3,0.4\n"),
        (read_ava_gt, "v,0902,0.1,0.2,0.3,inf,1,0\n"),
        (read_ava_gt, "v,0902,0.1,0.2,0.3,0.4,1,0.5\n"),  # non-integer person id
        (read_ava_proposals, "v,0902,0.1,0.2,0.3,0.4,1,0.9\n"),
        (read_ava_proposals, "v,0902,0.1,0.2,0.3,0.4,x\n"),
        (read_excluded_timestamps, "v,0902,1\n"),
        (read_excluded_timestamps, "v,later\n"),
        (read_included_timestamps, "0902\nnoon\n"),
        (read_video_list, "abc def\n"),
    ],
)
def test_malformed_other_files(tmp_path: Path, reader, text: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        reader(path)
    assert str(path) in str(info.value) and "line" in str(info.value)


@pytest.mark.parametrize(
    "reader",
    [
        read_ava_gt,
        read_ava_detections,
        read_ava_proposals,
        read_excluded_timestamps,
        read_video_list,
        read_included_timestamps,
        read_labelmap,
    ],
)
def test_missing_file(tmp_path: Path, reader) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(FormatError, match="not found") as info:
        reader(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('item {\n  name: "a"\n  id: 1\n}\nitem {\n  name: "b"\n}\n', 5),  # no id
        ('item {\n  name: "a"\n  id: one\n}\n', 3),  # id not an integer
        ("item {\n  id: 1\n}\n", 1),  # no name
        ('item {\n  name: "a"\n  id: 1\n', 3),  # unterminated block
        ('thing {\n  name: "a"\n  id: 1\n}\n', 1),  # unknown block
        ('item {\n  name: "a\n  id: 1\n}\n', 2),  # unterminated string
        ('item {\n  name: "a"\n  id: 1\n}\nitem {\n  name: "b"\n  id: 1\n}\n', 5),  # duplicate
        ('item {\n  name "a"\n  id: 1\n}\n', 2),  # missing colon
    ],
)
def test_malformed_labelmap(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "lm.pbtxt"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_labelmap(path)
    assert str(path) in str(info.value) and f"line {line}" in str(info.value)
