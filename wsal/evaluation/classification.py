"""Video-level classification mAP (the "cmAP" reported by W-TALC-family WTAL papers).

Per-class AP is the non-interpolated average precision: rank the videos by decreasing score
and average the precision measured at each positive video,
``AP = (1 / P) * sum_{positives i} precision@rank(i)``. Tied scores form one threshold: every
positive of a tie block gets the precision at the end of the block, so the value does not
depend on tie order. This equals ``sklearn.metrics.average_precision_score`` always, and the
W-TALC ``getAP`` (which ranks ties in sort order) whenever scores have no ties.
A class without positive videos has AP NaN and is left out of the mean (``nanmean``).
Depends on numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClassificationMAPResult", "classification_map"]


@dataclass
class ClassificationMAPResult:
    """Per-class and mean average precision of video-level class scores.

    Attributes:
        classes: the ``C`` class names.
        ap: ``(C,)`` AP per class, fractions; NaN for classes without positives.
        mAP: mean of the non-NaN entries of ``ap`` (NaN when all are NaN).
    """

    classes: list[str]
    ap: np.ndarray
    mAP: float

    def to_json(self) -> dict:
        """``{"mAP": value, "per_class": {class: ap}}`` with fractions; NaN becomes ``None``
        (JSON has no NaN)."""
        return {
            "mAP": _json_float(self.mAP),
            "per_class": {
                c: _json_float(a) for c, a in zip(self.classes, self.ap.tolist(), strict=True)
            },
        }


def _json_float(x: float) -> float | None:
    """``x`` as a float, ``None`` when NaN."""
    return None if math.isnan(x) else float(x)


def classification_map(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
) -> ClassificationMAPResult:
    """Classification mAP of video scores against multi-hot video labels (see module doc).

    Args:
        scores: ``(V, C)`` class scores of each video (any monotone scale; no NaN).
        labels: ``(V, C)`` multi-hot ground truth (0/1 or bool).
        class_names: ``C`` names; default ``"0"``, ``"1"``, ...

    Returns:
        :class:`ClassificationMAPResult`.

    Raises:
        ValueError: mismatched or non-2-D shapes, NaN scores, labels other than 0/1, or a
            wrong number of class names.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} must both be (V, C)")
    if np.isnan(s).any():
        raise ValueError("NaN scores cannot be ranked")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be multi-hot (0/1)")
    names = [str(i) for i in range(s.shape[1])] if class_names is None else list(class_names)
    if len(names) != s.shape[1]:
        raise ValueError(f"{len(names)} class names for {s.shape[1]} classes")
    ap = _average_precision_columns(s, y.astype(bool))
    valid = ~np.isnan(ap)
    m_ap = float(ap[valid].mean()) if valid.any() else float("nan")
    return ClassificationMAPResult(names, ap, m_ap)


def _average_precision_columns(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """``(C,)`` tie-aware non-interpolated AP of each column of ``scores (V, C)``."""
    n_videos, n_classes = scores.shape
    npos = positive.sum(axis=0)
    if n_videos == 0:
        return np.full(n_classes, np.nan)
    order = np.argsort(-scores, axis=0, kind="stable")
    ranked = np.take_along_axis(scores, order, axis=0)
    hits = np.take_along_axis(positive, order, axis=0)
    ctp = np.cumsum(hits, axis=0, dtype=np.float64)
    rows = np.arange(n_videos)[:, None]
    block_end = np.vstack([ranked[1:] != ranked[:-1], np.ones((1, n_classes), dtype=bool)])
    # index of the last row of each row's tie block: reverse running minimum of block ends
    end = np.minimum.accumulate(np.where(block_end, rows, n_videos)[::-1], axis=0)[::-1]
    precision_at_end = np.take_along_axis(ctp, end, axis=0) / (end + 1)
    total = np.where(hits, precision_at_end, 0.0).sum(axis=0)
    return np.where(npos > 0, total / np.maximum(npos, 1), np.nan)
