"""Peak memory of inference on one very long video (50,000 snippets, about 9 hours at 0.64 s).

What is measured: ``wsal.engine.trainer.predict_temporal`` on a dataset folder holding one
test video of ``T`` snippets with I3D-sized features (two streams of 1024 dims, float32,
T x 2048 = 410 MB for T = 50,000): feature loading and validation, the trained model's
forward pass, and localization (the method's paper preset) -- everything ``wsal predict``
does except writing the results file.

How: the model is first trained briefly (mil_topk, paper hidden width 512) on a tiny
synthetic dataset with the same feature width; then a *fresh* process runs the prediction and
reports its peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), both
absolute and above the baseline after imports, so training does not count.

Usage::

    python benchmarks/bench_long_video.py                     # T = 50,000
    python benchmarks/bench_long_video.py --snippets 100000 --method mil_topk
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LIMIT_MB = 2048  # the budget of the issue: inference on a 50,000-snippet video under 2 GB


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(work: Path, snippets: int, method: str, dim: int) -> tuple[Path, Path]:
    """Train a small run and write the long-video folder; returns ``(run_dir, long_root)``."""
    from wsal.config import load_run_config
    from wsal.engine.trainer import train_temporal
    from wsal.io.atomic import save_npy_atomic
    from wsal.io.temporal import write_split_file

    data = _tiny_data(work / "data", dim)
    sets = [
        f"method={method}",
        f"data.root={data}",
        "train.epochs=1",
        "train.iterations_per_epoch=2",
        "train.device=cpu",
    ]
    run = work / "run"
    train_temporal(load_run_config(None, sets), run, log=lambda s: None)
    classes = json.loads((run / "run.json").read_text())["classes"]

    long_root = work / "long"
    seconds = snippets * 0.64
    annotations = [
        {"segment": [10.0 * (i + 1), 10.0 * (i + 1) + 5.0], "label": c}
        for i, c in enumerate(classes)
    ]
    gt = {
        "database": {
            "long_video": {"subset": "test", "duration": seconds, "annotations": annotations}
        }
    }
    long_root.mkdir(parents=True)
    (long_root / "gt.json").write_text(json.dumps(gt))
    write_split_file(long_root / "split_test.txt", ["long_video"])
    rng = np.random.default_rng(0)
    for stream in ("rgb", "flow"):
        x = rng.standard_normal((snippets, dim), dtype=np.float32)
        save_npy_atomic(long_root / "features" / "test" / stream / "long_video.npy", x)
        del x
    return run, long_root


def _tiny_data(out: Path, dim: int) -> Path:
    """The tiny synthetic temporal dataset with ``dim`` feature dimensions per stream."""
    from wsal.config import load_config
    from wsal.synthetic import TEMPORAL_PRESETS, generate_temporal

    base = TEMPORAL_PRESETS["tiny"]
    cfg = load_config(type(base), None, [f"feature_dim={dim}"], base=base)
    return generate_temporal(out, cfg, seed=0)


def measure(run: Path, long_root: Path) -> dict[str, float]:
    """Predict the long video in this process; return timings and peak memory (MB)."""
    import torch  # noqa: F401  (imported before the baseline, as predict needs it)

    from wsal.engine.trainer import predict_temporal

    baseline = _peak_rss_mb()
    t0 = time.perf_counter()
    raw, dets, _ = predict_temporal(run, data_root=long_root, split="test", device="cpu")
    seconds = time.perf_counter() - t0
    cas = raw["long_video"].cas
    return {
        "snippets": int(cas.shape[0]),
        "classes": int(cas.shape[1]),
        "segments": len(dets),
        "seconds": round(seconds, 2),
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(_peak_rss_mb(), 1),
        "peak_above_baseline_mb": round(_peak_rss_mb() - baseline, 1),
    }


def main() -> int:
    """Prepare in this process, measure in a child; print one JSON line and a verdict."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--snippets", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=1024, help="feature dims per stream (2 streams)")
    p.add_argument("--method", default="mil_topk")
    p.add_argument("--measure", nargs=2, metavar=("RUN", "LONG"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        run, long_root = prepare(Path(tmp), args.snippets, args.method, args.dim)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(run), str(long_root)],
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["method"], result["feature_dim"] = args.method, 2 * args.dim
    print(json.dumps(result))
    ok = result["peak_mb"] < LIMIT_MB
    print(f"peak RSS {result['peak_mb']:.0f} MB ({'within' if ok else 'OVER'} {LIMIT_MB} MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
