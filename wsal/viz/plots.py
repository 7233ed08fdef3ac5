"""Writers of whole plot sets from a run folder (what ``wsal plot metrics`` calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wsal.viz.common import save_figure

__all__ = ["write_metrics_plots"]


def write_metrics_plots(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    data: str | Path | None = None,
    split: str | None = None,
    fmt: str = "png",
) -> list[Path]:
    """Write the metrics plots of a run into ``out_dir``; return the written paths.

    Files: ``training_curves``, ``map_vs_tiou``, ``ap_per_class`` (need the metrics file),
    ``pr_curves`` and ``detad`` (need ground truth and results), each ``.<fmt>``; plots
    whose inputs are missing are skipped.
    """
    from wsal.evaluation.analysis import detad_analysis, match_temporal
    from wsal.viz import metrics as M
    from wsal.viz.report import detad_settings
    from wsal.viz.run import load_run_view

    view = load_run_view(run_dir, data=data, split=split)
    out = Path(out_dir)
    figs = {"training_curves": M.training_curves_figure(view.history, title=view.name)}
    if view.metrics:
        figs["map_vs_tiou"] = M.map_vs_tiou_figure({view.name: view.metrics["mAP"]})
        figs["ap_per_class"] = M.ap_bars_figure(view.metrics.get("per_class", {}))
    if view.gt is not None and view.dets is not None and len(view.gt):
        m = match_temporal(view.gt, view.dets, tiou_thresholds=view.tiou)
        k = int(np.argmin(np.abs(m.thresholds - 0.5)))
        figs["pr_curves"] = M.pr_curves_figure(m, k)
        thr, bins = detad_settings(view)
        r = detad_analysis(view.gt, view.dets, tiou_thresholds=thr, length_bins=bins)
        figs["detad"] = M.detad_figure(r)
    written = []
    for name, fig in figs.items():
        written += save_figure(fig, out / f"{name}.{fmt}")
    return written
