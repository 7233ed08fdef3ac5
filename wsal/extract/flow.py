"""Optical flow for the flow stream, computed on the fly per chunk of frames.

Why: the flow stream of I3D (Carreira & Zisserman, CVPR 2017) and of the published THUMOS14 /
ActivityNet features takes TV-L1 optical flow between consecutive frames (25 fps, computed on
grey frames of shorter side 256), with both components clipped to ``[-20, 20]`` pixels and
scaled to ``[-1, 1]``. :func:`tvl1_flow` reproduces that with OpenCV's Dual TV-L1
(``opencv-contrib-python-headless``, the optional ``flow`` extra); a clear error says how to
install it when missing.

:func:`frame_difference_flow` is a cheap proxy (temporal differences of grey levels, no
motion estimation) for smoke tests and benchmarks only: its features are NOT compatible with
published flow features or with flow-stream checkpoints.

Frame ``k`` of the flow stream is the flow from frame ``k`` to frame ``k + 1``; the last frame
of a video repeats the last flow, so the flow stream has as many frames as the RGB stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from wsal.errors import WsalError

__all__ = [
    "FLOW_BOUND",
    "tvl1_flow",
    "frame_difference_flow",
    "RaftFlow",
    "FlowState",
    "flow_method",
]

#: Flow components are clipped to +- this many pixels, then divided by it (-> [-1, 1]).
FLOW_BOUND = 20.0

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _cv2():
    """OpenCV with the contrib ``optflow`` module, or a WsalError saying how to get it."""
    try:
        import cv2  # noqa: PLC0415 - optional extra
    except ImportError as e:
        raise WsalError(
            "TV-L1 optical flow needs OpenCV with contrib modules: "
            "pip install 'wsal[flow]' (opencv-contrib-python-headless); "
            f"import failed: {e}"
        ) from None
    if not hasattr(cv2, "optflow"):
        raise WsalError(
            "the installed OpenCV lacks the contrib 'optflow' module (TV-L1); "
            "install opencv-contrib-python-headless instead of opencv-python(-headless)"
        )
    return cv2


def _grey(frames: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 RGB -> ``(N, H, W)`` float32 luma (ITU-R BT.601)."""
    return frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _scale(flow: np.ndarray) -> np.ndarray:
    """Clip to ``[-FLOW_BOUND, FLOW_BOUND]`` pixels and scale to ``[-1, 1]`` (float32)."""
    return (np.clip(flow, -FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND).astype(np.float32)


def tvl1_flow(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """TV-L1 flow from ``prev (N, H, W, 3)`` to ``nxt (N, H, W, 3)`` uint8: ``(N, H, W, 2)`` in [-1, 1]."""
    cv2 = _cv2()
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    a, b = _grey(prev).astype(np.uint8), _grey(nxt).astype(np.uint8)
    return np.stack([_scale(tvl1.calc(x, y, None)) for x, y in zip(a, b)])


def frame_difference_flow(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """A flow PROXY (not compatible with published features): grey-level differences.

    ``(N, H, W, 3)`` uint8 pairs -> ``(N, H, W, 2)`` float32 in [-1, 1]: channel 0 the
    temporal difference, channel 1 its horizontal gradient. For tests and benchmarks only.
    """
    d = (_grey(nxt) - _grey(prev)) / 255.0
    gx = np.zeros_like(d)
    gx[:, :, 1:] = d[:, :, 1:] - d[:, :, :-1]
    return np.clip(np.stack([d, gx], axis=-1), -1.0, 1.0).astype(np.float32)


class RaftFlow:
    """RAFT optical flow (Teed & Deng, ECCV 2020) through torchvision (optional extra).

    ``RaftFlow(weights)(prev, nxt)``: ``(N, H, W, 3)`` uint8 pairs -> ``(N, H, W, 2)`` float32
    in [-1, 1] (pixels clipped to ``FLOW_BOUND`` and scaled, as TV-L1). ``model`` is
    ``raft_large`` or ``raft_small``; the weights are a local torchvision state dict (nothing is
    downloaded). Frames are padded (edge replication) to multiples of 8, as RAFT needs.
    RAFT flow differs from the TV-L1 flow of the published features: a flow-stream checkpoint
    trained on TV-L1 sees a shifted input distribution.
    """

    def __init__(self, weights: str | Path, *, model: str = "raft_large", iters: int = 12,
                 device: str = "cpu"):  # fmt: skip
        import torch

        from wsal.errors import FormatError
        from wsal.extract.tv import torchvision_module

        of = torchvision_module("models.optical_flow", "RAFT flow", "--flow tvl1 works without it")
        if model not in ("raft_large", "raft_small"):
            raise WsalError(f"unknown RAFT model '{model}'; use raft_large or raft_small")
        path = Path(weights)
        if not path.is_file():
            raise FormatError(path, "RAFT weights not found (weights are never downloaded)")
        net = getattr(of, model)(weights=None)
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, ValueError) as e:
            raise FormatError(path, f"cannot load {model} weights ({e})") from None
        self.net, self.iters, self.device = net.to(device).eval(), iters, device

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow from ``prev`` to ``nxt`` (see the class docstring)."""
        import torch
        import torch.nn.functional as F

        def prep(x: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
            return t.permute(0, 3, 1, 2).float() / 127.5 - 1.0

        a, b = prep(prev), prep(nxt)
        h, w = a.shape[-2:]
        if min(h, w) < 128:
            raise WsalError(f"RAFT needs frames of at least 128 x 128 pixels, got {h} x {w}")
        pad = [0, -w % 8, 0, -h % 8]
        a, b = F.pad(a, pad, mode="replicate"), F.pad(b, pad, mode="replicate")
        with torch.no_grad():
            flow = self.net(a, b, num_flow_updates=self.iters)[-1][..., :h, :w]
        return _scale(flow.permute(0, 2, 3, 1).float().cpu().numpy())


def flow_method(name: str, *, weights: str | Path | None = None, device: str = "cpu") -> FlowFn:
    """``"tvl1"`` (published features; needs OpenCV contrib), ``"raft"`` (torchvision RAFT with
    local ``weights``) or ``"difference"`` (proxy)."""
    if name == "tvl1":
        _cv2()  # fail before decoding anything
        return tvl1_flow
    if name == "raft":
        if weights is None:
            raise WsalError("--flow raft needs --flow-weights PATH (a local RAFT state dict)")
        return RaftFlow(weights, device=device)
    if name == "difference":
        return frame_difference_flow
    raise WsalError(f"unknown flow method '{name}'; use 'tvl1', 'raft' or 'difference'")


class FlowState:
    """Flow of a frame stream fed in chunks; keeps one frame (and one flow) between chunks.

    ``push(frames (N, H, W, 3))`` returns the flows whose next frame is known so far (frame
    ``k`` -> ``k + 1``); ``finish()`` returns the last frame's flow (a repeat of the previous
    flow, or zeros for a one-frame video). In total one flow per frame.
    """

    def __init__(self, fn: FlowFn):
        self.fn = fn
        self._last: np.ndarray | None = None
        self._last_flow: np.ndarray | None = None

    def push(self, frames: np.ndarray) -> np.ndarray | None:
        """Flows ``(M, H, W, 2)`` completed by ``frames``, or None."""
        if len(frames) == 0:
            return None
        seq = frames if self._last is None else np.concatenate([self._last[None], frames])
        self._last = frames[-1]
        if len(seq) < 2:
            return None
        flows = self.fn(seq[:-1], seq[1:])
        self._last_flow = flows[-1]
        return flows

    def finish(self) -> np.ndarray | None:
        """The last frame's flow ``(1, H, W, 2)`` or None when nothing was pushed."""
        if self._last is None:
            return None
        if self._last_flow is None:
            h, w = self._last.shape[:2]
            return np.zeros((1, h, w, 2), np.float32)
        return self._last_flow[None]
