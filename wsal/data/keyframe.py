"""Keyframe (AVA-layout) box datasets: bags of person proposals with weak clip labels.

The weak-supervision protocol of Arnab et al. (ECCV 2020, ``../shared/papers/001``, Sec. 4.3)
and of MITL (Biswas & Gall, ``../shared/papers/000``, Sec. 4.1): the keyframes (1 Hz) of a
training video are grouped into consecutive clips of ``t`` seconds, counted from the
video's first keyframe; the only training signal is the set of action ids occurring at any
keyframe of the clip. ``t = 0`` (or any ``t`` at least the video's length, e.g. 900 on AVA)
makes the whole video one clip. Clips whose label set is empty are negative bags.

Ground-truth boxes and person ids of the training split never leave this module in weak
mode: :func:`clip_labels` reads only ``(video, timestamp, action id)`` of the ground truth.
Only the fully supervised upper bound (``supervision="full"``) matches proposals to GT
boxes (IoU > 0.5) to get per-instance labels.

Features are memory-mapped (:func:`wsal.io.features.open_box_features`); an item reads only
the rows of its (sampled) instances, so memory is bounded by a batch, not by the dataset.

Batch vocabulary (:class:`KeyframeBatch`): ``feats (B, N, D)`` float32, ``mask (B, N)`` bool,
``boxes (B, N, 4)`` float32 x1y1x2y2 normalized proposal boxes, ``labels (B, C)`` float32
multi-hot clip labels, ``bag_index (B,)`` int64; optionally ``instance_labels (B, N, C)``
(full supervision) and the positive / negative bags of MITL triplets (``pos_*``, ``neg_*``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from wsal.errors import ConfigError, FormatError
from wsal.io.ava import LabelMap, ProposalRows, read_ava_gt, read_ava_proposals, read_labelmap
from wsal.io.features import open_box_features, safe_path_component
from wsal.structures import KeyframeGroundTruth

__all__ = [
    "KeyframeSplit",
    "open_keyframe_split",
    "select_videos",
    "clip_labels",
    "instance_labels",
    "KeyframeBagDataset",
    "read_feature_rows",
    "KeyframeBatch",
    "collate_keyframe",
]

Bag = Literal["clip", "keyframe"]


# --------------------------------------------------------------------------------------------
# One split of the folder, indexed by keyframe
# --------------------------------------------------------------------------------------------


@dataclass
class KeyframeSplit:
    """One split of an AVA-layout keyframe folder (``docs/formats.md``), indexed by keyframe.

    Attributes:
        root: the dataset folder.
        split: split name (``train``/``val``).
        labelmap: the label map; class ``c`` of every tensor is ``labelmap.ids[c]``.
        proposals: proposal rows in file order (row i = feature row i).
        features: ``(N, D)`` memory-mapped float16/float32 box features (not in RAM).
        order: ``(N,)`` int64 proposal rows sorted by (video, timestamp), stable.
        kf_start: ``(K + 1,)`` int64 offsets into ``order``: keyframe k owns
            ``order[kf_start[k]:kf_start[k + 1]]``.
        kf_video: ``(K,)`` str video id of each keyframe; ``kf_time``: ``(K,)`` int64 second.
        kf_video_code: ``(K,)`` int64 index of the video in ``videos``.
        videos: sorted video ids of the split.
    """

    root: Path
    split: str
    labelmap: LabelMap
    proposals: ProposalRows
    features: np.ndarray
    order: np.ndarray
    kf_start: np.ndarray
    kf_video: np.ndarray
    kf_time: np.ndarray
    kf_video_code: np.ndarray
    videos: list[str]

    @property
    def class_ids(self) -> np.ndarray:
        """``(C,)`` int64 AVA action ids in label-map order."""
        return np.asarray(self.labelmap.ids, dtype=np.int64)

    @property
    def num_classes(self) -> int:
        """Number of classes ``C``."""
        return len(self.labelmap.ids)

    @property
    def feature_dim(self) -> int:
        """Box feature dimension ``D``."""
        return int(self.features.shape[1])

    @property
    def num_keyframes(self) -> int:
        """Number of keyframes with at least one proposal ``K``."""
        return int(self.kf_time.shape[0])

    def annotation_path(self, name: str | None = None) -> Path:
        """``annotations/<split>.csv`` (or ``annotations/<name>``)."""
        return self.root / "annotations" / (name or f"{self.split}.csv")

    def ground_truth(self) -> KeyframeGroundTruth:
        """The split's GT rows (evaluation and the fully supervised mode only)."""
        return read_ava_gt(self.annotation_path())


def open_keyframe_split(root: str | Path, split: str, *, features: bool = True) -> KeyframeSplit:
    """Open ``split`` of the keyframe folder ``root``: label map, proposals, memory-mapped features.

    ``features=False`` skips ``features/<split>.npy`` (zero-width features): the end-to-end
    mode computes box features from the frames instead.

    Raises:
        FormatError: a missing file, or features whose row count differs from the proposals.
    """
    root = Path(root)
    split = safe_path_component(split, "split")
    if not root.is_dir():
        raise FormatError(root, "keyframe dataset folder not found")
    labelmap = read_labelmap(root / "annotations" / "action_list.pbtxt")
    props = read_ava_proposals(root / "proposals" / f"{split}.csv")
    feats = (
        open_box_features(root / "features" / f"{split}.npy", rows=len(props))
        if features
        else np.zeros((len(props), 0), np.float32)
    )
    videos, vcode = np.unique(props.video_ids, return_inverse=True)
    order = np.lexsort((props.timestamps, vcode)).astype(np.int64)
    key_v, key_t = vcode[order], props.timestamps[order]
    new = np.ones(order.shape[0], dtype=bool)
    new[1:] = (key_v[1:] != key_v[:-1]) | (key_t[1:] != key_t[:-1])
    starts = np.flatnonzero(new)
    return KeyframeSplit(
        root=root,
        split=split,
        labelmap=labelmap,
        proposals=props,
        features=feats,
        order=order,
        kf_start=np.append(starts, order.shape[0]).astype(np.int64),
        kf_video=videos[key_v[starts]] if starts.size else np.zeros(0, str),
        kf_time=key_t[starts].astype(np.int64),
        kf_video_code=key_v[starts].astype(np.int64),
        videos=videos.tolist(),
    )


def select_videos(split: KeyframeSplit, videos: Sequence[str]) -> KeyframeSplit:
    """The keyframes of ``videos`` only (e.g. a validation carve-out of the training split).

    Proposal rows and the memory-mapped features are shared with ``split`` (row i stays
    feature row i); only the keyframe index (``order``, ``kf_*``, ``videos``) is restricted.
    The ground truth of other videos is ignored by :func:`clip_labels` (unknown videos).

    Raises:
        ConfigError: a video id that is not in the split.
    """
    wanted = sorted(set(videos))
    known = np.asarray(split.videos, dtype=str)
    missing = [v for v in wanted if v not in set(split.videos)]
    if missing:
        raise ConfigError(f"{split.root}: videos not in split '{split.split}': {missing[:5]}")
    codes = np.searchsorted(known, np.asarray(wanted, dtype=str)) if wanted else np.zeros(0, int)
    keep_kf = np.isin(split.kf_video_code, codes)  # (K,) keyframes of the chosen videos
    counts = np.diff(split.kf_start)[keep_kf]
    starts = split.kf_start[:-1][keep_kf]
    order = split.order[np.repeat(starts, counts) + _ragged_arange(counts)]
    remap = np.full(known.size, -1, dtype=np.int64)
    remap[codes] = np.arange(codes.size)
    return KeyframeSplit(
        root=split.root,
        split=split.split,
        labelmap=split.labelmap,
        proposals=split.proposals,
        features=split.features,
        order=order.astype(np.int64),
        kf_start=np.append(0, np.cumsum(counts)).astype(np.int64),
        kf_video=split.kf_video[keep_kf],
        kf_time=split.kf_time[keep_kf],
        kf_video_code=remap[split.kf_video_code[keep_kf]],
        videos=list(wanted),
    )


# --------------------------------------------------------------------------------------------
# The weak-label protocol
# --------------------------------------------------------------------------------------------


def _clip_ids(
    video_code: np.ndarray, time: np.ndarray, origin: np.ndarray, clip_seconds: int
) -> np.ndarray:
    """``(n,)`` int64 clip index within its video: ``(time - origin) // t`` (0 if t <= 0)."""
    if clip_seconds <= 0:
        return np.zeros(time.shape[0], dtype=np.int64)
    return (time - origin[video_code]) // int(clip_seconds)


def clip_labels(
    split: KeyframeSplit, gt: KeyframeGroundTruth, clip_seconds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weak labels of every keyframe's clip: clips of ``clip_seconds`` keyframes (1 Hz).

    Clips are consecutive windows ``[o + i t, o + (i + 1) t)`` where ``o`` is the first
    keyframe second of the video (over proposals and GT); ``t <= 0`` is the whole video. The
    label set of a clip is every label-map action id of a GT row at any keyframe of the clip
    (keyframes without proposals included). Only the video, timestamp and action id columns
    of ``gt`` are read.

    Returns:
        ``(kf_clip (K,) int64, labels (M, C) float32)``: the clip index (0..M-1, ordered by
        video then time) of each keyframe of ``split``, and the multi-hot labels of each clip.
    """
    if clip_seconds < 0:
        raise ConfigError(f"weak.clip_seconds must be >= 0 (0 = whole video), got {clip_seconds}")
    videos = np.asarray(split.videos, dtype=str)
    gt_code = np.searchsorted(videos, gt.video_ids) if videos.size else np.zeros(0, np.int64)
    gt_known = (gt_code < videos.size) & (
        videos[np.minimum(gt_code, max(videos.size - 1, 0))] == gt.video_ids
        if videos.size
        else np.zeros(len(gt), bool)
    )
    gt_code, gt_time = gt_code[gt_known], gt.timestamps[gt_known]
    origin = np.full(videos.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(origin, split.kf_video_code, split.kf_time)
    np.minimum.at(origin, gt_code, gt_time)
    kf_local = _clip_ids(split.kf_video_code, split.kf_time, origin, clip_seconds)
    # clips that own keyframes with proposals, numbered in (video, clip) order
    key = split.kf_video_code * (1 << 32) + kf_local
    uniq, kf_clip = np.unique(key, return_inverse=True)
    labels = np.zeros((uniq.shape[0], split.num_classes), dtype=np.float32)
    cls = _class_index(gt.labels[gt_known], split.class_ids)
    gt_key = gt_code * (1 << 32) + _clip_ids(gt_code, gt_time, origin, clip_seconds)
    pos = np.searchsorted(uniq, gt_key)
    hit = (cls >= 0) & (pos < uniq.shape[0])
    hit &= uniq[np.minimum(pos, max(uniq.shape[0] - 1, 0))] == gt_key if uniq.size else False
    labels[pos[hit], cls[hit]] = 1.0
    return kf_clip.astype(np.int64), labels


def _class_index(action_ids: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """``(n,)`` column of each action id in ``class_ids`` (-1 for ids outside the label map)."""
    srt = np.argsort(class_ids, kind="stable")
    pos = np.searchsorted(class_ids[srt], action_ids)
    pos = np.minimum(pos, max(class_ids.shape[0] - 1, 0))
    ok = class_ids[srt][pos] == action_ids if class_ids.size else np.zeros(len(action_ids), bool)
    return np.where(ok, srt[pos], -1).astype(np.int64)


def instance_labels(
    split: KeyframeSplit, gt: KeyframeGroundTruth, *, iou_threshold: float = 0.5
) -> np.ndarray:
    """Fully supervised labels ``(N, C)`` bool per proposal row: the actions of every GT box of
    the same keyframe with IoU > ``iou_threshold`` (the upper bound of Arnab et al., Sec. 4.3).

    Raises:
        ConfigError: when the GT has no real boxes (all degenerate), e.g. a folder without
            box annotations, where an upper bound cannot be computed.
    """
    xyxy = gt.boxes.xyxy
    if len(gt) == 0 or not np.any((xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])):
        raise ConfigError(
            f"{split.annotation_path()}: weak.supervision=full needs ground-truth boxes; "
            "this split has none"
        )
    props = split.proposals
    n, c = len(props), split.num_classes
    out = np.zeros((n, c), dtype=bool)
    cls = _class_index(gt.labels, split.class_ids)
    keep = cls >= 0
    g_vid, g_t, g_box, cls = gt.video_ids[keep], gt.timestamps[keep], xyxy[keep], cls[keep]
    # join proposals and GT rows of the same keyframe: sort both by a shared keyframe code
    all_v = np.concatenate([props.video_ids, g_vid])
    _, vcode = np.unique(all_v, return_inverse=True)
    code = vcode * (1 << 32) + np.concatenate([props.timestamps, g_t])
    p_code, g_code = code[:n], code[n:]
    g_order = np.argsort(g_code, kind="stable")
    g_sorted = g_code[g_order]
    lo = np.searchsorted(g_sorted, p_code, "left")
    hi = np.searchsorted(g_sorted, p_code, "right")
    counts = hi - lo
    p_rows = np.repeat(np.arange(n), counts)
    g_rows = g_order[np.repeat(lo, counts) + _ragged_arange(counts)]
    if p_rows.size:
        a, b = props.boxes.xyxy[p_rows], g_box[g_rows]
        iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
        ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
        inter = iw * ih
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
        union = area(a) + area(b) - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        m = iou > iou_threshold
        out[p_rows[m], cls[g_rows[m]]] = True
    return out


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])``, vectorized."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


# --------------------------------------------------------------------------------------------
# Dataset and batches
# --------------------------------------------------------------------------------------------


def read_feature_rows(features: np.ndarray, rows: np.ndarray, *, max_gap: int = 32) -> np.ndarray:
    """Rows ``rows`` (sorted, unique) of an ``(N, D)`` feature matrix as ``(n, D)`` float32.

    For a memory-mapped ``.npy`` the rows are read with ``os.pread`` instead of indexing the
    map: pages touched through a map count towards the resident memory of the process and
    stay there while the map lives, so one epoch over a 5 GB AVA-size file would grow the
    process to the file's size. Rows closer than ``max_gap`` are read in one request (one
    read per contiguous run, the runs found vectorized); other arrays are indexed directly.
    """
    fname = getattr(features, "filename", None)
    if not isinstance(features, np.memmap) or fname is None or rows.size == 0:
        return np.asarray(features[rows], dtype=np.float32)
    width = features.shape[1] * features.dtype.itemsize
    brk = np.flatnonzero(np.diff(rows) > max_gap) + 1
    lo = rows[np.r_[0, brk]]
    hi = rows[np.r_[brk - 1, rows.size - 1]] + 1
    out = np.empty((rows.size, features.shape[1]), dtype=np.float32)
    first = np.r_[0, brk]
    fd = os.open(fname, os.O_RDONLY)
    try:
        for a, b, f in zip(lo.tolist(), hi.tolist(), first.tolist(), strict=True):  # per run
            buf = os.pread(fd, (b - a) * width, int(features.offset) + a * width)
            block = np.frombuffer(buf, dtype=features.dtype).reshape(b - a, -1)
            n = int(np.searchsorted(rows, b) - f)
            out[f : f + n] = block[rows[f : f + n] - a]
    finally:
        os.close(fd)
    return out


class KeyframeBagDataset(torch.utils.data.Dataset):
    """Bags of person proposals with weak clip labels, read from memory-mapped features.

    Args:
        split: an opened :class:`KeyframeSplit`.
        bag: ``"clip"`` (ua_mil: all proposals of a clip, an item per clip) or ``"keyframe"``
            (mitl and prediction: all proposals of a keyframe, an item per keyframe).
        clip_seconds: clip length ``t`` of the weak labels (0 = whole video).
        gt: the split's ground truth (labels; boxes only with ``supervision="full"``); None
            for prediction (labels are then zero).
        max_instances: training bags larger than this are sampled uniformly without
            replacement (Arnab et al., Sec. 3.2); None keeps every instance.
        train: random sampling (seeded by ``(seed, epoch, index)``) or deterministic items.
        triplets: add MITL's positive and negative bags (``bag="keyframe"`` only).
        negative_gap: ``|t_n - t|`` at least this many seconds for negatives (MITL: 100).
        augment_noise, augment_dropout: the feature-space augmentation of a positive bag
            taken from the anchor keyframe itself (``t_p = t``): Gaussian noise of this
            fraction of each row's RMS, then dropout of this fraction of the dimensions.
        supervision: ``"weak"`` (clip labels) or ``"full"`` (per-proposal GT labels, IoU > 0.5).
        seed: base seed.
    """

    def __init__(
        self,
        split: KeyframeSplit,
        *,
        bag: Bag = "clip",
        clip_seconds: int = 10,
        gt: KeyframeGroundTruth | None = None,
        max_instances: int | None = None,
        train: bool = True,
        triplets: bool = False,
        negative_gap: int = 100,
        augment_noise: float = 0.1,
        augment_dropout: float = 0.1,
        supervision: Literal["weak", "full"] = "weak",
        seed: int = 0,
    ) -> None:
        if bag not in ("clip", "keyframe"):
            raise ConfigError(f"bag must be 'clip' or 'keyframe', got {bag!r}")
        if triplets and bag != "keyframe":
            raise ConfigError("MITL triplets need keyframe bags")
        if max_instances is not None and max_instances < 1:
            raise ConfigError(f"max_instances must be >= 1, got {max_instances}")
        self.split = split
        self.bag = bag
        self.max_instances = max_instances
        self.train = train
        self.triplets = triplets
        self.negative_gap = int(negative_gap)
        self.augment_noise = float(augment_noise)
        self.augment_dropout = float(augment_dropout)
        self.seed = seed
        self.epoch = 0
        k = split.num_keyframes
        if gt is None:
            self.kf_clip = np.arange(k, dtype=np.int64)
            self.clip_label = np.zeros((k, split.num_classes), np.float32)
        else:
            self.kf_clip, self.clip_label = clip_labels(split, gt, clip_seconds)
        self.row_labels = instance_labels(split, gt) if supervision == "full" and gt else None
        if bag == "clip":  # keyframes are sorted by (video, time): a clip is a keyframe range
            first = np.flatnonzero(np.r_[True, self.kf_clip[1:] != self.kf_clip[:-1]])
            self.item_kf = np.stack([first, np.r_[first[1:], k]], axis=1).astype(np.int64)
            self.item_label = self.clip_label[self.kf_clip[first]]
        else:
            ar = np.arange(k, dtype=np.int64)
            self.item_kf = np.stack([ar, ar + 1], axis=1)
            self.item_label = self.clip_label[self.kf_clip]
        # same-video keyframe ranges, for triplet sampling
        vc = split.kf_video_code
        self._video_lo = np.searchsorted(vc, vc, "left")
        self._video_hi = np.searchsorted(vc, vc, "right")

    @property
    def num_classes(self) -> int:
        """Number of classes ``C``."""
        return self.split.num_classes

    @property
    def feature_dim(self) -> int:
        """Feature dimension ``D``."""
        return self.split.feature_dim

    def set_epoch(self, epoch: int) -> None:
        """Change the random draw (call once per epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.item_kf.shape[0])

    def rows_of(self, kf_lo: int, kf_hi: int) -> np.ndarray:
        """Proposal rows (file order indices) of keyframes ``[kf_lo, kf_hi)``."""
        s = self.split
        return s.order[s.kf_start[kf_lo] : s.kf_start[kf_hi]]

    def _read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features ``(n, D)`` float32, boxes ``(n, 4)`` float32 and the sorted rows (memmap
        reads in file order)."""
        srt = np.sort(rows)
        feats = read_feature_rows(self.split.features, srt)
        if not np.isfinite(feats).all():
            bad = int(srt[np.flatnonzero(~np.isfinite(feats).all(axis=1))[0]])
            raise FormatError(
                self.split.root / "features" / f"{self.split.split}.npy",
                "NaN or inf feature values",
                where=f"row {bad}",
            )
        return feats, self.split.proposals.boxes.xyxy[srt].astype(np.float32), srt

    def _bag(self, kf_lo: int, kf_hi: int, rng: np.random.Generator | None):
        rows = self.rows_of(kf_lo, kf_hi)
        if rng is not None and self.max_instances is not None and rows.size > self.max_instances:
            rows = rows[rng.choice(rows.size, self.max_instances, replace=False)]
        return self._read(rows)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, index, 7)) if self.train else None
        lo, hi = (int(v) for v in self.item_kf[index])
        feats, boxes, rows = self._bag(lo, hi, rng)
        item = {
            "feats": feats,
            "boxes": boxes,
            "labels": self.item_label[index],
            "bag_index": index,
            "rows": rows,
        }
        if self.row_labels is not None:
            item["instance_labels"] = self.row_labels[rows].astype(np.float32)
        if self.triplets:
            rng = rng or np.random.default_rng((self.seed, index, 11))
            item.update(self._triplet(lo, feats, boxes, rows, rng))
        return item

    def _triplet(self, k: int, feats: np.ndarray, boxes: np.ndarray, rows: np.ndarray,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:  # fmt: skip
        """Positive bag from ``t_p`` in {t-1, t, t+1} and negative bag with ``|t_n - t| >= gap``.

        ``t_p = t`` (or a missing neighbour) gives the anchor's own proposals with the
        feature-space augmentation. The negative comes from the same video; when the video
        has no keyframe ``negative_gap`` seconds away (short videos), from a random keyframe
        of another video (MITL, Sec. 3.2.1 notes that other videos are valid negatives too),
        and with a single video from the farthest keyframe of the same one.

        Returns ``pos_feats``, ``pos_boxes``, ``neg_feats``, ``neg_boxes`` and the proposal rows
        of the bags, ``pos_rows`` / ``neg_rows`` (``(m,)`` int64, aligned with the boxes;
        ``pos_rows`` is the anchor's ``rows`` for ``t_p = t``): the end-to-end mode
        (:mod:`wsal.engine.end_to_end`) computes their features from the frames.
        """
        s = self.split
        t = int(s.kf_time[k])
        lo, hi = int(self._video_lo[k]), int(self._video_hi[k])
        tp = t + int(rng.integers(-1, 2))
        kp = k + (tp - t)
        if tp != t and lo <= kp < hi and int(s.kf_time[kp]) == tp:
            pf, pb, pr = self._bag(kp, kp + 1, rng)
        elif feats.shape[1] == 0:  # no features (end-to-end mode): the anchor's own bag
            pf, pb, pr = feats, boxes, rows
        else:
            rms = np.sqrt((feats**2).mean(axis=1, keepdims=True) + 1e-12)
            pf = feats + self.augment_noise * rms * rng.standard_normal(feats.shape).astype(
                np.float32
            )
            keep = rng.random(feats.shape) >= self.augment_dropout
            pf = (pf * keep / max(1e-6, 1.0 - self.augment_dropout)).astype(np.float32)
            pb, pr = boxes, rows
        times = s.kf_time[lo:hi]
        n_before = int(np.searchsorted(times, t - self.negative_gap, "right"))
        after = int(np.searchsorted(times, t + self.negative_gap, "left"))
        n_far = n_before + (hi - lo - after)
        if n_far > 0:
            j = int(rng.integers(n_far))
            kn = lo + (j if j < n_before else after + (j - n_before))
        elif hi - lo < s.num_keyframes:
            j = int(rng.integers(s.num_keyframes - (hi - lo)))
            kn = j if j < lo else j + (hi - lo)
        else:
            kn = lo if abs(int(s.kf_time[lo]) - t) >= abs(int(s.kf_time[hi - 1]) - t) else hi - 1
        nf, nb, nr = self._bag(kn, kn + 1, rng)
        return {
            "pos_feats": pf, "pos_boxes": pb, "neg_feats": nf, "neg_boxes": nb,
            "pos_rows": pr, "neg_rows": nr,
        }  # fmt: skip


@dataclass
class KeyframeBatch:
    """A padded batch of bags (the keyframe batch vocabulary; see the module docstring).

    Attributes:
        feats: ``(B, N, D)`` float32, zero on padding.
        mask: ``(B, N)`` bool, True for real instances.
        boxes: ``(B, N, 4)`` float32 proposal boxes x1y1x2y2 normalized (zero on padding).
        labels: ``(B, C)`` float32 multi-hot weak (clip) labels.
        bag_index: ``(B,)`` int64 item index in the dataset.
        instance_labels: ``(B, N, C)`` float32 per-instance labels (full supervision) or None.
        pos_feats, pos_mask, pos_boxes, neg_feats, neg_mask, neg_boxes: the positive and
            negative bags of MITL triplets (``(B, M, ·)``), or None.
    """

    feats: torch.Tensor
    mask: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    bag_index: torch.Tensor
    instance_labels: torch.Tensor | None = None
    pos_feats: torch.Tensor | None = None
    pos_mask: torch.Tensor | None = None
    pos_boxes: torch.Tensor | None = None
    neg_feats: torch.Tensor | None = None
    neg_mask: torch.Tensor | None = None
    neg_boxes: torch.Tensor | None = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> KeyframeBatch:
        """The same batch on ``device``."""
        return KeyframeBatch(
            **{
                f.name: None
                if getattr(self, f.name) is None
                else getattr(self, f.name).to(device, non_blocking=non_blocking)
                for f in fields(self)
            }
        )

    def __len__(self) -> int:
        return int(self.feats.shape[0])


def _pad(arrays: Sequence[np.ndarray], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(n_i, ...)`` arrays into ``(B, max n_i, ...)`` zero padding + ``(B, N)`` mask."""
    n = max([a.shape[0] for a in arrays] + [1]) if width is None else width
    out = np.zeros((len(arrays), n, *arrays[0].shape[1:]), dtype=np.float32)
    mask = np.zeros((len(arrays), n), dtype=bool)
    for i, a in enumerate(arrays):  # one copy per bag (not per instance)
        out[i, : a.shape[0]] = a
        mask[i, : a.shape[0]] = True
    return out, mask


def collate_keyframe(items: Sequence[dict]) -> KeyframeBatch:
    """Pad dataset items to a :class:`KeyframeBatch` (the largest bag sets ``N``)."""
    feats, mask = _pad([it["feats"] for it in items])
    boxes, _ = _pad([it["boxes"] for it in items])
    extra: dict[str, torch.Tensor] = {}
    if "instance_labels" in items[0]:
        extra["instance_labels"] = torch.from_numpy(
            _pad([it["instance_labels"] for it in items])[0]
        )
    if "pos_feats" in items[0]:
        for side in ("pos", "neg"):
            f, m = _pad([it[f"{side}_feats"] for it in items])
            b, _ = _pad([it[f"{side}_boxes"] for it in items])
            extra.update(
                {
                    f"{side}_feats": torch.from_numpy(f),
                    f"{side}_mask": torch.from_numpy(m),
                    f"{side}_boxes": torch.from_numpy(b),
                }
            )
    return KeyframeBatch(
        feats=torch.from_numpy(feats),
        mask=torch.from_numpy(mask),
        boxes=torch.from_numpy(boxes),
        labels=torch.from_numpy(np.stack([np.asarray(it["labels"], np.float32) for it in items])),
        bag_index=torch.as_tensor([int(it["bag_index"]) for it in items], dtype=torch.int64),
        **extra,
    )
