"""Hostile input found or anticipated by the fuzz tests (tests/fuzz), pinned as examples:
ids that would escape a folder, NaN/Inf features (error and mask modes), and the reader
bugs the fuzzing found (each must now be a FormatError naming the file)."""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from wsal.config import load_run_config
from wsal.errors import ConfigError, DataWarning, FormatError
from wsal.io.features import (
    open_temporal_folder,
    safe_path_component,
    safe_video_filename,
)
from wsal.io.safe_pickle import load_npy, safe_pickle_load
from wsal.io.temporal import read_wtalc_annotations
from wsal.io.tubes import proposal_filename

ESCAPING_IDS = [
    "../x",
    "a/../../b",
    "/etc/passwd",
    "a\\b",
    "..\\x",
    "a\x00b",
    "",
    ".",
    "a//b",
    "a\nb",
    "x" * 300,
]


@pytest.mark.parametrize("bad", ESCAPING_IDS)
def test_ids_that_would_escape_a_folder_are_refused(bad):
    with pytest.raises(FormatError, match="unsafe video id"):
        safe_video_filename(bad)
    with pytest.raises(FormatError, match="unsafe video id"):
        proposal_filename(bad)


def test_safe_names_map_slashes():
    assert (
        safe_video_filename("Biking/v_Biking_g01_c03", suffix=".npy")
        == "Biking__v_Biking_g01_c03.npy"
    )
    assert safe_video_filename("-5KQ66BBWC4") == "-5KQ66BBWC4"
    assert safe_path_component("train", "split") == "train"
    for bad in ("../train", "a/b", "", "..", "x\x00"):
        with pytest.raises(FormatError, match="unsafe split name"):
            safe_path_component(bad, "split")


def _folder(root: Path, ids=("v0", "v1"), feats=None) -> Path:
    db = {v: {"subset": "train", "annotations": [{"segment": [0, 1], "label": "A"}]} for v in ids}
    root.mkdir(parents=True, exist_ok=True)
    (root / "gt.json").write_text(json.dumps({"database": db}))
    (root / "split_train.txt").write_text("\n".join(ids) + "\n")
    for i, v in enumerate(ids):
        x = np.full((6, 2), float(i), np.float32) if feats is None else feats[i]
        for stream in ("rgb", "flow"):
            d = root / "features" / "train" / stream
            d.mkdir(parents=True, exist_ok=True)
            if "/" not in v and ".." not in v:
                np.save(d / f"{v}.npy", x)
    return root


def test_escaping_id_in_a_split_file_is_refused_before_any_file_access(tmp_path):
    outside = tmp_path / "secret.npy"
    np.save(outside, np.zeros((2, 2), np.float32))
    folder = open_temporal_folder(
        _folder(tmp_path / "ds", ids=("v0", "../../../secret")), splits=("train",)
    )
    with pytest.raises(FormatError, match="unsafe video id '../../../secret'"):
        folder.load_features("train", "../../../secret")


def test_escaping_split_or_stream_names_are_refused(tmp_path):
    root = _folder(tmp_path / "ds")
    with pytest.raises(FormatError, match="unsafe split name"):
        open_temporal_folder(root, splits=("../train",))
    with pytest.raises(FormatError, match="unsafe stream name"):
        open_temporal_folder(root, splits=("train",), streams=("rgb", "../flow"))


def _nan_feats():
    bad = np.ones((6, 2), np.float32)
    bad[2, 1], bad[4, 0] = np.nan, np.inf
    return [np.zeros((6, 2), np.float32), bad]


def test_nonfinite_features_are_rejected_naming_video_and_snippet(tmp_path):
    folder = open_temporal_folder(_folder(tmp_path / "ds", feats=_nan_feats()), splits=("train",))
    with pytest.raises(
        FormatError, match=r"video 'v1' contain NaN/Inf \(2 snippets, first: snippet 2\)"
    ) as e:
        folder.load_features("train", "v1")
    assert "v1.npy" in str(e.value) and "data.nonfinite=mask" in str(e.value)


def test_nonfinite_features_masked_on_request(tmp_path):
    root = _folder(tmp_path / "ds", feats=_nan_feats())
    folder = open_temporal_folder(root, splits=("train",), nonfinite="mask")
    with pytest.warns(DataWarning, match=r"video 'v1' \(2 snippets, first: snippet 2\)"):
        x = folder.load_features("train", "v1")
    assert x.shape == (6, 4) and np.isfinite(x).all()
    assert (x[[2, 4]] == 0).all() and (x[[0, 1, 3, 5]] == 1).all()
    assert folder.masked["v1"].tolist() == [2, 4] and "v0" not in folder.masked
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (folder.load_features("train", "v0") == 0).all()  # clean video: no warning


def test_float64_overflowing_float32_counts_as_nonfinite(tmp_path):
    big = np.ones((3, 2), np.float64)
    big[1, 0] = 1e300
    folder = open_temporal_folder(_folder(tmp_path / "ds", feats=[big, big]), splits=("train",))
    with pytest.raises(FormatError, match="first: snippet 1"):
        folder.load_features("train", "v0")


def test_nonfinite_config_key(tmp_path):
    assert load_run_config(None, []).data.nonfinite == "error"
    assert load_run_config(None, ["data.nonfinite=mask"]).data.nonfinite == "mask"
    with pytest.raises(ConfigError, match="nonfinite"):
        load_run_config(None, ["data.nonfinite=drop"])


def test_training_with_masked_snippets_records_them(tmp_path):
    from wsal.engine.trainer import train_temporal

    root = _folder(
        tmp_path / "ds", ids=("v0", "v1", "v2", "v3"), feats=[*_nan_feats(), *_nan_feats()]
    )
    sets = [
        "method=mil_topk",
        f"data.root={root}",
        "train.epochs=1",
        "train.iterations_per_epoch=1",
        "model.hidden_dim=8",
        "train.device=cpu",
        "data.nonfinite=mask",
    ]
    with pytest.warns(DataWarning):
        train_temporal(load_run_config(None, sets), tmp_path / "run", log=lambda s: None)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["masked_snippets"] == {"v1": [2, 4], "v3": [2, 4]}
    with pytest.raises(FormatError, match="NaN/Inf"):
        train_temporal(load_run_config(None, sets[:-1]), tmp_path / "run2", log=lambda s: None)


# ---- reader bugs found by the fuzz tests ---------------------------------------------------


def _npy_with_header(header: str, body: bytes = b"\0" * 16) -> bytes:
    h = header.encode("latin1")
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body


@pytest.mark.parametrize("mmap", [None, "r"])
def test_npy_header_claiming_terabytes_is_refused_before_allocating(tmp_path, mmap):
    path = tmp_path / "huge.npy"
    path.write_bytes(
        _npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }")
    )
    with pytest.raises(FormatError, match="truncated .npy data"):
        load_npy(path, mmap_mode=mmap)


@pytest.mark.parametrize("kind", [b"bytearray", b"bytes"])
def test_pickle_cannot_allocate_by_size(tmp_path, kind):
    path = tmp_path / "x.pkl"  # bytearray(2**30): one GiB allocated by four bytes of pickle
    path.write_bytes(b"\x80\x02c__builtin__\n" + kind + b"\nJ\x00\x00\x00\x40\x85R.")
    with pytest.raises(FormatError, match="size argument"):
        safe_pickle_load(path)


@pytest.mark.parametrize(
    "meta",
    [
        {"snippet": []},
        {"snippet": {"frames_per_snippet": 1e400}},
        {"snippet": {"frames_per_snippet": 2.7}},
        {"snippet": {"fps": "x"}},
        {"snippet": {"fps": 0}},
        [],
        "x",
    ],
)
def test_bad_meta_json_is_a_format_error(tmp_path, meta):
    root = _folder(tmp_path / "ds")
    (root / "meta.json").write_text(json.dumps(meta).replace("Infinity", "1e400"))
    with pytest.raises(FormatError, match="meta.json"):
        open_temporal_folder(root, splits=("train",))


def _objects(*items: object) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        out[i] = x
    return out


def _wtalc(tmp_path: Path, **replace: np.ndarray) -> Path:
    arrays = {
        "videoname": np.array([b"v0", b"v1"]),
        "classlist": np.array([b"A"]),
        "subset": np.array([b"validation", b"test"]),
        "segments": _objects([[0.0, 1.0]], [[2.0, 3.0]]),
        "labels": _objects(["A"], ["A"]),
        "duration": np.array([[5.0], [6.0]]),
    }
    arrays.update(replace)
    for name, arr in arrays.items():
        np.save(tmp_path / f"{name}.npy", arr, allow_pickle=True)
    return tmp_path


def test_wtalc_entries_must_be_lists(tmp_path):
    read_wtalc_annotations(_wtalc(tmp_path))
    with pytest.raises(
        FormatError, match=r"labels.npy \(video 0 \(v0\)\): expected a list per video"
    ):
        read_wtalc_annotations(_wtalc(tmp_path, labels=np.zeros(2, np.float32)))
    labels = _objects("A", ["A"])  # a string has a length too, but is not a label list
    with pytest.raises(FormatError, match="expected a list per video"):
        read_wtalc_annotations(_wtalc(tmp_path, labels=labels))


def test_wtalc_complex_durations_are_refused(tmp_path):
    with pytest.raises(FormatError, match="duration.npy: expected numbers, got dtype complex"):
        read_wtalc_annotations(_wtalc(tmp_path, duration=np.ones(2, np.complex64)))
