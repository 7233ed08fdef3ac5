"""Training speed of DML (``wsal.methods.dml``): forward + backward + Adam step per iteration.

Random batches of the paper's shape (Sec. 4.2): 20 videos (4 classes x 5 videos) of at most
300 snippets, C classes, feature dimension D. Two length profiles:

* ``full``: every video has 300 snippets (no padding; the worst case);
* ``mixed``: lengths drawn log-uniformly in [60, 750] then capped at 300, like THUMOS14-sized
  videos after the 300-snippet sampling (about a third of the batch is padding).

Prints seconds per iteration and real snippets per second for each (D, profile). The thread
count is PyTorch's default unless ``--threads`` is given.

Usage::

    python benchmarks/bench_dml_speed.py                   # D = 512 and 2048
    python benchmarks/bench_dml_speed.py --dims 512 --iters 100 --profile
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from wsal.data.temporal import TemporalBatch, collate_temporal
from wsal.methods.dml import DeepMetricMIL

VIDEOS, CLASSES_PER_BATCH, MAX_SNIPPETS = 20, 4, 300


def make_batch(
    feature_dim: int, num_classes: int, profile: str, rng: np.random.Generator
) -> TemporalBatch:
    """A random batch of 4 classes x 5 videos with the given length profile."""
    classes = rng.choice(num_classes, size=CLASSES_PER_BATCH, replace=False)
    items = []
    for i in range(VIDEOS):
        if profile == "full":
            t = MAX_SNIPPETS
        else:
            t = min(MAX_SNIPPETS, int(np.exp(rng.uniform(np.log(60), np.log(750)))))
        labels = np.zeros(num_classes, np.float32)
        labels[classes[i // (VIDEOS // CLASSES_PER_BATCH)]] = 1
        items.append(
            {
                "feats": rng.standard_normal((t, feature_dim), dtype=np.float32),
                "snippet_index": np.arange(t),
                "video_labels": labels,
                "video_index": i,
            }
        )
    return collate_temporal(items)


def bench(feature_dim: int, num_classes: int, profile: str, iters: int, warmup: int) -> dict:
    """Time ``iters`` training steps on pre-built random batches; returns the figures."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = DeepMetricMIL(feature_dim=feature_dim, num_classes=num_classes).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [make_batch(feature_dim, num_classes, profile, rng) for _ in range(8)]

    def step(batch: TemporalBatch) -> None:
        opt.zero_grad(set_to_none=True)
        model.losses(batch, model(batch))["total"].backward()
        opt.step()

    for i in range(warmup):
        step(batches[i % len(batches)])
    snippets = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(iters):
        batch = batches[i % len(batches)]
        step(batch)
        snippets += int(batch.mask.sum())
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "s_per_iter": dt / iters,
        "cpu_s_per_iter": cpu / iters,
        "snippets_per_s": snippets / dt,
        "real_fraction": snippets / (iters * VIDEOS * MAX_SNIPPETS),
    }


def bench_floor(feature_dim: int, profile: str, iters: int, warmup: int) -> tuple[float, float]:
    """Seconds per iteration (wall, process CPU) of the embedding product alone.

    Forward and weight gradient of ``Linear(D, D)`` on the real snippets: the unavoidable
    part of a DML step (``2 N D^2`` multiply-adds); the ratio of a DML step to it shows the
    overhead of everything else.
    """
    rng = np.random.default_rng(0)
    batches = [make_batch(feature_dim, 20, profile, rng) for _ in range(8)]
    packed = [b.feats[b.mask] for b in batches]  # (N, D) real snippets
    layer = torch.nn.Linear(feature_dim, feature_dim)
    for i in range(warmup + iters):
        if i == warmup:
            t0, c0 = time.perf_counter(), time.process_time()
        layer.zero_grad(set_to_none=True)
        layer(packed[i % len(packed)]).sum().backward()
    return (time.perf_counter() - t0) / iters, (time.process_time() - c0) / iters


def profile_once(feature_dim: int, num_classes: int, profile: str, iters: int) -> None:
    """Print the torch.profiler table of a few steps (self CPU time)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    rng = np.random.default_rng(0)
    model = DeepMetricMIL(feature_dim=feature_dim, num_classes=num_classes).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = make_batch(feature_dim, num_classes, profile, rng)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            opt.zero_grad(set_to_none=True)
            model.losses(batch, model(batch))["total"].backward()
            opt.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


def main() -> None:
    """Parse arguments, run the benchmarks, print one line per (D, profile)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--profiles", nargs="+", default=["full", "mixed"], choices=["full", "mixed"])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--profile", action="store_true", help="print a torch.profiler table")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"batch {VIDEOS} videos x <= {MAX_SNIPPETS} snippets, C = {args.classes}"
    )
    for d in args.dims:
        for prof in args.profiles:
            iters = args.iters if d <= 1024 else max(5, args.iters // 5)
            r = bench(d, args.classes, prof, iters, args.warmup)
            floor, floor_cpu = bench_floor(d, prof, iters, args.warmup)
            print(
                f"D={d:5d} {prof:5s}: {r['s_per_iter']:.4f} s/iter (process CPU "
                f"{r['cpu_s_per_iter']:.4f} s/iter), {r['snippets_per_s']:7.0f} snippets/s, "
                f"real snippets {r['real_fraction']:.0%}; embedding product alone {floor:.4f} s/iter "
                f"(CPU {floor_cpu:.4f})"
            )
            if args.profile:
                profile_once(d, args.classes, prof, 5)


if __name__ == "__main__":
    main()
