"""Tubelet builder on hand-made proposals: shapes, chaining by IoU, feature means, box scores."""

from __future__ import annotations

import numpy as np
import pytest

from wsal.data.tubelets import TubeletBagDataset, build_tubelets, tubelet_length


def _proposals():
    """Frames 1, 6, 11 (every 5th): person A moving right, person B static, a far background box.

    Box indices (input order deliberately not frame-sorted)::

        0: f6  A  [12, 10, 52, 90]     3: f1  A  [10, 10, 50, 90]
        1: f1  B  [200, 20, 240, 100]  4: f6  B  [201, 20, 241, 100]
        2: f11 A  [14, 10, 54, 90]     5: f1  background [120, 150, 150, 200]
    """
    frames = np.array([6, 1, 11, 1, 6, 1])
    boxes = np.array(
        [[12, 10, 52, 90], [200, 20, 240, 100], [14, 10, 54, 90],
         [10, 10, 50, 90], [201, 20, 241, 100], [120, 150, 150, 200]],
        dtype=np.float64,
    )  # fmt: skip
    feats = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    return frames, boxes, feats


def test_tubelets_chain_by_iou_and_truncate_at_the_end():
    frames, boxes, _ = _proposals()
    tub = build_tubelets(frames, boxes, 3, link_iou=0.3)
    assert tub.members.shape == (6, 3) and len(tub) == 6 and tub.length == 3
    # one tubelet per box, in frame order (stable): f1 boxes 1, 3, 5; f6 boxes 0, 4; f11 box 2
    assert tub.members[:, 0].tolist() == [1, 3, 5, 0, 4, 2]
    assert tub.start_frame.tolist() == [1, 1, 1, 6, 6, 11]
    rows = {int(m[0]): m.tolist() for m in tub.members}
    assert rows[3] == [3, 0, 2]  # A: f1 -> f6 -> f11 by best IoU
    assert rows[1] == [1, 4, -1]  # B: f11 has no box overlapping B
    assert rows[5] == [5, -1, -1]  # background overlaps nothing
    assert rows[0] == [0, 2, -1]  # started at f6: truncated at the video end
    assert rows[2] == [2, -1, -1]
    assert tub.counts.tolist() == [2, 3, 1, 2, 1, 1]


def test_chain_continues_after_a_miss_and_threshold_is_inclusive():
    frames = np.array([1, 2, 3])
    boxes = np.array([[0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9]], dtype=np.float64)
    tub = build_tubelets(frames, boxes, 3, link_iou=1.0)
    assert tub.members[0].tolist() == [0, -1, 2]  # frame 2 missed; frame 3 linked to box 0
    half = np.array([[0, 0, 9, 9], [0, 0, 9, 4]], dtype=np.float64)  # IoU exactly 0.5
    assert build_tubelets([1, 2], half, 2, link_iou=0.5).members[0].tolist() == [0, 1]
    assert build_tubelets([1, 2], half, 2, link_iou=0.51).members[0].tolist() == [0, -1]


def test_tubelet_features_are_member_means_and_box_scores_cover_every_box():
    frames, boxes, feats = _proposals()
    tub = build_tubelets(frames, boxes, 3, link_iou=0.3)
    f = tub.features(feats)
    assert f.shape == (6, 2) and f.dtype == np.float32
    np.testing.assert_allclose(f[1], feats[[3, 0, 2]].mean(axis=0))  # tubelet of A from f1
    np.testing.assert_allclose(f[0], feats[[1, 4]].mean(axis=0))
    np.testing.assert_allclose(f[2], feats[5])
    np.testing.assert_allclose(tub.features(feats, [3, 1]), f[[3, 1]])
    scores = np.array([[0.1], [0.9], [0.5], [0.3], [0.7], [0.2]])  # per tubelet (M, C=1)
    mean = tub.box_scores(scores, "mean")[:, 0]
    # box 2 (A at f11) is in the tubelets starting at 3 (0.9), 0 (0.3) and 2 (0.2)
    np.testing.assert_allclose(mean[2], (0.9 + 0.3 + 0.2) / 3)
    np.testing.assert_allclose(mean[4], (0.1 + 0.7) / 2)  # B at f6: tubelets of 1 and 4
    np.testing.assert_allclose(mean[5], 0.5)
    mx = tub.box_scores(scores, "max")[:, 0]
    assert mx[2] == 0.9 and mx[4] == 0.7 and mean.shape == (6,)
    with pytest.raises(ValueError, match="expected"):
        tub.box_scores(scores[:2])
    with pytest.raises(ValueError, match="box features"):
        tub.features(feats[:3])


def test_lengths_empty_videos_and_bad_input():
    assert tubelet_length(np.arange(1, 100, 5), 16) == 4  # every 5th frame: f, f+5, f+10, f+15
    assert tubelet_length(np.arange(1, 50), 16) == 16
    assert tubelet_length(np.array([7]), 16) == 16
    empty = build_tubelets(np.zeros(0), np.zeros((0, 4)), 4)
    assert empty.members.shape == (0, 4) and empty.box_scores(np.zeros((0, 3))).shape == (0, 3)
    with pytest.raises(ValueError, match="length"):
        build_tubelets([1], [[0, 0, 1, 1]], 0)
    with pytest.raises(ValueError, match="frames but"):
        build_tubelets([1, 2], [[0, 0, 1, 1]], 2)


def test_bag_dataset_samples_at_most_max_instances_seeded():
    frames, boxes, feats = _proposals()
    tub = build_tubelets(frames, boxes, 3)
    kw = dict(features=[feats], boxes=[boxes], tubelets=[tub], labels=np.array([[0.0, 1.0]]),
              sizes=np.array([[320, 240]]))  # fmt: skip
    ds = TubeletBagDataset(**kw, max_instances=4, seed=3)
    a, b = ds[0], ds[0]
    assert a["feats"].shape == (4, 2) and a["boxes"].shape == (4, 4)
    np.testing.assert_array_equal(a["feats"], b["feats"])
    assert a["labels"].tolist() == [0.0, 1.0] and (a["boxes"] <= 1.0).all()
    full = TubeletBagDataset(**kw, max_instances=4, train=False)[0]
    np.testing.assert_allclose(full["feats"], tub.features(feats))
