"""End-to-end temporal workflows behind the CLI: train -> predict -> localize -> evaluate.

Each function writes its outputs atomically into the run folder and returns the metrics, so
the CLI stays a thin layer and tests can call the same code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wsal.config import RunConfig, merge_config, parse_overrides
from wsal.errors import FormatError, WsalError
from wsal.io.atomic import write_json_atomic
from wsal.io.features import has_temporal_split

if TYPE_CHECKING:
    from wsal.engine.end_to_end import EndToEndConfig

__all__ = [
    "train_and_evaluate",
    "predict_to_files",
    "localize_to_file",
    "summarize_seeds",
    "evaluate_split",
    "run_task",
    "train_and_evaluate_keyframe",
    "predict_keyframe_to_file",
    "summarize_keyframe_seeds",
    "predict_end_to_end_to_file",
    "train_and_evaluate_end_to_end",
]


def evaluate_split(folder, split: str, dets, tiou: str):
    """mAP of ``dets`` against the ground truth of the videos of ``split`` (subset = split)."""
    from wsal.evaluation.temporal import parse_thresholds, temporal_map

    gt = folder.gt.select(folder.splits[split], subset_name=split)
    return temporal_map(gt, dets, tiou_thresholds=parse_thresholds(tiou))


def predict_to_files(
    run_dir: str | Path,
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    split: str = "test",
    raw_path: str | Path | None = None,
    preset: str | None = None,
    device: str = "auto",
    evaluate: bool = False,
):
    """Predict ``split`` with a trained run; write results JSON and raw scores.

    Returns the :class:`~wsal.evaluation.temporal.TemporalMAPResult` when ``evaluate`` is set
    (ground truth of the split's videos), else None.
    """
    from wsal.config import load_run_config
    from wsal.engine.trainer import predict_temporal
    from wsal.io.temporal import write_activitynet_results
    from wsal.localize.temporal import save_raw_scores

    run_dir = Path(run_dir)
    raw, dets, folder = predict_temporal(
        run_dir, data_root=data_root, split=split, preset=preset, device=device
    )
    save_raw_scores(raw_path or run_dir / f"raw_{split}.npz", raw)
    write_activitynet_results(out, dets)
    if not evaluate:
        return None
    cfg = load_run_config(run_dir / "config.yaml")
    return evaluate_split(folder, split, dets, cfg.eval.tiou)


def train_and_evaluate(
    cfg: RunConfig, run_dir: str | Path, *, resume: bool = False, evaluate: bool = True
):
    """Train, then (if the dataset has the test split) predict and evaluate it.

    Keyframe configs (:class:`~wsal.config.KeyframeRunConfig`) go to
    :func:`train_and_evaluate_keyframe`.

    Writes ``RUN/results_<split>.json``, ``RUN/raw_<split>.npz`` and ``RUN/metrics_<split>.json``.
    The test split is only evaluated, never used to choose anything.
    """
    from wsal.config import KeyframeRunConfig
    from wsal.engine.trainer import train_temporal

    if isinstance(cfg, KeyframeRunConfig):
        return train_and_evaluate_keyframe(cfg, run_dir, resume=resume, evaluate=evaluate)
    run_dir = Path(run_dir)
    trained = train_temporal(cfg, run_dir, resume=resume)
    split = cfg.data.test_split
    if trained.rank != 0:  # under DDP only rank 0 predicts, evaluates and writes
        return None
    if not evaluate or not has_temporal_split(cfg.data.root, split):
        return None
    result = predict_to_files(
        run_dir, run_dir / f"results_{split}.json", split=split, evaluate=True
    )
    write_json_atomic(run_dir / f"metrics_{split}.json", result.to_json(), indent=1)
    return result


def summarize_seeds(out: str | Path, seeds: Sequence[int], results: Sequence) -> str:
    """Mean +- std over seeds of mAP per threshold and average mAP; saved as ``seeds_summary.json``."""
    maps = np.stack([r.mAP for r in results])  # (S, K)
    avg = np.array([r.average_mAP for r in results])
    thresholds = results[0].thresholds
    summary = {
        "seeds": list(seeds),
        "average_mAP": {
            "mean": float(avg.mean()),
            "std": float(avg.std(ddof=1)) if len(avg) > 1 else 0.0,
            "per_seed": avg.tolist(),
        },
        "mAP": {
            f"{t:.2f}": {"mean": float(m), "std": float(s)}
            for t, m, s in zip(
                thresholds,
                maps.mean(0),
                maps.std(0, ddof=1) if len(avg) > 1 else np.zeros(len(thresholds)),
            )
        },
    }
    write_json_atomic(Path(out) / "seeds_summary.json", summary, indent=1)
    head = "tIoU     " + " ".join(f"{t:>13.2f}" for t in thresholds) + "      average"
    row = "mAP (%)  " + " ".join(
        f"{100 * m:6.2f}+-{100 * s:5.2f}"
        for m, s in zip(
            maps.mean(0), maps.std(0, ddof=1) if len(avg) > 1 else np.zeros(len(thresholds))
        )
    )
    row += (
        f"  {100 * summary['average_mAP']['mean']:6.2f}+-{100 * summary['average_mAP']['std']:5.2f}"
    )
    return f"{len(seeds)} seeds {list(seeds)}\n{head}\n{row}"


def _run_classes(run_dir: Path) -> list[str]:
    path = run_dir / "run.json"
    if not path.is_file():
        raise FormatError(
            path, "run.json not found (give --run RUN, the folder written by `wsal train`)"
        )
    try:
        classes = json.loads(path.read_text(encoding="utf-8"))["classes"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise FormatError(path, f"cannot read class names ({e})") from None
    return [str(c) for c in classes]


def localize_to_file(
    scores: str | Path,
    out: str | Path,
    *,
    preset: str,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
) -> int:
    """Localize saved raw scores with ``preset`` (+ ``field=value`` overrides); write results JSON.

    Returns the number of segments written.
    """
    from wsal.engine.trainer import check_localizer_inputs
    from wsal.io.temporal import write_activitynet_results
    from wsal.localize.temporal import (
        PRESETS,
        load_raw_scores,
        localize_many,
        to_temporal_detections,
    )

    if preset not in PRESETS:
        raise WsalError(f"unknown localizer preset '{preset}'; available: {', '.join(PRESETS)}")
    cfg = (
        merge_config(PRESETS[preset], parse_overrides(overrides)) if overrides else PRESETS[preset]
    )
    classes = _run_classes(Path(run_dir) if run_dir else Path(scores).parent)
    raw = load_raw_scores(scores)
    check_localizer_inputs(raw, cfg, preset)
    dets = to_temporal_detections(localize_many(raw, config=cfg), classes)
    write_activitynet_results(out, dets)
    return len(dets)


# --------------------------------------------------------------------------------------------
# Keyframe (AVA-style) workflows
# --------------------------------------------------------------------------------------------


def run_task(run_dir: str | Path) -> str:
    """Task family (``"temporal"`` or ``"keyframe"``) of the run folder's method."""
    from wsal.config import read_yaml
    from wsal.methods import METHODS

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FormatError(
            path, "config.yaml not found (give --run RUN, the folder written by `wsal train`)"
        )
    method = read_yaml(path).get("method")
    if method not in METHODS:
        raise FormatError(path, f"unknown method {method!r}")
    return getattr(METHODS[method], "task", "temporal")


def predict_keyframe_to_file(
    run_dir: str | Path,
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    split: str | None = None,
    device: str = "auto",
    top_k: int | None = None,
    evaluate: bool = False,
):
    """Predict a keyframe split with a trained run; write the AVA detection CSV ``out``.

    Rows ``video_id,timestamp,x1,y1,x2,y2,action_id,score``: the ``top_k`` best classes of
    every proposal box (``eval.top_k`` of the run by default). Returns the
    :class:`~wsal.evaluation.frame.FrameMAPResult` when ``evaluate`` is set, else None.
    """
    from wsal.engine.keyframe import evaluate_keyframe, load_keyframe_run, predict_keyframe
    from wsal.io.ava import write_ava_detections

    dets, ks = predict_keyframe(
        run_dir, data_root=data_root, split=split, device=device, top_k=top_k
    )
    write_ava_detections(out, dets)
    if not evaluate:
        return None
    cfg = load_keyframe_run(run_dir)[0]
    return evaluate_keyframe(ks, dets, cfg.eval.protocol)


def train_and_evaluate_keyframe(
    cfg, run_dir: str | Path, *, resume: bool = False, evaluate: bool = True
):
    """Train a keyframe method, then predict and evaluate (Frame-mAP) ``data.test_split``.

    Writes ``RUN/detections_<split>.csv`` and ``RUN/metrics_<split>.json``; returns the
    :class:`~wsal.evaluation.frame.FrameMAPResult` (None without the split or under DDP
    rank > 0). The evaluated split is never used to choose anything.
    """
    from wsal.engine.keyframe import train_keyframe

    run_dir = Path(run_dir)
    trained = train_keyframe(cfg, run_dir, resume=resume)
    split = cfg.data.test_split
    if trained.rank != 0 or not evaluate:
        return None
    root = Path(cfg.data.root)
    if (
        not (root / "annotations" / f"{split}.csv").is_file()
        or not (root / "proposals" / f"{split}.csv").is_file()
    ):
        return None
    result = predict_keyframe_to_file(
        run_dir, run_dir / f"detections_{split}.csv", split=split, evaluate=True
    )
    write_json_atomic(run_dir / f"metrics_{split}.json", result.to_json(), indent=1)
    return result


def summarize_keyframe_seeds(out: str | Path, seeds: Sequence[int], results: Sequence) -> str:
    """Mean +- std over seeds of Frame-mAP; saved as ``seeds_summary.json``."""
    maps = np.array([r.mAP for r in results])
    std = float(maps.std(ddof=1)) if len(maps) > 1 else 0.0
    summary = {
        "seeds": list(seeds),
        "frame_mAP": {"mean": float(maps.mean()), "std": std, "per_seed": maps.tolist()},
    }
    write_json_atomic(Path(out) / "seeds_summary.json", summary, indent=1)
    return f"{len(seeds)} seeds {list(seeds)}\nFrame-mAP@0.5 (%)  {100 * maps.mean():6.2f} +- {100 * std:5.2f}"


# --------------------------------------------------------------------------------------------
# End-to-end keyframe runs (`wsal train-e2e`): frames -> backbone -> RoI head
# --------------------------------------------------------------------------------------------


def predict_end_to_end_to_file(
    run_dir: str | Path,
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    split: str | None = None,
    videos: str | Path | None = None,
    device: str = "auto",
    top_k: int | None = None,
    evaluate: bool = False,
    log: Callable[[str], None] = print,
):
    """Predict a keyframe split from video frames with an end-to-end run; write the AVA CSV.

    The same detection CSV as :func:`predict_keyframe_to_file` (``top_k`` classes per
    proposal box). With ``evaluate`` and the split's ground truth present, Frame-mAP@0.5 (the
    run's ``eval.protocol``) is computed and written to ``RUN/metrics_<split>.json``
    (atomically) and the :class:`~wsal.evaluation.frame.FrameMAPResult` returned; else None.
    """
    from wsal.config import load_config
    from wsal.engine.end_to_end import EndToEndConfig, predict_end_to_end
    from wsal.engine.keyframe import evaluate_keyframe
    from wsal.io.ava import write_ava_detections

    run_dir = Path(run_dir)
    dets, ks = predict_end_to_end(
        run_dir, data_root=data_root, split=split, videos=videos, device=device, top_k=top_k,
        log=log,
    )  # fmt: skip
    write_ava_detections(out, dets)
    if not evaluate:
        return None
    if not ks.annotation_path().is_file():
        log(f"{ks.annotation_path()}: no ground truth for split '{ks.split}'; not evaluated")
        return None
    cfg = load_config(EndToEndConfig, run_dir / "config.yaml")
    result = evaluate_keyframe(ks, dets, cfg.eval.protocol)
    write_json_atomic(run_dir / f"metrics_{ks.split}.json", result.to_json(), indent=1)
    return result


def train_and_evaluate_end_to_end(
    cfg: EndToEndConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    evaluate: bool = True,
    log: Callable[[str], None] = print,
):
    """Train end to end (:func:`wsal.engine.end_to_end.train_end_to_end`), then predict and
    evaluate ``cfg.test_split`` when the folder has it (proposals and ground truth).

    Writes ``RUN/detections_<split>.csv`` and ``RUN/metrics_<split>.json`` (rank 0 only under
    DDP). Returns ``(history, FrameMAPResult or None)``; the evaluated split is never used to
    choose anything.
    """
    from wsal.engine.end_to_end import train_end_to_end
    from wsal.engine.runtime import is_global_zero

    run_dir = Path(run_dir)
    history = train_end_to_end(cfg, run_dir, resume=resume, log=log)
    split = cfg.test_split
    root = Path(cfg.data)
    if not evaluate or not is_global_zero():
        return history, None
    if (
        not (root / "annotations" / f"{split}.csv").is_file()
        or not (root / "proposals" / f"{split}.csv").is_file()
    ):
        log(f"{root}: no proposals/ground truth of split '{split}'; not evaluated")
        return history, None
    result = predict_end_to_end_to_file(
        run_dir, run_dir / f"detections_{split}.csv", split=split, device=cfg.device,
        evaluate=True, log=log,
    )  # fmt: skip
    return history, result
