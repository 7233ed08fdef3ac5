"""Hand-computed cases for raw scores -> segments (wsal.localize.temporal)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wsal.errors import ConfigError, FormatError
from wsal.localize.temporal import (
    PRESETS,
    LocalizerConfig,
    RawScores,
    connected_components,
    get_preset,
    load_raw_scores,
    localize_many,
    localize_video,
    nms_1d,
    save_raw_scores,
    score_segments,
    segments_from_mask,
    soft_nms_1d,
    to_temporal_detections,
)
from wsal.structures import SnippetTiming, segment_iou_matrix

TIMING = SnippetTiming()  # 16 frames at 25 fps = 0.64 s per snippet


def plain(**kwargs) -> LocalizerConfig:
    """The default config (CAS >= 0.5, max scoring, no NMS) with ``kwargs`` changed."""
    return dataclasses.replace(LocalizerConfig(), **kwargs)


def col(values) -> np.ndarray:
    """``(T, 1)`` CAS of one class."""
    return np.asarray(values, dtype=np.float64)[:, None]


# --------------------------------------------------------------------------------------------
# Connected components
# --------------------------------------------------------------------------------------------


def naive_components(mask: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Reference: walk every row snippet by snippet."""
    starts, ends, rows = [], [], []
    for r, line in enumerate(np.atleast_2d(mask)):
        begin = None
        for i, on in enumerate(line):
            if on and begin is None:
                begin = i
            if not on and begin is not None:
                starts.append(begin), ends.append(i), rows.append(r)
                begin = None
        if begin is not None:
            starts.append(begin), ends.append(len(line)), rows.append(r)
    return starts, ends, rows


def test_components_runs_touching_both_borders():
    s, e, r = connected_components(np.array([1, 1, 0, 1, 0, 0, 1], dtype=bool))
    assert s.tolist() == [0, 3, 6] and e.tolist() == [2, 4, 7] and r.tolist() == [0, 0, 0]
    assert s.dtype == np.int64


def test_components_empty_all_false_all_true():
    for mask in (np.zeros(0, bool), np.zeros(5, bool), np.zeros((3, 0), bool)):
        s, e, r = connected_components(mask)
        assert s.size == e.size == r.size == 0
    s, e, r = connected_components(np.ones(6, bool))
    assert (s.tolist(), e.tolist()) == ([0], [6])


def test_components_rows_of_a_2d_mask():
    mask = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0]], dtype=bool)
    s, e, r = connected_components(mask)
    assert list(zip(r.tolist(), s.tolist(), e.tolist(), strict=True)) == [
        (0, 1, 3),
        (1, 0, 1),
        (1, 3, 4),
    ]


def test_components_rejects_3d():
    with pytest.raises(ValueError):
        connected_components(np.zeros((2, 2, 2), bool))


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(bool, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=30)))
def test_components_equal_naive_loop(mask):
    s, e, r = connected_components(mask)
    ns, ne, nr = naive_components(mask)
    assert (s.tolist(), e.tolist(), r.tolist()) == (ns, ne, nr)


# --------------------------------------------------------------------------------------------
# Snippet indices -> seconds
# --------------------------------------------------------------------------------------------


def test_segments_from_mask_in_seconds_default_timing():
    seg = segments_from_mask(np.array([0, 1, 1, 0, 1], bool), timing=TIMING)
    np.testing.assert_allclose(seg.bounds, [[0.64, 1.92], [2.56, 3.2]])
    assert seg.labels.tolist() == [-1, -1] and np.isnan(seg.scores).all()


def test_segments_from_mask_custom_fps_labels_and_min_length():
    timing = SnippetTiming(frames_per_snippet=8, fps=10.0)  # 0.8 s per snippet
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool)
    seg = segments_from_mask(mask, timing=timing, labels=[4, 7], min_length_snippets=2)
    np.testing.assert_allclose(seg.bounds, [[0.0, 1.6], [0.8, 3.2]])
    assert seg.labels.tolist() == [4, 7]


def test_segments_clipped_to_duration_and_dropped_past_it():
    seg = segments_from_mask(np.array([1, 1, 0, 1], bool), timing=TIMING, duration=2.0)
    np.testing.assert_allclose(seg.bounds, [[0.0, 1.28], [1.92, 2.0]])
    seg = segments_from_mask(np.array([1, 0, 0, 1], bool), timing=TIMING, duration=1.5)
    np.testing.assert_allclose(seg.bounds, [[0.0, 0.64]])  # [1.92, 2.56) starts after the end


def test_localize_seconds_custom_fps_and_duration():
    timing = SnippetTiming(frames_per_snippet=16, fps=30.0)
    seg = localize_video(col([0.0, 0.9, 0.9, 0.9]), timing=timing, duration=2.0)
    np.testing.assert_allclose(seg.bounds, [[16 / 30, 2.0]])


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

SIG = np.array([0.1, 0.9, 0.5, 0.3, 0.2, 0.0, 0.4, 0.8])


def test_max_and_mean_scores():
    s, e = np.array([1, 6]), np.array([4, 8])
    np.testing.assert_allclose(score_segments(SIG, s, e, method="max"), [0.9, 0.8])
    np.testing.assert_allclose(score_segments(SIG, s, e, method="mean"), [1.7 / 3, 0.6])


def test_oic_score_by_hand():
    s, e = np.array([1, 0, 0, 6]), np.array([4, 2, 8, 8])
    got = score_segments(SIG, s, e, method="oic", oic_inflation=0.25)
    # [1,4): margin ceil(0.75)=1, outer {0.1, 0.2}; [0,2): margin 1, outer {0.5} (left cut);
    # [0,8): no outer snippets -> outer mean 0; [6,8): margin 1, outer {0.0} (right cut)
    np.testing.assert_allclose(got, [1.7 / 3 - 0.15, 0.5 - 0.5, 3.2 / 8, 0.6 - 0.0])
    weighted = score_segments(SIG, s[:1], e[:1], method="oic", oic_inflation=0.25, oic_weight=2.0)
    np.testing.assert_allclose(weighted, [1.7 / 3 - 0.3])
    wide = score_segments(SIG, [3], [5], method="oic", oic_inflation=1.0)  # margin 2 per side
    np.testing.assert_allclose(wide, [0.25 - (0.9 + 0.5 + 0.0 + 0.4) / 4])


def test_scores_on_rows_of_a_2d_signal():
    sig = np.stack([SIG, SIG[::-1]])
    got = score_segments(sig, [0, 0], [2, 2], [0, 1], method="max")
    np.testing.assert_allclose(got, [0.9, 0.8])
    with pytest.raises(ValueError):
        score_segments(sig, [0], [9], [0])
    assert score_segments(sig, [], []).shape == (0,)


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-5, 5)),
    st.data(),
    st.sampled_from(["max", "mean", "oic"]),
)
def test_scores_equal_naive_loop(sig, data, method):
    t = sig.shape[0]
    s = data.draw(st.integers(0, t - 1))
    e = data.draw(st.integers(s + 1, t))
    inner = sig[s:e]
    if method == "max":
        want = inner.max()
    elif method == "mean":
        want = inner.mean()
    else:
        m = math.ceil(0.25 * (e - s))
        outer = np.concatenate([sig[max(0, s - m) : s], sig[e : min(t, e + m)]])
        want = inner.mean() - (outer.mean() if outer.size else 0.0)
    np.testing.assert_allclose(score_segments(sig, [s], [e], method=method), [want], atol=1e-9)


# --------------------------------------------------------------------------------------------
# NMS and soft-NMS
# --------------------------------------------------------------------------------------------


def test_hard_nms_by_hand():
    bounds = np.array([[0, 10], [1, 11], [20, 30], [0, 5]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # [0,5) first; IoU with [0,10) is exactly 0.5 (not > 0.5) so [0,10) survives and then
    # suppresses [1,11) (IoU 9/11); [20,30) overlaps nothing.
    assert nms_1d(bounds, scores, 0.5).tolist() == [3, 0, 2]
    # at 0.4 [0,10) goes (IoU 0.5) but [1,11) stays (IoU 4/11 with [0,5)), nothing suppresses it
    assert nms_1d(bounds, scores, 0.4).tolist() == [3, 1, 2]
    assert nms_1d(bounds, scores, 1.0).tolist() == [3, 0, 1, 2]
    assert nms_1d(np.zeros((0, 2)), np.zeros(0), 0.5).tolist() == []


def test_hard_nms_ties_keep_input_order():
    bounds = np.array([[0, 4], [0, 4], [10, 12]], dtype=float)
    assert nms_1d(bounds, np.array([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 2]


def test_soft_nms_by_hand():
    bounds = np.array([[0, 10], [0, 5], [20, 30]], dtype=float)
    keep, new = soft_nms_1d(bounds, np.array([0.9, 0.8, 0.5]), sigma=0.5)
    # pick [0,10); [0,5) has IoU 0.5 -> 0.8 * exp(-0.25 / 0.5); [20,30) untouched
    assert keep.tolist() == [0, 2, 1]
    np.testing.assert_allclose(new, [0.9, 0.5, 0.8 * math.exp(-0.5)])


def test_soft_nms_threshold_max_keep_and_negative_scores():
    bounds = np.array([[0, 10], [0, 5], [20, 30]], dtype=float)
    keep, new = soft_nms_1d(bounds, np.array([0.9, 0.8, 0.5]), sigma=0.5, score_threshold=0.49)
    assert keep.tolist() == [0, 2]
    keep, _ = soft_nms_1d(bounds, np.array([0.9, 0.8, 0.5]), sigma=0.5, max_keep=1)
    assert keep.tolist() == [0]
    keep, new = soft_nms_1d(bounds[:2], np.array([1.0, -0.2]), sigma=0.5)
    np.testing.assert_allclose(new, [1.0, -0.2 - 0.2 * (1 - math.exp(-0.5))])


def naive_nms(bounds, scores, thr):
    """Reference greedy NMS on the full IoU matrix of wsal.structures."""
    iou = segment_iou_matrix(bounds, bounds)
    order, keep = sorted(range(len(scores)), key=lambda i: (-scores[i], i)), []
    for i in order:
        if all(iou[i, k] <= thr for k in keep):
            keep.append(i)
    return keep


def naive_soft_nms(bounds, scores, sigma):
    """Reference Gaussian soft-NMS on the full IoU matrix of wsal.structures."""
    iou = segment_iou_matrix(bounds, bounds)
    s, left, keep, kept = list(scores), set(range(len(scores))), [], []
    while left:
        i = min(left, key=lambda k: (-s[k], k))
        keep.append(i), kept.append(s[i])
        left.discard(i)
        for k in left:
            w = math.exp(-(iou[i, k] ** 2) / sigma)
            s[k] = s[k] - abs(s[k]) * (1 - w)  # = s*w for s >= 0, never raises a score
    return keep, kept


segments_strategy = st.lists(
    st.tuples(st.integers(0, 20), st.integers(1, 8), st.floats(-1, 1)), min_size=0, max_size=25
)


@settings(max_examples=100, deadline=None)
@given(segments_strategy, st.sampled_from([0.0, 0.3, 0.5, 0.7]))
def test_nms_equal_naive(rows, thr):
    bounds = np.array([[a, a + n] for a, n, _ in rows], dtype=float).reshape(-1, 2)
    scores = np.array([round(x, 1) for _, _, x in rows])  # rounding makes ties common
    assert nms_1d(bounds, scores, thr).tolist() == naive_nms(bounds, scores, thr)
    keep, new = soft_nms_1d(bounds, scores, 0.5)
    want_keep, want_scores = naive_soft_nms(bounds, scores, 0.5)
    assert keep.tolist() == want_keep
    np.testing.assert_allclose(new, want_scores, atol=1e-12)
    assert nms_1d(bounds, scores, thr, max_keep=2).tolist() == naive_nms(bounds, scores, thr)[:2]


def test_nms_rejects_bad_scores():
    with pytest.raises(ValueError):
        nms_1d(np.array([[0.0, 1.0]]), np.array([np.nan]), 0.5)
    with pytest.raises(ValueError):
        soft_nms_1d(np.array([[0.0, 1.0]]), np.array([1.0, 2.0]))


# --------------------------------------------------------------------------------------------
# localize_video
# --------------------------------------------------------------------------------------------


def test_dml_preset_by_hand():
    # class 0: y >= 0.5 on snippets 1-2 and 4; class 1: on snippet 0 only (0.5 is kept)
    cas = np.array([[0.1, 0.5], [0.6, 0.2], [0.8, 0.1], [0.3, 0.0], [0.55, 0.4]])
    seg = localize_video(cas, timing=TIMING, config=PRESETS["dml"], video_scores=[0.9, 0.2])
    got = sorted(
        zip(seg.labels.tolist(), seg.bounds.round(2).tolist(), seg.scores.tolist(), strict=True)
    )
    want = [(0, [0.64, 1.92], 0.8 + 0.63), (0, [2.56, 3.2], 0.55 + 0.63), (1, [0.0, 0.64], 0.64)]
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2] for g in got], [w[2] for w in want])
    assert np.all(np.diff(seg.scores) <= 0)


def test_logits_are_mapped_by_sigmoid():
    p = np.array([[0.2, 0.7], [0.6, 0.9], [0.4, 0.1]])
    logits = np.log(p / (1 - p))
    a = localize_video(p, timing=TIMING)
    b = localize_video(logits, timing=TIMING, cas_is_logits=True)
    np.testing.assert_allclose(a.bounds, b.bounds)
    np.testing.assert_allclose(a.scores, b.scores)
    raw = localize_video(
        logits, timing=TIMING, cas_is_logits=True, config=plain(cas_activation="none")
    )
    assert raw.scores.max() == pytest.approx(logits.max())


def test_multiple_thresholds_pool_dedupe_and_nms():
    cas = col([0.2, 0.6, 0.9, 0.6, 0.2])
    cfg = plain(thresholds=(0.5, 0.8), scoring="mean")
    seg = localize_video(cas, timing=TIMING, config=cfg)
    assert seg.bounds.round(2).tolist() == [[1.28, 1.92], [0.64, 2.56]]
    np.testing.assert_allclose(seg.scores, [0.9, 0.7])
    same = localize_video(
        cas, timing=TIMING, config=dataclasses.replace(cfg, thresholds=(0.5, 0.55))
    )
    assert len(same) == 1  # both thresholds give [1, 4): pooled once
    nms = localize_video(
        cas, timing=TIMING, config=dataclasses.replace(cfg, nms="hard", nms_iou=0.3)
    )
    assert nms.bounds.round(2).tolist() == [[1.28, 1.92]]  # IoU 1/3 > 0.3
    soft = localize_video(
        cas, timing=TIMING, config=dataclasses.replace(cfg, nms="soft", soft_nms_sigma=0.5)
    )
    np.testing.assert_allclose(soft.scores, [0.9, 0.7 * math.exp(-(1 / 9) / 0.5)])


def test_relative_threshold_rules():
    L = col([0.1, 0.3, 1.0, 0.5, 0.3, 0.0])  # mean 0.3667, max - min = 1

    def spans(**kw):
        seg = localize_video(L, timing=SnippetTiming(1, 1.0), config=plain(**kw))
        return seg.bounds.tolist()

    assert spans(
        threshold_mode="relative_minmax", thresholds=(0.15,), threshold_inclusive=False
    ) == [[2, 3]]
    assert spans(
        threshold_mode="relative_minmax", thresholds=(0.0,), threshold_inclusive=False
    ) == [[2, 4]]
    assert spans(
        threshold_mode="minmax_normalized", thresholds=(0.25,), threshold_inclusive=False
    ) == [[1, 5]]
    assert spans(threshold_mode="fraction_of_max", thresholds=(0.1,)) == [[0, 5]]


def test_em_mil_fuses_actionness_and_cas():
    q = np.array([0.0, 0.2, 1.0, 0.9, 0.1])
    p = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    seg = localize_video(
        p,
        timing=SnippetTiming(1, 1.0),
        config=PRESETS["em_mil"],
        actionness=q,
        video_scores=[0.8, 0.05],
    )
    # L = 0.8 q + 0.2 p = [0.2, 0.36, 0.8, 0.72, 0.28]; mean 0.472, range 0.6 -> > 0.562
    assert seg.labels.tolist() == [0] and seg.bounds.tolist() == [[2, 4]]
    np.testing.assert_allclose(seg.scores, [0.76])


def test_class_filters():
    cas = np.full((3, 3), 0.9)
    v = np.array([0.9, 0.05, 0.3])

    def labels(**kw):
        seg = localize_video(cas, timing=TIMING, config=plain(**kw), video_scores=v)
        return sorted(seg.labels.tolist())

    assert labels(class_filter="none") == [0, 1, 2]
    assert labels(class_filter="threshold", class_threshold=0.1) == [0, 2]
    assert labels(class_filter="topk", class_topk=2) == [0, 2]
    given = localize_video(
        cas, timing=TIMING, config=plain(class_filter="given"), classes_to_use=[1]
    )
    assert given.labels.tolist() == [1]
    with pytest.raises(ValueError):
        localize_video(cas, timing=TIMING, config=plain(class_filter="threshold"))
    with pytest.raises(ValueError):
        localize_video(cas, timing=TIMING, config=plain(class_filter="given"))
    with pytest.raises(ValueError):
        localize_video(cas, timing=TIMING, classes_to_use=[0])


def test_video_score_weight_and_top_k_and_min_score():
    cas = np.array([[0.9, 0.6, 0.7], [0.0, 0.0, 0.0], [0.8, 0.0, 0.0]])
    cfg = plain(video_score_weight=0.5, max_per_video=2)
    seg = localize_video(cas, timing=TIMING, config=cfg, video_scores=[0.0, 1.0, 0.2])
    # candidates: c0 [0,1) 0.9, c0 [2,3) 0.8, c1 [0,1) 0.6+0.5, c2 [0,1) 0.7+0.1
    assert list(zip(seg.labels.tolist(), seg.scores.round(6).tolist(), strict=True)) == [
        (1, 1.1),
        (0, 0.9),
    ]
    seg = localize_video(
        cas,
        timing=TIMING,
        config=dataclasses.replace(cfg, max_per_video=None, min_score=0.85),
        video_scores=[0.0, 1.0, 0.2],
    )
    assert seg.scores.round(6).tolist() == [1.1, 0.9]
    with pytest.raises(ValueError):
        localize_video(cas, timing=TIMING, config=cfg)


def test_min_length_drops_short_runs():
    seg = localize_video(
        col([0.9, 0.0, 0.9, 0.9]), timing=TIMING, config=plain(min_length_snippets=2)
    )
    assert seg.bounds.round(2).tolist() == [[1.28, 2.56]]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_empty_one_snippet_and_all_zero_inputs(name):
    cfg = PRESETS[name]

    def run(cas, actionness, video_scores):
        logit = cfg.units == "logit"  # logit presets read the same values as logits
        return localize_video(
            cas, actionness=actionness, video_scores=video_scores, timing=TIMING, config=cfg,
            logits=cas if logit else None, video_logits=video_scores if logit else None,
        )  # fmt: skip

    empty = run(np.zeros((0, 3)), np.zeros(0), np.ones(3))
    assert len(empty) == 0 and empty.bounds.shape == (0, 2)
    zero = run(np.zeros((6, 3)), np.zeros(6), np.ones(3))
    assert len(zero) == 0
    one = run(np.full((1, 3), 0.9), np.ones(1), np.ones(3))
    assert np.all(one.bounds[:, 0] == 0.0)
    assert np.all(one.bounds[:, 1] == pytest.approx(0.64))


def test_one_snippet_dml_by_hand():
    seg = localize_video(
        col([0.7]), timing=TIMING, config=PRESETS["dml"], video_scores=[0.5], duration=0.5
    )
    np.testing.assert_allclose(seg.bounds, [[0.0, 0.5]])
    np.testing.assert_allclose(seg.scores, [0.7 + 0.35])


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        localize_video(np.zeros(5), timing=TIMING)
    with pytest.raises(ValueError):
        localize_video(np.full((2, 1), np.nan), timing=TIMING)
    with pytest.raises(ValueError):
        localize_video(np.zeros((2, 1)), timing=TIMING, actionness=np.zeros(3))
    with pytest.raises(ValueError):
        localize_video(np.zeros((2, 1)), timing=TIMING, config=plain(score_source="fused"))


def random_video(seed: int, t: int = 120, c: int = 6) -> RawScores:
    rng = np.random.default_rng(seed)
    cas = np.clip(rng.random((t, c)) ** 2 + np.sin(np.arange(t) / 7.0)[:, None] * 0.3, 0, 1)
    return RawScores(
        cas=cas,
        timing=TIMING,
        actionness=rng.random(t),
        video_scores=rng.random(c),
        duration=t * 0.64 - 0.3,
        logits=6.0 * cas - 3.0 + rng.normal(size=(t, c)),
        video_logits=rng.normal(size=c),
    )


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_runs_and_is_deterministic(name):
    r = random_video(3)
    kw = dict(
        timing=r.timing,
        config=get_preset(name),
        actionness=r.actionness,
        video_scores=r.video_scores,
        duration=r.duration,
        logits=r.logits,
        video_logits=r.video_logits,
    )
    a = localize_video(r.cas, **kw)
    b = localize_video(r.cas.copy(), **kw)
    assert len(a) > 0
    np.testing.assert_array_equal(a.bounds, b.bounds)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert np.all(np.diff(a.scores) <= 0)
    assert np.all(a.bounds[:, 0] < a.bounds[:, 1]) and a.bounds.max() <= r.duration
    assert np.all((a.labels >= 0) & (a.labels < r.cas.shape[1]))


def _authors_dml_segments(logits: np.ndarray, window: int = 60, k: int = 10) -> list[tuple]:
    """A direct transcription of the DML authors' test loop (eval_detection.py): per class,
    threshold at max - 0.5 (max - min) strictly, runs of >= 2 snippets, score max + 0.7 x
    (max over windows, remainder joined to the last, of the mean of the k largest)."""
    t = logits.shape[0]
    cuts = [i * window for i in range(1, t // window)]
    windows = np.split(logits, cuts, axis=0)
    video = np.max([np.sort(w, axis=0)[-k:].mean(0) for w in windows], axis=0)
    out = []
    for c in range(logits.shape[1]):
        x = logits[:, c]
        on = np.concatenate([[0], (x > x.max() - (x.max() - x.min()) * 0.5).astype(int), [0]])
        starts = [i for i in range(1, len(on)) if on[i] - on[i - 1] == 1]
        ends = [i for i in range(1, len(on)) if on[i] - on[i - 1] == -1]
        for s0, e0 in zip(starts, ends):
            if e0 - s0 >= 2:
                out.append((s0 - 1, e0 - 1, c, x[s0 - 1 : e0 - 1].max() + 0.7 * video[c]))
    return out


@pytest.mark.parametrize("t", [7, 59, 60, 61, 130, 187])
def test_dml_code_preset_reproduces_the_authors_procedure(t):
    """Preset "dml_code" on DeepMetricMIL's raw logits = the released test loop, segment for
    segment (bounds in snippets, class, score)."""
    import torch

    from wsal.methods.dml import window_video_logits

    rng = np.random.default_rng(t)
    logits = rng.normal(size=(t, 4)) * 3 + np.sin(np.arange(t) / 5.0)[:, None] * 4
    video = window_video_logits(
        torch.from_numpy(logits)[None], torch.ones(1, t, dtype=torch.bool), 60, 10
    )[0].numpy()
    seg = localize_video(
        np.zeros_like(logits),
        timing=TIMING,
        config=PRESETS["dml_code"],
        logits=logits,
        video_logits=video,
    )
    want = sorted(_authors_dml_segments(logits), key=lambda r: (-r[3], r[2], r[0]))
    got = [
        (round(b[0] / 0.64), round(b[1] / 0.64), int(c), float(sc))
        for b, c, sc in zip(seg.bounds, seg.labels, seg.scores)
    ]
    assert [g[:3] for g in got] == [w[:3] for w in want]
    np.testing.assert_allclose([g[3] for g in got], [w[3] for w in want], rtol=1e-12)


def test_logit_units_need_logits():
    with pytest.raises(ValueError, match="logits"):
        localize_video(np.zeros((4, 2)), timing=TIMING, config=PRESETS["dml_code"])


def test_config_validation_and_presets():
    with pytest.raises(ConfigError):
        LocalizerConfig(thresholds=())
    with pytest.raises(ConfigError):
        LocalizerConfig(scoring="median")
    with pytest.raises(ConfigError):
        LocalizerConfig(fuse_lambda=1.5)
    with pytest.raises(ConfigError):
        get_preset("nope")
    assert LocalizerConfig(thresholds=[0.2, 0.3]).thresholds == (0.2, 0.3)
    assert PRESETS["multi_threshold"].thresholds == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert PRESETS["em_mil"].fuse_lambda == 0.8 and PRESETS["dml"].video_score_weight == 0.7


# --------------------------------------------------------------------------------------------
# Many videos, raw-score files
# --------------------------------------------------------------------------------------------

ODD_IDS = ["video_test_0000004", "Basketball/v_Basketball_g01_c01", "../x.y", "ünï cödé", "a%2Fb"]


def test_raw_scores_round_trip(tmp_path):
    raw = {vid: random_video(i) for i, vid in enumerate(ODD_IDS)}
    raw["no_extras"] = RawScores(
        cas=np.eye(3, dtype=np.float32), timing=SnippetTiming(8, 30.0), cas_is_logits=True
    )
    path = tmp_path / "raw.npz"
    save_raw_scores(path, raw)
    back = load_raw_scores(path)
    assert list(back) == list(raw)
    for vid, r in raw.items():
        b = back[vid]
        np.testing.assert_array_equal(b.cas, r.cas)
        assert b.cas.dtype == r.cas.dtype and b.timing == r.timing and b.duration == r.duration
        assert b.cas_is_logits == r.cas_is_logits
        for name in ("actionness", "video_scores", "logits", "video_logits"):
            x, y = getattr(r, name), getattr(b, name)
            assert (x is None and y is None) or np.array_equal(x, y)
    cfg = PRESETS["multi_threshold"]
    before = localize_many({k: v for k, v in raw.items() if k != "no_extras"}, config=cfg)
    after = localize_many({k: v for k, v in back.items() if k != "no_extras"}, config=cfg)
    for vid in before:
        np.testing.assert_array_equal(before[vid].bounds, after[vid].bounds)
        np.testing.assert_array_equal(before[vid].scores, after[vid].scores)
    with np.load(path, allow_pickle=False) as npz:
        assert all(".." not in k and k.count("/") <= 1 for k in npz.files)


def test_load_raw_scores_errors(tmp_path):
    bad = tmp_path / "arr.npy"
    np.save(bad, np.zeros(3))
    with pytest.raises(FormatError):
        load_raw_scores(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(2))
    with pytest.raises(FormatError):
        load_raw_scores(foreign)
    path = tmp_path / "raw.npz"
    np.savez(
        path,
        __wsal_raw_scores__=np.array(1),
        **{"v/cas": np.full((2, 2), np.nan), "v/timing": [16, 25.0]},
    )
    with pytest.raises(FormatError, match="v/cas"):
        load_raw_scores(path)
    np.savez(path, __wsal_raw_scores__=np.array(1), **{"v/cas": np.zeros((2, 2))})
    with pytest.raises(FormatError, match="timing"):
        load_raw_scores(path)
    with pytest.raises(FormatError):
        load_raw_scores(tmp_path / "missing.npz")


def test_localize_many_given_classes_and_detections():
    raw = {"a": random_video(1), "b": random_video(2)}
    cfg = dataclasses.replace(PRESETS["dml"], class_filter="given")
    out = localize_many(raw, config=cfg, classes_to_use={"a": [2], "b": []})
    assert set(out["a"].labels.tolist()) <= {2} and len(out["b"]) == 0
    with pytest.raises(ValueError):
        localize_many(raw, config=cfg, classes_to_use={"a": [1]})
    det = to_temporal_detections(out, [f"c{i}" for i in range(6)])
    assert len(det) == len(out["a"]) and set(det.video_ids.tolist()) <= {"a"}
    np.testing.assert_array_equal(det.for_video("a").bounds, out["a"].bounds)
