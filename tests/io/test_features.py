"""The temporal dataset folder and box-feature stores: layout, timing and clear errors."""

import json

import numpy as np
import pytest

from wsal.errors import FormatError
from wsal.io.features import open_box_features, open_temporal_folder, safe_video_filename


def _folder(tmp_path, *, fps=None, lengths=(10, 6), flow_lengths=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = {}
    for i, t in enumerate(lengths):
        v = f"video_{i}"
        db[v] = {
            "subset": "train" if i == 0 else "test",
            "duration": t * 0.64,
            "annotations": [{"segment": ["0.64", "1.92"], "label": "Jump" if i == 0 else "Run"}],
        }
        if fps and i == 0:
            db[v]["fps"] = fps
    (tmp_path / "gt.json").write_text(json.dumps({"database": db}))
    (tmp_path / "split_train.txt").write_text("video_0\n")
    (tmp_path / "split_test.txt").write_text("video_1\n")
    flow_lengths = flow_lengths or lengths
    for i, (t, tf) in enumerate(zip(lengths, flow_lengths)):
        split = "train" if i == 0 else "test"
        for stream, n in (("rgb", t), ("flow", tf)):
            d = tmp_path / "features" / split / stream
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / f"video_{i}.npy", np.full((n, 3), i + 1, np.float32))
    return tmp_path


def test_open_and_load(tmp_path):
    f = open_temporal_folder(_folder(tmp_path))
    assert f.classes == ["Jump", "Run"] and f.splits == {"train": ["video_0"], "test": ["video_1"]}
    x = f.load_features("train", "video_0")
    assert x.shape == (10, 6) and x.dtype == np.float32
    assert f.timing.seconds_per_snippet == pytest.approx(0.64)
    np.testing.assert_array_equal(f.video_labels("test"), [[0, 1]])


def test_per_video_fps_and_meta_timing(tmp_path):
    root = _folder(tmp_path, fps=30.0)
    (root / "meta.json").write_text(json.dumps({"snippet": {"frames_per_snippet": 8, "fps": 25}}))
    f = open_temporal_folder(root)
    assert f.timing_of("video_0").seconds_per_snippet == pytest.approx(8 / 30)
    assert f.timing_of("video_1").seconds_per_snippet == pytest.approx(8 / 25)


def test_streams_off_by_one_are_cut_else_error(tmp_path):
    f = open_temporal_folder(_folder(tmp_path, flow_lengths=(9, 6)))
    assert f.load_features("train", "video_0").shape == (9, 6)
    f2 = open_temporal_folder(_folder(tmp_path / "b", flow_lengths=(4, 6)))
    with pytest.raises(FormatError, match="different lengths"):
        f2.load_features("train", "video_0")


def test_missing_feature_file_is_named(tmp_path):
    root = _folder(tmp_path)
    (root / "features/test/flow/video_1.npy").unlink()
    f = open_temporal_folder(root)
    with pytest.raises(FormatError, match=r"video_1\.npy.*feature file missing"):
        f.check("test")
    with pytest.raises(FormatError, match="video_1"):
        f.load_features("test", "video_1")


def test_nan_features_name_video_and_snippet(tmp_path):
    root = _folder(tmp_path)
    x = np.ones((10, 3), np.float32)
    x[4, 1] = np.nan
    np.save(root / "features/train/rgb/video_0.npy", x)
    with pytest.raises(FormatError, match=r"video_0.*NaN.*snippet 4"):
        open_temporal_folder(root).load_features("train", "video_0")


def test_wrong_shape_and_empty_video(tmp_path):
    root = _folder(tmp_path)
    np.save(root / "features/train/rgb/video_0.npy", np.ones(10, np.float32))
    with pytest.raises(FormatError, match="T x D"):
        open_temporal_folder(root).load_features("train", "video_0")
    for s in ("rgb", "flow"):
        np.save(root / f"features/train/{s}/video_0.npy", np.ones((0, 3), np.float32))
    with pytest.raises(FormatError, match="no snippets"):
        open_temporal_folder(root).load_features("train", "video_0")


def test_empty_split_and_unknown_video(tmp_path):
    root = _folder(tmp_path)
    (root / "split_test.txt").write_text("")
    with pytest.raises(FormatError, match="split_test.txt"):
        open_temporal_folder(root)
    (root / "split_test.txt").write_text("video_9\n")
    with pytest.raises(FormatError, match=r"split_test.txt.*not in gt.json"):
        open_temporal_folder(root)


def test_missing_folder_and_gt(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        open_temporal_folder(tmp_path / "nope")
    with pytest.raises(FormatError, match="gt.json"):
        open_temporal_folder(tmp_path)


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", "a\x00b", "", "a\\b"])
def test_unsafe_video_ids(bad):
    with pytest.raises(FormatError, match="unsafe video id"):
        safe_video_filename(bad)
    assert (
        safe_video_filename("Basketball/v_Basketball_g01_c01") == "Basketball__v_Basketball_g01_c01"
    )


def test_box_features_mmap_and_alignment(tmp_path):
    p = tmp_path / "f.npy"
    np.save(p, np.ones((5, 4), np.float16))
    m = open_box_features(p, rows=5)
    assert isinstance(m, np.memmap) and m.dtype == np.float16
    with pytest.raises(FormatError, match="5 feature rows but 6 proposal rows"):
        open_box_features(p, rows=6)
    np.save(p, np.ones((5,), np.float32))
    with pytest.raises(FormatError, match="N x D"):
        open_box_features(p)


def test_missing_stream_folder_names_the_streams_present(tmp_path):
    root = _folder(tmp_path)
    with pytest.raises(FormatError, match=r"streams present: \['flow', 'rgb'\]") as e:
        open_temporal_folder(root, streams=("rgb", "audio"))
    assert "audio" in str(e.value) and "data.streams=[flow,rgb]" in str(e.value)
    assert open_temporal_folder(root, streams=("flow",)).load_features("test", "video_1").shape == (
        6,
        3,
    )
