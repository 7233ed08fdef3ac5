"""Validation curves of a temporal config: mAP on a carve-out of the TRAINING videos only.

Why: budgets (epochs), checkpoints and localizer presets must be chosen without looking at
the test split. This script trains ``--config`` (plus ``--set`` overrides) with
``train.val_fraction`` of the training videos held out, stops after every ``--every``
epochs (the engine's bitwise-exact resume continues the same run), scores the held-out
videos once per stop and localizes those raw scores with every ``--preset`` (plus optional
``--lset`` overrides as ``name:key=value;key=value``, values in YAML), and prints and saves a table
``epoch x preset`` of average mAP (tIoU of the config's ``eval.tiou``). The test split is
never opened.

Usage::

    python benchmarks/temporal_validation.py --config configs/dml/thumos14.yaml \\
        --data DIR --every 3 --preset dml_code dml --out val.json [--set train.lr=1e-4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wsal.config import load_run_config, merge_config  # noqa: E402
from wsal.data.temporal import SnippetDataset  # noqa: E402
from wsal.engine.checkpoint import load_checkpoint  # noqa: E402
from wsal.engine.trainer import (  # noqa: E402
    _raw_scores,
    build_method,
    carve_validation,
    localize_raw,
    train_temporal,
)
from wsal.evaluation.temporal import parse_thresholds, temporal_map  # noqa: E402
from wsal.io.atomic import write_json_atomic  # noqa: E402
from wsal.io.features import open_temporal_folder  # noqa: E402
from wsal.localize.temporal import PRESETS  # noqa: E402


def _localizers(presets: list[str], lsets: list[str]) -> dict[str, tuple[str, dict]]:
    """``{label: (preset, overrides)}`` from preset names and ``name:key=v;...`` variants."""
    out = {p: (p, {}) for p in presets}
    for spec in lsets:
        base, _, kv = spec.partition(":")
        overrides = {}
        for item in filter(None, kv.split(";")):
            key, _, value = item.partition("=")
            overrides[key] = yaml.safe_load(value)
        merge_config(PRESETS[base], overrides)  # fail early on a bad key
        out[spec] = (base, overrides)
    return out


def _score(run: Path, folder, videos: list[str], localizers, tiou) -> dict[str, float]:
    cfg = load_run_config(run / "config.yaml")
    ds = SnippetDataset(folder, cfg.data.train_split, videos=videos, train=False, sampling="none")
    model = load_run_checkpoint(run, cfg, ds.feature_dim, len(folder.classes))
    raw = _raw_scores(model, ds, "cpu")
    gt = folder.gt.select(videos, subset_name="validation")
    return {
        label: 100.0
        * float(
            temporal_map(
                gt, localize_raw(raw, folder.classes, preset, overrides), tiou_thresholds=tiou
            ).average_mAP
        )
        for label, (preset, overrides) in localizers.items()
    }


def load_run_checkpoint(run: Path, cfg, feature_dim: int, num_classes: int):
    """The model of ``run/checkpoints/last.pt`` (the engine's resume point), eval mode."""
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    model = build_method(cfg.method, cfg.model, feature_dim=feature_dim, num_classes=num_classes)
    model.load_state_dict(state["model"])
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--set", nargs="*", default=[], dest="overrides", action="extend")
    ap.add_argument("--val-fraction", type=float, default=0.25)
    ap.add_argument("--every", type=int, default=3, help="epochs between validations")
    ap.add_argument("--preset", nargs="+", default=["dml_code"])
    ap.add_argument("--lset", nargs="*", default=[], help="PRESET:key=value;... variants")
    ap.add_argument("--runs", default="runs/validation")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    cfg = load_run_config(
        a.config,
        [f"data.root={a.data}", f"train.val_fraction={a.val_fraction}", "train.eval_every=0"]
        + a.overrides,
    )
    run = Path(a.runs) / f"{Path(a.config).parent.name}_{Path(a.data).name}_{cfg.seed}"
    localizers = _localizers(a.preset, a.lset)
    folder = open_temporal_folder(cfg.data.root, streams=cfg.data.streams, splits=("train",))
    _, val_videos = carve_validation(folder.splits["train"], a.val_fraction, cfg.seed)
    tiou = parse_thresholds(cfg.eval.tiou)
    rows, t0 = [], time.perf_counter()
    for stop in range(a.every, cfg.train.epochs + a.every, a.every):
        stop = min(stop, cfg.train.epochs)
        train_temporal(cfg, run, resume=bool(rows), log=lambda _: None, stop_after_epoch=stop)
        row = {"epoch": stop, **_score(run, folder, val_videos, localizers, tiou)}
        rows.append(row)
        print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
              f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        if stop == cfg.train.epochs:
            break
    if a.out:
        write_json_atomic(a.out, {"config": a.config, "data": a.data, "set": a.overrides,
                                  "validation_videos": len(val_videos), "rows": rows})  # fmt: skip


if __name__ == "__main__":
    main()
