"""Training throughput of every temporal method at THUMOS14 scale, in snippets per second.

The data is THUMOS14-shaped and random: 200 training videos, 20 classes (one or two per
video), lengths drawn log-uniformly in [60, 750] snippets, 2048-D features (two 1024-D
streams). Each method runs its own ``configs/<method>/thumos14.yaml``: model settings,
snippet sampling (``max_snippets``, ``sampling``) and batch composition (class-balanced
4 x 5, 5 x 2, or random batches), through the engine's own pieces (the dataset sampling
function, the collate function, ``build_method``, the fused Adam of the trainer). One
iteration = collate + forward + losses + backward + optimizer step.

Prints seconds per iteration and real (non-padding) snippets per second per method.

Usage::

    python benchmarks/bench_train.py                      # every method, CPU (or CUDA if present)
    python benchmarks/bench_train.py --methods dml em_mil --iters 30 --device cpu
    python benchmarks/bench_train.py --dim 512 --videos 160
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wsal.config import load_run_config  # noqa: E402
from wsal.data.temporal import (  # noqa: E402
    ClassBalancedBatchSampler,
    collate_temporal,
    sample_snippets,
)
from wsal.engine.runtime import resolve_device  # noqa: E402
from wsal.engine.trainer import build_method, make_adam  # noqa: E402
from wsal.methods import method_names  # noqa: E402


def make_videos(
    n: int, dim: int, classes: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` random videos ``(T_i, dim)`` float32 and multi-hot labels ``(n, classes)``."""
    lengths = np.exp(rng.uniform(np.log(60), np.log(750), size=n)).astype(int)
    feats = [rng.standard_normal((t, dim), dtype=np.float32) for t in lengths]
    labels = np.zeros((n, classes), np.float32)
    labels[np.arange(n), rng.integers(0, classes, n)] = 1
    second = rng.random(n) < 0.2
    labels[np.flatnonzero(second), rng.integers(0, classes, int(second.sum()))] = 1
    return feats, labels


def batches_of(cfg, labels: np.ndarray, rng: np.random.Generator, count: int) -> list[list[int]]:
    """``count`` batches of video indices with the config's batch composition."""
    t = cfg.train
    if t.batching == "class_balanced":
        sampler = ClassBalancedBatchSampler(
            labels,
            classes_per_batch=t.classes_per_batch,
            videos_per_class=t.videos_per_class,
            seed=0,
            num_batches=count,
        )
        return list(sampler)
    return [
        rng.choice(len(labels), size=t.batch_size, replace=False).tolist() for _ in range(count)
    ]


def bench_method(
    method: str, feats: list, labels: np.ndarray, iters: int, warmup: int, device: str
) -> dict:
    """Time ``iters`` training iterations of ``method`` with its thumos14.yaml."""
    cfg = load_run_config(ROOT / "configs" / method / "thumos14.yaml")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = build_method(
        method, cfg.model, feature_dim=feats[0].shape[1], num_classes=labels.shape[1]
    ).to(device)
    model.on_epoch_start(0, total_epochs=cfg.train.epochs)
    model.train()
    opt = make_adam(model, cfg.train.lr, cfg.train.weight_decay, torch.device(device))
    plan = batches_of(cfg, labels, rng, warmup + iters)

    def item(i: int) -> dict:
        idx = sample_snippets(len(feats[i]), cfg.data.max_snippets, cfg.data.sampling, rng)
        return {
            "feats": feats[i][idx],
            "snippet_index": idx,
            "video_labels": labels[i],
            "video_index": i,
        }

    snippets = 0
    for step, videos in enumerate(plan):
        if step == warmup:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        batch = collate_temporal([item(i) for i in videos]).to(device)
        opt.zero_grad(set_to_none=True)
        model.losses(batch, model(batch))["total"].backward()
        opt.step()
        if step >= warmup:
            snippets += int(batch.mask.sum())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"s_per_iter": dt / iters, "snippets_per_s": snippets / dt, "videos": len(plan[0])}


def main() -> None:
    """Parse arguments and print one line per method."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=method_names("temporal"))
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    feats, labels = make_videos(args.videos, args.dim, args.classes, rng)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    print(
        f"# {args.videos} videos, {args.dim}-D, {args.classes} classes, device {name}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    for method in args.methods:
        r = bench_method(method, feats, labels, args.iters, args.warmup, device)
        print(
            f"{method:14s} batch {r['videos']:3d}  {r['s_per_iter']:.3f} s/iter  "
            f"{r['snippets_per_s']:9.0f} snippets/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
