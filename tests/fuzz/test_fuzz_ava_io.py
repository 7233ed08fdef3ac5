"""Fuzz tests of the AVA readers (wsal.io.ava): CSVs, label maps, exclusions and lists given
random and mutated bytes raise only wsal's own errors. Seeds are the real files in
``shared/data/ava`` (and rows written by wsal's own writers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzing import fuzz_settings, hostile_bytes, only_wsal_errors, write
from hypothesis import given
from hypothesis import strategies as st

from wsal.io import ava

GT = b"0f39OWEqJ24,0902,0.031,0.162,0.670,0.995,12,0\n0f39OWEqJ24,0903,0.034,0.189,0.669,0.980,17\n"
DET = b"15nXDVCwkLG,0949,0.498,0.055,0.686,0.462,1,0.2870718039618235\nx,1,0,0,1,1,3,1e-3\n"
PROP = b"15nXDVCwkLG,0949,0.498,0.055,0.686,0.462,0.99\n-5KQ66BBWC4,0902,0.1,0.2,0.3,0.4,0.5\n"

CSV_READERS = {
    "gt": (ava.read_ava_gt, GT),
    "detections": (ava.read_ava_detections, DET),
    "proposals": (ava.read_ava_proposals, PROP),
}


@fuzz_settings(150)
@given(data=st.data())
def test_box_csvs(tmp_path, data):
    name = data.draw(st.sampled_from(sorted(CSV_READERS)))
    reader, valid = CSV_READERS[name]
    # a valid file of another layout is hostile too (wrong column count)
    seed = data.draw(st.sampled_from([valid, GT, DET, PROP]))
    path = write(tmp_path / f"{name}.csv", data.draw(hostile_bytes(seed)))
    only_wsal_errors(reader, path)


@pytest.fixture(scope="module")
def ava_files(shared_data: Path) -> dict[str, bytes]:
    """Heads of the real AVA auxiliary files."""
    d = shared_data / "ava"
    return {
        "labelmap": (d / "ava_action_list_v2.2.pbtxt").read_bytes()[:700],
        "labelmap60": (d / "ava_action_list_v2.2_for_activitynet_2019.pbtxt").read_bytes()[:400],
        "excluded": (d / "ava_val_excluded_timestamps_v2.2.csv").read_bytes(),
        "included": (d / "ava_included_timestamps_v2.2.txt").read_bytes()[:300],
        "videos": (d / "ava_test_v2.2.txt").read_bytes()[:300],
    }


@fuzz_settings(100)
@given(data=st.data())
def test_labelmap(ava_files, tmp_path, data):
    seed = ava_files[data.draw(st.sampled_from(["labelmap", "labelmap60"]))]
    path = write(tmp_path / "map.pbtxt", data.draw(hostile_bytes(seed)))
    only_wsal_errors(ava.read_labelmap, path)


@fuzz_settings(50)
@given(data=st.data())
def test_excluded_timestamps(ava_files, tmp_path, data):
    path = write(tmp_path / "excl.csv", data.draw(hostile_bytes(ava_files["excluded"])))
    only_wsal_errors(ava.read_excluded_timestamps, path, as_arrays=data.draw(st.booleans()))


@fuzz_settings(40)
@given(data=st.data())
def test_video_list_and_included_timestamps(ava_files, tmp_path, data):
    which = data.draw(st.sampled_from(["videos", "included"]))
    path = write(tmp_path / "list.txt", data.draw(hostile_bytes(ava_files[which])))
    only_wsal_errors(ava.read_video_list, path)
    only_wsal_errors(ava.read_included_timestamps, path)
