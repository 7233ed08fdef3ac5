"""Generated data and one tiny trained run shared by the viz tests (built once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from wsal.config import load_run_config
from wsal.pipeline import train_and_evaluate
from wsal.synthetic import generate_keyframe, generate_temporal, generate_tubes

OVERRIDES = [
    "method=mil_topk",
    "train.epochs=2",
    "train.iterations_per_epoch=2",
    "model.hidden_dim=32",
    "data.max_snippets=64",
]


@pytest.fixture(scope="session")
def temporal_data(tmp_path_factory):
    """A tiny temporal dataset folder."""
    return generate_temporal(tmp_path_factory.mktemp("viz") / "temporal", "tiny", seed=3)


@pytest.fixture(scope="session")
def tiny_run(temporal_data, tmp_path_factory):
    """A run folder trained for two short epochs, evaluated on the test split."""
    run = tmp_path_factory.mktemp("viz") / "run"
    cfg = load_run_config(None, [f"data.root={temporal_data}", *OVERRIDES])
    train_and_evaluate(cfg, run)
    return run


@pytest.fixture(scope="session")
def keyframe_data(tmp_path_factory):
    """A tiny AVA-layout keyframe folder."""
    return generate_keyframe(tmp_path_factory.mktemp("viz") / "keyframe", "tiny", seed=0)


@pytest.fixture(scope="session")
def tube_data(tmp_path_factory):
    """A tiny UCF101-24-layout tube folder."""
    return generate_tubes(tmp_path_factory.mktemp("viz") / "tubes", "tiny", seed=0)


@pytest.fixture(scope="session")
def video_file(tmp_path_factory):
    """A 64 x 48 MPEG-4 video of 12 frames at 4 fps (PyAV); frame ``i`` is grey ``20 * i``."""
    import av

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    width, height, frames, fps = 64, 48, 12, 4
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), min(255, 20 * i), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))
    return path
