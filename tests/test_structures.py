"""Hand-computed cases for the shared structures and IoU helpers."""

import numpy as np
import pytest

from wsal.structures import (
    Boxes,
    Segments,
    SnippetTiming,
    Tube,
    box_iou_matrix,
    segment_iou_matrix,
    tube_iou,
    tube_iou_matrix,
)


def test_segment_iou_hand_computed():
    a = np.array([[0.0, 10.0], [5.0, 5.0], [8.0, 2.0]])
    b = np.array([[5.0, 15.0], [0.0, 10.0], [20.0, 30.0]])
    iou = segment_iou_matrix(a, b)
    assert iou[0, 0] == pytest.approx(5 / 15)
    assert iou[0, 1] == 1.0
    assert iou[0, 2] == 0.0
    assert (iou[1] == 0).all()  # zero-length segment: tIoU 0
    assert (iou[2] == 0).all()  # reversed segment never overlaps


def test_segment_iou_empty_shapes():
    assert segment_iou_matrix(np.zeros((0, 2)), np.array([[0.0, 1.0]])).shape == (0, 1)
    assert segment_iou_matrix([], []).shape == (0, 0)


def test_box_iou_continuous_and_plus_one():
    a = np.array([[0.0, 0.0, 0.5, 0.5], [0.2, 0.2, 0.1, 0.4]])  # second has x2 <= x1
    b = np.array([[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 0.5, 0.5]])
    iou = box_iou_matrix(a, b)
    assert iou[0, 0] == pytest.approx(0.0625 / (0.25 + 0.25 - 0.0625))
    assert iou[0, 1] == 1.0
    assert (iou[1] == 0).all()
    px = box_iou_matrix(np.array([[0, 0, 9, 9]]), np.array([[5, 5, 14, 14]]), plus_one=True)
    assert px[0, 0] == pytest.approx(25 / (100 + 100 - 25))


def test_boxes_pixel_round_trip_and_validity():
    b = Boxes.from_pixels(np.array([[32, 24, 160, 120]]), 320, 240)
    np.testing.assert_allclose(b.xyxy, [[0.1, 0.1, 0.5, 0.5]])
    np.testing.assert_allclose(b.to_pixels(320, 240), [[32, 24, 160, 120]])
    assert Boxes(np.array([[0.5, 0.1, 0.4, 0.2], [np.nan, 0, 1, 1]])).valid.tolist() == [
        False,
        False,
    ]
    with pytest.raises(ValueError):
        Boxes(np.zeros((3, 3)))


def test_tube_iou_hand_computed():
    a = Tube(frames=np.arange(1, 11), boxes=np.tile([0, 0, 9, 9], (10, 1)))
    b = Tube(frames=np.arange(6, 16), boxes=np.tile([0, 0, 9, 9], (10, 1)))
    assert tube_iou(a, b) == pytest.approx(5 / 15)
    c = Tube(frames=np.arange(1, 11), boxes=np.tile([5, 5, 14, 14], (10, 1)))
    assert tube_iou(a, c) == pytest.approx(25 / 175)
    d = Tube(frames=np.arange(20, 25), boxes=np.tile([0, 0, 9, 9], (5, 1)))
    assert tube_iou(a, d) == 0.0
    np.testing.assert_allclose(
        tube_iou_matrix([a, b], [a, c, d]), [[1, 25 / 175, 0], [5 / 15, 5 / 15 * 25 / 175, 0]]
    )


def test_tube_rejects_gaps_and_mismatch():
    with pytest.raises(ValueError):
        Tube(frames=[1, 2, 4], boxes=np.zeros((3, 4)))
    with pytest.raises(ValueError):
        Tube(frames=[1, 2], boxes=np.zeros((3, 4)))


def test_snippet_timing_default_and_inverse():
    t = SnippetTiming()
    assert t.seconds_per_snippet == pytest.approx(0.64)
    np.testing.assert_allclose(t.to_seconds([0, 1, 10]), [0, 0.64, 6.4])
    np.testing.assert_allclose(t.to_index(t.to_seconds(7.5)), 7.5)
    assert t.num_snippets(6.4) == 10 and t.num_snippets(6.5) == 11
    with pytest.raises(ValueError):
        SnippetTiming(16, 0.0)


def test_segments_container():
    s = Segments(np.array([[0, 1], [2, 4]]), labels=[1, 0], scores=[0.5, 0.9])
    assert len(s) == 2 and s.lengths.tolist() == [1, 2]
    assert len(Segments.cat([s, s[1:]])) == 3
    assert np.isnan(Segments(np.array([[0, 1]])).scores).all()
