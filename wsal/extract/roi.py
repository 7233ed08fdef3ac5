"""RoIAlign in pure PyTorch (bilinear sampling with ``grid_sample``), no torchvision needed.

Why: box features of the keyframe methods are pooled from the backbone's last feature map
inside each person box (RoIAlign, He et al., ICCV 2017 Mask R-CNN; the SlowFast AVA head:
temporal average pool, RoIAlign 7x7, spatial max pool). torchvision's compiled ``roi_align``
is an optional extra that does not load on every machine, so this module samples the same
points: each output bin averages ``sampling_ratio x sampling_ratio`` bilinear samples at
regularly spaced points; with ``aligned=True`` box coordinates are shifted by half a pixel
(pixel centres at ``i + 0.5``), as torchvision's ``aligned=True``. Points more than one pixel
outside the map contribute zero; points within one pixel are clamped to the border, as
torchvision does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["roi_align"]


def _sample_coords(start: torch.Tensor, size: torch.Tensor, bins: int, ratio: int) -> torch.Tensor:
    """``(K, bins * ratio)`` sample positions along one axis (feature-map pixel units)."""
    step = (torch.arange(bins * ratio, dtype=start.dtype, device=start.device) + 0.5) / ratio
    return start[:, None] + step[None, :] * (size / bins)[:, None]


def _clamp_axis(c: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clamp positions to ``[0, n - 1]``; valid = within ``[-1, n]`` (torchvision's rule)."""
    valid = (c >= -1.0) & (c <= n)
    return c.clamp(0, n - 1), valid


def roi_align(
    features: torch.Tensor,
    boxes: torch.Tensor,
    batch_index: torch.Tensor,
    *,
    output_size: int | tuple[int, int] = 7,
    spatial_scale: float = 1.0,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> torch.Tensor:
    """Pool ``features (N, C, H, W)`` inside ``boxes (K, 4)`` x1y1x2y2 (input pixels).

    Args:
        features: feature maps of ``N`` images.
        boxes: ``(K, 4)`` boxes in input-image pixels; ``* spatial_scale`` gives map pixels.
        batch_index: ``(K,)`` int64, the image of each box.
        output_size: bins per side ``(h, w)``.
        spatial_scale: map pixels per input pixel (e.g. 1/32, or ``W_map`` for boxes
            normalized to [0, 1]).
        sampling_ratio: samples per bin and axis (> 0; the adaptive mode is not supported).
        aligned: shift by half a pixel (the corrected RoIAlign).

    Returns:
        ``(K, C, h, w)`` pooled features (same dtype as ``features``).
    """
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    if sampling_ratio <= 0:
        raise ValueError("sampling_ratio must be positive")
    n, c, h, w = features.shape
    k = boxes.shape[0]
    if k == 0:
        return features.new_zeros((0, c, oh, ow))
    b = boxes.to(features.dtype) * spatial_scale - (0.5 if aligned else 0.0)
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    if not aligned:  # legacy behaviour: boxes at least one pixel wide
        bw, bh = bw.clamp(min=1.0), bh.clamp(min=1.0)
    ys, vy = _clamp_axis(_sample_coords(b[:, 1], bh, oh, sampling_ratio), h)
    xs, vx = _clamp_axis(_sample_coords(b[:, 0], bw, ow, sampling_ratio), w)
    # normalized grid for grid_sample with align_corners=True: -1 = pixel 0, +1 = pixel n-1
    gy = ys / max(h - 1, 1) * 2 - 1 if h > 1 else torch.zeros_like(ys)
    gx = xs / max(w - 1, 1) * 2 - 1 if w > 1 else torch.zeros_like(xs)
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    valid = (vy[:, :, None] & vx[:, None, :]).to(features.dtype)  # (K, SH, SW)
    out = features.new_empty((k, c, oh * sampling_ratio, ow * sampling_ratio))
    for i in torch.unique(batch_index).tolist():  # one grid_sample per image: all its boxes
        sel = (batch_index == i).nonzero().flatten()
        g = grid[sel]  # (k_i, SH, SW, 2) -> lay boxes side by side along the width
        g = g.permute(1, 0, 2, 3).reshape(1, g.shape[1], -1, 2)
        s = F.grid_sample(features[i : i + 1], g, mode="bilinear", align_corners=True)
        out[sel] = s.reshape(c, oh * sampling_ratio, len(sel), -1).permute(2, 0, 1, 3)
    out = out * valid[:, None]
    return F.avg_pool2d(out, sampling_ratio)
