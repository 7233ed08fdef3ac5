"""Feature stores: the temporal dataset folder and row-aligned box features.

Temporal dataset folder (the layout most current WTAL code uses)::

    DIR/gt.json                                          ActivityNet-style ground truth
                                                         (+ optional per-video "fps")
    DIR/split_train.txt, DIR/split_test.txt              video ids, one per line
    DIR/features/{train,test}/{rgb,flow}/<video>.npy     T x D float per stream
    DIR/fps_dict.json                                    optional {video: fps} of the features
    DIR/meta.json                                        optional {"snippet": {"frames_per_snippet", "fps"}, ...}

Snippet timing defaults to 16 frames at 25 fps (0.64 s per snippet); ``meta.json`` overrides
it for the dataset, and a per-video ``fps`` (in ``gt.json`` or ``fps_dict.json``) overrides
the rate for one video. :class:`~wsal.structures.SnippetTiming` does every conversion.

Box features are one ``N x D`` float16/float32 ``.npy`` per split whose row ``i`` belongs to
row ``i`` of the proposal file; they are memory-mapped so datasets larger than RAM work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wsal.errors import FormatError
from wsal.io.safe_pickle import load_npy
from wsal.structures import SnippetTiming, TemporalGroundTruth

__all__ = [
    "TemporalFolder",
    "open_temporal_folder",
    "check_features",
    "open_box_features",
    "safe_video_filename",
]

#: Streams whose lengths may differ by this many snippets (I3D RGB vs. flow); longer ones are cut.
STREAM_LENGTH_SLACK = 1


def safe_video_filename(video_id: str) -> str:
    """File-name stem for ``video_id``; rejects ids that would escape the folder.

    ``/`` becomes ``__`` (UCF101-24 ids are ``Class/v_...``); ``..`` components, absolute
    paths, backslashes, NUL and empty ids raise :class:`FormatError`.
    """
    if not video_id or "\x00" in video_id or "\\" in video_id or video_id.startswith("/"):
        raise FormatError(None, f"unsafe video id {video_id!r}")
    parts = video_id.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise FormatError(None, f"unsafe video id {video_id!r}")
    return "__".join(parts)


def check_features(feats: np.ndarray, *, path: str | Path, video: str) -> np.ndarray:
    """Validate one video's snippet features ``(T, D)``: 2-D, real, finite.

    NaN/Inf raise :class:`FormatError` naming the file, the video and the first bad snippet.
    Returns the array as float32.
    """
    if feats.ndim != 2:
        raise FormatError(
            path, f"features of video '{video}' must be T x D, got shape {feats.shape}"
        )
    if not np.issubdtype(feats.dtype, np.floating) and not np.issubdtype(feats.dtype, np.integer):
        raise FormatError(path, f"features of video '{video}' have non-numeric dtype {feats.dtype}")
    out = np.asarray(feats, dtype=np.float32)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise FormatError(
            path,
            f"features of video '{video}' contain NaN/Inf ({int(bad.sum())} snippets, first: snippet {first})",
        )
    return out


@dataclass
class TemporalFolder:
    """An opened temporal dataset folder (see the module docstring for the layout).

    Attributes:
        root: the folder.
        gt: all ground truth of ``gt.json`` (both splits).
        splits: ``{"train": [...], "test": [...]}`` video ids from the split files.
        streams: feature streams used, e.g. ``("rgb", "flow")``.
        timing: dataset-level snippet timing; :meth:`timing_of` gives a video's own.
        video_fps: per-video feature fps overriding ``timing.fps``.
    """

    root: Path
    gt: TemporalGroundTruth
    splits: dict[str, list[str]]
    streams: tuple[str, ...]
    timing: SnippetTiming
    video_fps: dict[str, float] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """Class names (index = label id)."""
        return self.gt.classes

    def feature_path(self, split: str, stream: str, video: str) -> Path:
        """Path of one stream's feature file of one video."""
        return self.root / "features" / split / stream / f"{safe_video_filename(video)}.npy"

    def timing_of(self, video: str) -> SnippetTiming:
        """Snippet timing of ``video`` (dataset default with the video's own fps, if any)."""
        fps = self.video_fps.get(video)
        return self.timing if fps is None else SnippetTiming(self.timing.frames_per_snippet, fps)

    def load_features(self, split: str, video: str) -> np.ndarray:
        """Concatenated stream features ``(T, sum D)`` float32 of one video.

        Streams whose lengths differ by at most ``STREAM_LENGTH_SLACK`` snippets are cut to
        the shortest; larger differences, NaN/Inf and wrong shapes raise FormatError.
        """
        arrays = []
        for stream in self.streams:
            path = self.feature_path(split, stream, video)
            if not path.is_file():
                raise FormatError(
                    path, f"feature file missing for video '{video}' listed in split '{split}'"
                )
            arrays.append(check_features(load_npy(path), path=path, video=video))
        lengths = [a.shape[0] for a in arrays]
        if max(lengths) - min(lengths) > STREAM_LENGTH_SLACK:
            raise FormatError(
                self.feature_path(split, self.streams[0], video).parent.parent,
                f"streams of video '{video}' have different lengths {dict(zip(self.streams, lengths))}",
            )
        t = min(lengths)
        if t == 0:
            raise FormatError(
                self.feature_path(split, self.streams[0], video), f"video '{video}' has no snippets"
            )
        return np.concatenate([a[:t] for a in arrays], axis=1)

    def check(self, split: str) -> None:
        """Fail early if a listed video has no feature file in some stream."""
        for video in self.splits[split]:
            for stream in self.streams:
                path = self.feature_path(split, stream, video)
                if not path.is_file():
                    raise FormatError(
                        path,
                        f"feature file missing for video '{video}' listed in split_{split}.txt",
                    )

    def video_labels(self, split: str) -> np.ndarray:
        """``(V, C)`` float32 multi-hot video-level labels of the videos of ``split`` (in order)."""
        labels = self.gt.video_labels()
        zero = np.zeros(len(self.classes), dtype=np.float32)
        return (
            np.stack([labels.get(v, zero) for v in self.splits[split]])
            if self.splits[split]
            else np.zeros((0, len(self.classes)), np.float32)
        )


def _read_meta_timing(path: Path) -> SnippetTiming:
    if not path.is_file():
        return SnippetTiming()
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        snip = meta.get("snippet", {}) if isinstance(meta, dict) else {}
        return SnippetTiming(int(snip.get("frames_per_snippet", 16)), float(snip.get("fps", 25.0)))
    except json.JSONDecodeError as e:
        raise FormatError(
            path, f"invalid JSON ({e.msg})", where=f"line {e.lineno} column {e.colno}"
        ) from None
    except (TypeError, ValueError) as e:
        raise FormatError(path, f"invalid snippet timing ({e})") from None


def open_temporal_folder(
    root: str | Path,
    *,
    streams: tuple[str, ...] = ("rgb", "flow"),
    splits: tuple[str, ...] = ("train", "test"),
    timing: SnippetTiming | None = None,
) -> TemporalFolder:
    """Open and validate a temporal dataset folder.

    Args:
        root: the dataset folder.
        streams: feature sub-folders to use (concatenated in this order).
        splits: split names; ``split_<name>.txt`` must exist for each.
        timing: dataset-level snippet timing; default from ``meta.json`` or 16 frames at 25 fps.

    Raises:
        FormatError: missing/malformed files, videos of a split absent from ``gt.json``.
    """
    from wsal.io.temporal import read_activitynet_gt, read_fps_dict, read_split_file

    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, "dataset folder does not exist")
    gt_path = root / "gt.json"
    if not gt_path.is_file():
        raise FormatError(gt_path, "ground-truth file missing (expected DIR/gt.json)")
    gt = read_activitynet_gt(gt_path)
    split_lists = {}
    for name in splits:
        path = root / f"split_{name}.txt"
        videos = read_split_file(path)
        unknown = [v for v in videos if v not in gt.subsets]
        if unknown:
            raise FormatError(path, f"{len(unknown)} videos not in gt.json, e.g. '{unknown[0]}'")
        split_lists[name] = videos
    video_fps = dict(gt.fps)
    if (root / "fps_dict.json").is_file():
        video_fps.update(read_fps_dict(root / "fps_dict.json"))
    return TemporalFolder(
        root=root,
        gt=gt,
        splits=split_lists,
        streams=tuple(streams),
        timing=timing or _read_meta_timing(root / "meta.json"),
        video_fps=video_fps,
    )


def open_box_features(path: str | Path, *, rows: int | None = None) -> np.ndarray:
    """Memory-map an ``N x D`` float16/float32 box-feature matrix (row i = proposal row i).

    Nothing is read into RAM until rows are indexed. ``rows`` checks alignment with the
    proposal file. NaN checks happen where rows are read (see the datasets).
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "box feature file missing")
    arr = load_npy(path, mmap_mode="r")
    if arr.ndim != 2:
        raise FormatError(path, f"box features must be N x D, got shape {arr.shape}")
    if arr.dtype not in (np.float16, np.float32, np.float64):
        raise FormatError(path, f"box features must be float16/float32, got {arr.dtype}")
    if rows is not None and arr.shape[0] != rows:
        raise FormatError(
            path,
            f"{arr.shape[0]} feature rows but {rows} proposal rows (row i must match proposal row i)",
        )
    return arr
