"""Fuzz tests of the temporal dataset folder (wsal.io.features): one of its files (gt.json,
a split file, meta.json, fps_dict.json, a feature .npy) is replaced by hostile content;
opening the folder and loading every video raises only wsal's own errors, in both NaN/Inf
modes. Also the memory-mapped box-feature matrix."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
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

from wsal.errors import DataWarning
from wsal.io.features import open_box_features, open_temporal_folder

GT = {
    "database": {
        "v1": {
            "subset": "train",
            "duration": 3.2,
            "annotations": [{"segment": ["0.64", "1.28"], "label": "Jump"}],
        },
        "Cls/v2": {
            "subset": "train",
            "fps": 30,
            "annotations": [{"segment": [0, 1], "label": "Run"}],
        },
    }
}
JSON_FILES = {
    "gt.json": GT,
    "meta.json": {"snippet": {"frames_per_snippet": 16, "fps": 25.0}},
    "fps_dict.json": {"v1": 29.97, "Cls/v2": 25},
}
SPLIT = b"v1\nCls/v2\n"
FEATURES = {
    "features/train/rgb/v1.npy": np.zeros((5, 3), np.float32),
    "features/train/flow/v1.npy": np.ones((5, 2), np.float32),
    "features/train/rgb/Cls__v2.npy": np.zeros((4, 3), np.float64),
    "features/train/flow/Cls__v2.npy": np.ones((3, 2), np.float16),
}


def _write_folder(root: Path) -> None:
    for name, doc in JSON_FILES.items():
        write(root / name, json.dumps(doc).encode())
    write(root / "split_train.txt", SPLIT)
    for name, arr in FEATURES.items():
        write(root / name, npy_bytes(arr))


@st.composite
def hostile_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """``(relative path, content)`` of one folder file replaced by hostile content."""
    kind = draw(st.sampled_from(["json", "split", "npy", "npy"]))
    if kind == "json":
        name = draw(st.sampled_from(sorted(JSON_FILES)))
        return name, draw(hostile_json(JSON_FILES[name]))
    if kind == "split":
        return "split_train.txt", draw(hostile_bytes(SPLIT))
    name = draw(st.sampled_from(sorted(FEATURES)))
    if draw(st.booleans()):
        return name, npy_bytes(draw(random_arrays()))
    return name, draw(hostile_bytes(npy_bytes(FEATURES[name]), max_ops=2))


def _open_and_load(root: Path, nonfinite: str) -> None:
    folder = open_temporal_folder(root, splits=("train",), nonfinite=nonfinite)
    folder.check("train")
    folder.video_labels("train")
    for video in folder.splits["train"]:
        x = folder.load_features("train", video)
        assert x.dtype == np.float32 and x.ndim == 2 and np.isfinite(x).all()
        assert folder.timing_of(video).seconds_per_snippet > 0


@fuzz_settings(100)
@given(victim=hostile_file(), nonfinite=st.sampled_from(["error", "mask"]))
def test_temporal_folder(tmp_path, victim, nonfinite):
    root = tmp_path / "ds"
    _write_folder(root)
    write(root / victim[0], victim[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        only_wsal_errors(_open_and_load, root, nonfinite)


@fuzz_settings(50)
@given(data=st.data())
def test_box_features(tmp_path, data):
    valid = npy_bytes(np.zeros((4, 8), np.float16))
    content = data.draw(st.one_of(hostile_bytes(valid, max_ops=2), random_arrays().map(npy_bytes)))
    path = write(tmp_path / "box.npy", content)
    arr = only_wsal_errors(open_box_features, path, rows=data.draw(st.sampled_from([None, 4])))
    del arr  # release the memory map before the next example
