"""Typed containers shared by localization, linking, evaluation and the writers.

Units and shapes (the conventions of the whole package):

* times are **seconds** (float64) in every structure; snippet indices exist only inside
  methods, and :class:`SnippetTiming` is the one place converting between the two;
* temporal segments are half-open ``[start, end)``;
* keyframe boxes are ``(N, 4)`` ``x1, y1, x2, y2`` **normalized** to ``[0, 1]`` (x horizontal);
* tube boxes are ``(L, 4)`` ``x1, y1, x2, y2`` in **pixels** with inclusive corners (the ACT /
  UCF101-24 convention: width = x2 - x1 + 1), frames are 1-indexed integers.

All containers are column-oriented (one array per field) so that hot paths stay vectorized.
Importing this module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SnippetTiming",
    "Segments",
    "Boxes",
    "Tube",
    "TemporalDetections",
    "TemporalGroundTruth",
    "KeyframeDetections",
    "KeyframeGroundTruth",
    "TubeDetections",
    "TubeGroundTruth",
    "segment_iou_matrix",
    "box_iou_matrix",
    "paired_box_iou_plus_one",
    "tube_iou",
    "tube_iou_matrix",
]


def _as_float(a, shape_tail: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        arr = arr.reshape((0, *shape_tail))
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        raise ValueError(
            f"{name}: expected shape (N, {', '.join(map(str, shape_tail))}), got {arr.shape}"
        )
    return arr


def _column(a, n: int, dtype, name: str, fill) -> np.ndarray:
    if a is None:
        return np.full(n, fill, dtype=dtype)
    arr = np.asarray(a, dtype=dtype).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} values, got {arr.shape[0]}")
    return arr


# --------------------------------------------------------------------------------------------
# Snippet timing: the one owner of the snippet <-> seconds conversion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnippetTiming:
    """Timing of fixed-length snippets: snippet ``i`` covers ``[i*s, (i+1)*s)`` seconds.

    ``s = frames_per_snippet * stride_factor / fps``; by default 16 frames at 25 fps = 0.64 s,
    the layout of the published THUMOS14 / ActivityNet I3D features. ``fps`` is the rate the
    features were extracted at (not necessarily the video's original rate).
    """

    frames_per_snippet: int = 16
    fps: float = 25.0

    def __post_init__(self) -> None:
        if self.frames_per_snippet <= 0 or not np.isfinite(self.fps) or self.fps <= 0:
            raise ValueError(
                f"invalid snippet timing: {self.frames_per_snippet} frames at {self.fps} fps"
            )

    @property
    def seconds_per_snippet(self) -> float:
        """Duration of one snippet in seconds."""
        return self.frames_per_snippet / self.fps

    def to_seconds(self, index: np.ndarray | float) -> np.ndarray:
        """Snippet boundary index (float allowed) -> seconds. ``index`` of any shape."""
        return np.asarray(index, dtype=np.float64) * self.seconds_per_snippet

    def to_index(self, seconds: np.ndarray | float) -> np.ndarray:
        """Seconds -> fractional snippet index (inverse of :meth:`to_seconds`)."""
        return np.asarray(seconds, dtype=np.float64) / self.seconds_per_snippet

    def num_snippets(self, duration: float) -> int:
        """Number of whole or partial snippets needed to cover ``duration`` seconds."""
        return int(np.ceil(duration / self.seconds_per_snippet - 1e-9))


# --------------------------------------------------------------------------------------------
# IoU helpers (vectorized)
# --------------------------------------------------------------------------------------------


def segment_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Temporal IoU of every pair: ``a (N, 2)``, ``b (M, 2)`` seconds -> ``(N, M)``.

    Follows the ActivityNet evaluator: ``inter = max(0, min(e) - max(s))``,
    ``union = len_a + len_b - inter``; segments are not clipped. A pair whose union is not
    positive (both zero-length, or reversed segments) has IoU 0, and a reversed segment
    (end < start) never overlaps anything.
    """
    a = _as_float(a, (2,), "a")
    b = _as_float(b, (2,), "b")
    s = np.maximum(a[:, None, 0], b[None, :, 0])
    e = np.minimum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(e - s, 0.0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    valid = (a[:, 1] >= a[:, 0])[:, None] & (b[:, 1] >= b[:, 0])[None, :] & (union > 0)
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=valid)
    return out


def box_iou_matrix(a: np.ndarray, b: np.ndarray, *, plus_one: bool = False) -> np.ndarray:
    """Box IoU of every pair: ``a (N, 4)``, ``b (M, 4)`` x1y1x2y2 -> ``(N, M)``.

    ``plus_one=False`` is the AVA convention (continuous coordinates, area = w*h);
    ``plus_one=True`` is the ACT/VOC pixel convention (inclusive corners, area = (w+1)*(h+1)).
    A box with non-positive width or height (x2 <= x1 without ``plus_one``) has IoU 0 with
    everything.
    """
    a = _as_float(a, (4,), "a")
    b = _as_float(b, (4,), "b")
    one = 1.0 if plus_one else 0.0
    wa, ha = a[:, 2] - a[:, 0] + one, a[:, 3] - a[:, 1] + one
    wb, hb = b[:, 2] - b[:, 0] + one, b[:, 3] - b[:, 1] + one
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + one
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + one
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = wa * ha
    area_b = wb * hb
    union = area_a[:, None] + area_b[None, :] - inter
    valid = ((wa > 0) & (ha > 0))[:, None] & ((wb > 0) & (hb > 0))[None, :] & (union > 0)
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=valid)
    return out


# --------------------------------------------------------------------------------------------
# Segments and boxes
# --------------------------------------------------------------------------------------------


@dataclass
class Segments:
    """``N`` temporal segments of one video.

    Attributes:
        bounds: ``(N, 2)`` float64 seconds, half-open ``[start, end)``.
        labels: ``(N,)`` int64 class indices (``-1`` = unknown / not a class of the set).
        scores: ``(N,)`` float64 confidences (NaN for ground truth).
    """

    bounds: np.ndarray
    labels: np.ndarray | None = None
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.bounds = _as_float(self.bounds, (2,), "Segments.bounds")
        n = self.bounds.shape[0]
        self.labels = _column(self.labels, n, np.int64, "Segments.labels", -1)
        self.scores = _column(self.scores, n, np.float64, "Segments.scores", np.nan)

    def __len__(self) -> int:
        return int(self.bounds.shape[0])

    def __getitem__(self, idx) -> Segments:
        return Segments(self.bounds[idx].reshape(-1, 2), self.labels[idx], self.scores[idx])

    @property
    def starts(self) -> np.ndarray:
        """``(N,)`` start times, seconds."""
        return self.bounds[:, 0]

    @property
    def ends(self) -> np.ndarray:
        """``(N,)`` end times, seconds."""
        return self.bounds[:, 1]

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` durations, seconds (negative for reversed segments)."""
        return self.bounds[:, 1] - self.bounds[:, 0]

    def iou(self, other: Segments) -> np.ndarray:
        """``(len(self), len(other))`` temporal IoU matrix."""
        return segment_iou_matrix(self.bounds, other.bounds)

    @staticmethod
    def cat(parts: Sequence[Segments]) -> Segments:
        """Concatenate segment sets (class indices must refer to the same class list)."""
        if not parts:
            return Segments(np.zeros((0, 2)))
        return Segments(
            np.concatenate([p.bounds for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )


@dataclass
class Boxes:
    """``N`` boxes ``(N, 4)`` x1y1x2y2 normalized to ``[0, 1]`` (fractions of width/height)."""

    xyxy: np.ndarray

    def __post_init__(self) -> None:
        self.xyxy = _as_float(self.xyxy, (4,), "Boxes.xyxy")

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, idx) -> Boxes:
        return Boxes(self.xyxy[idx].reshape(-1, 4))

    @classmethod
    def from_pixels(cls, xyxy_px: np.ndarray, width: float, height: float) -> Boxes:
        """Pixel corners ``(N, 4)`` of a ``width x height`` frame -> normalized boxes."""
        px = _as_float(xyxy_px, (4,), "xyxy_px")
        return cls(px / np.array([width, height, width, height], dtype=np.float64))

    def to_pixels(self, width: float, height: float) -> np.ndarray:
        """Normalized boxes -> ``(N, 4)`` pixel corners of a ``width x height`` frame."""
        return self.xyxy * np.array([width, height, width, height], dtype=np.float64)

    @property
    def area(self) -> np.ndarray:
        """``(N,)`` normalized areas; 0 for degenerate boxes (x2 <= x1 or y2 <= y1)."""
        w = np.clip(self.xyxy[:, 2] - self.xyxy[:, 0], 0, None)
        h = np.clip(self.xyxy[:, 3] - self.xyxy[:, 1], 0, None)
        return w * h

    @property
    def valid(self) -> np.ndarray:
        """``(N,)`` bool: finite and positive width and height."""
        finite = np.isfinite(self.xyxy).all(axis=1)
        return finite & (self.xyxy[:, 2] > self.xyxy[:, 0]) & (self.xyxy[:, 3] > self.xyxy[:, 1])

    def centers(self) -> np.ndarray:
        """``(N, 2)`` box centres (x, y), normalized."""
        return 0.5 * (self.xyxy[:, :2] + self.xyxy[:, 2:])

    def clip(self) -> Boxes:
        """Boxes clipped to the unit square."""
        return Boxes(np.clip(self.xyxy, 0.0, 1.0))

    def iou(self, other: Boxes) -> np.ndarray:
        """``(len(self), len(other))`` IoU matrix (continuous convention)."""
        return box_iou_matrix(self.xyxy, other.xyxy)


# --------------------------------------------------------------------------------------------
# Tubes
# --------------------------------------------------------------------------------------------


@dataclass
class Tube:
    """One action tube: a box on each of ``L`` consecutive frames.

    Attributes:
        frames: ``(L,)`` int64, 1-indexed, strictly consecutive.
        boxes: ``(L, 4)`` float64 pixel corners x1y1x2y2 (inclusive convention).
        label: class index into the owning container's ``labels``.
        score: tube confidence (NaN for ground truth).
        frame_scores: ``(L,)`` per-frame box scores (NaN where unknown).
    """

    frames: np.ndarray
    boxes: np.ndarray
    label: int = -1
    score: float = float("nan")
    frame_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        self.boxes = _as_float(self.boxes, (4,), "Tube.boxes")
        if self.boxes.shape[0] != self.frames.shape[0]:
            raise ValueError(f"Tube: {self.frames.shape[0]} frames but {self.boxes.shape[0]} boxes")
        if self.frames.size and np.any(np.diff(self.frames) != 1):
            raise ValueError("Tube.frames must be consecutive increasing integers")
        self.frame_scores = _column(
            self.frame_scores, len(self.frames), np.float64, "Tube.frame_scores", np.nan
        )
        self.label = int(self.label)
        self.score = float(self.score)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def first_frame(self) -> int:
        """First (1-indexed) frame of the tube."""
        return int(self.frames[0])

    @property
    def last_frame(self) -> int:
        """Last (1-indexed) frame of the tube, inclusive."""
        return int(self.frames[-1])


def tube_iou(a: Tube, b: Tube) -> float:
    """Spatio-temporal tube IoU of the ACT evaluation (``iou3dt``).

    temporal IoU ``(tmax - tmin + 1) / (max(last) - min(first) + 1)`` over frames, times the
    mean per-frame box IoU (+1 pixel convention) over the temporal intersection; 0 if the
    tubes do not overlap in time.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    tmin = max(a.first_frame, b.first_frame)
    tmax = min(a.last_frame, b.last_frame)
    if tmax < tmin:
        return 0.0
    t_iou = (tmax - tmin + 1) / (
        max(a.last_frame, b.last_frame) - min(a.first_frame, b.first_frame) + 1
    )
    ba = a.boxes[tmin - a.first_frame : tmax - a.first_frame + 1]
    bb = b.boxes[tmin - b.first_frame : tmax - b.first_frame + 1]
    return float(t_iou * paired_box_iou_plus_one(ba, bb).mean())


def paired_box_iou_plus_one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of pixel boxes ``a (..., 4)`` and ``b (..., 4)`` (+1 convention).

    The leading shapes broadcast (e.g. ``(M, 1, 4)`` against ``(M, B, 4)`` gives ``(M, B)``),
    so matched pairs along a tube and one-to-many candidates share one implementation.
    """
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) + 1 - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) + 1 - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    union = area_a + area_b - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def tube_iou_matrix(a: Sequence[Tube], b: Sequence[Tube]) -> np.ndarray:
    """``(len(a), len(b))`` matrix of :func:`tube_iou` (tubes of one video)."""
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    for i, ta in enumerate(a):
        for j, tb in enumerate(b):
            out[i, j] = tube_iou(ta, tb)
    return out


# --------------------------------------------------------------------------------------------
# Detections and ground truth of the three task families
# --------------------------------------------------------------------------------------------


@dataclass
class TemporalDetections:
    """Temporal detections of many videos, flat.

    Attributes:
        video_ids: ``(N,)`` str, the video of each detection.
        segments: ``N`` segments; ``segments.labels`` index into ``classes``.
        classes: class names.
    """

    video_ids: np.ndarray
    segments: Segments
    classes: list[str]

    def __post_init__(self) -> None:
        self.video_ids = np.asarray(self.video_ids, dtype=str).reshape(-1)
        if self.video_ids.shape[0] != len(self.segments):
            raise ValueError("TemporalDetections: video_ids and segments differ in length")
        self.classes = list(self.classes)

    def __len__(self) -> int:
        return len(self.segments)

    def for_video(self, video_id: str) -> Segments:
        """The segments of one video."""
        return self.segments[self.video_ids == video_id]


@dataclass
class TemporalGroundTruth:
    """Ground-truth segments of a temporal dataset (ActivityNet / THUMOS14 style).

    Attributes:
        videos: video ids in file order.
        subsets: ``{video: subset name}`` as written in the file (e.g. ``"validation"``).
        durations: ``{video: seconds}``; NaN where the file has none.
        fps: ``{video: frames per second}`` where known.
        video_ids: ``(N,)`` str, the video of each segment.
        segments: ``N`` ground-truth segments; labels index into ``classes``.
        classes: class names (first-appearance order unless the reader was given a list).
        ambiguous_video_ids, ambiguous: THUMOS14 ``Ambiguous`` segments (label -1), may be empty.
    """

    videos: list[str]
    subsets: dict[str, str]
    durations: dict[str, float]
    video_ids: np.ndarray
    segments: Segments
    classes: list[str]
    fps: dict[str, float] = field(default_factory=dict)
    ambiguous_video_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    ambiguous: Segments = field(default_factory=lambda: Segments(np.zeros((0, 2))))

    def __post_init__(self) -> None:
        self.video_ids = np.asarray(self.video_ids, dtype=str).reshape(-1)
        self.ambiguous_video_ids = np.asarray(self.ambiguous_video_ids, dtype=str).reshape(-1)
        if self.video_ids.shape[0] != len(self.segments):
            raise ValueError("TemporalGroundTruth: video_ids and segments differ in length")

    def __len__(self) -> int:
        return len(self.segments)

    def subset(self, names: str | Sequence[str]) -> TemporalGroundTruth:
        """Keep only videos whose subset is one of ``names``."""
        wanted = {names} if isinstance(names, str) else set(names)
        return self.select([v for v in self.videos if self.subsets.get(v) in wanted])

    def select(
        self, videos: Sequence[str], *, subset_name: str | None = None
    ) -> TemporalGroundTruth:
        """Keep only ``videos`` (in that order); optionally relabel their subset (e.g. a split name)."""
        keep_v = [v for v in videos if v in self.subsets]
        m = np.isin(self.video_ids, keep_v)
        ma = np.isin(self.ambiguous_video_ids, keep_v)
        return TemporalGroundTruth(
            videos=keep_v,
            subsets={v: subset_name or self.subsets[v] for v in keep_v},
            durations={v: self.durations.get(v, float("nan")) for v in keep_v},
            video_ids=self.video_ids[m],
            segments=self.segments[m],
            classes=list(self.classes),
            fps={v: self.fps[v] for v in keep_v if v in self.fps},
            ambiguous_video_ids=self.ambiguous_video_ids[ma],
            ambiguous=self.ambiguous[ma],
        )

    def for_video(self, video_id: str) -> Segments:
        """The ground-truth segments of one video."""
        return self.segments[self.video_ids == video_id]

    def video_labels(self) -> dict[str, np.ndarray]:
        """``{video: (C,) float32 multi-hot}`` video-level labels (the weak supervision)."""
        out = {v: np.zeros(len(self.classes), dtype=np.float32) for v in self.videos}
        for v, c in zip(self.video_ids.tolist(), self.segments.labels.tolist()):
            if c >= 0:
                out[v][c] = 1.0
        return out


@dataclass
class KeyframeDetections:
    """Person-box detections at keyframes (AVA style), one row per (box, class).

    Attributes:
        video_ids: ``(N,)`` str.
        timestamps: ``(N,)`` int64 keyframe second.
        boxes: ``N`` normalized boxes.
        labels: ``(N,)`` int64 action ids (AVA ids as in the label map, not indices).
        scores: ``(N,)`` float64.
    """

    video_ids: np.ndarray
    timestamps: np.ndarray
    boxes: Boxes
    labels: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.video_ids = np.asarray(self.video_ids, dtype=str).reshape(-1)
        n = self.video_ids.shape[0]
        self.timestamps = _column(self.timestamps, n, np.int64, "timestamps", 0)
        if not isinstance(self.boxes, Boxes):
            self.boxes = Boxes(self.boxes)
        if len(self.boxes) != n:
            raise ValueError("KeyframeDetections: boxes and video_ids differ in length")
        self.labels = _column(self.labels, n, np.int64, "labels", -1)
        self.scores = _column(self.scores, n, np.float64, "scores", np.nan)

    def __len__(self) -> int:
        return int(self.video_ids.shape[0])

    def __getitem__(self, idx) -> KeyframeDetections:
        return KeyframeDetections(
            self.video_ids[idx],
            self.timestamps[idx],
            self.boxes[idx],
            self.labels[idx],
            self.scores[idx],
        )


@dataclass
class KeyframeGroundTruth:
    """AVA-style ground truth: one row per (person box, action).

    ``person_ids (N,)`` int64 identify persons within a video (may be -1 when absent);
    ``labels`` are AVA action ids. Other fields as in :class:`KeyframeDetections`.
    """

    video_ids: np.ndarray
    timestamps: np.ndarray
    boxes: Boxes
    labels: np.ndarray
    person_ids: np.ndarray

    def __post_init__(self) -> None:
        self.video_ids = np.asarray(self.video_ids, dtype=str).reshape(-1)
        n = self.video_ids.shape[0]
        self.timestamps = _column(self.timestamps, n, np.int64, "timestamps", 0)
        if not isinstance(self.boxes, Boxes):
            self.boxes = Boxes(self.boxes)
        if len(self.boxes) != n:
            raise ValueError("KeyframeGroundTruth: boxes and video_ids differ in length")
        self.labels = _column(self.labels, n, np.int64, "labels", -1)
        self.person_ids = _column(self.person_ids, n, np.int64, "person_ids", -1)

    def __len__(self) -> int:
        return int(self.video_ids.shape[0])

    def __getitem__(self, idx) -> KeyframeGroundTruth:
        return KeyframeGroundTruth(
            self.video_ids[idx],
            self.timestamps[idx],
            self.boxes[idx],
            self.labels[idx],
            self.person_ids[idx],
        )


@dataclass
class TubeDetections:
    """Predicted tubes per video: ``{video: [Tube, ...]}``; tube labels index ``labels``."""

    tubes: dict[str, list[Tube]]
    labels: list[str]

    def __len__(self) -> int:
        return sum(len(t) for t in self.tubes.values())

    def __iter__(self) -> Iterator[tuple[str, Tube]]:
        for v, ts in self.tubes.items():
            for t in ts:
                yield v, t


@dataclass
class TubeGroundTruth:
    """Ground-truth tubes (UCF101-24 / J-HMDB style).

    Attributes:
        labels: class names; tube labels index into it.
        videos: ``{video: {"nframes": int, "width": int, "height": int}}`` in file order.
        tubes: ``{video: [Tube, ...]}`` (every video of ``videos`` has an entry, maybe empty).
    """

    labels: list[str]
    videos: dict[str, dict[str, int]]
    tubes: dict[str, list[Tube]]

    def __len__(self) -> int:
        return sum(len(t) for t in self.tubes.values())

    def video_label_sets(self) -> dict[str, set[int]]:
        """``{video: set of tube label indices}``: the weak video-level supervision."""
        return {v: {t.label for t in self.tubes.get(v, [])} for v in self.videos}
