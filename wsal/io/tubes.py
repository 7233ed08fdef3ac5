"""Tube-level formats: ground-truth tubes, tube results, UCF101-24 annotations, tube proposals.

Every reader validates what it reads and raises :class:`~wsal.errors.FormatError` naming the
file and the key path (``videos["Biking/v_Biking_g01_c03"].tubes[0].frames``); every writer
is atomic (:mod:`wsal.io.atomic`). Conventions are those of :mod:`wsal.structures`: frames are
1-indexed consecutive integers, tube boxes are ``(L, 4)`` ``x1, y1, x2, y2`` pixels with
inclusive corners (width = ``x2 - x1 + 1``), the ACT convention (Kalogeiton et al., "Action
Tubelet Detector for Spatio-Temporal Action Localization", ICCV 2017).

Formats (see ``docs/formats.md``):

* ``gt_tubes.json`` -- ``{"labels": [...], "videos": {vid: {"nframes", "width", "height",
  "tubes": [{"label", "frames", "boxes"}]}}}`` (:func:`read_gt_tubes`, :func:`write_gt_tubes`);
* tube results -- ``{"labels": [...]?, "results": {vid: [{"label", "score", "frames", "boxes",
  "frame_scores"?}]}}`` (:func:`read_tube_results`, :func:`write_tube_results`);
* the corrected UCF101-24 pickle ``pyannot.pkl`` (:func:`read_ucf101_24_pickle`,
  :func:`ucf101_24_to_gt_tubes`) and split lists (:func:`read_video_list`);
* per-video proposal files of the tube dataset folder, ``<video id with '/' -> '__'>.npz``
  (:class:`TubeProposals`, :func:`read_tube_proposals`, :func:`write_tube_proposals`).
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsal.errors import FormatError
from wsal.io.atomic import save_npz_atomic, write_json_atomic
from wsal.io.safe_pickle import safe_pickle_load
from wsal.structures import Tube, TubeDetections, TubeGroundTruth

__all__ = [
    "UCF101_24_CLASSES",
    "UCF101_24_FRAME_SIZE",
    "read_gt_tubes",
    "write_gt_tubes",
    "read_tube_results",
    "write_tube_results",
    "read_ucf101_24_pickle",
    "ucf101_24_to_gt_tubes",
    "read_video_list",
    "proposal_filename",
    "TubeProposals",
    "read_tube_proposals",
    "write_tube_proposals",
]

#: The 24 UCF101-24 classes in label-index order (index = ``label`` of ``pyannot.pkl``; the
#: order is alphabetical and agrees with the class prefix of every video id in the file).
UCF101_24_CLASSES: tuple[str, ...] = (
    "Basketball", "BasketballDunk", "Biking", "CliffDiving", "CricketBowling", "Diving",
    "Fencing", "FloorGymnastics", "GolfSwing", "HorseRiding", "IceDancing", "LongJump",
    "PoleVault", "RopeClimbing", "SalsaSpin", "SkateBoarding", "Skiing", "Skijet",
    "SoccerJuggling", "Surfing", "TennisSwing", "TrampolineJumping", "VolleyballSpiking",
    "WalkingWithDog",
)  # fmt: skip

#: ``(width, height)`` in pixels of every UCF101 video.
UCF101_24_FRAME_SIZE: tuple[int, int] = (320, 240)


# --------------------------------------------------------------------------------------------
# JSON helpers: parsing with key paths in every error
# --------------------------------------------------------------------------------------------


class _NonFiniteConstant(Exception):
    """Raised by the JSON parser hook for ``NaN`` / ``Infinity`` literals."""


def _reject_constant(name: str) -> Any:
    raise _NonFiniteConstant(name)


def _load_json(path: Path) -> Any:
    """Parse a JSON file; any I/O, encoding or syntax problem becomes a FormatError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.strerror or e})") from None
    if not text.strip():
        raise FormatError(path, "empty file, expected a JSON object")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except _NonFiniteConstant as e:
        where = _locate(text, str(e))
        raise FormatError(path, f"non-finite number {e} is not valid JSON", where=where) from None
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}"
        raise FormatError(path, f"invalid or truncated JSON: {e.msg}", where=where) from None
    except RecursionError:
        raise FormatError(path, "JSON nested too deeply") from None


def _locate(text: str, token: str) -> str | None:
    """``"line L, column C"`` of the first bare ``token`` (outside strings) in JSON ``text``."""
    in_string = escaped = False
    for pos, ch in enumerate(text):  # error path only
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif text.startswith(token, pos):
            line = text.count("\n", 0, pos) + 1
            return f"line {line}, column {pos - text.rfind(chr(10), 0, pos)}"
    return None


def _key(parent: str, name: str) -> str:
    """Key path of ``name`` inside ``parent`` (``videos["a/b"]`` style for arbitrary ids)."""
    return f"{parent}[{json.dumps(name)}]"


def _require(obj: Mapping, key: str, path: Path, where: str) -> Any:
    if key not in obj:
        raise FormatError(path, f"missing key '{key}'", where=where)
    return obj[key]


def _expect(value: Any, kind: type | tuple[type, ...], what: str, path: Path, where: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FormatError(path, f"expected {what}, got {type(value).__name__}", where=where)
    return value


def _int_field(obj: Mapping, key: str, path: Path, where: str, *, minimum: int) -> int:
    """A JSON integer (an integral float is accepted) >= ``minimum``."""
    w = f"{where}.{key}"
    value = _expect(_require(obj, key, path, where), (int, float), "an integer", path, w)
    if isinstance(value, float) and not value.is_integer():
        raise FormatError(path, f"expected an integer, got {value!r}", where=w)
    if value < minimum:
        raise FormatError(path, f"expected an integer >= {minimum}, got {value!r}", where=w)
    return int(value)


def _finite_number(value: Any, path: Path, where: str) -> float:
    _expect(value, (int, float), "a number", path, where)
    if not np.isfinite(value):
        raise FormatError(path, f"expected a finite number, got {value!r}", where=where)
    return float(value)


def _numeric_array(raw: Any, path: Path, where: str, what: str) -> np.ndarray:
    """``np.asarray`` of a JSON list that must hold numbers only (no strings, nulls, bools)."""
    _expect(raw, list, f"a list ({what})", path, where)
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError, OverflowError):
        arr = None  # ragged nesting or huge integers: located below
    if arr is None or (arr.dtype.kind not in "iuf" and arr.size):
        raise FormatError(path, f"expected {what} made of numbers only", where=where)
    return arr


def _frames_vector(raw: Any, path: Path, where: str) -> np.ndarray:
    """``(L,)`` int64 frame numbers from a JSON list of integers."""
    arr = _numeric_array(raw, path, where, "a list of integer frame numbers")
    if arr.ndim != 1:
        raise FormatError(path, "expected a flat list of integer frame numbers", where=where)
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            k = int(bad[0])
            raise FormatError(
                path, f"frame number {arr[k]!r} is not an integer", where=f"{where}[{k}]"
            )
    return arr.astype(np.int64).reshape(-1)


def _first_bad_box_row(raw: list) -> int:
    """Index of the first entry of ``raw`` that is not a list of 4 numbers (error path only)."""
    for k, row in enumerate(raw):
        ok = isinstance(row, list) and len(row) == 4
        if not ok or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
            return k
    return 0


def _boxes_matrix(raw: Any, path: Path, where: str) -> np.ndarray:
    """``(L, 4)`` float64 boxes from a JSON list of ``[x1, y1, x2, y2]``; finite values only."""
    _expect(raw, list, "a list of [x1, y1, x2, y2] boxes", path, where)
    if not raw:
        return np.zeros((0, 4), dtype=np.float64)
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError, OverflowError):
        arr = None
    if arr is None or arr.dtype.kind not in "iuf" or arr.ndim != 2 or arr.shape[1] != 4:
        k = _first_bad_box_row(raw)
        row = raw[k]
        detail = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
        msg = f"each box must be a list of 4 numbers [x1, y1, x2, y2], got {detail}"
        if isinstance(row, list) and len(row) == 4:
            msg = "each box must be a list of 4 numbers [x1, y1, x2, y2], got a non-number"
        raise FormatError(path, msg, where=f"{where}[{k}]")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        raise FormatError(path, "box coordinates must be finite", where=f"{where}[{int(bad[0])}]")
    return arr


def _tube_geometry(obj: Mapping, path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``frames (L,)`` int64 and ``boxes (L, 4)`` float64 pixels of one JSON tube."""
    frames = _frames_vector(_require(obj, "frames", path, where), path, f"{where}.frames")
    boxes = _boxes_matrix(_require(obj, "boxes", path, where), path, f"{where}.boxes")
    if frames.size == 0:
        raise FormatError(path, "empty tube: 'frames' has no entries", where=f"{where}.frames")
    if boxes.shape[0] != frames.shape[0]:
        msg = f"'boxes' has {boxes.shape[0]} entries but 'frames' has {frames.shape[0]}"
        raise FormatError(path, msg, where=where)
    if frames[0] < 1:
        msg = f"frames are 1-indexed, got {int(frames[0])}"
        raise FormatError(path, msg, where=f"{where}.frames[0]")
    gaps = np.flatnonzero(np.diff(frames) != 1)
    if gaps.size:
        k = int(gaps[0])
        msg = (
            "frames must be consecutive increasing integers, got "
            f"{int(frames[k])} then {int(frames[k + 1])}"
        )
        raise FormatError(path, msg, where=f"{where}.frames[{k + 1}]")
    return frames, boxes


def _label_list(raw: Any, path: Path, where: str) -> list[str]:
    """A JSON list of distinct non-empty label names."""
    _expect(raw, list, "a list of label names", path, where)
    seen: set[str] = set()
    for k, name in enumerate(raw):
        if not isinstance(name, str) or not name:
            raise FormatError(path, "label names must be non-empty strings", where=f"{where}[{k}]")
        if name in seen:
            raise FormatError(path, f"duplicate label {name!r}", where=f"{where}[{k}]")
        seen.add(name)
    return list(raw)


# --------------------------------------------------------------------------------------------
# gt_tubes.json
# --------------------------------------------------------------------------------------------


def _gt_video(
    entry: Any, index: dict[str, int], path: Path, where: str
) -> tuple[dict[str, int], list[Tube]]:
    """Metadata and tubes of one ``videos[vid]`` entry of ``gt_tubes.json``."""
    _expect(entry, dict, "an object with nframes, width, height, tubes", path, where)
    meta = {
        "nframes": _int_field(entry, "nframes", path, where, minimum=1),
        "width": _int_field(entry, "width", path, where, minimum=1),
        "height": _int_field(entry, "height", path, where, minimum=1),
    }
    raw_tubes = _expect(entry.get("tubes", []), list, "a list of tubes", path, f"{where}.tubes")
    tubes = []
    for i, raw in enumerate(raw_tubes):
        tw = f"{where}.tubes[{i}]"
        _expect(raw, dict, "a tube object with label, frames, boxes", path, tw)
        name = _require(raw, "label", path, tw)
        if not isinstance(name, str) or name not in index:
            raise FormatError(
                path, f"unknown label {name!r} (not in 'labels')", where=f"{tw}.label"
            )
        frames, boxes = _tube_geometry(raw, path, tw)
        if frames[-1] > meta["nframes"]:
            msg = f"tube ends at frame {int(frames[-1])} beyond nframes={meta['nframes']}"
            raise FormatError(path, msg, where=f"{tw}.frames")
        tubes.append(Tube(frames, boxes, label=index[name]))
    return meta, tubes


def read_gt_tubes(path: str | os.PathLike) -> TubeGroundTruth:
    """Read ground-truth tubes from a ``gt_tubes.json`` file (the video-mAP fixture format).

    Layout: ``{"labels": [name, ...], "videos": {video_id: {"nframes": int, "width": int,
    "height": int, "tubes": [{"label": name, "frames": [f, f+1, ...],
    "boxes": [[x1, y1, x2, y2], ...]}]}}}``; frames 1-indexed and consecutive, one box per
    frame, boxes in pixels with inclusive corners. Video order is file order (it is the
    evaluation order of ACT's ``videoAP``).

    Raises:
        FormatError: naming the file and key path for truncated/invalid JSON, a missing key,
            an unknown label, non-consecutive frames, a boxes/frames length mismatch, a box
            that is not 4 numbers, non-numeric or non-finite values, or a tube past ``nframes``.
    """
    p = Path(path)
    data = _expect(_load_json(p), dict, "an object with 'labels' and 'videos'", p, "top level")
    labels = _label_list(_require(data, "labels", p, "top level"), p, "labels")
    raw_videos = _expect(_require(data, "videos", p, "top level"), dict, "an object", p, "videos")
    index = {name: i for i, name in enumerate(labels)}
    videos: dict[str, dict[str, int]] = {}
    tubes: dict[str, list[Tube]] = {}
    for vid, entry in raw_videos.items():
        videos[vid], tubes[vid] = _gt_video(entry, index, p, _key("videos", vid))
    return TubeGroundTruth(labels=labels, videos=videos, tubes=tubes)


def _tube_json(tube: Tube, labels: Sequence[str], where: str) -> dict[str, Any]:
    """JSON object of one tube (label name, frames, boxes); checks label and finiteness."""
    if not 0 <= tube.label < len(labels):
        raise ValueError(f"{where}: label index {tube.label} is not in the label list")
    if not np.isfinite(tube.boxes).all():
        raise ValueError(f"{where}: non-finite box coordinates cannot be written to JSON")
    return {
        "label": labels[tube.label],
        "frames": tube.frames.tolist(),
        "boxes": tube.boxes.tolist(),
    }


def write_gt_tubes(path: str | os.PathLike, gt: TubeGroundTruth) -> None:
    """Write ``gt`` as ``gt_tubes.json`` atomically (the layout :func:`read_gt_tubes` reads).

    Every video of ``gt.videos`` is written in order with its ``nframes``/``width``/``height``
    and its tubes; a tube of a video missing from ``gt.videos`` raises ``ValueError``.
    """
    extra = set(gt.tubes) - set(gt.videos)
    if extra:
        raise ValueError(f"tubes given for videos without metadata: {sorted(extra)[:3]}")
    videos = {}
    for vid, meta in gt.videos.items():
        entry = {k: int(meta[k]) for k in ("nframes", "width", "height")}
        where = f"video {vid!r}"
        entry["tubes"] = [
            _tube_json(t, gt.labels, f"{where} tube {i}")
            for i, t in enumerate(gt.tubes.get(vid, []))
        ]
        videos[vid] = entry
    write_json_atomic(path, {"labels": list(gt.labels), "videos": videos})


# --------------------------------------------------------------------------------------------
# Tube results JSON
# --------------------------------------------------------------------------------------------


def _frame_scores(raw: Any, n: int, path: Path, where: str) -> np.ndarray | None:
    """Optional per-frame scores: a list of ``n`` numbers or nulls (null = unknown, NaN)."""
    if raw is None:
        return None
    _expect(raw, list, "a list of per-frame scores", path, where)
    if len(raw) != n:
        raise FormatError(path, f"{len(raw)} frame scores for {n} frames", where=where)
    if not all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        raise FormatError(path, "frame scores must be numbers or null", where=where)
    return np.asarray(raw, dtype=np.float64)


def _result_tube(raw: Any, path: Path, where: str) -> tuple[str, Tube]:
    """Label name and Tube (label index unset) of one entry of ``results[vid]``."""
    _expect(raw, dict, "a tube object with label, score, frames, boxes", path, where)
    name = _require(raw, "label", path, where)
    if not isinstance(name, str):
        raise FormatError(
            path, f"label must be a string, got {type(name).__name__}", where=f"{where}.label"
        )
    score = _finite_number(_require(raw, "score", path, where), path, f"{where}.score")
    frames, boxes = _tube_geometry(raw, path, where)
    fs = _frame_scores(raw.get("frame_scores"), len(frames), path, f"{where}.frame_scores")
    return name, Tube(frames, boxes, label=-1, score=score, frame_scores=fs)


def read_tube_results(
    path: str | os.PathLike, labels: Sequence[str] | None = None, *, keep_unknown: bool = False
) -> TubeDetections:
    """Read predicted tubes from a tube results JSON (the ``det_*.json`` fixture format).

    Layout: ``{"results": {video_id: [{"label": name, "score": float, "frames": [...],
    "boxes": [[x1, y1, x2, y2], ...], "frame_scores": [...] (optional)}]}}``, optionally with
    a top-level ``"labels"`` list (written by :func:`write_tube_results`).

    Args:
        path: the JSON file.
        labels: the class list the returned tube labels index into (usually the ground
            truth's). ``None``: the file's ``"labels"`` if present, else label names in order of
            first appearance.
        keep_unknown: tubes whose label is not in ``labels`` are dropped by default; with
            ``True`` they are kept with label ``-1`` (the video evaluator ignores them, as
            ACT's ``videoAP`` never reads labels outside its list).

    Raises:
        FormatError: naming the file and key path (see :func:`read_gt_tubes`), also for a
            missing or non-finite score.
    """
    p = Path(path)
    data = _expect(_load_json(p), dict, "an object with 'results'", p, "top level")
    raw_results = _expect(
        _require(data, "results", p, "top level"), dict, "an object", p, "results"
    )
    open_set = labels is None and "labels" not in data
    if labels is None:
        names = [] if open_set else _label_list(data["labels"], p, "labels")
    else:
        names = [str(x) for x in labels]
    index = {name: i for i, name in enumerate(names)}
    tubes: dict[str, list[Tube]] = {}
    for vid, raw_list in raw_results.items():
        vw = _key("results", vid)
        _expect(raw_list, list, "a list of tubes", p, vw)
        kept = []
        for i, raw in enumerate(raw_list):
            name, tube = _result_tube(raw, p, f"{vw}[{i}]")
            if name not in index and open_set:
                index[name] = len(names)
                names.append(name)
            tube.label = index.get(name, -1)
            if tube.label >= 0 or keep_unknown:
                kept.append(tube)
        tubes[vid] = kept
    return TubeDetections(tubes=tubes, labels=names)


def write_tube_results(path: str | os.PathLike, dets: TubeDetections) -> None:
    """Write ``dets`` as a tube results JSON atomically (read back by :func:`read_tube_results`).

    Writes ``{"labels": dets.labels, "results": {video: [{"label", "score", "frames",
    "boxes", "frame_scores"?}]}}``; ``frame_scores`` is included only when every per-frame
    score of the tube is finite. A tube with a label outside ``dets.labels`` (e.g. ``-1``) or
    a non-finite score raises ``ValueError``.
    """
    results = {}
    for vid, tubes in dets.tubes.items():
        entries = []
        for i, t in enumerate(tubes):
            where = f"video {vid!r} tube {i}"
            if not np.isfinite(t.score):
                raise ValueError(f"{where}: score {t.score} is not finite")
            entry = _tube_json(t, dets.labels, where)
            entry = {"label": entry["label"], "score": float(t.score), **entry}
            if len(t) and np.isfinite(t.frame_scores).all():
                entry["frame_scores"] = t.frame_scores.tolist()
            entries.append(entry)
        results[vid] = entries
    write_json_atomic(path, {"labels": list(dets.labels), "results": results})


# --------------------------------------------------------------------------------------------
# UCF101-24 corrected annotations (pyannot.pkl)
# --------------------------------------------------------------------------------------------


def _pkl_int(value: Any, path: Path, where: str) -> int:
    """A Python or numpy integer from the pickle (uint8/uint16 included), as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise FormatError(path, f"expected an integer, got {type(value).__name__}", where=where)
    return int(value)


def _pkl_database(data: Any, path: Path) -> tuple[dict, list[str] | None]:
    """``(videos dict, embedded class names or None)`` of either pickle layout."""
    if isinstance(data, dict) and "db" in data:
        db = data["db"]
        classes = data.get("classes")
        if classes is not None:
            ok = isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes)
            if not ok:
                raise FormatError(
                    path, "'classes' must be a list of class names", where="['classes']"
                )
            classes = [str(c) for c in classes]
    else:
        db, classes = data, None
    if not isinstance(db, dict) or not db:
        raise FormatError(path, "expected a non-empty dict {video id: annotation}")
    return db, classes


def _class_of_video(vid: str) -> str:
    """``"Biking/v_Biking_g01_c03"`` -> ``"Biking"`` (the class folder of the video id)."""
    return vid.split("/", 1)[0]


def _resolve_class_names(
    db: dict, embedded: list[str] | None, given: Sequence[str] | None, path: Path
) -> list[str]:
    """Class names in label-index order: ``given``, else embedded, else derived from video ids.

    Derivation: every video id is ``<Class>/v_<Class>_gXX_cYY`` and every video has one
    ``label``; the class folder of the videos with label ``k`` names class ``k``. Embedded
    names are checked against the video ids; a complete, unambiguous derivation is used
    as is, otherwise :data:`UCF101_24_CLASSES` is the fallback.
    """
    derived: dict[int, set[str]] = {}
    for vid, entry in db.items():
        if isinstance(entry, dict) and isinstance(entry.get("label"), (int, np.integer)):
            derived.setdefault(int(entry["label"]), set()).add(_class_of_video(str(vid)))
    if given is not None:
        return [str(c) for c in given]
    if embedded is not None:
        for k, folders in derived.items():
            if not 0 <= k < len(embedded) or folders != {embedded[k]}:
                msg = f"class names disagree with video ids for label {k}: {sorted(folders)}"
                raise FormatError(path, msg, where="['classes']")
        return embedded
    complete = sorted(derived) == list(range(len(derived))) and all(
        len(s) == 1 for s in derived.values()
    )
    if complete and derived:
        return [next(iter(derived[k])) for k in range(len(derived))]
    return list(UCF101_24_CLASSES)


def _ucf_tube(ann: Any, numf: int, n_classes: int, path: Path, where: str) -> Tube:
    """One ``annotations[i]`` entry -> Tube (1-indexed frames, inclusive 0-based pixel corners).

    ``sf`` is the 0-based first frame and ``ef`` the exclusive end (``boxes`` has ``ef - sf``
    rows), so the tube covers 1-indexed frames ``sf + 1 .. ef``. ``boxes`` rows are MATLAB
    ``[x, y, w, h]`` with ``(x, y)`` the 1-based top-left pixel and ``(x + w, y + h)`` the
    1-based bottom-right pixel (values are clipped to ``[1, 320] x [1, 240]`` in the file), so
    ``x1 = x - 1, y1 = y - 1, x2 = x + w - 1, y2 = y + h - 1`` (0-based, inclusive).
    """
    if not isinstance(ann, dict):
        raise FormatError(path, "expected a dict with sf, ef, label, boxes", where=where)
    for key in ("sf", "ef", "label", "boxes"):
        if key not in ann:
            raise FormatError(path, f"missing key '{key}'", where=where)
    sf = _pkl_int(ann["sf"], path, f"{where}['sf']")
    ef = _pkl_int(ann["ef"], path, f"{where}['ef']")
    label = _pkl_int(ann["label"], path, f"{where}['label']")
    if not 0 <= label < n_classes:
        raise FormatError(
            path, f"label {label} outside 0..{n_classes - 1}", where=f"{where}['label']"
        )
    if not 0 <= sf < ef <= numf:
        raise FormatError(
            path,
            f"frame range sf={sf}, ef={ef} not within 0 <= sf < ef <= numf={numf}",
            where=where,
        )
    boxes = ann["boxes"]
    if (
        not isinstance(boxes, np.ndarray)
        or boxes.dtype.kind not in "iuf"
        or boxes.ndim != 2
        or boxes.shape[1] != 4
    ):
        desc = (
            f"{boxes.dtype} {boxes.shape}"
            if isinstance(boxes, np.ndarray)
            else type(boxes).__name__
        )
        raise FormatError(
            path, f"boxes must be an (N, 4) numeric array, got {desc}", where=f"{where}['boxes']"
        )
    if boxes.shape[0] != ef - sf:
        msg = f"boxes has {boxes.shape[0]} rows but ef - sf = {ef - sf}"
        raise FormatError(path, msg, where=f"{where}['boxes']")
    xywh = boxes.astype(np.float64)  # cast first: uint8/uint16 arithmetic would wrap around
    if not np.isfinite(xywh).all():
        raise FormatError(path, "non-finite box values", where=f"{where}['boxes']")
    xyxy = np.concatenate([xywh[:, :2] - 1.0, xywh[:, :2] + xywh[:, 2:] - 1.0], axis=1)
    return Tube(np.arange(sf + 1, ef + 1, dtype=np.int64), xyxy, label=label)


def _ucf_video(entry: Any, n_classes: int, path: Path, where: str) -> tuple[int, list[Tube]]:
    """``(numf, tubes)`` of one video entry ``{"numf", "label", "annotations"}``."""
    if not isinstance(entry, dict):
        raise FormatError(path, "expected a dict with numf, label, annotations", where=where)
    for key in ("numf", "annotations"):
        if key not in entry:
            raise FormatError(path, f"missing key '{key}'", where=where)
    numf = _pkl_int(entry["numf"], path, f"{where}['numf']")
    anns = entry["annotations"]
    if not isinstance(anns, (list, tuple)):
        raise FormatError(path, "annotations must be a list", where=f"{where}['annotations']")
    tubes = [
        _ucf_tube(a, numf, n_classes, path, f"{where}['annotations'][{i}]")
        for i, a in enumerate(anns)
    ]
    return numf, tubes


def read_ucf101_24_pickle(
    path: str | os.PathLike, *, class_names: Sequence[str] | None = None
) -> TubeGroundTruth:
    """Read the corrected UCF101-24 annotations (``pyannot.pkl``) into ground-truth tubes.

    The file (gurkirt/corrected-UCF101-Annots) is a pickle of ``{video_id: {"numf": int,
    "label": int, "annotations": [{"sf", "ef", "label", "boxes"}]}}``; the
    ``pyannot_with_class_names.pkl`` variant wraps it as ``{"db": ..., "trainvideos": [...],
    "classes": [...]}``. It is loaded with the restricted unpickler only (no code runs).

    Conventions determined from the data (3194 videos, 4458 tubes):

    * frames: ``sf`` is 0-based inclusive, ``ef`` exclusive (``len(boxes) == ef - sf`` for every
      tube, ``min(sf) == 0``, ``max(ef - numf) == 0``), so the tube covers 1-indexed frames
      ``sf + 1 .. ef``; checked: ``0 <= sf < ef <= numf``.
    * boxes: uint8/uint16 ``[x, y, w, h]``, cast to float64 before any arithmetic; ``x, y >= 1``
      and ``x + w <= 320``, ``y + h <= 240`` (the file clips corners to 1-based pixel indices),
      converted to 0-based inclusive corners ``[x - 1, y - 1, x + w - 1, y + h - 1]``, so all
      boxes lie in ``[0, 319] x [0, 239]`` and the ACT +1 width is ``w + 1``.
    * frame size 320x240 for every video (:data:`UCF101_24_FRAME_SIZE`).
    * class names: ``class_names`` if given, else the ``classes`` list of the wrapped pickle
      (checked against the video ids), else derived from the ids ``<Class>/v_<Class>_gXX_cYY``
      (equal to :data:`UCF101_24_CLASSES`).

    Videos are returned sorted by id (the pickle's own order is arbitrary). Tube labels come
    from each annotation's ``label`` (always equal to the video ``label`` in this file).
    """
    p = Path(path)
    db, embedded = _pkl_database(safe_pickle_load(p), p)
    labels = _resolve_class_names(db, embedded, class_names, p)
    width, height = UCF101_24_FRAME_SIZE
    videos: dict[str, dict[str, int]] = {}
    tubes: dict[str, list[Tube]] = {}
    for key in sorted(db, key=str):
        if not isinstance(key, str):
            raise FormatError(p, f"video ids must be strings, got {type(key).__name__}")
        vid = str(key)
        numf, vtubes = _ucf_video(db[key], len(labels), p, f"[{vid!r}]")
        videos[vid] = {"nframes": numf, "width": width, "height": height}
        tubes[vid] = vtubes
    return TubeGroundTruth(labels=labels, videos=videos, tubes=tubes)


def read_video_list(path: str | os.PathLike) -> list[str]:
    """Read a list of video ids: a split text file or the train list of a UCF101-24 pickle.

    * text (``testlist01.txt``): one id per line (``Basketball/v_Basketball_g01_c01``); blank
      lines and ``#`` comments are skipped; only the first whitespace-separated token is
      used and a trailing ``.avi`` is removed (the original UCF101 list style
      ``Class/v_Class_g01_c01.avi 1``). Duplicates raise FormatError.
    * ``.pkl`` / ``.pickle``: the ``trainvideos`` list of ``pyannot_with_class_names.pkl``
      (2290 ids, of which 2284 are annotated: six training videos were dropped from the
      corrected annotations).
    """
    p = Path(path)
    if p.suffix.lower() in (".pkl", ".pickle"):
        return _pickle_video_list(p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(p, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise FormatError(p, f"cannot read file ({e.strerror or e})") from None
    out: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        vid = tokens[0].removesuffix(".avi")
        if "\x00" in vid:
            raise FormatError(p, "NUL character in video id", where=f"line {lineno}")
        if vid in seen:
            raise FormatError(
                p, f"duplicate video {vid!r} (first on line {seen[vid]})", where=f"line {lineno}"
            )
        seen[vid] = lineno
        out.append(vid)
    return out


def _pickle_video_list(p: Path) -> list[str]:
    """The ``trainvideos`` list of a ``pyannot_with_class_names.pkl``-style pickle."""
    data = safe_pickle_load(p)
    vids = data.get("trainvideos") if isinstance(data, dict) else None
    if not isinstance(vids, (list, tuple)) or not all(isinstance(v, str) for v in vids):
        raise FormatError(p, "pickle has no 'trainvideos' list of video ids")
    return [str(v) for v in vids]


def ucf101_24_to_gt_tubes(
    pkl_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    videos: Sequence[str] | str | os.PathLike | None = None,
) -> TubeGroundTruth:
    """Convert ``pyannot.pkl`` to ``gt_tubes.json`` (atomic) and return the ground truth.

    Args:
        pkl_path: ``pyannot.pkl`` or ``pyannot_with_class_names.pkl``.
        out_path: the ``gt_tubes.json`` to write.
        videos: keep only these videos, in this order: a sequence of ids, or a path
            (``str``/``PathLike``) to a list read by :func:`read_video_list` (e.g.
            ``testlist01.txt``). Ids without annotations are skipped with a warning (six
            ids of the official train list have none). ``None``: all videos, sorted.
    """
    gt = read_ucf101_24_pickle(pkl_path)
    if videos is not None:
        wanted = read_video_list(videos) if isinstance(videos, (str, os.PathLike)) else list(videos)
        keep = list(dict.fromkeys(v for v in wanted if v in gt.videos))
        missing = [v for v in wanted if v not in gt.videos]
        if missing:
            warnings.warn(
                f"{len(missing)} requested videos have no annotation and are skipped "
                f"(e.g. {missing[:3]})",
                stacklevel=2,
            )
        gt = TubeGroundTruth(
            labels=gt.labels,
            videos={v: gt.videos[v] for v in keep},
            tubes={v: gt.tubes[v] for v in keep},
        )
    write_gt_tubes(out_path, gt)
    return gt


# --------------------------------------------------------------------------------------------
# Tube dataset folder: per-video proposal files
# --------------------------------------------------------------------------------------------


def proposal_filename(video_id: str) -> str:
    """File name of a video's proposals in the tube folder: ``'/'`` -> ``'__'``, plus ``.npz``.

    ``"Biking/v_Biking_g01_c03"`` -> ``"Biking__v_Biking_g01_c03.npz"``. Ids that could
    escape the folder or name something odd are refused with
    :class:`~wsal.errors.FormatError` (a ``ValueError``), by the same rule as every other
    id-derived file name (:func:`wsal.io.features.safe_video_filename`): empty ids, absolute
    paths, ``.``/``..`` components, backslashes, NUL or other control characters, names
    longer than 255 bytes. (Ids that already contain ``"__"`` could collide with a ``'/'``
    id; no benchmark uses such ids.)
    """
    from wsal.io.features import safe_video_filename

    return safe_video_filename(video_id, suffix=".npz")


_PROPOSAL_KEYS = ("frames", "boxes", "scores", "features")


@dataclass
class TubeProposals:
    """Person-box proposals of one video, the input of tube linking (STIL, UA-MIL).

    Attributes:
        frames: ``(N,)`` int64, 1-indexed frame of each box (boxes of a frame are contiguous
            or not; many boxes may share a frame).
        boxes: ``(N, 4)`` float64 ``x1, y1, x2, y2`` pixels, inclusive corners.
        scores: ``(N,)`` float64 detector (person / actionness) scores.
        features: ``(N, D)`` float32 box features (e.g. RoI-pooled, D = 4096 in STIL).
    """

    frames: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    features: np.ndarray

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        n = self.frames.shape[0]
        self.boxes = np.asarray(self.boxes, dtype=np.float64)
        if self.boxes.size == 0:
            self.boxes = self.boxes.reshape(0, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        self.features = np.asarray(self.features, dtype=np.float32)
        shapes_ok = self.boxes.shape == (n, 4) and self.scores.shape == (n,)
        if not shapes_ok or self.features.ndim != 2 or self.features.shape[0] != n:
            raise ValueError(
                f"TubeProposals: {n} frames but boxes {self.boxes.shape}, scores "
                f"{self.scores.shape}, features {self.features.shape} "
                f"(expected ({n}, 4), ({n},), ({n}, D))"
            )
        if n and self.frames.min() < 1:
            raise ValueError("TubeProposals.frames are 1-indexed (>= 1)")

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def _npz_array(z: Any, key: str, path: Path) -> np.ndarray:
    """Array ``key`` of an open ``.npz``; missing, unreadable or non-numeric -> FormatError."""
    if key not in z.files:
        raise FormatError(path, f"missing array '{key}' (expected {', '.join(_PROPOSAL_KEYS)})")
    try:
        arr = z[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        # object arrays (they need pickles) are refused here too
        raise FormatError(path, f"unreadable array ({e})", where=key) from None
    if arr.dtype.kind not in "iuf":
        raise FormatError(path, f"expected a numeric array, got dtype {arr.dtype}", where=key)
    return arr


def _check_proposal_arrays(arrs: dict[str, np.ndarray], path: Path) -> None:
    """Shapes ``(N,)``, ``(N, 4)``, ``(N,)``, ``(N, D)``; integer frames >= 1; finite values."""
    n = arrs["frames"].shape[0] if arrs["frames"].ndim == 1 else -1
    expected = {"frames": (n,), "boxes": (n, 4), "scores": (n,)}
    for key, shape in expected.items():
        if n < 0 or arrs[key].shape != shape:
            msg = f"shape {arrs[key].shape}, expected {shape if n >= 0 else '(N,)'}"
            raise FormatError(path, msg, where=key)
    feats = arrs["features"]
    if feats.ndim != 2 or feats.shape[0] != n:
        raise FormatError(path, f"shape {feats.shape}, expected ({n}, D)", where="features")
    if arrs["frames"].dtype.kind not in "iu":
        raise FormatError(
            path, f"frames must be integers, got {arrs['frames'].dtype}", where="frames"
        )
    if n and arrs["frames"].min() < 1:
        raise FormatError(path, "frames are 1-indexed, found a value < 1", where="frames")
    for key in ("boxes", "scores", "features"):
        if not np.isfinite(arrs[key]).all():
            raise FormatError(path, "non-finite values", where=key)


def read_tube_proposals(path: str | os.PathLike) -> TubeProposals:
    """Read one proposals ``.npz`` of the tube folder (``np.load(allow_pickle=False)``).

    Expected arrays: ``frames (N,)`` integer 1-indexed, ``boxes (N, 4)`` pixels,
    ``scores (N,)``, ``features (N, D)``; extra arrays are ignored. Raises FormatError naming
    the file (and the array) for unreadable files, missing keys, wrong shapes or dtypes,
    frames < 1 and non-finite values.
    """
    p = Path(path)
    try:
        z = np.load(p, allow_pickle=False)
    except OSError as e:
        raise FormatError(p, f"cannot read file ({e.strerror or e})") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as e:
        raise FormatError(p, f"not a readable .npz archive ({e})") from None
    if not hasattr(z, "files"):
        raise FormatError(p, "expected an .npz archive, got a single .npy array")
    with z:
        arrs = {k: _npz_array(z, k, p) for k in _PROPOSAL_KEYS}
    _check_proposal_arrays(arrs, p)
    return TubeProposals(**arrs)


def write_tube_proposals(path: str | os.PathLike, p: TubeProposals) -> None:
    """Write ``p`` atomically as an uncompressed ``.npz`` (no pickled objects).

    Stored dtypes: frames int64, boxes float64, scores float64, features float32. Non-finite
    boxes, scores or features raise ``ValueError`` (the file would not read back).
    """
    for key in ("boxes", "scores", "features"):
        if not np.isfinite(getattr(p, key)).all():
            raise ValueError(f"TubeProposals.{key} has non-finite values")
    save_npz_atomic(path, frames=p.frames, boxes=p.boxes, scores=p.scores, features=p.features)
