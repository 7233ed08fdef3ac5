"""Everything the plots need from a run folder, read once and tolerant of missing parts.

A run folder (``wsal train``; layout in ``docs/formats.md``) holds the merged config,
``run.json``, ``history.csv`` and, after evaluation, ``raw_<split>.npz``,
``results_<split>.json`` and ``metrics_<split>.json``. Ground truth comes from the dataset
folder (``--data``, else the run's ``data.root``). Parts that are missing are listed in
:attr:`RunView.notes` instead of failing, so a report can still show what exists.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsal.errors import FormatError, WsalError

__all__ = ["RunView", "load_run_view", "read_history"]


@dataclass
class RunView:
    """A run folder, read for plotting.

    Attributes:
        run_dir: the folder.
        config: the merged config as written (``config.yaml``), a plain dict.
        info: ``run.json``.
        classes: class names of the run (index = CAS column).
        split: the evaluated split whose files were read.
        history: ``history.csv`` rows (``epoch`` and numbers), empty if absent.
        metrics: ``metrics_<split>.json`` or None.
        raw: ``{video: RawScores}`` from ``raw_<split>.npz`` or None.
        dets: :class:`~wsal.structures.TemporalDetections` from ``results_<split>.json`` or None.
        gt: ground truth of the split's videos (classes = the run's) or None.
        data_root: the dataset folder used for the ground truth, or None.
        preset: name of the localizer preset the run used.
        localizer: the :class:`~wsal.localize.temporal.LocalizerConfig` (preset + overrides).
        tiou: ``(K,)`` evaluation thresholds of the run.
        notes: human-readable lines about what could not be read.
    """

    run_dir: Path
    config: dict[str, Any]
    info: dict[str, Any]
    classes: list[str]
    split: str
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict | None = None
    raw: dict | None = None
    dets: Any = None
    gt: Any = None
    data_root: Path | None = None
    preset: str = ""
    localizer: Any = None
    tiou: np.ndarray = field(default_factory=lambda: np.linspace(0.1, 0.7, 7))
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """A short title: ``<method> (<run folder name>)``."""
        return f"{self.info.get('method', '?')} ({self.run_dir.name})"

    def videos(self) -> list[str]:
        """Videos with something to show: ground-truth videos, else raw-score videos."""
        if self.gt is not None:
            return list(self.gt.videos)
        return list(self.raw or {})


def read_history(path: str | Path) -> list[dict[str, float]]:
    """``history.csv`` rows as dicts of floats (empty cells become NaN)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text ({e})") from None
    rows = []
    for i, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows.append({k: float(v) if v not in ("", None) else math.nan for k, v in row.items()})
        except ValueError as e:
            raise FormatError(path, f"expected numbers ({e})", where=f"line {i}") from None
    return rows


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FormatError(path, f"invalid JSON ({e})") from None


def _resolve_data(run_dir: Path, given: str | Path | None, config: dict, info: dict):
    """The dataset folder holding ``gt.json``: ``given``, else the run's, tried as written and
    relative to the run folder; None when none exists."""
    if given is not None:
        if not (Path(given) / "gt.json").is_file():
            raise FormatError(
                given, "no gt.json in this dataset folder (give the folder of the run's data)"
            )
        return Path(given)
    for cand in (config.get("data", {}).get("root"), info.get("data")):
        if not cand:
            continue
        for base in (Path(cand), run_dir / cand, run_dir.parent / cand):
            if (base / "gt.json").is_file():
                return base
    return None


def _localizer(config: dict, method: str):
    """``(preset name, LocalizerConfig)`` the run localizes with."""
    from wsal.config import merge_config
    from wsal.localize.temporal import PRESETS

    loc = config.get("localize") or {}
    preset = loc.get("preset") or ""
    if not preset:
        from wsal.methods import METHODS

        preset = getattr(METHODS.get(method), "localizer_preset", "multi_threshold")
    if preset not in PRESETS:
        raise WsalError(f"unknown localizer preset '{preset}' in the run config")
    overrides = loc.get("overrides") or {}
    return preset, merge_config(PRESETS[preset], overrides) if overrides else PRESETS[preset]


def load_run_view(
    run_dir: str | Path, *, data: str | Path | None = None, split: str | None = None
) -> RunView:
    """Read a run folder (and its dataset's ground truth) for plotting.

    Args:
        run_dir: folder written by ``wsal train``; needs ``run.json`` and ``config.yaml``.
        data: dataset folder for the ground truth (default: the run's ``data.root``).
        split: evaluated split (default: the config's ``data.test_split``).

    Raises:
        FormatError: the folder is not a run folder, or one of its files is malformed.
    """
    from wsal.config import read_yaml
    from wsal.evaluation.temporal import parse_thresholds

    run_dir = Path(run_dir)
    for name in ("run.json", "config.yaml"):
        if not (run_dir / name).is_file():
            raise FormatError(
                run_dir / name, "not found (give --run RUN, a folder written by `wsal train`)"
            )
    info, config = _read_json(run_dir / "run.json"), read_yaml(run_dir / "config.yaml")
    split = split or config.get("data", {}).get("test_split") or "test"
    view = RunView(run_dir, config, info, [str(c) for c in info.get("classes", [])], split)
    view.preset, view.localizer = _localizer(config, str(info.get("method", "")))
    view.tiou = parse_thresholds(str(config.get("eval", {}).get("tiou", "thumos14")))
    _read_outputs(view)
    view.data_root = _resolve_data(run_dir, data, config, info)
    _read_gt(view)
    return view


def _read_outputs(view: RunView) -> None:
    """Fill history, metrics, raw scores and detections (notes for missing files)."""
    from wsal.io.temporal import read_activitynet_results
    from wsal.localize.temporal import load_raw_scores

    d, s = view.run_dir, view.split
    if (d / "history.csv").is_file():
        view.history = read_history(d / "history.csv")
    else:
        view.notes.append("history.csv not found: no training curves (training unfinished?)")
    if (d / f"metrics_{s}.json").is_file():
        view.metrics = _read_json(d / f"metrics_{s}.json")
    else:
        view.notes.append(f"metrics_{s}.json not found: run `wsal train` with evaluation")
    if (d / f"raw_{s}.npz").is_file():
        view.raw = load_raw_scores(d / f"raw_{s}.npz")
    else:
        view.notes.append(f"raw_{s}.npz not found: no activation curves")
    if (d / f"results_{s}.json").is_file():
        view.dets = read_activitynet_results(d / f"results_{s}.json", classes=view.classes)
    else:
        view.notes.append(f"results_{s}.json not found: no predicted segments")


def _read_gt(view: RunView) -> None:
    """Ground truth of the split's videos from the dataset folder, if one was found."""
    from wsal.io.temporal import read_activitynet_gt, read_split_file

    if view.data_root is None:
        view.notes.append("dataset folder not found: no ground truth (give --data DIR)")
        return
    gt = read_activitynet_gt(view.data_root / "gt.json", classes=view.classes)
    split_file = view.data_root / f"split_{view.split}.txt"
    videos = read_split_file(split_file) if split_file.is_file() else list(gt.videos)
    view.gt = gt.select(videos, subset_name=view.split)
