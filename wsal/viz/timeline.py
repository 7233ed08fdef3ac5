"""Timeline plots: ground truth, predicted segments and the activation curves of one video.

The figure of the WTAL papers (ground truth above predictions, the class activation below):
for each chosen class one block of two rows,

* the curves that localization thresholds: the class activation (after the localizer's
  ``cas_activation``), the actionness when the method has one, and the fused signal when
  the preset fuses them, with the threshold value(s) the preset applies to this video;
* the segments: ground truth (top lane) and predictions of the class (bottom lane, colour
  and label = score).

Curves are step functions over snippets (snippet ``i`` covers ``[i*s, (i+1)*s)`` seconds,
:class:`~wsal.structures.SnippetTiming`), so they line up with the segments in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsal.errors import WsalError
from wsal.viz.common import new_figure

__all__ = ["ClassTrack", "class_track", "timeline_figure", "video_timeline", "default_classes"]

#: At most this many predicted segments of one class are labelled with their score.
MAX_LABELLED = 12


@dataclass
class ClassTrack:
    """What one class block of a timeline shows (all times in seconds).

    Attributes:
        name: class name.
        edges: ``(T + 1,)`` snippet boundaries, seconds (empty when there are no curves).
        curves: ``{legend label: (T,) values}``.
        thresholds: ``(n,)`` threshold values on the localization signal (may be empty).
        threshold_label: legend text of the thresholds (mode and raw values).
        gt: ``(G, 2)`` ground-truth segments.
        pred: ``(P, 2)`` predicted segments; pred_scores ``(P,)``.
        duration: video length (NaN when unknown).
    """

    name: str
    edges: np.ndarray
    curves: dict[str, np.ndarray]
    thresholds: np.ndarray
    threshold_label: str
    gt: np.ndarray
    pred: np.ndarray
    pred_scores: np.ndarray
    duration: float


def _signals(raw, cls: int, localizer) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Curves of class ``cls`` and the localizer's threshold values on its signal."""
    # the localizer's own steps, so the plot shows exactly what was thresholded
    from wsal.localize.temporal import _activate, _signal, _threshold_values

    cas = _activate(np.asarray(raw.cas, np.float64), raw.cas_is_logits, localizer.cas_activation)
    curves = {"class activation": cas[:, cls]}
    act = None if raw.actionness is None else np.asarray(raw.actionness, np.float64)
    if act is not None:
        curves["actionness"] = act
    if localizer.score_source != "cas" and act is None:
        return curves, np.zeros(0)
    signal = _signal(localizer, cas, act, np.array([cls]))
    if localizer.score_source == "fused":
        curves[f"fused signal (lambda={localizer.fuse_lambda:g})"] = signal[0]
    if cas.shape[0] == 0:
        return curves, np.zeros(0)
    return curves, _threshold_values(localizer, signal)[:, 0]


def class_track(
    name: str,
    cls: int,
    *,
    raw=None,
    localizer=None,
    gt=None,
    pred=None,
    duration: float | None = None,
) -> ClassTrack:
    """Collect one class block: ``raw`` (:class:`~wsal.localize.temporal.RawScores` or None),
    ``localizer`` config, ``gt``/``pred`` :class:`~wsal.structures.Segments` of the video
    (all classes; those of ``cls`` are kept)."""
    edges, curves, thr, label = np.zeros(0), {}, np.zeros(0), ""
    if raw is not None and localizer is not None:
        curves, thr = _signals(raw, cls, localizer)
        edges = raw.timing.to_seconds(np.arange(raw.cas.shape[0] + 1))
        rule = localizer.threshold_mode.replace("_", " ")
        label = f"threshold ({rule} {', '.join(f'{t:g}' for t in localizer.thresholds)})"
    g = np.zeros((0, 2)) if gt is None else gt.bounds[gt.labels == cls]
    p = np.zeros((0, 2)) if pred is None else pred.bounds[pred.labels == cls]
    ps = np.zeros(0) if pred is None else pred.scores[pred.labels == cls]
    dur = float("nan") if duration is None else float(duration)
    return ClassTrack(name, edges, curves, np.asarray(thr), label, g, p, ps, dur)


def _draw_curves(ax, track: ClassTrack) -> None:
    styles = ("-", "--", "-.")
    for i, (label, values) in enumerate(track.curves.items()):
        ax.stairs(values, track.edges, label=label, linestyle=styles[i % 3], linewidth=1.4)
    for j, t in enumerate(track.thresholds):
        ax.axhline(t, color="#d62728", linestyle=":", linewidth=1.2,
                   label=track.threshold_label if j == 0 else None)  # fmt: skip
    if track.curves:
        values = np.concatenate([np.ravel(v) for v in track.curves.values()])
        if values.size and values.min() >= 0 and values.max() <= 1:
            ax.set_ylim(0, 1.05)
        ax.legend(loc="upper right", fontsize=7, ncol=2, framealpha=0.8)
    else:
        ax.text(0.5, 0.5, "no raw scores", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("score", fontsize=8)
    ax.set_title(track.name, fontsize=10, loc="left")
    ax.tick_params(labelsize=7)


def _draw_segments(ax, track: ClassTrack, cmap) -> None:
    if len(track.gt):
        ax.broken_barh(
            [(s, e - s) for s, e in track.gt], (1.1, 0.8), facecolors="#2ca02c", alpha=0.85
        )
    order = np.argsort(-track.pred_scores, kind="stable")
    hi = max(1.0, float(track.pred_scores.max())) if len(order) else 1.0
    for rank, i in enumerate(order[::-1]):  # best drawn last (on top)
        s, e = track.pred[i]
        color = cmap(min(1.0, max(0.0, track.pred_scores[i] / hi)))
        ax.broken_barh([(s, e - s)], (0.1, 0.8), facecolors=color, edgecolor="k", linewidth=0.3)
        if len(order) - 1 - rank < MAX_LABELLED:
            ax.text((s + e) / 2, 0.5, f"{track.pred_scores[i]:.2f}", ha="center", va="center",
                    fontsize=6, clip_on=True)  # fmt: skip
    ax.set_yticks([0.5, 1.5], ["pred", "GT"], fontsize=7)
    ax.set_ylim(0, 2)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(labelsize=7)


def timeline_figure(tracks: Sequence[ClassTrack], *, title: str = "", width: float = 10.0):
    """One figure: a (curves, segments) pair of rows per :class:`ClassTrack`."""
    from matplotlib import colormaps

    if not tracks:
        raise WsalError("nothing to plot: no class selected for the timeline")
    fig = new_figure(width, 2.3 * len(tracks) + 0.4)
    axes = fig.subplots(2 * len(tracks), 1, sharex=True,
                        gridspec_kw={"height_ratios": [2.2, 1] * len(tracks)})  # fmt: skip
    end = max([_end(t) for t in tracks] + [1.0])
    for k, track in enumerate(tracks):
        _draw_curves(axes[2 * k], track)
        _draw_segments(axes[2 * k + 1], track, colormaps["viridis"])
        for ax in axes[2 * k : 2 * k + 2]:
            if np.isfinite(track.duration):
                ax.axvline(track.duration, color="0.4", linewidth=0.8)
    axes[-1].set_xlim(0, end)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _end(track: ClassTrack) -> float:
    parts = [track.edges[-1:] if track.edges.size else np.zeros(0), track.gt.ravel(),
             track.pred.ravel(), np.array([track.duration])]  # fmt: skip
    values = np.concatenate(parts)
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else 1.0


def default_classes(view, video: str, *, limit: int = 3) -> list[int]:
    """Classes worth showing for ``video``: its ground-truth classes, then the classes of its
    best predictions (or the best video score), at most ``limit``."""
    out: list[int] = []
    if view.gt is not None:
        out += [int(c) for c in view.gt.for_video(video).labels if c >= 0]
    if view.dets is not None:
        p = view.dets.for_video(video)
        out += [int(p.labels[i]) for i in np.argsort(-p.scores, kind="stable") if p.labels[i] >= 0]
    raw = (view.raw or {}).get(video)
    if raw is not None and raw.video_scores is not None:
        out.append(int(np.argmax(raw.video_scores)))
    elif raw is not None:
        out.append(int(np.argmax(raw.cas.max(axis=0))))
    return list(dict.fromkeys(out))[:limit] or [0]


def video_timeline(view, video: str, classes: Sequence[str | int] | None = None):
    """Timeline figure of ``video`` of a :class:`~wsal.viz.run.RunView`.

    ``classes``: names or indices (default :func:`default_classes`). Raises
    :class:`WsalError` for an unknown video or class.
    """
    known = set(view.videos()) | set(view.raw or {})
    if video not in known:
        raise WsalError(f"video '{video}' is not in the run's {view.split} split")
    idx = (
        [_class_index(view.classes, c) for c in classes]
        if classes
        else default_classes(view, video)
    )
    raw = (view.raw or {}).get(video)
    gt = view.gt.for_video(video) if view.gt is not None else None
    pred = view.dets.for_video(video) if view.dets is not None else None
    duration = view.gt.durations.get(video) if view.gt is not None else None
    if (duration is None or not np.isfinite(duration)) and raw is not None:
        duration = raw.duration
    tracks = [
        class_track(
            view.classes[c],
            c,
            raw=raw,
            localizer=view.localizer,
            gt=gt,
            pred=pred,
            duration=duration,
        )  # fmt: skip
        for c in idx
    ]
    return timeline_figure(tracks, title=f"{video}  [{view.name}, preset '{view.preset}']")


def _class_index(classes: Sequence[str], c: str | int) -> int:
    if isinstance(c, int) or (isinstance(c, str) and c.isdigit() and c not in classes):
        i = int(c)
        if not 0 <= i < len(classes):
            raise WsalError(f"class index {i} out of range (0..{len(classes) - 1})")
        return i
    if c not in classes:
        raise WsalError(f"unknown class '{c}'; the run's classes: {', '.join(classes)}")
    return classes.index(c)
