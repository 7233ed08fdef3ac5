"""Average precision from ranked true/false-positive flags (shared by all evaluators).

Two interpolations are used by the official tools we reproduce:

* :func:`voc_ap` - VOC all-point interpolation (ActivityNet detection, AVA Frame-mAP):
  prepend (0, 0), append (recall 1, precision 0), make precision non-increasing from the
  right, sum ``(r_i - r_{i-1}) * p_i`` where recall changes.
* :func:`trapezoid_ap` - trapezoidal area under the PR curve starting at (recall 0,
  precision 1) (the ACT video-mAP, ``pr_to_ap``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["voc_ap", "trapezoid_ap", "precision_recall"]


def precision_recall(tp: np.ndarray, num_positives: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each ranked detection.

    Args:
        tp: ``(..., K)`` bool/0-1, detections sorted by decreasing score along the last axis.
        num_positives: number of ground-truth positives (recall denominator, > 0).

    Returns:
        ``(precision, recall)``, each ``(..., K)`` float64.
    """
    tp = np.asarray(tp, dtype=np.float64)
    ctp = np.cumsum(tp, axis=-1)
    cfp = np.cumsum(1.0 - tp, axis=-1)
    rank = ctp + cfp
    precision = np.divide(ctp, rank, out=np.zeros_like(ctp), where=rank > 0)
    recall = ctp / float(num_positives)
    return precision, recall


def voc_ap(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """VOC all-point interpolated AP along the last axis (batched over leading axes).

    Args:
        precision, recall: ``(..., K)`` float arrays in ranking order.

    Returns:
        ``(...)`` float64 AP; 0 where ``K == 0``.
    """
    precision = np.asarray(precision, dtype=np.float64)
    recall = np.asarray(recall, dtype=np.float64)
    lead = precision.shape[:-1]
    zeros = np.zeros((*lead, 1))
    mprec = np.concatenate([zeros, precision, zeros], axis=-1)
    mrec = np.concatenate([zeros, recall, np.ones((*lead, 1))], axis=-1)
    mprec = np.flip(np.maximum.accumulate(np.flip(mprec, -1), axis=-1), -1)
    changed = mrec[..., 1:] != mrec[..., :-1]
    return np.sum(
        np.where(changed, (mrec[..., 1:] - mrec[..., :-1]) * mprec[..., 1:], 0.0), axis=-1
    )


def trapezoid_ap(precision: np.ndarray, recall: np.ndarray, *, dtype=np.float64) -> float:
    """Trapezoidal AP of one PR curve, starting at (recall 0, precision 1) like ACT's ``pr_to_ap``.

    ``dtype=np.float32`` reproduces the official code, whose PR array is float32.
    """
    p = np.concatenate([[1.0], np.asarray(precision, dtype=np.float64)]).astype(dtype)
    r = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64)]).astype(dtype)
    return float(np.sum((r[1:] - r[:-1]) * (p[1:] + p[:-1]) / dtype(2.0)))
