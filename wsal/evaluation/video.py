"""ACT-identical video-mAP for spatio-temporal action tubes, and the UCF Sports ROC-AUC.

Video-mAP reproduces the evaluation of the ACT detector (Kalogeiton, Weinzaepfel, Ferrari,
Schmid, "Action Tubelet Detector for Spatio-Temporal Action Localization", ICCV 2017;
``act-detector-scripts/ACT.py`` ``videoAP`` with ``ACT_utils.py`` ``iou3dt``, ``nms3dt``,
``pr_to_ap``), whose loop MOC-Detector also uses and extends with the 0.5:0.05:0.95 average:

1. only videos of the ground truth are evaluated; tubes of other videos and tubes whose label
   is not a ground-truth label are never read;
2. 3D-NMS per video and label at 0.3: tubes by descending score, each kept tube removes the
   remaining ones with tube IoU ``> 0.3`` (exactly 0.3 is kept);
3. tube IoU (``iou3dt``) = temporal IoU over frames x mean per-frame box IoU (+1 pixel
   convention) over the temporal intersection;
4. per label, the kept tubes of all videos by descending score; each is matched to the
   still-unmatched same-label ground-truth tube of its video with the highest IoU, a true
   positive if that IoU ``>= th`` (the ground-truth tube is then removed), else a false positive;
5. the PR curve starts at (recall 0, precision 1); AP = trapezoidal area (``pr_to_ap``) on a
   float32 PR array; mAP = mean over labels.

The same spatio-temporal overlap is the evaluation protocol of STIL (Mettes & Snoek,
"Spatio-Temporal Instance Learning: Action Tubes from Class Supervision": ``st-iou(a, b) =
1/|Gamma| sum_f iou_f(a, b)`` over the union of frames ``Gamma``, which equals temporal IoU x mean
spatial IoU over the intersection), which reports mAP and, on UCF Sports, AUC (:func:`video_auc`).

Only numpy, :mod:`wsal.structures` and :mod:`wsal.evaluation.ap` are imported here; the file
readers are imported lazily by :func:`evaluate_video_files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np

from wsal.evaluation.ap import precision_recall, trapezoid_ap, voc_ap
from wsal.structures import Tube, TubeDetections, TubeGroundTruth

__all__ = [
    "AP_VARIANTS",
    "VideoMAPResult",
    "VideoAUCResult",
    "VideoEvaluator",
    "video_map",
    "video_auc",
    "nms_3d",
    "tube_iou_pairwise",
    "act_pr_to_ap",
    "evaluate_video_files",
]

#: ``"act"``: trapezoidal AP on a float32 PR array, bit-identical to ACT's ``pr_to_ap``;
#: ``"act_float64"``: the same in float64; ``"voc"``: VOC all-point interpolated AP.
AP_VARIANTS = ("act", "act_float64", "voc")

# Upper bound on the elements of one (rows, cols, frames) block of per-frame IoUs.
_BLOCK_ELEMENTS = 1 << 20


# --------------------------------------------------------------------------------------------
# Tube IoU of arbitrary tube pairs, vectorized over the frames of all pairs at once
# --------------------------------------------------------------------------------------------


class _TubeTable:
    """Tubes flattened into one table of per-frame boxes (rows), for pair-wise IoU.

    Attributes:
        first, last: ``(T,)`` int64 first/last 1-indexed frame of each tube (``last < first``
            for an empty tube).
        offset: ``(T,)`` int64 row of each tube's first frame in ``boxes``.
        boxes: ``(R, 4)`` float64 x1y1x2y2 pixels, inclusive, ``R`` = total number of frames.
        good: ``(R,)`` bool, finite box with positive +1 width and height.
    """

    def __init__(self, tubes: Sequence[Tube]):
        lengths = np.array([len(t) for t in tubes], dtype=np.int64)
        self.first = np.array([t.frames[0] if len(t) else 0 for t in tubes], dtype=np.int64)
        self.last = self.first + lengths - 1
        self.offset = np.cumsum(lengths) - lengths
        boxes = [t.boxes for t in tubes if len(t)]
        self.boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), dtype=np.float64)
        b = self.boxes
        self.good = np.isfinite(b).all(axis=1) & (b[:, 2] - b[:, 0] + 1 > 0)
        self.good &= b[:, 3] - b[:, 1] + 1 > 0


def _rowwise_iou(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(E,)`` box IoU of rows ``a (E, 4)`` and ``b (E, 4)`` (pixels, +1 convention).

    Operation order follows ACT's ``overlap2d`` / ``area2d`` / ``iou3d``; rows where ``ok`` is
    False (missing or degenerate box) or the union is not positive give 0.
    """
    iw = np.minimum(a[:, 2], b[:, 2]) + 1 - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) + 1 - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(0.0, iw) * np.maximum(0.0, ih)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=ok & (union > 0))


def _chunks(counts: np.ndarray) -> list[slice]:
    """Consecutive slices of ``counts`` whose sums stay near :data:`_BLOCK_ELEMENTS`."""
    ends = np.cumsum(counts)
    if not len(counts) or ends[-1] <= _BLOCK_ELEMENTS:
        return [slice(0, len(counts))]
    cuts = np.searchsorted(ends, np.arange(_BLOCK_ELEMENTS, ends[-1], _BLOCK_ELEMENTS), "right")
    bounds = np.unique(np.concatenate([[0], np.maximum(cuts, 1), [len(counts)]]))
    return [slice(int(s), int(e)) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]


def _pair_iou(table: _TubeTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ACT tube IoU (``iou3dt``) of the tube pairs ``(a[p], b[p])`` of ``table`` -> ``(P,)``.

    The frames of the temporal intersections of all pairs are gathered into flat row indices
    and their box IoUs computed in one vectorized pass (in blocks of bounded size), then
    averaged per pair with ``np.add.reduceat``.
    """
    fa, fb, la, lb = table.first[a], table.first[b], table.last[a], table.last[b]
    tmin = np.maximum(fa, fb)
    t_inter = np.minimum(la, lb) - tmin + 1
    t_union = np.maximum(la, lb) - np.minimum(fa, fb) + 1
    out = np.zeros(len(a), dtype=np.float64)
    pairs = np.flatnonzero((t_inter > 0) & (la >= fa) & (lb >= fb))
    for part in _chunks(t_inter[pairs]):
        p = pairs[part]
        n = t_inter[p]
        starts = np.cumsum(n) - n
        k = np.arange(int(n.sum())) - np.repeat(starts, n)
        ra = np.repeat(table.offset[a[p]] + tmin[p] - fa[p], n) + k
        rb = np.repeat(table.offset[b[p]] + tmin[p] - fb[p], n) + k
        iou = _rowwise_iou(table.boxes[ra], table.boxes[rb], table.good[ra] & table.good[rb])
        out[p] = (np.add.reduceat(iou, starts) / n) * (n / t_union[p])
    return out


def tube_iou_pairwise(a: Sequence[Tube], b: Sequence[Tube]) -> np.ndarray:
    """ACT tube IoU (``iou3dt``) of every pair of tubes of one video, vectorized.

    ``IoU = (tmax - tmin + 1) / (max(last) - min(first) + 1) * mean_{f in tmin..tmax}
    iou_f`` with ``tmin = max(first)``, ``tmax = min(last)``, 0 if ``tmax < tmin``, and the
    per-frame box IoU in the +1 pixel convention (``area = (x2-x1+1) * (y2-y1+1)``). A frame
    whose box is non-finite or has a non-positive +1 width/height (``x2 < x1 - 1``)
    contributes IoU 0 to the mean (ACT leaves this undefined). Empty tubes have IoU 0.

    Args:
        a, b: tubes of the same video; ``boxes (L, 4)`` x1y1x2y2 pixels, inclusive.

    Returns:
        ``(len(a), len(b))`` float64 matrix, equal to :func:`wsal.structures.tube_iou` per pair.
    """
    table = _TubeTable([*a, *b])
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(a), len(a) + len(b)), indexing="ij")
    return _pair_iou(table, ia.ravel(), ib.ravel()).reshape(len(a), len(b))


# --------------------------------------------------------------------------------------------
# 3D-NMS
# --------------------------------------------------------------------------------------------


def _nms_candidates(
    table: _TubeTable, labels: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Same-label pairs ``i < j`` that could suppress each other.

    Tube IoU = temporal IoU x a mean of box IoUs <= temporal IoU, so a pair whose temporal IoU
    is not above ``threshold`` (less a 1e-9 rounding margin) never exceeds it and needs no
    per-frame work.
    """
    i, j = np.nonzero(np.triu(labels[:, None] == labels[None, :], 1))
    first, last = table.first, table.last
    t_inter = np.minimum(last[i], last[j]) - np.maximum(first[i], first[j]) + 1
    t_union = np.maximum(last[i], last[j]) - np.minimum(first[i], first[j]) + 1
    keep = t_inter / np.maximum(t_union, 1) > threshold - 1e-9
    return i[keep], j[keep]


def _greedy_nms(
    n: int, order: np.ndarray, i: np.ndarray, j: np.ndarray, iou: np.ndarray, threshold: float
) -> np.ndarray:
    """Greedy NMS from the IoU of candidate pairs ``(i[p], j[p])`` (pairs not listed: IoU 0).

    Tubes are visited in ``order``; a kept tube suppresses its partners with IoU
    ``> threshold``. Returns the kept indices in visiting order.
    """
    conflict = iou > threshold
    src = np.concatenate([i[conflict], j[conflict]])
    dst = np.concatenate([j[conflict], i[conflict]])
    by_src = np.argsort(src, kind="stable")
    dst = dst[by_src]
    bounds = np.searchsorted(src[by_src], np.arange(n + 1))
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    for t in order.tolist():  # loop over tubes; suppression of each is one slice assignment
        if not suppressed[t]:
            keep.append(t)
            suppressed[dst[bounds[t] : bounds[t + 1]]] = True
    return np.asarray(keep, dtype=np.int64)


def nms_3d(
    tubes: Sequence[Tube], scores: np.ndarray | Sequence[float], threshold: float
) -> np.ndarray:
    """Spatio-temporal NMS of ACT (``nms3dt``) over the tubes of one video and label.

    Tubes are visited by descending score; each kept tube removes every remaining tube whose
    tube IoU with it is ``> threshold`` (IoU exactly equal to the threshold is kept). Ties in
    score keep the earlier index first (ACT's order among ties is unspecified).

    Args:
        tubes: ``N`` tubes of one video.
        scores: ``(N,)`` finite scores.
        threshold: IoU above which a lower-scored tube is suppressed (ACT uses 0.3).

    Returns:
        ``(K,)`` int64 indices of the kept tubes, by descending score.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != len(tubes):
        raise ValueError(f"nms_3d: {len(tubes)} tubes but {scores.shape[0]} scores")
    if not np.isfinite(scores).all():
        raise ValueError("nms_3d: scores must be finite")
    table = _TubeTable(tubes)
    i, j = _nms_candidates(table, np.zeros(len(tubes), dtype=np.int64), float(threshold))
    iou = _pair_iou(table, i, j)
    order = np.argsort(-scores, kind="stable")
    return _greedy_nms(len(tubes), order, i, j, iou, float(threshold))


# --------------------------------------------------------------------------------------------
# AP of one PR curve
# --------------------------------------------------------------------------------------------


def act_pr_to_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """ACT's ``pr_to_ap``: trapezoidal area on a float32 PR array starting at (r=0, p=1).

    The official code fills ``pr = np.empty((n + 1, 2), np.float32)`` with ``(1, 0)`` then the
    float64 precision/recall of each ranked tube, and returns ``sum(diff(r) * (p[1:] + p[:-1])
    * 0.5)`` in float32. :func:`wsal.evaluation.ap.trapezoid_ap` with ``dtype=np.float32``
    performs the same float32 operations (``x / 2 == x * 0.5`` exactly), so this delegates to
    it; the test suite checks bit-identity against a literal transcription of the formula.

    Args:
        precision, recall: ``(n,)`` float64 values after each ranked detection.

    Returns:
        AP as a fraction (the float32 value as a Python float); 0 for ``n == 0``.
    """
    return trapezoid_ap(precision, recall, dtype=np.float32)


def _ap(precision: np.ndarray, recall: np.ndarray, variant: str) -> float:
    """AP of one PR curve with the chosen variant (see :data:`AP_VARIANTS`)."""
    if variant == "act":
        return act_pr_to_ap(precision, recall)
    if variant == "act_float64":
        return trapezoid_ap(precision, recall, dtype=np.float64)
    return float(voc_ap(precision, recall))


# --------------------------------------------------------------------------------------------
# Matching and video-mAP
# --------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Kept detections of one (video, label), in descending-score (NMS) order.

    Attributes:
        label: class index.
        scores: ``(D,)`` float64.
        iou: ``(D, G)`` tube IoU with the ground-truth tubes of that video and label.
    """

    label: int
    scores: np.ndarray
    iou: np.ndarray


def _greedy_match(iou: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """ACT matching inside one (video, label) for all thresholds at once.

    Detections (rows of ``iou (D, G)``, best first) take the still-unmatched ground-truth tube
    with the highest IoU (first on ties, as ``np.argmax`` on ACT's remaining list); a true
    positive if that IoU ``>= th``, which removes the ground-truth tube.

    Returns:
        ``(K, D)`` bool true-positive flags for the ``K`` thresholds.
    """
    k, (d, g) = len(thresholds), iou.shape
    tp = np.zeros((k, d), dtype=bool)
    if g == 0:
        return tp
    free = np.ones((k, g), dtype=bool)
    rows = np.arange(k)
    for i in range(d):  # loop over tubes (sequential by definition), vectorized over K and G
        cand = np.where(free, iou[i][None, :], -np.inf)
        j = cand.argmax(axis=1)
        hit = cand[rows, j] >= thresholds
        tp[:, i] = hit
        free[rows[hit], j[hit]] = False
        if not free.any():
            break
    return tp


def _check_thresholds(iou_thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
    """``(K,)`` float64 thresholds in ``[0, 1]``, distinct at the 2 decimals of the JSON keys."""
    th = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if th.size == 0 or not np.isfinite(th).all() or (th < 0).any() or (th > 1).any():
        raise ValueError(f"IoU thresholds must be finite values in [0, 1], got {th.tolist()}")
    keys = [f"{t:.2f}" for t in th]
    if len(set(keys)) != len(keys):
        raise ValueError(f"IoU thresholds must differ at 2 decimals (JSON keys), got {keys}")
    return th


def _check_options(nms_threshold: float | None, ap_variant: str) -> None:
    """Raise ``ValueError`` for an unknown AP variant or a non-finite NMS threshold."""
    if ap_variant not in AP_VARIANTS:
        raise ValueError(f"ap_variant must be one of {AP_VARIANTS}, got {ap_variant!r}")
    if nms_threshold is not None and not np.isfinite(nms_threshold):
        raise ValueError(f"nms_threshold must be finite or None, got {nms_threshold}")


def _gt_labels(tubes: Sequence[Tube], n_labels: int, vid: str) -> np.ndarray:
    """``(G,)`` label indices of a video's ground-truth tubes, checked to be in range."""
    labels = np.array([t.label for t in tubes], dtype=np.int64)
    if labels.size and ((labels < 0) | (labels >= n_labels)).any():
        raise ValueError(
            f"ground truth of video {vid!r} has a tube label outside 0..{n_labels - 1}"
        )
    return labels


def _video_detections(
    tubes: Sequence[Tube], label_map: np.ndarray, vid: str
) -> tuple[list[Tube], np.ndarray, np.ndarray]:
    """Detections of one video with a ground-truth label: ``(tubes, labels (D,), scores (D,))``."""
    raw = np.array([t.label for t in tubes], dtype=np.int64)
    valid = (raw >= 0) & (raw < len(label_map))
    mapped = np.full(raw.shape, -1, dtype=np.int64)
    mapped[valid] = label_map[raw[valid]]
    keep = np.flatnonzero(mapped >= 0)
    scores = np.array([tubes[i].score for i in keep], dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"video {vid!r}: detected tubes must have finite scores")
    return [tubes[i] for i in keep], mapped[keep], scores


def _video_nms(
    table: _TubeTable, labels: np.ndarray, scores: np.ndarray, threshold: float | None
) -> np.ndarray:
    """Kept detections of one video (3D-NMS per label, or all), by descending score."""
    order = np.argsort(-scores, kind="stable")
    if threshold is None:
        return order
    i, j = _nms_candidates(table, labels, threshold)
    return _greedy_nms(len(labels), order, i, j, _pair_iou(table, i, j), threshold)


def _det_gt_iou(
    table: _TubeTable, dets: np.ndarray, det_labels: np.ndarray, gt_labels: np.ndarray
) -> np.ndarray:
    """``(len(dets), G)`` IoU of detections ``dets`` with the same-label GT tubes (else 0).

    ``table`` holds the ``len(det_labels)`` detections of the video, then its ``G`` GT tubes.
    """
    r, c = np.nonzero(det_labels[dets][:, None] == gt_labels[None, :])
    out = np.zeros((len(dets), len(gt_labels)), dtype=np.float64)
    out[r, c] = _pair_iou(table, dets[r], c + len(det_labels))
    return out


def _video_groups(
    gt_tubes: Sequence[Tube],
    gt_labels: np.ndarray,
    det_tubes: list[Tube],
    det_labels: np.ndarray,
    det_scores: np.ndarray,
    nms_threshold: float | None,
) -> list[_Group]:
    """NMS and detection x ground-truth IoU of one video, one :class:`_Group` per label."""
    if not det_tubes:
        return []
    table = _TubeTable([*det_tubes, *gt_tubes])
    kept = _video_nms(table, det_labels, det_scores, nms_threshold)
    iou = _det_gt_iou(table, kept, det_labels, gt_labels)
    kept_labels = det_labels[kept]
    groups = []
    for label in np.unique(kept_labels):
        rows = np.flatnonzero(kept_labels == label)
        cols = np.flatnonzero(gt_labels == label)
        groups.append(_Group(int(label), det_scores[kept[rows]], iou[np.ix_(rows, cols)]))
    return groups


def _label_aps(groups: list[_Group], n_gt: int, thresholds: np.ndarray, variant: str) -> np.ndarray:
    """``(K,)`` AP of one label from its groups (in video order) and its number of GT tubes."""
    if not groups:
        return np.zeros(len(thresholds))
    scores = np.concatenate([g.scores for g in groups])
    tp = np.concatenate([_greedy_match(g.iou, thresholds) for g in groups], axis=1)
    tp = tp[:, np.argsort(-scores, kind="stable")]
    precision, recall = precision_recall(tp, n_gt)
    return np.array([_ap(precision[k], recall[k], variant) for k in range(len(thresholds))])


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN (no warning) where every value is NaN."""
    valid = ~np.isnan(x)
    count = valid.sum(axis=axis)
    total = np.where(valid, x, 0.0).sum(axis=axis)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def _fraction_or_none(x: float) -> float | None:
    """JSON value of a fraction: ``None`` for NaN (undefined), else a Python float."""
    return None if np.isnan(x) else float(x)


@dataclass
class VideoMAPResult:
    """Video-mAP at several tube-IoU thresholds.

    Attributes:
        thresholds: ``(K,)`` tube-IoU thresholds.
        labels: ``C`` class names (the ground truth's).
        ap: ``(C, K)`` AP as fractions in ``[0, 1]``; NaN for a label without ground-truth
            tubes (excluded from the mean; the official code would divide by zero).
        mAP: ``(K,)`` mean AP over labels with ground truth.
        average_mAP: mean of ``mAP`` over the thresholds (with ``np.linspace(0.5, 0.95, 10)``:
            MOC's 0.5:0.05:0.95 video-mAP; computed in float64).
        num_gt: ``(C,)`` ground-truth tubes per label.
        num_detections: ``(C,)`` evaluated detections per label (after 3D-NMS).
    """

    thresholds: np.ndarray
    labels: list[str]
    ap: np.ndarray
    mAP: np.ndarray
    average_mAP: float
    num_gt: np.ndarray
    num_detections: np.ndarray

    def to_json(self) -> dict:
        """``{"mAP": {"0.50": m, ...}, "average_mAP": m, "per_class": {label: {"0.50": ap}}}``.

        Fractions in ``[0, 1]`` (not percent), threshold keys ``f"{t:.2f}"``; ``None`` where a
        label has no ground truth.
        """
        keys = [f"{t:.2f}" for t in self.thresholds]
        return {
            "mAP": {k: _fraction_or_none(m) for k, m in zip(keys, self.mAP, strict=True)},
            "average_mAP": _fraction_or_none(self.average_mAP),
            "per_class": {
                label: {k: _fraction_or_none(a) for k, a in zip(keys, self.ap[c], strict=True)}
                for c, label in enumerate(self.labels)
            },
        }

    def format_table(self) -> str:
        """Plain-text table of per-class AP and mAP in percent, one column per threshold."""
        width = max([len("mAP"), *(len(x) for x in self.labels)])
        head = f"{'video-AP (%)':<{width}}" + "".join(f"{t:>9.2f}" for t in self.thresholds)
        lines = [head, "-" * len(head)]
        for c, label in enumerate(self.labels):
            cells = "".join(f"{100 * a:>9.2f}" for a in self.ap[c])
            lines.append(f"{label:<{width}}{cells}")
        lines.append("-" * len(head))
        lines.append(f"{'mAP':<{width}}" + "".join(f"{100 * m:>9.2f}" for m in self.mAP))
        n = len(self.thresholds)
        lines.append(f"average mAP over {n} threshold(s): {100 * self.average_mAP:.2f}")
        return "\n".join(lines)


def _label_map(det_labels: Sequence[str], gt_labels: Sequence[str]) -> np.ndarray:
    """``(len(det_labels),)`` ground-truth index of each detection label name, -1 if absent."""
    index = {name: i for i, name in enumerate(gt_labels)}
    return np.array([index.get(name, -1) for name in det_labels], dtype=np.int64)


def _collect_groups(
    gt: TubeGroundTruth, dets: TubeDetections, nms_threshold: float | None
) -> tuple[list[list[_Group]], np.ndarray]:
    """Per-label groups over the ground-truth videos (in order) and ``(C,)`` GT tube counts."""
    n_labels = len(gt.labels)
    label_map = _label_map(dets.labels, gt.labels)
    per_label: list[list[_Group]] = [[] for _ in range(n_labels)]
    n_gt = np.zeros(n_labels, dtype=np.int64)
    for vid in gt.videos:
        gt_tubes = gt.tubes.get(vid, [])
        gt_labels = _gt_labels(gt_tubes, n_labels, vid)
        n_gt += np.bincount(gt_labels, minlength=n_labels)
        d_tubes, d_labels, d_scores = _video_detections(dets.tubes.get(vid, []), label_map, vid)
        for g in _video_groups(gt_tubes, gt_labels, d_tubes, d_labels, d_scores, nms_threshold):
            per_label[g.label].append(g)
    return per_label, n_gt


def video_map(
    gt: TubeGroundTruth,
    dets: TubeDetections,
    *,
    iou_thresholds: Sequence[float] | np.ndarray = (0.2, 0.5, 0.75),
    nms_threshold: float | None = 0.3,
    ap_variant: str = "act",
) -> VideoMAPResult:
    """Video-mAP of predicted tubes, identical to ACT's ``videoAP`` (Kalogeiton et al. 2017).

    Args:
        gt: ground-truth tubes; its videos (in order) are the evaluated videos, its labels
            the evaluated classes.
        dets: predicted tubes; their label names are mapped onto ``gt.labels`` by name, and
            tubes of other labels or of videos outside ``gt`` are ignored. Scores must be finite.
        iou_thresholds: tube-IoU thresholds; ``np.linspace(0.5, 0.95, 10)`` gives the
            0.5:0.05:0.95 protocol (``average_mAP``).
        nms_threshold: 3D-NMS IoU per video and label (ACT: 0.3); ``None`` disables it.
        ap_variant: ``"act"`` (float32 PR, official numbers), ``"act_float64"`` or ``"voc"``.

    Returns:
        :class:`VideoMAPResult` with fractions (the official code prints percent).

    Ties in score are ordered by video (ground-truth order) then NMS order (stable sorts);
    ACT's quicksort leaves their order unspecified.
    """
    thresholds = _check_thresholds(iou_thresholds)
    _check_options(nms_threshold, ap_variant)
    per_label, n_gt = _collect_groups(gt, dets, nms_threshold)
    ap = np.full((len(gt.labels), len(thresholds)), np.nan)
    for c, groups in enumerate(per_label):
        if n_gt[c] > 0:
            ap[c] = _label_aps(groups, int(n_gt[c]), thresholds, ap_variant)
    m_ap = _nanmean(ap, axis=0)
    average = float(m_ap.mean()) if not np.isnan(m_ap).any() else float("nan")
    num_det = np.array([sum(len(g.scores) for g in gs) for gs in per_label], dtype=np.int64)
    return VideoMAPResult(thresholds, list(gt.labels), ap, m_ap, average, n_gt, num_det)


# --------------------------------------------------------------------------------------------
# Streaming evaluator and whole-file entry point
# --------------------------------------------------------------------------------------------


class VideoEvaluator:
    """Video-mAP accumulated video by video (``reset`` / ``process`` / ``evaluate``).

    ``process`` may be called several times for one video (its tubes accumulate, 3D-NMS sees
    all of them), so the result equals :func:`video_map` on all tubes at once.

    Args:
        gt: the ground truth (evaluated videos and labels).
        labels: class list the processed tubes' labels index (default ``gt.labels``).
        iou_thresholds, nms_threshold, ap_variant: as in :func:`video_map`.
    """

    def __init__(
        self,
        gt: TubeGroundTruth,
        *,
        labels: Sequence[str] | None = None,
        iou_thresholds: Sequence[float] | np.ndarray = (0.2, 0.5, 0.75),
        nms_threshold: float | None = 0.3,
        ap_variant: str = "act",
    ):
        self.gt = gt
        self.labels = list(gt.labels if labels is None else labels)
        self.iou_thresholds = _check_thresholds(iou_thresholds)
        _check_options(nms_threshold, ap_variant)
        self.nms_threshold = nms_threshold
        self.ap_variant = ap_variant
        self._tubes: dict[str, list[Tube]] = {}

    def reset(self) -> None:
        """Forget every processed tube."""
        self._tubes = {}

    def process(self, video_id: str, tubes: Sequence[Tube]) -> None:
        """Add the predicted tubes of one video (labels index ``self.labels``)."""
        if not all(isinstance(t, Tube) for t in tubes):
            raise TypeError("VideoEvaluator.process expects a sequence of Tube")
        self._tubes.setdefault(str(video_id), []).extend(tubes)

    def evaluate(self) -> VideoMAPResult:
        """Video-mAP of everything processed since the last :meth:`reset`."""
        dets = TubeDetections(tubes=self._tubes, labels=self.labels)
        return video_map(
            self.gt,
            dets,
            iou_thresholds=self.iou_thresholds,
            nms_threshold=self.nms_threshold,
            ap_variant=self.ap_variant,
        )


def evaluate_video_files(
    gt_path: str | PathLike,
    pred_path: str | PathLike,
    *,
    iou_thresholds: Sequence[float] | np.ndarray = (0.2, 0.5, 0.75),
    nms_threshold: float | None = 0.3,
    ap_variant: str = "act",
) -> VideoMAPResult:
    """Video-mAP of a tube results JSON against a ``gt_tubes.json`` (see :func:`video_map`).

    Predicted labels outside the ground truth's list are dropped while reading (never read
    by ACT either).
    """
    from wsal.io.tubes import read_gt_tubes, read_tube_results

    gt = read_gt_tubes(gt_path)
    dets = read_tube_results(pred_path, labels=gt.labels)
    return video_map(
        gt, dets, iou_thresholds=iou_thresholds, nms_threshold=nms_threshold, ap_variant=ap_variant
    )


# --------------------------------------------------------------------------------------------
# UCF Sports AUC
# --------------------------------------------------------------------------------------------


@dataclass
class VideoAUCResult:
    """Area under the localization ROC curve at several overlap thresholds.

    Attributes:
        overlaps: ``(K,)`` tube-IoU thresholds sigma.
        labels: ``C`` class names.
        auc: ``(C, K)`` area under ROC for FPR in ``[0, max_fpr]`` (unnormalized, at most
            ``max_fpr``); NaN for a class without positive or without negative videos.
        mean_auc: ``(K,)`` mean over classes.
        max_fpr: upper false-positive-rate limit of the integral.
    """

    overlaps: np.ndarray
    labels: list[str]
    auc: np.ndarray
    mean_auc: np.ndarray
    max_fpr: float

    def to_json(self) -> dict:
        """``{"AUC": {"0.20": v, ...}, "max_fpr": f, "per_class": {label: {"0.20": v}}}``."""
        keys = [f"{t:.2f}" for t in self.overlaps]
        return {
            "AUC": {k: _fraction_or_none(v) for k, v in zip(keys, self.mean_auc, strict=True)},
            "max_fpr": self.max_fpr,
            "per_class": {
                label: {k: _fraction_or_none(v) for k, v in zip(keys, self.auc[c], strict=True)}
                for c, label in enumerate(self.labels)
            },
        }


def _roc_area(
    scores: np.ndarray, hits: np.ndarray, n_pos: int, n_neg: int, max_fpr: float
) -> float:
    """Area under the ROC polyline for FPR in ``[0, max_fpr]``.

    ``scores (M,)`` of the retrieved videos, ``hits (M,)`` +1 correct positive, 0 ignored
    (mislocalized positive), -1 negative. Tied scores form one diagonal step; after the last
    retrieved video the curve stays flat.
    """
    order = np.argsort(-scores, kind="stable")
    s, h = scores[order], hits[order]
    last_of_tie = np.append(np.flatnonzero(np.diff(s) != 0), len(s) - 1) if len(s) else []
    tpr = np.concatenate([[0.0], (np.cumsum(h > 0) / n_pos)[last_of_tie]])
    fpr = np.concatenate([[0.0], (np.cumsum(h < 0) / n_neg)[last_of_tie]])
    x0, x1, y0, y1 = fpr[:-1], fpr[1:], tpr[:-1], tpr[1:]
    x1c = np.minimum(x1, max_fpr)
    frac = np.divide(x1c - x0, x1 - x0, out=np.ones_like(x0), where=x1 > x0)
    y1c = y0 + (y1 - y0) * frac
    seg = np.where(x0 < max_fpr, (x1c - x0) * (y0 + y1c) / 2, 0.0)
    tail = max(0.0, max_fpr - fpr[-1]) * tpr[-1]
    return float(seg.sum() + tail)


def _best_class_tubes(
    gt: TubeGroundTruth, dets: TubeDetections
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (video, class): score of the best tube (-inf: none), its best IoU with a GT tube of
    that class in the video, and whether the video contains the class. Each ``(V, C)``."""
    n_videos, n_labels = len(gt.videos), len(gt.labels)
    label_map = _label_map(dets.labels, gt.labels)
    score = np.full((n_videos, n_labels), -np.inf)
    iou = np.zeros((n_videos, n_labels))
    positive = np.zeros((n_videos, n_labels), dtype=bool)
    for v, vid in enumerate(gt.videos):
        gt_tubes = gt.tubes.get(vid, [])
        gt_labels = _gt_labels(gt_tubes, n_labels, vid)
        positive[v, gt_labels] = True
        d_tubes, d_labels, d_scores = _video_detections(dets.tubes.get(vid, []), label_map, vid)
        if not d_tubes:
            continue
        table = _TubeTable([*d_tubes, *gt_tubes])
        order = np.lexsort((-d_scores, d_labels))  # by label, then score descending (stable)
        labels, first = np.unique(d_labels[order], return_index=True)
        best = order[first]
        score[v, labels] = d_scores[best]
        best_iou = _det_gt_iou(table, best, d_labels, gt_labels)
        iou[v, labels] = best_iou.max(axis=1, initial=0.0)
    return score, iou, positive


def video_auc(
    gt: TubeGroundTruth,
    dets: TubeDetections,
    *,
    overlaps: Sequence[float] | np.ndarray = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    max_fpr: float = 0.6,
) -> VideoAUCResult:
    """Area under the ROC curve of localization at each overlap threshold (UCF Sports protocol).

    STIL (Mettes & Snoek) reports "AUC" on UCF Sports next to mAP without defining it; it
    follows the UCF Sports localization protocol of Lan, Wang & Mori (ICCV 2011), used by
    Tian et al. (CVPR 2013), Jain et al. (CVPR 2014), Gkioxari & Malik (CVPR 2015) and the
    weakly-supervised works STIL compares with: ROC curves of videos per class, where a video
    counts as correctly detected when it is retrieved for the class and its tube overlaps the
    ground truth by at least sigma, and the area under the ROC curve is reported for sigma =
    0.1 ... 0.6 (the ROC plots of those papers span false-positive rates 0 ... 0.6).

    Precisely, for each class ``c`` and overlap ``sigma``:

    * each evaluated video contributes its highest-scoring tube of class ``c`` (videos without
      one are never retrieved); its overlap is the best tube IoU (ACT ``iou3dt``, the STIL
      st-iou) with a ground-truth tube of class ``c`` of that video;
    * positives: videos with a ground-truth tube of ``c`` (``P``); negatives: the others
      (``N``). Lowering the score threshold, TPR = correctly localized positives (overlap
      ``>= sigma``) / ``P`` and FPR = retrieved negatives / ``N``; a mislocalized positive
      raises neither (it only caps the TPR);
    * AUC = area under that ROC polyline for FPR in ``[0, max_fpr]`` (unnormalized, so at
      most ``max_fpr``), then averaged over classes.

    Ambiguities, documented: the papers do not state whether a mislocalized positive counts as
    a false positive or whether the area is normalized by ``max_fpr``; some later works call
    the mean of video-AP over thresholds "AUC" -- that is
    ``video_map(gt, dets, iou_thresholds=overlaps, nms_threshold=None).average_mAP``.

    Returns:
        :class:`VideoAUCResult` with ``auc (C, K)`` and ``mean_auc (K,)``.
    """
    th = _check_thresholds(overlaps)
    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    n_labels = len(gt.labels)
    score, iou, positive = _best_class_tubes(gt, dets)
    auc = np.full((n_labels, len(th)), np.nan)
    for c in range(n_labels):
        n_pos = int(positive[:, c].sum())
        n_neg = len(gt.videos) - n_pos
        if n_pos == 0 or n_neg == 0:
            continue
        found = np.isfinite(score[:, c])
        for k, sigma in enumerate(th):
            hits = np.where(positive[:, c], (iou[:, c] >= sigma).astype(np.int64), -1)
            auc[c, k] = _roc_area(score[found, c], hits[found], n_pos, n_neg, max_fpr)
    return VideoAUCResult(th, list(gt.labels), auc, _nanmean(auc, axis=0), float(max_fpr))
