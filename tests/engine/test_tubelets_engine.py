"""ua_mil on video bags of tubelets (``method: ua_mil_tubelets``): CLI end to end, weak
supervision (training never uses the training tubes' boxes), determinism, better than chance."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from wsal.cli import main
from wsal.engine.tubelets import (
    link_box_scores,
    load_tubelet_run,
    load_tubelet_run_config,
    train_tubelets,
    video_tubelets,
)
from wsal.engine.tubes import evaluate_tube_detections, is_tube_method, load_tube_split, run_is_tube
from wsal.errors import ConfigError
from wsal.io.tubes import read_tube_results
from wsal.structures import TubeDetections
from wsal.synthetic import generate_tubes

CONFIG = "configs/ua_mil/tubes_synthetic.yaml"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate_tubes(tmp_path_factory.mktemp("tubes") / "data", "tiny", seed=0)


def _weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", weights_only=True)["model"]


def _cfg(data, *extra):
    return load_tubelet_run_config(CONFIG, [f"data.root={data}", "train.epochs=15", *extra])


def test_configs_load_and_dispatch():
    for path in ("configs/ua_mil/tubes_synthetic.yaml", "configs/ua_mil/ucf101_24.yaml",
                 "configs/mil_max/tubes_synthetic.yaml", "configs/mil_max/ucf101_24.yaml"):  # fmt: skip
        cfg = load_tubelet_run_config(path)
        assert is_tube_method(path) and cfg.tubelets.max_per_bag == 16
        assert cfg.tubelets.frames == 16 and cfg.model.pooling == "max"
    assert not load_tubelet_run_config("configs/mil_max/tubes_synthetic.yaml").model.uncertainty
    with pytest.raises(ConfigError, match="unknown config key 'tubelets.K'"):
        load_tubelet_run_config(CONFIG, ["tubelets.K=4"])


def test_cli_train_predict_evaluate(tiny, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--config", CONFIG, "--data", str(tiny), "--out", str(run),
                 "--set", "train.epochs=5"]) == 0  # fmt: skip
    for name in ("config.yaml", "run.json", "history.csv", "model.pt", "metrics.json"):
        assert (run / name).is_file(), name
    assert run_is_tube(run) and json.loads((run / "run.json").read_text())["task"] == "tubes"
    out = tmp_path / "tubes.json"
    assert main(["predict", "--run", str(run), "--split", "test", "--out", str(out)]) == 0
    dets = read_tube_results(out)
    assert len(dets) > 0
    frames = next(iter(dets))[1].frames
    assert np.all(np.diff(frames) == 1)  # interpolated onto every frame
    assert main(["evaluate", "video", "--gt", str(tiny / "gt_tubes.json"), "--pred", str(out)]) == 0


def test_training_reads_only_label_sets_and_is_deterministic(tiny, tmp_path):
    # the same data with every training tube's boxes replaced by random ones
    noisy = tmp_path / "noisy"
    shutil.copytree(tiny, noisy)
    gt = json.loads((noisy / "gt_tubes.json").read_text())
    rng = np.random.default_rng(0)
    for vid in (noisy / "split_train.txt").read_text().split():
        for tube in gt["videos"][vid]["tubes"]:
            xy = rng.uniform(0, 150, (len(tube["frames"]), 2))
            tube["boxes"] = np.hstack([xy, xy + rng.uniform(5, 100, xy.shape)]).tolist()
    (noisy / "gt_tubes.json").write_text(json.dumps(gt))
    train_tubelets(_cfg(tiny), tmp_path / "a", evaluate=False, log=lambda s: None)
    train_tubelets(_cfg(noisy), tmp_path / "b", evaluate=False, log=lambda s: None)
    train_tubelets(_cfg(tiny, "seed=1"), tmp_path / "c", evaluate=False, log=lambda s: None)
    a, b, c = (_weights(tmp_path / r) for r in "abc")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # identical: boxes never used; seeded
    assert not all(torch.equal(a[k], c[k]) for k in a)  # another seed, another run
    hist = (tmp_path / "a" / "history.csv").read_text()
    assert hist == (tmp_path / "b" / "history.csv").read_text()


def test_beats_chance_on_synthetic_tubes(tiny, tmp_path):
    cfg = _cfg(tiny, "train.epochs=60")
    trained = train_tubelets(cfg, tmp_path / "run", log=lambda s: None).to_json()["mAP"]["0.20"]
    gt, vids, videos = load_tube_split(tiny, "test")
    _, model, labels = load_tubelet_run(tmp_path / "run")
    rng = np.random.default_rng(0)
    chance = []
    for _ in range(3):  # random tubelet scores through the same linking and evaluation
        tubes = {}
        for v, x in zip(vids, videos):
            tub = video_tubelets(x, cfg.tubelets)
            s = tub.box_scores(rng.random((len(tub), len(labels))))
            tubes[v] = link_box_scores(x.frames, x.boxes, s, x.nframes, cfg.link)
        chance.append(
            evaluate_tube_detections(gt, TubeDetections(tubes, labels), cfg.eval).to_json()["mAP"]
        )
    assert trained > 2 * max(c["0.20"] for c in chance), (trained, chance)
