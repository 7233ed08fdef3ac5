"""Speed of ACT video-mAP (:func:`wsal.evaluation.video.video_map`) on a generated test set.

The case is deterministic: 1000 videos of 150-300 frames, 24 labels, 1-3 ground-truth tubes per
video, 20 detected tubes per video (20,000 in all) of 20-200 frames: jittered copies of
ground-truth tubes (some with a wrong label) and random tubes. Run as a script to print
wall-clock and CPU seconds (best of 3) of the default 3-threshold evaluation with 3D-NMS, of the
0.5:0.05:0.95 protocol, and of the evaluation without NMS::

    python benchmarks/bench_eval_video.py
"""

from __future__ import annotations

import time

import numpy as np

from wsal.evaluation.video import video_map
from wsal.structures import Tube, TubeDetections, TubeGroundTruth

N_VIDEOS = 1000
N_LABELS = 24
DETS_PER_VIDEO = 20
WIDTH, HEIGHT = 320, 240


def _random_walk_boxes(rng: np.random.Generator, length: int) -> np.ndarray:
    """``(length, 4)`` x1y1x2y2 pixel boxes drifting smoothly inside a 320x240 frame."""
    size = rng.uniform([40, 60], [120, 200])
    start = rng.uniform([0, 0], [WIDTH - size[0], HEIGHT - size[1]])
    drift = np.cumsum(rng.normal(0.0, 1.5, size=(length, 2)), axis=0)
    x1y1 = np.clip(start + drift, 0, [WIDTH - size[0], HEIGHT - size[1]])
    return np.concatenate([x1y1, x1y1 + size], axis=1)


def _gt_video(rng: np.random.Generator, label: int, nframes: int) -> list[Tube]:
    tubes = []
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.integers(20, min(200, nframes) + 1))
        first = int(rng.integers(1, nframes - length + 2))
        boxes = _random_walk_boxes(rng, length)
        tubes.append(Tube(np.arange(first, first + length), boxes, label=label))
    return tubes


def _jittered(rng: np.random.Generator, gt: Tube, nframes: int, label: int) -> Tube:
    """A detection following ``gt`` with +-10 frames of temporal and ~4 px of spatial noise."""
    first = int(np.clip(gt.first_frame + rng.integers(-10, 11), 1, nframes))
    last = int(np.clip(gt.last_frame + rng.integers(-10, 11), first, nframes))
    last = min(max(last, first + 19), first + 199, nframes)
    frames = np.arange(first, last + 1)
    src = np.clip(frames, gt.first_frame, gt.last_frame) - gt.first_frame
    boxes = gt.boxes[src] + rng.normal(0.0, 4.0, size=(len(frames), 4))
    return Tube(frames, boxes, label=label, score=float(rng.random()))


def _random_tube(rng: np.random.Generator, nframes: int) -> Tube:
    length = int(rng.integers(20, min(200, nframes) + 1))
    first = int(rng.integers(1, nframes - length + 2))
    boxes = _random_walk_boxes(rng, length)
    label = int(rng.integers(N_LABELS))
    return Tube(np.arange(first, first + length), boxes, label=label, score=float(rng.random()))


def make_case(seed: int = 0) -> tuple[TubeGroundTruth, TubeDetections]:
    """The deterministic benchmark case (ground truth and 20,000 detected tubes)."""
    rng = np.random.default_rng(seed)
    labels = [f"class_{c:02d}" for c in range(N_LABELS)]
    videos, gt_tubes, det_tubes = {}, {}, {}
    for v in range(N_VIDEOS):
        vid = f"{labels[v % N_LABELS]}/v_{v:04d}"
        nframes = int(rng.integers(150, 301))
        videos[vid] = {"nframes": nframes, "width": WIDTH, "height": HEIGHT}
        gts = _gt_video(rng, v % N_LABELS, nframes)
        dets = []
        for _ in range(DETS_PER_VIDEO):
            if rng.random() < 0.7:
                src = gts[int(rng.integers(len(gts)))]
                label = src.label if rng.random() < 0.8 else int(rng.integers(N_LABELS))
                dets.append(_jittered(rng, src, nframes, label))
            else:
                dets.append(_random_tube(rng, nframes))
        gt_tubes[vid], det_tubes[vid] = gts, dets
    gt = TubeGroundTruth(labels=labels, videos=videos, tubes=gt_tubes)
    return gt, TubeDetections(tubes=det_tubes, labels=labels)


def _best_of(n: int, fn) -> tuple[float, float]:
    """Best wall-clock and best CPU (process) seconds of ``n`` calls of ``fn``."""
    wall, cpu = [], []
    for _ in range(n):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def run(seed: int = 0) -> dict[str, float]:
    """Seconds (best of 3, wall and CPU) of video_map on the generated case, its size, mAP@0.5."""
    gt, dets = make_case(seed)
    result = video_map(gt, dets)
    out = {
        "videos": float(len(gt.videos)),
        "gt_tubes": float(len(gt)),
        "detected_tubes": float(len(dets)),
        "mAP@0.5": float(result.mAP[1]),
    }
    cases = {
        "video_map_3thr_nms": lambda: video_map(gt, dets),
        "video_map_10thr_nms": lambda: video_map(
            gt, dets, iou_thresholds=np.linspace(0.5, 0.95, 10)
        ),
        "video_map_3thr_no_nms": lambda: video_map(gt, dets, nms_threshold=None),
    }
    for name, fn in cases.items():
        out[f"{name}_wall_s"], out[f"{name}_cpu_s"] = _best_of(3, fn)
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:>26}: {value:.4f}" if key.endswith("_s") else f"{key:>26}: {value:g}")
