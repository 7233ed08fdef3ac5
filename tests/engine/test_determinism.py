"""Issue 9: same seed and same data give bitwise-identical training results on CPU, per method."""

import pytest
import torch

from wsal.config import load_run_config
from wsal.engine.checkpoint import load_checkpoint
from wsal.engine.trainer import train_temporal
from wsal.methods import method_names
from wsal.synthetic import generate_temporal


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_temporal(tmp_path_factory.mktemp("det") / "temporal", "tiny", seed=5)


def _run(data, out, method):
    cfg = load_run_config(
        None,
        [
            f"data.root={data}",
            f"method={method}",
            "train.epochs=2",
            "train.iterations_per_epoch=2",
            "data.max_snippets=48",
            "train.tensorboard=off",
        ],
    )
    result = train_temporal(cfg, out, log=lambda s: None)
    return result.history, load_checkpoint(out / "model.pt")["model"]


@pytest.mark.parametrize("method", method_names("temporal"))
def test_same_seed_gives_bitwise_identical_weights(data, tmp_path, method):
    h1, w1 = _run(data, tmp_path / "a", method)
    h2, w2 = _run(data, tmp_path / "b", method)
    assert h1 == h2
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.equal(w1[k], w2[k]), f"{method}: {k} differs"
    assert (tmp_path / "a" / "history.csv").read_bytes() == (
        tmp_path / "b" / "history.csv"
    ).read_bytes()
