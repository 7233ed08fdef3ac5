"""Person boxes at keyframes from a torchvision detector (optional extra; imported lazily).

Why: ``wsal extract boxes`` needs person proposals; AVA ships them, but for new videos a
person detector must produce them (the AVA baselines use a COCO Faster R-CNN, keeping person
boxes above a score threshold). torchvision is an optional dependency
(``pip install 'wsal[extract]'``) whose compiled operators must match the installed PyTorch;
nothing in the core imports it, and :func:`build_person_detector` raises a clear
:class:`~wsal.errors.WsalError` when it cannot be imported. Weights come only from a local
file (a torchvision state dict saved on a machine with network); nothing is downloaded.

:func:`detect_persons` works with any module following torchvision's detection interface
(``model(list of (3, H, W) float images in [0, 1]) -> list of {"boxes" (n, 4) pixels x1y1x2y2,
"labels" (n,), "scores" (n,)}``): it decodes each video once in chunks, takes the frames at the
keyframe times (every ``every`` seconds, timestamps ``time_offset + k * every``), runs the
detector in batches and keeps label ``person_label`` with score >= ``threshold``; boxes are
normalized by the frame size (the AVA proposals layout).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsal.errors import FormatError, WsalError
from wsal.extract.tv import torchvision_module
from wsal.io.ava import ProposalRows

__all__ = ["TORCHVISION_DETECTORS", "build_person_detector", "detect_persons"]

#: torchvision detection models (COCO: person = label 1) usable with local weights.
TORCHVISION_DETECTORS = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "retinanet_resnet50_fpn",
    "fcos_resnet50_fpn",
)


def _detection_models():
    """``torchvision.models.detection`` or a WsalError explaining the optional extra."""
    return torchvision_module(
        "models.detection",
        "a torchvision person detector",
        "or give person boxes with --detections FILE (CSV or .npz)",
    )


def build_person_detector(name: str, weights: str | Path, *, num_classes: int = 91) -> nn.Module:
    """torchvision detector ``name`` (see :data:`TORCHVISION_DETECTORS`) with local ``weights``.

    The state dict is read with ``weights_only=True`` and loaded strictly; the model is
    returned in eval mode. No weights are ever downloaded. ``num_classes``: 91 for the COCO
    checkpoints (person = 1).
    """
    if name not in TORCHVISION_DETECTORS:
        raise WsalError(
            f"unknown detector '{name}'; choose from {', '.join(TORCHVISION_DETECTORS)}"
        )
    path = Path(weights)
    if not path.is_file():
        raise FormatError(path, "detector weights not found (weights are never downloaded)")
    model = getattr(_detection_models(), name)(
        weights=None, weights_backbone=None, num_classes=num_classes
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, OSError, ValueError) as e:
        raise FormatError(path, f"cannot load {name} weights ({e})") from None
    return model.eval()


@torch.no_grad()
def detect_persons(
    videos: dict[str, Path],
    detector: nn.Module,
    *,
    seconds: float | None = None,
    every: float = 1.0,
    time_offset: float = 0.0,
    fps: float = 25.0,
    threshold: float = 0.8,
    person_label: int = 1,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] = print,
) -> tuple[ProposalRows, dict[str, str]]:
    """Person proposals of ``videos`` at keyframes every ``every`` s (see the module docstring).

    Keyframe ``k`` of a video is grid frame ``round(k * every * fps)`` with AVA timestamp
    ``time_offset + k * every`` (integer seconds); ``seconds`` limits the decoded length.
    Returns ``(proposals, failed {video: message})``; a video that cannot be decoded is
    reported and skipped.
    """
    from wsal.extract.decode import Resize, iter_frame_chunks

    if every <= 0 or every * fps < 1:
        raise WsalError(f"keyframe spacing {every} s is below one frame at {fps} fps")
    detector = detector.to(device).eval()
    cols: dict[str, list] = {"v": [], "t": [], "b": [], "s": []}
    failed: dict[str, str] = {}
    for vid, path in videos.items():
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        step = every * fps
        try:
            for chunk in iter_frame_chunks(path, fps=fps, resize=Resize("full"),
                                           max_seconds=seconds):  # fmt: skip
                a, n = chunk.start, len(chunk.frames)
                ks = np.arange(np.ceil(a / step - 1e-9), np.ceil((a + n) / step - 1e-9))
                ks = ks[np.round(ks * step).astype(np.int64) < a + n].astype(np.int64)
                if ks.size == 0:
                    continue
                frames = chunk.frames[np.round(ks * step).astype(np.int64) - a]
                found += _detect(detector, frames, ks, batch_size, device, threshold, person_label)
        except FormatError as e:
            failed[vid] = str(e)
            log(f"failed: {vid}: {e}")
            continue
        for ks, boxes, scores in found:
            cols["v"] += [vid] * len(ks)
            cols["t"].append(np.round(time_offset + ks * every).astype(np.int64))
            cols["b"].append(boxes)
            cols["s"].append(scores)
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape)  # noqa: E731
    rows = ProposalRows(cols["v"], cat(cols["t"], 0).astype(np.int64), cat(cols["b"], (0, 4)),
                        cat(cols["s"], 0))  # fmt: skip
    return rows, failed


def _detect(detector: nn.Module, frames: np.ndarray, ks: np.ndarray, batch_size: int, device,
            threshold: float, person_label: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """``[(keyframe index per box, normalized boxes (n, 4), scores (n,))]`` of ``frames``."""
    h, w = frames.shape[1:3]
    scale = torch.tensor([w, h, w, h], dtype=torch.float32)
    out = []
    for a in range(0, len(frames), batch_size):  # one forward per batch of images
        x = torch.from_numpy(np.ascontiguousarray(frames[a : a + batch_size])).to(device)
        images = list(x.permute(0, 3, 1, 2).float().div_(255.0))
        for k, det in zip(ks[a : a + batch_size], detector(images)):
            keep = (det["labels"] == person_label) & (det["scores"] >= threshold)
            boxes = (det["boxes"][keep].float().cpu() / scale).clamp_(0, 1).numpy()
            scores = det["scores"][keep].float().cpu().numpy().astype(np.float64)
            out.append((np.full(len(boxes), k, np.int64), boxes.astype(np.float64), scores))
    return out
