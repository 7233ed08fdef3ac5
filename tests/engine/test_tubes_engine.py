"""End-to-end tube family: synth tiny -> wsal train (stil) -> wsal predict -> tube JSON."""

from __future__ import annotations

from wsal.cli import main
from wsal.io.tubes import read_tube_results
from wsal.synthetic import generate_tubes


def test_stil_train_predict_cli(tmp_path):
    data = generate_tubes(tmp_path / "data", "tiny", seed=0)
    run = tmp_path / "run"
    over = ["--set", "model.epochs=1", "--set", "model.folds=1"]
    assert main(["train", "--config", "configs/stil/synthetic.yaml", "--data", str(data),
                 "--out", str(run), *over]) == 0  # fmt: skip
    assert (run / "model.npz").is_file() and (run / "metrics.json").is_file()
    out = tmp_path / "tubes.json"
    assert main(["predict", "--run", str(run), "--split", "test", "--out", str(out)]) == 0
    dets = read_tube_results(out)
    assert len(dets) > 0
