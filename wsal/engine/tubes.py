"""Fit / predict of the tube methods (STIL and its baselines) on a tube dataset folder.

STIL is trained by latent max-margin EM with liblinear, not by gradients, so it has its own
entry points instead of :mod:`wsal.engine.trainer`. Run folder (every file atomic)::

    RUN/config.yaml      the merged :class:`TubeRunConfig` (what ran)
    RUN/model.npz        coef (C, D), intercept (C,), video_coef, video_intercept
    RUN/run.json         method, labels, feature dim, train videos, seconds, selection sizes
    RUN/metrics.json     video-mAP on the test split (unless evaluation is skipped)

Only the label sets of the training videos are read from ``gt_tubes.json`` for training
(the tubes themselves are used to evaluate the test split only).

``method: ua_mil_tubelets`` (UAMIL on video bags of person tubelets) has its own run folder
and loop in :mod:`wsal.engine.tubelets`; :func:`cli_train` and :func:`predict_tubes` hand
such configs and runs over to it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wsal.config import config_to_dict, load_config, read_yaml, save_config
from wsal.errors import ConfigError, FormatError
from wsal.io.atomic import save_npz_atomic, write_json_atomic
from wsal.io.temporal import read_split_file
from wsal.io.tubes import proposal_filename, read_gt_tubes, read_tube_proposals
from wsal.methods.stil import (
    STIL,
    Annotations,
    STILConfig,
    VideoBoxes,
    annotation_prior,
    annotation_seconds,
    simulate_annotations,
)
from wsal.structures import TubeDetections, TubeGroundTruth

__all__ = [
    "TUBE_METHODS",
    "TubeDataConfig",
    "TubeEvalConfig",
    "TubeRunConfig",
    "is_tube_method",
    "load_tube_run_config",
    "load_tube_split",
    "train_tubes",
    "predict_tubes",
    "SUPERVISION_KINDS",
    "supervise_videos",
    "evaluate_tube_detections",
]

#: Supervision of the training videos (STIL Sec. 5.2.2): video labels only (the default and
#: the weakly-supervised setting), points or boxes on every ``annotation_stride``-th frame, or
#: the 50/50 mixture of labels-only videos and box-annotated videos.
SUPERVISION_KINDS = ("labels", "points", "boxes", "mixture")

#: Methods of the tube dataset folder, dispatched by ``wsal train``/``wsal predict``: STIL
#: (trained here: no gradients, no nn.Module) and ``ua_mil_tubelets`` (UAMIL on video bags of
#: tubelets, :mod:`wsal.engine.tubelets`).
TUBE_METHODS = ("stil", "ua_mil_tubelets")


@dataclasses.dataclass
class TubeDataConfig:
    """Where the tube folder is (``docs/formats.md``: gt_tubes.json, splits, proposals/)."""

    root: str = ""  # dataset folder (overridden by --data)
    train_split: str = "train"
    test_split: str = "test"
    # supervision beyond labels (STIL Sec. 3.3), simulated from the training ground truth:
    # "labels" (default: nothing but the video label sets is read), "points", "boxes", or
    # "mixture" (a random half of the training videos with boxes, the rest labels only)
    supervision: str = "labels"
    annotation_stride: int = 10  # annotate every k-th frame (paper: 1 or 10)


@dataclasses.dataclass
class TubeEvalConfig:
    """Video-mAP protocol (ACT ``videoAP``)."""

    iou_thresholds: tuple[float, ...] = (0.2, 0.5)
    nms_threshold: float | None = 0.3  # 3D-NMS per video and label (ACT: 0.3)


@dataclasses.dataclass
class TubeRunConfig:
    """Everything a tube run uses; saved as ``config.yaml`` in the run folder."""

    method: str = "stil"
    seed: int = 0
    data: TubeDataConfig = dataclasses.field(default_factory=TubeDataConfig)
    model: STILConfig = dataclasses.field(default_factory=STILConfig)
    eval: TubeEvalConfig = dataclasses.field(default_factory=TubeEvalConfig)


def _method_of(config_path: str | Path | None, overrides: Sequence[str] = ()) -> str | None:
    """The method named by ``--set method=...`` or else by the config file (None: neither)."""
    method = None
    for item in overrides:
        if item.startswith("method="):
            method = item.split("=", 1)[1].strip()
    if method is None and config_path is not None:
        method = read_yaml(config_path).get("method")
    return method


def is_tube_method(config_path: str | Path | None, overrides: Sequence[str] = ()) -> bool:
    """Whether a config file (or ``--set method=...``) names a tube method (CLI dispatch)."""
    return _method_of(config_path, overrides) in TUBE_METHODS


def load_tube_run_config(
    path: str | Path | None = None, overrides: Sequence[str] = ()
) -> TubeRunConfig:
    """Defaults, then the YAML diff at ``path``, then ``key=value`` overrides."""
    return load_config(TubeRunConfig, path, overrides)


def load_tube_split(
    root: str | Path, split: str
) -> tuple[TubeGroundTruth, list[str], list[VideoBoxes]]:
    """Ground truth, video ids and boxes of one split of a tube folder.

    Raises:
        FormatError: naming the file for a missing split list or proposals file.
    """
    root = Path(root)
    split_path = root / f"split_{split}.txt"
    if not split_path.is_file():
        raise FormatError(split_path, f"split list not found (split '{split}')")
    gt_all = read_gt_tubes(root / "gt_tubes.json")
    vids = read_split_file(split_path)
    videos = []
    for vid in vids:
        if vid not in gt_all.videos:
            raise FormatError(split_path, f"video {vid!r} is not in gt_tubes.json")
        path = root / "proposals" / proposal_filename(vid)
        if not path.is_file():
            raise FormatError(path, f"proposals of video {vid!r} not found")
        p = read_tube_proposals(path)
        videos.append(
            VideoBoxes(p.frames, p.boxes, p.scores, p.features, gt_all.videos[vid]["nframes"])
        )
    gt = TubeGroundTruth(
        labels=gt_all.labels,
        videos={v: gt_all.videos[v] for v in vids},
        tubes={v: gt_all.tubes[v] for v in vids},
    )
    return gt, vids, videos


def supervise_videos(
    videos: Sequence[VideoBoxes],
    vids: Sequence[str],
    gt: TubeGroundTruth,
    supervision: str,
    stride: int,
    seed: int = 0,
) -> tuple[list[VideoBoxes], np.ndarray]:
    """Training videos with the Eq. 5 annotation scores added to their prior (Sec. 3.3).

    Annotations are simulated from the ground-truth tubes of these (training) videos; with
    ``supervision == "labels"`` nothing of the tubes is read and the videos come back unchanged.

    Returns:
        ``(videos, seconds)``: the videos and the appendix-A annotation cost of each ``(V,)``.
    """
    if supervision not in SUPERVISION_KINDS:
        raise ConfigError(
            f"data.supervision must be one of {', '.join(SUPERVISION_KINDS)}, not {supervision!r}"
        )
    if supervision == "labels":
        return list(videos), np.full(len(videos), annotation_seconds(None))
    rng = np.random.default_rng(seed)
    if supervision == "mixture":  # half of the videos get boxes, the others labels only
        annotated = np.zeros(len(videos), dtype=bool)
        annotated[rng.permutation(len(videos))[: len(videos) // 2]] = True
    else:
        annotated = np.ones(len(videos), dtype=bool)
    kind = "point" if supervision == "points" else "box"
    out, seconds = [], np.zeros(len(videos))
    for i, (v, vid) in enumerate(zip(videos, vids)):
        ann = (
            simulate_annotations(gt.tubes[vid], v.nframes, kind, stride)
            if annotated[i]
            else Annotations.empty()
        )
        seconds[i] = annotation_seconds(ann)
        prior = np.asarray(v.prior, np.float64) + annotation_prior(v.frames, v.boxes, ann)
        out.append(dataclasses.replace(v, prior=prior))
    return out, seconds


def _predict(model: STIL, vids: list[str], videos: list[VideoBoxes], labels: list[str]):
    return TubeDetections(
        tubes={v: model.predict_video(x) for v, x in zip(vids, videos)}, labels=list(labels)
    )


def evaluate_tube_detections(gt: TubeGroundTruth, dets: TubeDetections, cfg: TubeEvalConfig):
    """Video-mAP (ACT ``videoAP``) of ``dets`` against ``gt`` with the run's IoU/NMS protocol.

    Why: every tube method (STIL, its baselines, tubelet MIL) reports the same numbers.
    """
    from wsal.evaluation.video import video_map

    return video_map(gt, dets, iou_thresholds=cfg.iou_thresholds, nms_threshold=cfg.nms_threshold)


def train_tubes(cfg: TubeRunConfig, out: str | Path, *, evaluate: bool = True):
    """Fit STIL on the train split, save the run, and (optionally) evaluate the test split.

    Returns:
        The test :class:`~wsal.evaluation.video.VideoMAPResult`, or ``None`` without evaluation.
    """
    if not cfg.data.root:
        raise FormatError(None, "no dataset: give --data DIR or set data.root in the config")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    gt, vids, videos = load_tube_split(cfg.data.root, cfg.data.train_split)
    label_sets = gt.video_label_sets()  # the only supervision read from gt_tubes.json ...
    videos, seconds = supervise_videos(  # ... unless supervision beyond labels is asked for
        videos, vids, gt, cfg.data.supervision, cfg.data.annotation_stride, cfg.seed
    )
    t0 = time.perf_counter()
    model = STIL(config=cfg.model, seed=cfg.seed).fit(
        videos, [label_sets[v] for v in vids], len(gt.labels)
    )
    seconds_fit = time.perf_counter() - t0
    save_npz_atomic(out / "model.npz", **model.state_dict())
    write_json_atomic(
        out / "run.json",
        {
            "method": cfg.method,
            "labels": list(gt.labels),
            "feature_dim": int(model.coef_.shape[1]),
            "train_videos": len(vids),
            "fit_seconds": round(seconds_fit, 3),
            "supervision": cfg.data.supervision,
            "annotation_seconds_per_video": float(seconds.mean()),
            "selected_boxes_per_epoch": {gt.labels[c]: h for c, h in model.history_.items()},
        },
        indent=2,
    )
    if not evaluate:
        return None
    gt_test, test_vids, test_videos = load_tube_split(cfg.data.root, cfg.data.test_split)
    result = evaluate_tube_detections(
        gt_test, _predict(model, test_vids, test_videos, gt.labels), cfg.eval
    )
    write_json_atomic(out / "metrics.json", result.to_json(), indent=2)
    return result


def _load_run(run: str | Path) -> tuple[TubeRunConfig, STIL, list[str]]:
    run = Path(run)
    cfg_path = run / "config.yaml"
    if not cfg_path.is_file():
        raise FormatError(cfg_path, "config.yaml not found (give --run RUN written by wsal train)")
    cfg = load_tube_run_config(cfg_path)
    model_path = run / "model.npz"
    try:
        with np.load(model_path, allow_pickle=False) as z:
            state = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise FormatError(model_path, f"cannot read the fitted model ({e})") from None
    from wsal.io.tubes import _load_json  # noqa: PLC0415 (shared JSON reader with errors)

    labels = _load_json(run / "run.json")["labels"]
    return cfg, STIL(config=cfg.model, seed=cfg.seed).load_state_dict(state), labels


def predict_tubes(
    run: str | Path,
    out: str | Path,
    *,
    split: str = "test",
    data_root: str | Path | None = None,
    evaluate: bool = False,
):
    """Predict tubes of a split with a fitted run and write the tube results JSON.

    Returns:
        The :class:`~wsal.evaluation.video.VideoMAPResult` when ``evaluate``, else ``None``.
    """
    from wsal.io.tubes import write_tube_results

    cfg_path = Path(run) / "config.yaml"
    if cfg_path.is_file() and read_yaml(cfg_path).get("method") == "ua_mil_tubelets":
        from wsal.engine.tubelets import predict_tubelets

        return predict_tubelets(run, out, split=split, data_root=data_root, evaluate=evaluate)
    cfg, model, labels = _load_run(run)
    gt, vids, videos = load_tube_split(data_root or cfg.data.root, split)
    dets = _predict(model, vids, videos, labels)
    write_tube_results(out, dets)
    return evaluate_tube_detections(gt, dets, cfg.eval) if evaluate else None


def config_dict(cfg: TubeRunConfig) -> dict:
    """Plain dict of a tube run config (for logs)."""
    return config_to_dict(cfg)


def run_is_tube(run: str | Path) -> bool:
    """Whether a run folder was written by :func:`train_tubes` (CLI ``predict`` dispatch)."""
    path = Path(run) / "config.yaml"
    return path.is_file() and read_yaml(path).get("method") in TUBE_METHODS


def cli_train(config: str | Path | None, overrides: Sequence[str], out: str | Path, evaluate: bool):
    """``wsal train`` for tube methods: fit, save, print the test video-mAP table."""
    if _method_of(config, overrides) == "ua_mil_tubelets":
        from wsal.engine.tubelets import load_tubelet_run_config, train_tubelets

        cfg = load_tubelet_run_config(config, overrides)
        result = train_tubelets(cfg, out, evaluate=evaluate)
    else:
        result = train_tubes(load_tube_run_config(config, overrides), out, evaluate=evaluate)
    if result is not None:
        print(result.format_table())
    return 0
