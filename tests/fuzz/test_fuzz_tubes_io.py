"""Fuzz tests of the tube readers (wsal.io.tubes): ``gt_tubes.json``, tube results JSON, the
UCF101-24 pickle (restricted unpickler), video lists and per-video proposal ``.npz`` files.
Seeds are the shared fixtures and files written by wsal's own writers."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from fuzzing import (
    JSON_VALUES,
    fuzz_settings,
    hostile_bytes,
    hostile_json,
    mutated_json,
    only_wsal_errors,
    random_arrays,
    write,
)
from hypothesis import given
from hypothesis import strategies as st

from wsal.io import tubes


def _small_doc(path: Path, key: str, n_videos: int, n_tubes: int, n_frames: int) -> dict:
    doc = json.loads(path.read_text())
    videos = dict(list(doc[key].items())[:n_videos])
    for entry in videos.values():
        items = entry["tubes"] if key == "videos" else entry
        items[:] = items[:n_tubes]
        for t in items:
            for k in ("frames", "boxes", "frame_scores"):
                if k in t:
                    t[k] = t[k][:n_frames]
    return {**doc, key: videos}


@pytest.fixture(scope="module")
def tube_docs(fixtures_dir: Path) -> dict:
    """A two-video ground truth and results document cut from the shared fixtures."""
    return {
        "gt": _small_doc(fixtures_dir / "video" / "gt_tubes.json", "videos", 2, 2, 4),
        "det": _small_doc(fixtures_dir / "video" / "det_good.json", "results", 2, 2, 4),
    }


@fuzz_settings(100)
@given(data=st.data())
def test_gt_tubes(tube_docs, tmp_path, data):
    path = write(tmp_path / "gt_tubes.json", data.draw(hostile_json(tube_docs["gt"])))
    only_wsal_errors(tubes.read_gt_tubes, path)


@fuzz_settings(100)
@given(data=st.data())
def test_tube_results(tube_docs, tmp_path, data):
    path = write(tmp_path / "det.json", data.draw(hostile_json(tube_docs["det"])))
    labels = data.draw(st.sampled_from([None, ["Basketball", "Biking"]]))
    only_wsal_errors(tubes.read_tube_results, path, labels, keep_unknown=data.draw(st.booleans()))


def _ucf_seed() -> dict:
    boxes = np.array([[189, 102, 47, 78], [188, 102, 47, 78], [186, 101, 47, 78]], np.uint16)
    return {
        np.str_("Basketball/v_Basketball_g01_c01"): {
            "numf": 60,
            "label": 0,
            "annotations": [{"label": 0, "sf": 3, "ef": 6, "boxes": boxes}],
        },
        "Biking/v_Biking_g01_c01": {
            "numf": np.int64(10),
            "label": 1,
            "annotations": [{"label": 1, "sf": 0, "ef": 3, "boxes": boxes.astype(np.uint8)}],
        },
    }


PICKLE_VALUES = st.one_of(JSON_VALUES, random_arrays(), st.integers(-(2**65), 2**65))


@fuzz_settings(100)
@given(data=st.data())
def test_ucf101_24_pickle(tmp_path, data):
    seed = _ucf_seed()
    if data.draw(st.booleans()):
        seed = {
            "db": seed,
            "trainvideos": ["Biking/v_Biking_g01_c01"],
            "classes": ["Basketball", "Biking"],
        }
    protocol = data.draw(st.sampled_from([2, 4]))
    if data.draw(st.booleans()):
        content = pickle.dumps(data.draw(mutated_json(seed, values=PICKLE_VALUES)), protocol)
    else:
        content = data.draw(hostile_bytes(pickle.dumps(seed, protocol)))
    path = write(tmp_path / "pyannot.pkl", content)
    only_wsal_errors(tubes.read_ucf101_24_pickle, path)
    only_wsal_errors(tubes.read_video_list, path)


@fuzz_settings(40)
@given(data=st.data())
def test_video_list_text(tmp_path, data):
    valid = b"Basketball/v_Basketball_g01_c01\nBiking/v_Biking_g01_c01.avi 1\n# comment\n"
    path = write(tmp_path / "testlist01.txt", data.draw(hostile_bytes(valid)))
    only_wsal_errors(tubes.read_video_list, path)


def _proposals_seed(tmp_path: Path) -> bytes:
    p = tubes.TubeProposals(
        frames=[1, 1, 2],
        boxes=np.array([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 11, 11]], float),
        scores=[0.9, 0.5, 0.8],
        features=np.zeros((3, 4), np.float32),
    )
    tubes.write_tube_proposals(tmp_path / "seed.npz", p)
    return (tmp_path / "seed.npz").read_bytes()


@fuzz_settings(75)
@given(data=st.data())
def test_tube_proposals(tmp_path, data):
    seed = _proposals_seed(tmp_path)
    if data.draw(st.booleans()):
        content = data.draw(hostile_bytes(seed, max_ops=2))
    else:
        with np.load(io.BytesIO(seed)) as z:
            arrays = {k: z[k] for k in z.files}
        victim = data.draw(st.sampled_from(sorted(arrays)))
        if data.draw(st.booleans()):
            del arrays[victim]
        else:
            arrays[victim] = data.draw(random_arrays())
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        content = buf.getvalue()
    only_wsal_errors(tubes.read_tube_proposals, write(tmp_path / "v.npz", content))
