"""Scale of the keyframe data path: one ua_mil epoch on a >= 4 GB memory-mapped dataset.

Full AVA has about a million person boxes x 2304-D features (about 4.6 GB as float16), more
than a training process should hold in RAM. This benchmark writes an AVA-layout folder
(``docs/formats.md``) with that many float16 feature rows into ``--dir`` (random features,
random boxes, clip labels from a few GT rows per keyframe), trains ``ua_mil`` for one epoch
through the ordinary engine (:func:`wsal.engine.keyframe.train_keyframe`, bags read from the
memory-mapped ``features/train.npy``), then prints the peak resident memory of the process
(must stay under 3 GB) and the training throughput in bags/s. The folder is deleted
afterwards unless ``--keep``.

    nice -n 10 python benchmarks/bench_keyframe_scale.py --dir /tmp/kf_scale
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wsal.config import load_run_config  # noqa: E402
from wsal.engine.keyframe import train_keyframe  # noqa: E402
from wsal.io.ava import write_ava_gt, write_ava_proposals, write_labelmap  # noqa: E402
from wsal.structures import Boxes, KeyframeGroundTruth  # noqa: E402


def peak_rss_gb() -> float:
    """Peak resident set size of this process in GB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def build(out: Path, *, rows: int, dim: int, per_keyframe: int, seed: int) -> None:
    """Write the AVA-layout folder: label map, GT, proposals and ``rows x dim`` float16 features.

    Features are written chunk by chunk into the ``.npy`` file, so building never holds
    more than one chunk in RAM either.
    """
    rng = np.random.default_rng(seed)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    (out / "proposals").mkdir(exist_ok=True)
    (out / "features").mkdir(exist_ok=True)
    ids = (1, 11, 12, 14, 17, 59, 74, 79, 80)
    names = {1: "bend/bow (at the waist)", 11: "sit", 12: "stand", 14: "walk",
             17: "carry/hold (an object)", 59: "touch (an object)", 74: "listen to (a person)",
             79: "talk to (e.g., self, a person, a group)", 80: "watch (a person)"}  # fmt: skip
    write_labelmap(out / "annotations" / "action_list.pbtxt", names)
    keyframes = rows // per_keyframe
    per_video = 897  # AVA: 15-minute videos annotated at 1 Hz (902..1798)
    kf = np.arange(keyframes)
    vid = np.array([f"video{v:05d}" for v in range(keyframes // per_video + 1)])[kf // per_video]
    ts = 902 + kf % per_video
    v_rows, t_rows = np.repeat(vid, per_keyframe), np.repeat(ts, per_keyframe)
    xy = rng.uniform(0.0, 0.6, (rows, 2))
    wh = rng.uniform(0.1, 0.4, (rows, 2))
    boxes = Boxes(np.round(np.concatenate([xy, xy + wh], axis=1), 3))
    write_ava_proposals(
        out / "proposals" / "train.csv", v_rows, t_rows, boxes, rng.uniform(0.5, 1, rows)
    )
    labels = np.asarray(ids)[rng.integers(0, len(ids), keyframes)]
    gt_boxes = boxes.xyxy[kf * per_keyframe]
    gt = KeyframeGroundTruth(vid, ts, gt_boxes, labels, np.zeros(keyframes, np.int64))
    write_ava_gt(out / "annotations" / "train.csv", gt)
    path = out / "features" / "train.npy"
    with open(path, "wb") as f:  # plain writes: a writable map would make build pages resident
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f2", "fortran_order": False, "shape": (rows, dim)}
        )
        chunk = 20_000
        for a in range(0, rows, chunk):
            b = min(rows, a + chunk)
            f.write(rng.standard_normal((b - a, dim), dtype=np.float32).astype("<f2").tobytes())


def main() -> None:
    """Build the folder, run one epoch, print peak RSS and bags/s."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, required=True, help="scratch folder (created)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="proposal / feature rows")
    ap.add_argument("--dim", type=int, default=2304, help="feature dimension (SlowFast: 2304)")
    ap.add_argument("--per-keyframe", type=int, default=8, help="proposals per keyframe")
    ap.add_argument("--clip-seconds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the dataset folder")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = args.dir / "data"
    try:
        t0 = time.perf_counter()
        if not (data / "features" / "train.npy").is_file():
            build(data, rows=args.rows, dim=args.dim, per_keyframe=args.per_keyframe, seed=0)
        size = (data / "features" / "train.npy").stat().st_size / 1e9
        print(f"dataset: {args.rows:,} rows x {args.dim} float16 = {size:.2f} GB on disk "
              f"(built in {time.perf_counter() - t0:.0f} s); RSS after build "
              f"{peak_rss_gb():.2f} GB", flush=True)  # fmt: skip
        cfg = load_run_config(
            ROOT / "configs" / "ua_mil" / "synthetic.yaml",
            [f"data.root={data}", f"weak.clip_seconds={args.clip_seconds}", "train.epochs=1",
             "train.batch_size=32", "train.device=cpu", "train.checkpoint_every=1"],
        )  # fmt: skip
        t1 = time.perf_counter()
        result = train_keyframe(cfg, args.dir / "run", log=lambda s: None)
        seconds = time.perf_counter() - t1
        bags = result.iterations * cfg.train.batch_size
        print(f"one ua_mil epoch: {result.iterations} batches x {cfg.train.batch_size} bags "
              f"(<= {cfg.data.max_instances} boxes each, t = {args.clip_seconds} s) in "
              f"{seconds:.1f} s = {bags / seconds:.0f} bags/s (incl. opening the split)")  # fmt: skip
        peak = peak_rss_gb()
        print(f"peak resident memory: {peak:.2f} GB ({'OK' if peak < 3 else 'OVER'} < 3 GB)")
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
