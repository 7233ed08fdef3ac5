"""Training and inference of temporal methods: one readable loop for every method.

Run folder (written atomically, file by file)::

    RUN/config.yaml          the merged config (what ran)
    RUN/run.json             summary: method, classes, feature dim, train/val videos, timing, metrics
    RUN/history.csv          one row per epoch: losses (and validation mAP when enabled),
                             rewritten after every epoch
    RUN/tensorboard/         the same scalars and epoch wall times (when TensorBoard is installed)
    RUN/checkpoints/last.pt  model, optimizer, epoch, EM state, RNG states (resume point)
    RUN/model.pt             final weights + config (what ``predict`` loads)

Model selection never looks at the test split: validation (when enabled) uses videos carved
out of the training split, and the run records which.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsal.config import RunConfig, config_to_dict, load_run_config, merge_config, save_config
from wsal.data.temporal import (
    ClassBalancedBatchSampler,
    SnippetDataset,
    collate_temporal,
)
from wsal.engine.checkpoint import load_checkpoint, save_checkpoint
from wsal.engine.history import TrainingLog, write_history
from wsal.engine.runtime import make_fabric, rng_state, seed_everything, set_rng_state
from wsal.errors import ConfigError, WsalError
from wsal.io.atomic import write_json_atomic
from wsal.io.features import TemporalFolder, open_temporal_folder
from wsal.localize.temporal import RawScores
from wsal.methods import METHODS
from wsal.methods.base import TemporalMethod, TemporalOutput
from wsal.progress import progress
from wsal.structures import SnippetTiming

__all__ = [
    "build_method",
    "carve_validation",
    "train_temporal",
    "predict_temporal",
    "localize_raw",
    "raw_scores_from_output",
    "load_run",
    "TrainResult",
    "train_step",
    "unwrap_model",
]


def build_method(
    name: str, model_cfg: Any, *, feature_dim: int, num_classes: int
) -> TemporalMethod:
    """The one place where a config becomes constructor arguments."""
    cls = METHODS[name]
    return cls(feature_dim=feature_dim, num_classes=num_classes, **dataclasses.asdict(model_cfg))


def carve_validation(videos: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split training videos into (train, validation) deterministically; no test videos involved."""
    if fraction <= 0 or len(videos) < 2:
        return list(videos), []
    rng = np.random.default_rng((seed, 104729))
    n_val = min(len(videos) - 1, max(1, int(round(fraction * len(videos)))))
    val_idx = set(rng.permutation(len(videos))[:n_val].tolist())
    return [v for i, v in enumerate(videos) if i not in val_idx], [
        v for i, v in enumerate(videos) if i in val_idx
    ]


@dataclass
class TrainResult:
    """What :func:`train_temporal` produced."""

    run_dir: Path
    history: list[dict[str, float]]
    seconds: float
    iterations: int
    rank: int = 0  # global rank of this process (DDP); only rank 0 writes the run folder


def _batches(ds: SnippetDataset, cfg: RunConfig, rank: int, world: int):
    t = cfg.train
    if t.batching == "class_balanced":
        sampler = ClassBalancedBatchSampler(
            ds.labels,
            classes_per_batch=t.classes_per_batch,
            videos_per_class=t.videos_per_class,
            seed=cfg.seed,
            num_batches=t.iterations_per_epoch,
            rank=rank,
            world_size=world,
            class_replacement=t.class_replacement,
        )
    else:
        sampler = SeededBatchSampler(
            len(ds), t.batch_size, cfg.seed, t.iterations_per_epoch, rank, world
        )
    return sampler


class SeededBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Shuffled batches, seeded by ``(seed, epoch, salt)``; each DDP rank takes a slice of
    every global batch, so the ranks together see exactly the single-process batches.

    ``salt`` separates the streams of different engines (temporal videos, keyframe bags).
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        num_batches: int | None,
        rank: int,
        world: int,
        *,
        salt: int = 15485863,
    ):
        self.n, self.bs, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.salt = salt
        self.num_batches = num_batches or max(1, math.ceil(n / batch_size))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the draw (call once per epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch, self.salt))
        order = np.concatenate(
            [rng.permutation(self.n) for _ in range(math.ceil(self.num_batches * self.bs / self.n))]
        )
        for i in range(self.num_batches):
            yield order[i * self.bs : (i + 1) * self.bs][self.rank :: self.world].tolist()


def train_temporal(
    cfg: RunConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    """Train ``cfg.method`` on ``cfg.data.root``; write the run folder; return the history.

    Args:
        cfg: the merged run config (saved as ``config.yaml``).
        run_dir: output folder.
        resume: continue from ``checkpoints/last.pt``; the result equals an uninterrupted run.
        log: where progress lines go.
        stop_after_epoch: stop (as if killed) after this epoch; for tests of resumption.
    """
    run_dir = Path(run_dir)
    _check_selection(cfg)
    seed_everything(cfg.seed)
    fabric = make_fabric(cfg.train.device, cfg.train.precision)
    folder = open_temporal_folder(
        cfg.data.root,
        streams=cfg.data.streams,
        splits=(cfg.data.train_split,),
        nonfinite=cfg.data.nonfinite,
    )
    train_videos, val_videos = carve_validation(
        folder.splits[cfg.data.train_split], cfg.train.val_fraction, cfg.seed
    )
    ds = SnippetDataset(
        folder,
        cfg.data.train_split,
        videos=train_videos,
        max_snippets=cfg.data.max_snippets,
        sampling=cfg.data.sampling,
        train=True,
        seed=cfg.seed,
    )
    if len(ds) == 0:
        raise WsalError(f"{folder.root}: no training videos in split '{cfg.data.train_split}'")
    model = build_method(
        cfg.method, cfg.model, feature_dim=ds.feature_dim, num_classes=ds.num_classes
    )
    optimizer = make_adam(model, cfg.train.lr, cfg.train.weight_decay, fabric.device)
    model, optimizer = fabric.setup(model, optimizer)
    sampler = _batches(ds, cfg, fabric.global_rank, fabric.world_size)
    loader = torch.utils.data.DataLoader(
        ds, batch_sampler=sampler, collate_fn=collate_temporal, num_workers=cfg.train.num_workers
    )

    start_epoch, history, train_seconds, best = 0, [], 0.0, None
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if resume:
        state = load_checkpoint(ckpt_path)
        unwrap_model(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history = int(state["epoch"]) + 1, list(state["history"])
        train_seconds = float(state.get("train_seconds", 0.0))
        best = state.get("best")
        set_rng_state(state["rng"])
        log(f"resumed from {ckpt_path} at epoch {start_epoch}")
    elif fabric.is_global_zero:
        save_config(cfg, run_dir / "config.yaml")
    _write_run_json(run_dir, cfg, folder, train_videos, val_videos, ds.feature_dim, fabric)

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
        _seed_other_ranks(fabric, cfg.seed, epoch)
        sums: dict[str, float] = {}
        model.train()
        for batch in progress(loader, f"epoch {epoch + 1}/{cfg.train.epochs}"):
            losses = train_step(
                fabric, model, optimizer, batch.to(fabric.device), cfg.train.grad_clip
            )
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            iterations += 1
        row = {
            "epoch": epoch + 1,
            **{
                f"loss/{k}": v / max(1, len(loader))
                for k, v in _mean_over_ranks(fabric, sums).items()
            },
        }
        if val_videos and cfg.train.eval_every and (epoch + 1) % cfg.train.eval_every == 0:
            row["val/average_mAP"] = _validate(
                unwrap_model(model), cfg, folder, val_videos, fabric.device
            )
            if cfg.train.select == "best":
                best = _keep_best(best, unwrap_model(model), epoch + 1, row["val/average_mAP"])
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
        last = epoch + 1 == cfg.train.epochs
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
                    **({"best": best} if best is not None else {}),
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
                "model": best["model"] if best is not None else unwrap_model(model).state_dict(),
                "config": config_to_dict(cfg),
                "classes": folder.classes,
                "feature_dim": ds.feature_dim,
            },
        )
        write_history(run_dir / "history.csv", history)
        _write_run_json(
            run_dir,
            cfg,
            folder,
            train_videos,
            val_videos,
            ds.feature_dim,
            fabric,
            timing={"train_seconds": round(train_seconds, 3), "epochs": len(history)},
            best=best,
        )
    metrics_log.close()
    fabric.barrier()  # other ranks return only once model.pt is complete
    return TrainResult(run_dir, history, time.perf_counter() - t0, iterations, fabric.global_rank)


def _check_selection(cfg: RunConfig) -> None:
    """``train.select: best`` needs validation videos and a validation schedule."""
    t = cfg.train
    if t.select == "best" and not (t.val_fraction > 0 and t.eval_every > 0):
        raise ConfigError(
            "train.select=best chooses the epoch with the best validation mAP: it needs "
            f"train.val_fraction > 0 and train.eval_every > 0 (got {t.val_fraction}, {t.eval_every})"
        )


def _keep_best(best: dict | None, model: torch.nn.Module, epoch: int, score: float) -> dict:
    """The best validated weights so far (``{"model", "epoch", "val_average_mAP"}``).

    A tie keeps the earlier epoch. The copy lives in memory and in the resume checkpoint, so a
    resumed run selects exactly what an uninterrupted one does.
    """
    if best is not None and score <= best["val_average_mAP"]:
        return best
    weights = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
    return {"model": weights, "epoch": epoch, "val_average_mAP": float(score)}


def _seed_other_ranks(fabric, seed: int, epoch: int) -> None:
    """Give DDP ranks > 0 their own random stream (dropout masks), reseeded every epoch.

    Without it every rank would draw the same dropout masks for its different slice of the
    batch. Rank 0 keeps the stream of a single-process run (saved in checkpoints); reseeding
    the others per epoch makes a resumed DDP run repeat their draws too.
    """
    if fabric.global_rank > 0:
        state = np.random.SeedSequence((seed, epoch, fabric.global_rank)).generate_state(1)
        torch.manual_seed(int(state[0]))


def _mean_over_ranks(fabric, sums: dict[str, float]) -> dict[str, float]:
    """Per-key mean of ``sums`` over DDP processes (identity in a single process).

    Each rank trains on its slice of every global batch; with losses that are batch means and
    equal slices, the mean over ranks is the loss a single process would log for the full
    batch (and DDP's averaged gradients are the full batch's gradients).
    """
    if fabric.world_size == 1 or not sums:
        return sums
    keys = sorted(sums)
    values = fabric.all_reduce(
        torch.tensor([sums[k] for k in keys], dtype=torch.float64), reduce_op="mean"
    )
    return {k: float(v) for k, v in zip(keys, values.tolist(), strict=True)}


def make_adam(
    model: torch.nn.Module, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.Adam:
    """Adam with the fused kernel where PyTorch has one (CPU and CUDA, float parameters).

    The fused step updates every parameter in one kernel instead of about ten operations per
    parameter (a millisecond per DML iteration on CPU); it is deterministic like the loop.
    """
    params = list(model.parameters())
    fused = torch.device(device).type in ("cpu", "cuda") and all(
        p.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16) for p in params
    )
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The method module inside Fabric's and DDP's wrappers (the module itself when unwrapped).

    Why: losses, hooks and state dicts belong to the method, not to its wrappers; every
    engine reaches the method through this one helper.
    """
    inner = getattr(model, "module", model)
    return getattr(inner, "module", inner)


def train_step(fabric, model, optimizer, batch, grad_clip: float | None) -> dict[str, float]:
    """One optimizer step on ``batch``: forward, the method's ``losses``, backward, clip, step.

    Shared by the temporal, keyframe and tubelet engines (every method returns a loss dict
    with a ``"total"`` key). Raises :class:`WsalError` naming each loss term when the total is
    not finite. Returns the loss terms as floats.
    """
    optimizer.zero_grad(set_to_none=True)
    losses = unwrap_model(model).losses(batch, model(batch))
    total = losses["total"]
    if not torch.isfinite(total):
        parts = ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
        raise WsalError(f"training diverged: loss is {total.item()} ({parts})")
    fabric.backward(total)
    if grad_clip:
        fabric.clip_gradients(model, optimizer, max_norm=grad_clip)
    optimizer.step()
    return {k: float(v.detach()) for k, v in losses.items()}


def _selection_note(val_videos: list[str], best: dict | None) -> str:
    """run.json's ``model_selection``: which weights ``model.pt`` holds and why."""
    if not val_videos:
        return "none: the final checkpoint is used"
    if best is None:
        return "validation videos carved from the training split; the final checkpoint is used"
    return (
        "validation videos carved from the training split; model.pt holds epoch "
        f"{best['epoch']}, the best validation average mAP ({100 * best['val_average_mAP']:.2f})"
    )


def _write_run_json(
    run_dir,
    cfg,
    folder: TemporalFolder,
    train_videos,
    val_videos,
    feature_dim,
    fabric,
    timing=None,
    best: dict | None = None,
) -> None:
    if not fabric.is_global_zero:
        return
    write_json_atomic(
        run_dir / "run.json",
        {
            "method": cfg.method,
            "seed": cfg.seed,
            "data": str(folder.root),
            "classes": folder.classes,
            "feature_dim": feature_dim,
            "snippet": {
                "frames_per_snippet": folder.timing.frames_per_snippet,
                "fps": folder.timing.fps,
            },
            "train_videos": train_videos,
            "validation_videos": val_videos,
            "model_selection": _selection_note(val_videos, best),
            "device": str(fabric.device),
            "world_size": fabric.world_size,
            "masked_snippets": {v: idx.tolist() for v, idx in folder.masked.items()},
            **({"timing": timing} if timing else {}),
        },
        indent=1,
    )


@torch.no_grad()
def _raw_scores(model: TemporalMethod, ds: SnippetDataset, device) -> dict[str, RawScores]:
    """Raw scores of every video of ``ds`` (all snippets, one video at a time).

    Memory is bounded by one video: ``ds`` should not cache (see :func:`predict_temporal`);
    a 50,000-snippet video of 2048-D features peaks at about 1.2 GB resident in all
    (``benchmarks/bench_long_video.py``).
    """
    model.eval()
    folder = ds.folder
    out: dict[str, RawScores] = {}
    for i in progress(range(len(ds)), "predict"):
        batch = collate_temporal([ds[i]]).to(device)
        o = model.predict_scores(batch)
        video = ds.videos[i]
        out[video] = raw_scores_from_output(
            o, folder.timing_of(video), folder.gt.durations.get(video)
        )
    return out


def _first(x: torch.Tensor | None) -> np.ndarray | None:
    """The first item of a batched output as a float numpy array (None stays None)."""
    return None if x is None else x[0].float().cpu().numpy()


def raw_scores_from_output(
    out: TemporalOutput, timing: SnippetTiming, duration: float | None
) -> RawScores:
    """The savable :class:`RawScores` of the first video of a method's batched output.

    The one place where a :class:`TemporalOutput` becomes localizer input, so every score a
    method returns (probabilities, logits, actionness) reaches the saved raw scores.
    """
    return RawScores(
        cas=_first(out.cas),
        video_scores=_first(out.video_scores),
        actionness=_first(out.actionness),
        logits=_first(out.logits),
        video_logits=_first(out.video_logits),
        timing=timing,
        duration=duration,
    )


def localize_raw(
    raw: dict[str, RawScores], classes: list[str], preset: str, overrides: dict | None = None
):
    """Localize saved raw scores with a named preset (plus field overrides) -> TemporalDetections."""
    from wsal.localize.temporal import PRESETS, localize_many, to_temporal_detections

    if preset not in PRESETS:
        raise WsalError(f"unknown localizer preset '{preset}'; available: {', '.join(PRESETS)}")
    lcfg = merge_config(PRESETS[preset], overrides) if overrides else PRESETS[preset]
    check_localizer_inputs(raw, lcfg, preset)
    return to_temporal_detections(localize_many(raw, config=lcfg), classes)


def check_localizer_inputs(raw: dict[str, RawScores], lcfg, preset: str) -> None:
    """Fail with a clear message when a preset needs scores the method did not produce."""
    if lcfg.score_source != "cas" and any(r.actionness is None for r in raw.values()):
        raise WsalError(
            f"localizer preset '{preset}' uses score_source='{lcfg.score_source}', which needs "
            "actionness scores; this method produces none (use a 'cas' preset such as 'dml' or 'wtalc')"
        )
    if lcfg.units == "logit" and any(r.logits is None for r in raw.values()):
        raise WsalError(
            f"localizer preset '{preset}' works in logit units, but this method's raw scores "
            "carry no snippet logits (use a probability preset)"
        )
    needs_video = lcfg.class_filter in ("threshold", "topk") or lcfg.video_score_weight != 0
    video_field = "video_logits" if lcfg.units == "logit" else "video_scores"
    if needs_video and any(getattr(r, video_field) is None for r in raw.values()):
        raise WsalError(
            f"localizer preset '{preset}' needs video-level scores, which the raw scores lack"
        )


def _validate(
    model: TemporalMethod, cfg: RunConfig, folder: TemporalFolder, videos: list[str], device
) -> float:
    from wsal.evaluation.temporal import parse_thresholds, temporal_map

    ds = SnippetDataset(
        folder, cfg.data.train_split, videos=videos, train=False, sampling="none", cache=False
    )
    raw = _raw_scores(model, ds, device)
    dets = localize_raw(
        raw,
        folder.classes,
        cfg.localize.preset or type(model).localizer_preset,
        cfg.localize.overrides,
    )
    sub = folder.gt.select(videos, subset_name="validation")
    model.train()
    return float(
        temporal_map(sub, dets, tiou_thresholds=parse_thresholds(cfg.eval.tiou)).average_mAP
    )


def load_run(run_dir: str | Path, *, device: str = "cpu") -> tuple[RunConfig, TemporalMethod, dict]:
    """Load a finished run: its config, the trained model (eval mode) and ``model.pt`` metadata."""
    run_dir = Path(run_dir)
    state = load_checkpoint(run_dir / "model.pt", map_location=device)
    cfg = load_run_config(run_dir / "config.yaml")
    model = build_method(
        cfg.method,
        cfg.model,
        feature_dim=int(state["feature_dim"]),
        num_classes=len(state["classes"]),
    )
    model.load_state_dict(state["model"])
    return cfg, model.to(device).eval(), state


def predict_temporal(
    run_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    split: str = "test",
    preset: str | None = None,
    device: str = "auto",
):
    """Raw scores and localized detections of a split with a trained run.

    Returns ``(raw, detections, folder)`` where ``raw`` is ``{video: RawScores}`` (savable with
    :func:`wsal.localize.temporal.save_raw_scores`) and ``detections`` a
    :class:`~wsal.structures.TemporalDetections`.
    """
    from wsal.engine.runtime import resolve_device

    dev = resolve_device(device)
    cfg, model, state = load_run(run_dir, device=dev)
    folder = open_temporal_folder(
        data_root or cfg.data.root,
        streams=cfg.data.streams,
        splits=(split,),
        nonfinite=cfg.data.nonfinite,
    )
    if list(state["classes"]) != folder.classes:
        raise WsalError(
            f"{folder.root}: classes differ from the run's ({len(folder.classes)} vs {len(state['classes'])})"
        )
    # every video is read once: no cache, so memory is bounded by the longest video
    ds = SnippetDataset(folder, split, train=False, sampling="none", cache=False)
    raw = _raw_scores(model, ds, dev)
    dets = localize_raw(
        raw,
        folder.classes,
        preset or cfg.localize.preset or type(model).localizer_preset,
        cfg.localize.overrides,
    )
    return raw, dets, folder
