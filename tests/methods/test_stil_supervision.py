"""STIL supervision beyond labels (Sec. 3.3, Eq. 5-7) and the appendix-A cost model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from wsal.engine.tubes import load_tube_run_config, supervise_videos, train_tubes
from wsal.errors import ConfigError
from wsal.methods.stil import (
    ABSENT,
    BOX,
    POINT,
    Annotations,
    annotation_prior,
    annotation_seconds,
    delta_s,
    delta_t,
    simulate_annotations,
)
from wsal.structures import Tube
from wsal.synthetic import generate_tubes


def test_delta_t_full_half_zero():
    # Eq. 6: 1 on the annotated frame, 1/2 one frame away, 0 from two frames on
    out = delta_t(np.array([10]), np.array([10, 9, 11, 12, 7]))
    np.testing.assert_allclose(out, [[1.0, 0.5, 0.5, 0.0, 0.0]])


def test_delta_s_box_point_absent():
    boxes = np.array([[0.0, 0.0, 9.0, 9.0], [5.0, 0.0, 14.0, 9.0], [100, 100, 109, 109]])
    geo = np.array(
        [
            [0.0, 0.0, 9.0, 9.0],  # box equal to box 0
            [4.5, 4.5, 4.5, 4.5],  # point at the centre of box 0
            [0.0, 0.0, 0.0, 0.0],  # absent
        ]
    )
    out = delta_s(np.array([BOX, POINT, ABSENT]), geo, boxes)
    # box: IoU (+1 pixel convention): box 0 with box 1 = 50 / 150
    np.testing.assert_allclose(out[0], [1.0, 50.0 / 150.0, 0.0])
    # point: 1 at the centre of box 0; box 1 centre (9.5, 4.5) is 5 px away, half-diagonal
    # of box 1 = sqrt(4.5^2 + 4.5^2) -> 1 - 5 / 6.364; far box: 0
    np.testing.assert_allclose(out[1], [1.0, 1.0 - 5.0 / np.hypot(4.5, 4.5), 0.0])
    np.testing.assert_allclose(out[2], [-1.0, -1.0, -1.0])


def test_delta_s_point_on_corner_is_zero():
    out = delta_s(np.array([POINT]), np.array([[9.0, 9.0, 9.0, 9.0]]), np.array([[0, 0, 9, 9.0]]))
    assert out[0, 0] == pytest.approx(0.0)


def test_annotation_prior_sums_eq5():
    frames = np.array([1, 2, 6])
    boxes = np.array([[0.0, 0, 9, 9], [0.0, 0, 9, 9], [0.0, 0, 9, 9]])
    ann = Annotations(
        frames=np.array([1, 6]),
        kind=np.array([BOX, ABSENT]),
        geometry=np.array([[0.0, 0, 9, 9], [0, 0, 0, 0]]),
    )
    # frame 1: box IoU 1 * dt 1; frame 2: 0.5 * 1; frame 6: absent -1 * 1
    np.testing.assert_allclose(annotation_prior(frames, boxes, ann), [1.0, 0.5, -1.0])
    assert annotation_prior(frames, boxes, Annotations.empty()).tolist() == [0.0, 0.0, 0.0]


def test_simulate_annotations_and_cost():
    tube = Tube(frames=np.arange(3, 9), boxes=np.tile([[10.0, 10, 29, 49]], (6, 1)), label=0)
    ann = simulate_annotations([tube], nframes=20, kind="point", stride=5)
    # sampled frames 1, 6, 11, 16: the tube covers frame 6 only
    assert sorted(ann.frames.tolist()) == [1, 6, 11, 16]
    assert (ann.kind == POINT).sum() == 1 and (ann.kind == ABSENT).sum() == 3
    np.testing.assert_allclose(ann.geometry[ann.kind == POINT], [[19.5, 29.5, 19.5, 29.5]])
    assert annotation_seconds(ann) == pytest.approx(5 + 4 * 1.5)
    boxes = simulate_annotations([tube], nframes=20, kind="box", stride=1)
    assert annotation_seconds(boxes) == pytest.approx(5 + 20 * 15)
    assert annotation_seconds(None) == 5.0
    # appendix Table 3, J-HMDB (34 frames, one actor over the whole clip): points stride 1 = 56 s
    full = Tube(frames=np.arange(1, 35), boxes=np.tile([[0.0, 0, 9, 9]], (34, 1)), label=0)
    assert annotation_seconds(simulate_annotations([full], 34, "point", 1)) == pytest.approx(56.0)
    with pytest.raises(ValueError):
        simulate_annotations([tube], 20, "scribble", 1)  # type: ignore[arg-type]


def test_supervise_videos_rejects_unknown_kind():
    with pytest.raises(ConfigError):
        supervise_videos([], [], None, "scribbles", 10)  # type: ignore[arg-type]


def _corrupt_train_boxes(src, dst):
    """Copy a tube folder with the training videos' tube boxes moved elsewhere."""
    shutil.copytree(src, dst)
    path = dst / "gt_tubes.json"
    gt = json.loads(path.read_text())
    train = set((dst / "split_train.txt").read_text().split())
    for vid in train:
        for t in gt["videos"][vid]["tubes"]:
            t["boxes"] = [[1.0, 2.0, 3.0, 4.0] for _ in t["boxes"]]
    path.write_text(json.dumps(gt))
    return dst


def test_labels_only_training_never_reads_boxes(tmp_path):
    """Labels-only STIL gives the same model whatever the training tubes' boxes are; asking
    for box supervision does read them (so the check can fail)."""
    data = generate_tubes(tmp_path / "data", "tiny", seed=0)
    bad = _corrupt_train_boxes(data, tmp_path / "bad")
    over = ["model.epochs=1", "model.folds=1"]
    coefs = {}
    for name, root, sup in (("a", data, "labels"), ("b", bad, "labels"), ("c", data, "boxes"),
                            ("d", bad, "boxes")):  # fmt: skip
        cfg = load_tube_run_config(
            "configs/stil/synthetic.yaml", [*over, f"data.supervision={sup}"]
        )
        cfg.data.root = str(root)
        train_tubes(cfg, tmp_path / f"run_{name}", evaluate=False)
        with np.load(tmp_path / f"run_{name}" / "model.npz") as z:
            coefs[name] = z["coef"].copy()
    np.testing.assert_array_equal(coefs["a"], coefs["b"])
    assert not np.array_equal(coefs["c"], coefs["d"])
