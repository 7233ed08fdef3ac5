"""Box linking into tubes: the ACT greedy linker, Temporal Prim, and frame interpolation.

Raw per-box scores -> :class:`~wsal.structures.Tube` objects of one video. No model imports
(ARCHITECTURE.md, convention 6): linking can be re-run from saved box scores.

Inputs of one video (the tube dataset folder of ``docs/formats.md``):

* ``frames: (N,)`` int, 1-indexed frame of each box; boxes may exist on a subsample of the
  frames only (every 5th frame on UCF101-24) -- "consecutive frames" below means consecutive
  *sampled* frames, i.e. adjacent entries of the sorted distinct frames;
* ``boxes: (N, 4)`` float ``x1, y1, x2, y2`` pixels, inclusive corners (ACT convention);
* ``scores: (N,)`` float, one score per box (a detector prior or a class score).

Three pieces:

* :func:`temporal_prim` -- Temporal Prim of Mettes & Snoek, "Spatio-Temporal Instance
  Learning: Action Tubes from Class Supervision" (STIL, 2019), Sec. 3.2: a sparse graph with
  edges only between boxes of consecutive frames with IoU >= 0.1 and weight
  ``s(B_i) + s(B_j)`` (Eq. 4); a tube starts at the highest-scoring box and grows forward or
  backward in time along the heavier of the two best end edges, replacing the edge set at the
  end it moved; it stops at the video boundary or when no box with support remains. Adding
  a box costs O(b) (one frame's boxes), a video-length tube O(F * b). Repeating it on the
  remaining boxes gives a small set of tubes per video.
* :func:`act_greedy_link` -- the greedy online linker of Kalogeiton et al., "Action Tubelet
  Detector for Spatio-Temporal Action Localization", ICCV 2017 (ACT), as used by Arnab et al.:
  per-frame NMS; frame by frame, the current tubes (sorted by mean score) are extended with
  the highest-scoring unmatched detection whose IoU with the tube's last box is >= 0.2; a tube
  is finished after ``max_missed`` sampled frames without a match; unmatched detections start
  new tubes; tube score = mean box score; short or low-scoring tubes are dropped.
* :func:`interpolate_tube` -- boxes on every frame between sampled frames (linear in the
  corners), so tubes are evaluated on every frame as video-mAP requires.

Everything inside a frame is vectorized (IoU of one box against a frame's boxes, NMS by
IoU matrix); Python loops run over frames, tubes and NMS picks only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsal.structures import Tube, box_iou_matrix

__all__ = [
    "FrameIndex",
    "PrimTube",
    "temporal_prim",
    "ActTube",
    "frame_nms",
    "act_greedy_link",
    "interpolate_tube",
    "tube_from_indices",
    "half_sampling_step",
]


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _check_inputs(
    frames: np.ndarray, boxes: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frames (N,)`` int64, ``boxes (N, 4)`` float64, ``scores (N,)`` float64, checked."""
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = frames.shape[0]
    if boxes.shape[0] != n or scores.shape[0] != n:
        raise ValueError(
            f"linking: {n} frames but boxes {boxes.shape} and scores {scores.shape} "
            f"(expected ({n}, 4) and ({n},))"
        )
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValueError("linking: boxes and scores must be finite")
    return frames, boxes, scores


def _iou_one(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one pixel box ``(4,)`` with ``others (n, 4)`` (+1 pixel convention) -> ``(n,)``."""
    iw = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]) + 1.0
    ih = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]) + 1.0
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area = (box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0)
    areas = (others[:, 2] - others[:, 0] + 1.0) * (others[:, 3] - others[:, 1] + 1.0)
    union = area + areas - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


@dataclass
class FrameIndex:
    """Boxes of a video grouped by sampled frame (built once per video, O(N log N)).

    Attributes:
        order: ``(N,)`` box indices sorted by frame (stable).
        frame_values: ``(G,)`` the distinct sampled frames, increasing.
        starts: ``(G + 1,)`` boxes of frame ``g`` are ``order[starts[g]:starts[g + 1]]``.
        group: ``(N,)`` frame position ``g`` of each box (in input order).
    """

    order: np.ndarray
    frame_values: np.ndarray
    starts: np.ndarray
    group: np.ndarray

    @classmethod
    def build(cls, frames: np.ndarray) -> FrameIndex:
        """Index ``frames (N,)`` (1-indexed frame of each box)."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        order = np.argsort(frames, kind="stable")
        values, counts = np.unique(frames[order], return_counts=True)
        starts = np.zeros(values.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        group = np.empty(frames.shape[0], dtype=np.int64)
        group[order] = np.repeat(np.arange(values.shape[0]), counts)
        return cls(order=order, frame_values=values, starts=starts, group=group)

    def __len__(self) -> int:
        return int(self.frame_values.shape[0])

    def members(self, g: int) -> np.ndarray:
        """Box indices (input order) on sampled frame ``g``."""
        return self.order[self.starts[g] : self.starts[g + 1]]


# --------------------------------------------------------------------------------------------
# Temporal Prim (Mettes & Snoek, STIL, Sec. 3.2)
# --------------------------------------------------------------------------------------------


@dataclass
class PrimTube:
    """One tube found by :func:`temporal_prim`.

    Attributes:
        indices: ``(L,)`` box indices (into the input arrays), in frame order.
        growth: ``(L,)`` the same boxes in the order they were added (``growth[0]`` is the
            seed, the highest-scoring remaining box).
        directions: ``(L - 1,)`` +1 (forward) / -1 (backward) for each added box.
    """

    indices: np.ndarray
    growth: np.ndarray
    directions: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.shape[0])


def _best_edge(
    end: int,
    g: int,
    index: FrameIndex,
    boxes: np.ndarray,
    scores: np.ndarray,
    available: np.ndarray,
    iou_threshold: float,
    min_score: float | None,
) -> tuple[float, int]:
    """Heaviest edge from box ``end`` into sampled frame ``g``: ``(weight, box)``, or ``(-inf, -1)``.

    The edge set of Eq. 4: available boxes of frame ``g`` with IoU >= ``iou_threshold`` to
    ``end`` (and, at test time, a score > ``min_score``); weight ``s(end) + s(box)``. O(b).
    """
    if g < 0 or g >= len(index):
        return -np.inf, -1
    cand = index.members(g)
    cand = cand[available[cand]]
    if min_score is not None and cand.size:
        cand = cand[scores[cand] > min_score]
    if cand.size == 0:
        return -np.inf, -1
    cand = cand[_iou_one(boxes[end], boxes[cand]) >= iou_threshold]
    if cand.size == 0:
        return -np.inf, -1
    k = int(cand[np.argmax(scores[cand])])
    return float(scores[end] + scores[k]), k


def _suppress(
    tube: np.ndarray,
    index: FrameIndex,
    boxes: np.ndarray,
    available: np.ndarray,
    suppress_iou: float,
) -> None:
    """Mark boxes overlapping a tube box of their frame by >= ``suppress_iou`` as used."""
    for i in tube:  # one frame per tube box
        members = index.members(int(index.group[i]))
        hit = members[_iou_one(boxes[i], boxes[members]) >= suppress_iou]
        available[hit] = False


def temporal_prim(
    frames: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    iou_threshold: float = 0.1,
    max_tubes: int | None = 5,
    min_score: float | None = None,
    suppress_iou: float | None = None,
    max_length: int | None = None,
    index: FrameIndex | None = None,
) -> list[PrimTube]:
    """Decompose one video's boxes into tubes with Temporal Prim (STIL, Sec. 3.2).

    Each tube starts at the highest-scoring remaining box. Two edge sets are kept, one from the
    tube's last box into the next sampled frame and one from its first box into the previous
    sampled frame (Eq. 4: IoU >= ``iou_threshold``, weight ``s(B_i) + s(B_j)``); the tube is
    extended along the heavier best edge (forward on ties), and only the edge set of the end it
    moved is recomputed (O(b) per added box, O(F * b) per video-length tube). Growth stops at
    the video boundary or when neither end has an edge to a box with support. Used boxes are
    removed and the procedure is repeated on the remaining boxes.

    Args:
        frames, boxes, scores: ``(N,)`` 1-indexed frames, ``(N, 4)`` pixel boxes, ``(N,)`` box
            scores (the detector prior in training, the class scores at test time).
        iou_threshold: minimal IoU of an edge (paper: 0.1).
        max_tubes: at most this many tubes (``None``: until no box remains).
        min_score: if set, only boxes with a score > ``min_score`` can seed or extend a tube
            (the test-time rule "stop when no box with a positive score remains": ``0.0``).
        suppress_iou: if set, boxes of a tube's frames overlapping the tube's box by at least
            this IoU are removed with it (avoids near-duplicate tubes on the same person).
        max_length: optional cap on the number of boxes of a tube (then the direction choice
            decides which side of the seed the tube covers).
        index: a prebuilt :class:`FrameIndex` of ``frames`` (saves the sort when the same
            video is linked for many classes).

    Returns:
        The tubes, in the order they were found (non-increasing seed score).
    """
    frames, boxes, scores = _check_inputs(frames, boxes, scores)
    if index is None:
        index = FrameIndex.build(frames)
    available = np.ones(frames.shape[0], dtype=bool)
    if min_score is not None:
        available &= scores > min_score
    # seeds in decreasing score; the first still-available one starts the next tube
    seed_order = np.argsort(-scores, kind="stable")
    seed_pos = 0
    tubes: list[PrimTube] = []
    args = (index, boxes, scores)
    while max_tubes is None or len(tubes) < max_tubes:
        while seed_pos < seed_order.shape[0] and not available[seed_order[seed_pos]]:
            seed_pos += 1
        if seed_pos >= seed_order.shape[0]:
            break
        seed = int(seed_order[seed_pos])
        available[seed] = False
        head = tail = seed
        g_head = g_tail = int(index.group[seed])
        growth, dirs = [seed], []
        fwd = _best_edge(head, g_head + 1, *args, available, iou_threshold, min_score)
        bwd = _best_edge(tail, g_tail - 1, *args, available, iou_threshold, min_score)
        while (fwd[1] >= 0 or bwd[1] >= 0) and (max_length is None or len(growth) < max_length):
            if fwd[0] >= bwd[0]:
                head, g_head = fwd[1], g_head + 1
                available[head] = False
                growth.append(head)
                dirs.append(1)
                fwd = _best_edge(head, g_head + 1, *args, available, iou_threshold, min_score)
            else:
                tail, g_tail = bwd[1], g_tail - 1
                available[tail] = False
                growth.append(tail)
                dirs.append(-1)
                bwd = _best_edge(tail, g_tail - 1, *args, available, iou_threshold, min_score)
        grown = np.asarray(growth, dtype=np.int64)
        in_order = grown[np.argsort(index.group[grown], kind="stable")]
        if suppress_iou is not None:
            _suppress(in_order, index, boxes, available, suppress_iou)
        tubes.append(PrimTube(in_order, grown, np.asarray(dirs, dtype=np.int64)))
    return tubes


# --------------------------------------------------------------------------------------------
# ACT greedy linker (Kalogeiton et al., ICCV 2017)
# --------------------------------------------------------------------------------------------


def frame_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, top_k: int | None):
    """Greedy NMS of one frame's boxes: indices kept, by decreasing score.

    ``boxes (n, 4)`` pixels (+1 convention), ``scores (n,)``. One IoU matrix per frame; the
    loop runs over kept boxes only.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    if order.size <= 1:
        return order
    iou = box_iou_matrix(boxes[order], boxes[order], plus_one=True)
    alive = np.ones(order.size, dtype=bool)
    keep = []
    for i in range(order.size):
        if not alive[i]:
            continue
        keep.append(i)
        if top_k is not None and len(keep) >= top_k:
            break
        alive &= iou[i] < iou_threshold
    return order[np.asarray(keep, dtype=np.int64)]


@dataclass
class ActTube:
    """One tube of :func:`act_greedy_link`: box ``indices (L,)`` in frame order and its mean score."""

    indices: np.ndarray
    score: float

    def __len__(self) -> int:
        return int(self.indices.shape[0])


def act_greedy_link(
    frames: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    link_iou: float = 0.2,
    nms_iou: float | None = 0.3,
    top_k: int | None = 10,
    max_missed: int = 5,
    min_length: int = 1,
    min_score: float | None = None,
) -> list[ActTube]:
    """Link one class's per-frame detections with the greedy linker of ACT (ICCV 2017).

    Frame by frame (sampled frames in increasing order): per-frame NMS (``nms_iou``, at most
    ``top_k`` boxes); the active tubes, sorted by decreasing mean score, each take the
    highest-scoring still-unmatched detection whose IoU with the tube's last box is
    >= ``link_iou``; a tube with no match for ``max_missed`` consecutive sampled frames is
    finished; detections left unmatched start new tubes. At the end every tube is scored by the
    mean of its box scores, and tubes with fewer than ``min_length`` boxes or a score below
    ``min_score`` are dropped.

    Args:
        frames, boxes, scores: ``(N,)``, ``(N, 4)`` pixels, ``(N,)`` scores of one class.

    Returns:
        Tubes sorted by decreasing score; ``indices`` point into the input arrays.
    """
    frames, boxes, scores = _check_inputs(frames, boxes, scores)
    if max_missed < 1:
        raise ValueError("act_greedy_link: max_missed must be >= 1")
    index = FrameIndex.build(frames)
    active: list[list[int]] = []  # box indices of each active tube
    sums: list[float] = []  # running score sums
    missed: list[int] = []  # sampled frames since the last match
    finished: list[list[int]] = []
    for g in range(len(index)):
        dets = index.members(g)
        if nms_iou is not None or top_k is not None:
            keep = frame_nms(boxes[dets], scores[dets], 2.0 if nms_iou is None else nms_iou, top_k)
            dets = dets[keep]
        free = np.ones(dets.shape[0], dtype=bool)
        if active and dets.size:
            last = np.asarray([t[-1] for t in active], dtype=np.int64)
            iou = box_iou_matrix(boxes[last], boxes[dets], plus_one=True)  # (T, n)
            ok_all = iou >= link_iou
            means = np.asarray(sums) / np.asarray([len(t) for t in active])
            matched = np.zeros(len(active), dtype=bool)
            for k in np.argsort(-means, kind="stable"):  # greedy over tubes, vectorized per tube
                ok = ok_all[k] & free
                if not ok.any():
                    continue
                j = int(np.flatnonzero(ok)[np.argmax(scores[dets[ok]])])
                free[j] = False
                matched[k] = True
                active[k].append(int(dets[j]))
                sums[k] += float(scores[dets[j]])
            for k in range(len(active)):
                missed[k] = 0 if matched[k] else missed[k] + 1
        else:
            missed = [m + 1 for m in missed]
        alive = [k for k in range(len(active)) if missed[k] < max_missed]
        finished += [active[k] for k in range(len(active)) if missed[k] >= max_missed]
        active = [active[k] for k in alive]
        sums = [sums[k] for k in alive]
        missed = [missed[k] for k in alive]
        for j in np.flatnonzero(free):
            active.append([int(dets[j])])
            sums.append(float(scores[dets[j]]))
            missed.append(0)
    finished += active
    out = []
    for t in finished:
        idx = np.asarray(t, dtype=np.int64)
        score = float(scores[idx].mean())
        if len(idx) >= min_length and (min_score is None or score >= min_score):
            out.append(ActTube(idx, score))
    out.sort(key=lambda t: -t.score)
    return out


# --------------------------------------------------------------------------------------------
# Interpolation onto every frame
# --------------------------------------------------------------------------------------------


def interpolate_tube(
    frames: np.ndarray,
    boxes: np.ndarray,
    box_scores: np.ndarray | None = None,
    *,
    label: int = -1,
    score: float | None = None,
    nframes: int | None = None,
    extend: int = 0,
) -> Tube:
    """A :class:`Tube` on every frame from boxes on sampled frames (linear interpolation).

    Args:
        frames: ``(L,)`` strictly increasing 1-indexed frames (e.g. every 5th frame).
        boxes: ``(L, 4)`` pixel boxes on those frames.
        box_scores: optional ``(L,)`` scores, interpolated the same way into ``frame_scores``.
        label: class index of the tube.
        score: tube score (default: the mean of ``box_scores``, NaN without them).
        nframes: video length; the tube is clipped to ``[1, nframes]``.
        extend: copy the first/last box this many frames before/after the tube (e.g.
            ``step - 1`` so a tube sampled every ``step`` frames covers the frames after its
            last sampled frame); clipped to the video.

    Returns:
        The tube with consecutive frames ``first - extend .. last + extend`` (clipped).
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if frames.size == 0 or boxes.shape[0] != frames.shape[0]:
        raise ValueError(f"interpolate_tube: {frames.size} frames and {boxes.shape[0]} boxes")
    if np.any(np.diff(frames) <= 0):
        raise ValueError("interpolate_tube: frames must be strictly increasing")
    lo = int(frames[0]) - extend
    hi = int(frames[-1]) + extend
    lo = max(lo, 1)
    if nframes is not None:
        hi = min(hi, int(nframes))
    hi = max(hi, lo)
    dense = np.arange(lo, hi + 1, dtype=np.int64)
    out = np.stack([np.interp(dense, frames, boxes[:, k]) for k in range(4)], axis=1)
    fs = None
    if box_scores is not None:
        bs = np.asarray(box_scores, dtype=np.float64).reshape(-1)
        fs = np.interp(dense, frames, bs)
        if score is None:
            score = float(bs.mean())
    return Tube(dense, out, label=label, score=float("nan") if score is None else score,
                frame_scores=fs)  # fmt: skip


def half_sampling_step(index: FrameIndex) -> int:
    """Half the median gap between a video's sampled frames (0 with one sampled frame).

    Why: a tube linked on sampled frames (every 5th frame, say) is extended by this many
    frames at both ends, so its first and last boxes cover their share of the unsampled
    frames around them (STIL and tubelet MIL both use it as their default ``extend``).
    """
    gaps = np.diff(index.frame_values)
    return int(np.median(gaps)) // 2 if gaps.size else 0


def tube_from_indices(
    indices: Sequence[int] | np.ndarray,
    frames: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    label: int,
    nframes: int | None = None,
    extend: int = 0,
) -> Tube:
    """Interpolated :class:`Tube` of the boxes ``indices`` (one per frame, frame order).

    The tube score is the mean box score (STIL Sec. 3.4; ACT), ``frame_scores`` the
    interpolated box scores.
    """
    idx = np.asarray(indices, dtype=np.int64)
    return interpolate_tube(
        frames[idx], boxes[idx], scores[idx], label=label, nframes=nframes, extend=extend
    )
