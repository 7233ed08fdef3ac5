"""Frame-mAP of the keyframe methods against the plain max-pooling MIL baseline.

Generates the AVA-layout demo data (``wsal synth keyframe --preset demo``), trains
``configs/mil_max/synthetic.yaml`` (baseline), ``configs/ua_mil/synthetic.yaml`` and
``configs/mitl/synthetic.yaml`` for each clip length t and seed, evaluates Frame-mAP@0.5 on
the val split and prints one table (mean +- std over seeds). Ablations: ``--ablations`` adds
ua_mil without uncertainty = the baseline, mitl without triplet, without similarity loss.

    python benchmarks/keyframe_vs_baseline.py --t 10 30 --seeds 0

``--json FILE`` also saves the per-seed numbers; ``--merge A.json B.json ...`` prints the
table of several such files (e.g. seeds run as parallel processes) without training.
``--gen KEY=VALUE`` changes a field of the generator preset (``KeyframeSynthConfig``), e.g.
``--gen occlusion_fraction=0.3`` for persistent detector misses.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wsal.config import load_run_config  # noqa: E402
from wsal.pipeline import train_and_evaluate  # noqa: E402
from wsal.synthetic import KEYFRAME_PRESETS, KeyframeSynthConfig, generate_keyframe  # noqa: E402

VARIANTS = {
    "mil_max (baseline)": ("mil_max", []),
    "ua_mil": ("ua_mil", []),
    "mitl": ("mitl", []),
}
ABLATIONS = {
    "ua_mil - uncertainty": ("ua_mil", ["model.uncertainty=false"]),
    "mitl - triplet": ("mitl", ["model.triplet=false"]),
    "mitl - similarity": ("mitl", ["model.similarity=false"]),
    "mitl - triplet - sim": ("mitl", ["model.triplet=false", "model.similarity=false"]),
}


def main() -> None:
    """Parse arguments, train every (variant, t, seed) and print the Frame-mAP table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t", type=int, nargs="+", default=[10, 30], help="clip lengths (s)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on busy CPUs)")
    ap.add_argument("--json", type=Path, help="also write the per-seed numbers here")
    ap.add_argument("--merge", type=Path, nargs="+", help="print the table of saved --json files")
    ap.add_argument("--gen", nargs="+", default=[], metavar="KEY=VALUE",
                    help="generator preset changes, e.g. occlusion_fraction=0.3")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    variants = {**VARIANTS, **(ABLATIONS if args.ablations else {})}
    table: dict[tuple[str, int], list[float]] = {}
    if args.merge:
        seeds: list[int] = []
        for path in args.merge:
            saved = json.loads(path.read_text())
            seeds += saved["seeds"]
            for row in saved["rows"]:
                table.setdefault((row["method"], row["t"]), []).extend(row["frame_mAP"])
        names = list(dict.fromkeys(m for m, _ in table))
        ts = sorted({t for _, t in table})
        _print_table(table, names, ts, saved["preset"], seeds)
        return
    gen_config = _generator_config(args.preset, args.gen)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            data = generate_keyframe(Path(tmp) / f"data{seed}", gen_config, seed=seed)
            for t in args.t:
                for name, (cfg_dir, extra) in variants.items():
                    over = [f"data.root={data}", f"seed={seed}", f"weak.clip_seconds={t}", *extra]
                    cfg = load_run_config(ROOT / "configs" / cfg_dir / "synthetic.yaml", over)
                    t0 = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        result = train_and_evaluate(cfg, Path(tmp) / f"run_{name}_{t}_{seed}")
                    table.setdefault((name, t), []).append(100 * result.mAP)
                    print(f"seed {seed} t={t:<3d} {name:<20s} Frame-mAP {100 * result.mAP:6.2f}"
                          f"  ({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    if args.json:
        rows = [{"method": m, "t": t, "frame_mAP": v} for (m, t), v in table.items()]
        args.json.write_text(
            json.dumps(
                {"preset": " ".join([args.preset, *args.gen]), "seeds": args.seeds, "rows": rows}
            )
        )
    _print_table(table, list(variants), args.t, " ".join([args.preset, *args.gen]), args.seeds)


def _generator_config(preset: str, changes: list[str]) -> KeyframeSynthConfig:
    """The preset ``preset`` with ``KEY=VALUE`` changes (values typed as the preset's field)."""
    cfg = KEYFRAME_PRESETS[preset]
    types = {f.name: type(getattr(cfg, f.name)) for f in fields(cfg)}
    values = {}
    for item in changes:
        key, _, value = item.partition("=")
        if key not in types:
            raise SystemExit(f"--gen: unknown generator field {key!r}; one of {sorted(types)}")
        values[key] = types[key](value)
    return replace(cfg, **values)


def _print_table(table, names, ts, preset, seeds) -> None:
    """Markdown table: one row per variant, ``mean +- std`` (ddof 1) over seeds per t."""
    print(f"\nFrame-mAP@0.5 (%) on the '{preset}' val split, seeds {seeds}")
    print("| method | " + " | ".join(f"t = {t}" for t in ts) + " |")
    print("|---" * (len(ts) + 1) + "|")
    for name in names:
        cells = []
        for t in ts:
            v = np.array(table[(name, t)])
            cells.append(f"{v.mean():.1f} +- {v.std(ddof=1) if len(v) > 1 else 0:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
