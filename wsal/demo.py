"""``wsal demo``: generate the bundled synthetic data and run the whole pipeline on it.

Three task families, each on its own generated dataset:

* temporal: the demo dataset (THUMOS14-like layout) is generated, the main method
  (``dml``) and the plain top-k MIL baseline are trained with their
  ``configs/<method>/synthetic.yaml``, the test split is predicted, localized and evaluated,
  the mAP tables are printed and an HTML report is written per run;
* keyframe (AVA layout, ``wsal synth keyframe``, "small" preset): ``ua_mil`` (uncertainty-
  aware MIL) and the max-pooling MIL baseline ``mil_max`` are trained at t = 10 s clips and
  their Frame-mAP@0.5 on the val split is printed. ``wsal report`` covers temporal runs only,
  so no report is written for these runs;
* tubes (UCF101-24 layout, ``wsal synth tubes``, "small" preset): STIL is fitted through
  :func:`wsal.engine.tubes.train_tubes` and its video-mAP on the test split is printed.

Every artefact stays in the output folder::

    OUT/data/{temporal,keyframe,tubes}/  generated datasets
    OUT/runs/<method>/                   temporal run folders (config, checkpoints, metrics)
    OUT/runs/<method>/report.html        HTML report of each temporal run (``wsal report``)
    OUT/runs/keyframe/<method>/          keyframe runs (detections CSV, metrics JSON)
    OUT/runs/tubes/stil/                 the STIL run (model, metrics)
    OUT/summary.json                     the numbers printed at the end
"""

from __future__ import annotations

import time
from pathlib import Path

from wsal.config import load_run_config
from wsal.errors import WsalError
from wsal.io.atomic import write_json_atomic

__all__ = ["run_demo", "DEMO_METHODS", "KEYFRAME_DEMO_METHODS", "TUBE_DEMO_METHODS", "config_path"]

#: Methods trained by the demo, main method first; each needs configs/<name>/synthetic.yaml.
DEMO_METHODS = ("dml", "mil_topk")

#: Keyframe methods of the demo (main method first) and the tube method.
KEYFRAME_DEMO_METHODS = ("ua_mil", "mil_max")
TUBE_DEMO_METHODS = ("stil",)

#: Extra overrides per data preset (the "tiny" preset is a smoke run, not a benchmark).
_PRESET_OVERRIDES = {"tiny": ["train.epochs=2", "train.iterations_per_epoch=3"]}

#: Data preset of the keyframe and tube parts per demo preset (small settings: the whole
#: demo stays within about 15 minutes on 2 cores).
_SIDE_PRESET = {"tiny": "tiny", "small": "tiny"}
_KEYFRAME_OVERRIDES = {"tiny": ["train.epochs=2"]}


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
        log(f"[2/5] training {method} ({i + 1}/{len(methods)}) ...")
        overrides = [f"data.root={data}", f"seed={seed}", *_PRESET_OVERRIDES.get(preset, [])]
        cfg = load_run_config(config_path(method), overrides)
        t1 = time.perf_counter()
        result = train_and_evaluate(cfg, out / "runs" / method, evaluate=True)
        log(f"\n{method}: test split, {time.perf_counter() - t1:.0f} s\n{result.format_table()}\n")
        summary["temporal"][method] = {"average_mAP": result.average_mAP, **result.to_json()}
    log("[3/5] summary (average mAP over tIoU 0.1:0.7, test split)")
    for method, r in summary["temporal"].items():
        log(f"  {method:<14s} {100 * r['average_mAP']:6.2f}")
    summary["reports"] = _write_reports(out, methods, data, log)
    summary["keyframe"] = _keyframe_part(out, seed, preset, log)
    summary["tubes"] = _tube_part(out, seed, preset, log)
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


def _keyframe_part(out: Path, seed: int, preset: str, log) -> dict:
    """Generate AVA-layout data, train the keyframe demo methods, print Frame-mAP@0.5."""
    from wsal.pipeline import train_and_evaluate
    from wsal.synthetic import generate_keyframe

    side = _SIDE_PRESET.get(preset, "small")
    log(f"[4/5] keyframe (AVA layout, '{side}' preset): {', '.join(KEYFRAME_DEMO_METHODS)}")
    data = generate_keyframe(out / "data" / "keyframe", side, seed=seed, overwrite=True)
    results: dict = {"data": str(data), "preset": side}
    for method in KEYFRAME_DEMO_METHODS:
        overrides = [f"data.root={data}", f"seed={seed}", *_KEYFRAME_OVERRIDES.get(preset, [])]
        cfg = load_run_config(config_path(method), overrides)
        t1 = time.perf_counter()
        r = train_and_evaluate(cfg, out / "runs" / "keyframe" / method, evaluate=True)
        results[method] = {"frame_mAP": float(r.mAP), "seconds": time.perf_counter() - t1}
        log(f"  {method:<14s} Frame-mAP@0.5 (val) {100 * r.mAP:6.2f}")
    log("  (no HTML report for keyframe runs: `wsal report` covers temporal runs only)")
    return results


def _tube_part(out: Path, seed: int, preset: str, log) -> dict:
    """Generate UCF101-24-layout tube data, fit STIL, print its video-mAP on the test split."""
    from wsal.engine.tubes import load_tube_run_config, train_tubes
    from wsal.synthetic import generate_tubes

    side = _SIDE_PRESET.get(preset, "small")
    log(f"[5/5] tubes (UCF101-24 layout, '{side}' preset): stil")
    data = generate_tubes(out / "data" / "tubes", side, seed=seed, overwrite=True)
    results: dict = {"data": str(data), "preset": side}
    for method in TUBE_DEMO_METHODS:
        cfg = load_tube_run_config(config_path(method), [f"data.root={data}", f"seed={seed}"])
        t1 = time.perf_counter()
        r = train_tubes(cfg, out / "runs" / "tubes" / method, evaluate=True)
        results[method] = {**r.to_json(), "seconds": time.perf_counter() - t1}
        maps = ", ".join(
            f"{100 * m:.2f} @ {t:g}" for t, m in zip(cfg.eval.iou_thresholds, r.mAP, strict=True)
        )
        log(f"  {method:<14s} video-mAP (test) {maps}")
    return results
