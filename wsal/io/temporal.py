"""Readers and writers of temporal action-localization annotations and results.

Formats (described for users in ``docs/formats.md``):

* ActivityNet-style ground-truth JSON (``{"database": {video: {"subset", "duration",
  "annotations": [{"segment", "label"}]}}}``), including the quirks of the real files:
  segments stored as strings, missing durations, segments beyond the video end;
* ActivityNet results JSON (``{"version", "results": {video: [{"label", "segment",
  "score"}]}, "external_data"}``);
* the official THUMOS14 per-class text files (``<Class>_<split>.txt``, ``Ambiguous_<split>.txt``,
  ``detclasslist.txt``);
* the W-TALC layout (row-aligned object-array ``.npy`` files) and its single-file I3D features;
* split files (one video id per line), the THUMOS14 ``fps_dict.json`` and the point-label CSV.

Every reader raises :class:`~wsal.errors.FormatError` naming the file and the place in it
(line, key path or row). Times are seconds (float64) everywhere except in
:class:`PointLabels`, whose positions are frame indices at the original video frame rate.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsal.errors import FormatError
from wsal.io.atomic import write_json_atomic, write_text_atomic
from wsal.io.safe_pickle import load_npy, parse_npy_header, restricted_load
from wsal.structures import Segments, TemporalDetections, TemporalGroundTruth

__all__ = [
    "SUBSET_PRESETS",
    "PointLabels",
    "read_activitynet_gt",
    "write_activitynet_gt",
    "read_activitynet_results",
    "write_activitynet_results",
    "read_thumos14_txt",
    "read_wtalc_annotations",
    "read_wtalc_features",
    "load_wtalc_feature_rows",
    "read_split_file",
    "write_split_file",
    "read_fps_dict",
    "read_point_labels",
]

SUBSET_PRESETS: dict[str, dict[str, str]] = {
    # THUMOS14: the official "validation" videos are the training set of every WTAL paper.
    "thumos14": {"validation": "train", "train": "train", "test": "test", "testing": "test"},
    # ActivityNet: "validation" is the evaluation set (the test labels are not public).
    "activitynet": {
        "training": "train",
        "train": "train",
        "validation": "test",
        "val": "test",
        "testing": "test",
        "test": "test",
    },
}
"""Named subset-name maps for the ``subset_map`` argument of the readers.

They turn the subset names found in the files (``validation``, ``training``, ``testing``...)
into the two names the training code uses, ``train`` and ``test``.
"""

SubsetMap = Mapping[str, str] | str | None

# --------------------------------------------------------------------------------------------
# Small parsing helpers
# --------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    """File contents as UTF-8 text, or a FormatError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except IsADirectoryError:
        raise FormatError(path, "expected a file, found a folder") from None
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.strerror or e})") from None


def _read_json(path: Path) -> Any:
    """Parsed JSON of ``path``; syntax errors are reported with line and column."""
    text = _read_text(path)
    if not text.strip():
        raise FormatError(path, "empty file, expected JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(
            path, f"invalid JSON: {e.msg}", where=f"line {e.lineno}, column {e.colno}"
        ) from None


def _require_dict(obj: Any, key: str, path: Path) -> dict:
    """``obj[key]`` where ``obj`` must be a JSON object holding an object under ``key``."""
    if not isinstance(obj, dict):
        raise FormatError(path, f"expected a JSON object at top level, got {_kind(obj)}")
    if key not in obj:
        raise FormatError(path, f"missing top-level key '{key}'")
    value = obj[key]
    if not isinstance(value, dict):
        raise FormatError(path, f"expected an object, got {_kind(value)}", where=key)
    return value


def _kind(value: Any) -> str:
    """JSON-ish name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


def _number(value: Any, path: Path, where: str) -> float:
    """A finite float from a JSON number or numeric string, else FormatError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.number)):
        raise FormatError(path, f"expected a number, got {_kind(value)}", where=where)
    try:
        x = float(value)
    except ValueError:
        raise FormatError(path, f"expected a number, got {_kind(value)}", where=where) from None
    if not math.isfinite(x):
        raise FormatError(path, f"non-finite value {value!r}", where=where)
    return x


def _segment(value: Any, path: Path, where: str) -> tuple[float, float]:
    """``(start, end)`` seconds from a JSON ``[start, end]`` pair, else FormatError."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise FormatError(path, f"expected [start, end], got {_kind(value)}", where=where)
    return _number(value[0], path, where), _number(value[1], path, where)


def _segments_array(raw: list[Any], path: Path, where_of: Callable[[int], str]) -> np.ndarray:
    """``(N, 2)`` float64 seconds from ``N`` raw ``[start, end]`` pairs (numbers or strings).

    Converts all pairs at once; when that fails, or a value is not finite, the offending
    pair is located and reported through ``where_of(i) -> str``.
    """
    if not raw:
        return np.zeros((0, 2))
    try:
        arr = np.asarray(raw, dtype=np.float64)
        ok = arr.ndim == 2 and arr.shape[1] == 2
    except (ValueError, TypeError):
        arr, ok = None, False
    if ok:
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        if bad.size == 0:
            return arr
        suspects = bad.tolist()
    else:
        suspects = range(len(raw))
    for i in suspects:
        _segment(raw[i], path, where_of(i))
    raise FormatError(path, "segments could not be converted to (N, 2) seconds")


def _scores_array(raw: list[Any], path: Path, where_of: Callable[[int], str]) -> np.ndarray:
    """``(N,)`` finite float64 scores; the first bad one is reported via ``where_of(i)``."""
    try:
        arr = np.asarray(raw, dtype=np.float64).reshape(-1)
        ok = arr.shape[0] == len(raw)
    except (ValueError, TypeError):
        arr, ok = None, False
    if ok and not any(isinstance(x, bool) for x in raw):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size == 0:
            return arr
        suspects = bad.tolist()
    else:
        suspects = range(len(raw))
    for i in suspects:
        _number(raw[i], path, where_of(i))
    raise FormatError(path, "scores could not be converted to numbers")


def _resolve_subset_map(subset_map: SubsetMap) -> Mapping[str, str] | None:
    """``None`` (keep names), a mapping, or the mapping of a :data:`SUBSET_PRESETS` name."""
    if subset_map is None or isinstance(subset_map, Mapping):
        return subset_map
    if isinstance(subset_map, str):
        try:
            return SUBSET_PRESETS[subset_map]
        except KeyError:
            known = ", ".join(sorted(SUBSET_PRESETS))
            raise ValueError(f"unknown subset preset {subset_map!r} (known: {known})") from None
    raise TypeError(f"subset_map must be a mapping, a preset name or None, got {subset_map!r}")


def _map_subset(
    name: Any, subset_map: Mapping[str, str] | None, path: Path | None, where: str
) -> str:
    """The stored subset name of one video; names missing from ``subset_map`` are an error."""
    if not isinstance(name, str):
        raise FormatError(path, f"expected a subset name, got {_kind(name)}", where=where)
    if subset_map is None:
        return name
    if name not in subset_map:
        known = ", ".join(sorted(subset_map))
        raise FormatError(path, f"subset {name!r} is not in the subset map ({known})", where=where)
    return subset_map[name]


class _ClassIndex:
    """Class name -> index, either fixed (a given list; unknown names are errors) or growing
    in first-appearance order."""

    def __init__(self, classes: Sequence[str] | None) -> None:
        self.fixed = classes is not None
        self.names: list[str] = list(classes) if classes is not None else []
        self.index = {c: i for i, c in enumerate(self.names)}

    def get(self, name: str) -> int | None:
        """Index of ``name``; new names are appended unless the list is fixed (then None)."""
        i = self.index.get(name)
        if i is None and not self.fixed:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


# --------------------------------------------------------------------------------------------
# ActivityNet ground truth
# --------------------------------------------------------------------------------------------


def read_activitynet_gt(
    path: str | Path,
    *,
    subset_map: SubsetMap = None,
    classes: Sequence[str] | None = None,
    clip_to_duration: bool = False,
) -> TemporalGroundTruth:
    """Read an ActivityNet-style ground-truth JSON into a :class:`TemporalGroundTruth`.

    Accepts the quirks of the published files: segment bounds stored as strings
    (``"18.6"``), ``duration`` missing (stored as NaN), an optional per-video ``fps``,
    zero-length segments and segments beyond the video end (both kept as they are unless
    ``clip_to_duration``). Other per-video keys (``url``, ``resolution``, ``frames``) and the
    top-level ``version``/``taxonomy`` are ignored.

    Args:
        path: the JSON file.
        subset_map: ``None`` keeps the subset names of the file; a mapping or the name of a
            :data:`SUBSET_PRESETS` entry renames them (a name absent from the map is an error).
        classes: fixed class list that labels index into (an unknown label is an error);
            ``None`` builds the list in first-appearance order.
        clip_to_duration: clip segments to ``[0, duration]`` where the duration is known and
            drop segments that are then empty (``end <= start``; this includes zero-length
            segments of the file).

    Raises:
        FormatError: unreadable or invalid JSON (with line and column), no ``database``,
            a non-numeric, non-finite or reversed (``end < start``) segment (with
            ``where="database.<vid>.annotations[i].segment"``), an unknown label when
            ``classes`` is given, a bad ``duration``/``fps`` or subset name.
    """
    path = Path(path)
    db = _require_dict(_read_json(path), "database", path)
    smap = _resolve_subset_map(subset_map)
    index = _ClassIndex(classes)
    rows = _RawRows()
    subsets: dict[str, str] = {}
    durations: dict[str, float] = {}
    fps: dict[str, float] = {}
    for v, (vid, entry) in enumerate(db.items()):
        where = f"database.{vid}"
        if not isinstance(entry, dict):
            raise FormatError(path, f"expected an object, got {_kind(entry)}", where=where)
        subsets[vid] = _map_subset(entry.get("subset"), smap, path, f"{where}.subset")
        durations[vid] = _optional_duration(entry.get("duration"), path, f"{where}.duration")
        if entry.get("fps") is not None:
            fps[vid] = _positive(entry["fps"], path, f"{where}.fps")
        _collect_annotations(entry.get("annotations", []), v, vid, path, index, rows)
    videos = list(db)

    def where_of(k: int) -> str:
        return f"database.{videos[rows.video[k]]}.annotations[{rows.position[k]}].segment"

    bounds = _segments_array(rows.segments, path, where_of)
    _reject_reversed(bounds, path, where_of)
    labels = np.asarray(rows.labels, dtype=np.int64)
    vidx = np.asarray(rows.video, dtype=np.int64)
    if clip_to_duration:
        bounds, keep = _clip(bounds, np.array([durations[v] for v in videos])[vidx])
        labels, vidx = labels[keep], vidx[keep]
    return TemporalGroundTruth(
        videos=videos,
        subsets=subsets,
        durations=durations,
        video_ids=np.asarray(videos, dtype=str)[vidx] if videos else np.zeros(0, dtype=str),
        segments=Segments(bounds, labels),
        classes=index.names,
        fps=fps,
    )


@dataclass
class _RawRows:
    """Annotation rows collected from JSON before their conversion to arrays.

    ``segments`` are the raw ``[start, end]`` values, ``labels`` class indices, ``video`` the
    index of the owning video and ``position`` the row's index in that video's list (both
    kept to name the place of a bad value).
    """

    segments: list[Any] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    video: list[int] = field(default_factory=list)
    position: list[int] = field(default_factory=list)


def _collect_annotations(
    annotations: Any, v: int, vid: str, path: Path, index: _ClassIndex, rows: _RawRows
) -> None:
    """Append the ``annotations`` list of video number ``v`` (id ``vid``) to ``rows``."""
    where = f"database.{vid}.annotations"
    if not isinstance(annotations, list):
        raise FormatError(path, f"expected a list, got {_kind(annotations)}", where=where)
    for i, ann in enumerate(annotations):
        seg, label = _annotation_fields(ann, path, f"{where}[{i}]")
        c = index.get(label)
        if c is None:
            raise FormatError(
                path,
                f"video {vid!r} has label {label!r}, which is not one of the given classes",
                where=f"{where}[{i}].label",
            )
        rows.segments.append(seg)
        rows.labels.append(c)
        rows.video.append(v)
        rows.position.append(i)


def _annotation_fields(ann: Any, path: Path, where: str) -> tuple[Any, str]:
    """Raw ``segment`` and ``label`` of one annotation object."""
    if not isinstance(ann, dict):
        raise FormatError(path, f"expected an object, got {_kind(ann)}", where=where)
    for key in ("segment", "label"):
        if key not in ann:
            raise FormatError(path, f"missing key '{key}'", where=where)
    label = ann["label"]
    if not isinstance(label, str):
        raise FormatError(
            path, f"expected a label string, got {_kind(label)}", where=f"{where}.label"
        )
    return ann["segment"], label


def _optional_duration(value: Any, path: Path, where: str) -> float:
    """A non-negative duration in seconds, NaN when absent (``null`` or missing)."""
    if value is None:
        return float("nan")
    x = _number(value, path, where)
    if x < 0:
        raise FormatError(path, f"negative duration {x}", where=where)
    return x


def _positive(value: Any, path: Path, where: str) -> float:
    """A finite, strictly positive number."""
    x = _number(value, path, where)
    if x <= 0:
        raise FormatError(path, f"expected a positive number, got {x}", where=where)
    return x


def _reject_reversed(bounds: np.ndarray, path: Path, where_of: Callable[[int], str]) -> None:
    """Ground-truth segments must not end before they start."""
    bad = np.flatnonzero(bounds[:, 1] < bounds[:, 0])
    if bad.size:
        s, e = bounds[bad[0]]
        raise FormatError(
            path, f"segment ends before it starts ({s} > {e})", where=where_of(bad[0])
        )


def _clip(bounds: np.ndarray, duration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``bounds (N, 2)`` seconds to ``[0, duration (N,)]`` (no upper clip where NaN);
    returns the non-empty clipped segments and the ``(N,)`` bool mask of those kept."""
    start = np.maximum(bounds[:, 0], 0.0)
    end = np.where(np.isfinite(duration), np.minimum(bounds[:, 1], duration), bounds[:, 1])
    keep = end > start
    return np.stack([start, end], axis=1)[keep], keep


def write_activitynet_gt(
    path: str | Path, gt: TemporalGroundTruth, *, version: str = "VERSION 1.3"
) -> None:
    """Write ``gt`` as an ActivityNet ground-truth JSON, atomically.

    Every video of ``gt.videos`` is written in order with its subset name as stored,
    ``duration`` where finite, ``fps`` where known, and its annotations in segment order;
    ``taxonomy`` is ``[]``. Ambiguous segments (THUMOS14) have no place in this format and
    are not written. Raises ``ValueError`` for a segment whose label is ``-1``.
    """
    labels = gt.segments.labels
    if np.any((labels < 0) | (labels >= len(gt.classes))):
        raise ValueError("cannot write ground-truth segments whose label is not a class index")
    per_video: dict[str, list[dict[str, Any]]] = {v: [] for v in gt.videos}
    names = [gt.classes[c] for c in labels.tolist()]
    for vid, (s, e), name in zip(
        gt.video_ids.tolist(), gt.segments.bounds.tolist(), names, strict=True
    ):
        if vid not in per_video:
            raise ValueError(f"segment of video {vid!r}, which is not in gt.videos")
        per_video[vid].append({"segment": [s, e], "label": name})
    database: dict[str, Any] = {}
    for vid in gt.videos:
        entry: dict[str, Any] = {"subset": gt.subsets.get(vid, "")}
        duration = gt.durations.get(vid, float("nan"))
        if math.isfinite(duration):
            entry["duration"] = float(duration)
        if vid in gt.fps:
            entry["fps"] = float(gt.fps[vid])
        entry["annotations"] = per_video[vid]
        database[vid] = entry
    write_json_atomic(path, {"version": version, "taxonomy": [], "database": database})


# --------------------------------------------------------------------------------------------
# ActivityNet results
# --------------------------------------------------------------------------------------------


def read_activitynet_results(
    path: str | Path, *, classes: Sequence[str] | None = None
) -> TemporalDetections:
    """Read an ActivityNet results JSON into :class:`TemporalDetections`.

    Only the ``results`` object is required (``version`` and ``external_data`` are
    ignored). Each row must hold a ``label`` string, a ``segment`` ``[start, end]`` of numbers
    or numeric strings, and a numeric ``score``.

    Handling of questionable rows (decided to match what the official evaluator can score):

    * a NaN or infinite score or segment bound is rejected with a FormatError (the
      official code would rank a NaN score *first*, as it sorts with ``argsort()[::-1]``);
    * a reversed segment (``end < start``) is kept: it never matches any ground truth and
      so counts as a false positive;
    * with ``classes`` given, a label outside the list gets label ``-1`` (kept; the
      evaluation ignores such rows, as the official evaluator does); with ``classes=None``
      the class list is built in first-appearance order.

    Raises:
        FormatError: invalid JSON (line, column), no ``results``, or a malformed row, named
            with ``where="results.<vid>[i]..."``.
    """
    path = Path(path)
    results = _require_dict(_read_json(path), "results", path)
    videos = list(results)
    rows, scores_raw, names = _collect_results(results, path)

    def where_of(field_name: str) -> Callable[[int], str]:
        return lambda k: f"results.{videos[rows.video[k]]}[{rows.position[k]}].{field_name}"

    bounds = _segments_array(rows.segments, path, where_of("segment"))
    scores = _scores_array(scores_raw, path, where_of("score"))
    index = _ClassIndex(None)
    if classes is None:
        labels = [index.get(name) for name in names]
        class_list = index.names
    else:
        lookup = {c: i for i, c in enumerate(classes)}
        labels = [lookup.get(name, -1) for name in names]
        class_list = list(classes)
    vidx = np.asarray(rows.video, dtype=np.int64)
    return TemporalDetections(
        video_ids=np.asarray(videos, dtype=str)[vidx] if videos else np.zeros(0, dtype=str),
        segments=Segments(bounds, np.asarray(labels, dtype=np.int64), scores),
        classes=class_list,
    )


def _collect_results(results: dict, path: Path) -> tuple[_RawRows, list[Any], list[str]]:
    """Rows of a ``results`` object: raw segments and positions, raw scores, label names."""
    rows = _RawRows()
    scores: list[Any] = []
    names: list[str] = []
    for v, (vid, entries) in enumerate(results.items()):
        if not isinstance(entries, list):
            raise FormatError(
                path, f"expected a list, got {_kind(entries)}", where=f"results.{vid}"
            )
        for i, row in enumerate(entries):
            try:
                label, segment, score = row["label"], row["segment"], row["score"]
            except (TypeError, KeyError):
                raise _row_error(row, path, f"results.{vid}[{i}]") from None
            if type(label) is not str:
                raise FormatError(
                    path,
                    f"expected a label string, got {_kind(label)}",
                    where=f"results.{vid}[{i}].label",
                )
            rows.segments.append(segment)
            rows.video.append(v)
            rows.position.append(i)
            scores.append(score)
            names.append(label)
    return rows, scores, names


def _row_error(row: Any, path: Path, where: str) -> FormatError:
    """The FormatError for a result row that is not an object with label/segment/score."""
    if not isinstance(row, dict):
        return FormatError(path, f"expected an object, got {_kind(row)}", where=where)
    missing = [k for k in ("label", "segment", "score") if k not in row]
    return FormatError(path, f"missing key(s) {', '.join(missing)}", where=where)


def write_activitynet_results(
    path: str | Path,
    dets: TemporalDetections,
    *,
    external_data: Mapping[str, Any] | None = None,
) -> None:
    """Write ``dets`` as an ActivityNet results JSON, atomically.

    Layout: ``{"version": "VERSION 1.3", "results": {video: [{"label", "segment", "score"}]},
    "external_data": ...}``; videos in first-appearance order, rows in input order.
    ``external_data`` defaults to ``{"used": False, "details": ""}``.
    Raises ``ValueError`` for rows with label ``-1`` or a non-finite score or bound (JSON has
    no NaN).
    """
    seg = dets.segments
    if np.any((seg.labels < 0) | (seg.labels >= len(dets.classes))):
        raise ValueError("cannot write detections whose label is not a class index")
    if not (np.isfinite(seg.scores).all() and np.isfinite(seg.bounds).all()):
        raise ValueError("cannot write detections with NaN or infinite scores or bounds")
    results: dict[str, list[dict[str, Any]]] = {}
    names = [dets.classes[c] for c in seg.labels.tolist()]
    for vid, (s, e), score, name in zip(
        dets.video_ids.tolist(), seg.bounds.tolist(), seg.scores.tolist(), names, strict=True
    ):
        results.setdefault(vid, []).append({"label": name, "segment": [s, e], "score": score})
    extra = dict(external_data) if external_data is not None else {"used": False, "details": ""}
    write_json_atomic(path, {"version": "VERSION 1.3", "results": results, "external_data": extra})


# --------------------------------------------------------------------------------------------
# THUMOS14 text files
# --------------------------------------------------------------------------------------------


def read_thumos14_txt(
    folder: str | Path,
    *,
    split: str | None = None,
    classes: Sequence[str] | None = None,
) -> TemporalGroundTruth:
    """Read the official THUMOS14 temporal annotation folder.

    The folder holds one ``<Class>_<split>.txt`` per class (lines ``<video> <start> <end>``,
    seconds, separated by any whitespace, blank lines ignored), optionally
    ``Ambiguous_<split>.txt`` (stored in ``ambiguous``/``ambiguous_video_ids``, label -1) and
    ``detclasslist.txt`` (``<id> <name>`` per line).

    Class order: ``classes`` if given, else ``detclasslist.txt`` when present, else sorted file
    names. Videos are listed in the order they first appear (class files in class order,
    then the ambiguous file); each video's subset is ``split`` and its duration NaN.

    Args:
        folder: the annotation folder.
        split: the file suffix (``"test"``, ``"val"``); ``None`` infers it when the folder
            holds a single split.

    Raises:
        FormatError: missing folder or class file, a class file for a class outside the list,
            several splits without ``split``, or a bad line (naming file and line number).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(folder, "annotation folder not found")
    split = _thumos_split(folder, split)
    class_list = list(classes) if classes is not None else _thumos_classes(folder, split)
    _reject_unlisted_class_files(folder, split, class_list)
    order: dict[str, None] = {}
    vid_parts, bound_parts, label_parts = [], [], []
    for c, name in enumerate(class_list):
        vids, bounds = _read_interval_file(folder / f"{name}_{split}.txt")
        order.update(dict.fromkeys(vids))
        vid_parts.append(np.asarray(vids, dtype=str))
        bound_parts.append(bounds)
        label_parts.append(np.full(len(vids), c, dtype=np.int64))
    amb_vids: list[str] = []
    amb_bounds = np.zeros((0, 2))
    amb_file = folder / f"Ambiguous_{split}.txt"
    if amb_file.is_file():
        amb_vids, amb_bounds = _read_interval_file(amb_file)
        order.update(dict.fromkeys(amb_vids))
    videos = list(order)
    return TemporalGroundTruth(
        videos=videos,
        subsets=dict.fromkeys(videos, split),
        durations=dict.fromkeys(videos, float("nan")),
        video_ids=np.concatenate(vid_parts) if vid_parts else np.zeros(0, dtype=str),
        segments=Segments(
            np.concatenate(bound_parts) if bound_parts else np.zeros((0, 2)),
            np.concatenate(label_parts) if label_parts else np.zeros(0, dtype=np.int64),
        ),
        classes=class_list,
        ambiguous_video_ids=np.asarray(amb_vids, dtype=str),
        ambiguous=Segments(amb_bounds),
    )


def _thumos_split(folder: Path, split: str | None) -> str:
    """The split suffix of the class files (given, or the only one present)."""
    if split is not None:
        return split
    found = {p.stem.rsplit("_", 1)[1] for p in folder.glob("*_*.txt")}
    if len(found) != 1:
        what = "no '<Class>_<split>.txt' files" if not found else f"several splits {sorted(found)}"
        raise FormatError(folder, f"cannot infer the split: {what}; pass split=...")
    return found.pop()


def _thumos_classes(folder: Path, split: str) -> list[str]:
    """Class names from ``detclasslist.txt`` (``<id> <name>`` lines), else from file names."""
    listing = folder / "detclasslist.txt"
    if not listing.is_file():
        stems = (p.stem.rsplit("_", 1)[0] for p in folder.glob(f"*_{split}.txt"))
        return sorted(s for s in stems if s != "Ambiguous")
    names = []
    for n, line in enumerate(_read_text(listing).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise FormatError(
                listing, f"expected '<id> <class name>', got {line!r}", where=f"line {n}"
            )
        names.append(parts[1])
    if not names:
        raise FormatError(listing, "no classes listed")
    return names


def _reject_unlisted_class_files(folder: Path, split: str, class_list: Sequence[str]) -> None:
    """Annotation files of classes outside ``class_list`` would be silently lost: refuse."""
    known = set(class_list) | {"Ambiguous"}
    for p in sorted(folder.glob(f"*_{split}.txt")):
        name = p.name[: -len(f"_{split}.txt")]
        if name not in known:
            raise FormatError(p, f"class {name!r} is not in the class list")


def _read_interval_file(path: Path) -> tuple[list[str], np.ndarray]:
    """Lines ``<video> <start> <end>`` -> (video ids, ``(N, 2)`` seconds)."""
    vids: list[str] = []
    bounds: list[tuple[float, float]] = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"line {n}"
        if len(parts) != 3:
            raise FormatError(path, f"expected '<video> <start> <end>', got {line!r}", where=where)
        s, e = _number(parts[1], path, where), _number(parts[2], path, where)
        if e < s:
            raise FormatError(path, f"segment ends before it starts ({s} > {e})", where=where)
        vids.append(parts[0])
        bounds.append((s, e))
    return vids, np.asarray(bounds, dtype=np.float64).reshape(-1, 2)


# --------------------------------------------------------------------------------------------
# W-TALC layout
# --------------------------------------------------------------------------------------------


def read_wtalc_annotations(
    folder: str | Path, *, subset_map: SubsetMap = None
) -> TemporalGroundTruth:
    """Read the W-TALC annotation layout (row-aligned ``.npy`` files, one row per video).

    Required: ``videoname.npy`` (names), ``classlist.npy`` (class names, the class order),
    ``subset.npy`` (subset names), ``segments.npy`` (object array: per video a list of
    ``[start, end]`` seconds) and ``labels.npy`` (object array: per video the label of each
    segment). Optional: ``duration.npy`` (seconds, shape ``(N,)`` or ``(N, 1)``),
    ``original_fps.npy`` (stored in ``fps``) and ``Ambiguous_<split>.txt`` (THUMOS14 text
    format, stored in ``ambiguous``). Bytes are decoded as UTF-8. Other files
    (``labels_all.npy``, ``extracted_fps.npy``, ``url.npy``, ``resolution.npy``) are not
    read: ``labels_all`` is a video-level label list that differs from the segment labels
    for 28 THUMOS14 videos (CricketShot/CricketBowling), and the feature rate is a
    property of the features.

    Raises:
        FormatError: a missing or unreadable file, arrays of different lengths, a video whose
            segment and label lists differ in length, a bad segment or an unknown label
            (naming the file and the video index and name).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(folder, "annotation folder not found")
    names = _strings(folder / "videoname.npy")
    n = len(names)
    classes = _strings(folder / "classlist.npy")
    smap = _resolve_subset_map(subset_map)
    subset_file = folder / "subset.npy"
    raw_subsets = _strings(subset_file, n)
    subsets = {
        v: _map_subset(s, smap, subset_file, f"video {i} ({v})")
        for i, (v, s) in enumerate(zip(names, raw_subsets, strict=True))
    }
    durations = _optional_column(folder / "duration.npy", n)
    fps_col = _optional_column(folder / "original_fps.npy", n)
    bounds, labels, vidx = _wtalc_segments(folder, names, classes)
    amb_vids, amb_bounds = _wtalc_ambiguous(folder)
    return TemporalGroundTruth(
        videos=names,
        subsets=subsets,
        durations=dict(zip(names, durations.tolist(), strict=True)),
        video_ids=np.asarray(names, dtype=str)[vidx] if n else np.zeros(0, dtype=str),
        segments=Segments(bounds, labels),
        classes=classes,
        fps={v: f for v, f in zip(names, fps_col.tolist(), strict=True) if math.isfinite(f)},
        ambiguous_video_ids=np.asarray(amb_vids, dtype=str),
        ambiguous=Segments(amb_bounds),
    )


def _decode(value: Any) -> str:
    """A str from a bytes/numpy-bytes/str value (UTF-8)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _strings(path: Path, n: int | None = None) -> list[str]:
    """A 1-D array of names (bytes or str) as a list of str, optionally of length ``n``."""
    arr = load_npy(path).reshape(-1)
    if arr.dtype.kind not in "SUO":
        raise FormatError(path, f"expected strings, got dtype {arr.dtype}")
    try:
        out = [_decode(x) for x in arr.tolist()]
    except UnicodeDecodeError as e:
        raise FormatError(path, f"name is not UTF-8 ({e.reason})") from None
    if n is not None and len(out) != n:
        raise FormatError(path, f"{len(out)} rows, but videoname.npy has {n}")
    return out


def _optional_column(path: Path, n: int) -> np.ndarray:
    """``(n,)`` float64 per-video values of an optional file; NaN when the file is absent."""
    if not path.exists():
        return np.full(n, np.nan)
    arr = load_npy(path)
    if arr.dtype.kind not in "iufO":
        raise FormatError(path, f"expected numbers, got dtype {arr.dtype}")
    try:
        col = np.asarray(arr, dtype=np.float64).reshape(-1)
    except (ValueError, TypeError):
        raise FormatError(path, f"expected numbers, got dtype {arr.dtype}") from None
    if col.shape[0] != n:
        raise FormatError(path, f"{col.shape[0]} rows, but videoname.npy has {n}")
    return col


def _wtalc_segments(
    folder: Path, names: list[str], classes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened ``(bounds (M, 2) seconds, labels (M,), video index (M,))`` of the layout."""
    seg_file, lab_file = folder / "segments.npy", folder / "labels.npy"
    segs = load_npy(seg_file).reshape(-1)
    labs = load_npy(lab_file).reshape(-1)
    for f, arr in ((seg_file, segs), (lab_file, labs)):
        if arr.shape[0] != len(names):
            raise FormatError(f, f"{arr.shape[0]} rows, but videoname.npy has {len(names)}")
    counts = []
    for i, (s, lab) in enumerate(zip(segs.tolist(), labs.tolist(), strict=True)):
        where = f"video {i} ({names[i]})"
        _require_row_list(s, seg_file, where)
        _require_row_list(lab, lab_file, where)
        if len(s) != len(lab):
            raise FormatError(
                seg_file,
                f"{len(s)} segments but {len(lab)} labels in labels.npy",
                where=f"video {i} ({names[i]})",
            )
        counts.append(len(s))
    vidx = np.repeat(np.arange(len(names)), counts)
    raw = [pair for s in segs.tolist() for pair in s]
    offsets = np.cumsum([0, *counts])

    def where_of(k: int) -> str:
        i = int(vidx[k])
        return f"video {i} ({names[i]}), segment {k - offsets[i]}"

    bounds = _segments_array(raw, seg_file, where_of)
    _reject_reversed(bounds, seg_file, where_of)
    lookup = {c: j for j, c in enumerate(classes)}
    flat = [_decode(x) for lab in labs.tolist() for x in lab]
    labels = np.asarray([lookup.get(x, -1) for x in flat], dtype=np.int64)
    bad = np.flatnonzero(labels < 0)
    if bad.size:
        raise FormatError(
            lab_file, f"label {flat[bad[0]]!r} is not in classlist.npy", where=where_of(bad[0])
        )
    return bounds, labels, vidx


def _require_row_list(value: object, path: Path, where: str) -> None:
    """A W-TALC per-video entry must be a list (of segments or of labels) or a 1+-D array."""
    if not isinstance(value, (list, tuple)) and not (
        isinstance(value, np.ndarray) and value.ndim >= 1
    ):
        raise FormatError(path, f"expected a list per video, got {_kind(value)}", where=where)


def _wtalc_ambiguous(folder: Path) -> tuple[list[str], np.ndarray]:
    """Ambiguous segments of ``Ambiguous_*.txt`` files in a W-TALC folder (THUMOS14)."""
    vids: list[str] = []
    parts = [np.zeros((0, 2))]
    for f in sorted(folder.glob("Ambiguous_*.txt")):
        v, b = _read_interval_file(f)
        vids += v
        parts.append(b)
    return vids, np.concatenate(parts)


def read_wtalc_features(
    path: str | Path, video_names: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Read a single-file W-TALC feature store (``<Name>-I3D-JOINTFeatures.npy``).

    The file is an object array of ``N`` float arrays ``(T_i, D)`` (snippets x feature
    dims; a numeric ``(N, T, D)`` array is accepted too), row-aligned with ``videoname.npy``.
    Each array must be 2-D, floating point, finite and share ``D``.

    Args:
        path: the ``.npy`` file.
        video_names: names row-aligned with the file, used to check the row count (from the
            header, before anything is unpickled) and to name videos in error messages.

    Returns:
        ``N`` arrays ``(T_i, D)``, as stored (no copy, dtype kept).

    Raises:
        FormatError: naming the file, the video index (and name) and, for NaN/inf values,
            the first bad snippet.
    """
    path = Path(path)
    items = load_wtalc_feature_rows(path, video_names)
    for i, x in enumerate(items):
        _check_finite(x, path, _video_where(i, video_names))
    return items


def load_wtalc_feature_rows(
    path: str | Path,
    video_names: Sequence[str] | None = None,
    *,
    width: int | None = None,
    mmap: bool = False,
) -> list[np.ndarray]:
    """The ``N`` per-video arrays ``(T_i, D)`` of a W-TALC feature store, shape-checked only.

    Why separate from :func:`read_wtalc_features`: the training folder checks NaN/Inf per
    video when it reads one (so ``data.nonfinite: mask`` can repair them), but wants the row
    count and the widths checked once, when the folder is opened.

    The row count is read from the ``.npy`` header, so a file that does not match
    ``video_names`` is refused before it is loaded. An object array (the published files: a
    pickle of one array per video) cannot be memory-mapped; it is unpickled, through the
    restricted unpickler, straight from the file, so the file's bytes are never held in
    memory beside the arrays (peak memory: the arrays plus one video). A numeric
    ``(N, T, D)`` array is memory-mapped when ``mmap``.

    Args:
        path: the ``.npy`` file.
        video_names: names row-aligned with the file (row count check, error messages).
        width: required ``D`` of every video (e.g. 2048 for RGB + flow I3D); ``None``: all
            videos share the ``D`` of video 0.
        mmap: memory-map a numeric ``(N, T, D)`` file instead of reading it.

    Returns:
        ``N`` arrays ``(T_i, D)`` as stored (dtype kept). Empty videos (``T_i = 0``) pass.

    Raises:
        FormatError: a missing or unreadable file, a row count differing from
            ``video_names``, or a video that is not a 2-D floating-point array of the
            expected width (naming the video index and name).
    """
    path = Path(path)
    arr = _load_feature_npy(path, video_names, mmap)
    items = list(arr.reshape(-1)) if arr.dtype == object else list(arr)
    if video_names is not None and len(video_names) != len(items):
        raise FormatError(path, f"{len(items)} feature arrays but {len(video_names)} video names")
    dim = width
    for i, x in enumerate(items):
        where = _video_where(i, video_names)
        _check_feature_shape(x, path, where)
        if dim is None:
            dim = x.shape[1]
        elif x.shape[1] != dim:
            expected = f"{dim}" if width is not None else f"{dim} like video 0"
            raise FormatError(path, f"feature dim {x.shape[1]}, expected {expected}", where=where)
    return items


def _video_where(i: int, video_names: Sequence[str] | None) -> str:
    """``"video i (name)"``: the place of one row in messages."""
    return f"video {i}" + (f" ({video_names[i]})" if video_names is not None else "")


def _load_feature_npy(path: Path, video_names: Sequence[str] | None, mmap: bool) -> np.ndarray:
    """The whole feature ``.npy``: an object array (unpickled from the file handle) or a
    numeric ``(N, T, D)`` float array; the header's row count is checked first."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise FormatError(path, "feature file not found") from None
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.strerror or e})") from None
    with fh:
        dtype, shape, _ = parse_npy_header(fh, path)
        if not dtype.hasobject and (len(shape) != 3 or dtype.kind != "f"):
            raise FormatError(
                path, f"expected an object array of (T, D) arrays, got {dtype} {shape}"
            )
        rows = math.prod(shape) if dtype.hasobject else shape[0]
        if video_names is not None and rows != len(video_names):
            raise FormatError(path, f"{rows} feature arrays but {len(video_names)} video names")
        arr = restricted_load(fh, path) if dtype.hasobject else None
    if arr is None:
        return load_npy(path, mmap_mode="r" if mmap else None)
    if not isinstance(arr, np.ndarray) or arr.dtype != object:
        what = f"a {arr.dtype} array" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise FormatError(path, f"object .npy did not contain an object array but {what}")
    if arr.size != rows:
        raise FormatError(path, f"object array has {arr.size} rows, header says {shape}")
    return arr


def _check_feature_shape(x: Any, path: Path, where: str) -> None:
    """One video's features must be a 2-D floating-point array ``(T, D)``."""
    if not isinstance(x, np.ndarray):
        raise FormatError(path, f"expected an array, got {type(x).__name__}", where=where)
    if x.ndim != 2:
        raise FormatError(path, f"expected a 2-D (T, D) array, got shape {x.shape}", where=where)
    if x.dtype.kind != "f":
        raise FormatError(path, f"expected floating-point features, got {x.dtype}", where=where)


def _check_finite(x: np.ndarray, path: Path, where: str) -> None:
    """One video's features must be finite; the first bad snippet is named."""
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad_rows.size:
        t = int(bad_rows[0])
        kind = "NaN" if np.isnan(x[t]).any() else "infinite value"
        raise FormatError(path, f"{kind} in snippet {t} (of {x.shape[0]})", where=where)


# --------------------------------------------------------------------------------------------
# Split files, fps dictionary, point labels
# --------------------------------------------------------------------------------------------


def read_split_file(path: str | Path) -> list[str]:
    """Video ids of a split file: one id per line, surrounding whitespace and blank lines
    ignored. An empty file, an id containing whitespace or a repeated id is a FormatError
    (naming the line)."""
    path = Path(path)
    videos: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        vid = line.strip()
        if not vid:
            continue
        if len(vid.split()) != 1:
            raise FormatError(
                path, f"expected one video id per line, got {line!r}", where=f"line {n}"
            )
        if vid in seen:
            raise FormatError(path, f"video {vid!r} repeats line {seen[vid]}", where=f"line {n}")
        seen[vid] = n
        videos.append(vid)
    if not videos:
        raise FormatError(path, "empty split file, expected one video id per line")
    return videos


def write_split_file(path: str | Path, videos: Sequence[str]) -> None:
    """Write one video id per line (atomically). Raises ``ValueError`` for an empty list, an
    empty id, an id containing whitespace, or a repeated id (what :func:`read_split_file`
    would refuse)."""
    videos = list(videos)
    if not videos:
        raise ValueError("no videos to write")
    for v in videos:
        if not isinstance(v, str) or not v or len(v.split()) != 1 or v != v.strip():
            raise ValueError(f"invalid video id {v!r}")
    if len(set(videos)) != len(videos):
        raise ValueError("repeated video ids")
    write_text_atomic(path, "\n".join(videos) + "\n")


def read_fps_dict(path: str | Path) -> dict[str, float]:
    """Read a ``{video: frames per second}`` JSON object (the THUMOS14 ``fps_dict.json``).

    Values must be finite positive numbers (FormatError naming the video otherwise).
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise FormatError(path, f"expected a JSON object {{video: fps}}, got {_kind(data)}")
    return {vid: _positive(v, path, vid) for vid, v in data.items()}


@dataclass
class PointLabels:
    """Point-level supervision: one labelled frame per action instance (LACP / SF-Net style).

    Frame indices are in the video's original frame rate (see :func:`read_fps_dict` for the
    conversion to seconds: ``point_seconds``).

    Attributes:
        video_ids: ``(N,)`` str, the video of each point.
        labels: ``(N,)`` int64 class indices into ``classes``.
        classes: class names, ``classes[i]`` the name of class index ``i``.
        points: ``(N,)`` int64 frame of the labelled point.
        start_frames, stop_frames: ``(N,)`` int64 frames of the instance the point lies in.
    """

    video_ids: np.ndarray
    labels: np.ndarray
    classes: list[str]
    points: np.ndarray
    start_frames: np.ndarray
    stop_frames: np.ndarray

    def __len__(self) -> int:
        return int(self.video_ids.shape[0])

    def point_seconds(self, fps: Mapping[str, float]) -> np.ndarray:
        """``(N,)`` seconds of each point, ``frame / fps[video]`` (KeyError for unknown videos)."""
        rate = np.array([fps[v] for v in self.video_ids.tolist()], dtype=np.float64)
        return self.points.astype(np.float64) / rate.reshape(-1)


_POINT_COLUMNS = ("class", "class_index", "start_frame", "stop_frame", "video_id", "point")


def read_point_labels(path: str | Path) -> PointLabels:
    """Read the point-label CSV (header ``class,class_index,start_frame,stop_frame,video_id,
    point``; columns in any order; frames are integers).

    Checks: every column present, integer frames with ``start_frame <= point <= stop_frame``,
    and one index per class name covering ``0..C-1`` (FormatError naming the line otherwise).
    """
    path = Path(path)
    rows = list(csv.reader(_read_text(path).splitlines()))
    if not rows:
        raise FormatError(path, "empty file, expected a CSV header")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in _POINT_COLUMNS if c not in header]
    if missing:
        raise FormatError(path, f"missing column(s) {', '.join(missing)}", where="line 1")
    col = {c: header.index(c) for c in _POINT_COLUMNS}
    names, vids, ints, lines = [], [], [], []
    for n, row in enumerate(rows[1:], 2):
        if not row or all(not x.strip() for x in row):
            continue
        if len(row) != len(header):
            raise FormatError(
                path, f"expected {len(header)} fields, got {len(row)}", where=f"line {n}"
            )
        lines.append(n)
        names.append(row[col["class"]].strip())
        vids.append(row[col["video_id"]].strip())
        ints.append(
            [_int(row[col[c]], path, f"line {n}, {c}") for c in _POINT_COLUMNS[1:4]]
            + [_int(row[col["point"]], path, f"line {n}, point")]
        )
    table = np.asarray(ints, dtype=np.int64).reshape(-1, 4)
    labels, start, stop, point = table.T
    _check_points(path, start, stop, point, lines)
    return PointLabels(
        video_ids=np.asarray(vids, dtype=str),
        labels=labels.copy(),
        classes=_classes_from_indices(path, names, labels, lines),
        points=point.copy(),
        start_frames=start.copy(),
        stop_frames=stop.copy(),
    )


def _int(text: str, path: Path, where: str) -> int:
    """An integer field of a CSV row."""
    try:
        return int(text.strip())
    except ValueError:
        raise FormatError(path, f"expected an integer, got {text!r}", where=where) from None


def _check_points(
    path: Path, start: np.ndarray, stop: np.ndarray, point: np.ndarray, lines: list[int]
) -> None:
    """Each point must lie inside its instance ``[start_frame, stop_frame]``."""
    bad = np.flatnonzero((start > stop) | (point < start) | (point > stop))
    if bad.size:
        k = int(bad[0])
        raise FormatError(
            path,
            f"point {point[k]} not inside [start_frame {start[k]}, stop_frame {stop[k]}]",
            where=f"line {lines[k]}",
        )


def _classes_from_indices(
    path: Path, names: list[str], labels: np.ndarray, lines: list[int]
) -> list[str]:
    """``classes[i]`` = the name written with ``class_index == i``; must be one-to-one and
    cover ``0..C-1``."""
    by_index: dict[int, str] = {}
    by_name: dict[str, int] = {}
    for k, (name, idx) in enumerate(zip(names, labels.tolist(), strict=True)):
        if by_index.setdefault(idx, name) != name or by_name.setdefault(name, idx) != idx:
            raise FormatError(
                path,
                f"class {name!r} / class_index {idx} disagree with earlier rows",
                where=f"line {lines[k]}",
            )
    if by_index and sorted(by_index) != list(range(len(by_index))):
        raise FormatError(path, f"class indices {sorted(by_index)} do not cover 0..C-1")
    return [by_index[i] for i in range(len(by_index))]
