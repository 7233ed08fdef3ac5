"""Temporal action detection mAP at tIoU thresholds, identical to the ActivityNet evaluator.

Reference: ``activitynet/ActivityNet`` ``Evaluation/eval_detection.py`` (``ANETdetection``,
``compute_average_precision_detection``), the evaluator used for THUMOS14 and ActivityNet by
the WTAL literature. Semantics reproduced (see ``shared/fixtures/temporal/README.md``):

1. only ground truth of the evaluated subset counts; the class set is the set of labels of
   that ground truth, in first-appearance order;
2. predictions whose label is not in the class set are ignored; a prediction for a video
   without ground truth of its class (including videos absent from the ground truth) is a
   false positive;
3. no clipping; tIoU as in :func:`wsal.structures.segment_iou_matrix`;
4. per class, predictions of all videos are ranked by decreasing score; each one, at each
   threshold independently, visits the same-video same-class ground truth in decreasing
   tIoU, skips segments already matched at that threshold, and is a true positive on the
   first unmatched one with ``tIoU >= t``; the first with ``tIoU < t`` stops the search
   (false positive). Visiting in decreasing order makes this "match the unmatched segment
   of highest tIoU if that tIoU reaches ``t``";
5. VOC all-point AP (:func:`wsal.evaluation.ap.voc_ap`); a class without predictions has AP 0;
   ``mAP`` per threshold is the mean over classes, ``average_mAP`` the mean over thresholds.

Ties are broken by the official code's own sort calls, so that results are bit-identical
to the official evaluator run with the same numpy on the same CPU: per class, predictions in
input order are ranked by ``np.argsort(scores)[::-1]``; a prediction visits the ground truth
of its (class, video) group, in file order, by ``np.argsort(tiou)[::-1]``. The default numpy
sort is not stable (on AVX-512 CPUs it is a sorting network even for 4 elements), so the
order of equal values depends on the numpy build and CPU exactly as the official one does;
"stable, later segment first" reproduces it only for groups of at most 3.

Where the official code is undefined or fragile, this module decides (documented):

* NaN scores raise ``ValueError`` (the official code ranks NaN *first*);
* a pair of zero-length segments has tIoU 0 (the official code computes 0/0 = NaN, which
  it then treats as a match at every threshold); a reversed segment never matches.

Implementation: the greedy matching is sequential only among predictions that compete for
the same ground truth. Pairs (prediction, same-class same-video ground truth) are built with
a binary search for time-overlapping candidates, pairs below the lowest threshold are dropped
(they can never match), and each (class, video) group is split into clusters of intervals
overlapping in time. Step ``k`` then handles the ``k``-th prediction of every cluster at every
threshold at once with flat, segment-reduced numpy arrays; no Python loop visits single
predictions. Only predictions with two pairs of exactly equal tIoU (rare) need the official
visiting order; it is computed for them with one batched ``np.argsort`` per group size.
Depends on numpy, ``wsal.structures`` and ``wsal.errors`` only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from wsal.errors import ConfigError
from wsal.evaluation.ap import voc_ap
from wsal.structures import Segments, TemporalDetections, TemporalGroundTruth

__all__ = [
    "PRESETS",
    "parse_thresholds",
    "TemporalMAPResult",
    "temporal_map",
    "TemporalEvaluator",
    "evaluate_temporal_files",
]

PRESETS: dict[str, np.ndarray] = {
    "thumos14": np.linspace(0.1, 0.7, 7),
    "activitynet": np.linspace(0.5, 0.95, 10),
}
"""tIoU thresholds of the two protocols, bit-identical to the official ``np.linspace`` values."""

ThresholdSpec = np.ndarray | Sequence[float] | str

# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def parse_thresholds(spec: str) -> np.ndarray:
    """Parse a tIoU threshold specification into a ``(K,)`` float64 array.

    Accepted forms: a :data:`PRESETS` name (``"thumos14"``, ``"activitynet"``), a single value
    (``"0.5"``), a comma list (``"0.3,0.5,0.7"``) or an inclusive range ``"start:stop:step"``
    (``"0.1:0.7:0.1"``), built with ``np.linspace`` so that its values equal the official
    ones exactly. Raises ``ValueError`` for anything else or values outside ``[0, 1]``.
    """
    text = spec.strip()
    if text.lower() in PRESETS:
        return PRESETS[text.lower()].copy()
    try:
        if ":" in text:
            values = _parse_range(text)
        else:
            values = np.array([float(x) for x in text.split(",")], dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"invalid tIoU thresholds {spec!r}: {e}") from None
    return _check_thresholds(values)


def _parse_range(text: str) -> np.ndarray:
    """``"start:stop:step"`` (inclusive) -> linspace values."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError("a range is start:stop:step")
    start, stop, step = (float(p) for p in parts)
    if step <= 0 or stop < start:
        raise ValueError("a range needs step > 0 and stop >= start")
    steps = (stop - start) / step
    if abs(steps - round(steps)) > 1e-6:
        raise ValueError("(stop - start) is not a whole number of steps")
    return np.linspace(start, stop, int(round(steps)) + 1)


def _check_thresholds(values: ThresholdSpec) -> np.ndarray:
    """Validated ``(K,)`` thresholds: non-empty, finite, in ``[0, 1]``, distinct."""
    if isinstance(values, str):
        return parse_thresholds(values)
    t = np.array(values, dtype=np.float64).reshape(-1)  # a copy: PRESETS stay untouched
    if t.size == 0:
        raise ValueError("no tIoU thresholds")
    if not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1:
        raise ValueError(f"tIoU thresholds must lie in [0, 1], got {t.tolist()}")
    if np.unique(t).size != t.size:
        raise ValueError(f"repeated tIoU thresholds {t.tolist()}")
    return t


def _threshold_key(t: float) -> str:
    """Stable JSON key of a threshold: the shortest of 2..6 decimals equal to it within 1e-9
    (``0.30000000000000004`` -> ``"0.30"``, ``0.125`` -> ``"0.125"``)."""
    for digits in range(2, 7):
        text = f"{t:.{digits}f}"
        if abs(float(text) - t) < 1e-9:
            return text
    return repr(float(t))


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class TemporalMAPResult:
    """Detection AP of each class at each tIoU threshold.

    Attributes:
        thresholds: ``(K,)`` tIoU thresholds.
        classes: the ``C`` evaluated class names (first appearance in the ground truth).
        ap: ``(C, K)`` average precision, fractions in ``[0, 1]``.
        mAP: ``(K,)`` mean AP over classes per threshold.
        average_mAP: mean of ``mAP`` over thresholds.
    """

    thresholds: np.ndarray
    classes: list[str]
    ap: np.ndarray
    mAP: np.ndarray
    average_mAP: float

    def to_json(self) -> dict:
        """JSON-ready dict ``{"mAP": {key: v}, "average_mAP": v, "per_class": {class: {key: ap}}}``.

        Values are fractions; threshold keys are strings with at least two decimals
        (``"0.10"``, ``"0.50"``, ``"0.95"``; see ``_threshold_key``).
        """
        keys = [_threshold_key(t) for t in self.thresholds.tolist()]
        return {
            "mAP": dict(zip(keys, self.mAP.tolist(), strict=True)),
            "average_mAP": float(self.average_mAP),
            "per_class": {
                c: dict(zip(keys, row, strict=True))
                for c, row in zip(self.classes, self.ap.tolist(), strict=True)
            },
        }

    def format_table(self) -> str:
        """Plain-text table: one row per class, one column per threshold, AP in percent,
        then the mAP row and the average mAP."""
        keys = [_threshold_key(t) for t in self.thresholds.tolist()]
        width = max([len("class"), len("mAP"), *(len(c) for c in self.classes)])
        col = max(6, *(len(k) for k in keys))

        def row(name: str, values: Sequence[float]) -> str:
            return f"{name:<{width}} " + " ".join(f"{100 * v:>{col}.2f}" for v in values)

        header = f"{'class':<{width}} " + " ".join(f"{k:>{col}}" for k in keys)
        rule = "-" * len(header)
        lines = [header, rule, *(row(c, a) for c, a in zip(self.classes, self.ap, strict=True))]
        lines += [rule, row("mAP", self.mAP), f"average mAP: {100 * self.average_mAP:.2f}"]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def temporal_map(
    gt: TemporalGroundTruth,
    dets: TemporalDetections,
    *,
    tiou_thresholds: ThresholdSpec = PRESETS["thumos14"],
    subset: str | Sequence[str] | None = None,
    ignore_ambiguous: bool = False,
) -> TemporalMAPResult:
    """ActivityNet-identical detection mAP of ``dets`` against ``gt`` (see the module doc).

    Args:
        gt: ground truth; labels index ``gt.classes``.
        dets: detections; labels index ``dets.classes`` and are matched to the ground truth
            by class *name*. Label ``-1`` and names outside the evaluated class set are
            ignored. Predictions are not filtered by subset (those of other videos are
            false positives, as in the official code).
        tiou_thresholds: ``(K,)`` thresholds in ``[0, 1]``, or a :func:`parse_thresholds` spec.
        subset: evaluate only ground-truth videos of this subset (or these subsets); ``None``
            uses every video.
        ignore_ambiguous: the THUMOS14 convention (``TH14evalDet.m`` / ``TH14eventdetpr``): at
            each threshold, a prediction that is a false positive there and whose interval has
            a positive-length intersection with any ``Ambiguous`` segment of the same video
            (``gt.ambiguous``; interval ends sorted first, as the MATLAB code does) is removed
            from that threshold's ranking, neither true nor false positive. True positives
            are never removed. Matching and AP stay those of ActivityNet.

    Returns:
        :class:`TemporalMAPResult`.

    Raises:
        ValueError: no ground truth in the subset, NaN scores among evaluated predictions,
            or invalid thresholds/labels.
    """
    thresholds = _check_thresholds(tiou_thresholds)
    if subset is not None:
        gt = gt.subset(subset)
    classes, gt_cls = _evaluation_classes(gt)
    if not classes:
        raise ValueError(f"no ground-truth segments to evaluate (subset={subset!r})")
    keep_g = np.flatnonzero(gt_cls >= 0)
    amb_vids = gt.ambiguous_video_ids if ignore_ambiguous else np.zeros(0, dtype=str)
    vocab = np.unique(np.concatenate([gt.video_ids[keep_g], amb_vids]))
    g_cls = gt_cls[keep_g]
    g_key = g_cls * vocab.size + _video_codes(vocab, gt.video_ids[keep_g])
    p_cls, p_vid, p_bounds = _rank_predictions(dets, classes, vocab)
    p_key = np.where(p_vid >= 0, p_cls * vocab.size + p_vid, -1)
    g_bounds = np.take(gt.segments.bounds, keep_g, axis=0)
    tp = _greedy_match(p_key, p_bounds, g_key, g_bounds, thresholds)
    fp = ~tp
    if amb_vids.size:
        amb = _overlaps_any(p_vid, p_bounds, _video_codes(vocab, amb_vids), gt.ambiguous.bounds)
        fp &= ~amb[None, :]
    ap = _class_ap(tp, fp, p_cls, np.bincount(g_cls, minlength=len(classes)))
    m_ap = ap.mean(axis=0)
    return TemporalMAPResult(thresholds, classes, ap, m_ap, float(m_ap.mean()))


def _rank_predictions(
    dets: TemporalDetections, classes: list[str], vocab: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluated predictions in ranking order: class-major, score descending, ties as the
    official ``argsort()[::-1]`` leaves them. Returns ``(class index (N,), video code (N,)
    (-1 = no ground truth), bounds (N, 2) seconds)``; predictions of classes outside
    ``classes`` are dropped."""
    det_cls = _map_det_labels(dets, classes)
    keep = np.flatnonzero(det_cls >= 0)
    scores = dets.segments.scores[keep]
    if np.isnan(scores).any():
        raise ValueError("NaN detection scores cannot be ranked; drop or replace them first")
    p_cls = det_cls[keep]
    order = _official_score_order(scores, p_cls, len(classes))
    keep = keep[order]
    # np.take: much faster than fancy indexing for (N, 2) gathers
    return (
        p_cls[order],
        _video_codes(vocab, dets.video_ids[keep]),
        np.take(dets.segments.bounds, keep, axis=0),
    )


def _official_score_order(scores: np.ndarray, p_cls: np.ndarray, n_cls: int) -> np.ndarray:
    """Permutation of ``scores (N,)`` sorting by class, then as the official code ranks a
    class: ``scores_of_class.argsort()[::-1]`` on the class's predictions in input order.

    The default (unstable) numpy sort is called on exactly the official array, so equal
    scores come out in the official order; one call per class, not per prediction.
    """
    by_class = np.argsort(p_cls, kind="stable")  # input order within a class
    edges = np.searchsorted(p_cls[by_class], np.arange(n_cls + 1))
    parts = [
        by_class[lo:hi][scores[by_class[lo:hi]].argsort()[::-1]]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _evaluation_classes(gt: TemporalGroundTruth) -> tuple[list[str], np.ndarray]:
    """Class names present in ``gt`` (first-appearance order) and each segment's ``(M,)``
    index into them (-1 for label -1)."""
    labels = gt.segments.labels
    if np.any(labels >= len(gt.classes)) or np.any(labels < -1):
        raise ValueError("ground-truth labels must index gt.classes (or be -1)")
    valid = labels >= 0
    present, first = np.unique(labels[valid], return_index=True)
    ordered = present[np.argsort(first)]
    remap = np.full(len(gt.classes) + 1, -1, dtype=np.int64)
    remap[ordered] = np.arange(ordered.size)
    return [gt.classes[i] for i in ordered.tolist()], remap[labels]


def _map_det_labels(dets: TemporalDetections, classes: list[str]) -> np.ndarray:
    """``(N,)`` index of each detection's class name in ``classes``; -1 = ignored."""
    labels = dets.segments.labels
    if np.any(labels >= len(dets.classes)) or np.any(labels < -1):
        raise ValueError("detection labels must index dets.classes (or be -1)")
    position = {c: i for i, c in enumerate(classes)}
    lut = np.array([position.get(c, -1) for c in dets.classes] + [-1], dtype=np.int64)
    return lut[labels]


def _video_codes(vocab: np.ndarray, video_ids: np.ndarray) -> np.ndarray:
    """``(N,)`` int64 position of each id in the sorted ``vocab``; -1 where absent.

    A binary search in the small ground-truth vocabulary avoids sorting all prediction ids.
    """
    if vocab.size == 0:
        return np.full(video_ids.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(vocab, video_ids), vocab.size - 1)
    return np.where(vocab[pos] == video_ids, pos, -1).astype(np.int64)


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise tIoU of ``a (P, 2)`` and ``b (P, 2)`` seconds -> ``(P,)``.

    The element-wise twin of :func:`wsal.structures.segment_iou_matrix`, with the same
    rules: a non-positive union or a reversed segment gives 0.
    """
    inter = np.clip(np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    len_a = a[:, 1] - a[:, 0]
    len_b = b[:, 1] - b[:, 0]
    union = len_a + len_b - inter
    valid = (len_a >= 0) & (len_b >= 0) & (union > 0)
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=valid)
    return out


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges ``[starts[i], starts[i] + counts[i])`` concatenated: ``(owner (P,), index (P,))``."""
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    index = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
    return owner, index


def _greedy_match(
    p_key: np.ndarray,
    p_bounds: np.ndarray,
    g_key: np.ndarray,
    g_bounds: np.ndarray,
    thresholds: np.ndarray,
) -> np.ndarray:
    """The official greedy matching, for all groups and thresholds at once.

    Args:
        p_key: ``(N,)`` int64 group (class, video) key of each prediction (-1: no group),
            predictions in ranking order (within a group, earlier = higher score).
        p_bounds: ``(N, 2)`` seconds.
        g_key: ``(M,)`` group key of each ground-truth segment, file order within a group.
        g_bounds: ``(M, 2)`` seconds.
        thresholds: ``(K,)`` tIoU thresholds.

    Returns:
        ``(K, N)`` bool, True where the prediction is a true positive at that threshold.
    """
    tp = np.zeros((thresholds.size, p_key.size), dtype=bool)
    if p_key.size == 0 or g_key.size == 0:
        return tp
    t_min = float(thresholds.min())
    # with t_min > 0 only overlapping pairs can match; at 0, a tIoU-0 pair matches too
    pairs = _Pairs.build(p_key, p_bounds, g_key, g_bounds, overlapping_only=t_min > 0)
    pairs = pairs.prune(t_min)
    pairs = _official_tie_priority(pairs, p_key, p_bounds, g_key, g_bounds)
    if t_min > 0:
        cluster = _clusters(pairs, p_key, p_bounds, g_key, g_bounds)
    else:
        cluster = p_key[pairs.pred]
    order = _step_major_order(cluster)
    pairs = pairs.reorder(order)
    tp[:, pairs.pred] = _match_steps(pairs, cluster[order], thresholds, g_key.size)
    return tp


@dataclass
class _Pairs:
    """(prediction, same-group ground truth) pairs, laid out prediction by prediction.

    Attributes:
        pred: ``(A,)`` index of each prediction that has pairs, in layout order.
        count: ``(A,)`` number of pairs of each prediction.
        first: ``(A,)`` offset of each prediction's first pair.
        gt: ``(P,)`` ground-truth index of each pair.
        iou: ``(P,)`` tIoU of each pair.
        priority: ``(P,)`` int64 in ``[0, M)``, unique within a prediction: among pairs of
            equal tIoU the official loop visits the higher priority first. Default ``gt``
            (later segment first); see :func:`_official_tie_priority`.
    """

    pred: np.ndarray
    count: np.ndarray
    first: np.ndarray
    gt: np.ndarray
    iou: np.ndarray
    priority: np.ndarray

    @classmethod
    def build(
        cls,
        p_key: np.ndarray,
        p_bounds: np.ndarray,
        g_key: np.ndarray,
        g_bounds: np.ndarray,
        *,
        overlapping_only: bool,
    ) -> _Pairs:
        """Pairs of every prediction with the ground truth of its group (arguments as in
        :func:`_greedy_match`); with ``overlapping_only``, a superset of the time-overlapping
        ones found by binary search instead of the whole group."""
        g_order = np.lexsort((g_bounds[:, 0], g_key))  # group-major, start ascending
        sorted_key = g_key[g_order]
        if overlapping_only:
            lo, hi = _candidate_ranges(p_key, p_bounds, sorted_key, g_bounds[g_order])
        else:
            lo, hi = _group_ranges(p_key, sorted_key)
        count = np.maximum(hi - lo, 0)
        pred = np.flatnonzero(count > 0)
        count = count[pred]
        owner, position = _expand(lo[pred], count)
        gt = g_order[position]
        iou = _paired_iou(np.take(p_bounds, pred[owner], axis=0), np.take(g_bounds, gt, axis=0))
        return cls(pred, count, np.cumsum(count) - count, gt, iou, gt.copy())

    def prune(self, min_iou: float) -> _Pairs:
        """Only pairs with ``tIoU >= min_iou`` (the others can never match); predictions left
        without pairs are dropped (false positives at every threshold)."""
        kept = self.iou >= min_iou
        owner = np.repeat(np.arange(self.pred.size), self.count)
        count = np.bincount(owner[kept], minlength=self.pred.size)
        has = count > 0
        count = count[has]
        return _Pairs(
            self.pred[has],
            count,
            np.cumsum(count) - count,
            self.gt[kept],
            self.iou[kept],
            self.priority[kept],
        )

    def reorder(self, order: np.ndarray) -> _Pairs:
        """Predictions ``order`` (indices into this layout), pairs moved along."""
        count = self.count[order]
        _, idx = _expand(self.first[order], count)
        return _Pairs(
            self.pred[order],
            count,
            np.cumsum(count) - count,
            self.gt[idx],
            self.iou[idx],
            self.priority[idx],
        )


def _official_tie_priority(
    pairs: _Pairs,
    p_key: np.ndarray,
    p_bounds: np.ndarray,
    g_key: np.ndarray,
    g_bounds: np.ndarray,
) -> _Pairs:
    """``pairs`` with ``priority`` set to the official visiting order wherever it matters.

    The official loop visits a prediction's group (its video's same-class ground truth, file
    order) by ``tiou.argsort()[::-1]``: among equal tIoU, the one the unstable sort puts
    *last* comes first. Only predictions with two pairs of exactly equal tIoU are affected;
    for them the whole group's tIoU row is sorted with that same call (rows of one group size
    at once: a 2-D ``argsort`` sorts each row exactly as the 1-D call does) and a pair's
    priority becomes its ground truth's ascending rank. The row holds :func:`_paired_iou`
    values, bit-equal to the official ones except where those are NaN (0/0, see the module
    doc). Arguments as in :func:`_greedy_match`.
    """
    tied = _tied_predictions(pairs)
    if tied.size == 0:
        return pairs
    g_file = np.argsort(g_key, kind="stable")  # group-major, file order within a group
    sorted_key = g_key[g_file]
    in_group = np.empty(g_key.size, dtype=np.int64)  # position of a segment in its group
    in_group[g_file] = np.arange(g_key.size) - np.searchsorted(sorted_key, sorted_key, "left")
    lo, hi = _group_ranges(p_key[pairs.pred[tied]], sorted_key)
    size = hi - lo
    priority = pairs.priority.copy()
    for n in np.unique(size).tolist():
        rows = np.flatnonzero(size == n)
        members = g_file[lo[rows, None] + np.arange(n)]  # (R, n) ground truth, file order
        p = np.take(p_bounds, np.repeat(pairs.pred[tied[rows]], n), axis=0)
        tiou = _paired_iou(p, np.take(g_bounds, members.ravel(), axis=0)).reshape(-1, n)
        ascending = np.argsort(tiou, axis=1)  # the official call (default kind), row by row
        rank = np.empty_like(ascending)
        np.put_along_axis(rank, ascending, np.arange(n)[None, :], axis=1)
        owner, idx = _expand(pairs.first[tied[rows]], pairs.count[tied[rows]])
        priority[idx] = rank[owner, in_group[pairs.gt[idx]]]
    return replace(pairs, priority=priority)


def _tied_predictions(pairs: _Pairs) -> np.ndarray:
    """Indices (into ``pairs.pred``) of predictions with two pairs of exactly equal tIoU."""
    owner = np.repeat(np.arange(pairs.pred.size), pairs.count)
    multi = np.flatnonzero(pairs.count[owner] > 1)
    order = np.lexsort((pairs.iou[multi], owner[multi]))
    o, v = owner[multi][order], pairs.iou[multi][order]
    return np.unique(o[1:][(o[1:] == o[:-1]) & (v[1:] == v[:-1])])


def _group_ranges(p_key: np.ndarray, g_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` each ``(N,)``: the range of each prediction's group in sorted ``g_key``."""
    return np.searchsorted(g_key, p_key, "left"), np.searchsorted(g_key, p_key, "right")


def _candidate_ranges(
    p_key: np.ndarray, p_bounds: np.ndarray, g_key: np.ndarray, g_bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` each ``(N,)``: ground truth (sorted by group, then start) that may overlap
    each prediction: same group, ``start < prediction end`` and ``start >= prediction start
    - longest segment of the group`` (lowered a little, so the range is a superset).

    Starts are replaced by their integer rank so that (group, start) is one exact int64 key.
    """
    starts = np.unique(g_bounds[:, 0])
    width = starts.size + 1
    composite = g_key * width + np.searchsorted(starts, g_bounds[:, 0])
    group_keys, group_first = np.unique(g_key, return_index=True)
    longest = np.maximum.reduceat(g_bounds[:, 1] - g_bounds[:, 0], group_first)
    slot = np.minimum(np.searchsorted(group_keys, p_key), group_keys.size - 1)
    reach = np.where(group_keys[slot] == p_key, np.maximum(longest[slot], 0.0), 0.0)
    earliest = p_bounds[:, 0] - reach
    earliest -= 1e-9 * (np.abs(earliest) + reach + 1.0)
    lo = np.searchsorted(composite, p_key * width + np.searchsorted(starts, earliest), "left")
    hi = np.searchsorted(composite, p_key * width + np.searchsorted(starts, p_bounds[:, 1]), "left")
    return lo, hi


def _step_major_order(keys: np.ndarray) -> np.ndarray:
    """Permutation of ``keys (A,)`` (ranking order) sorting by (rank within group, group)."""
    by_group = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_group]
    new_group = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    position = np.arange(keys.size)
    rank = position - np.maximum.accumulate(np.where(new_group, position, 0))
    step = np.empty_like(rank)
    step[by_group] = rank
    return np.lexsort((keys, step))


def _clusters(
    pairs: _Pairs,
    p_key: np.ndarray,
    p_bounds: np.ndarray,
    g_key: np.ndarray,
    g_bounds: np.ndarray,
) -> np.ndarray:
    """``(A,)`` int64 cluster id of each prediction of ``pairs``: groups split in time.

    With pairs of positive tIoU only, a prediction and its ground truth overlap in time, so
    predictions of one (class, video) group interact only inside a chain of overlapping
    intervals. Sweeping the intervals of each group by start time splits it where a start
    lies after every end seen so far. Fewer predictions per cluster means fewer sequential
    steps. ``g_key``/``g_bounds`` are the arrays that ``pairs.gt`` indexes.
    """
    gts = np.unique(pairs.gt)
    key = np.concatenate([p_key[pairs.pred], g_key[gts]])
    start = np.concatenate([p_bounds[pairs.pred, 0], g_bounds[gts, 0]])
    end = np.concatenate([p_bounds[pairs.pred, 1], g_bounds[gts, 1]])
    order = np.lexsort((start, key))
    key, start, end = key[order], start[order], end[order]
    # exact segmented running maximum of the ends: integer ranks offset by group number
    ends = np.unique(end)
    group = np.cumsum(np.r_[True, key[1:] != key[:-1]]) * (ends.size + 1)
    reach = np.maximum.accumulate(np.searchsorted(ends, end) + group)
    opens = np.searchsorted(ends, start, side="left") + group  # ranks of the ends < start
    new = np.r_[True, (key[1:] != key[:-1]) | (opens[1:] > reach[:-1])]
    cluster = np.empty(order.size, dtype=np.int64)
    cluster[order] = np.cumsum(new)
    return cluster[: pairs.pred.size]


def _match_steps(pairs: _Pairs, keys: np.ndarray, thresholds: np.ndarray, n_gt: int) -> np.ndarray:
    """Run the greedy matching over steps; returns ``(K, A)`` bool true positives.

    ``pairs`` is in step-major order: step ``k`` is a contiguous block holding the ``k``-th
    prediction of every cluster (``keys (A,)``) that has one, each with its pairs; clusters
    never share ground truth, so one step is handled at once for all clusters and thresholds.
    """
    n_thr, n_pred = thresholds.size, pairs.pred.size
    tp = np.zeros((n_thr, n_pred), dtype=bool)
    if n_pred == 0:
        return tp
    # a step starts wherever the key does not increase (keys are sorted within a step)
    starts = np.flatnonzero(np.r_[True, keys[1:] <= keys[:-1]])
    bounds = np.r_[starts, n_pred]
    pair_bounds = np.r_[pairs.first, pairs.iou.size][bounds]
    locked = np.zeros((n_thr, n_gt), dtype=bool)
    thr = thresholds[:, None]
    # among equal best values the higher priority is visited first; gt is code % n_gt
    code = pairs.priority * n_gt + pairs.gt
    for a, b, pa, pb in zip(
        bounds[:-1], bounds[1:], pair_bounds[:-1], pair_bounds[1:], strict=True
    ):
        gt = pairs.gt[pa:pb]
        seg_first = pairs.first[a:b] - pa
        value = np.where(locked[:, gt], -1.0, pairs.iou[pa:pb])  # (K, P); locked never wins
        best = np.maximum.reduceat(value, seg_first, axis=1)  # (K, A_k)
        is_best = value == np.repeat(best, pairs.count[a:b], axis=1)
        top = np.maximum.reduceat(np.where(is_best, code[pa:pb], -1), seg_first, axis=1)
        chosen = top % n_gt
        hit_t, hit_p = np.nonzero(best >= thr)
        locked[hit_t, chosen[hit_t, hit_p]] = True
        tp[hit_t, a + hit_p] = True
    return tp


def _overlaps_any(
    p_vid: np.ndarray, p_bounds: np.ndarray, a_vid: np.ndarray, a_bounds: np.ndarray
) -> np.ndarray:
    """``(N,)`` bool: prediction interval intersects (positive length) an ambiguous interval
    of its video. Interval ends are sorted first, like the THUMOS14 MATLAB code."""
    order = np.argsort(a_vid, kind="stable")
    vids, start, count = np.unique(a_vid[order], return_index=True, return_counts=True)
    a_sorted = np.sort(np.take(a_bounds, order, axis=0), axis=1)
    slot = np.minimum(np.searchsorted(vids, p_vid), max(vids.size - 1, 0))
    has = np.flatnonzero(vids[slot] == p_vid) if vids.size else np.zeros(0, dtype=np.int64)
    owner, idx = _expand(start[slot[has]], count[slot[has]])
    p = np.sort(np.take(p_bounds, has[owner], axis=0), axis=1)
    inter = np.minimum(p[:, 1], a_sorted[idx, 1]) - np.maximum(p[:, 0], a_sorted[idx, 0])
    out = np.zeros(p_vid.size, dtype=bool)
    out[has[owner[inter > 0]]] = True
    return out


def _class_ap(tp: np.ndarray, fp: np.ndarray, p_cls: np.ndarray, npos: np.ndarray) -> np.ndarray:
    """``(C, K)`` VOC AP per class from ``(K, N)`` TP/FP flags of class-major ranked
    predictions (``p_cls (N,)`` sorted); an entry neither TP nor FP is ignored."""
    n_cls = npos.size
    edges = np.searchsorted(p_cls, np.arange(n_cls + 1))
    ap = np.zeros((n_cls, tp.shape[0]))
    for c in range(n_cls):
        lo, hi = edges[c], edges[c + 1]
        ctp = np.cumsum(tp[:, lo:hi], axis=1, dtype=np.float64)
        cfp = np.cumsum(fp[:, lo:hi], axis=1, dtype=np.float64)
        ranked = ctp + cfp
        precision = np.divide(ctp, ranked, out=np.zeros_like(ctp), where=ranked > 0)
        ap[c] = voc_ap(precision, ctp / float(npos[c]))
    return ap


# --------------------------------------------------------------------------------------------
# Streaming interface and files
# --------------------------------------------------------------------------------------------


class TemporalEvaluator:
    """Accumulate predictions video by video, then compute :func:`temporal_map`.

    The ``reset / process / evaluate`` protocol of detectron2 evaluators: a predict loop
    calls :meth:`process` for each video as its segments come out of localization.
    """

    def __init__(
        self,
        gt: TemporalGroundTruth,
        *,
        tiou_thresholds: ThresholdSpec = PRESETS["thumos14"],
        subset: str | Sequence[str] | None = None,
        ignore_ambiguous: bool = False,
    ) -> None:
        self.gt = gt
        self.tiou_thresholds = _check_thresholds(tiou_thresholds)
        self.subset = subset
        self.ignore_ambiguous = ignore_ambiguous
        self.reset()

    def reset(self) -> None:
        """Forget every processed prediction."""
        self._classes: list[str] = []
        self._class_index: dict[str, int] = {}
        self._videos: list[np.ndarray] = []
        self._parts: list[Segments] = []

    def process(self, video_id: str, segments: Segments, classes: Sequence[str]) -> None:
        """Add the predictions of one video.

        Args:
            video_id: the video.
            segments: its predicted segments (bounds in seconds, scores); ``segments.labels``
                index ``classes`` (``-1`` = ignored).
            classes: class names of this call's labels (may differ between calls).
        """
        labels = segments.labels
        if np.any(labels >= len(classes)) or np.any(labels < -1):
            raise ValueError(f"{video_id}: segment labels must index classes (or be -1)")
        lut = np.array([self._index_of(c) for c in classes] + [-1], dtype=np.int64)
        self._parts.append(Segments(segments.bounds, lut[labels], segments.scores))
        self._videos.append(np.full(len(segments), video_id, dtype=object))

    def _index_of(self, name: str) -> int:
        """Index of a class name in the evaluator's growing class list."""
        if name not in self._class_index:
            self._class_index[name] = len(self._classes)
            self._classes.append(name)
        return self._class_index[name]

    def evaluate(self) -> TemporalMAPResult:
        """mAP of everything processed since the last :meth:`reset`."""
        vids = np.concatenate(self._videos) if self._videos else np.zeros(0, dtype=object)
        dets = TemporalDetections(vids.astype(str), Segments.cat(self._parts), self._classes)
        return temporal_map(
            self.gt,
            dets,
            tiou_thresholds=self.tiou_thresholds,
            subset=self.subset,
            ignore_ambiguous=self.ignore_ambiguous,
        )


def evaluate_temporal_files(
    gt_path: str | Path,
    pred_path: str | Path,
    *,
    subset: str | Sequence[str] | None = None,
    tiou_thresholds: ThresholdSpec = PRESETS["thumos14"],
    ignore_ambiguous: bool = False,
) -> TemporalMAPResult:
    """Evaluate an ActivityNet results JSON against an ActivityNet ground-truth JSON.

    Subset names are compared as written in the ground-truth file (e.g. ``"testing"``,
    ``"validation"``). ``subset=None`` takes the file's only subset; a file with several
    (a published ActivityNet file holds training, validation and testing) must be told which
    one, since scoring all of them would count every training video as missed. See
    :func:`temporal_map` for the rest.

    Raises:
        FormatError: unreadable or malformed files.
        ConfigError: ``subset`` is ``None`` and the file holds several subsets, names a
            subset the file lacks, or one without annotated segments (the message lists the
            file's subsets).
    """
    from wsal.io.temporal import read_activitynet_gt, read_activitynet_results

    gt = read_activitynet_gt(gt_path)
    subset = _file_subset(gt, subset, gt_path)
    dets = read_activitynet_results(pred_path)
    return temporal_map(
        gt, dets, tiou_thresholds=tiou_thresholds, subset=subset, ignore_ambiguous=ignore_ambiguous
    )


def _file_subset(
    gt: TemporalGroundTruth, subset: str | Sequence[str] | None, gt_path: str | Path
) -> str | list[str]:
    """The subset(s) to evaluate in a ground-truth file; one-line ``ConfigError`` otherwise."""
    videos = Counter(gt.subsets.values())
    segments = Counter(gt.subsets.get(v) for v in gt.video_ids[gt.segments.labels >= 0].tolist())
    listing = ", ".join(
        f"{name} ({videos[name]} videos, {segments[name]} segments)" for name in sorted(videos)
    )
    if subset is None:
        if len(videos) > 1:
            raise ConfigError(
                f"{gt_path}: the ground truth holds {len(videos)} subsets: {listing}; "
                "pass --subset NAME to choose the evaluated one"
            )
        names = list(videos)  # the only subset (or none: an empty file)
    else:
        names = [subset] if isinstance(subset, str) else list(subset)
        missing = [n for n in names if n not in videos]
        if missing:
            raise ConfigError(
                f"{gt_path}: no subset {', '.join(map(repr, missing))} in the ground truth; "
                f"available: {listing or 'none'}"
            )
    if not any(segments[n] for n in names):
        raise ConfigError(
            f"{gt_path}: no annotated segments to evaluate against in subset "
            f"{', '.join(map(repr, names)) or '(none)'}; subsets: {listing or 'none'}"
        )
    return names[0] if len(names) == 1 else names
