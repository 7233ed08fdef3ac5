"""Training logs: history.csv after every epoch, TensorBoard scalars, timing in run.json."""

import csv
import json

import pytest

from wsal.config import load_run_config
from wsal.engine import history as history_mod
from wsal.engine.history import TENSORBOARD_DIR, TrainingLog, tensorboard_available
from wsal.engine.trainer import train_temporal
from wsal.errors import WsalError
from wsal.synthetic import generate_temporal

needs_tb = pytest.mark.skipif(
    not tensorboard_available(), reason="tensorboard is not installed (pip install 'wsal[dev]')"
)


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_is_rewritten_after_every_epoch(tmp_path):
    log = TrainingLog(tmp_path, tensorboard="off")
    log.append({"epoch": 1, "loss/total": 2.0})
    assert _rows(tmp_path / "history.csv") == [{"epoch": "1", "loss/total": "2.0"}]
    log.append({"epoch": 2, "loss/total": 1.5, "val/average_mAP": 0.25})
    rows = _rows(tmp_path / "history.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "loss/total", "val/average_mAP"]
    assert not (tmp_path / TENSORBOARD_DIR).exists()


def test_disabled_rank_writes_nothing(tmp_path):
    log = TrainingLog(tmp_path, tensorboard="auto", enabled=False)
    log.append({"epoch": 1, "loss/total": 2.0})
    assert log.history == [{"epoch": 1, "loss/total": 2.0}]
    assert list(tmp_path.iterdir()) == []


def test_required_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(history_mod, "tensorboard_available", lambda: False)
    with pytest.raises(WsalError, match="tensorboard package is not installed"):
        TrainingLog(tmp_path, tensorboard="on")
    assert not TrainingLog(tmp_path, tensorboard="auto").writes_tensorboard
    with pytest.raises(WsalError, match="auto, on or off"):
        TrainingLog(tmp_path, tensorboard="yes")


@needs_tb
def test_tensorboard_scalars_and_purge_on_resume(tmp_path):
    log = TrainingLog(tmp_path, tensorboard="on")
    for epoch, loss in ((1, 3.0), (2, 2.0), (3, 9.0)):  # epoch 3: written, then "killed"
        log.append({"epoch": epoch, "loss/total": loss}, extra={"time/epoch_seconds": 0.5})
    log.close()
    resumed = TrainingLog(tmp_path, log.history[:2], tensorboard="on")  # resumed at epoch 3
    resumed.append({"epoch": 3, "loss/total": 1.0})
    resumed.close()
    scalars = _scalars(tmp_path / TENSORBOARD_DIR)
    assert scalars["loss/total"] == [(1, 3.0), (2, 2.0), (3, 1.0)]
    assert [s for s, _ in scalars["time/epoch_seconds"]] == [1, 2]


@needs_tb
def test_training_run_writes_tensorboard_and_timing(tmp_path):
    data = generate_temporal(tmp_path / "data", "tiny", seed=1)
    cfg = load_run_config(
        None,
        [
            f"data.root={data}",
            "method=mil_topk",
            "train.epochs=3",
            "train.iterations_per_epoch=2",
            "model.hidden_dim=16",
            "data.max_snippets=32",
        ],
    )
    run = tmp_path / "run"
    result = train_temporal(cfg, run, log=lambda s: None)
    scalars = _scalars(run / TENSORBOARD_DIR)
    assert [s for s, _ in scalars["loss/total"]] == [1, 2, 3]
    assert [v for _, v in scalars["loss/total"]] == pytest.approx(
        [row["loss/total"] for row in result.history], rel=1e-6
    )
    assert len(scalars["time/epoch_seconds"]) == 3
    timing = json.loads((run / "run.json").read_text())["timing"]
    assert timing["epochs"] == 3 and timing["train_seconds"] > 0
    assert len(_rows(run / "history.csv")) == 3


@pytest.mark.parametrize(
    ("text", "expected"), [("off", "off"), ("on", "on"), ("false", "off"), ("auto", "auto")]
)
def test_tensorboard_switch_reads_yaml_booleans(text, expected):
    assert load_run_config(None, [f"train.tensorboard={text}"]).train.tensorboard == expected


@needs_tb
def test_keyframe_run_logs_every_epoch_and_resumes_the_log(tmp_path):
    """Keyframe runs write history.csv and TensorBoard scalars after every epoch, like
    temporal runs; a resumed run continues both (no duplicated or lost epochs)."""
    from wsal.config import load_run_config
    from wsal.engine.keyframe import train_keyframe
    from wsal.synthetic import generate_keyframe

    data = generate_keyframe(tmp_path / "kf", "tiny", seed=2)
    over = [f"data.root={data}", "method=ua_mil", "train.epochs=3", "train.batch_size=16",
            "model.hidden_dim=16", "train.device=cpu", "train.tensorboard=on"]  # fmt: skip
    cfg = load_run_config(None, over)
    run = tmp_path / "run"
    train_keyframe(cfg, run, log=lambda s: None, stop_after_epoch=1)
    assert [r["epoch"] for r in _rows(run / "history.csv")] == ["1"]  # written mid-run
    assert [s for s, _ in _scalars(run / TENSORBOARD_DIR)["loss/total"]] == [1]
    result = train_keyframe(cfg, run, resume=True, log=lambda s: None)
    assert [r["epoch"] for r in _rows(run / "history.csv")] == ["1", "2", "3"]
    scalars = _scalars(run / TENSORBOARD_DIR)
    assert [s for s, _ in scalars["loss/total"]] == [1, 2, 3]
    assert [v for _, v in scalars["loss/total"]] == pytest.approx(
        [r["loss/total"] for r in result.history]
    )
    assert [s for s, _ in scalars["time/epoch_seconds"]] == [1, 2, 3]
