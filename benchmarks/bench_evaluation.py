"""Wall seconds of every evaluation metric on large deterministic cases (issue: Evaluation).

Runs the three family benchmarks beside this file and prints one table:

* temporal detection mAP: 2000 videos, 20 classes, 200,000 predictions (THUMOS14 and
  ActivityNet thresholds), plus classification mAP on 2000 x 20 scores;
* AVA Frame-mAP: ~214,000 detection rows on 2000 keyframes, 60 classes;
* ACT video-mAP: 1000 videos, 24 labels, 20,000 detected tubes.

Run: ``python benchmarks/bench_evaluation.py`` (record the output in benchmarks/README.md).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_eval_frame  # noqa: E402
import bench_eval_temporal  # noqa: E402
import bench_eval_video  # noqa: E402


def main() -> None:
    """Run all three benchmarks and print their figures."""
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    for name, module in (
        ("temporal", bench_eval_temporal),
        ("frame", bench_eval_frame),
        ("video", bench_eval_video),
    ):
        result = module.run(seed=0)
        for key, value in result.items():
            if isinstance(value, float):
                print(f"{name:9s} {key:32s} {value:10.4f}")
            else:
                print(f"{name:9s} {key:32s} {value!s:>10}")


if __name__ == "__main__":
    main()
