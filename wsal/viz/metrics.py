"""Metrics plots: per-class AP, PR curves, mAP against tIoU, training curves, error analysis.

Each function returns a :class:`matplotlib.figure.Figure` (save it with
:func:`wsal.viz.common.save_figure`); inputs are the plain results of
:mod:`wsal.evaluation` and the rows of ``history.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from wsal.viz.common import TYPE_COLORS, class_color, new_figure

__all__ = [
    "ap_bars_figure",
    "map_vs_tiou_figure",
    "pr_curves_figure",
    "training_curves_figure",
    "detad_figure",
    "tube_errors_figure",
]


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def ap_bars_figure(per_class: Mapping[str, Mapping[str, float]], *, title: str = ""):
    """Horizontal bars of each class's AP (percent): the mean over thresholds, with the AP at
    every threshold as dots. ``per_class``: ``{class: {threshold key: AP fraction}}`` (the
    ``per_class`` of ``metrics_<split>.json``)."""
    names = list(per_class)
    fig = new_figure(7, 0.35 * max(3, len(names)) + 1.2)
    ax = fig.add_subplot()
    if not names:
        _no_data(ax, "no per-class AP")
        return fig
    keys = list(next(iter(per_class.values())))
    ap = np.array([[per_class[c][k] for k in keys] for c in names], dtype=np.float64) * 100
    y = np.arange(len(names))
    ax.barh(y, ap.mean(axis=1), color=[class_color(i) for i in y], alpha=0.75, label="mean")
    for j, k in enumerate(keys):
        ax.scatter(ap[:, j], y, s=10, color="k", alpha=0.25 + 0.75 * j / max(1, len(keys) - 1),
                   zorder=3, label=f"tIoU {k}" if j in (0, len(keys) - 1) else None)  # fmt: skip
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("AP (%)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or "per-class AP (bar: mean over tIoU thresholds)", fontsize=10)
    return fig


def map_vs_tiou_figure(curves: Mapping[str, Mapping[str, float]], *, title: str = ""):
    """mAP (percent) against the tIoU threshold, one line per entry of ``curves``
    (``{name: {threshold key: mAP fraction}}``, e.g. several runs or one)."""
    fig = new_figure(6, 3.5)
    ax = fig.add_subplot()
    if not curves:
        _no_data(ax, "no mAP values")
        return fig
    for i, (name, values) in enumerate(curves.items()):
        t = np.array([float(k) for k in values])
        m = np.array(list(values.values()), dtype=np.float64) * 100
        ax.plot(t, m, marker="o", color=class_color(i), label=f"{name} (avg {m.mean():.2f})")
    ax.set_xlabel("tIoU threshold")
    ax.set_ylabel("mAP (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "mAP against tIoU", fontsize=10)
    return fig


def pr_curves_figure(matches, k: int = 0, *, title: str = ""):
    """Precision-recall curve of every class at threshold index ``k`` of a
    :class:`~wsal.evaluation.analysis.TemporalMatches`."""
    fig = new_figure(6, 4)
    ax = fig.add_subplot()
    drawn = 0
    for c, name in enumerate(matches.classes):
        prec, rec = matches.pr_curve(c, k)
        if prec.size:
            ax.step(np.r_[0, rec], np.r_[1, prec], where="post", color=class_color(c),
                    label=name, linewidth=1.3)  # fmt: skip
            drawn += 1
    if not drawn:
        _no_data(ax, "no predictions")
        return fig
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    thr = matches.thresholds[k]
    ax.set_title(title or f"precision-recall at tIoU {thr:.2f}", fontsize=10)
    return fig


def training_curves_figure(history: Sequence[Mapping[str, float]], *, title: str = ""):
    """Training curves from ``history.csv`` rows: the losses (``loss/*``) in one panel and every
    other column (validation mAP, ...) in a second one."""
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(9, 3.4)
    keys = sorted({k for row in history for k in row} - {"epoch"})
    losses = [k for k in keys if k.startswith("loss/")]
    others = [k for k in keys if not k.startswith("loss/")]
    axes = fig.subplots(1, 2 if others else 1, squeeze=False)[0]
    if not history:
        _no_data(axes[0], "no history.csv rows")
        return fig
    epoch = np.array([row.get("epoch", i + 1) for i, row in enumerate(history)], dtype=np.float64)
    panels = [(axes[0], losses, "loss")] + ([(axes[1], others, "value")] if others else [])
    for ax, group, label in panels:
        for i, k in enumerate(group):
            y = np.array([row.get(k, np.nan) for row in history], dtype=np.float64)
            ax.plot(epoch, y, marker="o", markersize=3, color=class_color(i), label=k)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if group:
            ax.legend(fontsize=7)
    fig.suptitle(title or "training curves", fontsize=10)
    return fig


_NAMES = {
    "true_positive": "true positive",
    "double": "double detection",
    "wrong_label": "wrong label",
    "localization": "localization",
    "confusion": "confusion",
    "background": "background",
}


def detad_figure(result, *, title: str = ""):
    """DETAD's figure from a :class:`~wsal.evaluation.analysis.DetadResult`: the
    false-positive profile over the top-1G..10G predictions, the average-mAP gain of removing
    each error type, and the share of missed instances by length."""
    fig = new_figure(12, 3.8)
    ax_p, ax_g, ax_m = fig.subplots(1, 3, gridspec_kw={"width_ratios": [2.2, 1.2, 1.2]})
    profile = result.profile * 100
    x = np.arange(profile.shape[0])
    bottom = np.zeros(len(x))
    for j, name in enumerate(result.types):
        ax_p.bar(x, profile[:, j], bottom=bottom, color=TYPE_COLORS[j], label=_NAMES[name])
        bottom += profile[:, j]
    ax_p.set_xticks(x, [f"{i + 1}G" for i in x], fontsize=7)
    ax_p.set_ylabel("share of predictions (%)")
    ax_p.set_xlabel("top predictions (G = ground-truth instances of the class)")
    ax_p.set_ylim(0, 100)
    ax_p.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(0, -0.22))
    ax_p.set_title("false-positive profile", fontsize=10)
    gains = np.array(list(result.map_gain.values())) * 100
    bars = ax_g.bar(np.arange(gains.size), gains, color=TYPE_COLORS[1:])
    ax_g.bar_label(bars, fmt="%.1f", fontsize=7)
    ax_g.set_xticks(np.arange(gains.size), [_NAMES[n] for n in result.map_gain],
                    rotation=45, ha="right", fontsize=7)  # fmt: skip
    ax_g.set_ylim(
        min(0.0, float(gains.min(initial=0))), max(1.0, 1.2 * float(gains.max(initial=0)))
    )
    ax_g.set_ylabel("average-mAP gain (points)")
    ax_g.set_title("removing each error type", fontsize=10)
    missed = np.nan_to_num(result.missed_per_bin) * 100
    labels = [f"{n}\n(n={c})" for n, c in zip(result.length_names, result.gt_per_bin, strict=True)]
    ax_m.bar(np.arange(missed.size), missed, color="#6a3d9a")
    ax_m.set_xticks(np.arange(missed.size), labels, fontsize=7)
    ax_m.set_ylim(0, 100)
    ax_m.set_ylabel("missed instances (%)")
    ax_m.set_xlabel("ground-truth length bin")
    ax_m.set_title(f"false negatives (all: {100 * result.missed:.1f}%)", fontsize=10)
    thr = ", ".join(f"{t:.2f}" for t in result.thresholds)
    fig.suptitle(title or f"DETAD error analysis at tIoU {thr}", fontsize=11)
    return fig


def tube_errors_figure(result, *, title: str = ""):
    """Bars of the ACT-style tube breakdown (:class:`~wsal.evaluation.analysis.TubeErrorResult`):
    share of detections per outcome and the share of missed ground-truth tubes."""
    fig = new_figure(7, 3.2)
    ax = fig.add_subplot()
    values = np.r_[result.fractions, result.missed_fraction] * 100
    names = [*(n.replace("_", " ") for n in result.types), "missed (of GT)"]
    colors = [*TYPE_COLORS[: len(result.types)], "#6a3d9a"]
    bars = ax.bar(np.arange(values.size), values, color=colors)
    ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(np.arange(values.size), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(title or f"tube error breakdown at IoU {result.iou_threshold:.2f}", fontsize=10)
    return fig
