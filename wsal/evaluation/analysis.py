"""Error analysis of detections: DETAD for temporal segments, the ACT breakdown for tubes.

Temporal (:func:`detad_analysis`): Alwassel, Caba Heilbron, Escorcia, Ghanem, "Diagnosing
Error in Temporal Action Detectors", ECCV 2018, as in its released code
(``HumamAlwassel/DETAD``, ``action_detector_diagnosis.py``):

1. per class ``j`` only the ``limit_factor * G_j`` highest-scoring predictions are analysed
   (``G_j`` = ground-truth instances of the class; DETAD uses 10);
2. they are matched with the ActivityNet rule at every tIoU threshold
   (:func:`match_temporal`; identical to :func:`wsal.evaluation.temporal.temporal_map`);
3. every false positive is typed against *all* ground truth of its video (any class), using
   the ground-truth segment of highest tIoU (the first one on ties):

   * ``double``: tIoU ``>= t`` with a segment of its own class (already matched by a
     higher-scoring prediction);
   * ``wrong_label``: tIoU ``>= t`` with a segment of another class;
   * ``localization``: ``min_tiou <= tIoU < t`` (DETAD: 0.1), same class;
   * ``confusion``: ``min_tiou <= tIoU < t``, other class;
   * ``background``: tIoU ``< min_tiou`` with everything (or no ground truth in the video);

4. the false-positive profile splits the ranked predictions of each class into blocks of
   ``G_j`` (top-1G, 2G, ..., the figure of the paper) and gives the share of each type;
5. the average-mAP gain of an error type is the average mAP after removing the predictions of
   that type (true positives kept as matched), minus the average mAP of the analysed
   predictions; ``normalized=True`` uses DETAD's normalized precision
   ``rec * N / (rec * N + fp)`` with ``N`` the average number of instances per class;
6. false negatives: ground-truth instances matched by no prediction, by length bin (DETAD's
   THUMOS14 bins 0-3-6-12-18-inf seconds by default; ActivityNet: 0-30-60-120-180-inf).

Tubes (:func:`tube_error_breakdown`): the error classes of the ACT detector paper
(Kalogeiton et al., ICCV 2017, Sec. 5, "error breakdown"), applied to whole tubes after the
video-mAP protocol's 3D-NMS and matching (:mod:`wsal.evaluation.video`): a detected tube
that is not a true positive is

* ``classification``: tube IoU ``>= t`` with a ground-truth tube of another class;
* ``timing``: against the same-class ground-truth tube of highest tube IoU, the spatial
  overlap (mean per-frame box IoU over the common frames) is ``>= t`` but the temporal extent
  is wrong (tube IoU ``< t``);
* ``localization``: overlaps that tube in time and in space, spatial overlap ``< t``;
* ``other``: everything else (duplicates of an already matched tube, detections far from
  every ground-truth tube);

and ``missed`` counts the ground-truth tubes no detection matched. Checks are made in this
order (true positive, then a duplicate is ``other``, then the list above).

Only numpy, :mod:`wsal.structures` and the sibling evaluation modules are imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsal.evaluation.ap import voc_ap
from wsal.evaluation.temporal import PRESETS, _check_thresholds, _evaluation_classes
from wsal.evaluation.video import _label_map, nms_3d, tube_iou_pairwise
from wsal.structures import TemporalDetections, TemporalGroundTruth, Tube, TubeDetections
from wsal.structures import TubeGroundTruth as _TubeGT

__all__ = [
    "FP_TYPES",
    "TUBE_ERROR_TYPES",
    "THUMOS14_LENGTH_BINS",
    "ACTIVITYNET_LENGTH_BINS",
    "TemporalMatches",
    "match_temporal",
    "DetadResult",
    "detad_analysis",
    "TubeErrorResult",
    "tube_error_breakdown",
]

#: Outcome codes of a prediction, in DETAD's legend order (0 = true positive).
FP_TYPES = ("true_positive", "double", "wrong_label", "localization", "confusion", "background")
#: Outcome codes of a detected tube (0 = true positive); ``missed`` is counted on ground truth.
TUBE_ERROR_TYPES = ("true_positive", "classification", "timing", "localization", "other")
#: DETAD's length bins (seconds) and their names for THUMOS14 and ActivityNet.
THUMOS14_LENGTH_BINS = (np.array([0, 3, 6, 12, 18, np.inf]), ("XS", "S", "M", "L", "XL"))
ACTIVITYNET_LENGTH_BINS = (np.array([0, 30, 60, 120, 180, np.inf]), ("XS", "S", "M", "L", "XL"))


# --------------------------------------------------------------------------------------------
# Matching with the matched ground truth kept
# --------------------------------------------------------------------------------------------


@dataclass
class TemporalMatches:
    """Ranked predictions and their ActivityNet matching at every threshold.

    Attributes:
        classes: the ``C`` evaluated classes (ground-truth classes, first appearance).
        thresholds: ``(K,)`` tIoU thresholds.
        video_ids: ``(N,)`` str, predictions in ranking order (class-major, score descending,
            ties in input order).
        bounds: ``(N, 2)`` seconds.
        labels: ``(N,)`` class index into ``classes``.
        scores: ``(N,)``.
        rank: ``(N,)`` rank of each prediction within its class (0 = best).
        tp: ``(K, N)`` bool true positives.
        matched_gt: ``(K, N)`` index into the ground-truth arrays below, -1 for false positives.
        gt_video_ids: ``(M,)`` str; gt_bounds ``(M, 2)``; gt_labels ``(M,)`` into ``classes``.
        npos: ``(C,)`` ground-truth instances per class.
    """

    classes: list[str]
    thresholds: np.ndarray
    video_ids: np.ndarray
    bounds: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    rank: np.ndarray
    tp: np.ndarray
    matched_gt: np.ndarray
    gt_video_ids: np.ndarray
    gt_bounds: np.ndarray
    gt_labels: np.ndarray
    npos: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.size)

    def class_ap(self, keep: np.ndarray | None = None, *, normalized: bool = False) -> np.ndarray:
        """``(C, K)`` VOC AP per class from the stored matching.

        ``keep``: optional ``(K, N)`` bool mask of predictions to count (removed ones are
        neither true nor false positives). ``normalized``: DETAD's normalized precision.
        """
        keep = np.ones_like(self.tp) if keep is None else keep
        n_avg = self.npos.sum() / max(1, self.npos.size)
        ap = np.zeros((len(self.classes), self.thresholds.size))
        edges = np.searchsorted(self.labels, np.arange(len(self.classes) + 1))
        for c in range(len(self.classes)):
            sl = slice(edges[c], edges[c + 1])
            tp = np.cumsum(self.tp[:, sl] & keep[:, sl], axis=1, dtype=np.float64)
            fp = np.cumsum(~self.tp[:, sl] & keep[:, sl], axis=1, dtype=np.float64)
            rec = tp / max(1, self.npos[c])
            scale = n_avg if normalized else float(self.npos[c])
            den = rec * scale + fp
            prec = np.divide(rec * scale, den, out=np.zeros_like(den), where=den > 0)
            ap[c] = voc_ap(prec, rec) if prec.shape[1] else 0.0
        return ap

    def pr_curve(self, cls: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Precision and recall ``(n,)`` of class ``cls`` at threshold index ``k``, by rank."""
        sel = self.labels == cls
        tp = np.cumsum(self.tp[k, sel], dtype=np.float64)
        ranked = np.arange(1, tp.size + 1, dtype=np.float64)
        return tp / ranked, tp / max(1, self.npos[cls])


def _codes(vocab: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``(N,)`` position of each id in the sorted ``vocab``, -1 where absent."""
    if vocab.size == 0:
        return np.full(ids.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(vocab, ids), vocab.size - 1)
    return np.where(vocab[pos] == ids, pos, -1).astype(np.int64)


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """``(N,)`` position of each element among the equal keys before it (input order)."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    first = np.r_[True, sk[1:] != sk[:-1]]
    pos = np.arange(keys.size)
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = pos - np.maximum.accumulate(np.where(first, pos, 0))
    return rank


def _padded_members(keys: np.ndarray, n_groups: int) -> np.ndarray:
    """``(n_groups, width)`` member indices of each group (key in ``0..n_groups-1``), -1 padded,
    members in input order."""
    rank = _rank_in_group(keys)
    width = int(rank.max()) + 1 if keys.size else 0
    out = np.full((n_groups, width), -1, dtype=np.int64)
    out[keys, rank] = np.arange(keys.size)
    return out


def _pair_tiou(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """tIoU of ``p (..., 2)`` and ``g (..., 2)`` broadcast (the evaluator's rules)."""
    inter = np.clip(np.minimum(p[..., 1], g[..., 1]) - np.maximum(p[..., 0], g[..., 0]), 0, None)
    lp, lg = p[..., 1] - p[..., 0], g[..., 1] - g[..., 0]
    union = lp + lg - inter
    out = np.zeros(np.broadcast_shapes(inter.shape, union.shape))
    np.divide(inter, union, out=out, where=(lp >= 0) & (lg >= 0) & (union > 0))
    return out


def _limit(labels: np.ndarray, rank: np.ndarray, npos: np.ndarray, factor: float | None):
    """Bool ``(N,)``: the ``factor * G_j`` best predictions of each class (all when None)."""
    if factor is None:
        return np.ones(labels.size, dtype=bool)
    return rank < np.floor(npos[labels] * factor)


def match_temporal(
    gt: TemporalGroundTruth,
    dets: TemporalDetections,
    *,
    tiou_thresholds: np.ndarray | Sequence[float] | str = PRESETS["thumos14"],
    limit_factor: float | None = None,
) -> TemporalMatches:
    """Rank and match predictions as the ActivityNet evaluator does, keeping matched indices.

    The matching is :func:`wsal.evaluation.temporal.temporal_map`'s (highest-tIoU unmatched
    ground truth) except on exact ties: here tied scores keep input order and equal tIoUs
    go to the later segment, while ``temporal_map`` follows the official evaluator's unstable
    ``argsort`` there (bit-identical mAP). Error analyses are unaffected in practice; the
    two tie rules are to become one. It is run step by step over the rank inside each
    (class, video) group, vectorized over groups and thresholds.

    Args:
        gt: ground truth (all its videos are evaluated).
        dets: predictions; labels are matched to ``gt`` by class name, others are dropped.
        tiou_thresholds: thresholds or a :func:`~wsal.evaluation.temporal.parse_thresholds` spec.
        limit_factor: keep only the ``limit_factor * G_j`` best predictions per class (DETAD).
    """
    thresholds = _check_thresholds(tiou_thresholds)
    classes, gt_cls = _evaluation_classes(gt)
    if not classes:
        raise ValueError("no ground-truth segments to analyse")
    gk = np.flatnonzero(gt_cls >= 0)
    g_vid, g_cls, g_bounds = gt.video_ids[gk], gt_cls[gk], gt.segments.bounds[gk]
    npos = np.bincount(g_cls, minlength=len(classes))
    position = {c: i for i, c in enumerate(classes)}
    lut = np.array([position.get(c, -1) for c in dets.classes] + [-1], dtype=np.int64)
    p_cls = lut[dets.segments.labels]
    keep = np.flatnonzero(p_cls >= 0)
    scores = dets.segments.scores[keep]
    if np.isnan(scores).any():
        raise ValueError("NaN detection scores cannot be ranked")
    order = keep[np.lexsort((-scores, p_cls[keep]))]
    labels, scores = p_cls[order], dets.segments.scores[order]
    rank = _rank_in_group(labels)
    lim = _limit(labels, rank, npos, limit_factor)
    order, labels, scores, rank = order[lim], labels[lim], scores[lim], rank[lim]
    vids, bounds = dets.video_ids[order], dets.segments.bounds[order]
    tp, matched = _match(thresholds, labels, vids, bounds, g_cls, g_vid, g_bounds)
    return TemporalMatches(
        classes, thresholds, vids, bounds, labels, scores, rank, tp, matched,
        g_vid, g_bounds, g_cls, npos,
    )  # fmt: skip


def _match(
    thresholds: np.ndarray,
    p_cls: np.ndarray,
    p_vid: np.ndarray,
    p_bounds: np.ndarray,
    g_cls: np.ndarray,
    g_vid: np.ndarray,
    g_bounds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(tp (K, N), matched ground-truth index (K, N))`` of ranked predictions."""
    k, n = thresholds.size, p_cls.size
    tp = np.zeros((k, n), dtype=bool)
    matched = np.full((k, n), -1, dtype=np.int64)
    vocab = np.unique(g_vid)
    n_vid = max(1, vocab.size)
    g_key = g_cls * n_vid + _codes(vocab, g_vid)
    p_code = _codes(vocab, p_vid)
    p_key = np.where(p_code >= 0, p_cls * n_vid + p_code, -1)
    groups, g_group = np.unique(g_key, return_inverse=True)
    members = _padded_members(g_group.reshape(-1), groups.size)  # (Gr, W)
    slot = np.minimum(np.searchsorted(groups, p_key), max(groups.size - 1, 0))
    has = (p_key >= 0) & (groups.size > 0) & (groups[slot] == p_key) if n else p_key >= 0
    idx = np.flatnonzero(has)
    if idx.size == 0:
        return tp, matched
    grp = slot[idx]
    cand = members[grp]  # (A, W) gt indices
    iou = np.where(cand >= 0, _pair_tiou(p_bounds[idx, None, :], g_bounds[cand]), -1.0)
    step = _rank_in_group(grp)
    locked = np.zeros((k, g_key.size + 1), dtype=bool)  # last column: padding, never free
    locked[:, -1] = True
    thr = thresholds[:, None]
    for s in range(int(step.max()) + 1):
        rows = np.flatnonzero(step == s)
        c = cand[rows]  # (R, W)
        value = np.where(locked[:, c], -1.0, iou[rows][None])  # (K, R, W)
        # the later ground truth wins exact ties (as the evaluator): argmax of the reversed row
        j = value.shape[2] - 1 - np.argmax(value[:, :, ::-1], axis=2)  # (K, R)
        best = np.take_along_axis(value, j[..., None], axis=2)[..., 0]
        hit_t, hit_r = np.nonzero((best >= thr) & (best >= 0))
        g = c[hit_r, j[hit_t, hit_r]]
        locked[hit_t, g] = True
        tp[hit_t, idx[rows[hit_r]]] = True
        matched[hit_t, idx[rows[hit_r]]] = g
    return tp, matched


# --------------------------------------------------------------------------------------------
# DETAD
# --------------------------------------------------------------------------------------------


@dataclass
class DetadResult:
    """DETAD false-positive and false-negative analysis (fractions, not percent).

    Attributes:
        thresholds: ``(K,)`` tIoU thresholds.
        classes: evaluated classes.
        types: :data:`FP_TYPES` (column order of the arrays below).
        counts: ``(K, 6)`` number of analysed predictions of each outcome per threshold.
        fractions: ``(6,)`` share of each outcome among analysed predictions, mean over
            thresholds (DETAD's "avg" column).
        profile: ``(B, 6)`` the same share inside the top-1G, 2G, ... blocks of each class.
        average_mAP: average mAP of the analysed predictions.
        map_gain: ``{error type: average-mAP gain if its predictions were removed}``.
        length_bins: ``(L+1,)`` bin edges, seconds; length_names: ``L`` names.
        gt_per_bin: ``(L,)`` ground-truth instances per bin.
        missed_per_bin: ``(L,)`` fraction of them matched by no prediction (mean over thresholds).
        missed: fraction of all ground truth missed (mean over thresholds).
        error_type: ``(K, N)`` outcome code of every analysed prediction.
    """

    thresholds: np.ndarray
    classes: list[str]
    types: tuple[str, ...]
    counts: np.ndarray
    fractions: np.ndarray
    profile: np.ndarray
    average_mAP: float
    map_gain: dict[str, float]
    length_bins: np.ndarray
    length_names: tuple[str, ...]
    gt_per_bin: np.ndarray
    missed_per_bin: np.ndarray
    missed: float
    error_type: np.ndarray

    def to_json(self) -> dict:
        """JSON-ready summary (no per-prediction arrays)."""
        return {
            "thresholds": self.thresholds.tolist(),
            "types": list(self.types),
            "counts": self.counts.tolist(),
            "fractions": dict(zip(self.types, self.fractions.tolist(), strict=True)),
            "profile": self.profile.tolist(),
            "average_mAP": self.average_mAP,
            "map_gain": dict(self.map_gain),
            "length_bins": [float(x) if np.isfinite(x) else None for x in self.length_bins],
            "length_names": list(self.length_names),
            "gt_per_bin": self.gt_per_bin.tolist(),
            "missed_per_bin": [None if np.isnan(x) else float(x) for x in self.missed_per_bin],
            "missed": self.missed,
        }


def _video_gt_table(m: TemporalMatches) -> tuple[np.ndarray, np.ndarray]:
    """``(vocab, members (V, W))``: ground-truth indices of each video, file order, -1 padded."""
    vocab, inverse = np.unique(m.gt_video_ids, return_inverse=True)
    return vocab, _padded_members(inverse.reshape(-1), vocab.size)


def _fp_types(m: TemporalMatches, min_tiou: float) -> np.ndarray:
    """``(K, N)`` int outcome codes (index into :data:`FP_TYPES`)."""
    vocab, members = _video_gt_table(m)
    code = _codes(vocab, m.video_ids)
    cand = np.where(code[:, None] >= 0, members[np.maximum(code, 0)], -1)  # (N, W)
    if cand.shape[1] == 0:
        cand = np.full((m.labels.size, 1), -1, dtype=np.int64)
    iou = np.where(cand >= 0, _pair_tiou(m.bounds[:, None, :], m.gt_bounds[cand]), -1.0)
    j = np.argmax(iou, axis=1)  # first maximum, as DETAD's argmax
    top = iou[np.arange(iou.shape[0]), j]
    same = m.gt_labels[cand[np.arange(cand.shape[0]), j]] == m.labels
    thr = m.thresholds[:, None]
    high, mid = top[None] >= thr, (top >= min_tiou)[None]
    out = np.where(high, np.where(same, 1, 2), np.where(mid, np.where(same, 3, 4), 5))
    return np.where(m.tp, 0, out).astype(np.int64)


def _profile(m: TemporalMatches, types: np.ndarray, blocks: int) -> np.ndarray:
    """``(blocks, 6)`` share of each outcome in the top-1G, 2G, ... blocks (mean over K)."""
    block = m.rank // np.maximum(m.npos[m.labels], 1)
    out = np.zeros((blocks, len(FP_TYPES)))
    for b in range(blocks):
        sel = block == b
        if sel.any():
            counts = np.stack([np.bincount(t[sel], minlength=len(FP_TYPES)) for t in types])
            out[b] = (counts / sel.sum()).mean(axis=0)
    return out


def _missed_by_length(m: TemporalMatches, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(gt per bin, missed fraction per bin)``, missed averaged over thresholds."""
    found = np.zeros((m.thresholds.size, m.gt_labels.size), dtype=bool)
    kk, nn = np.nonzero(m.matched_gt >= 0)
    found[kk, m.matched_gt[kk, nn]] = True
    length = m.gt_bounds[:, 1] - m.gt_bounds[:, 0]
    b = np.clip(np.searchsorted(edges, length, side="right") - 1, 0, edges.size - 2)
    n_bins = edges.size - 1
    per_bin = np.bincount(b, minlength=n_bins)
    miss = np.stack(
        [np.bincount(b, weights=(~f).astype(np.float64), minlength=n_bins) for f in found]
    )
    frac = np.divide(miss.mean(axis=0), per_bin, out=np.full(n_bins, np.nan), where=per_bin > 0)
    return per_bin, frac


def detad_analysis(
    gt: TemporalGroundTruth,
    dets: TemporalDetections,
    *,
    tiou_thresholds: np.ndarray | Sequence[float] | str = (0.5,),
    limit_factor: int = 10,
    min_tiou: float = 0.1,
    length_bins: tuple[np.ndarray, Sequence[str]] = THUMOS14_LENGTH_BINS,
    normalized: bool = False,
) -> DetadResult:
    """DETAD false-positive profile, average-mAP gains and missed instances by length.

    Args:
        gt: ground truth of the analysed videos.
        dets: predictions (labels matched to ``gt`` by class name).
        tiou_thresholds: DETAD uses 0.5 for THUMOS14 and 0.5:0.05:0.95 for ActivityNet.
        limit_factor: analyse the ``limit_factor * G_j`` best predictions of each class (>= 1).
        min_tiou: below this tIoU with every segment a false positive is background.
        length_bins: ``(edges (L+1,), names (L,))`` seconds; see the module constants.
        normalized: DETAD's normalized AP (the paper's ``mAP_N``) instead of plain AP.

    Returns:
        :class:`DetadResult`; see the module docstring for the definitions.
    """
    if limit_factor < 1:
        raise ValueError(f"limit_factor must be >= 1, got {limit_factor}")
    m = match_temporal(gt, dets, tiou_thresholds=tiou_thresholds, limit_factor=limit_factor)
    types = _fp_types(m, min_tiou)
    counts = np.stack([np.bincount(t, minlength=len(FP_TYPES)) for t in types])
    fractions = (counts / max(1, len(m))).mean(axis=0)
    base = float(m.class_ap(normalized=normalized).mean())
    gain = {
        name: float(m.class_ap(types != code, normalized=normalized).mean()) - base
        for code, name in enumerate(FP_TYPES)
        if code
    }
    edges, names = np.asarray(length_bins[0], dtype=np.float64), tuple(length_bins[1])
    if edges.size != len(names) + 1:
        raise ValueError("length_bins: need one more edge than names")
    per_bin, missed_bin = _missed_by_length(m, edges)
    missed = 1.0 - float((m.matched_gt >= 0).sum(axis=1).mean()) / max(1, m.gt_labels.size)
    return DetadResult(
        m.thresholds, m.classes, FP_TYPES, counts, fractions,
        _profile(m, types, int(limit_factor)), base, gain, edges, names,
        per_bin, missed_bin, missed, types,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# ACT-style tube breakdown
# --------------------------------------------------------------------------------------------


@dataclass
class TubeErrorResult:
    """Outcome of every detected tube after 3D-NMS and the missed ground truth.

    Attributes:
        iou_threshold: the tube-IoU threshold ``t``.
        types: :data:`TUBE_ERROR_TYPES`.
        counts: ``(5,)`` detections of each outcome.
        fractions: ``(5,)`` ``counts / detections``.
        missed: ground-truth tubes matched by no detection; num_gt: all ground-truth tubes.
        per_video: ``{video: (D,) outcome codes}`` of the kept detections, in NMS order.
    """

    iou_threshold: float
    types: tuple[str, ...]
    counts: np.ndarray
    fractions: np.ndarray
    missed: int
    num_gt: int
    per_video: dict[str, np.ndarray]

    @property
    def missed_fraction(self) -> float:
        """Share of ground-truth tubes missed (0 when there are none)."""
        return self.missed / self.num_gt if self.num_gt else 0.0

    def to_json(self) -> dict:
        """JSON-ready summary."""
        return {
            "iou_threshold": self.iou_threshold,
            "counts": dict(zip(self.types, self.counts.tolist(), strict=True)),
            "fractions": dict(zip(self.types, self.fractions.tolist(), strict=True)),
            "missed": self.missed,
            "num_gt": self.num_gt,
            "missed_fraction": self.missed_fraction,
        }


def _temporal_iou_frames(a: Sequence[Tube], b: Sequence[Tube]) -> np.ndarray:
    """``(len(a), len(b))`` temporal IoU over frames (inclusive frame ranges)."""
    fa = np.array([[t.first_frame, t.last_frame] for t in a], dtype=np.float64).reshape(-1, 2)
    fb = np.array([[t.first_frame, t.last_frame] for t in b], dtype=np.float64).reshape(-1, 2)
    inter = np.minimum(fa[:, None, 1], fb[None, :, 1]) - np.maximum(fa[:, None, 0], fb[None, :, 0])
    union = np.maximum(fa[:, None, 1], fb[None, :, 1]) - np.minimum(fa[:, None, 0], fb[None, :, 0])
    return np.clip(inter + 1, 0, None) / (union + 1)


def _tube_outcomes(
    det: list[Tube], labels: np.ndarray, gt: list[Tube], gt_labels: np.ndarray, t: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(codes (D,), matched gt (G,) bool)`` for the kept detections of one video (NMS order)."""
    d, g = len(det), len(gt)
    codes = np.full(d, 4, dtype=np.int64)
    found = np.zeros(g, dtype=bool)
    if d == 0 or g == 0:
        return codes, found
    iou, tiou = tube_iou_pairwise(det, gt), _temporal_iou_frames(det, gt)
    same = labels[:, None] == gt_labels[None, :]
    tp = np.zeros(d, dtype=bool)
    scores = np.array([x.score for x in det])
    for c in np.unique(labels):
        rows, cols = np.flatnonzero(labels == c), np.flatnonzero(gt_labels == c)
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        hit, taken = _greedy_tubes(iou[np.ix_(rows, cols)], t)
        tp[rows[hit]] = True
        found[cols[taken]] = True
    spatial = np.divide(iou, tiou, out=np.zeros_like(iou), where=tiou > 0)
    same_iou = np.where(same, iou, -1.0)
    best = np.argmax(same_iou, axis=1)
    r = np.arange(d)
    dup = same_iou[r, best] >= t
    cls_err = (np.where(~same, iou, -1.0) >= t).any(axis=1)
    overlap = same[r, best] & (tiou[r, best] > 0) & (spatial[r, best] > 0)
    timing = overlap & (spatial[r, best] >= t)
    codes = np.select([tp, dup, cls_err, timing, overlap], [0, 4, 1, 2, 3], default=4).astype(
        np.int64
    )
    return codes, found


def _greedy_tubes(iou: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """ACT matching in one (video, label): rows (best first) take the free column of highest
    IoU (first on ties) if it reaches ``t``. Returns ``(row is TP (D,), column taken (G,))``;
    sequential by definition, one step per detection."""
    hit = np.zeros(iou.shape[0], dtype=bool)
    free = np.ones(iou.shape[1], dtype=bool)
    for i, row in enumerate(iou):
        if not free.any():
            break
        cand = np.where(free, row, -np.inf)
        j = int(np.argmax(cand))
        if cand[j] >= t:
            free[j], hit[i] = False, True
    return hit, ~free


def _nms_per_label(tubes: list[Tube], labels: np.ndarray, threshold: float | None) -> np.ndarray:
    """Indices of the tubes kept by 3D-NMS per label (all when None), by descending score."""
    scores = np.array([x.score for x in tubes], dtype=np.float64)
    if threshold is None or not tubes:
        return np.argsort(-scores, kind="stable")
    kept = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        kept.append(idx[nms_3d([tubes[i] for i in idx], scores[idx], threshold)])
    kept_all = np.concatenate(kept)
    return kept_all[np.argsort(-scores[kept_all], kind="stable")]


def tube_error_breakdown(
    gt: _TubeGT,
    dets: TubeDetections,
    *,
    iou_threshold: float = 0.5,
    nms_threshold: float | None = 0.3,
) -> TubeErrorResult:
    """ACT-style breakdown of detected tubes (see the module docstring).

    Args:
        gt: ground-truth tubes; its videos are the analysed videos.
        dets: detected tubes, labels matched to ``gt.labels`` by name (others ignored).
        iou_threshold: tube-IoU threshold of a correct detection.
        nms_threshold: 3D-NMS per video and label before the analysis (ACT: 0.3); None: off.
    """
    label_map = _label_map(dets.labels, gt.labels)
    counts = np.zeros(len(TUBE_ERROR_TYPES), dtype=np.int64)
    missed = num_gt = 0
    per_video: dict[str, np.ndarray] = {}
    for vid in gt.videos:
        g_tubes = list(gt.tubes.get(vid, []))
        g_labels = np.array([x.label for x in g_tubes], dtype=np.int64)
        raw = [x for x in dets.tubes.get(vid, []) if 0 <= x.label < len(label_map)]
        raw = [x for x in raw if label_map[x.label] >= 0]
        labels = np.array([label_map[x.label] for x in raw], dtype=np.int64)
        kept = _nms_per_label(raw, labels, nms_threshold)
        kept_tubes = [raw[i] for i in kept]
        codes, found = _tube_outcomes(kept_tubes, labels[kept], g_tubes, g_labels, iou_threshold)
        per_video[vid] = codes
        counts += np.bincount(codes, minlength=len(TUBE_ERROR_TYPES))
        missed += int((~found).sum())
        num_gt += len(g_tubes)
    frac = counts / max(1, counts.sum())
    return TubeErrorResult(
        float(iou_threshold), TUBE_ERROR_TYPES, counts, frac, missed, num_gt, per_video
    )
