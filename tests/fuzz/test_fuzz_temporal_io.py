"""Fuzz tests of the temporal annotation readers (wsal.io.temporal): hostile input raises
only wsal's own errors. Valid seeds are trimmed copies of the real files in ``shared/data``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fuzzing import (
    fuzz_settings,
    hostile_bytes,
    hostile_json,
    npy_bytes,
    only_wsal_errors,
    random_arrays,
    write,
)
from hypothesis import given
from hypothesis import strategies as st

from wsal.io import temporal as tio


def _head_of_database(path: Path, n: int) -> dict:
    doc = json.loads(path.read_text())
    keys = list(doc["database"])[:n]
    return {
        **{k: v for k, v in doc.items() if k != "database"},
        "database": {k: doc["database"][k] for k in keys},
    }


@pytest.fixture(scope="module")
def seeds(shared_data: Path) -> dict:
    """Small valid documents taken from the real files."""
    thumos = _head_of_database(shared_data / "thumos14" / "gt.json", 3)
    anet = _head_of_database(
        shared_data / "activitynet12" / "activity_net.v1-2.min-missing-removed.json", 2
    )
    anet["taxonomy"] = anet.get("taxonomy", [])[:2]
    results = {
        "version": "VERSION 1.3",
        "results": {
            "v1": [{"label": "A", "segment": [1.0, 2.5], "score": 0.9}],
            "v2": [
                {"label": "B", "segment": ["3", "4"], "score": 0.1},
                {"label": "A", "segment": [0, 1], "score": 1},
            ],
        },
        "external_data": {"used": False},
    }
    fps = dict(
        list(json.loads((shared_data / "thumos14" / "fps_dict.json").read_text()).items())[:3]
    )
    points = (
        "\n".join((shared_data / "thumos14" / "point_labels.csv").read_text().splitlines()[:6])
        + "\n"
    )
    return {
        "thumos": thumos,
        "anet": anet,
        "results": results,
        "fps": fps,
        "points": points.encode(),
    }


GT_OPTIONS = st.fixed_dictionaries(
    {
        "subset_map": st.sampled_from([None, "thumos14", "activitynet"]),
        "classes": st.sampled_from([None, ["HighJump", "CricketBowling", "Washing dishes"]]),
        "clip_to_duration": st.booleans(),
    }
)


@fuzz_settings(125)
@given(data=st.data())
def test_activitynet_gt(seeds, tmp_path, data):
    doc = seeds[data.draw(st.sampled_from(["thumos", "anet"]))]
    path = write(tmp_path / "gt.json", data.draw(hostile_json(doc)))
    only_wsal_errors(tio.read_activitynet_gt, path, **data.draw(GT_OPTIONS))


@fuzz_settings(100)
@given(data=st.data())
def test_activitynet_results(seeds, tmp_path, data):
    path = write(tmp_path / "res.json", data.draw(hostile_json(seeds["results"])))
    classes = data.draw(st.sampled_from([None, ["A", "B"], []]))
    only_wsal_errors(tio.read_activitynet_results, path, classes=classes)


@fuzz_settings(50)
@given(data=st.data())
def test_fps_dict(seeds, tmp_path, data):
    path = write(tmp_path / "fps.json", data.draw(hostile_json(seeds["fps"])))
    only_wsal_errors(tio.read_fps_dict, path)


@fuzz_settings(50)
@given(data=st.data())
def test_point_labels(seeds, tmp_path, data):
    path = write(tmp_path / "points.csv", data.draw(hostile_bytes(seeds["points"])))
    only_wsal_errors(tio.read_point_labels, path)


@fuzz_settings(40)
@given(data=st.data())
def test_split_file(tmp_path, data):
    valid = b"video_test_0000896\nvideo_test_0000897\n\nvideo_validation_0000051\n"
    path = write(tmp_path / "split.txt", data.draw(hostile_bytes(valid)))
    only_wsal_errors(tio.read_split_file, path)


THUMOS_FILES = {
    "BaseballPitch_test.txt": b"video_test_0000324  49.2 53.5\nvideo_test_0000324  116.7 122.5\n",
    "HighJump_test.txt": b"video_test_0000896 18.6 24.8\n\nvideo_test_0000897\t1 2\n",
    "Ambiguous_test.txt": b"video_test_0000278  0.0 1.4\n",
    "detclasslist.txt": b"7 BaseballPitch\n40 HighJump\n",
}


@fuzz_settings(40)
@given(data=st.data())
def test_thumos14_txt(tmp_path, data):
    folder = tmp_path / "thumos_txt"
    for name, content in THUMOS_FILES.items():
        write(folder / name, content)
    victim = data.draw(st.sampled_from(sorted(THUMOS_FILES)))
    write(folder / victim, data.draw(hostile_bytes(THUMOS_FILES[victim])))
    split = data.draw(st.sampled_from([None, "test"]))
    only_wsal_errors(tio.read_thumos14_txt, folder, split=split)


def _wtalc_seed(shared_data: Path, n: int = 4) -> dict[str, np.ndarray]:
    src = shared_data / "thumos14" / "wtalc" / "Thumos14reduced-Annotations"
    out = {}
    for name in (
        "videoname",
        "classlist",
        "subset",
        "duration",
        "segments",
        "labels",
        "original_fps",
    ):
        arr = np.load(src / f"{name}.npy", allow_pickle=True)
        out[name] = arr if name == "classlist" else arr[:n]
    return out


@pytest.fixture(scope="module")
def wtalc_seed(shared_data: Path) -> dict[str, bytes]:
    """The first rows of the real THUMOS14 W-TALC annotation files, as ``.npy`` bytes."""
    return {name: npy_bytes(arr) for name, arr in _wtalc_seed(shared_data).items()}


@fuzz_settings(50)
@given(data=st.data())
def test_wtalc_annotations(wtalc_seed, tmp_path, data):
    folder = tmp_path / "wtalc"
    for name, content in wtalc_seed.items():
        write(folder / f"{name}.npy", content)
    write(folder / "Ambiguous_test.txt", THUMOS_FILES["Ambiguous_test.txt"])
    victim = data.draw(st.sampled_from(sorted(wtalc_seed)))
    how = data.draw(st.sampled_from(["bytes", "array", "missing"]))
    target = folder / f"{victim}.npy"
    if how == "bytes":
        write(target, data.draw(hostile_bytes(wtalc_seed[victim], max_ops=2)))
    elif how == "array":
        write(target, npy_bytes(data.draw(random_arrays())))
    else:
        target.unlink()
    only_wsal_errors(
        tio.read_wtalc_annotations,
        folder,
        subset_map=data.draw(st.sampled_from([None, "thumos14"])),
    )


@fuzz_settings(75)
@given(data=st.data())
def test_wtalc_features(tmp_path, data):
    valid = np.empty(2, dtype=object)
    valid[0], valid[1] = np.zeros((3, 4), np.float32), np.ones((5, 4), np.float32)
    how = data.draw(st.sampled_from(["bytes", "array", "members"]))
    if how == "bytes":
        content = data.draw(hostile_bytes(npy_bytes(valid), max_ops=2))
    elif how == "array":
        content = npy_bytes(data.draw(random_arrays()))
    else:
        members = data.draw(st.lists(random_arrays(), min_size=1, max_size=3))
        arr = np.empty(len(members), dtype=object)
        for i, m in enumerate(members):
            arr[i] = m
        content = npy_bytes(arr)
    path = write(tmp_path / "feats.npy", content)
    names = data.draw(st.sampled_from([None, ["a", "b"]]))
    only_wsal_errors(tio.read_wtalc_features, path, names)
