"""Video-level MIL on person tubelets (``ua_mil_tubelets``; Arnab et al., ECCV 2020, Sec. 4.2).

The UCF101-24 setting of the paper: a bag is every person tubelet of a whole video, labelled
with the video's action set; :class:`wsal.methods.ua_mil.UAMIL` (max pooling + the Eq. 6
uncertainty loss, or the plain max-pooling baseline with ``model.uncertainty: false``) is
trained on bags of at most ``tubelets.max_per_bag`` uniformly sampled tubelets (16 in the
paper). At test time every tubelet of a video is scored, tubelet scores go back to boxes
(:meth:`wsal.data.tubelets.Tubelets.box_scores`), the boxes of each class are linked with the
ACT greedy linker (:func:`wsal.localize.linking.act_greedy_link`), interpolated onto every
frame (:func:`wsal.localize.linking.tube_from_indices`) and evaluated by video-mAP
(:mod:`wsal.evaluation.video`, via the tube engine).

Data: the tube folder of ``docs/formats.md``, read by :func:`wsal.engine.tubes.load_tube_split`
(as STIL). Only each training video's *set of tube labels* is used from ``gt_tubes.json``;
boxes of training tubes are never used. Run folder (every file atomic)::

    RUN/config.yaml    the merged :class:`TubeletRunConfig` (what ran)
    RUN/run.json       method, labels, feature dim, train videos, tubelet stats, seconds
    RUN/history.csv    one row per epoch (losses), rewritten after every epoch
    RUN/tensorboard/   the same scalars and epoch wall times (when TensorBoard is installed)
    RUN/model.pt       final UAMIL weights + config + labels + feature dim
    RUN/metrics.json   video-mAP of the test split (unless evaluation is skipped)

``wsal train --config configs/ua_mil/tubes_synthetic.yaml --data DIR --out RUN`` and
``wsal predict --run RUN --split test --out tubes.json`` reach this module through the tube
engine's dispatch (``method: ua_mil_tubelets``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from wsal.config import config_to_dict, load_config, save_config
from wsal.data.keyframe import KeyframeBatch, collate_keyframe
from wsal.data.tubelets import TubeletBagDataset, Tubelets, build_tubelets, tubelet_length
from wsal.engine.checkpoint import load_checkpoint, save_checkpoint
from wsal.engine.history import TrainingLog
from wsal.engine.runtime import make_fabric, resolve_device, seed_everything
from wsal.engine.trainer import (
    SeededBatchSampler,
    build_method,
    make_adam,
    train_step,
    unwrap_model,
)
from wsal.engine.tubes import TubeEvalConfig, evaluate_tube_detections, load_tube_split
from wsal.errors import ConfigError, FormatError, WsalError
from wsal.io.atomic import write_json_atomic
from wsal.localize.linking import (
    FrameIndex,
    act_greedy_link,
    half_sampling_step,
    tube_from_indices,
)
from wsal.methods.stil import VideoBoxes
from wsal.methods.ua_mil import UAMIL, UAMILConfig
from wsal.structures import Tube, TubeDetections

__all__ = [
    "METHOD",
    "TubeletDataConfig",
    "TubeletConfig",
    "TubeletTrainConfig",
    "TubeletLinkConfig",
    "TubeletRunConfig",
    "load_tubelet_run_config",
    "video_tubelets",
    "score_tubelets",
    "link_box_scores",
    "predict_video_tubes",
    "train_tubelets",
    "load_tubelet_run",
    "predict_tubelets",
]

#: The method name of this engine in configs (``method: ua_mil_tubelets``).
METHOD = "ua_mil_tubelets"


@dataclasses.dataclass
class TubeletDataConfig:
    """Where the tube folder is (``docs/formats.md``); training reads only video label sets."""

    root: str = ""  # dataset folder (overridden by --data)
    train_split: str = "train"
    test_split: str = "test"


@dataclasses.dataclass
class TubeletConfig:
    """How tubelets are built and sampled (Arnab et al., Sec. 3.2, 4.2)."""

    frames: int = 16  # K: tubelet span in video frames (paper: 16); see tubelet_length
    link_iou: float = 0.3  # min IoU between consecutive members (else the slot stays empty)
    max_per_bag: int | None = 16  # tubelets sampled uniformly per training bag (paper: 16)
    box_score: Literal["mean", "max"] = "mean"  # test: box score from its tubelets' scores


@dataclasses.dataclass
class TubeletTrainConfig:
    """Optimization (Adam on a frozen-feature head; the paper's SGD schedule is not given)."""

    epochs: int = 100
    lr: float = 1.0e-3
    weight_decay: float = 0.0
    batch_size: int = 32  # bags (videos) per step; paper: 8 GPUs x 4 bags
    grad_clip: float | None = None
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    precision: Literal["auto", "32", "bf16", "16"] = "32"
    log_every: int = 10  # epochs between progress lines (the last epoch is always logged)
    tensorboard: Literal["auto", "on", "off"] = "auto"  # RUN/tensorboard/ when installed


@dataclasses.dataclass
class TubeletLinkConfig:
    """ACT greedy linker (Kalogeiton et al., ICCV 2017) of the per-box class scores."""

    link_iou: float = 0.2  # ACT: extend a tube with a box of IoU >= 0.2 with its last box
    nms_iou: float | None = 0.3  # per-frame NMS before linking
    top_k: int | None = 10  # boxes kept per frame after NMS
    max_missed: int = 5  # sampled frames without a match before a tube ends
    min_length: int = 2  # drop tubes with fewer boxes (sampled frames)
    min_score: float | None = None  # drop tubes with a lower mean box score
    extend: int | None = None  # frames copied before/after a tube; None: half the sampling step


@dataclasses.dataclass
class TubeletRunConfig:
    """Everything a ``ua_mil_tubelets`` run uses; saved as ``config.yaml`` in the run folder."""

    method: str = METHOD
    seed: int = 0
    data: TubeletDataConfig = dataclasses.field(default_factory=TubeletDataConfig)
    tubelets: TubeletConfig = dataclasses.field(default_factory=TubeletConfig)
    model: UAMILConfig = dataclasses.field(default_factory=UAMILConfig)
    train: TubeletTrainConfig = dataclasses.field(default_factory=TubeletTrainConfig)
    link: TubeletLinkConfig = dataclasses.field(default_factory=TubeletLinkConfig)
    eval: TubeEvalConfig = dataclasses.field(default_factory=TubeEvalConfig)


def load_tubelet_run_config(
    path: str | Path | None = None, overrides: Sequence[str] = ()
) -> TubeletRunConfig:
    """Defaults, then the YAML diff at ``path``, then ``key=value`` overrides (checked)."""
    cfg = load_config(TubeletRunConfig, path, overrides)
    if cfg.method != METHOD:
        raise ConfigError(f"{path or 'config'}: method must be {METHOD!r}, not {cfg.method!r}")
    t = cfg.tubelets
    if t.frames < 1 or (t.max_per_bag is not None and t.max_per_bag < 1):
        raise ConfigError("tubelets.frames and tubelets.max_per_bag must be >= 1")
    if cfg.train.epochs < 1 or cfg.train.batch_size < 1:
        raise ConfigError("train.epochs and train.batch_size must be >= 1")
    return cfg


def video_tubelets(video: VideoBoxes, cfg: TubeletConfig) -> Tubelets:
    """The tubelets of one video: ``K = tubelet_length(frames, cfg.frames)`` sampled frames."""
    k = tubelet_length(video.frames, cfg.frames)
    return build_tubelets(video.frames, video.boxes, k, link_iou=cfg.link_iou)


@torch.no_grad()
def score_tubelets(
    model: UAMIL, features: np.ndarray, tubelets: Tubelets, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Class probabilities ``(M, C)`` float64 of every tubelet of a video (eval mode).

    ``features (N, D)`` are the video's box features; the tubelets form one bag.
    """
    model.eval()
    if len(tubelets) == 0:
        return np.zeros((0, model.classifier.out_features), dtype=np.float64)
    feats = torch.from_numpy(tubelets.features(features)).to(device)[None]  # (1, M, D)
    mask = torch.ones(feats.shape[:2], dtype=torch.bool, device=device)
    batch = KeyframeBatch(
        feats=feats,
        mask=mask,
        boxes=torch.zeros((*feats.shape[:2], 4), device=device),
        labels=torch.zeros((1, model.classifier.out_features), device=device),
        bag_index=torch.zeros(1, dtype=torch.int64, device=device),
    )
    return model.predict_scores(batch).instance_scores[0].double().cpu().numpy()


def link_box_scores(
    frames: np.ndarray,
    boxes: np.ndarray,
    box_scores: np.ndarray,
    nframes: int,
    cfg: TubeletLinkConfig,
) -> list[Tube]:
    """Tubes of every class of one video: ACT linking of ``box_scores (N, C)``, interpolated.

    Per class ``c`` the boxes (``frames (N,)``, ``boxes (N, 4)`` pixels) scored by column
    ``c`` are linked by :func:`~wsal.localize.linking.act_greedy_link`; each tube (score =
    mean box score, ACT) is interpolated onto every frame between its sampled frames and
    extended by ``cfg.extend`` frames on both sides (default half the median sampling step, as
    STIL), clipped to ``[1, nframes]``.
    """
    if len(frames) == 0:
        return []
    extend = cfg.extend
    if extend is None:
        extend = half_sampling_step(FrameIndex.build(frames))
    tubes: list[Tube] = []
    for c in range(box_scores.shape[1]):
        s = box_scores[:, c]
        found = act_greedy_link(
            frames, boxes, s, link_iou=cfg.link_iou, nms_iou=cfg.nms_iou, top_k=cfg.top_k,
            max_missed=cfg.max_missed, min_length=cfg.min_length, min_score=cfg.min_score,
        )  # fmt: skip
        tubes += [
            tube_from_indices(t.indices, frames, boxes, s, label=c, nframes=nframes, extend=extend)
            for t in found
        ]
    return tubes


def predict_video_tubes(
    model: UAMIL, video: VideoBoxes, cfg: TubeletRunConfig, device: str | torch.device = "cpu"
) -> list[Tube]:
    """Tubes of one video: tubelets -> tubelet scores -> box scores -> ACT linking."""
    tub = video_tubelets(video, cfg.tubelets)
    if len(tub) == 0:
        return []
    box_scores = tub.box_scores(
        score_tubelets(model, video.features, tub, device), cfg.tubelets.box_score
    )
    return link_box_scores(video.frames, video.boxes, box_scores, video.nframes, cfg.link)


def _predict(model, vids, videos, labels, cfg, device) -> TubeDetections:
    return TubeDetections(
        tubes={v: predict_video_tubes(model, x, cfg, device) for v, x in zip(vids, videos)},
        labels=list(labels),
    )


def train_tubelets(
    cfg: TubeletRunConfig,
    out: str | Path,
    *,
    evaluate: bool = True,
    log: Callable[[str], None] = print,
):
    """Train UAMIL on video bags of tubelets, save the run, optionally evaluate the test split.

    Single process (CPU or one GPU). Seeded and deterministic (on CPU): weights init and dropout from ``seed_everything``,
    batch order from :class:`~wsal.engine.trainer.SeededBatchSampler`, tubelet sampling from
    ``(seed, epoch, video)``.

    Returns:
        The test :class:`~wsal.evaluation.video.VideoMAPResult`, or ``None`` without evaluation.
    """
    if not cfg.data.root:
        raise FormatError(None, "no dataset: give --data DIR or set data.root in the config")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    seed_everything(cfg.seed)
    gt, vids, videos = load_tube_split(cfg.data.root, cfg.data.train_split)
    label_sets = gt.video_label_sets()  # the only supervision read from gt_tubes.json
    tubelets = [video_tubelets(v, cfg.tubelets) for v in videos]
    keep = [i for i, t in enumerate(tubelets) if len(t) > 0]  # videos without proposals
    if not keep:
        raise WsalError(f"{cfg.data.root}: no proposals in split '{cfg.data.train_split}'")
    labels = np.zeros((len(keep), len(gt.labels)), dtype=np.float32)
    for row, i in enumerate(keep):
        labels[row, sorted(label_sets[vids[i]])] = 1.0
    sizes = np.array([[gt.videos[vids[i]]["width"], gt.videos[vids[i]]["height"]] for i in keep])
    ds = TubeletBagDataset(
        features=[videos[i].features for i in keep], boxes=[videos[i].boxes for i in keep],
        tubelets=[tubelets[i] for i in keep], labels=labels, sizes=sizes,
        max_instances=cfg.tubelets.max_per_bag, train=True, seed=cfg.seed,
    )  # fmt: skip
    feature_dim = int(videos[keep[0]].features.shape[1])
    fabric = make_fabric(cfg.train.device, cfg.train.precision)
    if fabric.world_size > 1:
        raise ConfigError(f"{METHOD} trains in a single process (one CPU or GPU), not torchrun")
    model = build_method("ua_mil", cfg.model, feature_dim=feature_dim, num_classes=len(gt.labels))
    optimizer = make_adam(model, cfg.train.lr, cfg.train.weight_decay, fabric.device)
    model, optimizer = fabric.setup(model, optimizer)
    sampler = SeededBatchSampler(len(ds), cfg.train.batch_size, cfg.seed, None, 0, 1, salt=130363)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_keyframe)
    metrics_log = TrainingLog(out, tensorboard=cfg.train.tensorboard)
    t0 = time.perf_counter()
    for epoch in range(cfg.train.epochs):
        t_epoch = time.perf_counter()
        ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
        model.train()
        sums: dict[str, float] = {}
        for batch in loader:
            losses = train_step(
                fabric, model, optimizer, batch.to(fabric.device), cfg.train.grad_clip
            )
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
        row = {"epoch": epoch + 1, **{f"loss/{k}": v / len(loader) for k, v in sums.items()}}
        metrics_log.append(row, extra={"time/epoch_seconds": time.perf_counter() - t_epoch})
        if (epoch + 1) % max(1, cfg.train.log_every) == 0 or epoch + 1 == cfg.train.epochs:
            log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in row.items()))  # fmt: skip
    seconds = time.perf_counter() - t0
    net = unwrap_model(model)
    save_checkpoint(
        out / "model.pt",
        {
            "model": net.state_dict(),
            "config": config_to_dict(cfg),
            "labels": list(gt.labels),
            "feature_dim": feature_dim,
        },
    )
    metrics_log.close()
    counts = np.array([len(t) for t in tubelets])
    write_json_atomic(
        out / "run.json",
        {
            "method": cfg.method,
            "task": "tubes",
            "labels": list(gt.labels),
            "feature_dim": feature_dim,
            "train_videos": len(keep),
            "skipped_videos_without_proposals": [
                vids[i] for i in range(len(vids)) if i not in keep
            ],
            "tubelets_per_video": {"mean": float(counts.mean()), "max": int(counts.max())},
            "tubelet_length_sampled_frames": sorted({t.length for t in tubelets}),
            "supervision": "labels",
            "device": str(fabric.device),
            "timing": {"train_seconds": round(seconds, 3), "epochs": cfg.train.epochs},
        },
        indent=2,
    )
    if not evaluate:
        return None
    gt_test, test_vids, test_videos = load_tube_split(cfg.data.root, cfg.data.test_split)
    dets = _predict(net, test_vids, test_videos, gt.labels, cfg, fabric.device)
    result = evaluate_tube_detections(gt_test, dets, cfg.eval)
    write_json_atomic(out / "metrics.json", result.to_json(), indent=2)
    return result


def load_tubelet_run(
    run: str | Path, device: str = "cpu"
) -> tuple[TubeletRunConfig, UAMIL, list[str]]:
    """Config, trained UAMIL (eval mode, on ``device``) and labels of a run folder.

    Raises:
        FormatError: naming ``config.yaml`` or ``model.pt`` when missing or unreadable.
    """
    run = Path(run)
    cfg_path = run / "config.yaml"
    if not cfg_path.is_file():
        raise FormatError(cfg_path, "config.yaml not found (give --run RUN written by wsal train)")
    cfg = load_tubelet_run_config(cfg_path)
    state = load_checkpoint(run / "model.pt")
    try:
        labels, dim = list(state["labels"]), int(state["feature_dim"])
        model = build_method("ua_mil", cfg.model, feature_dim=dim, num_classes=len(labels))
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        raise FormatError(run / "model.pt", f"not a ua_mil_tubelets model ({e})") from None
    return cfg, model.to(device).eval(), labels


def predict_tubelets(
    run: str | Path,
    out: str | Path,
    *,
    split: str = "test",
    data_root: str | Path | None = None,
    evaluate: bool = False,
):
    """Predict tubes of a split with a trained run and write the tube results JSON.

    Returns:
        The :class:`~wsal.evaluation.video.VideoMAPResult` when ``evaluate``, else ``None``.
    """
    from wsal.io.tubes import write_tube_results

    cfg, model, labels = load_tubelet_run(run)
    device = resolve_device(cfg.train.device)
    model = model.to(device)
    gt, vids, videos = load_tube_split(data_root or cfg.data.root, split)
    if list(gt.labels) != labels:
        raise FormatError(
            Path(data_root or cfg.data.root) / "gt_tubes.json",
            f"labels {gt.labels} differ from the run's {labels}",
        )
    dets = _predict(model, vids, videos, labels, cfg, device)
    write_tube_results(out, dets)
    return evaluate_tube_detections(gt, dets, cfg.eval) if evaluate else None
