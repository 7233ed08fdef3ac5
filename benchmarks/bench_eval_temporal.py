"""Speed of the temporal detection mAP and of the classification mAP on a THUMOS-sized-plus load.

Synthetic, deterministic data: 2000 videos, 20 classes, ~10 ground-truth segments per video
(1-3 classes per video, like THUMOS14), 200,000 predictions (jittered copies of the ground
truth, second guesses, and random false positives, some of them in classes absent from the
video). Prints wall seconds (best of 3) of :func:`temporal_map` at the THUMOS14 and
ActivityNet thresholds and of :func:`classification_map` on 2000 x 20 scores.

Run: ``python benchmarks/bench_eval_temporal.py`` (the official pandas evaluator takes
60-90 s on the same load).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from wsal.evaluation.classification import classification_map
from wsal.evaluation.temporal import PRESETS, temporal_map
from wsal.structures import Segments, TemporalDetections, TemporalGroundTruth

N_VIDEOS = 2000
N_CLASSES = 20
GT_PER_VIDEO = 10
N_PREDICTIONS = 200_000
VIDEO_SECONDS = 200.0


def make_ground_truth(rng: np.random.Generator) -> TemporalGroundTruth:
    """``N_VIDEOS`` videos with ``GT_PER_VIDEO`` +- 3 segments (2-12 s long) of 1-3 classes."""
    videos = [f"video_{i:05d}" for i in range(N_VIDEOS)]
    per_video = rng.integers(GT_PER_VIDEO - 3, GT_PER_VIDEO + 4, N_VIDEOS)
    vidx = np.repeat(np.arange(N_VIDEOS), per_video)
    video_classes = rng.integers(0, N_CLASSES, (N_VIDEOS, 3))
    n_cls = rng.integers(1, 4, N_VIDEOS)
    labels = video_classes[vidx, rng.integers(0, n_cls[vidx])]
    start = rng.uniform(0, VIDEO_SECONDS - 12, vidx.size)
    bounds = np.stack([start, start + rng.uniform(2, 12, vidx.size)], axis=1)
    return TemporalGroundTruth(
        videos=videos,
        subsets=dict.fromkeys(videos, "test"),
        durations=dict.fromkeys(videos, VIDEO_SECONDS),
        video_ids=np.asarray(videos)[vidx],
        segments=Segments(bounds, labels),
        classes=[f"class_{c:02d}" for c in range(N_CLASSES)],
    )


def make_predictions(gt: TemporalGroundTruth, rng: np.random.Generator) -> TemporalDetections:
    """``N_PREDICTIONS`` predictions: 2 jittered copies of each ground-truth segment, the rest
    random segments in random videos (70 % with a class of the video, 30 % any class)."""
    src = np.repeat(np.arange(len(gt)), 2)
    length = gt.segments.lengths[src]
    jitter = rng.normal(0, 0.15, (src.size, 2)) * length[:, None]
    tp_bounds = gt.segments.bounds[src] + jitter
    n_rand = N_PREDICTIONS - src.size
    host = rng.integers(0, len(gt), n_rand)  # borrow video (and often class) of a GT segment
    any_class = rng.random(n_rand) < 0.3
    rand_labels = np.where(any_class, rng.integers(0, N_CLASSES, n_rand), gt.segments.labels[host])
    start = rng.uniform(0, VIDEO_SECONDS - 5, n_rand)
    rand_bounds = np.stack([start, start + rng.uniform(1, 30, n_rand)], axis=1)
    scores = np.concatenate([rng.uniform(0.3, 1.0, src.size), rng.uniform(0.0, 0.8, n_rand)])
    return TemporalDetections(
        video_ids=np.concatenate([gt.video_ids[src], gt.video_ids[host]]),
        segments=Segments(
            np.concatenate([tp_bounds, rand_bounds]),
            np.concatenate([gt.segments.labels[src], rand_labels]),
            scores,
        ),
        classes=gt.classes,
    )


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Smallest wall time in seconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(seed: int = 0) -> dict[str, float]:
    """Generate the data with ``seed`` and time the evaluators; returns seconds (and mAPs)."""
    rng = np.random.default_rng(seed)
    gt = make_ground_truth(rng)
    dets = make_predictions(gt, rng)
    video_scores = rng.random((N_VIDEOS, N_CLASSES))
    labels_of = gt.video_labels()
    video_labels = np.stack([labels_of[v] for v in gt.videos])
    out = {
        "n_gt": float(len(gt)),
        "n_predictions": float(len(dets)),
        "temporal_map_thumos14_s": best_of(
            lambda: temporal_map(gt, dets, tiou_thresholds=PRESETS["thumos14"])
        ),
        "temporal_map_activitynet_s": best_of(
            lambda: temporal_map(gt, dets, tiou_thresholds=PRESETS["activitynet"])
        ),
        "classification_map_s": best_of(lambda: classification_map(video_scores, video_labels)),
    }
    out["average_mAP_thumos14"] = temporal_map(gt, dets).average_mAP
    return out


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>28}: {value:.4f}")
