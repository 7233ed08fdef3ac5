"""torchvision video backbones by name (optional extra; imported lazily).

Why: R(2+1)D / R3D (Tran et al., CVPR 2018), S3D (Xie et al., ECCV 2018), MViT-v2 and
Swin3D are common alternatives to I3D (Carreira & Zisserman, CVPR 2017) for snippet features.
torchvision is an optional dependency (``pip install 'wsal[extract]'``): nothing in the core
imports it, and :func:`build_torchvision_backbone` raises a clear error when it cannot be
imported (e.g. a CUDA-only build on a CPU PyTorch). Weights come only from a local file
(a torchvision state dict, e.g. saved from ``weights.get_state_dict()`` on a machine with
network); nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from wsal.errors import FormatError, WsalError

__all__ = ["TORCHVISION_MODELS", "TorchvisionBackbone", "build_torchvision_backbone"]

#: name -> (pooled feature dim, input mean, input std) of the Kinetics-400 weights.
TORCHVISION_MODELS: dict[str, tuple[int, tuple[float, ...], tuple[float, ...]]] = {
    "r2plus1d_18": (512, (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "r3d_18": (512, (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "s3d": (1024, (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "mvit_v2_s": (768, (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
    "swin3d_t": (768, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def torchvision_module(name: str, purpose: str, alternative: str):
    """``torchvision.<name>`` imported on demand, or a WsalError saying how to get it.

    torchvision is an optional extra and some builds fail at import time (a CUDA-only build
    on a CPU PyTorch raises RuntimeError), so any exception becomes the same clear message:
    ``<purpose> needs torchvision ...; <alternative>``.
    """
    try:
        return importlib.import_module(f"torchvision.{name}")
    except Exception as e:  # noqa: BLE001 - broken builds raise RuntimeError etc.
        raise WsalError(
            f"{purpose} needs torchvision matching your PyTorch: pip install 'wsal[extract]' "
            f"({type(e).__name__}: {e}); {alternative}"
        ) from None


def _video_models():
    """``torchvision.models.video`` or a WsalError explaining the optional extra."""
    return torchvision_module(
        "models.video",
        "torchvision video backbones",
        "the I3D extractor (--extractor i3d) works without it",
    )


class TorchvisionBackbone(nn.Module):
    """A torchvision video classifier with its classification head removed.

    ``forward(x (B, 3, T, H, W))`` with RGB in ``[0, 1]`` -> ``(B, dim)`` pooled features (the
    Kinetics normalization is applied inside). :meth:`feature_map` returns the last
    convolutional map ``(B, C, T', H', W')`` for the ResNet-style and S3D models (box features).
    """

    def __init__(self, name: str, model: nn.Module):
        super().__init__()
        dim, mean, std = TORCHVISION_MODELS[name]
        self.name, self.dim, self.model = name, dim, model
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1, 1), persistent=False)
        if name == "s3d":
            model.classifier = nn.Identity()
        elif name in ("mvit_v2_s", "swin3d_t"):
            model.head = nn.Identity()
        else:
            model.fc = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in [0, 1] -> ``(B, dim)``."""
        out = self.model((x - self.mean) / self.std)
        return out.flatten(2).mean(-1) if out.ndim > 2 else out

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Last convolutional feature map ``(B, C, T', H', W')`` (R3D, R(2+1)D, S3D only)."""
        x = (x - self.mean) / self.std
        m = self.model
        if self.name == "s3d":
            return m.features(x)
        if self.name in ("r3d_18", "r2plus1d_18"):
            x = m.stem(x)
            for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
                x = layer(x)
            return x
        raise WsalError(f"{self.name} has no convolutional feature map for box features")


def build_torchvision_backbone(name: str, weights: str | Path | None) -> TorchvisionBackbone:
    """Build ``name`` (see :data:`TORCHVISION_MODELS`) with weights from the local file ``weights``.

    ``weights=None`` leaves random initialization (tests, speed benchmarks only). The state
    dict is loaded with ``weights_only=True`` and strict key checking.
    """
    if name not in TORCHVISION_MODELS:
        raise WsalError(
            f"unknown torchvision backbone '{name}'; choose from {', '.join(TORCHVISION_MODELS)}"
        )
    model = getattr(_video_models(), name)(weights=None)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FormatError(path, "backbone weights not found (weights are never downloaded)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except (RuntimeError, OSError, ValueError) as e:
            raise FormatError(path, f"cannot load {name} weights ({e})") from None
    return TorchvisionBackbone(name, model).eval()
