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

W-TALC single-file layout (the THUMOS14 / ActivityNet 1.2 I3D features as downloaded)::

    DIR/<Name>-I3D-JOINTFeatures.npy     object array: per video (T, 2048) float, RGB 1024 + flow 1024
    DIR/<Name>-Annotations/              videoname.npy, subset.npy, segments.npy, labels.npy, ...
    DIR/meta.json                        optional, as above

``open_temporal_folder`` reads it when ``DIR/gt.json`` is absent (see :func:`open_wtalc_folder`):
stream ``rgb`` is columns 0:1024, ``flow`` 1024:2048; split ``train``/``test`` are the
``validation``/``test`` subsets (THUMOS14) or ``training``/``validation`` (ActivityNet 1.2),
and a split may also name a subset of the file directly.

Box features are one ``N x D`` float16/float32 ``.npy`` per split whose row ``i`` belongs to
row ``i`` of the proposal file; they are memory-mapped so datasets larger than RAM work.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from wsal.errors import DataWarning, FormatError
from wsal.io.safe_pickle import load_npy
from wsal.structures import SnippetTiming, TemporalGroundTruth

__all__ = [
    "TemporalFolder",
    "WtalcFolder",
    "open_temporal_folder",
    "open_wtalc_folder",
    "find_wtalc_annotations",
    "wtalc_subset",
    "has_temporal_split",
    "check_features",
    "nonfinite_rows",
    "open_box_features",
    "safe_video_filename",
    "safe_path_component",
]

#: Streams whose lengths may differ by this many snippets (I3D RGB vs. flow); longer ones are cut.
STREAM_LENGTH_SLACK = 1


#: Longest file name most file systems accept (bytes).
MAX_NAME_BYTES = 255


def safe_video_filename(video_id: str, *, suffix: str = "") -> str:
    """File name (stem plus ``suffix``) for ``video_id``; rejects ids that would escape the folder.

    Why: video ids come from user files (split lists, ground truth) and become file names
    under an output or feature folder. ``/`` becomes ``__`` (UCF101-24 ids are
    ``Class/v_...``); empty ids, ``.``/``..``/empty components, absolute paths, backslashes,
    NUL and other control characters, and names longer than 255 bytes raise
    :class:`FormatError`.
    """
    if not isinstance(video_id, str) or not video_id:
        raise FormatError(None, f"unsafe video id {video_id!r}: expected a non-empty string")
    if any(ord(c) < 32 or c == "\x7f" for c in video_id):
        raise FormatError(None, f"unsafe video id {video_id!r}: NUL or control character")
    if "\\" in video_id or video_id.startswith("/"):
        raise FormatError(None, f"unsafe video id {video_id!r}: absolute path or backslash")
    parts = video_id.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise FormatError(None, f"unsafe video id {video_id!r}: empty, '.' or '..' component")
    name = "__".join(parts) + suffix
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise FormatError(None, f"unsafe video id {video_id[:40]!r}...: file name too long")
    return name


def safe_path_component(name: str, what: str) -> str:
    """``name`` if it is usable as one folder or file-name part (a split or stream name).

    Why: split and stream names from configs and the command line become path parts
    (``features/<split>/<stream>/``, ``split_<split>.txt``, ``raw_<split>.npz``); a name with
    a separator, ``..``, NUL or control characters could point outside the folder.
    """
    ok = isinstance(name, str) and name not in ("", ".", "..")
    if not ok or any(ord(c) < 32 or c in "/\\\x7f" for c in name):
        raise FormatError(None, f"unsafe {what} name {name!r}: must be one plain path component")
    return name


NonFinite = Literal["error", "mask"]


def check_features(
    feats: np.ndarray, *, path: str | Path, video: str, nonfinite: NonFinite = "error"
) -> np.ndarray:
    """Validate one video's snippet features ``(T, D)``: 2-D, real, finite.

    NaN/Inf raise :class:`FormatError` naming the file, the video and the first bad snippet;
    with ``nonfinite="mask"`` the bad snippet rows are set to zero instead (and a
    :class:`~wsal.errors.DataWarning` names them; :func:`nonfinite_rows` lists them).
    Returns the array as float32 (a copy when rows were masked).
    """
    return _checked_features(feats, path, video, nonfinite)[0]


def _checked_features(
    feats: np.ndarray, path: str | Path, video: str, nonfinite: NonFinite
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_features` that also returns the ``(K,)`` indices of the masked snippets."""
    if feats.ndim != 2:
        raise FormatError(
            path, f"features of video '{video}' must be T x D, got shape {feats.shape}"
        )
    if not np.issubdtype(feats.dtype, np.floating) and not np.issubdtype(feats.dtype, np.integer):
        raise FormatError(path, f"features of video '{video}' have non-numeric dtype {feats.dtype}")
    with np.errstate(over="ignore"):  # values beyond float32 become Inf, reported below
        out = np.asarray(feats, dtype=np.float32)
    bad = nonfinite_rows(out)  # after the cast: 1e300 in a float64 file is Inf in float32
    if not bad.size:
        return out, bad
    what = f"{bad.size} snippets, first: snippet {int(bad[0])}"
    if nonfinite != "mask":
        raise FormatError(
            path,
            f"features of video '{video}' contain NaN/Inf ({what}); set data.nonfinite=mask "
            "to zero such snippets instead",
        )
    warnings.warn(
        f"{path}: zeroed NaN/Inf features of video '{video}' ({what})", DataWarning, stacklevel=2
    )
    out = out.copy()
    out[bad] = 0.0
    return out, bad


def nonfinite_rows(feats: np.ndarray) -> np.ndarray:
    """``(K,)`` int64 indices of the snippets (rows of ``feats (T, D)``) holding NaN or Inf."""
    return np.flatnonzero(~np.isfinite(feats).all(axis=1))


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
        nonfinite: what :meth:`load_features` does with NaN/Inf snippets: ``"error"`` (raise,
            naming the video and the first bad snippet) or ``"mask"`` (zero them and warn).
        masked: ``{video: (K,) int64}`` snippets zeroed so far in ``"mask"`` mode (the record
            of what was repaired; a training run saves it in ``run.json``).
    """

    root: Path
    gt: TemporalGroundTruth
    splits: dict[str, list[str]]
    streams: tuple[str, ...]
    timing: SnippetTiming
    video_fps: dict[str, float] = field(default_factory=dict)
    nonfinite: NonFinite = "error"
    masked: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """Class names (index = label id)."""
        return self.gt.classes

    def feature_path(self, split: str, stream: str, video: str) -> Path:
        """Path of one stream's feature file of one video."""
        return (
            self.root
            / "features"
            / safe_path_component(split, "split")
            / safe_path_component(stream, "stream")
            / safe_video_filename(video, suffix=".npy")
        )

    def timing_of(self, video: str) -> SnippetTiming:
        """Snippet timing of ``video`` (dataset default with the video's own fps, if any)."""
        fps = self.video_fps.get(video)
        return self.timing if fps is None else SnippetTiming(self.timing.frames_per_snippet, fps)

    def load_features(self, split: str, video: str) -> np.ndarray:
        """Concatenated stream features ``(T, sum D)`` float32 of one video.

        Streams whose lengths differ by at most ``STREAM_LENGTH_SLACK`` snippets are cut to
        the shortest; larger differences and wrong shapes raise FormatError, NaN/Inf too unless
        :attr:`nonfinite` is ``"mask"`` (then the bad rows of that stream are zeroed and the
        snippets recorded in :attr:`masked`).
        """
        arrays = []
        bad: list[np.ndarray] = []
        for stream in self.streams:
            path = self.feature_path(split, stream, video)
            if not path.is_file():
                raise FormatError(
                    path, f"feature file missing for video '{video}' listed in split '{split}'"
                )
            feats, masked = _checked_features(load_npy(path), path, video, self.nonfinite)
            arrays.append(feats)
            bad.append(masked)
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
        masked = np.unique(np.concatenate(bad))
        if masked.size:
            self.masked[video] = masked[masked < t]
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
    """Dataset snippet timing from ``meta.json`` (``{"snippet": {"frames_per_snippet", "fps"}}``);
    16 frames at 25 fps when the file or a key is absent."""
    from wsal.io.temporal import _read_json

    if not path.is_file():
        return SnippetTiming()
    meta = _read_json(path)
    if not isinstance(meta, dict):
        raise FormatError(path, f"expected a JSON object, got {type(meta).__name__}")
    snip = meta.get("snippet", {})
    if not isinstance(snip, dict):
        raise FormatError(path, f"expected an object, got {type(snip).__name__}", where="snippet")
    frames = snip.get("frames_per_snippet", 16)
    fps = snip.get("fps", 25.0)
    if isinstance(frames, bool) or not isinstance(frames, int) or frames <= 0:
        raise FormatError(
            path, f"expected a positive integer, got {frames!r}", where="snippet.frames_per_snippet"
        )
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
        raise FormatError(
            path, f"expected a positive finite number, got {fps!r}", where="snippet.fps"
        )
    return SnippetTiming(frames, float(fps))


def open_temporal_folder(
    root: str | Path,
    *,
    streams: tuple[str, ...] = ("rgb", "flow"),
    splits: tuple[str, ...] = ("train", "test"),
    timing: SnippetTiming | None = None,
    nonfinite: NonFinite = "error",
) -> TemporalFolder:
    """Open and validate a temporal dataset folder.

    Two layouts (see the module docstring): the per-video folder (``DIR/gt.json``, split files,
    ``features/``), and, when ``DIR/gt.json`` is absent and ``DIR`` holds a
    ``<Name>-Annotations/`` folder, the W-TALC single-file layout (:func:`open_wtalc_folder`).

    Args:
        root: the dataset folder.
        streams: feature sub-folders to use (concatenated in this order).
        splits: split names; ``split_<name>.txt`` must exist for each (W-TALC layout: see
            :func:`open_wtalc_folder`).
        timing: dataset-level snippet timing; default from ``meta.json`` or 16 frames at 25 fps.
        nonfinite: ``"error"`` (default) rejects NaN/Inf features naming the video and the
            first bad snippet; ``"mask"`` zeroes those snippets and warns (see
            :meth:`TemporalFolder.load_features`).

    Raises:
        FormatError: missing/malformed files, videos of a split absent from ``gt.json``.
    """
    from wsal.io.temporal import read_activitynet_gt, read_fps_dict, read_split_file

    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, "dataset folder does not exist")
    gt_path = root / "gt.json"
    if not gt_path.is_file():
        annotations = find_wtalc_annotations(root)
        if annotations is not None:
            return open_wtalc_folder(
                root, streams=streams, splits=splits, timing=timing, nonfinite=nonfinite
            )
        raise FormatError(
            gt_path,
            "ground-truth file missing (expected DIR/gt.json, or a W-TALC "
            "<Name>-Annotations/ folder beside <Name>-I3D-JOINTFeatures.npy)",
        )
    gt = read_activitynet_gt(gt_path)
    split_lists = {}
    for stream in streams:
        safe_path_component(stream, "stream")
    for name in splits:
        path = root / f"split_{safe_path_component(name, 'split')}.txt"
        videos = read_split_file(path)
        unknown = [v for v in videos if v not in gt.subsets]
        if unknown:
            raise FormatError(path, f"{len(unknown)} videos not in gt.json, e.g. '{unknown[0]}'")
        split_lists[name] = videos
    video_fps = dict(gt.fps)
    if (root / "fps_dict.json").is_file():
        video_fps.update(read_fps_dict(root / "fps_dict.json"))
    for name in splits:
        _check_stream_folders(root / "features" / name, tuple(streams), bool(split_lists[name]))
    return TemporalFolder(
        root=root,
        gt=gt,
        splits=split_lists,
        streams=tuple(streams),
        timing=timing or _read_meta_timing(root / "meta.json"),
        video_fps=video_fps,
        nonfinite=nonfinite,
    )


def _check_stream_folders(split_dir: Path, streams: tuple[str, ...], needed: bool) -> None:
    """A configured stream without a folder is an error that names the streams present."""
    missing = [s for s in streams if not (split_dir / s).is_dir()]
    if not missing or not needed:
        return
    present = (
        sorted(p.name for p in split_dir.iterdir() if p.is_dir()) if split_dir.is_dir() else []
    )
    hint = (
        f"; streams present: {present} (select them with --set data.streams=[{','.join(present)}])"
        if present
        else ""
    )
    raise FormatError(split_dir / missing[0], f"feature stream folder missing{hint}")


# --------------------------------------------------------------------------------------------
# W-TALC single-file layout
# --------------------------------------------------------------------------------------------

#: Columns ``[start, stop)`` of each stream in a ``<Name>-I3D-JOINTFeatures.npy`` row: I3D
#: RGB first, then flow, 1024 each.
WTALC_STREAM_COLUMNS: dict[str, tuple[int, int]] = {"rgb": (0, 1024), "flow": (1024, 2048)}
#: Width ``D`` of every video's JOINT features ``(T, D)``.
WTALC_WIDTH = 2048
#: Engine split name -> W-TALC subset name. A file with a ``training`` subset uses the
#: ActivityNet names (``validation`` is the evaluated set), any other the THUMOS14 names
#: (the official ``validation`` videos are the training set of every WTAL paper).
WTALC_SUBSETS: dict[str, dict[str, str]] = {
    "thumos14": {"train": "validation", "test": "test"},
    "activitynet": {"train": "training", "test": "validation"},
}
WTALC_ANNOTATIONS_SUFFIX = "-Annotations"
WTALC_FEATURES_SUFFIX = "-I3D-JOINTFeatures.npy"


@dataclass
class WtalcFolder(TemporalFolder):
    """A W-TALC single-file dataset folder (see :func:`open_wtalc_folder`).

    ``gt.subsets`` keeps the subset names of ``subset.npy``; ``splits`` holds the engine's
    split names. ``video_fps`` is empty: ``original_fps.npy`` is the videos' rate, not the
    features' (all published W-TALC features are 16-frame snippets at 25 fps).

    Attributes (besides :class:`TemporalFolder`'s):
        features_file: the ``<Name>-I3D-JOINTFeatures.npy`` file.
        annotations: the ``<Name>-Annotations/`` folder.
        store: ``{video: (T, 2048) float32}`` of the videos of the opened splits, loaded once
            from ``features_file`` (rows of other videos are not kept).
    """

    features_file: Path = field(default_factory=Path)
    annotations: Path = field(default_factory=Path)
    store: dict[str, np.ndarray] = field(default_factory=dict)

    def feature_path(self, split: str, stream: str, video: str) -> Path:
        """The JOINT file: every stream of every video is in it."""
        return self.features_file

    def load_features(self, split: str, video: str) -> np.ndarray:
        """Features ``(T, sum D)`` float32 of one video: the configured streams' columns.

        ``("rgb", "flow")`` is the stored row itself (no copy). NaN/Inf raise FormatError
        naming the JOINT file, the video and the first bad snippet, unless :attr:`nonfinite`
        is ``"mask"`` (then the snippets are zeroed and recorded in :attr:`masked`).
        """
        if video not in self.store:
            raise FormatError(
                self.features_file,
                f"video '{video}' of split '{split}' was not loaded (not in the opened splits "
                f"{sorted(self.splits)})",
            )
        feats, masked = _checked_features(
            self.store[video], self.features_file, video, self.nonfinite
        )
        if masked.size:
            self.masked[video] = masked
        return _stream_columns(feats, self.streams)

    def check(self, split: str) -> None:
        """Nothing to do: every video of the opened splits was checked by the opening."""


def _stream_columns(feats: np.ndarray, streams: tuple[str, ...]) -> np.ndarray:
    """``(T, sum D)`` columns of ``streams`` from a JOINT row ``(T, 2048)``; a view when the
    streams are adjacent and in file order (``rgb``, ``flow``, ``rgb + flow``)."""
    cols = [WTALC_STREAM_COLUMNS[s] for s in streams]
    if all(a[1] == b[0] for a, b in zip(cols, cols[1:])):
        return feats[:, cols[0][0] : cols[-1][1]]
    return np.concatenate([feats[:, a:b] for a, b in cols], axis=1)


def find_wtalc_annotations(root: str | Path) -> Path | None:
    """The ``<Name>-Annotations/`` folder in ``root``, or None; several are an error (which
    features belong to which annotations would be a guess)."""
    root = Path(root)
    found = sorted(
        p for p in root.iterdir() if p.is_dir() and p.name.endswith(WTALC_ANNOTATIONS_SUFFIX)
    )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise FormatError(root, f"several W-TALC annotation folders ({names}); keep one per folder")
    return found[0] if found else None


def _wtalc_features_file(root: Path, annotations: Path) -> Path:
    """``<Name>-I3D-JOINTFeatures.npy`` beside ``<Name>-Annotations/``, or a FormatError."""
    name = annotations.name[: -len(WTALC_ANNOTATIONS_SUFFIX)]
    path = root / f"{name}{WTALC_FEATURES_SUFFIX}"
    if path.is_file():
        return path
    others = sorted(p.name for p in root.glob("*JOINTFeatures.npy"))
    hint = f"; found {', '.join(others)}, not named after the annotation folder" if others else ""
    raise FormatError(path, f"W-TALC feature file missing beside {annotations.name}/{hint}")


def wtalc_subset(split: str, present: set[str], subset_file: Path) -> str:
    """The W-TALC subset name meant by engine split ``split``.

    A split naming a subset of the file is that subset; otherwise ``train``/``test`` map
    through :data:`WTALC_SUBSETS` (ActivityNet names when the file has a ``training`` subset).
    """
    if split in present:
        return split
    naming = "activitynet" if "training" in present else "thumos14"
    subset = WTALC_SUBSETS[naming].get(split)
    known = ", ".join(sorted(present))
    if subset is None:
        raise FormatError(
            subset_file, f"split '{split}' is neither train/test nor a subset of the file ({known})"
        )
    if subset not in present:
        raise FormatError(
            subset_file, f"split '{split}' is subset '{subset}', which has no video ({known})"
        )
    return subset


def _drop_empty_videos(
    splits: dict[str, list[str]], store: dict[str, np.ndarray], path: Path
) -> dict[str, list[str]]:
    """Splits without the videos that have no snippet (nothing to train on or localize),
    with a DataWarning naming them."""
    empty = {v for v, x in store.items() if x.shape[0] == 0}
    if not empty:
        return splits
    first = sorted(empty)[0]
    warnings.warn(
        f"{path}: {len(empty)} videos have no snippets and are left out, e.g. '{first}'",
        DataWarning,
        stacklevel=3,
    )
    for v in empty:
        del store[v]
    return {s: [v for v in vids if v not in empty] for s, vids in splits.items()}


def open_wtalc_folder(
    root: str | Path,
    *,
    streams: tuple[str, ...] = ("rgb", "flow"),
    splits: tuple[str, ...] = ("train", "test"),
    timing: SnippetTiming | None = None,
    nonfinite: NonFinite = "error",
) -> WtalcFolder:
    """Open a W-TALC single-file folder as downloaded: ``<Name>-I3D-JOINTFeatures.npy``
    beside ``<Name>-Annotations/`` (THUMOS14: ``Thumos14reduced``, ActivityNet 1.2:
    ``ActivityNet1.2``).

    Splits: ``train``/``test`` are the ``validation``/``test`` subsets of THUMOS14 and the
    ``training``/``validation`` subsets of ActivityNet 1.2 (:func:`wtalc_subset`); a split may
    also name a subset directly (``data.test_split=validation``). Streams: ``rgb`` is columns
    0:1024 of each row, ``flow`` 1024:2048. Timing: ``meta.json`` if present, else 16 frames at
    25 fps (0.64 s per snippet) for every video.

    Memory: the JOINT file is a pickled object array, which cannot be memory-mapped; it is
    read once here (its row count is checked from the header first) and only the rows of
    ``splits`` are kept; a numeric ``(N, T, 2048)`` file is memory-mapped instead. Videos with
    no snippet are left out of the splits with a DataWarning.

    Raises:
        FormatError: no annotation folder or several, the JOINT file missing, a JOINT file
            whose row count differs from ``videoname.npy``, a video whose features are not
            ``(T, 2048)`` floats, an unknown stream or split name, or bad annotations.
    """
    from wsal.io.temporal import load_wtalc_feature_rows, read_wtalc_annotations

    root = Path(root)
    annotations = find_wtalc_annotations(root)
    if annotations is None:
        raise FormatError(root, "no W-TALC <Name>-Annotations/ folder")
    features_file = _wtalc_features_file(root, annotations)
    for stream in streams:
        if stream not in WTALC_STREAM_COLUMNS:
            raise FormatError(
                features_file,
                f"stream '{stream}' is not in the W-TALC JOINT file (streams: rgb = columns "
                "0:1024, flow = columns 1024:2048)",
            )
    gt = read_wtalc_annotations(annotations)
    present = set(gt.subsets.values())
    subset_file = annotations / "subset.npy"
    wanted = {s: wtalc_subset(s, present, subset_file) for s in splits}
    split_lists = {s: [v for v in gt.videos if gt.subsets[v] == sub] for s, sub in wanted.items()}
    keep = {v for vids in split_lists.values() for v in vids}
    rows = load_wtalc_feature_rows(features_file, gt.videos, width=WTALC_WIDTH, mmap=True)
    with np.errstate(over="ignore"):  # values beyond float32 become Inf, reported when read
        store = {v: np.asarray(x, np.float32) for v, x in zip(gt.videos, rows) if v in keep}
    del rows
    return WtalcFolder(
        root=root,
        gt=gt,
        splits=_drop_empty_videos(split_lists, store, features_file),
        streams=tuple(streams),
        timing=timing or _read_meta_timing(root / "meta.json"),
        nonfinite=nonfinite,
        features_file=features_file,
        annotations=annotations,
        store=store,
    )


def has_temporal_split(root: str | Path, split: str) -> bool:
    """Whether dataset folder ``root`` defines ``split``: ``split_<split>.txt`` exists, or, in a
    W-TALC folder without ``gt.json``, ``split`` maps to a subset of ``subset.npy``.

    Why: the per-video layout says a split exists by its file; the W-TALC layout has no
    split files, so "is there a test split to evaluate" must ask the subsets.
    """
    from wsal.io.temporal import read_wtalc_annotations

    root = Path(root)
    if (root / "gt.json").is_file() or not root.is_dir():
        return (root / f"split_{split}.txt").is_file()
    annotations = find_wtalc_annotations(root)
    if annotations is None:
        return (root / f"split_{split}.txt").is_file()
    present = set(read_wtalc_annotations(annotations).subsets.values())
    try:
        wtalc_subset(split, present, annotations / "subset.npy")
    except FormatError:
        return False
    return True


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
