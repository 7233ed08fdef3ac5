"""Person tubelets from per-frame proposals, and video bags of tubelets for MIL training.

Arnab et al., ECCV 2020 (``../shared/papers/001_30ef4a3de708522c.txt``, Sec. 3.2, 4.2): on
UCF101-24 an instance is a *person tubelet* -- person detections over ``K`` consecutive
frames -- and a bag is all tubelets of a video, labelled with the video's action set.

The tube folder (``docs/formats.md``) stores per-frame proposals of one video:
``frames (N,)`` 1-indexed (possibly a subsample, every 5th frame by default), ``boxes (N, 4)``
pixels x1y1x2y2 inclusive, ``features (N, D)``. The *sampled frames* of a video are its
distinct proposal frames (as in :class:`wsal.localize.linking.FrameIndex`, shared with the
ACT linker); "the next sampled frame" is the next of them.

Tubelet construction (:func:`build_tubelets`), the choice made here:

* one tubelet **starts at every proposal box** (so every box is a member of at least one
  tubelet and receives a score at test time); tubelet ``m`` starts at box ``order[m]`` of
  the frame-sorted boxes;
* it is extended over the next ``K - 1`` sampled frames by **chaining**: in sampled frame
  ``g + k`` it takes the box with the highest IoU (+1 pixel convention) with its latest
  member, if that IoU is at least ``link_iou``; otherwise the slot stays empty (``-1``,
  a detector miss) and the chain continues from the latest member;
* tubelets starting in the last ``K - 1`` sampled frames are truncated at the video end
  (empty slots) instead of being dropped (the paper's "T - K + 1 tubelets" would leave the
  boxes of the last frames without a score);
* the tubelet **feature is the mean of its members' box features** (frozen per-box RoI
  features stand in for the paper's SlowFast RoI features over the K frames).

``K`` counts sampled frames; :func:`tubelet_length` converts the paper's span of 16 video
frames into sampled frames (``(16 - 1) // step + 1``: 16 at every frame, 4 at every 5th).

At test time tubelet class scores go back to boxes with :meth:`Tubelets.box_scores` (mean or
max over the tubelets containing the box) and the boxes are linked by the ACT linker
(:func:`wsal.localize.linking.act_greedy_link`).

Everything is vectorized over boxes: the builder loops over the ``K - 1`` offsets only, each
step one batched IoU of every tubelet's latest box against the (padded) boxes of its next
frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from wsal.localize.linking import FrameIndex
from wsal.structures import paired_box_iou_plus_one

__all__ = [
    "Tubelets",
    "build_tubelets",
    "tubelet_length",
    "TubeletBagDataset",
]


@dataclass
class Tubelets:
    """The tubelets of one video, as indices into its proposal arrays.

    Attributes:
        members: ``(M, K)`` int64 box index (into the video's ``frames``/``boxes``/
            ``features``) of each tubelet on each of its ``K`` sampled frames; ``-1`` where
            the tubelet has no box (no box with IoU >= ``link_iou``, or past the video end).
            ``members[:, 0]`` is the start box, never ``-1``.
        start_frame: ``(M,)`` int64 1-indexed frame of the start box.
        num_boxes: ``N``, the number of proposal boxes of the video.
    """

    members: np.ndarray
    start_frame: np.ndarray
    num_boxes: int

    def __len__(self) -> int:
        return int(self.members.shape[0])

    @property
    def length(self) -> int:
        """``K``, the number of sampled frames of a tubelet."""
        return int(self.members.shape[1])

    @property
    def counts(self) -> np.ndarray:
        """``(M,)`` int64 number of member boxes of each tubelet (1 .. K)."""
        return (self.members >= 0).sum(axis=1).astype(np.int64)

    def features(self, box_features: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """Tubelet features ``(m, D)`` float32: the mean of the member boxes' features.

        Args:
            box_features: ``(N, D)`` features of the video's boxes.
            which: optional ``(m,)`` tubelet indices (default: all ``M``).
        """
        feats = np.asarray(box_features)
        if feats.ndim != 2 or feats.shape[0] != self.num_boxes:
            raise ValueError(
                f"Tubelets.features: expected ({self.num_boxes}, D) box features, got {feats.shape}"
            )
        mem = self.members if which is None else self.members[np.asarray(which, np.int64)]
        valid = mem >= 0
        out = np.zeros((mem.shape[0], feats.shape[1]), dtype=np.float32)
        for k in range(mem.shape[1]):  # K steps, each vectorized over tubelets
            rows = np.flatnonzero(valid[:, k])
            out[rows] += feats[mem[rows, k]].astype(np.float32, copy=False)
        return out / np.maximum(valid.sum(axis=1, keepdims=True), 1).astype(np.float32)

    def box_scores(self, scores: np.ndarray, reduce: Literal["mean", "max"] = "mean") -> np.ndarray:
        """Per-box scores ``(N, C)`` float64 from tubelet scores ``scores (M, C)``.

        A box's score is the mean (or max) of the scores of every tubelet containing it (its
        own tubelet and the earlier ones linked through it), in the spirit of ACT, which
        averages the overlapping tubelets of a tube. Every box starts a tubelet, so every box
        is covered.
        """
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != len(self):
            raise ValueError(f"Tubelets.box_scores: expected ({len(self)}, C), got {scores.shape}")
        rows, cols = np.nonzero(self.members >= 0)
        boxes = self.members[rows, cols]
        n, c = self.num_boxes, scores.shape[1]
        if reduce == "mean":
            sums = np.zeros((n, c), dtype=np.float64)
            np.add.at(sums, boxes, scores[rows])
            counts = np.bincount(boxes, minlength=n).astype(np.float64)
            return sums / np.maximum(counts, 1.0)[:, None]
        if reduce == "max":
            out = np.full((n, c), -np.inf, dtype=np.float64)
            np.maximum.at(out, boxes, scores[rows])
            return np.where(np.isfinite(out), out, 0.0)
        raise ValueError(f"Tubelets.box_scores: reduce must be 'mean' or 'max', not {reduce!r}")


def tubelet_length(frames: np.ndarray, span_frames: int) -> int:
    """Sampled frames ``K`` covering ``span_frames`` video frames (the paper's K = 16).

    The sampling step is the median gap between the video's distinct proposal frames
    (1 when a video has a single sampled frame): ``K = (span_frames - 1) // step + 1``,
    i.e. 16 with proposals on every frame, 4 with proposals on every 5th frame.
    """
    if span_frames < 1:
        raise ValueError(f"tubelet_length: span_frames must be >= 1, got {span_frames}")
    values = np.unique(np.asarray(frames, dtype=np.int64))
    step = int(np.median(np.diff(values))) if values.size > 1 else 1
    return (int(span_frames) - 1) // max(step, 1) + 1


def build_tubelets(
    frames: np.ndarray,
    boxes: np.ndarray,
    length: int,
    *,
    link_iou: float = 0.3,
    index: FrameIndex | None = None,
) -> Tubelets:
    """Tubelets of ``length`` sampled frames starting at every box (see the module docstring).

    Args:
        frames: ``(N,)`` int 1-indexed frame of each box (a subsample of the frames is fine).
        boxes: ``(N, 4)`` float pixel boxes x1y1x2y2 (inclusive corners).
        length: ``K``, sampled frames per tubelet (>= 1).
        link_iou: minimal IoU between consecutive members (a lower best IoU leaves the slot
            empty and the chain continues from the latest member).
        index: a prebuilt :class:`FrameIndex` of ``frames``.

    Returns:
        ``M = N`` tubelets, the ``m``-th starting at the ``m``-th box in frame order (stable).
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.shape[0] != frames.shape[0]:
        raise ValueError(f"build_tubelets: {frames.shape[0]} frames but {boxes.shape[0]} boxes")
    if length < 1:
        raise ValueError(f"build_tubelets: length must be >= 1, got {length}")
    n = frames.shape[0]
    if n == 0:
        return Tubelets(np.zeros((0, length), np.int64), np.zeros(0, np.int64), 0)
    if index is None:
        index = FrameIndex.build(frames)
    g_count = len(index)
    per_frame = np.diff(index.starts)
    # padded table of each sampled frame's boxes: table[g, r] = r-th box of frame g, -1 padding
    table = np.full((g_count, int(per_frame.max())), -1, dtype=np.int64)
    g_sorted = index.group[index.order]
    table[g_sorted, np.arange(n) - index.starts[g_sorted]] = index.order
    start = index.order.copy()  # (M,) with M = N
    g0 = index.group[start]
    members = np.full((n, length), -1, dtype=np.int64)
    members[:, 0] = start
    latest = start.copy()
    for k in range(1, length):
        rows = np.flatnonzero(g0 + k < g_count)
        if rows.size == 0:
            break
        cand = table[g0[rows] + k]  # (m, Bmax)
        valid = cand >= 0
        iou = paired_box_iou_plus_one(boxes[latest[rows]][:, None], boxes[np.where(valid, cand, 0)])
        iou = np.where(valid, iou, -1.0)
        best = np.argmax(iou, axis=1)  # first best in frame order on ties
        ok = iou[np.arange(rows.size), best] >= link_iou
        chosen = cand[np.arange(rows.size), best][ok]
        members[rows[ok], k] = chosen
        latest[rows[ok]] = chosen
    return Tubelets(members, frames[start], n)


class TubeletBagDataset(torch.utils.data.Dataset):
    """Video bags of tubelets with the video's label set (Arnab et al., Sec. 4.2).

    One item per video: at most ``max_instances`` of its tubelets, sampled uniformly without
    replacement (seeded by ``(seed, epoch, video)``; Sec. 3.2), their mean features and
    start boxes, and the multi-hot video labels. Items use the keyframe batch vocabulary, so
    :func:`wsal.data.keyframe.collate_keyframe` pads them into a
    :class:`~wsal.data.keyframe.KeyframeBatch` that :class:`wsal.methods.ua_mil.UAMIL` takes.

    Args:
        features: per video ``(N_v, D)`` box features.
        boxes: per video ``(N_v, 4)`` pixel boxes (only the start boxes reach the batch,
            normalized by ``sizes``; UAMIL does not use them).
        tubelets: per video its :class:`Tubelets` (at least one each).
        labels: ``(V, C)`` multi-hot video labels (the only supervision).
        sizes: ``(V, 2)`` frame width and height in pixels.
        max_instances: tubelets per training bag (``None``: all).
        train: sample (seeded) or return every tubelet in order.
        seed: base seed.
    """

    def __init__(
        self,
        *,
        features: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        tubelets: Sequence[Tubelets],
        labels: np.ndarray,
        sizes: np.ndarray,
        max_instances: int | None = 16,
        train: bool = True,
        seed: int = 0,
    ) -> None:
        if not len(features) == len(boxes) == len(tubelets) == len(labels) == len(sizes):
            raise ValueError("TubeletBagDataset: features, boxes, tubelets, labels, sizes differ")
        if max_instances is not None and max_instances < 1:
            raise ValueError(f"TubeletBagDataset: max_instances must be >= 1, got {max_instances}")
        if any(len(t) == 0 for t in tubelets):
            raise ValueError("TubeletBagDataset: every video needs at least one tubelet")
        self.features, self.boxes, self.tubelets = list(features), list(boxes), list(tubelets)
        self.labels = np.asarray(labels, dtype=np.float32)
        self.sizes = np.asarray(sizes, dtype=np.float32).reshape(-1, 2)
        self.max_instances, self.train, self.seed, self.epoch = max_instances, train, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random draw (call once per epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.tubelets)

    def __getitem__(self, index: int) -> dict:
        """``feats (m, D)``, ``boxes (m, 4)`` normalized start boxes, ``labels (C,)``."""
        tub = self.tubelets[index]
        which = np.arange(len(tub))
        if self.train and self.max_instances is not None and len(tub) > self.max_instances:
            rng = np.random.default_rng((self.seed, self.epoch, index, 13))
            which = np.sort(rng.choice(len(tub), self.max_instances, replace=False))
        start = self.boxes[index][tub.members[which, 0]]
        scale = np.tile(self.sizes[index], 2)
        return {
            "feats": tub.features(self.features[index], which),
            "boxes": (start / scale).astype(np.float32),
            "labels": self.labels[index],
            "bag_index": index,
        }
