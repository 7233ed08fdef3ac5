"""Scaling of Temporal Prim (:func:`wsal.localize.linking.temporal_prim`) with the box count.

Temporal Prim (Mettes & Snoek, STIL, Sec. 3.2) costs O(b) per added box and O(F * b) per
video-length tube. The case: one video of ``F`` sampled frames with ``b = 10`` boxes per frame
(3 persons moving slowly, scores in [0.55, 1], plus 7 random boxes, scores in
[0.05, 0.5]), ``F * b`` from 10^3 to 10^6
boxes; 3 tubes per video (as in training). Time per box should stay flat (linear scaling);
the one-off ``argsort`` of the frame index is O(N log N) but negligible. Best of 3 runs
(one run at 10^6). Also times the ACT greedy linker (Kalogeiton et al., ICCV 2017) on the same
boxes::

    python benchmarks/bench_linking.py [--max-exp 6] [--per-frame 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wsal.localize.linking import act_greedy_link, temporal_prim


def make_video(n_boxes: int, per_frame: int, seed: int = 0):
    """``frames (N,)``, ``boxes (N, 4)``, ``scores (N,)`` of one synthetic video."""
    rng = np.random.default_rng(seed)
    n_frames = max(1, n_boxes // per_frame)
    persons = min(3, per_frame)
    size = np.array([60.0, 120.0])
    start = rng.uniform([0, 0], [260, 120], size=(persons, 2))
    drift = np.cumsum(rng.normal(0.0, 1.0, size=(n_frames, persons, 2)), axis=0)
    xy = np.clip(start[None] + drift, 0, [260, 120])
    person_boxes = np.concatenate([xy, xy + size], axis=2)  # (F, P, 4)
    rand_xy = rng.uniform([0, 0], [260, 120], size=(n_frames, per_frame - persons, 2))
    rand_boxes = np.concatenate([rand_xy, rand_xy + rng.uniform(20, 100, size=rand_xy.shape)], 2)
    boxes = np.concatenate([person_boxes, rand_boxes], axis=1).reshape(-1, 4)
    frames = np.repeat(1 + 5 * np.arange(n_frames), per_frame)
    scores = rng.uniform(0.05, 0.5, size=(n_frames, per_frame))
    scores[:, :persons] += 0.5  # persons outscore clutter: tubes run the whole video
    scores = scores.reshape(-1)
    return frames, boxes, scores


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    """Print a markdown table of seconds and microseconds per box."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-exp", type=int, default=6, help="largest box count is 10^max_exp")
    ap.add_argument("--per-frame", type=int, default=10, help="boxes per sampled frame")
    ap.add_argument("--no-act", action="store_true", help="skip the ACT linker column")
    args = ap.parse_args()
    print("| boxes | frames | Temporal Prim s | us / box | ACT linker s | us / box |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for exp in range(3, args.max_exp + 1):
        n = 10**exp
        f, b, s = make_video(n, args.per_frame)
        reps = 3 if exp < 6 else 1
        t_prim = _best(lambda v=(f, b, s): temporal_prim(*v, max_tubes=3, suppress_iou=0.5), reps)
        row = f"| {n:,} | {n // args.per_frame:,} | {t_prim:.3f} | {1e6 * t_prim / n:.2f} |"
        if args.no_act:
            row += " - | - |"
        else:
            t_act = _best(lambda v=(f, b, s): act_greedy_link(*v), reps)
            row += f" {t_act:.3f} | {1e6 * t_act / n:.2f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
