"""Keyframe methods end to end on generated AVA-layout data: train -> predict -> Frame-mAP."""

import json
import shutil

import numpy as np
import pytest
import torch

from wsal.cli import main
from wsal.config import KeyframeRunConfig, load_run_config
from wsal.engine.checkpoint import load_checkpoint
from wsal.engine.keyframe import train_keyframe
from wsal.evaluation.frame import evaluate_frame_files
from wsal.io.ava import read_ava_detections, read_ava_gt, read_ava_proposals, write_ava_gt
from wsal.structures import KeyframeGroundTruth
from wsal.synthetic import generate_keyframe

QUICK = ["train.epochs=3", "train.batch_size=16", "model.hidden_dim=16", "train.device=cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_keyframe(tmp_path_factory.mktemp("synth") / "kf", "tiny", seed=2)


def _cfg(data, method, *extra):
    small = ["model.embed_dim=32", "train.epochs=2"] if method == "mitl" else []
    return load_run_config(None, [f"data.root={data}", f"method={method}", *QUICK, *small, *extra])


def test_cli_train_predict_evaluate(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "configs/ua_mil/synthetic.yaml", "--data", str(data),
                 "--out", str(run), *sum((["--set", o] for o in QUICK), [])]) == 0  # fmt: skip
    for name in ("config.yaml", "run.json", "history.csv", "model.pt", "checkpoints/last.pt",
                 "detections_val.csv", "metrics_val.json"):  # fmt: skip
        assert (run / name).is_file(), name
    info = json.loads((run / "run.json").read_text())
    assert info["task"] == "keyframe" and info["clip_seconds"] == 10
    metrics = json.loads((run / "metrics_val.json").read_text())
    out = tmp_path / "det.csv"
    assert (
        main(["predict", "--run", str(run), "--split", "val", "--out", str(out), "--top-k", "3"])
        == 0
    )
    dets = read_ava_detections(out)
    props = read_ava_proposals(data / "proposals" / "val.csv")
    assert len(dets) == 3 * len(props)
    ann = data / "annotations"
    result = evaluate_frame_files(ann / "val.csv", run / "detections_val.csv", ann / "action_list.pbtxt",
                                  exclusions_path=ann / "val_excluded_timestamps.csv")  # fmt: skip
    assert result.mAP == pytest.approx(metrics["average_mAP"]) and 0 < result.mAP <= 1
    assert "Frame-mAP" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["ua_mil", "mitl"])
def test_resume_equals_uninterrupted_run(data, tmp_path, method):
    cfg = _cfg(data, method)
    assert isinstance(cfg, KeyframeRunConfig)
    full = train_keyframe(cfg, tmp_path / "full", log=lambda s: None)
    train_keyframe(cfg, tmp_path / "cut", log=lambda s: None, stop_after_epoch=1)
    resumed = train_keyframe(cfg, tmp_path / "cut", resume=True, log=lambda s: None)
    assert resumed.history == full.history
    a = load_checkpoint(tmp_path / "full" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "model.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train_keyframe(_cfg(data, method, "seed=1"), tmp_path / "s1", log=lambda s: None)
    assert other.history != full.history


@pytest.mark.parametrize("method", ["ua_mil", "mitl"])
def test_training_ignores_ground_truth_boxes_and_person_ids(data, tmp_path, method):
    """Weak supervision: random training GT boxes and person ids change nothing."""
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    gt = read_ava_gt(data / "annotations" / "train.csv")
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 0.5, (len(gt), 2))
    random_gt = KeyframeGroundTruth(gt.video_ids, gt.timestamps, np.concatenate([xy, xy + 0.3], 1),
                                    gt.labels, rng.integers(0, 99, len(gt)))  # fmt: skip
    write_ava_gt(moved / "annotations" / "train.csv", random_gt)
    a = train_keyframe(_cfg(data, method, "train.epochs=2"), tmp_path / "a", log=lambda s: None)
    b = train_keyframe(_cfg(moved, method, "train.epochs=2"), tmp_path / "b", log=lambda s: None)
    assert a.history == b.history
    wa = load_checkpoint(tmp_path / "a" / "model.pt")["model"]
    wb = load_checkpoint(tmp_path / "b" / "model.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_full_supervision_upper_bound_runs(data, tmp_path):
    cfg = _cfg(data, "ua_mil", "weak.supervision=full", "train.epochs=1")
    result = train_keyframe(cfg, tmp_path / "fs", log=lambda s: None)
    assert set(result.history[0]) == {"epoch", "loss/total", "loss/bce"}


def test_validation_carve_out_is_recorded_and_never_trained_on(data, tmp_path):
    """train.val_fraction carves whole training videos out; their Frame-mAP is in history."""
    cfg = _cfg(data, "ua_mil", "train.val_fraction=0.34", "train.eval_every=1")
    result = train_keyframe(cfg, tmp_path / "v", log=lambda s: None)
    run = json.loads((tmp_path / "v" / "run.json").read_text())
    assert len(run["validation_videos"]) == 1 and len(run["train_videos"]) == 2
    assert not set(run["validation_videos"]) & set(run["train_videos"])
    assert "validation videos" in run["model_selection"]
    vals = [row["val/frame_mAP"] for row in result.history]
    assert len(vals) == cfg.train.epochs and all(0.0 <= v <= 1.0 for v in vals)
    full = train_keyframe(_cfg(data, "ua_mil"), tmp_path / "f", log=lambda s: None)
    full_run = json.loads((tmp_path / "f" / "run.json").read_text())
    assert run["bags"]["count"] < full_run["bags"]["count"]
    assert "val/frame_mAP" not in full.history[-1]
    with pytest.raises(Exception, match="val_fraction"):
        train_keyframe(_cfg(data, "ua_mil", "train.val_fraction=1.0"), tmp_path / "bad")
