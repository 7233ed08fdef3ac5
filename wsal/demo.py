"""``wsal demo``: generate the bundled synthetic data and run the whole pipeline on it.

Temporal part: the demo dataset (THUMOS14-like folder layout) is generated, the main
method (``dml``) and the plain top-k MIL baseline are trained with their
``configs/<method>/synthetic.yaml``, the test split is predicted, localized and evaluated,
and the mAP tables are printed. Every artefact stays in the output folder::

    OUT/data/temporal/            generated dataset
    OUT/runs/<method>/            run folders (config, checkpoints, results, metrics)
    OUT/runs/<method>/report.html HTML report of each run (``wsal report``)
    OUT/summary.json              the numbers printed at the end
"""

from __future__ import annotations

import time
from pathlib import Path

from wsal.config import load_run_config
from wsal.errors import WsalError
from wsal.io.atomic import write_json_atomic

__all__ = ["run_demo", "DEMO_METHODS", "config_path"]

#: Methods trained by the demo, main method first; each needs configs/<name>/synthetic.yaml.
DEMO_METHODS = ("dml", "mil_topk")

#: Extra overrides per data preset (the "tiny" preset is a smoke run, not a benchmark).
_PRESET_OVERRIDES = {"tiny": ["train.epochs=2", "train.iterations_per_epoch=3"]}


def config_path(method: str, dataset: str = "synthetic") -> Path:
    """``configs/<method>/<dataset>.yaml`` of the source tree (the demo runs from a checkout)."""
    root = Path(__file__).resolve().parents[1] / "configs"
    path = root / method / f"{dataset}.yaml"
    if not path.is_file():
        raise WsalError(
            f"{path}: config not found (run `wsal demo` from a source checkout of wsal)"
        )
    return path


def run_demo(out: str | Path, *, seed: int = 0, preset: str = "demo", log=print) -> dict:
    """Generate data, train and evaluate the demo methods; return the summary dict."""
    from wsal.methods import METHODS
    from wsal.pipeline import train_and_evaluate
    from wsal.synthetic import TEMPORAL_PRESETS, generate_temporal

    if preset not in TEMPORAL_PRESETS:
        raise WsalError(f"unknown preset '{preset}'; choose from {', '.join(TEMPORAL_PRESETS)}")
    out = Path(out)
    t0 = time.perf_counter()
    log(f"[1/3] generating the '{preset}' temporal dataset (seed {seed}) ...")
    data = generate_temporal(out / "data" / "temporal", preset, seed=seed, overwrite=True)
    summary: dict = {"data": str(data), "seed": seed, "preset": preset, "temporal": {}}
    methods = [m for m in DEMO_METHODS if m in METHODS]
    for i, method in enumerate(methods):
        log(f"[2/3] training {method} ({i + 1}/{len(methods)}) ...")
        overrides = [f"data.root={data}", f"seed={seed}", *_PRESET_OVERRIDES.get(preset, [])]
        cfg = load_run_config(config_path(method), overrides)
        t1 = time.perf_counter()
        result = train_and_evaluate(cfg, out / "runs" / method, evaluate=True)
        log(f"\n{method}: test split, {time.perf_counter() - t1:.0f} s\n{result.format_table()}\n")
        summary["temporal"][method] = {"average_mAP": result.average_mAP, **result.to_json()}
    log("[3/3] summary (average mAP over tIoU 0.1:0.7, test split)")
    for method, r in summary["temporal"].items():
        log(f"  {method:<14s} {100 * r['average_mAP']:6.2f}")
    summary["reports"] = _write_reports(out, methods, data, log)
    summary["seconds"] = time.perf_counter() - t0
    write_json_atomic(out / "summary.json", summary, indent=1)
    log(f"done in {summary['seconds']:.0f} s; outputs in {out}")
    log(f"report: {summary['reports'][0]}" if summary["reports"] else "no report written")
    return summary


def _write_reports(out: Path, methods: list[str], data: Path, log) -> list[str]:
    """HTML report of every demo run (main method first); returns their paths."""
    from wsal.viz.report import write_report

    paths = []
    for method in methods:
        run = out / "runs" / method
        paths.append(str(write_report(run, run / "report.html", data=data, max_videos=40)))
        log(f"wrote the {method} report: {paths[-1]}")
    return paths
