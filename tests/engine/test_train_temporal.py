"""End to end on generated data: train -> predict -> localize -> evaluate; resume; determinism."""

import json

import pytest
import torch

from wsal.cli import main
from wsal.config import load_run_config
from wsal.engine.checkpoint import load_checkpoint
from wsal.engine.trainer import train_temporal
from wsal.errors import ConfigError, FormatError
from wsal.pipeline import train_and_evaluate
from wsal.synthetic import generate_temporal

OVERRIDES = [
    "train.epochs=4",
    "train.iterations_per_epoch=2",
    "model.hidden_dim=32",
    "data.max_snippets=64",
    "train.lr=0.001",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_temporal(tmp_path_factory.mktemp("synth") / "temporal", "tiny", seed=3)


def _cfg(data, *extra):
    return load_run_config(None, [f"data.root={data}", "method=mil_topk", *OVERRIDES, *extra])


def test_end_to_end_writes_run_and_metrics(data, tmp_path):
    run = tmp_path / "run"
    result = train_and_evaluate(_cfg(data), run)
    for name in (
        "config.yaml",
        "run.json",
        "history.csv",
        "model.pt",
        "checkpoints/last.pt",
        "raw_test.npz",
        "results_test.json",
        "metrics_test.json",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics_test.json").read_text())
    assert set(metrics) == {"mAP", "average_mAP", "per_class"} and 0.0 <= result.average_mAP <= 1.0
    info = json.loads((run / "run.json").read_text())
    assert info["validation_videos"] == [] and "final checkpoint" in info["model_selection"]


def test_resume_reaches_the_same_result(data, tmp_path):
    full = train_temporal(_cfg(data), tmp_path / "full", log=lambda s: None)
    train_temporal(_cfg(data), tmp_path / "cut", log=lambda s: None, stop_after_epoch=2)
    resumed = train_temporal(_cfg(data), tmp_path / "cut", resume=True, log=lambda s: None)
    assert resumed.history == full.history
    a = load_checkpoint(tmp_path / "full" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "model.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_same_seed_same_result_other_seed_differs(data, tmp_path):
    h1 = train_temporal(_cfg(data), tmp_path / "a", log=lambda s: None).history
    h2 = train_temporal(_cfg(data), tmp_path / "b", log=lambda s: None).history
    h3 = train_temporal(_cfg(data, "seed=1"), tmp_path / "c", log=lambda s: None).history
    assert h1 == h2 and h1 != h3


def test_validation_carved_from_training_split(data, tmp_path):
    cfg = _cfg(data, "train.val_fraction=0.25", "train.eval_every=2")
    result = train_temporal(cfg, tmp_path / "v", log=lambda s: None)
    info = json.loads((tmp_path / "v" / "run.json").read_text())
    train_split = (data / "split_train.txt").read_text().split()
    assert info["validation_videos"] and set(info["validation_videos"]) <= set(train_split)
    assert not set(info["validation_videos"]) & set(info["train_videos"])
    assert "val/average_mAP" in result.history[1]


def test_select_best_keeps_the_best_validated_epoch_and_resumes_exactly(data, tmp_path):
    """``train.select=best``: model.pt holds the weights of the epoch with the highest
    validation mAP (the earliest on ties), the same after an interruption and --resume."""
    cfg = _cfg(
        data, "train.val_fraction=0.25", "train.eval_every=1", "train.select=best",
        "train.epochs=6", "train.lr=0.01",
    )  # fmt: skip
    full = train_temporal(cfg, tmp_path / "full", log=lambda s: None)
    scores = [row["val/average_mAP"] for row in full.history]
    best_epoch = 1 + max(range(len(scores)), key=lambda i: (scores[i], -i))
    info = json.loads((tmp_path / "full" / "run.json").read_text())
    assert f"epoch {best_epoch}," in info["model_selection"]
    kept = load_checkpoint(tmp_path / "full" / "model.pt")["model"]
    last = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    assert last["best"]["epoch"] == best_epoch
    assert all(torch.equal(kept[k], last["best"]["model"][k]) for k in kept)
    if best_epoch < len(scores):  # the final weights were not kept
        assert any(not torch.equal(kept[k], last["model"][k]) for k in kept)
    train_temporal(cfg, tmp_path / "cut", log=lambda s: None, stop_after_epoch=3)
    train_temporal(cfg, tmp_path / "cut", resume=True, log=lambda s: None)
    again = load_checkpoint(tmp_path / "cut" / "model.pt")["model"]
    assert all(torch.equal(kept[k], again[k]) for k in kept)


def test_select_best_without_validation_is_a_config_error(data, tmp_path):
    with pytest.raises(ConfigError, match="train.select=best"):
        train_temporal(_cfg(data, "train.select=best"), tmp_path / "x", log=lambda s: None)


def test_cli_train_predict_localize(data, tmp_path, capsys):
    run = tmp_path / "cli_run"
    sets = [x for o in OVERRIDES for x in ("--set", o)]
    assert (
        main(["train", "--data", str(data), "--set", "method=mil_topk", *sets, "--out", str(run)])
        == 0
    )
    assert "average mAP" in capsys.readouterr().out
    out = tmp_path / "pred.json"
    assert (
        main(["predict", "--run", str(run), "--split", "test", "--out", str(out), "--evaluate"])
        == 0
    )
    assert "results" in json.loads(out.read_text())
    relocal = tmp_path / "relocal.json"
    assert (
        main(
            [
                "localize",
                "--scores",
                str(run / "raw_test.npz"),
                "--preset",
                "dml",
                "--out",
                str(relocal),
            ]
        )
        == 0
    )
    assert "results" in json.loads(relocal.read_text())
    capsys.readouterr()
    assert (
        main(
            [
                "localize",
                "--scores",
                str(run / "raw_test.npz"),
                "--preset",
                "multi_threshold",
                "--out",
                str(relocal),
            ]
        )
        == 2
    )
    assert "needs actionness" in capsys.readouterr().err
    assert (
        main(
            [
                "localize",
                "--scores",
                str(run / "raw_test.npz"),
                "--preset",
                "nope",
                "--out",
                str(relocal),
            ]
        )
        == 2
    )
    assert "unknown localizer preset" in capsys.readouterr().err


def test_resume_without_checkpoint_is_a_clear_error(data, tmp_path):
    with pytest.raises(FormatError, match="checkpoint file missing"):
        train_temporal(_cfg(data), tmp_path / "none", resume=True, log=lambda s: None)
