"""Test average mAP of the temporal methods against the plain top-k MIL baseline, per dataset.

Why: issue 14's acceptance compares each method's dataset config with
``../shared/benchmarks/baseline_temporal.py`` on the same data, on the independent benchmark
(``../shared/benchmarks/temporal.py``, several seeds) and on wsal's own generator. Every
number is a final checkpoint (or one chosen by ``train.select: best`` on a carve-out of the
training videos); nothing is chosen on a test split.

Each dataset folder is trained on by every ``--method`` with ``configs/<method>/thumos14.yaml``
(``wsal train``, which predicts and evaluates the test split), and by the baseline
(``baseline_temporal.py --epochs 80 --seed 0``, scored by ``wsal evaluate temporal``). A run
folder that already holds ``metrics_test.json`` is not trained again. The table (average mAP
in percent, tIoU 0.1:0.7, and the wall seconds of each run) is printed and written as JSON.

Usage::

    python benchmarks/temporal_vs_baseline.py --data /tmp/bench/t_1 /tmp/bench/w_0 \\
        --methods dml em_mil wtalc attention_mil --runs runs/vs_baseline --out table.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WSAL_SHARED", ROOT.parent / "shared"))
WSAL = [sys.executable, "-m", "wsal.cli"]


def _run(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` with its output in ``log``; the wall seconds (a failure raises)."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    return time.perf_counter() - t0


def _subset(data: Path) -> str:
    """The ground truth's test subset name ("test" in both generators)."""
    db = json.loads((data / "gt.json").read_text())["database"]
    return "test" if any(v.get("subset") == "test" for v in db.values()) else "testing"


def method_map(method: str, data: Path, runs: Path, extra: list[str]) -> dict:
    """Train ``configs/<method>/thumos14.yaml`` on ``data``; its test average mAP (%)."""
    run = runs / f"{method}_{data.name}"
    metrics = run / "metrics_test.json"
    seconds = None
    if not metrics.is_file():
        cmd = [*WSAL, "train", "--config", f"configs/{method}/thumos14.yaml",
               "--data", str(data), "--out", str(run)]  # fmt: skip
        for item in extra:
            cmd += ["--set", item]
        runs.mkdir(parents=True, exist_ok=True)
        seconds = _run(cmd, runs / f"{method}_{data.name}.log")
    m = json.loads(metrics.read_text())
    return {"average_mAP": 100 * m["average_mAP"], "seconds": seconds}


def baseline_map(data: Path, runs: Path, seed: int) -> dict:
    """``baseline_temporal.py --epochs 80 --seed S`` on ``data``; its test average mAP (%)."""
    res = runs / f"baseline{seed}_{data.name}.json"
    metrics = runs / f"baseline{seed}_{data.name}.metrics.json"
    seconds = None
    if not metrics.is_file():
        runs.mkdir(parents=True, exist_ok=True)
        script = SHARED / "benchmarks" / "baseline_temporal.py"
        seconds = _run([sys.executable, str(script), str(data), str(res), "--epochs", "80",
                        "--seed", str(seed)], runs / f"baseline{seed}_{data.name}.log")  # fmt: skip
        out = subprocess.run(
            [*WSAL, "evaluate", "temporal", "--gt", str(data / "gt.json"), "--pred", str(res),
             "--subset", _subset(data), "--preset", "thumos14", "--json"],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        metrics.write_text(out.stdout)
    return {"average_mAP": 100 * json.loads(metrics.read_text())["average_mAP"], "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True, type=Path)
    ap.add_argument("--methods", nargs="+", default=["dml", "em_mil", "wtalc", "attention_mil"])
    ap.add_argument(
        "--set", nargs="*", default=[], dest="overrides", action="extend", help="for every method"
    )
    ap.add_argument("--baseline-seed", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=Path("runs/vs_baseline"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    table: dict[str, dict] = {}
    for data in a.data:
        data = data.resolve()
        row = {"baseline": baseline_map(data, a.runs.resolve(), a.baseline_seed)}
        for method in a.methods:
            row[method] = method_map(method, data, a.runs.resolve(), a.overrides)
        table[data.name] = row
        print(
            data.name, " ".join(f"{k}={v['average_mAP']:.1f}" for k, v in row.items()), flush=True
        )
        if a.out:
            a.out.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
