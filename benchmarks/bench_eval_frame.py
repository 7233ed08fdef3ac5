"""Speed of AVA Frame-mAP (:func:`wsal.evaluation.frame.frame_map`) and of the AVA CSV reader.

Deterministic generated case shaped like an AVA submission: ``num_keyframes`` keyframes
(default 2000) with 1-5 annotated persons each, 60 classes, every detected box scored for 30
classes (GT classes boosted), a false box on most keyframes, so about 100 rows per keyframe
(about 200,000 rows; the 50-per-keyframe cap is active).

Usage::

    python benchmarks/bench_eval_frame.py            # 2000 keyframes, ~200k rows
    python benchmarks/bench_eval_frame.py --large    # 50,000 keyframes, 6 classes/box, ~1M rows
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from wsal.evaluation.frame import frame_map
from wsal.io.ava import read_ava_detections, write_ava_detections
from wsal.structures import Boxes, KeyframeDetections, KeyframeGroundTruth

NUM_CLASSES = 60
CLASSES_PER_BOX = 30


def make_case(
    seed: int = 0, num_keyframes: int = 2000, classes_per_box: int = CLASSES_PER_BOX
) -> tuple[KeyframeGroundTruth, KeyframeDetections, dict[int, str]]:
    """Generate ``(gt, dets, labelmap)``; boxes ``(N, 4)`` x1y1x2y2 normalized."""
    rng = np.random.default_rng(seed)
    videos = np.array([f"vid{v:08d}" for v in range(max(1, num_keyframes // 100))])
    kf_video = videos[np.arange(num_keyframes) % videos.shape[0]]
    kf_stamp = 902 + np.arange(num_keyframes) // videos.shape[0]
    # Persons: 1-5 per keyframe, 1-3 actions each.
    persons = rng.integers(1, 6, num_keyframes)
    p_kf = np.repeat(np.arange(num_keyframes), persons)
    corner = rng.uniform(0.0, 0.6, (p_kf.shape[0], 2))
    size = rng.uniform(0.15, 0.4, (p_kf.shape[0], 2))
    p_box = np.concatenate([corner, corner + size], axis=1)
    acts = rng.integers(1, 4, p_kf.shape[0])
    g_person = np.repeat(np.arange(p_kf.shape[0]), acts)
    g_label = rng.integers(1, NUM_CLASSES + 1, g_person.shape[0])
    gt = KeyframeGroundTruth(
        kf_video[p_kf[g_person]],
        kf_stamp[p_kf[g_person]],
        Boxes(p_box[g_person]),
        g_label,
        g_person,
    )
    # Detected boxes: 90 % of persons (jittered) plus one false box on 80 % of keyframes.
    found = np.flatnonzero(rng.random(p_kf.shape[0]) < 0.9)
    d_box = p_box[found] + rng.normal(0.0, 0.03, (found.shape[0], 4))
    false_kf = np.flatnonzero(rng.random(num_keyframes) < 0.8)
    f_corner = rng.uniform(0.0, 0.6, (false_kf.shape[0], 2))
    f_box = np.concatenate([f_corner, f_corner + 0.2], axis=1)
    b_kf = np.concatenate([p_kf[found], false_kf])
    b_box = np.concatenate([d_box, f_box])
    # Each box scored for `classes_per_box` classes: a found person's own actions first
    # (boosted scores), random classes for the rest.
    r_box = np.repeat(np.arange(b_kf.shape[0]), classes_per_box)
    r_slot = np.tile(np.arange(classes_per_box), b_kf.shape[0])
    r_label = rng.integers(1, NUM_CLASSES + 1, r_box.shape[0])
    r_score = rng.random(r_box.shape[0]) * 0.7
    b_person = np.concatenate([found, np.full(false_kf.shape[0], -1)])[r_box]
    own = (b_person >= 0) & (r_slot < acts[np.maximum(b_person, 0)])
    g_first = np.cumsum(acts) - acts
    r_label[own] = g_label[g_first[b_person[own]] + r_slot[own]]
    r_score[own] += 0.3
    dets = KeyframeDetections(
        kf_video[b_kf[r_box]], kf_stamp[b_kf[r_box]], Boxes(b_box[r_box]), r_label, r_score
    )
    labelmap = {c: f"action {c}" for c in range(1, NUM_CLASSES + 1)}
    return gt, dets, labelmap


def _best_of(fn, repeats: int) -> tuple[float, float]:
    """Best wall time and best process CPU time of ``repeats`` calls of ``fn``, seconds.

    CPU time is reported too because benchmark machines are often shared: wall time then
    includes waiting for other processes, CPU time does not.
    """
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def run(
    seed: int = 0,
    *,
    num_keyframes: int = 2000,
    classes_per_box: int = CLASSES_PER_BOX,
    repeats: int = 3,
) -> dict[str, float]:
    """Time ``frame_map`` (and the detection CSV reader) on the generated case.

    Returns:
        ``{"rows", "keyframes", "gt_rows", "frame_map_s", "frame_map_cpu_s", "read_csv_s",
        "read_csv_cpu_s", "mAP"}``; times are seconds, best of ``repeats``.
    """
    gt, dets, labelmap = make_case(seed, num_keyframes, classes_per_box)
    result = frame_map(gt, dets, labelmap)
    seconds, cpu = _best_of(lambda: frame_map(gt, dets, labelmap), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dets.csv"
        write_ava_detections(path, dets)
        read_s, read_cpu = _best_of(lambda: read_ava_detections(path), repeats)
    return {
        "rows": float(len(dets)),
        "keyframes": float(num_keyframes),
        "gt_rows": float(len(gt)),
        "frame_map_s": seconds,
        "frame_map_cpu_s": cpu,
        "read_csv_s": read_s,
        "read_csv_cpu_s": read_cpu,
        "mAP": float(result.mAP),
    }


def main() -> None:
    """Print the benchmark figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--large", action="store_true", help="50,000 keyframes, 6 classes per box")
    args = parser.parse_args()
    if args.large:
        stats = run(args.seed, num_keyframes=50_000, classes_per_box=6)
    else:
        stats = run(args.seed)
    print(
        f"frame_map: {int(stats['rows']):,} detection rows, {int(stats['keyframes']):,} keyframes, "
        f"{int(stats['gt_rows']):,} GT rows, {NUM_CLASSES} classes"
    )
    print(
        f"  frame_map  wall {stats['frame_map_s']:.3f} s, cpu {stats['frame_map_cpu_s']:.3f} s "
        f"(best of 3); mAP {100 * stats['mAP']:.2f} %"
    )
    print(
        f"  read CSV   wall {stats['read_csv_s']:.3f} s, cpu {stats['read_csv_cpu_s']:.3f} s "
        "(best of 3)"
    )


if __name__ == "__main__":
    main()
