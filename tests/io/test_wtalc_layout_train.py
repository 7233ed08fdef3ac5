"""Training, prediction and evaluation straight from the W-TALC single-file layout.

The folders are built from the real THUMOS14 / ActivityNet 1.2 W-TALC annotation files
(``shared/data/*/wtalc``), restricted to a few rows where the JOINT features would otherwise be
large; the restricted ``.npy`` files keep the real dtypes and quirks (object arrays of lists,
byte-string names, THUMOS14's ``(N, 1)`` durations). The features are small, random and
class-informative: snippets inside a ground-truth segment carry that class's pattern.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from wsal.cli import main
from wsal.config import load_run_config
from wsal.engine.trainer import train_temporal
from wsal.errors import DataWarning, FormatError
from wsal.io.features import (
    WtalcFolder,
    has_temporal_split,
    open_temporal_folder,
)
from wsal.io.safe_pickle import load_npy
from wsal.io.temporal import read_wtalc_annotations
from wsal.localize.temporal import load_raw_scores
from wsal.pipeline import predict_to_files, train_and_evaluate

REPO = Path(__file__).resolve().parents[2]
THUMOS = "Thumos14reduced"
ANET = "ActivityNet1.2"
SNIPPET_SECONDS = 16 / 25
# short single-class THUMOS14 videos of four classes present in both subsets
THUMOS_CLASSES = ("BaseballPitch", "FrisbeeCatch", "SoccerPenalty", "TennisSwing")
# a tiny budget: 2 epochs of 3 batches on the CPU
TINY = [
    "train.epochs=2",
    "train.iterations_per_epoch=3",
    "train.lr=0.001",
    "train.device=cpu",
    "train.tensorboard=off",
    "data.max_snippets=48",
]


# --------------------------------------------------------------------------------------------
# Building W-TALC folders
# --------------------------------------------------------------------------------------------


def _copy_annotation_rows(src: Path, dst: Path, rows: np.ndarray) -> None:
    """``src`` annotation folder -> ``dst`` keeping only ``rows`` of the row-aligned files.

    Row-aligned ``.npy`` files are indexed (object arrays stay object arrays of lists, byte
    strings stay byte strings, ``(N, 1)`` stays ``(k, 1)``); other files are copied as they are.
    """
    dst.mkdir(parents=True)
    n = load_npy(src / "videoname.npy").shape[0]
    for f in sorted(src.iterdir()):
        if f.suffix == ".npy" and load_npy(f).shape[0] == n:
            np.save(dst / f.name, load_npy(f)[rows], allow_pickle=True)
        else:
            shutil.copyfile(f, dst / f.name)


def _save_object_array(path: Path, items: list[np.ndarray]) -> None:
    """An object ``.npy`` of per-video arrays, like the published JOINT files."""
    arr = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        arr[i] = x
    np.save(path, arr, allow_pickle=True)


def _joint_features(annotations: Path, seed: int = 0, width: int = 2048) -> list[np.ndarray]:
    """Per video ``(T, width)`` float32, ``T = ceil(duration / 0.64 s)``: noise, a background
    pattern, and inside each ground-truth segment the pattern of its class."""
    gt = read_wtalc_annotations(annotations)
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((len(gt.classes) + 1, width)).astype(np.float32)
    out = []
    for v in gt.videos:
        t = max(1, math.ceil(gt.durations[v] / SNIPPET_SECONDS))
        centres = (np.arange(t) + 0.5) * SNIPPET_SECONDS
        x = 0.5 * rng.standard_normal((t, width)).astype(np.float32) + patterns[-1]
        mine = gt.video_ids == v
        for (start, end), c in zip(gt.segments.bounds[mine], gt.segments.labels[mine]):
            inside = (centres >= start) & (centres <= end)
            x[inside] += 2.0 * patterns[c] - patterns[-1]
        out.append(x)
    return out


def _thumos_rows(src: Path, per_subset: dict[str, int]) -> np.ndarray:
    """Row indices of the shortest single-class videos of ``THUMOS_CLASSES`` per subset."""
    gt = read_wtalc_annotations(src)
    labels = gt.video_labels()
    index = {c: i for i, c in enumerate(gt.classes)}
    rows = []
    for subset, k in per_subset.items():
        for name in THUMOS_CLASSES:
            onehot = np.eye(len(gt.classes))[index[name]]
            mine = [
                i
                for i, v in enumerate(gt.videos)
                if gt.subsets[v] == subset and np.array_equal(labels[v] > 0, onehot > 0)
            ]
            rows += sorted(mine, key=lambda i: gt.durations[gt.videos[i]])[:k]
    return np.array(sorted(rows))


@pytest.fixture(scope="module")
def thumos_small(shared_data: Path, tmp_path_factory) -> Path:
    """A W-TALC THUMOS14 folder as downloaded: 12 training ('validation') and 8 test videos."""
    src = shared_data / "thumos14" / "wtalc" / f"{THUMOS}-Annotations"
    root = tmp_path_factory.mktemp("wtalc_thumos")
    rows = _thumos_rows(src, {"validation": 3, "test": 2})
    _copy_annotation_rows(src, root / f"{THUMOS}-Annotations", rows)
    feats = _joint_features(root / f"{THUMOS}-Annotations")
    _save_object_array(root / f"{THUMOS}-I3D-JOINTFeatures.npy", feats)
    return root


@pytest.fixture
def thumos_full_annotations(shared_data: Path, tmp_path: Path) -> Path:
    """The real THUMOS14 annotation folder copied byte for byte (no JOINT file yet)."""
    root = tmp_path / "wtalc_full"
    root.mkdir()
    src = shared_data / "thumos14" / "wtalc" / f"{THUMOS}-Annotations"
    shutil.copytree(src, root / src.name, copy_function=shutil.copyfile)
    return root


def _tiny_joint(path: Path, rows: int, width: int = 2048, t: int = 1) -> None:
    """A JOINT file of ``rows`` videos of ``t`` snippets (cheap stand-in for the real 1 GB)."""
    _save_object_array(path, [np.full((t, width), i, np.float32) for i in range(rows)])


def _subset_videos(folder: Path, subset: str) -> list[str]:
    gt = read_wtalc_annotations(folder)
    return [v for v in gt.videos if gt.subsets[v] == subset]


# --------------------------------------------------------------------------------------------
# Training on THUMOS14 as downloaded
# --------------------------------------------------------------------------------------------


def test_cli_trains_dml_and_predicts_the_test_subset(thumos_small: Path, tmp_path: Path, capsys):
    """`wsal train --config configs/dml/thumos14.yaml --data FOLDER` then `wsal predict`."""
    ann = thumos_small / f"{THUMOS}-Annotations"
    train_videos, test_videos = _subset_videos(ann, "validation"), _subset_videos(ann, "test")
    assert (len(train_videos), len(test_videos)) == (12, 8)
    run = tmp_path / "run"
    sets = [x for o in [*TINY, "model.embed_dim=64"] for x in ("--set", o)]
    config = REPO / "configs" / "dml" / "thumos14.yaml"
    args = ["train", "--config", config, "--data", thumos_small, "--out", run, *sets]
    assert main([str(a) for a in args]) == 0
    info = json.loads((run / "run.json").read_text())
    assert sorted(info["train_videos"]) == sorted(train_videos)
    assert info["feature_dim"] == 2048 and len(info["classes"]) == 20
    assert info["snippet"] == {"frames_per_snippet": 16, "fps": 25.0}
    assert (run / "model.pt").is_file()
    capsys.readouterr()

    pred = tmp_path / "results_test.json"
    assert main(["predict", "--run", str(run), "--out", str(pred), "--evaluate"]) == 0
    assert "average mAP" in capsys.readouterr().out
    results = json.loads(pred.read_text())["results"]
    assert results and set(results) <= set(test_videos)
    assert set(load_raw_scores(run / "raw_test.npz")) == set(test_videos)


def test_train_then_evaluate_test_subset(thumos_small: Path, tmp_path: Path):
    """The library path: train_temporal, then predict_to_files with evaluation on 'test'."""
    run = tmp_path / "run"
    cfg = load_run_config(None, [f"data.root={thumos_small}", "method=mil_topk", *TINY])
    trained = train_temporal(cfg, run, log=lambda s: None)
    assert len(trained.history) == 2
    result = predict_to_files(run, tmp_path / "res.json", split="test", evaluate=True)
    metrics = result.to_json()
    assert set(metrics) == {"mAP", "average_mAP", "per_class"}
    assert 0.0 <= result.average_mAP <= 1.0
    ann = thumos_small / f"{THUMOS}-Annotations"
    assert set(result.classes) <= set(THUMOS_CLASSES)  # only the test subset's ground truth
    assert len(_subset_videos(ann, "test")) == 8


def test_train_and_evaluate_writes_metrics(thumos_small: Path, tmp_path: Path):
    run = tmp_path / "run"
    cfg = load_run_config(None, [f"data.root={thumos_small}", "method=mil_topk", *TINY])
    result = train_and_evaluate(cfg, run)
    assert result is not None and (run / "metrics_test.json").is_file()


# --------------------------------------------------------------------------------------------
# Reading the layout
# --------------------------------------------------------------------------------------------


def test_real_thumos_annotations_open_with_subsets_as_splits(thumos_full_annotations: Path):
    root = thumos_full_annotations
    _tiny_joint(root / f"{THUMOS}-I3D-JOINTFeatures.npy", 412)
    folder = open_temporal_folder(root)
    assert isinstance(folder, WtalcFolder)
    assert {k: len(v) for k, v in folder.splits.items()} == {"train": 200, "test": 212}
    assert all(v.startswith("video_validation") for v in folder.splits["train"])
    assert all(v.startswith("video_test") for v in folder.splits["test"])
    assert len(folder.classes) == 20 and folder.timing.seconds_per_snippet == pytest.approx(0.64)
    # original_fps.npy is the videos' rate, not the features': no per-video timing
    assert folder.gt.fps and folder.video_fps == {}
    assert folder.timing_of("video_test_0000004").seconds_per_snippet == pytest.approx(0.64)
    assert folder.gt.durations["video_validation_0000051"] == pytest.approx(169.794)
    row = folder.gt.videos.index("video_test_0000004")
    x = folder.load_features("test", "video_test_0000004")
    assert x.shape == (1, 2048) and np.all(x == row)
    # a split may name a subset directly
    direct = open_temporal_folder(root, splits=("validation", "test"))
    assert direct.splits["validation"] == folder.splits["train"]
    assert has_temporal_split(root, "test") and has_temporal_split(root, "validation")
    assert not has_temporal_split(root, "val")


def test_streams_are_column_ranges_of_the_joint_rows(thumos_small: Path):
    video = _subset_videos(thumos_small / f"{THUMOS}-Annotations", "validation")[0]
    both = open_temporal_folder(thumos_small, splits=("train",))
    joint = both.load_features("train", video)
    assert joint.shape[1] == 2048 and np.shares_memory(joint, both.store[video])  # no copy
    rgb = open_temporal_folder(thumos_small, streams=("rgb",), splits=("train",))
    flow = open_temporal_folder(thumos_small, streams=("flow",), splits=("train",))
    swapped = open_temporal_folder(thumos_small, streams=("flow", "rgb"), splits=("train",))
    np.testing.assert_array_equal(rgb.load_features("train", video), joint[:, :1024])
    np.testing.assert_array_equal(flow.load_features("train", video), joint[:, 1024:])
    np.testing.assert_array_equal(
        swapped.load_features("train", video), np.concatenate([joint[:, 1024:], joint[:, :1024]], 1)
    )
    assert set(both.store) == set(both.splits["train"])  # test rows are not kept


def test_activitynet12_layout(shared_data: Path, tmp_path: Path):
    """ActivityNet 1.2 names: 'training' is train, 'validation' is test; durations are (N,)
    and there is no original_fps.npy or Ambiguous file."""
    src = shared_data / "activitynet12" / "wtalc" / f"{ANET}-Annotations"
    subset = np.array([s.decode() for s in load_npy(src / "subset.npy")])
    rows = np.sort(
        np.concatenate(
            [np.flatnonzero(subset == "training")[:6], np.flatnonzero(subset == "validation")[:4]]
        )
    )
    root = tmp_path / "anet"
    _copy_annotation_rows(src, root / f"{ANET}-Annotations", rows)
    feats = _joint_features(root / f"{ANET}-Annotations", seed=1)
    _save_object_array(root / f"{ANET}-I3D-JOINTFeatures.npy", feats)

    folder = open_temporal_folder(root)
    names = [v.decode() for v in load_npy(src / "videoname.npy")[rows]]
    assert folder.splits == {
        "train": [v for v, s in zip(names, subset[rows]) if s == "training"],
        "test": [v for v, s in zip(names, subset[rows]) if s == "validation"],
    }
    assert len(folder.classes) == 100 and folder.video_fps == {}
    durations = load_npy(src / "duration.npy")[rows]
    assert [folder.gt.durations[v] for v in names] == pytest.approx(durations.tolist())
    for split, videos in folder.splits.items():
        for v in videos:
            x = folder.load_features(split, v)
            np.testing.assert_array_equal(x, feats[names.index(v)])
    direct = open_temporal_folder(root, splits=("training", "validation"))
    assert list(direct.splits.values()) == list(folder.splits.values())
    assert has_temporal_split(root, "test") and not has_temporal_split(root, "testing")


# --------------------------------------------------------------------------------------------
# Clear one-line errors
# --------------------------------------------------------------------------------------------


def _one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


def test_annotation_folder_without_joint_file(thumos_full_annotations: Path):
    root = thumos_full_annotations
    with pytest.raises(FormatError, match="W-TALC feature file missing") as e:
        open_temporal_folder(root)
    assert e.value.path == str(root / f"{THUMOS}-I3D-JOINTFeatures.npy")
    _one_line(e)
    _tiny_joint(root / "Thumos14-I3D-JOINTFeatures.npy", 412)  # named after another folder
    with pytest.raises(FormatError, match="found Thumos14-I3D-JOINTFeatures.npy") as e:
        open_temporal_folder(root)
    _one_line(e)


def test_joint_row_count_differs_from_annotations(thumos_full_annotations: Path):
    path = thumos_full_annotations / f"{THUMOS}-I3D-JOINTFeatures.npy"
    _tiny_joint(path, 411)
    with pytest.raises(FormatError, match="411 feature arrays but 412 video names") as e:
        open_temporal_folder(thumos_full_annotations)
    assert e.value.path == str(path)
    _one_line(e)


@pytest.mark.parametrize(
    ("width", "t", "message"),
    [(1024, 3, "feature dim 1024, expected 2048"), (2049, 3, "feature dim 2049, expected 2048")],
)
def test_joint_width_is_not_2048(thumos_full_annotations: Path, width: int, t: int, message: str):
    path = thumos_full_annotations / f"{THUMOS}-I3D-JOINTFeatures.npy"
    _tiny_joint(path, 412, width=width, t=t)
    with pytest.raises(FormatError, match=message) as e:
        open_temporal_folder(thumos_full_annotations)
    assert e.value.path == str(path) and e.value.where == "video 0 (video_validation_0000051)"
    _one_line(e)


def test_one_video_of_wrong_width_or_dtype(thumos_small: Path, tmp_path: Path):
    root = tmp_path / "bad"
    shutil.copytree(thumos_small, root)
    path = root / f"{THUMOS}-I3D-JOINTFeatures.npy"
    feats = list(load_npy(path))
    names = read_wtalc_annotations(root / f"{THUMOS}-Annotations").videos
    feats[3] = feats[3][:, :2000]
    _save_object_array(path, feats)
    with pytest.raises(FormatError, match="feature dim 2000, expected 2048") as e:
        open_temporal_folder(root)
    assert e.value.where == f"video 3 ({names[3]})"
    feats[3] = np.ones((4, 2048), np.int64)
    _save_object_array(path, feats)
    with pytest.raises(FormatError, match="floating-point"):
        open_temporal_folder(root)


def test_unknown_split_stream_and_two_annotation_folders(thumos_small: Path, tmp_path: Path):
    with pytest.raises(FormatError, match="split 'val' is neither train/test nor a subset") as e:
        open_temporal_folder(thumos_small, splits=("val",))
    _one_line(e)
    with pytest.raises(FormatError, match="stream 'audio' is not in the W-TALC JOINT file") as e:
        open_temporal_folder(thumos_small, streams=("rgb", "audio"))
    _one_line(e)
    root = tmp_path / "two"
    shutil.copytree(thumos_small, root)
    shutil.copytree(root / f"{THUMOS}-Annotations", root / f"{ANET}-Annotations")
    with pytest.raises(FormatError, match="several W-TALC annotation folders"):
        open_temporal_folder(root)


def test_nan_snippets_error_or_mask_and_empty_videos_warn(thumos_small: Path, tmp_path: Path):
    root = tmp_path / "nan"
    shutil.copytree(thumos_small, root)
    path = root / f"{THUMOS}-I3D-JOINTFeatures.npy"
    names = read_wtalc_annotations(root / f"{THUMOS}-Annotations").videos
    feats = list(load_npy(path))
    feats[0][2, 5] = np.nan
    feats[1] = np.zeros((0, 2048), np.float32)
    _save_object_array(path, feats)
    with pytest.warns(DataWarning, match="1 videos have no snippets"):
        folder = open_temporal_folder(root, splits=("train",))
    assert names[1] not in folder.splits["train"] and names[0] in folder.splits["train"]
    with pytest.raises(FormatError, match="contain NaN/Inf .*first: snippet 2") as e:
        folder.load_features("train", names[0])
    assert e.value.path == str(path)
    with pytest.warns(DataWarning):
        masked = open_temporal_folder(root, splits=("train",), nonfinite="mask")
        x = masked.load_features("train", names[0])
    assert np.all(x[2] == 0) and masked.masked[names[0]].tolist() == [2]


def test_gt_json_layout_wins_over_annotation_folder(thumos_small: Path, tmp_path: Path):
    """A folder holding both layouts is read as the per-video layout (as before)."""
    root = tmp_path / "both"
    shutil.copytree(thumos_small, root)
    (root / "gt.json").write_text(json.dumps({"database": {}}))
    with pytest.raises(FormatError, match="split_train.txt"):
        open_temporal_folder(root)
