"""Prediction and Frame-mAP with an end-to-end run (`wsal train-e2e` -> `wsal predict`), and
the bf16 autocast path on CPU: a tiny 3D CNN trained on generated AVA-layout videos."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.cli import main
from wsal.engine.end_to_end import (
    EndToEndConfig,
    predict_end_to_end,
    run_is_end_to_end,
    train_end_to_end,
)
from wsal.engine.runtime import resolve_precision
from wsal.errors import WsalError
from wsal.extract.videogen import AVA_TEST_ACTIONS, write_ava_test_dataset
from wsal.io.ava import read_ava_detections, read_ava_proposals
from wsal.methods.ua_mil import UAMILConfig
from wsal.pipeline import predict_end_to_end_to_file

QUIET = {"log": lambda s: None}


def _rename_videos(src: Path, dst: Path, split: str, prefix: str) -> None:
    """Copy ``src``'s ``split`` (videos, proposals, ground truth) into ``dst``, ids ``vid`` ->
    ``prefix`` (the generator always names its videos vid00, vid01, ...)."""
    for sub in ("annotations", "proposals"):
        text = (src / sub / f"{split}.csv").read_text(encoding="utf-8")
        (dst / sub / f"{split}.csv").write_text(text.replace("vid", prefix), encoding="utf-8")
    for f in sorted((src / "videos").iterdir()):
        shutil.copy(f, dst / "videos" / f.name.replace("vid", prefix))


@pytest.fixture(scope="module")
def ava(tmp_path_factory) -> Path:
    """Train split (vid00, vid01) and a val split of other videos (val00, val01), one folder."""
    root = write_ava_test_dataset(tmp_path_factory.mktemp("ava"), videos=2, seconds=6)
    other = write_ava_test_dataset(
        tmp_path_factory.mktemp("ava_val"), videos=2, seconds=6, split="val", seed=1
    )
    _rename_videos(other, root, "val", "val")
    return root


def _cfg(root: Path, **kw) -> EndToEndConfig:
    base = EndToEndConfig(
        data=str(root), videos=str(root / "videos"), backbone="tiny", clip_frames=4,
        frame_stride=2, frame_size=(32, 40), time_offset=900, clip_seconds=2, max_instances=4,
        steps=30, batch_size=2, lr=3e-3, backbone_lr_scale=1.0, device="cpu",
        checkpoint_every=30, model=UAMILConfig(hidden_dim=16, dropout=0.0),
    )  # fmt: skip
    return dataclasses.replace(base, **kw)


@pytest.fixture(scope="module")
def run(ava, tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs") / "e2e"
    train_end_to_end(_cfg(ava), out, **QUIET)
    return out


def test_predict_scores_every_proposal_and_evaluates(ava, run, tmp_path):
    assert run_is_end_to_end(run) and not run_is_end_to_end(tmp_path)
    out = tmp_path / "det.csv"
    result = predict_end_to_end_to_file(run, out, split="val", device="cpu", evaluate=True,
                                        top_k=2, **QUIET)  # fmt: skip
    dets = read_ava_detections(out)
    props = read_ava_proposals(ava / "proposals" / "val.csv")
    assert len(dets) == 2 * len(props)  # top_k rows per proposal box, every box of the split
    assert set(dets.video_ids.tolist()) == {"val00", "val01"}
    assert set(dets.labels.tolist()) <= set(AVA_TEST_ACTIONS)
    assert ((dets.scores >= 0) & (dets.scores <= 1)).all()
    # each proposal appears exactly top_k times with its own box
    key = lambda v, t, b: list(zip(v.tolist(), t.tolist(), np.round(b, 3).tolist(), strict=True))  # noqa: E731
    want = sorted(key(props.video_ids, props.timestamps, props.boxes.xyxy) * 2)
    assert sorted(key(dets.video_ids, dets.timestamps, dets.boxes.xyxy)) == want
    assert result is not None and np.isfinite(result.mAP) and 0.0 <= result.mAP <= 1.0
    metrics = json.loads((run / "metrics_val.json").read_text(encoding="utf-8"))
    assert metrics["mAP"] == {"0.50": pytest.approx(result.mAP)}
    assert (run / "clips_val.npy").is_file()  # the training cache format, for the val split


def test_predictions_are_deterministic_and_batch_independent(run):
    a, ks = predict_end_to_end(run, split="val", device="cpu", top_k=3, **QUIET)
    b, _ = predict_end_to_end(run, split="val", device="cpu", top_k=3, **QUIET)
    c, _ = predict_end_to_end(run, split="val", device="cpu", top_k=3, keyframes_per_batch=1,
                              **QUIET)  # fmt: skip
    assert len(a) == 3 * len(ks.proposals)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.boxes.xyxy, b.boxes.xyxy)
    np.testing.assert_allclose(c.scores, a.scores, rtol=1e-4, atol=1e-6)


def test_missing_or_broken_video_is_named(ava, run, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(ava / "videos", videos)
    (videos / "val01.mp4").unlink()
    with pytest.raises(WsalError, match=r"no video file for 'val01' of split 'val'"):
        predict_end_to_end(run, split="val", videos=videos, device="cpu", **QUIET)
    (videos / "val01.mp4").write_bytes(b"not a video" * 20)  # a changed file: decoded again
    with pytest.raises(WsalError, match=r"val01\.mp4: cannot decode video 'val01'"):
        predict_end_to_end(run, split="val", videos=videos, device="cpu", **QUIET)


def test_bf16_autocast_trains_and_predicts_on_cpu(ava, tmp_path):
    assert resolve_precision("bf16", "cpu") == "bf16-mixed"
    assert resolve_precision("auto", "cpu") == resolve_precision("16", "cpu") == "32-true"
    torch.set_num_threads(1)
    with torch.backends.mkldnn.flags(enabled=True):  # restored after: make_fabric turns it off
        h16 = train_end_to_end(_cfg(ava, steps=3, precision="bf16"), tmp_path / "bf16", **QUIET)
        again = train_end_to_end(_cfg(ava, steps=3, precision="bf16"), tmp_path / "b2", **QUIET)
        assert not torch.backends.mkldnn.enabled  # oneDNN's bf16 conv3d grads vary run to run
    assert again == h16  # a seed fixes a bf16 run too
    h32 = train_end_to_end(_cfg(ava, steps=3, precision="32"), tmp_path / "fp32", **QUIET)
    run_json = json.loads((tmp_path / "bf16" / "run.json").read_text(encoding="utf-8"))
    assert run_json["precision"] == "bf16-mixed"
    l16 = np.array([r["loss/total"] for r in h16])
    l32 = np.array([r["loss/total"] for r in h32])
    assert np.isfinite(l16).all() and not np.array_equal(l16, l32)  # autocast was active
    state = torch.load(tmp_path / "bf16" / "model.pt", weights_only=True)
    assert all(v.dtype != torch.bfloat16 for v in state["model"].values())  # fp32 master weights
    dets, ks = predict_end_to_end(tmp_path / "bf16", split="val", device="cpu", top_k=1, **QUIET)
    assert len(dets) == len(ks.proposals) and np.isfinite(dets.scores).all()


def test_cli_train_e2e_evaluates_val_then_predict(ava, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train-e2e", "--data", str(ava), "--videos", str(ava / "videos"), "--out",
                 str(out), "--set", "backbone=tiny", "--set", "clip_frames=2",
                 "--set", "frame_size=[16,20]", "--set", "steps=2", "--set", "time_offset=900",
                 "--set", "device=cpu", "--set", "model.hidden_dim=8"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "step 2/2" in text and "Frame-mAP" in text
    assert (out / "detections_val.csv").is_file() and (out / "metrics_val.json").is_file()
    det = tmp_path / "det.csv"
    args = ["predict", "--run", str(out), "--split", "val", "--videos", str(ava / "videos"),
            "--out", str(det), "--top-k", "1", "--device", "cpu"]  # fmt: skip
    assert main([*args, "--evaluate"]) == 0
    text = capsys.readouterr().out
    assert f"wrote detections to {det}" in text and "Frame-mAP" in text
    assert len(read_ava_detections(det)) == len(read_ava_proposals(ava / "proposals" / "val.csv"))
    # the default split is the run's test_split (val); the default videos are the run's
    assert (
        main(["predict", "--run", str(out), "--out", str(tmp_path / "d2.csv"), "--top-k", "1"]) == 0
    )
    assert (tmp_path / "d2.csv").read_bytes() == det.read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*args[:6], str(empty), *args[7:]]) == 2
    assert "no video file for 'val00'" in capsys.readouterr().err
    # --videos only means something for end-to-end runs
    assert main(["predict", "--run", str(empty), "--videos", str(ava / "videos"), "--out",
                 str(tmp_path / "d3.csv")]) == 2  # fmt: skip
    assert "--videos applies to end-to-end runs" in capsys.readouterr().err


def test_cli_train_e2e_no_eval(ava, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train-e2e", "--data", str(ava), "--videos", str(ava / "videos"), "--out",
                 str(out), "--set", "backbone=tiny", "--set", "clip_frames=2",
                 "--set", "frame_size=[16,20]", "--set", "steps=1", "--set", "time_offset=900",
                 "--set", "device=cpu", "--set", "model.hidden_dim=8", "--no-eval"])  # fmt: skip
    assert code == 0
    assert "Frame-mAP" not in capsys.readouterr().out
    assert not (out / "metrics_val.json").exists()
