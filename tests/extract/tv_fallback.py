"""Test-only: import torchvision, registering a pure-torch ``torchvision::nms`` when the installed
torchvision build's compiled operators do not load on this PyTorch (a CUDA torchvision wheel
on a CPU torch fails with ``operator torchvision::nms does not exist``). Never used by wsal."""

from __future__ import annotations

import sys

import torch

_LIBS: list = []  # keep the fallback library alive


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS (the torchvision operator's contract): kept indices by decreasing score."""
    order = scores.argsort(descending=True)
    b = boxes[order]
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)
    keep = torch.ones(len(b), dtype=torch.bool)
    for i in range(len(b)):  # test-only helper; greedy suppression is sequential
        if keep[i]:
            keep[i + 1 :] &= iou[i, i + 1 :] <= iou_threshold
    return order[keep]


def import_torchvision() -> str | None:
    """Import torchvision (with the fallback if needed); None on success, else the reason."""
    try:
        import torchvision  # noqa: F401
    except ModuleNotFoundError as e:
        return f"torchvision is not installed ({e}); it is an optional extra"
    except RuntimeError as e:
        if "does not exist" not in str(e):
            return f"torchvision cannot be imported ({type(e).__name__}: {e})"
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "FRAGMENT")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl("nms", _nms, "CompositeExplicitAutograd")
        _LIBS.append(lib)
        try:
            import torchvision  # noqa: F401
            import torchvision.ops.boxes as tvb
        except Exception as e2:  # noqa: BLE001
            return f"torchvision cannot be imported even with an nms fallback ({e2})"
        tvb._assert_has_ops = lambda: None  # the fallback provides nms
    return None
