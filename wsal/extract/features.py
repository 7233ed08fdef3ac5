"""Snippet features of videos: encoders, one-pass extraction per video, folders of videos.

Why: ``wsal extract`` must produce the temporal dataset folder the methods read
(``features/<split>/<stream>/<video>.npy``, ``T x D`` per stream, plus ``meta.json`` with the
snippet timing; see ``docs/formats.md``) from raw videos, at scale: videos are decoded once
for every stream in chunks (bounded memory), outputs are written atomically, finished videos
are skipped on restart, a bad file is reported and the batch goes on, and ``torchrun``
ranks (``RANK``/``WORLD_SIZE``) split the video list as ``videos[rank::world]``.

Encoders (:func:`build_encoder`):

* ``i3d``: :class:`~wsal.extract.i3d.I3D` (Carreira & Zisserman, CVPR 2017), 1024-d per
  stream, RGB scaled to ``[-1, 1]``, flow in ``[-1, 1]``; weights from a local checkpoint.
* torchvision names (``r2plus1d_18``, ``r3d_18``, ``s3d``, ``mvit_v2_s``, ``swin3d_t``):
  RGB only, optional extra (:mod:`wsal.extract.tv`).
* ``stats``: per-snippet means and standard deviations of a coarse spatial grid (no weights,
  instant). For tests and smoke runs only: it carries no semantics.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from wsal.errors import FormatError, WsalError
from wsal.extract.decode import Resize, center_crop, iter_frame_chunks
from wsal.extract.flow import FlowFn, FlowState
from wsal.extract.snippets import SnippetAssembler, SnippetSpec
from wsal.io.atomic import save_npy_atomic, write_json_atomic
from wsal.io.features import safe_path_component, safe_video_filename

__all__ = [
    "SnippetEncoder",
    "ModuleEncoder",
    "StatsEncoder",
    "build_encoder",
    "extract_video",
    "extract_videos",
    "ExtractReport",
    "list_videos",
    "shard_of",
    "VIDEO_SUFFIXES",
]

#: 16-frame non-overlapping snippets at 25 fps (the published features).
DEFAULT_SPEC = SnippetSpec()
#: Shorter side 256, no crop (the crop follows flow computation).
SHORT_SIDE_256 = Resize("short_side")

#: File suffixes taken as videos when a folder is given.
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


class SnippetEncoder:
    """Maps snippet windows to vectors.

    Attributes:
        dim: output dimension ``D``.
        stream: ``"rgb"`` (windows ``(B, L, H, W, 3)`` uint8) or ``"flow"`` (``(B, L, H, W, 2)``
            float32 in ``[-1, 1]``).
    """

    dim: int
    stream: str

    def encode(self, clips: np.ndarray) -> np.ndarray:
        """``(B, L, H, W, C)`` windows -> ``(B, D)`` float32."""
        raise NotImplementedError


class ModuleEncoder(SnippetEncoder):
    """A torch module taking ``(B, C, L, H, W)`` float input, run without gradients.

    ``rgb_range``: how uint8 RGB is scaled: ``"pm1"`` -> ``[-1, 1]`` (I3D), ``"unit"`` ->
    ``[0, 1]`` (torchvision backbones normalize inside). Flow passes through unchanged.
    """

    def __init__(self, module: torch.nn.Module, *, stream: str, dim: int, rgb_range: str = "pm1",
                 device: str | torch.device = "cpu"):  # fmt: skip
        self.module = module.to(device).eval()
        self.stream, self.dim, self.rgb_range = stream, dim, rgb_range
        self.device = torch.device(device)

    @torch.no_grad()
    def encode(self, clips: np.ndarray) -> np.ndarray:
        """``(B, L, H, W, C)`` -> ``(B, D)`` float32."""
        x = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device)
        x = x.permute(0, 4, 1, 2, 3).float()
        if self.stream == "rgb":
            x = x / 127.5 - 1.0 if self.rgb_range == "pm1" else x / 255.0
        return self.module(x).float().cpu().numpy()


class StatsEncoder(SnippetEncoder):
    """Means and standard deviations over time of a ``grid x grid`` spatial pooling.

    ``dim = channels * grid * grid * 2``. No weights, deterministic, instant: for tests and
    smoke runs only (no semantic content).
    """

    def __init__(self, *, stream: str = "rgb", grid: int = 2):
        self.stream, self.grid = stream, grid
        self.dim = (3 if stream == "rgb" else 2) * grid * grid * 2

    def encode(self, clips: np.ndarray) -> np.ndarray:
        """``(B, L, H, W, C)`` -> ``(B, D)`` float32."""
        x = torch.from_numpy(np.ascontiguousarray(clips)).float()
        if self.stream == "rgb":
            x = x / 255.0
        b, l, h, w, c = x.shape
        cells = torch.nn.functional.adaptive_avg_pool2d(
            x.permute(0, 1, 4, 2, 3).reshape(b * l, c, h, w), self.grid
        ).reshape(b, l, -1)
        return torch.cat([cells.mean(1), cells.std(1, correction=0)], 1).numpy()


def build_encoder(
    extractor: str,
    stream: str,
    *,
    weights: str | Path | None = None,
    random_init: bool = False,
    width: float = 1.0,
    device: str | torch.device = "cpu",
) -> SnippetEncoder:
    """The encoder ``extractor`` for ``stream`` (see the module docstring).

    Weights are required (a local file) unless ``random_init`` is set (tests, speed
    measurements: random features are meaningless). ``width`` scales I3D channels (tests).
    """
    safe_path_component(stream, "stream")
    if extractor == "stats":
        return StatsEncoder(stream=stream)
    if weights is None and not random_init:
        raise WsalError(
            f"no weights for the {extractor} {stream} stream: give --weights {stream}=PATH "
            "(a local file; nothing is downloaded) or --random-init for a smoke run"
        )
    if extractor == "i3d":
        from wsal.extract.i3d import I3D, STREAM_CHANNELS, load_i3d

        if stream not in STREAM_CHANNELS:
            raise WsalError(f"I3D has no '{stream}' stream; use rgb or flow")
        model = (
            load_i3d(weights, stream, width=width) if weights else I3D(stream=stream, width=width)
        )
        return ModuleEncoder(model, stream=stream, dim=model.dim, device=device)
    from wsal.extract.tv import TORCHVISION_MODELS, build_torchvision_backbone

    if extractor not in TORCHVISION_MODELS:
        names = ", ".join(["i3d", "stats", *TORCHVISION_MODELS])
        raise WsalError(f"unknown extractor '{extractor}'; choose from {names}")
    if stream != "rgb":
        raise WsalError(f"{extractor} is an RGB model; use --streams rgb (or i3d for flow)")
    model = build_torchvision_backbone(extractor, weights)
    return ModuleEncoder(model, stream=stream, dim=model.dim, rgb_range="unit", device=device)


class _StreamState:
    """Per-stream streaming state: optional flow, crop, snippet windows, batched encoding."""

    def __init__(self, encoder: SnippetEncoder, spec: SnippetSpec, crop: int | None,
                 flow: FlowFn | None, batch_size: int):  # fmt: skip
        self.encoder, self.crop, self.batch_size = encoder, crop, batch_size
        self.flow = FlowState(flow) if encoder.stream == "flow" else None
        if self.flow is not None and flow is None:
            raise WsalError("the flow stream needs a flow method (tvl1 or difference)")
        self.snippets = SnippetAssembler(spec)
        self.pending: np.ndarray | None = None  # (n, L, H, W, C) windows not yet encoded
        self.out: list[np.ndarray] = []

    def push(self, frames: np.ndarray | None, *, last: bool = False) -> None:
        """Feed grid frames (None at the end with ``last``) through flow, crop, windows, encoder."""
        if self.flow is not None:
            frames = self.flow.push(frames) if frames is not None else None
            if last:
                tail = self.flow.finish()
                frames = tail if frames is None else np.concatenate([frames, tail])
        if frames is not None and self.crop:
            frames = center_crop(frames, self.crop)
        windows = [self.snippets.push(frames) if frames is not None else None]
        if last:
            windows.append(self.snippets.finish())
        windows = [w for w in ([self.pending] + windows) if w is not None and len(w)]
        self.pending = np.concatenate(windows) if len(windows) > 1 else (windows or [None])[0]
        while self.pending is not None and (
            len(self.pending) >= self.batch_size or (last and len(self.pending))
        ):
            batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
            self.out.append(self.encoder.encode(batch).astype(np.float32))

    def result(self) -> np.ndarray:
        """``(T, D)`` float32 features."""
        if not self.out:
            return np.zeros((0, self.encoder.dim), np.float32)
        return np.concatenate(self.out)


def extract_video(
    path: str | Path,
    encoders: Sequence[SnippetEncoder],
    *,
    spec: SnippetSpec = DEFAULT_SPEC,
    resize: Resize = SHORT_SIDE_256,
    crop: int | None = 224,
    flow: FlowFn | None = None,
    batch_size: int = 8,
    chunk_frames: int = 64,
) -> dict[str, np.ndarray]:
    """Snippet features ``{stream: (T, D) float32}`` of one video, decoded once for all streams.

    Frames are resampled to ``spec.fps``, resized by ``resize`` (shorter side 256 by default;
    flow is computed at that size, as the published features), centre-cropped to ``crop``
    (None: no crop), grouped in windows (:class:`~wsal.extract.snippets.SnippetSpec`) and
    encoded ``batch_size`` windows at a time. Memory stays bounded by one chunk plus one batch.
    Raises :class:`~wsal.errors.FormatError` for unreadable files.
    """
    states = [_StreamState(e, spec, crop, flow, batch_size) for e in encoders]
    chunks = iter_frame_chunks(path, fps=spec.fps, resize=resize, chunk_frames=chunk_frames)
    for chunk in chunks:
        for s in states:
            s.push(chunk.frames)
    for s in states:
        s.push(None, last=True)
    return {e.stream: s.result() for e, s in zip(encoders, states)}


def list_videos(inputs: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """``(video id, path)`` of the inputs: video files, folders (their video files, sorted) or
    ``.txt`` lists (one path per line, relative to the list). The id is the file stem."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        elif item.suffix.lower() == ".txt":
            lines = item.read_text(encoding="utf-8").splitlines()
            found += [item.parent / ln.strip() for ln in lines if ln.strip()]
        else:
            found.append(item)
    seen: dict[str, Path] = {}
    for p in found:
        vid = p.stem
        safe_video_filename(vid)
        if vid in seen and seen[vid] != p:
            raise FormatError(p, f"video id '{vid}' also used by {seen[vid]}")
        seen[vid] = p
    return list(seen.items())


def shard_of(items: Sequence, rank: int | None = None, world: int | None = None) -> list:
    """This process's share ``items[rank::world]``; defaults from ``RANK``/``WORLD_SIZE`` (torchrun)."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", 1)) if world is None else world
    if world < 1 or not 0 <= rank < world:
        raise WsalError(f"invalid RANK={rank} / WORLD_SIZE={world}")
    return list(items[rank::world])


@dataclass
class ExtractReport:
    """What :func:`extract_videos` did in this process.

    Attributes:
        done: videos extracted now; skipped: videos already finished (resume);
        failed: ``{video: error message}``; snippets: snippets extracted now;
        seconds: wall time.
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    snippets: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One paragraph: counts, throughput and the failures."""
        rate = len(self.done) / self.seconds if self.seconds > 0 else 0.0
        srate = self.snippets / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"extracted {len(self.done)} videos ({self.snippets} snippets), skipped "
            f"{len(self.skipped)} finished, {len(self.failed)} failed in {self.seconds:.1f} s "
            f"({rate:.2f} videos/s, {srate:.1f} snippets/s)"
        ]
        lines += [f"  failed: {v}: {msg}" for v, msg in self.failed.items()]
        return "\n".join(lines)


def _feature_paths(out: Path, split: str, streams: Sequence[str], video: str) -> list[Path]:
    """Output files of one video, one per stream."""
    name = safe_video_filename(video, suffix=".npy")
    return [out / "features" / split / s / name for s in streams]


def _write_meta(out: Path, spec: SnippetSpec, info: dict) -> None:
    """Write ``meta.json`` (or check that an existing one records the same snippet timing)."""
    path = out / "meta.json"
    meta = {**spec.meta(), "extract": info}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("snippet", {})
        except (json.JSONDecodeError, AttributeError) as e:
            raise FormatError(path, f"unreadable meta.json ({e})") from None
        new = meta["snippet"]
        keys = ("frames_per_snippet", "fps")
        if any(old.get(k, new[k]) != new[k] for k in keys):
            raise FormatError(path, f"records snippet timing {old}, this extraction uses {new}; "
                              "use another output folder")  # fmt: skip
        return
    write_json_atomic(path, meta, indent=1)


def extract_videos(
    videos: Sequence[tuple[str, Path]],
    out: str | Path,
    encoders: Sequence[SnippetEncoder],
    *,
    split: str = "test",
    spec: SnippetSpec = DEFAULT_SPEC,
    resize: Resize = SHORT_SIDE_256,
    crop: int | None = 224,
    flow: FlowFn | None = None,
    batch_size: int = 8,
    overwrite: bool = False,
    rank: int | None = None,
    world: int | None = None,
    log: Callable[[str], None] = print,
    info: dict | None = None,
) -> ExtractReport:
    """Extract this rank's share of ``videos`` into the temporal dataset folder ``out``.

    Writes ``out/features/<split>/<stream>/<video>.npy`` (atomically, one per stream) and
    ``out/meta.json`` (snippet timing; rank 0). Videos whose every stream file exists are
    skipped unless ``overwrite``. A video that fails is reported in the returned
    :class:`ExtractReport` and the batch goes on.
    """
    from wsal.progress import progress

    out = Path(out)
    safe_path_component(split, "split")
    streams = [e.stream for e in encoders]
    if len(set(streams)) != len(streams):
        raise WsalError(f"streams repeat: {streams}")
    mine = shard_of(videos, rank, world)
    if (int(os.environ.get("RANK", 0)) if rank is None else rank) == 0:
        _write_meta(out, spec, info or {})
    report, t0 = ExtractReport(), time.perf_counter()
    for vid, path in progress(mine, f"extract {split}", total=len(mine)):
        targets = _feature_paths(out, split, streams, vid)
        if not overwrite and all(p.is_file() for p in targets):
            report.skipped.append(vid)
            continue
        try:
            feats = extract_video(path, encoders, spec=spec, resize=resize, crop=crop,
                                  flow=flow, batch_size=batch_size)  # fmt: skip
        except (FormatError, OSError) as e:
            report.failed[vid] = str(e)
            log(f"failed: {vid}: {e}")
            continue
        for target, stream in zip(targets, streams):
            save_npy_atomic(target, feats[stream])
        report.done.append(vid)
        report.snippets += int(feats[streams[0]].shape[0])
    report.seconds = time.perf_counter() - t0
    return report
