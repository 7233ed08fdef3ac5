"""STIL video-mAP against annotation seconds per video (Mettes & Snoek 2019, Fig. 6, appendix A).

    python benchmarks/stil_annotation_cost.py --seeds 0 1 2 [--preset demo] [--out PNG]

Six supervision variants of Sec. 5.2.2, all with ``configs/stil/synthetic.yaml``: video labels
only; points every 10th / every frame; boxes every 10th / every frame; the 50/50 mixture of
labels-only and boxes-every-10th videos. Annotations are simulated from the ground truth of the
*training* videos (``wsal.engine.tubes.supervise_videos``), turned into prior scores by Eq. 5-7
and costed by the appendix-A model (5 s label, 15 s box, 1.5 s point, per annotated frame).
Prints a Markdown table (mean +- std over seeds) and writes the plot atomically.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from stil_tables import CONFIG, dataset, fit_and_score, mean_std

from wsal.engine.tubes import load_tube_run_config
from wsal.viz.common import new_figure, save_figure

#: (name, supervision, stride) of Fig. 6
LEVELS: list[tuple[str, str, int]] = [
    ("Video labels", "labels", 10),
    ("Points (stride 10)", "points", 10),
    ("Mixture (50:50)", "mixture", 10),
    ("Points (stride 1)", "points", 1),
    ("Boxes (stride 10)", "boxes", 10),
    ("Boxes (stride 1)", "boxes", 1),
]


def main() -> None:
    """Train STIL under each supervision level and seed; print the table, save the plot."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/wsal_stil_bench")
    ap.add_argument("--out", default="benchmarks/stil_annotation_cost.png")
    args = ap.parse_args()
    work = Path(args.work)
    roots = {s: dataset(work, args.preset, s) for s in args.seeds}
    rows = []
    print("| supervision | seconds / video | mAP@0.2 | mAP@0.5 |\n| --- | ---: | ---: | ---: |")
    for name, kind, stride in LEVELS:
        over = [f"data.supervision={kind}", f"data.annotation_stride={stride}"]
        r = np.array([fit_and_score(load_tube_run_config(CONFIG, [f"seed={s}", *over]), roots[s])
                      for s in args.seeds])  # fmt: skip
        rows.append((name, r))
        print(f"| {name} | {r[:, 2].mean():.1f} | {mean_std(list(r[:, 0]))} | "
              f"{mean_std(list(r[:, 1]))} |", flush=True)  # fmt: skip
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for k, thr in ((0, "0.2"), (1, "0.5")):
        x = np.array([r[:, 2].mean() for _, r in rows])
        y = np.array([100 * r[:, k].mean() for _, r in rows])
        e = np.array([100 * r[:, k].std() for _, r in rows])
        ax.errorbar(x, y, yerr=e, marker="o", linestyle="none", capsize=3, label=f"mAP@{thr}")
        for (name, _), xi, yi in zip(rows, x, y):
            ax.annotate(name, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("annotation seconds per training video (appendix A cost model)")
    ax.set_ylabel("video-mAP (%)")
    ax.set_title(f"STIL on generated tubes ({args.preset}, seeds {args.seeds})")
    ax.legend()
    for p in save_figure(fig, args.out):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
