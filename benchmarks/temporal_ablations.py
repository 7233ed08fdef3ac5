"""Ablations of the temporal methods on synthetic data, several seeds, mean +- std.

Each row trains one configuration (``configs/<method>/synthetic.yaml`` plus the row's
``--set``-style overrides) on the bundled synthetic demo data (``wsal synth temporal
--preset demo``), predicts the test split and prints the average mAP (tIoU 0.1:0.7) and
mAP@0.5 in percent, mean +- std over the seeds. The rows are the ablations the papers report:

* DML (Islam & Radke, WACV 2020): classification loss (Fig. 2: BCE / balanced BCE /
  softmax MIL), metric loss (Table 3: none / contrastive / triplet), distance (Fig. 3: ours /
  cosine / Euclidean / learned), blocks on/off and ``l_w`` (Table 4), ``k`` (Fig. 4a),
  clipping ``kappa`` (Table 5).
* EM-MIL (Luo et al., ECCV 2020, Table 3): full EM, pseudo-labels with joint training,
  alternating training with plain attention.
* the baselines: plain top-k MIL, W-TALC, attention MIL.

Usage::

    python benchmarks/temporal_ablations.py                        # every group, 3 seeds
    python benchmarks/temporal_ablations.py --groups em_mil --seeds 0
    python benchmarks/temporal_ablations.py --data DIR --out ablations.json

The data folder is generated once (``--data``, default ``runs/ablations/data``) and reused;
run folders go under ``--runs`` and a finished run is not trained again (delete the folder
to redo it), so an interrupted sweep continues where it stopped. Results are written to
``--out`` as JSON after every run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wsal.config import load_run_config  # noqa: E402
from wsal.io.atomic import write_json_atomic  # noqa: E402


@dataclass(frozen=True)
class Row:
    """One ablation: a method's synthetic config plus overrides; ``paper`` is the paper's figure."""

    group: str
    name: str
    method: str
    overrides: tuple[str, ...] = ()
    paper: str = ""


def _dml(name: str, *overrides: str, paper: str = "") -> Row:
    return Row("dml", name, "dml", tuple(overrides), paper)


def _em(name: str, *overrides: str, paper: str = "") -> Row:
    return Row("em_mil", name, "em_mil", tuple(overrides), paper)


#: Paper figures are THUMOS14 mAP@0.5 (%) unless stated; "-" where the paper gives none.
ROWS: tuple[Row, ...] = (
    Row("baselines", "plain top-k MIL", "mil_topk", paper="-"),
    Row("baselines", "W-TALC", "wtalc", paper="22.8 (W-TALC, Table 1)"),
    Row("baselines", "attention MIL (STPN)", "attention_mil", paper="16.9 (STPN, Table 1)"),
    _dml("DML full (BBCE + triplet, ours, blocks)", paper="29.6 (Table 1/3)"),
    _dml("loss: BCE", "model.cls_loss=bce", paper="Fig. 2: below BBCE"),
    _dml("loss: softmax MIL", "model.cls_loss=softmax_mil", paper="Fig. 2: below BBCE"),
    _dml("no metric loss", "model.metric_loss=none", paper="14.0 (Table 3)"),
    _dml("contrastive loss", "model.metric_loss=contrastive", paper="28.4 (Table 3)"),
    _dml("distance: cosine", "model.distance=cosine", paper="Fig. 3: below ours"),
    _dml("distance: Euclidean", "model.distance=euclidean", paper="Fig. 3: below ours"),
    _dml("distance: learned M^c", "model.distance=learned", paper="Fig. 3: below ours"),
    _dml("no blocks", "model.blocks=false", paper="25.5 (Table 4)"),
    _dml("l_w = 30", "model.block_size=30", paper="Fig. 4b: below l_w = 60"),
    _dml("l_w = 120", "model.block_size=120", paper="Fig. 4b: below l_w = 60"),
    _dml("k = 10 (paper)", "model.topk=10", paper="Fig. 4a: best on THUMOS14"),
    _dml("no clipping", "model.kappa=null", paper="27.1 (Table 5)"),
    _dml("kappa = 2", "model.kappa=2.0", paper="26.8 (Table 5)"),
    _em("EM-MIL full", paper="30.5 (Table 3)"),
    _em("pseudo-labels, joint training", "model.train_mode=joint", paper="26.8 (Table 3)"),
    _em("alternating, plain attention", "model.train_mode=attention", paper="24.5 (Table 3)"),
)

GROUPS = ("baselines", "dml", "em_mil")


def ensure_data(path: Path, preset: str) -> Path:
    """Generate the synthetic folder once (kept between invocations)."""
    from wsal.synthetic import generate_temporal

    if not (path / "gt.json").is_file():
        generate_temporal(path, preset, seed=0, overwrite=True)
    return path


def run_row(row: Row, seed: int, data: Path, runs: Path, extra: list[str]) -> dict:
    """Train + evaluate one (row, seed); reuse a finished run folder."""
    from wsal.pipeline import train_and_evaluate

    slug = "".join(c if c.isalnum() else "_" for c in f"{row.group}_{row.name}").strip("_")
    run_dir = runs / f"{slug}_s{seed}"
    metrics = run_dir / "metrics_test.json"
    if metrics.is_file():
        done = json.loads(metrics.read_text())
        return {"average_mAP": done["average_mAP"], "mAP@0.5": done["mAP"]["0.50"], "s": None}
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg_path = ROOT / "configs" / row.method / "synthetic.yaml"
    cfg = load_run_config(cfg_path, [f"data.root={data}", f"seed={seed}", *row.overrides, *extra])
    t0 = time.perf_counter()
    result = train_and_evaluate(cfg, run_dir)
    mAP = dict(zip(result.thresholds, result.mAP))
    return {
        "average_mAP": float(result.average_mAP),
        "mAP@0.5": float(mAP[min(mAP, key=lambda t: abs(t - 0.5))]),
        "s": time.perf_counter() - t0,
    }


def _fmt(values: list[float]) -> str:
    v = 100 * np.asarray(values)
    return f"{v.mean():5.1f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:4.1f}"


def table(results: dict, rows: list[Row], seeds: list[int]) -> str:
    """Markdown table of the finished rows (mean +- std over the seeds present)."""
    lines = [
        "| group | configuration | avg mAP 0.1:0.7 (%) | mAP@0.5 (%) | seeds | paper |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        got = [results[row.name][str(s)] for s in seeds if str(s) in results.get(row.name, {})]
        if not got:
            continue
        avg, at5 = _fmt([g["average_mAP"] for g in got]), _fmt([g["mAP@0.5"] for g in got])
        lines.append(f"| {row.group} | {row.name} | {avg} | {at5} | {len(got)} | {row.paper} |")
    return "\n".join(lines)


def main() -> None:
    """Run the selected groups and seeds; print and save the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", nargs="+", default=list(GROUPS), choices=GROUPS)
    ap.add_argument(
        "--rows", nargs="*", default=None, help="only rows whose name contains one of these"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--preset", default="demo", help="synthetic preset (default: demo)")
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "ablations" / "data")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "ablations" / "runs")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "ablations" / "results.json")
    ap.add_argument(
        "--set",
        dest="extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override applied to every row (e.g. train.epochs=5 for a smoke run)",
    )
    args = ap.parse_args()

    rows = [r for r in ROWS if r.group in args.groups]
    if args.rows:
        rows = [r for r in rows if any(k.lower() in r.name.lower() for k in args.rows)]
    data = ensure_data(args.data, args.preset)
    results: dict = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for row in rows:
        for seed in args.seeds:
            got = run_row(row, seed, data, args.runs, args.extra)
            results.setdefault(row.name, {})[str(seed)] = got
            write_json_atomic(args.out, results, indent=1)
            took = f" ({got['s']:.0f} s)" if got["s"] else " (cached)"
            print(
                f"{row.group:9s} {row.name:42s} seed {seed}: "
                f"avg {100 * got['average_mAP']:5.1f}  @0.5 {100 * got['mAP@0.5']:5.1f}{took}",
                flush=True,
            )
    print()
    print(table(results, rows, args.seeds))


if __name__ == "__main__":
    main()
