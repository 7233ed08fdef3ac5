"""I3D: the inflated Inception-v1 of Carreira & Zisserman (CVPR 2017), in plain PyTorch.

Why: the published THUMOS14 / ActivityNet WTAL features are 1024-d I3D vectors per
16-frame snippet, one network per stream (RGB, 3 channels in ``[-1, 1]``; TV-L1 optical
flow, 2 channels in ``[-1, 1]``), taken after the last Inception block (``Mixed_5c``) and
averaged over time and space. Features of new videos are comparable only when the same
network and weights are used, so this module reproduces the architecture with TensorFlow
"SAME" padding, batch norm with ``eps = 1e-3`` and parameter names equal to those of the widely
used public PyTorch conversion of the Kinetics checkpoints (``rgb_imagenet.pt``,
``flow_imagenet.pt``): ``Conv3d_1a_7x7.conv3d.weight``, ``Conv3d_1a_7x7.bn.running_mean``,
``Mixed_3b.b1a.conv3d.weight``, ..., ``logits.conv3d.weight``.

Layer list (channel counts as in the paper's Inception-v1): stem ``Conv3d_1a_7x7`` (stride 2),
``MaxPool3d_2a_3x3`` (1x3x3 / 1x2x2), ``Conv3d_2b_1x1``, ``Conv3d_2c_3x3``, ``MaxPool3d_3a_3x3``,
``Mixed_3b``, ``Mixed_3c``, ``MaxPool3d_4a_3x3`` (3x3x3 / 2), ``Mixed_4b``-``Mixed_4f``,
``MaxPool3d_5a_2x2`` (2x2x2 / 2), ``Mixed_5b``, ``Mixed_5c`` -> 1024 channels.

``width`` scales every channel count (tests use small widths; only ``width=1`` matches the
public checkpoints). Weights come only from local files (:func:`load_i3d`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsal.errors import FormatError

__all__ = ["I3D", "load_i3d", "I3D_BLOCKS", "STREAM_CHANNELS"]

Stream = Literal["rgb", "flow"]

#: Input channels per stream: RGB frames and (dx, dy) optical flow.
STREAM_CHANNELS = {"rgb": 3, "flow": 2}

#: Inception blocks: name -> (b0, b1a, b1b, b2a, b2b, b3b) output channels (Inception-v1).
I3D_BLOCKS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}

Triple = tuple[int, int, int]


def _same_pad(size: Triple, kernel: Triple, stride: Triple) -> list[int]:
    """TensorFlow "SAME" padding of a ``(T, H, W)`` input as ``F.pad`` arguments (W first)."""
    pads: list[int] = []
    for s, k, st in reversed(list(zip(size, kernel, stride))):
        total = max(k - st, 0) if s % st == 0 else max(k - s % st, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm3d (eps 1e-3) + ReLU with "SAME" padding.

    Submodule names ``conv3d`` and ``bn`` match the public checkpoints. The classifier uses
    ``bn=False, bias=True, relu=False``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        bn: bool = True,
        bias: bool = False,
        relu: bool = True,
    ):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, C', T', H', W')``."""
        x = F.pad(x, _same_pad(tuple(x.shape[2:]), self.kernel, self.stride))
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling with "SAME" zero padding (inputs are post-ReLU, so zeros never win)."""

    def __init__(self, kernel: Triple, stride: Triple):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> pooled."""
        x = F.pad(x, _same_pad(tuple(x.shape[2:]), self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated: 1x1; 1x1->3x3; 1x1->3x3; 3x3 max pool->1x1."""

    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]):
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], kernel=(3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], kernel=(3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5])
        self.out_channels = out[0] + out[2] + out[4] + out[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, out_channels, T, H, W)``."""
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1
        )


def _scaled(channels: tuple[int, ...], width: float) -> tuple[int, ...]:
    """Channel counts times ``width`` (at least 1 each)."""
    return tuple(max(1, math.ceil(c * width)) for c in channels)


class I3D(nn.Module):
    """Inflated Inception-v1 (Carreira & Zisserman, CVPR 2017) for one stream.

    Args:
        stream: ``"rgb"`` (3 input channels) or ``"flow"`` (2).
        num_classes: size of the ``logits`` classifier kept for checkpoint compatibility
            (400 for Kinetics); None drops it (feature extraction needs none).
        width: channel multiplier (1.0 = the published network; smaller for fast tests).

    ``forward(x)``: ``x (B, C, T, H, W)`` float in ``[-1, 1]`` -> ``(B, dim)`` features, the
    ``Mixed_5c`` map averaged over time and space (for 16 x 224 x 224 inputs the same as the
    published 2x7x7 average pool). :meth:`feature_map` returns the map itself.
    """

    def __init__(
        self, *, stream: Stream = "rgb", num_classes: int | None = None, width: float = 1.0
    ):
        super().__init__()
        if stream not in STREAM_CHANNELS:
            raise ValueError(f"unknown I3D stream {stream!r}; use 'rgb' or 'flow'")
        self.stream, self.width = stream, width
        c64, c192 = _scaled((64, 192), width)
        self.Conv3d_1a_7x7 = Unit3D(
            STREAM_CHANNELS[stream], c64, kernel=(7, 7, 7), stride=(2, 2, 2)
        )
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(c64, c64)
        self.Conv3d_2c_3x3 = Unit3D(c64, c192, kernel=(3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        channels = c192
        for name, out in I3D_BLOCKS.items():
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
            block = InceptionBlock(channels, _scaled(out, width))
            setattr(self, name, block)
            channels = block.out_channels
        self.dim = channels
        self.logits = (
            Unit3D(channels, num_classes, bn=False, bias=True, relu=False) if num_classes else None
        )

    _ORDER = (
        "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3",
        "MaxPool3d_3a_3x3", "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c",
        "Mixed_4d", "Mixed_4e", "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c",
    )  # fmt: skip

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``Mixed_5c`` map ``(B, dim, T/8, H/32, W/32)`` (ceil)."""
        for name in self._ORDER:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` in ``[-1, 1]`` -> ``(B, dim)`` pooled features."""
        return self.feature_map(x).mean(dim=(2, 3, 4))


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``module.`` prefix (checkpoints saved from ``DataParallel``)."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return state


def load_i3d(
    path: str | Path,
    stream: Stream,
    *,
    width: float = 1.0,
    map_location: str | torch.device = "cpu",
) -> I3D:
    """An :class:`I3D` for ``stream`` with the weights of the local checkpoint ``path``.

    Accepts a plain state dict with the public parameter names (or one under a ``state_dict``
    or ``model`` key, or with a ``module.`` prefix). Loading is strict: missing or unexpected
    keys and shape mismatches raise :class:`FormatError` listing them. ``logits.*`` keys are
    accepted and ignored (features need no classifier); missing ``num_batches_tracked``
    buffers (checkpoints from old PyTorch) are fine. Loaded with ``weights_only=True``.
    The model is returned in eval mode.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "I3D checkpoint not found (weights are never downloaded; "
                          "see docs/extract.md)")  # fmt: skip
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for bad files
        raise FormatError(path, f"cannot read checkpoint ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict", state.get("model")), dict):
        state = state.get("state_dict", state.get("model"))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FormatError(path, "expected a state dict of tensors")
    state = {k: v for k, v in _strip_prefix(state).items() if not k.startswith("logits.")}
    model = I3D(stream=stream, width=width)
    _check_keys(path, model, state)
    model.load_state_dict(state, strict=False)
    return model.eval()


def _check_keys(path: Path, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """FormatError listing missing/unexpected keys or wrong shapes (tracking counters excepted)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = []
    for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if keys:
            more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
            problems.append(f"{len(keys)} {what} key(s): {', '.join(keys[:8])}{more}")
    if problems:
        stream = getattr(model, "stream", "?")
        raise FormatError(path, f"not an I3D {stream} checkpoint: " + "; ".join(problems))
