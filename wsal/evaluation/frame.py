"""AVA-identical Frame-mAP: per-class AP of person-box action detections at keyframes.

Reproduces ``Evaluation/get_ava_performance.py`` of ``activitynet/ActivityNet`` (the 2019
version with excluded timestamps, ``protocol="ava2019"``, and the 2020 HEAD version,
``protocol="ava2020"``) together with its ``object_detection_evaluation`` backend:

1. classes are the ids of the label map; rows with other action ids are dropped;
2. a keyframe is ``(video_id, int(timestamp))``;
3. ``ava2019``: keyframes of ``excluded`` lose their GT and detection rows, and detections on
   keyframes without (label-map) GT rows count as false positives; ``ava2020``: no
   exclusions, and detections on keyframes absent from the GT (rows of any action id) are
   ignored;
4. per keyframe only the ``max_dets_per_keyframe`` (50) highest-scoring label-map detection
   rows are kept, counted before invalid boxes are removed;
5. detection boxes with ``x2 <= x1`` or ``y2 <= y1`` are removed (so are NaN coordinates,
   whose comparisons fail; an infinite but ordered box stays and overlaps nothing);
6. boxes are not clipped; IoU = inter / (area1 + area2 - inter) with area = w * h;
7. per keyframe and class, detections in descending score are compared with the GT box of
   maximum IoU only: TP if that IoU >= ``iou_threshold`` and that box is still unmatched,
   otherwise FP (no fallback to the second-best box); each GT row is one positive;
8. per class, detections of all keyframes are ranked by score; AP is the VOC all-point
   interpolated AP; a class with GT but no detections has AP 0, a class without GT NaN;
   mAP is the mean over non-NaN classes.

Everything is vectorized: keyframes are grouped by sorting, (detection, GT) pairs of the same
keyframe and class are formed by a sparse join, and the sequential "already matched" rule
reduces to "the first candidate (in score order) pointing at a GT box wins", because a
detection never falls back to another box.

Ties (equal scores) are broken by input row order everywhere: in the 50-per-keyframe cap, in
the matching order and in the per-class ranking (the official code leaves them to heap order
and an unstable ``argsort``). Among GT boxes with exactly equal IoU the first in the official
order (descending ``person_id``, then input order) is chosen.

Input checks beyond the official code: NaN detection scores and non-finite or reversed GT
boxes (x2 < x1 or y2 < y1; the official ``BoxList`` raises on reversed GT) raise ValueError.

This module imports only numpy, :mod:`wsal.structures` and :mod:`wsal.evaluation.ap`;
:func:`evaluate_frame_files` imports the AVA readers lazily.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsal.evaluation.ap import precision_recall, voc_ap
from wsal.structures import Boxes, KeyframeDetections, KeyframeGroundTruth

__all__ = ["FrameMAPResult", "FrameEvaluator", "frame_map", "evaluate_frame_files", "PROTOCOLS"]

PROTOCOLS = ("ava2019", "ava2020")
"""Supported versions of the official evaluator (see the module docstring)."""

_HASH_MULT = np.uint64(0x100000001B3)  # FNV-style multiplier for hashing fixed-width ids


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class FrameMAPResult:
    """Frame-mAP of one detection set.

    Attributes:
        class_ids: ``(C,)`` int64 AVA action ids, label-map order.
        class_names: ``C`` names.
        ap: ``(C,)`` float64 AP per class as a fraction; NaN for classes without GT.
        mAP: mean of the non-NaN APs (NaN if every class lacks GT).
        iou_threshold: box IoU needed for a true positive.
        protocol: ``"ava2019"`` or ``"ava2020"``.
        num_gt: ``(C,)`` int64 GT rows (positives) per class after exclusions.
        num_dets: ``(C,)`` int64 detections ranked per class (after cap and filtering).
    """

    class_ids: np.ndarray
    class_names: list[str]
    ap: np.ndarray
    mAP: float
    iou_threshold: float
    protocol: str
    num_gt: np.ndarray | None = None
    num_dets: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        self.ap = np.asarray(self.ap, dtype=np.float64).reshape(-1)
        c = self.class_ids.shape[0]
        self.num_gt = (
            np.zeros(c, np.int64) if self.num_gt is None else np.asarray(self.num_gt, np.int64)
        )
        self.num_dets = (
            np.zeros(c, np.int64) if self.num_dets is None else np.asarray(self.num_dets, np.int64)
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"mAP": {"0.50": v}, "average_mAP": v, "per_class": {...}}``.

        Values are fractions; NaN becomes ``None``. The threshold key is formatted like the
        temporal evaluator's (``f"{t:.2f}"``, more decimals only when needed: ``"0.50"``,
        ``"0.125"``), so reports of both task families read the same way.
        """
        value = _json_float(self.mAP)
        per_class = {
            str(int(cid)): {"name": name, "ap": _json_float(ap)}
            for cid, name, ap in zip(
                self.class_ids.tolist(), self.class_names, self.ap.tolist(), strict=True
            )
        }
        return {
            "mAP": {_threshold_key(self.iou_threshold): value},
            "average_mAP": value,
            "per_class": per_class,
        }

    def format_table(self) -> str:
        """Readable per-class table (AP in percent) ending with the mAP line."""
        width = max([len(n) for n in self.class_names] + [4])
        lines = [f"Frame-mAP@{self.iou_threshold:.2f} IoU ({self.protocol})"]
        lines.append(f"{'id':>4}  {'name':<{width}}  {'AP %':>7}  {'#gt':>7}  {'#det':>8}")
        rows = zip(
            self.class_ids.tolist(),
            self.class_names,
            self.ap.tolist(),
            self.num_gt,
            self.num_dets,
            strict=True,
        )
        for cid, name, ap, n_gt, n_det in rows:
            ap_text = "    n/a" if math.isnan(ap) else f"{100 * ap:7.2f}"
            lines.append(f"{cid:>4}  {name:<{width}}  {ap_text}  {int(n_gt):>7}  {int(n_det):>8}")
        m = "n/a" if math.isnan(self.mAP) else f"{100 * self.mAP:.2f}"
        lines.append(f"mAP: {m} % over {int(np.sum(~np.isnan(self.ap)))} classes with ground truth")
        return "\n".join(lines)


def _threshold_key(t: float) -> str:
    """JSON key of a threshold, as in the temporal evaluator: the shortest of 2..6 decimals
    equal to ``t`` within 1e-9 (``0.5`` -> ``"0.50"``, ``0.125`` -> ``"0.125"``)."""
    for digits in range(2, 7):
        text = f"{t:.{digits}f}"
        if abs(float(text) - t) < 1e-9:
            return text
    return repr(float(t))


def _json_float(x: float) -> float | None:
    """Python float, or None for NaN (JSON has no NaN)."""
    return None if math.isnan(x) else float(x)


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def frame_map(
    gt: KeyframeGroundTruth,
    dets: KeyframeDetections,
    labelmap: Mapping[int, str] | Any,
    *,
    excluded: Iterable[tuple[str, int]] | None = None,
    protocol: str = "ava2019",
    iou_threshold: float = 0.5,
    max_dets_per_keyframe: int = 50,
) -> FrameMAPResult:
    """Frame-mAP of ``dets`` against ``gt``, identical to the official AVA evaluator.

    Args:
        gt: ground-truth rows (one per person box and action); boxes ``(N, 4)`` x1y1x2y2
            normalized.
        dets: detection rows (one per box and action) with scores.
        labelmap: ``{id: name}`` or an object with ``ids`` and ``names`` (a ``LabelMap``);
            only these classes are evaluated.
        excluded: ``(video_id, timestamp)`` keyframes to ignore (``ava2019`` only).
        protocol: ``"ava2019"`` (default, the published numbers) or ``"ava2020"``.
        iou_threshold: IoU needed for a true positive (0.5 in AVA).
        max_dets_per_keyframe: detection rows kept per keyframe (50 in AVA; <= 0: no cap).

    Returns:
        A :class:`FrameMAPResult`.

    Raises:
        ValueError: unknown protocol, exclusions with ``ava2020``, an empty label map, NaN
            detection scores, or non-finite/reversed GT boxes.
    """
    class_ids, class_names = _class_table(labelmap)
    _check_options(protocol, excluded, iou_threshold)
    ex_videos, ex_stamps = _pairs_to_arrays(excluded)
    gt_kf, det_kf, ex_kf = _keyframe_codes(
        (gt.video_ids, dets.video_ids, ex_videos), (gt.timestamps, dets.timestamps, ex_stamps)
    )
    num_classes = class_ids.shape[0]
    gt_cls = _class_index(gt.labels, class_ids)
    det_cls = _class_index(dets.labels, class_ids)
    gt_rows = _select_gt(gt, gt_cls, gt_kf, ex_kf)
    keyframe_ok = _detection_keyframe_filter(protocol, gt_kf, ex_kf)
    det_rows, det_rank, n_rank = _select_dets(
        dets, det_cls, det_kf, keyframe_ok, max_dets_per_keyframe
    )
    det_rows, det_rank, tp = _match(
        gt,
        gt_rows,
        gt_kf * num_classes + gt_cls,
        dets,
        det_rows,
        det_rank,
        n_rank,
        det_kf * num_classes + det_cls,
        iou_threshold,
    )
    num_gt = np.bincount(gt_cls[gt_rows], minlength=num_classes).astype(np.int64)
    ap, num_dets = _class_aps(det_cls[det_rows], det_rank, n_rank, tp, num_gt)
    mean = float(np.mean(ap[~np.isnan(ap)])) if np.any(~np.isnan(ap)) else float("nan")
    return FrameMAPResult(
        class_ids=class_ids,
        class_names=class_names,
        ap=ap,
        mAP=mean,
        iou_threshold=float(iou_threshold),
        protocol=protocol,
        num_gt=num_gt,
        num_dets=num_dets,
    )


class FrameEvaluator:
    """Streaming Frame-mAP: ``reset()``, ``process(chunk)`` per predictor batch, ``evaluate()``.

    Why: predictors emit detections batch by batch; the 50-per-keyframe cap needs every row of
    a keyframe, so chunks are kept (label-map rows only) and evaluated at the end. The result
    equals :func:`frame_map` on the concatenated chunks.
    """

    def __init__(
        self,
        gt: KeyframeGroundTruth,
        labelmap: Mapping[int, str] | Any,
        *,
        excluded: Iterable[tuple[str, int]] | None = None,
        protocol: str = "ava2019",
        iou_threshold: float = 0.5,
        max_dets_per_keyframe: int = 50,
    ) -> None:
        self.gt = gt
        self.labelmap = labelmap
        self.excluded = None if excluded is None else set(excluded)
        self.protocol = protocol
        self.iou_threshold = iou_threshold
        self.max_dets_per_keyframe = max_dets_per_keyframe
        self._class_ids, _ = _class_table(labelmap)
        _check_options(protocol, self.excluded, iou_threshold)
        self._chunks: list[KeyframeDetections] = []

    def reset(self) -> None:
        """Forget every processed chunk."""
        self._chunks = []

    def process(self, dets: KeyframeDetections) -> None:
        """Add a chunk of detections (rows of classes outside the label map are dropped now)."""
        keep = _class_index(dets.labels, self._class_ids) >= 0
        self._chunks.append(dets if keep.all() else dets[np.flatnonzero(keep)])

    def evaluate(self) -> FrameMAPResult:
        """Frame-mAP of everything processed since the last :meth:`reset`."""
        return frame_map(
            self.gt,
            _concat_detections(self._chunks),
            self.labelmap,
            excluded=self.excluded,
            protocol=self.protocol,
            iou_threshold=self.iou_threshold,
            max_dets_per_keyframe=self.max_dets_per_keyframe,
        )


def evaluate_frame_files(
    gt_path: str | Path,
    det_path: str | Path,
    labelmap_path: str | Path,
    *,
    exclusions_path: str | Path | None = None,
    protocol: str = "ava2019",
) -> FrameMAPResult:
    """Frame-mAP from files, like ``get_ava_performance.py -l -g -d [-e]``.

    Reads the label map (``.pbtxt``), the GT and detection CSVs and, for ``ava2019``, the
    optional excluded-timestamps CSV with :mod:`wsal.io.ava` (imported here only).
    """
    from wsal.io.ava import (
        read_ava_detections,
        read_ava_gt,
        read_excluded_timestamps,
        read_labelmap,
    )

    excluded = None if exclusions_path is None else read_excluded_timestamps(exclusions_path)
    return frame_map(
        read_ava_gt(gt_path),
        read_ava_detections(det_path),
        read_labelmap(labelmap_path),
        excluded=excluded,
        protocol=protocol,
    )


# --------------------------------------------------------------------------------------------
# Argument handling
# --------------------------------------------------------------------------------------------


def _class_table(labelmap: Mapping[int, str] | Any) -> tuple[np.ndarray, list[str]]:
    """``(class_ids (C,) int64, names)`` from ``{id: name}`` or an object with ids/names."""
    if isinstance(labelmap, Mapping):
        ids = [int(k) for k in labelmap]
        names = [str(labelmap[k]) for k in labelmap]
    elif hasattr(labelmap, "ids") and hasattr(labelmap, "names"):
        ids = [int(k) for k in labelmap.ids]
        names = [str(labelmap.names[k]) for k in labelmap.ids]
    else:
        raise TypeError("labelmap must be {id: name} or have 'ids' and 'names' (a LabelMap)")
    if not ids:
        raise ValueError("the label map is empty: no class to evaluate")
    if len(set(ids)) != len(ids):
        raise ValueError("the label map lists a class id twice")
    return np.asarray(ids, dtype=np.int64), names


def _check_options(protocol: str, excluded: Any, iou_threshold: float) -> None:
    """Validate protocol, exclusions and threshold."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if protocol == "ava2020" and excluded:
        raise ValueError("protocol 'ava2020' has no excluded timestamps (use 'ava2019')")
    if not (0.0 <= float(iou_threshold) <= 1.0):
        raise ValueError(f"iou_threshold must lie in [0, 1], got {iou_threshold}")


def _pairs_to_arrays(pairs: Iterable[tuple[str, int]] | None) -> tuple[np.ndarray, np.ndarray]:
    """``{(video, ts)}`` -> ``(video_ids (E,) str, timestamps (E,) int64)``."""
    items = [] if pairs is None else list(pairs)
    videos = np.asarray([str(v) for v, _ in items], dtype=str)
    stamps = np.asarray([int(t) for _, t in items], dtype=np.int64)
    return videos, stamps


def _class_index(labels: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """``(N,)`` index of each action id in ``class_ids``; -1 for ids outside the label map."""
    order = np.argsort(class_ids, kind="stable")
    sorted_ids = class_ids[order]
    pos = np.clip(np.searchsorted(sorted_ids, labels), 0, sorted_ids.shape[0] - 1)
    return np.where(sorted_ids[pos] == labels, order[pos], -1).astype(np.int64)


def _concat_detections(parts: list[KeyframeDetections]) -> KeyframeDetections:
    """Concatenate detection chunks (``KeyframeDetections`` has no ``cat``)."""
    if not parts:
        return KeyframeDetections(
            np.zeros(0, dtype=str),
            np.zeros(0, np.int64),
            np.zeros((0, 4)),
            np.zeros(0, np.int64),
            np.zeros(0),
        )
    return KeyframeDetections(
        np.concatenate([p.video_ids for p in parts]),
        np.concatenate([p.timestamps for p in parts]),
        Boxes(np.concatenate([p.boxes.xyxy for p in parts])),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.scores for p in parts]),
    )


# --------------------------------------------------------------------------------------------
# Keyframe grouping
# --------------------------------------------------------------------------------------------


def _factorize_strings(values: np.ndarray) -> np.ndarray:
    """Dense int64 codes of a 1-D str array (equal strings, equal codes).

    Hashes the fixed-width code points column by column (a few vector passes instead of a
    string sort), then verifies that every hash bucket holds one string; on a collision it
    falls back to ``np.unique`` on the strings.
    """
    values = np.ascontiguousarray(values, dtype=str)
    n = values.shape[0]
    if n == 0 or values.dtype.itemsize == 0:
        return np.zeros(n, dtype=np.int64)
    points = values.view(np.uint32).reshape(n, -1)
    h = np.zeros(n, dtype=np.uint64)
    for c in range(points.shape[1]):
        h *= _HASH_MULT
        h += points[:, c]
    uniq, codes = np.unique(h, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    representative = np.empty(uniq.shape[0], dtype=np.int64)
    representative[codes] = np.arange(n)
    if (values[representative][codes] == values).all():
        return codes
    return np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _keyframe_codes(
    video_parts: tuple[np.ndarray, ...], stamp_parts: tuple[np.ndarray, ...]
) -> list[np.ndarray]:
    """Dense keyframe codes shared by several (video_ids, timestamps) row sets."""
    sizes = [p.shape[0] for p in video_parts]
    videos = _factorize_strings(np.concatenate([np.asarray(p, dtype=str) for p in video_parts]))
    stamps = np.concatenate([np.asarray(p, dtype=np.int64) for p in stamp_parts])
    if stamps.shape[0] == 0:
        return [np.zeros(0, np.int64) for _ in sizes]
    lo, hi = int(stamps.min()), int(stamps.max())
    span = hi - lo + 1
    if span * (int(videos.max()) + 1) < 2**62:
        key = videos * span + (stamps - lo)
        codes = np.unique(key, return_inverse=True)[1]
    else:  # astronomically spread timestamps: sort the pairs instead
        codes = np.unique(np.stack([videos, stamps], axis=1), axis=0, return_inverse=True)[1]
    codes = codes.reshape(-1).astype(np.int64)
    return np.split(codes, np.cumsum(sizes)[:-1])


def _order_by(
    primary: np.ndarray, secondary: np.ndarray, n_secondary: int, *, stable: bool = False
) -> np.ndarray:
    """Permutation sorting rows by ``(primary, secondary)`` (both ``(N,)`` non-negative ints).

    One argsort of the composite key ``primary * n_secondary + secondary`` (much faster than
    ``np.lexsort``); ``stable=True`` keeps input order among equal pairs.
    """
    if primary.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    width = max(int(n_secondary), 1)
    if (int(primary.max()) + 1) * width < 2**62:
        key = primary.astype(np.int64) * width + secondary
        return np.argsort(key, kind="stable" if stable else None)
    return np.lexsort((secondary, primary))


def _rank_within_groups(sorted_keys: np.ndarray) -> np.ndarray:
    """``(N,)`` 0-based position of each row inside its run of equal ``sorted_keys``."""
    n = sorted_keys.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))


# --------------------------------------------------------------------------------------------
# Row selection
# --------------------------------------------------------------------------------------------


def _select_gt(
    gt: KeyframeGroundTruth, gt_cls: np.ndarray, gt_kf: np.ndarray, ex_kf: np.ndarray
) -> np.ndarray:
    """Indices of the GT rows that count: label-map class, keyframe not excluded; boxes checked."""
    rows = np.flatnonzero((gt_cls >= 0) & ~np.isin(gt_kf, ex_kf))
    xyxy = gt.boxes.xyxy[rows]
    bad = ~np.isfinite(xyxy).all(axis=1) | (xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1])
    if bad.any():
        i = int(rows[np.argmax(bad)])
        raise ValueError(
            f"ground-truth row {i} ({gt.video_ids[i]},{gt.timestamps[i]}) has an invalid box "
            f"{gt.boxes.xyxy[i].tolist()} (need finite x1 <= x2, y1 <= y2)"
        )
    return rows


def _detection_keyframe_filter(
    protocol: str, gt_kf: np.ndarray, ex_kf: np.ndarray
) -> tuple[np.ndarray, bool]:
    """(keyframe codes, keep_if_member): the keyframes whose detections are evaluated.

    ``ava2019`` drops excluded keyframes; ``ava2020`` keeps only keyframes of the GT (rows of
    any action id).
    """
    if protocol == "ava2019":
        return ex_kf, False
    return gt_kf, True


def _select_dets(
    dets: KeyframeDetections,
    det_cls: np.ndarray,
    det_kf: np.ndarray,
    keyframe_ok: tuple[np.ndarray, bool],
    cap: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Detection rows that are evaluated, sorted by (keyframe, -score, row).

    Order of the official reader: label-map rows only, top ``cap`` per keyframe by score, then
    keyframe filter (exclusions / GT membership), then invalid boxes removed.

    Returns:
        ``(rows (D,), rank (D,), n_rank)``: ``rank`` orders all label-map rows by descending
        score, ties by row (unique values below ``n_rank``), so later sorts use integer keys.
    """
    rows = np.flatnonzero(det_cls >= 0)
    scores = dets.scores[rows]
    if np.isnan(scores).any():
        i = int(rows[np.argmax(np.isnan(scores))])
        raise ValueError(f"detection row {i} has a NaN score; scores must be numbers")
    n_rank = rows.shape[0]
    rank = np.empty(n_rank, dtype=np.int64)
    rank[np.argsort(-scores, kind="stable")] = np.arange(n_rank)
    order = _order_by(det_kf[rows], rank, n_rank)
    rows, rank = rows[order], rank[order]
    keep = np.ones(rows.shape[0], dtype=bool)
    if cap > 0:
        keep &= _rank_within_groups(det_kf[rows]) < cap
    codes, keep_members = keyframe_ok
    keep &= np.isin(det_kf[rows], codes) == keep_members
    xyxy = dets.boxes.xyxy[rows]
    keep &= (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])  # False for NaN, as official
    return rows[keep], rank[keep], n_rank


# --------------------------------------------------------------------------------------------
# Matching and AP
# --------------------------------------------------------------------------------------------


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of ``a (P, 4)`` and ``b (P, 4)`` x1y1x2y2 boxes, continuous convention.

    Same operations and order as the official ``np_box_ops.iou`` (bit-identical values).
    ``a`` rows have positive area, so the union is positive (an infinite ``a`` box gives
    inter / inf = 0, as in the official code).
    """
    iw = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0)
    ih = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0)
    inter = ih * iw
    area_a = (a[:, 3] - a[:, 1]) * (a[:, 2] - a[:, 0])
    area_b = (b[:, 3] - b[:, 1]) * (b[:, 2] - b[:, 0])
    return inter / (area_a + area_b - inter)


def _match(
    gt: KeyframeGroundTruth,
    gt_rows: np.ndarray,
    gt_group: np.ndarray,
    dets: KeyframeDetections,
    det_rows: np.ndarray,
    det_rank: np.ndarray,
    n_rank: int,
    det_group: np.ndarray,
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP flags of ``det_rows`` (AVA greedy matching, no fallback), vectorized.

    Groups are ``keyframe * C + class``; ``det_rank`` is the score rank of each row (see
    :func:`_select_dets`). Returns ``(rows, rank, tp)``: the detection rows in
    (group, -score, row) order, their ranks and ``(D,)`` bool TP flags.
    """
    # GT of each group, in the official order (descending person_id, then row).
    pid_codes = np.unique(gt.person_ids[gt_rows], return_inverse=True)[1].reshape(-1)
    descending = (pid_codes.max(initial=0) - pid_codes).astype(np.int64)
    g_order = _order_by(
        gt_group[gt_rows], descending, int(descending.max(initial=0)) + 1, stable=True
    )
    gt_sorted = gt_rows[g_order]
    gt_boxes = gt.boxes.xyxy[gt_sorted]
    groups, g_start, g_count = np.unique(gt_group[gt_sorted], return_index=True, return_counts=True)
    # Detections grouped, (-score, row) order inside a group.
    d_order = _order_by(det_group[det_rows], det_rank, n_rank)
    rows, rank = det_rows[d_order], det_rank[d_order]
    d_group = det_group[rows]
    n = rows.shape[0]
    pos = np.clip(np.searchsorted(groups, d_group), 0, max(groups.shape[0] - 1, 0))
    has_gt = (groups[pos] == d_group) if groups.shape[0] else np.zeros(n, dtype=bool)
    count = np.where(has_gt, g_count[pos] if groups.shape[0] else 0, 0)
    # Sparse join: one pair per (detection, GT box of its keyframe and class).
    offsets = np.cumsum(count) - count
    pair_det = np.repeat(np.arange(n), count)
    pair_gt = np.repeat(g_start[pos] if groups.shape[0] else count, count)
    pair_gt += np.arange(pair_det.shape[0]) - np.repeat(offsets, count)
    iou = _paired_iou(dets.boxes.xyxy[rows][pair_det], gt_boxes[pair_gt])
    # Best GT per detection: maximum IoU, first such box in GT order.
    with_gt = np.flatnonzero(count > 0)
    best_iou = np.full(n, -np.inf)
    best_gt = np.full(n, -1, dtype=np.int64)
    if with_gt.shape[0]:
        best_iou[with_gt] = np.maximum.reduceat(iou, offsets[with_gt])
        pair_index = np.where(iou == best_iou[pair_det], np.arange(iou.shape[0]), iou.shape[0])
        best_gt[with_gt] = pair_gt[np.minimum.reduceat(pair_index, offsets[with_gt])]
    # A box goes to the first candidate (in score order) whose best box it is.
    candidates = np.flatnonzero(best_iou >= iou_threshold)
    _, first = np.unique(best_gt[candidates], return_index=True)
    tp = np.zeros(n, dtype=bool)
    tp[candidates[first]] = True
    return rows, rank, tp


def _class_aps(
    cls: np.ndarray, rank: np.ndarray, n_rank: int, tp: np.ndarray, num_gt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class VOC AP of ranked TP flags: ``(ap (C,), num_dets (C,))``.

    Detections are ranked per class by ``rank`` (descending score, ties by input row).
    """
    num_classes = num_gt.shape[0]
    order = _order_by(cls, rank, n_rank)
    tp_ranked = tp[order]
    bounds = np.searchsorted(cls[order], np.arange(num_classes + 1))
    ap = np.full(num_classes, np.nan)
    for c in np.flatnonzero(num_gt > 0).tolist():  # a loop over classes, not rows
        flags = tp_ranked[bounds[c] : bounds[c + 1]]
        if flags.shape[0] == 0:
            ap[c] = 0.0
            continue
        precision, recall = precision_recall(flags, int(num_gt[c]))
        ap[c] = float(voc_ap(precision, recall))
    return ap, np.diff(bounds).astype(np.int64)
