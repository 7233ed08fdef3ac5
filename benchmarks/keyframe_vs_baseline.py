"""Frame-mAP of the keyframe methods against the plain max-pooling MIL baseline.

Generates the AVA-layout demo data (``wsal synth keyframe --preset demo``), trains
``configs/mil_max/synthetic.yaml`` (baseline), ``configs/ua_mil/synthetic.yaml`` and
``configs/mitl/synthetic.yaml`` for each clip length t and seed, evaluates Frame-mAP@0.5 on
the val split and prints one table (mean +- std over seeds). Ablations: ``--ablations`` adds
ua_mil without uncertainty = the baseline, mitl without triplet, without similarity loss.

    python benchmarks/keyframe_vs_baseline.py --t 10 30 --seeds 0
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wsal.config import load_run_config  # noqa: E402
from wsal.pipeline import train_and_evaluate  # noqa: E402
from wsal.synthetic import generate_keyframe  # noqa: E402

VARIANTS = {
    "mil_max (baseline)": ("mil_max", []),
    "ua_mil": ("ua_mil", []),
    "mitl": ("mitl", []),
}
ABLATIONS = {
    "mitl - triplet": ("mitl", ["model.triplet=false"]),
    "mitl - similarity": ("mitl", ["model.similarity=false"]),
    "mitl, max sim_n": ("mitl", ["model.negative=max"]),
}


def main() -> None:
    """Parse arguments, train every (variant, t, seed) and print the Frame-mAP table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t", type=int, nargs="+", default=[10, 30], help="clip lengths (s)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on busy CPUs)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    variants = {**VARIANTS, **(ABLATIONS if args.ablations else {})}
    table: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            data = generate_keyframe(Path(tmp) / f"data{seed}", args.preset, seed=seed)
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
    print(f"\nFrame-mAP@0.5 (%) on the '{args.preset}' val split, seeds {args.seeds}")
    print(f"{'method':<22s}" + "".join(f"{'t=' + str(t):>16s}" for t in args.t))
    for name in variants:
        cells = []
        for t in args.t:
            v = np.array(table[(name, t)])
            cells.append(f"{v.mean():7.2f} +- {v.std(ddof=1) if len(v) > 1 else 0:4.2f}")
        print(f"{name:<22s}" + "".join(f"{c:>16s}" for c in cells))


if __name__ == "__main__":
    main()
