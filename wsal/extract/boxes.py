"""Box features of given person detections: backbone clip -> temporal pool -> RoIAlign -> max.

Why: the keyframe methods read one feature row per person proposal (``features/<split>.npy``
row ``i`` = row ``i`` of ``proposals/<split>.csv``; ``docs/formats.md``). Following the
SlowFast AVA head (Feichtenhofer et al., ICCV 2019), a clip of ``clip_frames`` grid frames
centred on each keyframe goes through the backbone (I3D, Carreira & Zisserman, CVPR 2017, by
default), the last feature map is averaged over time, RoIAlign (:func:`~wsal.extract.roi.roi_align`,
pure PyTorch) pools a ``7 x 7`` grid inside each box, and a spatial max gives one vector.

Detections come from an AVA proposals CSV (``video_id,timestamp,x1,y1,x2,y2,score``,
normalized boxes; :func:`wsal.io.ava.read_ava_proposals`) or an ``.npz`` with arrays
``video_ids``, ``timestamps``, ``boxes`` ``(N, 4)`` and ``scores``. Keyframe ``t`` of a video is
at ``t - time_offset`` seconds of its file (AVA's 15-minute clips start at 900 s). Frames
are whole (shorter side resized, never cropped), so normalized boxes stay valid; clip frames
before the start or after the end repeat the first or last frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from wsal.errors import FormatError, WsalError
from wsal.extract.decode import Resize, iter_frame_chunks
from wsal.extract.roi import roi_align
from wsal.io.atomic import save_npy_atomic
from wsal.io.ava import ProposalRows, read_ava_proposals, write_ava_proposals

__all__ = ["read_detections", "BoxFeatureReport", "extract_box_features", "write_keyframe_split"]


def read_detections(path: str | Path) -> ProposalRows:
    """Person detections from an AVA proposals CSV or an ``.npz`` (see the module docstring)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        return read_ava_proposals(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("video_ids", "timestamps", "boxes", "scores")}
    except KeyError as e:
        raise FormatError(
            path, f"missing array {e}; need video_ids, timestamps, boxes, scores"
        ) from None
    except (OSError, ValueError) as e:
        raise FormatError(path, f"cannot read detections ({e})") from None
    boxes = np.asarray(arrays["boxes"], np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise FormatError(path, f"boxes must be finite N x 4, got shape {boxes.shape}")
    try:
        return ProposalRows(arrays["video_ids"], arrays["timestamps"], boxes, arrays["scores"])
    except ValueError as e:
        raise FormatError(path, str(e)) from None


@dataclass
class BoxFeatureReport:
    """Outcome of :func:`extract_box_features`: failed videos (their rows are zero) and timing."""

    failed: dict[str, str] = field(default_factory=dict)
    zero_rows: int = 0
    seconds: float = 0.0


def _clips(path: Path, centres: np.ndarray, clip_frames: int, fps: float, resize: Resize):
    """Yield ``(j, clip (L, H, W, 3) uint8)`` for keyframe grid indices ``centres`` (sorted
    ascending), streaming the video once and holding at most one clip plus one chunk."""
    half = clip_frames // 2
    buf, buf_start, j = None, 0, 0
    for chunk in iter_frame_chunks(path, fps=fps, resize=resize):
        buf = chunk.frames if buf is None else np.concatenate([buf, chunk.frames])
        end = buf_start + len(buf)
        while j < len(centres) and centres[j] - half + clip_frames <= end:
            yield j, _window(buf, buf_start, centres[j] - half, clip_frames)
            j += 1
        if j == len(centres):
            return  # the rest of the video is not needed
        if j < len(centres):  # drop frames no remaining clip needs
            drop = int(np.clip(centres[j] - half - buf_start, 0, max(len(buf) - 1, 0)))
            buf, buf_start = buf[drop:], buf_start + drop
    while buf is not None and j < len(centres):
        yield j, _window(buf, buf_start, centres[j] - half, clip_frames)
        j += 1


def _window(buf: np.ndarray, buf_start: int, first: int, length: int) -> np.ndarray:
    """Frames ``first .. first+length-1`` of the buffer, indices clamped to what it holds."""
    idx = np.clip(np.arange(first, first + length) - buf_start, 0, len(buf) - 1)
    return buf[idx]


@torch.no_grad()
def _pool_boxes(backbone, clip: np.ndarray, boxes: np.ndarray, rgb_range: str,
                output_size: int, device) -> np.ndarray:  # fmt: skip
    """``(M, C)`` features of normalized ``boxes (M, 4)`` in ``clip (L, H, W, 3)``."""
    x = torch.from_numpy(np.ascontiguousarray(clip)).to(device).permute(3, 0, 1, 2)[None].float()
    x = x / 127.5 - 1.0 if rgb_range == "pm1" else x / 255.0
    fmap = backbone.feature_map(x).mean(dim=2)  # (1, C, H', W'): temporal average pool
    h, w = fmap.shape[-2:]
    scale = torch.tensor([w, h, w, h], dtype=fmap.dtype, device=fmap.device)
    b = torch.as_tensor(boxes, dtype=fmap.dtype, device=fmap.device) * scale
    pooled = roi_align(fmap, b, torch.zeros(len(b), dtype=torch.int64, device=fmap.device),
                       output_size=output_size)  # fmt: skip
    return pooled.amax(dim=(2, 3)).float().cpu().numpy()


def extract_box_features(
    proposals: ProposalRows,
    videos: dict[str, Path],
    backbone: torch.nn.Module,
    *,
    dim: int,
    rgb_range: str = "pm1",
    clip_frames: int = 32,
    fps: float = 25.0,
    short_side: int = 256,
    output_size: int = 7,
    time_offset: float = 0.0,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] = print,
) -> tuple[np.ndarray, BoxFeatureReport]:
    """``(N, dim)`` float32 features, row ``i`` for proposal row ``i``, and a report.

    ``backbone.feature_map(x (1, 3, L, H, W))`` must return ``(1, dim, T', H', W')``.
    Rows of videos that cannot be decoded stay zero and are listed in the report; a video id
    without a file raises :class:`~wsal.errors.WsalError` before any work.
    """
    from wsal.progress import progress

    missing = sorted(set(proposals.video_ids.tolist()) - set(videos))
    if missing:
        raise WsalError(f"{len(missing)} proposal videos have no video file, e.g. '{missing[0]}'")
    out = np.zeros((len(proposals), dim), np.float32)
    report, t0 = BoxFeatureReport(), time.perf_counter()
    resize = Resize("short_side", short_side, min(short_side, 224))
    backbone = backbone.to(device).eval()
    for vid in progress(list(dict.fromkeys(proposals.video_ids.tolist())), "box features"):
        rows = np.flatnonzero(proposals.video_ids == vid)
        stamps, inv = np.unique(proposals.timestamps[rows], return_inverse=True)
        by_kf = rows[np.argsort(inv, kind="stable")]  # rows grouped by keyframe
        kf_start = np.searchsorted(np.sort(inv), np.arange(len(stamps) + 1))
        centres = np.round((stamps - time_offset) * fps).astype(np.int64)
        try:
            for j, clip in _clips(videos[vid], centres, clip_frames, fps, resize):
                sel = by_kf[kf_start[j] : kf_start[j + 1]]
                boxes = proposals.boxes.xyxy[sel]
                out[sel] = _pool_boxes(backbone, clip, boxes, rgb_range, output_size, device)
        except FormatError as e:
            out[rows] = 0.0
            report.failed[vid] = str(e)
            report.zero_rows += len(rows)
            log(f"failed: {vid}: {e} ({len(rows)} rows left zero)")
    report.seconds = time.perf_counter() - t0
    return out, report


def write_keyframe_split(
    root: str | Path, split: str, proposals: ProposalRows, feats: np.ndarray
) -> None:
    """Write ``root/proposals/<split>.csv`` and the row-aligned ``root/features/<split>.npy``."""
    from wsal.io.features import safe_path_component

    root = Path(root)
    safe_path_component(split, "split")
    if len(feats) != len(proposals):
        raise ValueError("features and proposals differ in rows")
    p = proposals
    write_ava_proposals(
        root / "proposals" / f"{split}.csv", p.video_ids, p.timestamps, p.boxes, p.scores
    )
    save_npy_atomic(root / "features" / f"{split}.npy", feats.astype(np.float32))
