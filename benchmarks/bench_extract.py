"""Feature extraction speed (videos/s, snippets/s) and peak memory on long videos (CPU or GPU).

What is measured: :func:`wsal.extract.features.extract_video` -- PyAV decoding, resampling to
25 fps, resizing, snippet windows and the encoder -- on generated videos
(:func:`wsal.extract.videogen.write_test_video`).

* Throughput: ``--videos`` videos of ``--seconds`` s each, encoder ``--extractor`` (``i3d``,
  randomly initialized full-width I3D with 224 crops by default: the compute of the published
  features; weights do not change the speed) and, with ``--flow``, the flow stream with the
  frame-difference proxy (TV-L1 needs OpenCV contrib).
* Memory: each length in ``--long`` (seconds) is extracted in a fresh process with the cheap
  ``stats`` encoder, reporting peak resident memory (``VmHWM``); it must stay flat as the
  video grows, since frames stream in chunks.

Usage::

    python benchmarks/bench_extract.py                               # CPU, I3D RGB
    python benchmarks/bench_extract.py --device cuda --flow           # GPU, both streams
    python benchmarks/bench_extract.py --extractor stats --long 60 600 1800
    python benchmarks/bench_extract.py --videos 0 --long --e2e i3d --e2e-width 0.25  # train-e2e
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _throughput(args: argparse.Namespace, root: Path) -> dict:
    import torch

    from wsal.extract.decode import Resize
    from wsal.extract.features import build_encoder, extract_video
    from wsal.extract.flow import frame_difference_flow
    from wsal.extract.videogen import write_test_video

    streams = ["rgb", "flow"] if args.flow else ["rgb"]
    encoders = [
        build_encoder(args.extractor, s, random_init=True, device=args.device) for s in streams
    ]
    paths = [
        write_test_video(root / f"v{i}.mp4", seconds=args.seconds, width=320, height=240)
        for i in range(args.videos)
    ]
    extract_video(paths[0], encoders, flow=frame_difference_flow, batch_size=args.batch_size)
    t0, snippets = time.perf_counter(), 0
    for p in paths:
        feats = extract_video(p, encoders, flow=frame_difference_flow, resize=Resize("short_side"),
                              batch_size=args.batch_size)  # fmt: skip
        snippets += feats["rgb"].shape[0]
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {
        "extractor": args.extractor, "streams": streams, "device": args.device,
        "videos": args.videos, "seconds_each": args.seconds, "snippets": snippets,
        "wall_s": round(dt, 2), "videos_per_s": round(args.videos / dt, 3),
        "snippets_per_s": round(snippets / dt, 2), "threads": torch.get_num_threads(),
    }  # fmt: skip


# VmHWM (peak resident memory of this process image; unlike ru_maxrss it is not inherited
# from the parent across exec)
_CHILD = """
import json, sys, time
from wsal.extract.features import StatsEncoder, extract_video
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
path = sys.argv[1]
base = hwm()
t0 = time.perf_counter()
f = extract_video(path, [StatsEncoder()])
peak = hwm()
print(json.dumps({"snippets": int(f["rgb"].shape[0]), "wall_s": round(time.perf_counter() - t0, 1),
                  "peak_rss_mb": round(peak, 1), "above_imports_mb": round(peak - base, 1)}))
"""


def _memory(seconds: float, root: Path) -> dict:
    from wsal.extract.videogen import write_test_video

    path = write_test_video(
        root / f"long_{int(seconds)}.mp4", seconds=seconds, width=320, height=240
    )
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return {"video_s": seconds, **json.loads(out.stdout.strip().splitlines()[-1])}


def _end_to_end(args: argparse.Namespace, root: Path) -> dict:
    """Training steps/s of ``wsal train-e2e`` (clip cache built first, not timed)."""
    import dataclasses

    from wsal.engine.end_to_end import EndToEndConfig, train_end_to_end
    from wsal.extract.videogen import write_ava_test_dataset
    from wsal.methods.ua_mil import UAMILConfig

    data = write_ava_test_dataset(root / "ava", videos=2, seconds=12, width=160, height=120)
    h, w = args.e2e_size
    cfg = EndToEndConfig(
        data=str(data), videos=str(data / "videos"), backbone=args.e2e, random_init=True,
        width=args.e2e_width, clip_frames=args.e2e_frames, frame_size=(h, w), time_offset=900,
        clip_seconds=4, max_instances=4, steps=1, batch_size=args.batch_size, device=args.device,
        model=UAMILConfig(hidden_dim=64),
    )  # fmt: skip
    quiet = {"log": lambda s: None}
    train_end_to_end(cfg, root / "run", **quiet)  # builds the clip cache
    steps = args.e2e_steps
    t0 = time.perf_counter()
    train_end_to_end(dataclasses.replace(cfg, steps=steps + 1, checkpoint_every=10**9),
                     root / "run", resume=True, **quiet)  # fmt: skip
    dt = time.perf_counter() - t0
    return {
        "end_to_end": args.e2e, "width": args.e2e_width, "clip": [args.e2e_frames, h, w],
        "batch_bags": args.batch_size, "device": args.device, "steps": steps,
        "wall_s": round(dt, 2), "steps_per_s": round(steps / dt, 3),
    }  # fmt: skip


def main() -> None:
    """Parse arguments, run the throughput and memory measurements, print JSON lines."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--extractor", default="i3d")
    p.add_argument("--device", default="cpu")
    p.add_argument("--flow", action="store_true", help="add the flow stream (difference proxy)")
    p.add_argument("--videos", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--long", type=float, nargs="*", default=[60, 600])
    p.add_argument("--e2e", default=None, help="also time `wsal train-e2e` with this backbone")
    p.add_argument("--e2e-width", type=float, default=1.0, help="I3D width for --e2e")
    p.add_argument("--e2e-frames", type=int, default=8, help="clip frames for --e2e")
    p.add_argument("--e2e-size", type=int, nargs=2, default=[128, 160], help="frame H W (--e2e)")
    p.add_argument("--e2e-steps", type=int, default=5, help="timed steps for --e2e")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.videos:
            print(json.dumps(_throughput(args, root)))
        for seconds in args.long:
            print(json.dumps(_memory(seconds, root)))
        if args.e2e:
            print(json.dumps(_end_to_end(args, root)))


if __name__ == "__main__":
    main()
