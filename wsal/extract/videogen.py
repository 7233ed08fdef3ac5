"""Small generated video files for tests, benchmarks and demos (PyAV writes them).

Why: no real video can be shipped or downloaded, yet decoding, timing alignment, rotation,
variable frame rate and audio-less/audio-only files must be tested. Every frame encodes its
own timestamp: the grey level of the frame is :func:`level_at` of its time, so a test can
check that decoded frame ``k`` shows the source frame displayed at ``k / fps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["write_test_video", "level_at", "write_ava_test_dataset", "AVA_TEST_ACTIONS"]


def level_at(t: np.ndarray | float, seconds: float) -> np.ndarray:
    """Grey level (0..255) of the frame shown at time ``t`` of a ``seconds``-long test video."""
    return np.round(16 + 220 * np.asarray(t, np.float64) / max(seconds, 1e-9))


def _frame(t: float, seconds: float, width: int, height: int, marker: bool) -> np.ndarray:
    """``(height, width, 3)`` uint8 frame: uniform grey ``level_at(t)``, white top-left marker."""
    img = np.full((height, width, 3), int(level_at(t, seconds)), np.uint8)
    if marker:
        img[: height // 4, : width // 4] = 255
    return img


def write_test_video(
    path: str | Path,
    *,
    seconds: float = 2.0,
    fps: float = 25.0,
    width: int = 64,
    height: int = 48,
    rotation: int = 0,
    times: Sequence[float] | None = None,
    audio: bool = False,
    video: bool = True,
    marker: bool = False,
    codec: str = "mpeg4",
) -> Path:
    """Write a test video and return its path.

    Args:
        path: output file (``.mp4``, ``.mkv``, ...; the container follows the suffix).
        seconds: length; frames at ``k / fps`` unless ``times`` is given.
        fps: nominal frame rate.
        width, height: stored frame size (before rotation).
        rotation: counter-clockwise display rotation stored in the display matrix.
        times: explicit frame timestamps in seconds (variable frame rate), increasing.
        audio: add a silent mono AAC track.
        video: False writes an audio-only file (requires ``audio``).
        marker: draw a white top-left quarter, to check rotation.
        codec: FFmpeg video encoder name.
    """
    import fractions

    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tb = fractions.Fraction(1, 1000)
    stamps = list(times) if times is not None else [k / fps for k in range(round(seconds * fps))]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=round(fps)) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.time_base = tb
            vs.codec_context.time_base = tb
            vs.options = {"qscale": "2"} if codec == "mpeg4" else {}
            if rotation:
                vs.set_display_rotation(rotation)
        aus = out.add_stream("aac", rate=8000, layout="mono") if audio else None
        for t in stamps if vs is not None else []:
            frame = av.VideoFrame.from_ndarray(
                _frame(t, seconds, width, height, marker), format="rgb24"
            )
            frame.pts, frame.time_base = round(t / tb), tb
            for packet in vs.encode(frame):
                out.mux(packet)
        if vs is not None:
            for packet in vs.encode():
                out.mux(packet)
        if aus is not None:
            _write_silence(out, aus, seconds)
    return path


def _write_silence(out, stream, seconds: float) -> None:
    """Encode ``seconds`` of silence into the audio ``stream``."""
    import av

    n, step = round(seconds * stream.rate), 1024
    for start in range(0, n, step):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, min(step, n - start)), np.float32), format="fltp", layout="mono"
        )
        frame.rate, frame.pts = stream.rate, start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


#: Action ids (AVA v2.2) and names of the generated AVA-layout videos; a person's colour is
#: its action, so a backbone trained from frames can learn them.
AVA_TEST_ACTIONS: dict[int, str] = {11: "sit", 12: "stand", 14: "walk"}
_ACTION_COLOURS = np.array([[220, 40, 40], [40, 200, 40], [40, 60, 220]], np.uint8)


def write_ava_test_dataset(
    root: str | Path,
    *,
    videos: int = 2,
    seconds: int = 6,
    persons: int = 2,
    fps: float = 25.0,
    width: int = 64,
    height: int = 48,
    time_offset: int = 900,
    split: str = "train",
    seed: int = 0,
) -> Path:
    """Write generated videos in the AVA keyframe layout (for end-to-end training tests).

    Files: ``root/videos/<vid>.mp4``, ``root/annotations/action_list.pbtxt`` (the actions of
    :data:`AVA_TEST_ACTIONS`), ``root/annotations/<split>.csv`` (ground truth) and
    ``root/proposals/<split>.csv`` (the ground-truth boxes, jittered, as detections). Each video
    holds ``persons`` static rectangles on a grey background; a person's colour shows its
    action, which changes every 2 s; keyframes are at whole seconds ``1 .. seconds - 1``, with
    AVA timestamps ``time_offset + s``. Seeded: the same seed writes the same files.
    """
    import av

    from wsal.io.ava import write_ava_gt, write_ava_proposals, write_labelmap
    from wsal.structures import KeyframeGroundTruth

    root = Path(root)
    rng = np.random.default_rng(seed)
    ids = np.array(list(AVA_TEST_ACTIONS), np.int64)
    write_labelmap(root / "annotations" / "action_list.pbtxt", AVA_TEST_ACTIONS)
    cols: dict[str, list] = {"v": [], "t": [], "box": [], "a": [], "p": []}
    for i in range(videos):
        vid = f"vid{i:02d}"
        # (persons, 4) normalized boxes side by side; (persons, seconds // 2 + 1) action index
        x0 = (np.arange(persons) + 0.1) / persons
        boxes = np.stack([x0, np.full(persons, 0.2), x0 + 0.7 / persons, np.full(persons, 0.9)], 1)
        acts = rng.integers(0, len(ids), (persons, seconds // 2 + 1))
        px = np.round(boxes * [width, height, width, height]).astype(int)
        path = root / "videos" / f"{vid}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as out:
            vs = out.add_stream("mpeg4", rate=round(fps))
            vs.width, vs.height, vs.pix_fmt, vs.options = width, height, "yuv420p", {"qscale": "2"}
            for k in range(round(seconds * fps)):
                img = np.full((height, width, 3), 128, np.uint8)
                for p in range(persons):
                    colour = _ACTION_COLOURS[acts[p, int(k / fps) // 2]]
                    img[px[p, 1] : px[p, 3], px[p, 0] : px[p, 2]] = colour
                for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
        secs = np.arange(1, seconds)
        cols["v"] += [vid] * (len(secs) * persons)
        cols["t"].append(np.repeat(secs + time_offset, persons))
        cols["box"].append(np.tile(boxes, (len(secs), 1)))
        cols["a"].append(ids[acts[:, secs // 2].T.reshape(-1)])
        cols["p"].append(np.tile(np.arange(persons), len(secs)))
    boxes = np.concatenate(cols["box"])
    gt = KeyframeGroundTruth(cols["v"], np.concatenate(cols["t"]), boxes,
                             np.concatenate(cols["a"]), np.concatenate(cols["p"]))  # fmt: skip
    write_ava_gt(root / "annotations" / f"{split}.csv", gt)
    jitter = np.clip(boxes + rng.normal(0, 0.01, boxes.shape), 0, 1)
    write_ava_proposals(root / "proposals" / f"{split}.csv", gt.video_ids, gt.timestamps,
                        jitter, np.full(len(gt), 0.9))  # fmt: skip
    return root
