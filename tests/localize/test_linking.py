"""Hand-made cases for the tube linkers of wsal.localize.linking (Temporal Prim, ACT, interp)."""

from __future__ import annotations

import numpy as np
import pytest

from wsal.localize.linking import (
    FrameIndex,
    act_greedy_link,
    frame_nms,
    interpolate_tube,
    temporal_prim,
    tube_from_indices,
)

A = [0.0, 0.0, 10.0, 10.0]  # a person on the left
B = [100.0, 100.0, 110.0, 110.0]  # a person far away (IoU 0 with A)


def _video(rows):
    """rows of (frame, box, score) -> arrays."""
    frames = np.array([r[0] for r in rows])
    boxes = np.array([r[1] for r in rows], dtype=float)
    scores = np.array([r[2] for r in rows], dtype=float)
    return frames, boxes, scores


def test_frame_index_groups_boxes_by_sampled_frame():
    idx = FrameIndex.build(np.array([11, 1, 6, 1, 11]))
    assert idx.frame_values.tolist() == [1, 6, 11]
    assert sorted(idx.members(0).tolist()) == [1, 3]
    assert idx.group.tolist() == [2, 0, 1, 0, 2]


def test_prim_grows_both_ways_from_the_best_box_and_picks_heavier_direction_first():
    # frames 1..5 (sampled every 5th); best box at frame 11; backward edge heavier than forward
    f, b, s = _video(
        [(1, A, 0.5), (6, A, 0.9), (11, A, 1.0), (16, A, 0.2), (21, A, 0.3), (11, B, 0.1)]
    )
    tubes = temporal_prim(f, b, s, max_tubes=1)
    (t,) = tubes
    assert t.growth[0] == 2  # seed = highest score
    assert t.indices.tolist() == [0, 1, 2, 3, 4]  # frame order
    # first step: backward (1.0 + 0.9) beats forward (1.0 + 0.2); then backward again
    # (0.9 + 0.5 = 1.4 > 1.2), then forward twice
    assert t.directions.tolist() == [-1, -1, 1, 1]
    assert t.growth.tolist() == [2, 1, 0, 3, 4]


def test_prim_direction_choice_matters_with_a_length_cap():
    f, b, s = _video([(1, A, 0.2), (2, A, 1.0), (3, A, 0.8)])
    (t,) = temporal_prim(f, b, s, max_tubes=1, max_length=2)
    assert t.indices.tolist() == [1, 2]  # forward edge 1.8 > backward 1.2
    f, b, s = _video([(1, A, 0.9), (2, A, 1.0), (3, A, 0.8)])
    (t,) = temporal_prim(f, b, s, max_tubes=1, max_length=2)
    assert t.indices.tolist() == [0, 1]


def test_prim_stops_when_no_box_has_support():
    # the tube of A breaks at frame 3 (box moved away: IoU < 0.1); frame 5 is the boundary
    far = [50.0, 50.0, 60.0, 60.0]
    f, b, s = _video([(1, A, 0.5), (2, A, 0.9), (3, far, 0.4), (4, far, 0.6), (5, far, 0.3)])
    tubes = temporal_prim(f, b, s)
    assert [t.indices.tolist() for t in tubes] == [[0, 1], [2, 3, 4]]


def test_prim_edges_need_iou_at_least_threshold():
    shifted = [9.0, 0.0, 19.0, 10.0]  # IoU with A (+1 px) = 2*11 / (2*121 - 22) = 0.1
    f, b, s = _video([(1, A, 1.0), (2, shifted, 0.5)])
    assert len(temporal_prim(f, b, s, max_tubes=1)[0]) == 2
    assert len(temporal_prim(f, b, s, max_tubes=1, iou_threshold=0.11)[0]) == 1


def test_prim_multiple_tubes_on_remaining_boxes():
    rows = [(fr, A, 0.9) for fr in (1, 2, 3)] + [(fr, B, 0.5) for fr in (1, 2, 3)]
    f, b, s = _video(rows)
    tubes = temporal_prim(f, b, s, max_tubes=None)
    assert [t.indices.tolist() for t in tubes] == [[0, 1, 2], [3, 4, 5]]
    assert len(temporal_prim(f, b, s, max_tubes=1)) == 1


def test_prim_prefers_the_heavier_box_in_the_next_frame_and_skips_used_boxes():
    near = [1.0, 1.0, 11.0, 11.0]
    f, b, s = _video([(1, A, 1.0), (2, A, 0.3), (2, near, 0.7), (3, A, 0.5)])
    tubes = temporal_prim(f, b, s, max_tubes=None)
    assert tubes[0].indices.tolist() == [0, 2, 3]
    assert tubes[1].indices.tolist() == [1]


def test_prim_test_time_stops_at_non_positive_scores():
    f, b, s = _video([(1, A, -0.5), (2, A, 0.4), (3, A, 0.8), (4, A, 0.0), (2, B, -1.0)])
    tubes = temporal_prim(f, b, s, max_tubes=None, min_score=0.0)
    assert [t.indices.tolist() for t in tubes] == [[1, 2]]
    assert temporal_prim(f, b, -np.abs(s) - 1, min_score=0.0) == []


def test_prim_suppression_removes_duplicates_of_a_tube():
    near = [0.5, 0.5, 10.5, 10.5]
    f, b, s = _video([(1, A, 1.0), (1, near, 0.9), (2, A, 1.0), (2, near, 0.9)])
    assert len(temporal_prim(f, b, s, max_tubes=None)) == 2
    assert len(temporal_prim(f, b, s, max_tubes=None, suppress_iou=0.5)) == 1


def test_prim_empty_and_shape_errors():
    assert temporal_prim(np.zeros(0), np.zeros((0, 4)), np.zeros(0)) == []
    with pytest.raises(ValueError):
        temporal_prim(np.array([1, 2]), np.zeros((3, 4)), np.zeros(2))


def test_frame_nms_keeps_best_and_far_boxes():
    boxes = np.array([A, [0.5, 0.5, 10.5, 10.5], B], dtype=float)
    assert frame_nms(boxes, np.array([0.5, 0.9, 0.1]), 0.3, None).tolist() == [1, 2]
    assert frame_nms(boxes, np.array([0.5, 0.9, 0.1]), 0.3, 1).tolist() == [1]


def test_act_links_best_detection_and_sorts_tubes_by_mean_score():
    near = [1.0, 0.0, 11.0, 10.0]
    f, b, s = _video(
        [
            (1, A, 0.9),
            (1, B, 0.4),
            (2, near, 0.6),  # IoU >= 0.2 with A: extends tube A (higher mean goes first)
            (2, A, 0.8),  # also overlaps A, higher score: taken by tube A
            (2, B, 0.5),
            (3, A, 0.7),
        ]
    )
    tubes = act_greedy_link(f, b, s, nms_iou=None, top_k=None)
    got = sorted(t.indices.tolist() for t in tubes)
    assert [0, 3, 5] in got and [1, 4] in got and [2] in got
    assert tubes[0].indices.tolist() == [0, 3, 5]
    assert tubes[0].score == pytest.approx(0.8)


def test_act_greedy_order_gives_the_contested_box_to_the_better_tube():
    left = [0.0, 0.0, 10.0, 10.0]
    right = [6.0, 0.0, 16.0, 10.0]
    mid = [3.0, 0.0, 13.0, 10.0]  # overlaps both tube ends
    f, b, s = _video([(1, left, 0.3), (1, right, 0.9), (2, mid, 0.5)])
    tubes = act_greedy_link(f, b, s, nms_iou=None, top_k=None)
    assert tubes[0].indices.tolist() == [1, 2]  # the 0.9 tube is extended first
    assert tubes[1].indices.tolist() == [0]


def test_act_finishes_after_missed_frames_and_filters():
    far = [50.0, 50.0, 60.0, 60.0]
    rows = [(1, A, 0.9), (2, far, 0.2), (3, far, 0.2), (4, A, 0.8)]
    f, b, s = _video(rows)
    # max_missed=3: tube A survives the two frames without A and is extended at frame 4
    tubes = act_greedy_link(f, b, s, max_missed=3)
    assert sorted(t.indices.tolist() for t in tubes) == [[0, 3], [1, 2]]
    # max_missed=2: it is finished, frame 4 starts a new tube
    tubes = act_greedy_link(f, b, s, max_missed=2)
    assert sorted(t.indices.tolist() for t in tubes) == [[0], [1, 2], [3]]
    assert len(act_greedy_link(f, b, s, max_missed=2, min_length=2)) == 1
    assert [t.indices.tolist() for t in act_greedy_link(f, b, s, max_missed=3, min_score=0.5)] == [
        [0, 3]
    ]


def test_act_applies_per_frame_nms():
    dup = [0.5, 0.5, 10.5, 10.5]
    f, b, s = _video([(1, A, 0.9), (1, dup, 0.8), (2, A, 0.9)])
    tubes = act_greedy_link(f, b, s, nms_iou=0.3)
    assert [t.indices.tolist() for t in tubes] == [[0, 2]]


def test_interpolation_fills_every_frame_linearly():
    t = interpolate_tube(
        np.array([1, 6]),
        np.array([[0, 0, 10, 10], [5, 10, 15, 20]], dtype=float),
        np.array([1.0, 0.0]),
        label=3,
    )
    assert t.frames.tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(t.boxes[2], [2, 4, 12, 14])
    np.testing.assert_allclose(t.frame_scores, [1, 0.8, 0.6, 0.4, 0.2, 0])
    assert t.score == pytest.approx(0.5) and t.label == 3


def test_interpolation_extends_and_clips_to_the_video():
    t = interpolate_tube(np.array([1, 6]), np.zeros((2, 4)), extend=4, nframes=8, score=2.0)
    assert t.frames.tolist() == list(range(1, 9)) and t.score == 2.0
    one = tube_from_indices([0], np.array([5]), np.array([A]), np.array([0.7]), label=0)
    assert one.frames.tolist() == [5] and one.score == pytest.approx(0.7)
    with pytest.raises(ValueError):
        interpolate_tube(np.array([6, 1]), np.zeros((2, 4)))
