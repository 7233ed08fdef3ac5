"""Crash safety: a `wsal train` process killed with SIGKILL in the middle of writing a
checkpoint resumes with `--resume` and ends with exactly the metrics and weights of an
uninterrupted run; nothing half-written is left where a later command reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from wsal.cli import main
from wsal.engine.checkpoint import load_checkpoint
from wsal.synthetic import generate_temporal

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "mil_topk" / "synthetic.yaml"
SETS = [
    "train.epochs=5",
    "train.iterations_per_epoch=2",
    "train.checkpoint_every=1",
    "train.device=cpu",
    "model.hidden_dim=32",
    "data.max_snippets=64",
]
KILL_AT_CHECKPOINT = 3  # blocked half-way through writing the third checkpoint, then killed

# Runs `wsal train` with torch.save patched so that the N-th checkpoint write stops after
# half of its bytes (flushed to disk) and the process waits there to be killed.
_STALLING_TRAIN = """
import io, os, sys, time
import torch
real_save, calls = torch.save, [0]
def stalling_save(obj, f, *args, **kwargs):
    calls[0] += 1
    if calls[0] < int(os.environ["KILL_AT"]):
        return real_save(obj, f, *args, **kwargs)
    buf = io.BytesIO()
    real_save(obj, buf, *args, **kwargs)
    f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    f.flush()
    os.fsync(f.fileno())
    open(os.environ["MARKER"], "w").close()
    time.sleep(600)
torch.save = stalling_save
from wsal.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    sets = [x for s in SETS for x in ("--set", s)]
    return ["train", "--config", str(CONFIG), "--data", str(data), *sets, "--out", str(out), *extra]


def _kill_mid_checkpoint(data: Path, out: Path, tmp: Path) -> None:
    marker = tmp / "stalled"
    env = {**os.environ, "KILL_AT": str(KILL_AT_CHECKPOINT), "MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _STALLING_TRAIN, *_train_args(data, out)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"training ended before the kill: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("training never reached the checkpoint to interrupt")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    proc.stderr.close()


def _assert_nothing_half_written(run: Path) -> None:
    """Every file a later command reads is complete; the interrupted write is only a temp file."""
    ckpt_dir = run / "checkpoints"
    temps = sorted(p.name for p in ckpt_dir.iterdir() if p.name != "last.pt")
    assert len(temps) == 1 and temps[0].startswith(".last.pt.") and temps[0].endswith(".tmp")
    state = load_checkpoint(ckpt_dir / "last.pt")  # the previous, complete checkpoint
    assert state["epoch"] == KILL_AT_CHECKPOINT - 2
    yaml.safe_load((run / "config.yaml").read_text())
    json.loads((run / "run.json").read_text())
    assert not (run / "model.pt").exists() and not (run / "metrics_test.json").exists()


@pytest.mark.slow
def test_sigkill_mid_checkpoint_then_resume_equals_uninterrupted(tmp_path, capsys):
    data = generate_temporal(tmp_path / "data", "tiny", seed=0)
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(_train_args(data, full)) == 0

    _kill_mid_checkpoint(data, cut, tmp_path)
    _assert_nothing_half_written(cut)
    capsys.readouterr()
    assert main(_train_args(data, cut, "--resume")) == 0
    assert f"resumed from {cut / 'checkpoints' / 'last.pt'} at epoch 2" in capsys.readouterr().out

    assert (cut / "history.csv").read_text() == (full / "history.csv").read_text()
    assert json.loads((cut / "metrics_test.json").read_text()) == json.loads(
        (full / "metrics_test.json").read_text()
    )
    a, b = (load_checkpoint(r / "model.pt")["model"] for r in (full, cut))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (cut / "results_test.json").read_text() == (full / "results_test.json").read_text()
