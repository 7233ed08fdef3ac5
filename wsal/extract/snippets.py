"""Snippet sampling: frames on the fixed-rate grid -> fixed-length windows, streamed.

Why: WTAL features are one vector per snippet of ``frames`` consecutive frames; the published
THUMOS14 / ActivityNet I3D features (Carreira & Zisserman, CVPR 2017 backbone) use
non-overlapping 16-frame snippets at 25 fps, i.e. one vector per 0.64 s. Window ``k`` starts
at grid frame ``k * stride`` and covers ``frames`` frames; with the default
``stride == frames`` the windows tile the video and snippet ``k`` covers
``[k * s, (k + 1) * s)`` seconds with ``s = frames / fps``
(:class:`~wsal.structures.SnippetTiming`).

A video of ``n`` grid frames gives ``ceil(n / stride)`` snippets. The last, partial window is
padded by repeating the last frame (so every snippet has ``frames`` frames and the tail of
the video is not dropped); its vector therefore describes a shorter, partly frozen clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wsal.structures import SnippetTiming

__all__ = ["SnippetSpec", "SnippetAssembler"]


@dataclass(frozen=True)
class SnippetSpec:
    """Snippet length, stride and frame rate of extracted features.

    Attributes:
        frames: frames per window (16 for the published I3D features).
        stride: grid frames between window starts; None = ``frames`` (non-overlapping).
        fps: rate of the frame grid (25 for the published features).
    """

    frames: int = 16
    stride: int | None = None
    fps: float = 25.0

    def __post_init__(self) -> None:
        if self.frames <= 0 or (self.stride is not None and self.stride <= 0):
            raise ValueError(f"invalid snippet length {self.frames} / stride {self.stride}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"invalid snippet fps {self.fps}")

    @property
    def step(self) -> int:
        """Grid frames between consecutive snippets."""
        return self.stride or self.frames

    @property
    def timing(self) -> SnippetTiming:
        """Timing of the features: one snippet every ``step / fps`` seconds."""
        return SnippetTiming(self.step, float(self.fps))

    def num_snippets(self, num_frames: int) -> int:
        """Snippets of a video of ``num_frames`` grid frames (``ceil(n / step)``)."""
        return math.ceil(num_frames / self.step)

    def meta(self) -> dict:
        """The ``meta.json`` record read by :func:`wsal.io.features._read_meta_timing`.

        ``frames_per_snippet`` is the step between snippets (what converts snippet indices to
        seconds); the window length is recorded separately.
        """
        return {
            "snippet": {
                "frames_per_snippet": self.step,
                "fps": float(self.fps),
                "window_frames": self.frames,
                "stride_frames": self.step,
                "last_snippet": "padded by repeating the last frame",
            }
        }


class SnippetAssembler:
    """Turns consecutive frame chunks into snippet windows, holding at most one window + chunk.

    ``push`` takes ``(N, ...)`` frames (any per-frame shape: RGB ``(H, W, 3)`` uint8, flow
    ``(H, W, 2)`` float) and returns the ``(B, frames, ...)`` windows completed so far;
    ``finish`` returns the remaining windows, the last padded by repeating the last frame.
    """

    def __init__(self, spec: SnippetSpec):
        self.spec = spec
        self._buf: np.ndarray | None = None  # frames from grid index self._buf_start on
        self._buf_start = 0
        self._next = 0  # index of the next window
        self._seen = 0  # frames pushed so far

    def push(self, frames: np.ndarray) -> np.ndarray | None:
        """Add ``frames``; return the windows now complete (``(B, L, ...)``) or None."""
        if len(frames) == 0:
            return None
        self._buf = frames if self._buf is None else np.concatenate([self._buf, frames])
        self._seen += len(frames)
        L, S = self.spec.frames, self.spec.step
        n = max(0, (self._seen - L) // S + 1 - self._next)  # windows now complete
        if n == 0:
            return None
        starts = (self._next + np.arange(n)) * S - self._buf_start
        out = self._buf[starts[:, None] + np.arange(L)]  # (n, L, ...) in one gather
        self._next += n
        self._trim()
        return out

    def _trim(self) -> None:
        """Drop buffered frames no future window needs."""
        keep_from = self._next * self.spec.step
        drop = min(max(0, keep_from - self._buf_start), len(self._buf))
        if drop:
            self._buf = self._buf[drop:]
            self._buf_start += drop

    def finish(self) -> np.ndarray | None:
        """The remaining windows (start before the end of the video), padded; or None."""
        if self._buf is None or self._seen == 0:
            return None
        L, S = self.spec.frames, self.spec.step
        n = max(0, -(-self._seen // S) - self._next)  # windows starting before the end
        if n == 0:
            self._buf = None
            return None
        starts = (self._next + np.arange(n)) * S - self._buf_start
        idx = np.minimum(starts[:, None] + np.arange(L), len(self._buf) - 1)  # pad: last frame
        out = self._buf[idx]
        self._next += n
        self._buf = None
        return out
