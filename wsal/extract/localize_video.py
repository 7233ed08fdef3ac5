"""``wsal localize VIDEO|FOLDER --run RUN``: decode, extract, predict, localize, write, plot.

Why: users want segments for their own videos in one command. Each video is decoded and
encoded with the extractor the run's features came from (the snippet timing of the run's
``run.json``; streams in the run's ``data.streams`` order), the trained method gives raw
scores, the run's localizer preset (or ``preset``) turns them into segments, and per video
a results JSON, a CSV and a timeline PNG are written, plus ``results.json``, ``segments.csv``
and ``raw.npz`` (re-localizable with ``wsal localize --scores``) for all videos.

The extracted dimension must equal the run's ``feature_dim``: a run trained on published I3D
features needs ``--extractor i3d`` with the Kinetics RGB and flow checkpoints; a run trained on
synthetic features has no real backbone behind it, so it cannot meaningfully localize real
video (the ``stats`` extractor exists to test the plumbing end to end).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from wsal.errors import FormatError, WsalError
from wsal.extract.decode import Resize
from wsal.extract.features import SHORT_SIDE_256, SnippetEncoder, extract_video, list_videos
from wsal.extract.flow import FlowFn
from wsal.extract.snippets import SnippetSpec
from wsal.io.atomic import write_text_atomic
from wsal.io.features import safe_video_filename

__all__ = ["LocalizeReport", "localize_videos", "run_snippet_spec"]


@dataclass
class LocalizeReport:
    """Outcome of :func:`localize_videos`: segments per video, failures, wall time."""

    segments: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """Counts, throughput and the failures, one line each."""
        n = len(self.segments)
        rate = n / self.seconds if self.seconds > 0 else 0.0
        lines = [f"localized {n} videos ({sum(self.segments.values())} segments), "
                 f"{len(self.failed)} failed in {self.seconds:.1f} s ({rate:.2f} videos/s)"]  # fmt: skip
        lines += [f"  failed: {v}: {m}" for v, m in self.failed.items()]
        return "\n".join(lines)


def _run_info(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    if not path.is_file():
        raise FormatError(path, "run.json not found (give --run RUN, the folder of `wsal train`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FormatError(path, f"invalid JSON ({e})") from None


def run_snippet_spec(run_dir: str | Path) -> SnippetSpec:
    """The snippet timing the run was trained with (``run.json``), as a :class:`SnippetSpec`."""
    snip = _run_info(Path(run_dir)).get("snippet", {})
    return SnippetSpec(
        frames=int(snip.get("frames_per_snippet", 16)), fps=float(snip.get("fps", 25.0))
    )


def _csv_rows(dets) -> str:
    """``video,label,start,end,score`` CSV text of detections."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["video", "label", "start", "end", "score"])
    seg = dets.segments
    for v, (s, e), c, sc in zip(dets.video_ids.tolist(), seg.bounds.tolist(),
                                seg.labels.tolist(), seg.scores.tolist()):  # fmt: skip
        w.writerow([v, dets.classes[c], f"{s:.3f}", f"{e:.3f}", f"{sc:.6f}"])
    return buf.getvalue()


def _timeline(out: Path, video: str, raw, dets, classes: list[str], localizer, preset: str) -> None:
    """Timeline PNG: activation curves and predicted segments of the best classes."""
    from wsal.viz.common import save_figure
    from wsal.viz.timeline import class_track, timeline_figure

    pred = dets.for_video(video)
    order = [int(pred.labels[i]) for i in np.argsort(-pred.scores, kind="stable")]
    order.append(
        int(np.argmax(raw.video_scores if raw.video_scores is not None else raw.cas.max(0)))
    )
    chosen = list(dict.fromkeys(order))[:3]
    tracks = [class_track(classes[c], c, raw=raw, localizer=localizer, pred=pred,
                          duration=raw.duration) for c in chosen]  # fmt: skip
    save_figure(timeline_figure(tracks, title=f"{video}  [preset '{preset}']"), out)


def _features(feats: dict[str, np.ndarray], streams: Sequence[str]) -> np.ndarray:
    """Concatenate streams in the run's order, cut to the shortest (``(T, D)`` float32)."""
    t = min(feats[s].shape[0] for s in streams)
    return np.concatenate([feats[s][:t] for s in streams], axis=1)


def localize_videos(
    inputs: Sequence[str | Path],
    run_dir: str | Path,
    out: str | Path,
    encoders: Sequence[SnippetEncoder],
    *,
    preset: str | None = None,
    resize: Resize = SHORT_SIDE_256,
    crop: int | None = 224,
    flow: FlowFn | None = None,
    device: str = "cpu",
    plot: bool = True,
    log: Callable[[str], None] = print,
) -> LocalizeReport:
    """Localize actions in video files (see the module docstring); returns a report.

    ``encoders`` must cover the run's ``data.streams`` and their dims must add up to the
    run's ``feature_dim`` (checked before any video is decoded).
    """
    from wsal.data.temporal import collate_temporal
    from wsal.engine.trainer import load_run, localize_raw, raw_scores_from_output
    from wsal.io.temporal import write_activitynet_results
    from wsal.localize.temporal import PRESETS, save_raw_scores
    from wsal.progress import progress

    run_dir, out = Path(run_dir), Path(out)
    cfg, model, state = load_run(run_dir, device=device)
    classes = [str(c) for c in state["classes"]]
    streams = list(cfg.data.streams)
    by_stream = {e.stream: e for e in encoders}
    if set(by_stream) != set(streams):
        raise WsalError(f"the run uses streams {streams}; the extractor gives {sorted(by_stream)}")
    dim = sum(by_stream[s].dim for s in streams)
    if dim != int(state["feature_dim"]):
        raise WsalError(
            f"the extractor gives {dim}-d features but the run was trained on "
            f"{state['feature_dim']}-d features; use the extractor (and width) the run's "
            "features came from (a run trained on synthetic features cannot localize real video)"
        )
    spec = run_snippet_spec(run_dir)
    preset = preset or cfg.localize.preset or type(model).localizer_preset
    if preset not in PRESETS:
        raise WsalError(f"unknown localizer preset '{preset}'; available: {', '.join(PRESETS)}")
    videos = list_videos(inputs)
    report, raws, t0 = LocalizeReport(), {}, time.perf_counter()
    ordered = [by_stream[s] for s in streams]
    for vid, path in progress(videos, "localize", total=len(videos)):
        try:
            feats = _features(extract_video(path, ordered, spec=spec, resize=resize, crop=crop,
                                            flow=flow), streams)  # fmt: skip
        except (FormatError, OSError) as e:
            report.failed[vid] = str(e)
            log(f"failed: {vid}: {e}")
            continue
        item = {"feats": feats, "snippet_index": np.arange(len(feats)),
                "video_labels": np.zeros(len(classes), np.float32), "video_index": 0}  # fmt: skip
        with torch.no_grad():
            o = model.predict_scores(collate_temporal([item]).to(device))
        raws[vid] = raw_scores_from_output(
            o, spec.timing, _duration(path, len(feats) * spec.timing.seconds_per_snippet)
        )
        dets = localize_raw({vid: raws[vid]}, classes, preset, cfg.localize.overrides)
        stem = out / safe_video_filename(vid)
        write_activitynet_results(stem.with_suffix(".json"), dets)
        write_text_atomic(stem.with_suffix(".csv"), _csv_rows(dets))
        if plot:
            _timeline(stem.with_suffix(".png"), vid, raws[vid], dets, classes,
                      _localizer(preset, cfg.localize.overrides), preset)  # fmt: skip
        report.segments[vid] = len(dets)
    if raws:
        dets = localize_raw(raws, classes, preset, cfg.localize.overrides)
        write_activitynet_results(out / "results.json", dets)
        write_text_atomic(out / "segments.csv", _csv_rows(dets))
        save_raw_scores(out / "raw.npz", raws)
    report.seconds = time.perf_counter() - t0
    return report


def _duration(path: Path, fallback: float) -> float:
    """The container's duration in seconds, or ``fallback`` (snippets x length) when unknown."""
    from wsal.extract.decode import probe_video

    d = probe_video(path).duration
    return d if np.isfinite(d) and d > 0 else fallback


def _localizer(preset: str, overrides: dict | None):
    """The localizer config of ``preset`` plus overrides (what the timeline thresholds show)."""
    from wsal.config import merge_config
    from wsal.localize.temporal import PRESETS

    return merge_config(PRESETS[preset], overrides) if overrides else PRESETS[preset]
