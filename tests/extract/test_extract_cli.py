"""`wsal extract snippets` (layout, resume, sharding, failures) and `wsal localize VIDEO --run`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wsal.cli import main
from wsal.extract.videogen import write_test_video
from wsal.io.features import open_temporal_folder

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "mil_topk" / "synthetic.yaml"
SMALL = ["--short-side", "32", "--crop", "32"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    write_test_video(root / "one.mp4", seconds=3.0)
    write_test_video(root / "two.mkv", seconds=1.3, fps=30, rotation=90)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    return root


def test_extract_writes_the_temporal_layout_resumes_and_reports_failures(
    videos, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("WSAL_NO_PROGRESS", "1")
    out = tmp_path / "ds"
    args = ["extract", "snippets", str(videos), "--out", str(out), "--extractor", "stats",
            "--streams", "rgb,flow", "--flow", "difference", *SMALL]  # fmt: skip
    assert main(args) == 1  # one corrupt file: reported, the others done
    text = capsys.readouterr().out
    assert "extracted 2 videos" in text and "failed: broken" in text and "videos/s" in text
    rgb = np.load(out / "features" / "test" / "rgb" / "one.npy")
    flow = np.load(out / "features" / "test" / "flow" / "one.npy")
    assert rgb.shape == (5, 24) and flow.shape == (5, 16)  # ceil(75 / 16) snippets
    assert np.load(out / "features" / "test" / "rgb" / "two.npy").shape[0] == 3  # ceil(33 / 16)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["snippet"]["frames_per_snippet"] == 16 and meta["snippet"]["fps"] == 25.0
    # the folder is readable by the dataset reader (with a ground truth and split list added)
    (out / "split_test.txt").write_text("one\ntwo\n")
    gt = {"version": "1.3", "database": {v: {"subset": "test", "duration": 3.0, "annotations": []}
                                          for v in ("one", "two")}}  # fmt: skip
    (out / "gt.json").write_text(json.dumps(gt))
    folder = open_temporal_folder(out, splits=("test",))
    assert folder.timing.seconds_per_snippet == pytest.approx(0.64)
    assert folder.load_features("test", "one").shape == (5, 40)
    # resume: finished videos are skipped
    assert main(args) == 1
    assert "skipped 2 finished" in capsys.readouterr().out


def test_ranks_take_disjoint_shares(videos, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WSAL_NO_PROGRESS", "1")
    done = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        main(["extract", "snippets", str(videos), "--out", str(tmp_path / "ds"),
              "--extractor", "stats", "--streams", "rgb", *SMALL])  # fmt: skip
        done.append(capsys.readouterr().out)
    files = sorted(p.stem for p in (tmp_path / "ds" / "features" / "test" / "rgb").iterdir())
    assert files == ["one", "two"]
    assert all("1 failed" in t or "0 failed" in t for t in done)


def test_missing_weights_is_a_clear_error(videos, tmp_path, capsys):
    code = main(["extract", "snippets", str(videos / "one.mp4"), "--out", str(tmp_path), *SMALL,
                 "--streams", "rgb"])  # fmt: skip
    assert code == 2 and "--weights rgb=PATH" in capsys.readouterr().err


def test_i3d_random_init_extraction(videos, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WSAL_NO_PROGRESS", "1")
    main(["extract", "snippets", str(videos / "two.mkv"), "--out", str(tmp_path), "--streams",
          "rgb,flow", "--flow", "difference", "--random-init", "--width", "0.0625", *SMALL])  # fmt: skip
    for stream in ("rgb", "flow"):
        feats = np.load(tmp_path / "features" / "test" / stream / "two.npy")
        assert feats.shape == (3, 64) and np.isfinite(feats).all()


@pytest.fixture(scope="module")
def stats_run(tmp_path_factory):
    """A tiny synthetic run whose feature dim equals the 'stats' RGB extractor's (24)."""
    root = tmp_path_factory.mktemp("run")
    assert main(["synth", "temporal", "--preset", "tiny", "--out", str(root / "data"),
                 "--set", "feature_dim=24", "--set", "streams=[rgb]"]) == 0  # fmt: skip
    assert main(["train", "--config", str(CONFIG), "--data",
                 str(root / "data"), "--out", str(root / "run"), "--no-eval",
                 "--set", "train.epochs=1", "--set", "train.iterations_per_epoch=2",
                 "--set", "data.streams=[rgb]", "--set", "model.hidden_dim=16"]) == 0  # fmt: skip
    return root / "run"


def test_localize_video_and_folder(videos, stats_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WSAL_NO_PROGRESS", "1")
    out = tmp_path / "one"
    assert main(["localize", str(videos / "one.mp4"), "--run", str(stats_run), "--out", str(out),
                 "--extractor", "stats", *SMALL]) == 0  # fmt: skip
    for name in ("one.json", "one.csv", "one.png", "results.json", "segments.csv", "raw.npz"):
        assert (out / name).is_file(), name
    assert (out / "one.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "one.json").read_text())["results"]
    segs = results.get("one", [])
    assert all(0 <= s["segment"][0] <= s["segment"][1] <= 3.0 + 1e-6 for s in segs)
    assert (out / "segments.csv").read_text().startswith("video,label,start,end,score")
    # the raw scores re-localize with the old mode
    assert main(["localize", "--scores", str(out / "raw.npz"), "--run", str(stats_run),
                 "--preset", "dml", "--out", str(tmp_path / "re.json")]) == 0  # fmt: skip
    capsys.readouterr()
    # a folder: every video processed, the corrupt one summarized
    assert main(["localize", str(videos), "--run", str(stats_run), "--out", str(tmp_path / "all"),
                 "--extractor", "stats", "--no-plot", *SMALL]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "localized 2 videos" in text and "1 failed" in text and "failed: broken" in text
    assert {p.name for p in (tmp_path / "all").glob("*.json")} == {
        "one.json",
        "two.json",
        "results.json",
    }


def test_localize_rejects_a_feature_dim_mismatch(videos, stats_run, tmp_path, capsys):
    code = main(["localize", str(videos / "one.mp4"), "--run", str(stats_run), "--out",
                 str(tmp_path), "--random-init", "--width", "0.0625", *SMALL])  # fmt: skip
    assert code == 2 and "64-d features but the run was trained on 24-d" in capsys.readouterr().err


def test_old_localize_mode_still_needs_its_arguments(capsys):
    assert main(["localize", "--preset", "dml"]) == 2
    assert "--scores RAW" in capsys.readouterr().err
