"""Training and prediction of keyframe methods (ua_mil, mitl): one readable loop.

Run folder (written atomically, file by file), as for the temporal methods::

    RUN/config.yaml          the merged config (what ran)
    RUN/run.json             summary: method, classes, feature dim, clips and negative bags,
                             train / validation videos, model selection, device
    RUN/history.csv          one row per epoch: the losses (and ``val/frame_mAP`` when enabled)
                             (rewritten after every epoch)
    RUN/tensorboard/         the same scalars and epoch wall times (when TensorBoard is installed)
    RUN/checkpoints/last.pt  model, optimizer, epoch, RNG states (resume point)
    RUN/model.pt             final weights + config (what ``predict`` loads)

Devices, precision and DDP come from :mod:`wsal.engine.runtime` (Lightning Fabric), the
optimizer is the fused Adam of :func:`wsal.engine.trainer.make_adam`, checkpoints are atomic
(:mod:`wsal.engine.checkpoint`). Bags are drawn by a batch order seeded by ``(seed, epoch)``
and instance sampling seeded by ``(seed, epoch, bag)``, so a seed fixes a run and a run
resumed from ``checkpoints/last.pt`` equals an uninterrupted one.

Validation (``train.val_fraction > 0``): whole training videos are carved out
(:func:`wsal.engine.trainer.carve_validation`, seeded) and never trained on; every
``train.eval_every`` epochs (and after the last) their Frame-mAP is computed against their
ground truth, so hyper-parameters can be chosen without touching the test split. The final
checkpoint is still the one saved.

Only clip label sets of the training split reach the methods (see
:mod:`wsal.data.keyframe`); the training ground-truth boxes are read only in the fully
supervised mode (``weak.supervision=full``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from wsal.config import KeyframeRunConfig, config_to_dict, load_run_config, save_config
from wsal.data.keyframe import (
    KeyframeBagDataset,
    KeyframeSplit,
    collate_keyframe,
    open_keyframe_split,
    select_videos,
)
from wsal.engine.checkpoint import load_checkpoint, save_checkpoint
from wsal.engine.history import TrainingLog
from wsal.engine.runtime import make_fabric, rng_state, seed_everything, set_rng_state
from wsal.engine.trainer import (
    SeededBatchSampler,
    TrainResult,
    build_method,
    carve_validation,
    make_adam,
    train_step,
    unwrap_model,
)
from wsal.errors import ConfigError, WsalError
from wsal.io.atomic import write_json_atomic
from wsal.io.ava import read_ava_gt, read_excluded_timestamps
from wsal.methods import METHODS
from wsal.methods.keyframe_base import KeyframeMethod
from wsal.progress import progress
from wsal.structures import KeyframeDetections

__all__ = [
    "train_keyframe",
    "load_keyframe_run",
    "predict_keyframe",
    "evaluate_keyframe",
    "keyframe_dataset",
    "score_keyframes",
    "detect_keyframes",
    "validate_keyframe",
]


def keyframe_dataset(
    cfg: KeyframeRunConfig, split: KeyframeSplit, *, train: bool, gt=None
) -> KeyframeBagDataset:
    """The training (or prediction) dataset of ``cfg.method``: its bag type and triplets."""
    cls = METHODS[cfg.method]
    if not train:
        return KeyframeBagDataset(split, bag="keyframe", gt=None, train=False, seed=cfg.seed)
    w = cfg.weak
    return KeyframeBagDataset(
        split,
        bag=cls.bag,
        clip_seconds=w.clip_seconds,
        gt=gt,
        max_instances=cfg.data.max_instances,
        train=True,
        triplets=cls.uses_triplets,
        negative_gap=w.negative_gap,
        augment_noise=w.augment_noise,
        augment_dropout=w.augment_dropout,
        supervision=w.supervision,
        seed=cfg.seed,
    )


def train_keyframe(
    cfg: KeyframeRunConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    """Train keyframe method ``cfg.method`` on ``cfg.data.root``; write the run folder.

    Args:
        cfg: the merged keyframe run config (saved as ``config.yaml``).
        run_dir: output folder.
        resume: continue from ``checkpoints/last.pt``; the result equals an uninterrupted run.
        log: where progress lines go.
        stop_after_epoch: stop (as if killed) after this epoch; for tests of resumption.
    """
    run_dir = Path(run_dir)
    if not 0 <= cfg.train.val_fraction < 1:
        raise ConfigError(f"train.val_fraction must be in [0, 1), got {cfg.train.val_fraction}")
    seed_everything(cfg.seed)
    fabric = make_fabric(cfg.train.device, cfg.train.precision)
    full = open_keyframe_split(cfg.data.root, cfg.data.train_split)
    gt = read_ava_gt(full.annotation_path())
    train_videos, val_videos = carve_validation(full.videos, cfg.train.val_fraction, cfg.seed)
    split = select_videos(full, train_videos) if val_videos else full
    val_split = select_videos(full, val_videos) if val_videos else None
    ds = keyframe_dataset(cfg, split, train=True, gt=gt)
    if len(ds) == 0:
        raise WsalError(f"{split.root}: no proposals in split '{split.split}' to train on")
    model = build_method(
        cfg.method, cfg.model, feature_dim=split.feature_dim, num_classes=split.num_classes
    )
    optimizer = make_adam(model, cfg.train.lr, cfg.train.weight_decay, fabric.device)
    model, optimizer = fabric.setup(model, optimizer)
    sampler = SeededBatchSampler(
        len(ds), cfg.train.batch_size, cfg.seed, cfg.train.iterations_per_epoch,
        fabric.global_rank, fabric.world_size, salt=104723,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(
        ds, batch_sampler=sampler, collate_fn=collate_keyframe, num_workers=cfg.train.num_workers
    )
    start_epoch, history, train_seconds = 0, [], 0.0
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if resume:
        state = load_checkpoint(ckpt_path)
        unwrap_model(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history = int(state["epoch"]) + 1, list(state["history"])
        train_seconds = float(state.get("train_seconds", 0.0))
        set_rng_state(state["rng"])
        log(f"resumed from {ckpt_path} at epoch {start_epoch}")
    elif fabric.is_global_zero:
        save_config(cfg, run_dir / "config.yaml")
    if fabric.is_global_zero:
        _write_run_json(run_dir, cfg, split, ds, fabric, val_videos)

    metrics_log = TrainingLog(
        run_dir, history, tensorboard=cfg.train.tensorboard, enabled=fabric.is_global_zero
    )
    t0, iterations = time.perf_counter(), 0
    for epoch in range(start_epoch, cfg.train.epochs):
        t_epoch = time.perf_counter()
        hooks = unwrap_model(model).on_epoch_start(epoch, total_epochs=cfg.train.epochs)
        for group in optimizer.param_groups:
            group["lr"] = cfg.train.lr * float(hooks.get("lr_scale", 1.0))
        ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
        if fabric.global_rank > 0:  # own dropout stream per rank, reseeded every epoch
            s = np.random.SeedSequence((cfg.seed, epoch, fabric.global_rank)).generate_state(1)
            torch.manual_seed(int(s[0]))
        sums: dict[str, float] = {}
        model.train()
        for batch in progress(loader, f"epoch {epoch + 1}/{cfg.train.epochs}"):
            losses = train_step(
                fabric, model, optimizer, batch.to(fabric.device), cfg.train.grad_clip
            )
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            iterations += 1
        if fabric.world_size > 1 and sums:
            keys = sorted(sums)
            vals = fabric.all_reduce(torch.tensor([sums[k] for k in keys], dtype=torch.float64))
            sums = dict(zip(keys, vals.tolist(), strict=True))
        row = {
            "epoch": epoch + 1,
            **{f"loss/{k}": v / max(1, len(loader)) for k, v in sums.items()},
        }
        last = epoch + 1 == cfg.train.epochs
        every = cfg.train.eval_every
        if val_split is not None and (last or (every and (epoch + 1) % every == 0)):
            row["val/frame_mAP"] = validate_keyframe(
                unwrap_model(model), cfg, val_split, gt, fabric.device
            )
            model.train()
        epoch_seconds = time.perf_counter() - t_epoch
        train_seconds += epoch_seconds
        metrics_log.append(
            row, extra={"time/epoch_seconds": epoch_seconds, "time/train_seconds": train_seconds}
        )
        history = metrics_log.history
        if fabric.is_global_zero:
            log(
                " ".join(
                    f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
            )
        if fabric.is_global_zero and (
            last or (epoch + 1) % max(1, cfg.train.checkpoint_every) == 0
        ):
            save_checkpoint(
                ckpt_path,
                {
                    "model": unwrap_model(model).state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch,
                    "history": history,
                    "train_seconds": train_seconds,
                    "rng": rng_state(),
                    "config": config_to_dict(cfg),
                },
            )
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and not last:
            metrics_log.close()
            fabric.barrier()
            return TrainResult(
                run_dir, history, time.perf_counter() - t0, iterations, fabric.global_rank
            )
    if fabric.is_global_zero:
        save_checkpoint(
            run_dir / "model.pt",
            {
                "model": unwrap_model(model).state_dict(),
                "config": config_to_dict(cfg),
                "classes": [split.labelmap.names[i] for i in split.labelmap.ids],
                "class_ids": list(split.labelmap.ids),
                "feature_dim": split.feature_dim,
            },
        )
    metrics_log.close()
    fabric.barrier()
    return TrainResult(run_dir, history, time.perf_counter() - t0, iterations, fabric.global_rank)


def _write_run_json(
    run_dir: Path, cfg: KeyframeRunConfig, split: KeyframeSplit, ds, fabric, val_videos
) -> None:
    negatives = int((ds.item_label.sum(axis=1) == 0).sum())
    selection = (
        "validation videos carved from the training split (val/frame_mAP in history.csv); "
        "the final checkpoint is used"
        if val_videos
        else "none: the final checkpoint is used"
    )
    write_json_atomic(
        run_dir / "run.json",
        {
            "method": cfg.method,
            "task": "keyframe",
            "seed": cfg.seed,
            "data": str(split.root),
            "classes": [split.labelmap.names[i] for i in split.labelmap.ids],
            "class_ids": list(split.labelmap.ids),
            "feature_dim": split.feature_dim,
            "train_split": split.split,
            "clip_seconds": cfg.weak.clip_seconds,
            "supervision": cfg.weak.supervision,
            "bags": {"kind": ds.bag, "count": len(ds), "negative": negatives},
            "train_videos": list(split.videos),
            "validation_videos": list(val_videos),
            "model_selection": selection,
            "device": str(fabric.device),
            "world_size": fabric.world_size,
        },
        indent=1,
    )


def load_keyframe_run(
    run_dir: str | Path, *, device: str = "cpu"
) -> tuple[KeyframeRunConfig, KeyframeMethod, dict]:
    """Load a finished keyframe run: config, trained model (eval mode), ``model.pt`` metadata."""
    run_dir = Path(run_dir)
    state = load_checkpoint(run_dir / "model.pt", map_location=device)
    cfg = load_run_config(run_dir / "config.yaml")
    if not isinstance(cfg, KeyframeRunConfig):
        raise WsalError(f"{run_dir}: not a keyframe run (method '{cfg.method}')")
    model = build_method(
        cfg.method,
        cfg.model,
        feature_dim=int(state["feature_dim"]),
        num_classes=len(state["classes"]),
    )
    model.load_state_dict(state["model"])
    return cfg, model.to(device).eval(), state


@torch.no_grad()
def predict_keyframe(
    run_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    split: str | None = None,
    device: str = "auto",
    top_k: int | None = None,
    keyframes_per_batch: int = 256,
) -> tuple[KeyframeDetections, KeyframeSplit]:
    """Detections of every proposal of ``split``: the ``top_k`` best classes per box.

    Keyframes are scored in chunks (memory bounded by a chunk, features memory-mapped).
    Returns ``(detections, split)``; detection labels are AVA action ids.
    """
    from wsal.engine.runtime import resolve_device

    dev = resolve_device(device)
    cfg, model, state = load_keyframe_run(run_dir, device=dev)
    ks = open_keyframe_split(data_root or cfg.data.root, split or cfg.data.test_split)
    if list(state["class_ids"]) != list(ks.labelmap.ids):
        raise WsalError(
            f"{ks.root}: label map differs from the run's ({len(ks.labelmap.ids)} vs {len(state['class_ids'])} classes)"
        )
    k = max(1, min(int(top_k or cfg.eval.top_k), ks.num_classes))
    return score_keyframes(model, cfg, ks, dev, top_k=k, chunk=keyframes_per_batch), ks


@torch.no_grad()
def score_keyframes(
    model: KeyframeMethod,
    cfg: KeyframeRunConfig,
    ks: KeyframeSplit,
    device,
    *,
    top_k: int,
    chunk: int = 256,
) -> KeyframeDetections:
    """Detections (the ``top_k`` classes of every proposal) of ``ks`` by ``model`` (eval mode).

    Keyframes are scored in chunks of ``chunk`` (memory bounded by a chunk).
    """
    model.eval()

    def score(items: list[dict]) -> torch.Tensor:
        batch = collate_keyframe(items).to(device)
        return model.predict_scores(batch).instance_scores[batch.mask]  # (n, C) row-major

    ds = keyframe_dataset(cfg, ks, train=False)
    return detect_keyframes(ds, ks, score, top_k=top_k, chunk=chunk)


@torch.no_grad()
def detect_keyframes(
    ds: torch.utils.data.Dataset,
    ks: KeyframeSplit,
    score: Callable[[list[dict]], torch.Tensor],
    *,
    top_k: int,
    chunk: int = 256,
) -> KeyframeDetections:
    """The ``top_k`` classes of every proposal of ``ks``, scored ``chunk`` items at a time.

    Why: keyframe runs (box features) and end-to-end runs (frames through a backbone) differ
    only in how a chunk of items becomes scores; this is the shared loop and the one place
    that turns scores into :class:`KeyframeDetections`.

    Args:
        ds: prediction items (one per keyframe, in keyframe order); each has ``"rows"``, the
            ``(n_i,)`` proposal rows (file order) of its boxes.
        ks: the split ``ds`` reads.
        score: ``items -> (sum n_i, C)`` per-box class scores (probabilities), row-major over
            the items' ``rows``.
        top_k: classes kept per box (``1 <= top_k <= C``).
        chunk: items per call of ``score`` (memory bounded by a chunk).

    Returns:
        Detections, ``top_k`` rows per proposal; labels are AVA action ids, scores float64.
    """
    rows_out, cls_out, score_out = [], [], []
    for a in progress(range(0, len(ds), chunk), "predict"):
        items = [ds[i] for i in range(a, min(len(ds), a + chunk))]
        top, idx = score(items).float().topk(top_k, dim=1)  # (n, k)
        rows = np.concatenate([it["rows"] for it in items])
        rows_out.append(np.repeat(rows, top_k))
        cls_out.append(idx.cpu().numpy().reshape(-1))
        score_out.append(top.cpu().numpy().reshape(-1).astype(np.float64))
    rows = np.concatenate(rows_out) if rows_out else np.zeros(0, np.int64)
    props = ks.proposals
    return KeyframeDetections(
        video_ids=props.video_ids[rows],
        timestamps=props.timestamps[rows],
        boxes=props.boxes.xyxy[rows],
        labels=ks.class_ids[np.concatenate(cls_out)] if cls_out else np.zeros(0, np.int64),
        scores=np.concatenate(score_out) if score_out else np.zeros(0),
    )


def validate_keyframe(
    model: KeyframeMethod, cfg: KeyframeRunConfig, ks: KeyframeSplit, gt, device
) -> float:
    """Frame-mAP@0.5 of ``model`` on the carved-out training videos of ``ks`` (model selection
    on training data only; ``gt`` is the training split's ground truth, restricted here)."""
    from wsal.evaluation.frame import frame_map

    dets = score_keyframes(model, cfg, ks, device, top_k=min(cfg.eval.top_k, ks.num_classes))
    sub = gt[np.isin(gt.video_ids, np.asarray(ks.videos, dtype=str))]
    return float(frame_map(sub, dets, ks.labelmap, protocol=cfg.eval.protocol).mAP)


def evaluate_keyframe(ks: KeyframeSplit, dets: KeyframeDetections, protocol: str = "ava2019"):
    """Frame-mAP@0.5 of ``dets`` against the split's GT (with its excluded keyframes, if any)."""
    from wsal.evaluation.frame import frame_map

    excluded = None
    ex_path = ks.annotation_path(f"{ks.split}_excluded_timestamps.csv")
    if protocol == "ava2019" and ex_path.is_file():
        excluded = read_excluded_timestamps(ex_path)
    return frame_map(ks.ground_truth(), dets, ks.labelmap, excluded=excluded, protocol=protocol)
