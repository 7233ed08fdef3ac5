"""Videos of 0 and 1 snippets: one snippet trains and predicts; zero snippets is a clear
error naming the video (the 50,000-snippet case is benchmarks/bench_long_video.py)."""

from __future__ import annotations

import numpy as np
import pytest

from wsal.config import load_run_config
from wsal.engine.trainer import predict_temporal, train_temporal
from wsal.errors import FormatError
from wsal.synthetic import generate_temporal

SETS = [
    "method=mil_topk",
    "train.epochs=1",
    "train.iterations_per_epoch=2",
    "train.device=cpu",
    "model.hidden_dim=16",
    "data.max_snippets=64",
]


def _set_length(root, split: str, video: str, length: int) -> None:
    for stream in ("rgb", "flow"):
        path = root / "features" / split / stream / f"{video}.npy"
        np.save(path, np.load(path)[:length])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = generate_temporal(tmp_path_factory.mktemp("lengths") / "d", "tiny", seed=1)
    train_video = (root / "split_train.txt").read_text().split()[0]
    _set_length(root, "train", train_video, 1)
    return root


def test_one_snippet_videos_train_and_predict(data, tmp_path):
    run = tmp_path / "run"
    train_temporal(load_run_config(None, [*SETS, f"data.root={data}"]), run, log=lambda s: None)
    test_video = (data / "split_test.txt").read_text().split()[0]
    _set_length(data, "test", test_video, 1)
    raw, dets, _ = predict_temporal(run, split="test", device="cpu")
    assert raw[test_video].cas.shape[0] == 1 and np.isfinite(raw[test_video].cas).all()
    assert np.isfinite(dets.segments.scores).all()


def test_zero_snippet_video_is_a_clear_error(data, tmp_path):
    run = tmp_path / "run0"
    train_temporal(load_run_config(None, [*SETS, f"data.root={data}"]), run, log=lambda s: None)
    test_video = (data / "split_test.txt").read_text().split()[1]
    _set_length(data, "test", test_video, 0)
    with pytest.raises(FormatError, match=f"video '{test_video}' has no snippets"):
        predict_temporal(run, split="test", device="cpu")
