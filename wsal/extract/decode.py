"""Video decoding with PyAV: constant-rate resampling, rotation, resizing, streaming in chunks.

Why: snippet features are defined on a fixed frame grid (25 fps in the published THUMOS14 /
ActivityNet I3D features, Carreira & Zisserman, CVPR 2017 backbone), while real files have
any rate, variable frame rates and rotation metadata. :func:`iter_frame_chunks` turns any
file FFmpeg reads into frames on the grid ``t_k = k / fps`` (seconds from the first frame):
target frame ``k`` is the source frame *displayed* at ``t_k`` (the last one whose timestamp is
``<= t_k``), so a variable-frame-rate file is resampled by its timestamps, not by frame counts.
The grid covers ``[0, duration)`` where ``duration`` is the end of the last source frame.

Frames come in chunks of at most ``chunk_frames`` frames, so memory is bounded by one chunk
whatever the video length (a 2-hour video never sits in memory).

Rotation: the display matrix (side data, :attr:`av.VideoFrame.rotation`, counter-clockwise
degrees) or, for older files, the ``rotate`` stream tag (clockwise degrees) is applied, so
frames are upright as a player shows them.

Resizing (:class:`Resize`): ``"center_crop"`` (shorter side 256, then a centre 224 x 224 crop:
the I3D evaluation protocol), ``"short_side"`` (shorter side 256, no crop: box features and
optical flow before cropping) or ``"full"`` (frames as decoded, after rotation).

Unreadable input (not a video, corrupt, truncated, zero length, audio only) raises
:class:`~wsal.errors.FormatError` naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from wsal.errors import FormatError

__all__ = [
    "Resize",
    "FrameChunk",
    "VideoInfo",
    "probe_video",
    "iter_frame_chunks",
    "center_crop",
    "resized_shape",
]

#: Timestamps within this fraction of a grid step of a grid time count as on it (millisecond
#: time bases round frame times, e.g. 59.967 s + 1/30 s = 60.0003 s must end at frame 1500).
_GRID_TOLERANCE = 0.05

ResizeMode = Literal["center_crop", "short_side", "full"]


@dataclass(frozen=True)
class Resize:
    """How decoded frames are resized.

    Attributes:
        mode: ``"center_crop"`` (shorter side ``short_side`` then a centre ``crop`` square),
            ``"short_side"`` (shorter side ``short_side``, aspect ratio kept) or ``"full"``.
        short_side: target length of the shorter side in pixels (I3D: 256).
        crop: side of the centre crop in pixels (I3D: 224).
    """

    mode: ResizeMode = "center_crop"
    short_side: int = 256
    crop: int = 224

    def __post_init__(self) -> None:
        if self.mode not in ("center_crop", "short_side", "full"):
            raise ValueError(f"unknown resize mode {self.mode!r}")
        if self.short_side <= 0 or self.crop <= 0 or self.crop > self.short_side:
            raise ValueError(f"invalid sizes: short side {self.short_side}, crop {self.crop}")


@dataclass
class FrameChunk:
    """Consecutive frames on the target grid.

    Attributes:
        frames: ``(N, H, W, 3)`` uint8 RGB, upright.
        start: grid index of ``frames[0]`` (frame ``k`` is at ``k / fps`` seconds).
        fps: the grid rate.
    """

    frames: np.ndarray
    start: int
    fps: float

    @property
    def times(self) -> np.ndarray:
        """``(N,)`` float64 seconds of the frames (from the first frame of the video)."""
        return (self.start + np.arange(len(self.frames))) / self.fps


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (before decoding it).

    Attributes:
        path: the file.
        width, height: upright frame size in pixels (rotation applied).
        rotation: counter-clockwise degrees applied to decoded frames (0, 90, 180, 270).
        duration: container duration in seconds, or NaN when unknown.
        average_fps: the container's average frame rate, or NaN when unknown.
    """

    path: Path
    width: int
    height: int
    rotation: int
    duration: float
    average_fps: float


def _open(path: Path):
    """Open ``path`` with PyAV; FormatError (naming the file) when it is not a readable video."""
    import av

    if not path.is_file():
        raise FormatError(path, "video file not found")
    if path.stat().st_size == 0:
        raise FormatError(path, "empty file (zero bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as e:  # type: ignore[attr-defined]
        raise FormatError(path, f"cannot open video ({e})") from None
    if not container.streams.video:
        container.close()
        raise FormatError(path, "no video stream (audio-only or data file)")
    return container


def _tag_rotation(stream) -> int:
    """Counter-clockwise degrees from the legacy ``rotate`` tag (which is clockwise)."""
    tag = stream.metadata.get("rotate")
    try:
        return (-int(float(tag))) % 360 if tag else 0
    except ValueError:
        return 0


def _quarter_turns(degrees: float) -> int:
    """Counter-clockwise quarter turns nearest to ``degrees`` (0..3)."""
    return int(round(float(degrees) / 90.0)) % 4


def probe_video(path: str | Path) -> VideoInfo:
    """Read the container header and the first frame's rotation; FormatError if unreadable."""
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rotation = _tag_rotation(stream)
        try:
            for frame in container.decode(stream):
                rotation = _frame_rotation(frame, rotation)
                break
        except av.FFmpegError as e:  # type: ignore[attr-defined]
            raise FormatError(path, f"cannot decode video ({e})") from None
        w, h = stream.codec_context.width, stream.codec_context.height
        turns = _quarter_turns(rotation)
        if turns % 2:
            w, h = h, w
        duration = float(container.duration) / av.time_base if container.duration else float("nan")
        rate = float(stream.average_rate) if stream.average_rate else float("nan")
        return VideoInfo(path, int(w), int(h), 90 * turns, duration, rate)
    finally:
        container.close()


def _frame_rotation(frame, fallback: int) -> int:
    """Counter-clockwise rotation of ``frame`` from its display matrix, else ``fallback``."""
    rot = getattr(frame, "rotation", 0) or 0
    return int(rot) if rot else fallback


def resized_shape(height: int, width: int, resize: Resize) -> tuple[int, int]:
    """``(h, w)`` after scaling the shorter side to ``resize.short_side`` (``"full"``: unchanged)."""
    if resize.mode == "full":
        return height, width
    scale = resize.short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre ``size x size`` crop of ``frames (..., H, W, C)``; sides shorter than ``size`` are kept."""
    h, w = frames.shape[-3], frames.shape[-2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return frames[..., top : top + size, left : left + size, :]


def _to_rgb(frame, resize: Resize, turns: int) -> np.ndarray:
    """One decoded frame -> ``(H, W, 3)`` uint8 RGB, resized (swscale, bilinear) and upright."""
    h, w = frame.height, frame.width
    uh, uw = (w, h) if turns % 2 else (h, w)  # upright size
    th, tw = resized_shape(uh, uw, resize)
    if turns % 2:
        th, tw = tw, th  # resize in the stored orientation, rotate after
    if (th, tw) != (h, w):
        from av.video.reformatter import Interpolation

        arr = frame.to_ndarray(
            format="rgb24", width=tw, height=th, interpolation=Interpolation.BILINEAR
        )
    else:
        arr = frame.to_ndarray(format="rgb24")
    if turns:
        arr = np.ascontiguousarray(np.rot90(arr, k=turns))
    if resize.mode == "center_crop":
        arr = center_crop(arr, resize.crop)
    return arr


def _frame_time(frame, stream) -> float | None:
    """Presentation time of ``frame`` in seconds, or None when it has no timestamp."""
    pts = frame.pts if frame.pts is not None else frame.dts
    if pts is None:
        return None
    return float(pts * stream.time_base)


def iter_frame_chunks(
    path: str | Path,
    *,
    fps: float = 25.0,
    resize: Resize | None = None,
    chunk_frames: int = 64,
    max_seconds: float | None = None,
) -> Iterator[FrameChunk]:
    """Frames of ``path`` resampled to ``fps`` (by timestamps), upright, resized, in chunks.

    Args:
        path: any file FFmpeg reads.
        fps: target rate of the frame grid (25 for the published I3D features).
        resize: see :class:`Resize`; default: shorter side 256 + centre crop 224.
        chunk_frames: frames per yielded chunk (bounds memory).
        max_seconds: stop after this many seconds of video (None: all).

    Yields:
        :class:`FrameChunk` in order; their ``start`` indices are contiguous from 0.

    Raises:
        FormatError: unreadable, corrupt, truncated-beyond-repair or frameless files.
    """
    import av

    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive and finite, got {fps}")
    path, resize = Path(path), resize or Resize()
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from _resample(
            container, stream, path, fps, resize, max(1, chunk_frames), max_seconds
        )
    except av.FFmpegError as e:  # type: ignore[attr-defined]
        raise FormatError(path, f"cannot decode video ({e})") from None
    finally:
        container.close()


def _resample(container, stream, path, fps, resize, chunk_frames, max_seconds):
    """The resampling loop of :func:`iter_frame_chunks` (see its docstring)."""
    tag_rot = _tag_rotation(stream)
    buf: list[np.ndarray] = []
    next_k, start, t0 = 0, 0, None
    prev, prev_t, last_dt = None, 0.0, 1.0 / fps
    limit = math.inf if max_seconds is None else max_seconds
    for frame in container.decode(stream):
        t = _frame_time(frame, stream)
        if t0 is None:
            t0 = 0.0 if t is None else t
        t = prev_t + last_dt if t is None else t - t0
        if prev is not None and t <= prev_t:  # out-of-order or duplicate timestamp: skip
            continue
        if prev is not None:
            last_dt = t - prev_t
            next_k = _fill(buf, prev, next_k, min(t, limit), fps)
        prev = _to_rgb(frame, resize, _quarter_turns(_frame_rotation(frame, tag_rot)))
        prev_t = t
        while len(buf) >= chunk_frames:
            yield FrameChunk(np.stack(buf[:chunk_frames]), start, fps)
            del buf[:chunk_frames]
            start += chunk_frames
        if t >= limit:
            break
    if prev is None:
        raise FormatError(path, "no decodable video frame (zero-length or corrupt file)")
    end = prev_t + (_frame_duration(stream) or last_dt)
    next_k = _fill(buf, prev, next_k, min(end, limit), fps)
    if next_k == 0:  # a single frame shorter than one grid step: keep it
        buf.append(prev)
    for i in range(0, len(buf), chunk_frames):
        yield FrameChunk(np.stack(buf[i : i + chunk_frames]), start + i, fps)


def _fill(buf: list[np.ndarray], frame: np.ndarray, next_k: int, until: float, fps: float) -> int:
    """Append ``frame`` for every grid time ``k / fps < until`` from ``next_k``; new ``next_k``."""
    stop = math.ceil(until * fps - _GRID_TOLERANCE)
    for _ in range(next_k, stop):
        buf.append(frame)
    return max(next_k, stop)


def _frame_duration(stream) -> float | None:
    """Nominal frame duration in seconds from the stream's average rate (None when unknown)."""
    rate = stream.average_rate or stream.guessed_rate
    return 1.0 / float(rate) if rate else None
