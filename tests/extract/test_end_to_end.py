"""End-to-end keyframe training from decoded frames: a tiny 3D CNN + RoIAlign + the ua_mil head
trained on generated AVA-layout videos (CPU, float32)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from wsal.cli import main
from wsal.engine.end_to_end import (
    EndToEndConfig,
    build_end_to_end_model,
    load_end_to_end,
    train_end_to_end,
)
from wsal.errors import ConfigError
from wsal.extract.videogen import write_ava_test_dataset
from wsal.methods.ua_mil import UAMILConfig


@pytest.fixture(scope="module")
def ava(tmp_path_factory):
    return write_ava_test_dataset(tmp_path_factory.mktemp("ava"), videos=2, seconds=6)


def _cfg(root, **kw) -> EndToEndConfig:
    base = EndToEndConfig(
        data=str(root), videos=str(root / "videos"), backbone="tiny", clip_frames=4,
        frame_stride=2, frame_size=(32, 40), time_offset=900, clip_seconds=2, max_instances=4,
        steps=30, batch_size=2, lr=3e-3, backbone_lr_scale=1.0, device="cpu",
        checkpoint_every=10, model=UAMILConfig(hidden_dim=16, dropout=0.0),
    )  # fmt: skip
    return dataclasses.replace(base, **kw)


def test_training_from_frames_lowers_the_loss_and_round_trips(ava, tmp_path):
    torch.set_num_threads(1)
    history = train_end_to_end(_cfg(ava), tmp_path / "run", log=lambda s: None)
    losses = np.array([r["loss/total"] for r in history])
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert losses[-5:].mean() < 0.7 * losses[:5].mean()
    # the backbone itself was trained (gradients reached it through RoIAlign)
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    torch.manual_seed(0)  # the run's seed: the same initial weights
    fresh = build_end_to_end_model(_cfg(ava), num_classes=3).state_dict()
    key = "backbone.net.0.weight"
    assert key in state["model"] and not torch.equal(state["model"][key], fresh[key])
    _, model, meta = load_end_to_end(tmp_path / "run")
    assert meta["classes"] == ["sit", "stand", "walk"] and meta["feature_dim"] == 16
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["model"][k]), k
    clips = torch.randint(0, 255, (2, 4, 32, 40, 3), dtype=torch.uint8)
    boxes = torch.tensor([[0.1, 0.2, 0.4, 0.9], [0.5, 0.2, 0.9, 0.9]])
    with torch.no_grad():
        f = model.box_features(clips, torch.tensor([0, 1]), boxes)
    assert f.shape == (2, 16) and torch.isfinite(f).all()


def test_same_seed_same_weights_other_seed_differs(ava, tmp_path):
    torch.set_num_threads(1)
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_end_to_end(_cfg(ava, steps=4, seed=seed), tmp_path / name, log=lambda s: None)
        runs[name] = torch.load(tmp_path / name / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(runs["a"][k], runs["b"][k]) for k in runs["a"])
    assert not all(torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"])


def test_corrupt_video_is_reported_and_its_bags_skipped(ava, tmp_path):
    import shutil

    root = tmp_path / "ava"
    shutil.copytree(ava, root)
    (root / "videos" / "vid01.mp4").write_bytes(b"not a video" * 20)
    seen: list[str] = []
    history = train_end_to_end(_cfg(root, steps=2), tmp_path / "run", log=seen.append)
    assert len(history) == 2
    assert any("vid01" in s and "vid01.mp4" in s for s in seen)


def test_bad_configs_fail_clearly(ava, tmp_path):
    with pytest.raises(ConfigError, match="supports ua_mil, mil_max and mitl"):
        build_end_to_end_model(_cfg(ava, method="stil"), 3)
    with pytest.raises(ConfigError, match="weights=PATH"):
        build_end_to_end_model(_cfg(ava, backbone="i3d"), 3)


def test_cli_train_e2e_mil_max(ava, tmp_path, capsys):
    code = main(["train-e2e", "--data", str(ava), "--videos", str(ava / "videos"), "--out",
                 str(tmp_path / "run"), "--set", "method=mil_max", "--set", "backbone=tiny",
                 "--set", "clip_frames=2", "--set", "frame_size=[16,20]", "--set", "steps=2",
                 "--set", "time_offset=900", "--set", "device=cpu",
                 "--set", "model.hidden_dim=8"])  # fmt: skip
    assert code == 0
    assert "step 2/2" in capsys.readouterr().out
    assert (tmp_path / "run" / "model.pt").is_file() and (
        tmp_path / "run" / "history.csv"
    ).is_file()


def test_resume_equals_an_uninterrupted_run(ava, tmp_path):
    torch.set_num_threads(1)
    quiet = {"log": lambda s: None}
    train_end_to_end(_cfg(ava, steps=4, checkpoint_every=2), tmp_path / "full", **quiet)
    train_end_to_end(_cfg(ava, steps=2, checkpoint_every=2), tmp_path / "part", **quiet)
    train_end_to_end(
        _cfg(ava, steps=4, checkpoint_every=2), tmp_path / "part", resume=True, **quiet
    )
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k].float(), b[k].float()) for k in a)
