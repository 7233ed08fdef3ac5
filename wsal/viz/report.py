"""``wsal report``: one self-contained HTML page about a temporal run.

The page needs no network and no other file: CSS and a few lines of JavaScript are inline and
every image is a base64 PNG data URI. Sections (their element ids, which the browser test
checks): ``summary`` (run, data, localizer, notes), ``metrics`` (mAP table, mAP against tIoU,
per-class AP, PR curves), ``training`` (curves from ``history.csv``), ``errors`` (DETAD
analysis), ``videos`` (a filterable, paged list of timelines) and ``config``.

Large runs stay fast to open: at most ``max_videos`` timelines are rendered (the page says
how many were left out), and a timeline image is only decoded when its page of the list is
shown (the data URI sits in ``data-src`` until then).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from wsal.io.atomic import write_text_atomic
from wsal.viz.common import data_uri, figure_bytes

__all__ = ["build_report", "write_report", "detad_settings", "SECTION_IDS"]

#: Ids of the report's sections, in page order.
SECTION_IDS = ("summary", "metrics", "training", "errors", "videos", "config")

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#243447;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.8}nav{background:#fff;border-bottom:1px solid #ddd;padding:6px 24px;
position:sticky;top:0;z-index:2}nav a{margin-right:16px;color:#245;text-decoration:none;font-weight:600}
main{max-width:1180px;margin:0 auto;padding:8px 24px 40px}section{background:#fff;border:1px solid #e2e4e8;
border-radius:6px;margin:16px 0;padding:8px 18px 16px}h2{font-size:17px;border-bottom:1px solid #eee;
padding-bottom:4px}table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f0f2f5}
td:first-child,th:first-child{text-align:left}.kv td{text-align:left}img{max-width:100%;height:auto}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0;flex:1 1 460px}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:4px 10px;margin:4px 0}
pre{background:#f3f4f6;padding:8px;overflow:auto;font-size:12px;max-height:420px}
.video{border-top:1px solid #eee;padding:6px 0}.video h3{font-size:14px;margin:4px 0}
.muted{color:#666;font-size:12px}.pager{margin:8px 0}.pager button{margin-right:6px}
#video-filter{padding:3px 6px;width:260px}
"""

_JS = """
(function () {
  var list = document.getElementById('video-list');
  if (!list) { document.body.setAttribute('data-ready', '1'); return; }
  var items = Array.prototype.slice.call(list.querySelectorAll('.video'));
  var per = parseInt(list.getAttribute('data-page-size'), 10) || 10;
  var page = 0, shown = items;
  var label = document.getElementById('page-label');
  var prev = document.getElementById('page-prev'), next = document.getElementById('page-next');
  function show() {
    items.forEach(function (e) { e.hidden = true; });
    shown.slice(page * per, page * per + per).forEach(function (e) {
      e.hidden = false;
      var img = e.querySelector('img[data-src]');
      if (img) { img.src = img.getAttribute('data-src'); img.removeAttribute('data-src'); }
    });
    var pages = Math.max(1, Math.ceil(shown.length / per));
    label.textContent = 'page ' + (page + 1) + ' of ' + pages + ' (' + shown.length + ' videos)';
    prev.disabled = page === 0;
    next.disabled = (page + 1) * per >= shown.length;
  }
  prev.addEventListener('click', function () { if (page > 0) { page--; show(); } });
  next.addEventListener('click', function () { page++; show(); });
  document.getElementById('video-filter').addEventListener('input', function (ev) {
    var q = ev.target.value.toLowerCase();
    shown = items.filter(function (e) { return e.getAttribute('data-name').indexOf(q) >= 0; });
    page = 0; show();
  });
  show();
  document.body.setAttribute('data-ready', '1');
})();
"""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _img(fig, alt: str, *, dpi: int = 90, lazy: bool = False) -> str:
    """``<img>`` of a figure as a PNG data URI (``data-src`` when ``lazy``)."""
    uri = data_uri(figure_bytes(fig, "png", dpi=dpi))
    fig.clear()
    attr = "data-src" if lazy else "src"
    return f'<img {attr}="{uri}" alt="{_esc(alt)}" loading="lazy">'


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    h = "".join(f"<th>{_esc(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x: float | None) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{100 * x:.2f}"


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_esc(title)}</h2>{body}</section>'


def _summary(view) -> str:
    info, cfg = view.info, view.config
    rows = [
        ("method", info.get("method", "?")),
        ("run folder", view.run_dir),
        ("dataset", view.data_root or "not found"),
        ("split", view.split),
        ("classes", f"{len(view.classes)}: {', '.join(view.classes)}"),
        ("seed", info.get("seed", cfg.get("seed", "?"))),
        ("epochs", cfg.get("train", {}).get("epochs", "?")),
        ("localizer preset", f"{view.preset} ({_localizer_text(view.localizer)})"),
        ("device", info.get("device", "?")),
        ("model selection", info.get("model_selection", "?")),
    ]
    if view.metrics:
        rows.insert(0, ("average mAP (%)", _pct(view.metrics.get("average_mAP"))))
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in view.notes)
    return _table(["", ""], rows).replace("<table>", '<table class="kv">', 1) + notes


def _localizer_text(lcfg) -> str:
    thr = ", ".join(f"{t:g}" for t in lcfg.thresholds)
    return f"{lcfg.score_source}, {lcfg.threshold_mode} threshold {thr}, {lcfg.scoring} scoring"


def _metrics(view, matches) -> str:
    from wsal.viz.metrics import ap_bars_figure, map_vs_tiou_figure, pr_curves_figure

    if not view.metrics:
        return '<p class="note">No metrics file in the run folder.</p>'
    m = view.metrics
    keys = list(m["mAP"])
    out = _table(["tIoU", *keys, "average"],
                 [["mAP (%)", *(_pct(m["mAP"][k]) for k in keys), _pct(m["average_mAP"])]])  # fmt: skip
    rows = [[c, *(_pct(v[k]) for k in keys)] for c, v in m.get("per_class", {}).items()]
    out += "<details><summary>AP per class (%)</summary>" + _table(["class", *keys], rows)
    out += "</details>"
    figs = [_img(map_vs_tiou_figure({view.name: m["mAP"]}), "mAP against tIoU")]
    figs.append(_img(ap_bars_figure(m.get("per_class", {})), "per-class AP"))
    if matches is not None:
        k = int(np.argmin(np.abs(matches.thresholds - 0.5)))
        figs.append(_img(pr_curves_figure(matches, k), "precision-recall curves"))
    return out + '<div class="grid">' + "".join(f"<figure>{f}</figure>" for f in figs) + "</div>"


def _training(view) -> str:
    from wsal.viz.metrics import training_curves_figure

    if not view.history:
        return '<p class="note">No training history (history.csv) in the run folder.</p>'
    keys = list(view.history[0])
    rows = [[_num(r.get(k)) for k in keys] for r in view.history[-10:]]
    return _img(training_curves_figure(view.history), "training curves") + (
        f"<details><summary>last {len(rows)} epochs</summary>{_table(keys, rows)}</details>"
    )


def _num(x) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e9 else f"{x:.4g}"


def detad_settings(view) -> tuple[np.ndarray, tuple]:
    """DETAD's protocol for the run's dataset: tIoU 0.5 and the THUMOS14 length bins, or
    0.5:0.05:0.95 and the ActivityNet bins when the run evaluates with the ActivityNet preset."""
    from wsal.evaluation.analysis import ACTIVITYNET_LENGTH_BINS, THUMOS14_LENGTH_BINS

    if str(view.config.get("eval", {}).get("tiou", "")).lower() == "activitynet":
        return np.linspace(0.5, 0.95, 10), ACTIVITYNET_LENGTH_BINS
    return np.array([0.5]), THUMOS14_LENGTH_BINS


def _errors(view) -> str:
    from wsal.evaluation.analysis import detad_analysis
    from wsal.viz.metrics import detad_figure

    if view.gt is None or view.dets is None or len(view.gt) == 0:
        return '<p class="note">Error analysis needs the ground truth and the results file.</p>'
    thr, bins = detad_settings(view)
    r = detad_analysis(view.gt, view.dets, tiou_thresholds=thr, length_bins=bins)
    rows = [[n.replace("_", " "), _pct(f), _pct(r.map_gain.get(n))]
            for n, f in zip(r.types, r.fractions, strict=True)]  # fmt: skip
    miss = [[n, int(c), _pct(x)] for n, c, x in zip(r.length_names, r.gt_per_bin, r.missed_per_bin,
                                                    strict=True)]  # fmt: skip
    edges = ", ".join("inf" if not np.isfinite(e) else f"{e:g}" for e in r.length_bins)
    text = (
        f"<p>DETAD (Alwassel et al., ECCV 2018) at tIoU {', '.join(f'{t:.2f}' for t in thr)}: the "
        f"10G best predictions of each class; average mAP of those {_pct(r.average_mAP)}%.</p>"
    )
    return (
        text + _img(detad_figure(r), "DETAD error analysis")
        + '<div class="grid"><div>'
        + _table(["outcome", "share of predictions (%)", "average-mAP gain if removed"], rows)
        + "</div><div>"
        + _table(["length bin", "instances", "missed (%)"], miss)
        + f'<p class="muted">bin edges (s): {edges}</p></div></div>'
    )  # fmt: skip


def _video_entry(view, video: str, page_size: int, i: int) -> str:
    from wsal.viz.timeline import video_timeline

    gt = view.gt.for_video(video) if view.gt is not None else None
    pred = view.dets.for_video(video) if view.dets is not None else None
    labels = sorted({view.classes[c] for c in gt.labels if c >= 0}) if gt is not None else []
    best = ""
    if pred is not None and len(pred):
        j = int(np.argmax(pred.scores))
        best = f"; best: {view.classes[pred.labels[j]]} {pred.scores[j]:.2f}"
    meta = (f"ground truth: {len(gt) if gt is not None else '?'} segments "
            f"({', '.join(labels) or 'none'}); {len(pred) if pred is not None else 0} predictions{best}")  # fmt: skip
    img = _img(video_timeline(view, video), f"timeline of {video}", dpi=80, lazy=True)
    hidden = " hidden" if i >= page_size else ""
    return (f'<div class="video" data-name="{_esc(video.lower())}"{hidden}><h3>{_esc(video)}</h3>'
            f'<p class="muted">{_esc(meta)}</p>{img}</div>')  # fmt: skip


def _videos(view, max_videos: int, page_size: int, log: Callable[[str], None]) -> str:
    from wsal.progress import progress

    videos = [v for v in view.videos() if view.raw is None or v in view.raw]
    if not videos:
        return '<p class="note">No videos with raw scores or ground truth to show.</p>'
    shown = videos[:max_videos]
    cap = ""
    if len(videos) > len(shown):
        cap = (f'<p class="note">Showing the first {len(shown)} of {len(videos)} videos '
               f"(cap: --max-videos {max_videos}).</p>")  # fmt: skip
    entries = [
        _video_entry(view, v, page_size, i)
        for i, v in enumerate(progress(shown, "report timelines", total=len(shown)))
    ]
    log(f"rendered {len(entries)} timelines")
    pager = (
        '<div class="pager"><input id="video-filter" type="search" placeholder="filter videos">'
        ' <button id="page-prev" type="button">previous</button>'
        '<button id="page-next" type="button">next</button> <span id="page-label"></span></div>'
    )
    legend = ('<p class="muted">Each class block: curves that the localizer thresholds (with '
              "the threshold), then ground truth (green) and predictions (colour and label = "
              "score).</p>")  # fmt: skip
    return (cap + legend + pager
            + f'<div id="video-list" data-page-size="{page_size}">{"".join(entries)}</div>')  # fmt: skip


def _config(view) -> str:
    import yaml

    cfg = yaml.safe_dump(view.config, sort_keys=False)
    info = json.dumps({k: v for k, v in view.info.items()}, indent=1)
    return (f"<pre>{_esc(cfg)}</pre><details><summary>run.json</summary>"
            f"<pre>{_esc(info)}</pre></details>")  # fmt: skip


def build_report(
    view,
    *,
    max_videos: int = 60,
    page_size: int = 10,
    log: Callable[[str], None] = lambda s: None,
) -> str:
    """The HTML text of the report of a :class:`~wsal.viz.run.RunView`."""
    from wsal.evaluation.analysis import match_temporal

    t0 = time.perf_counter()
    matches = None
    if view.gt is not None and view.dets is not None and len(view.gt):
        matches = match_temporal(view.gt, view.dets, tiou_thresholds=view.tiou)
    sections = [
        _section("summary", "Run", _summary(view)),
        _section("metrics", f"Metrics ({view.split} split)", _metrics(view, matches)),
        _section("training", "Training curves", _training(view)),
        _section("errors", "Error analysis", _errors(view)),
        _section("videos", "Videos", _videos(view, max_videos, page_size, log)),
        _section("config", "Config", _config(view)),
    ]
    nav = "".join(f'<a href="#{s}">{s}</a>' for s in SECTION_IDS)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    title = f"wsal report: {view.name}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_esc(title)}</title><style>{_CSS}</style></head>'
        f"<body><header><h1>{_esc(title)}</h1><p>{_esc(view.run_dir)} · written {stamp} in "
        f"{time.perf_counter() - t0:.1f} s</p></header><nav>{nav}</nav><main>"
        + "".join(sections)
        + f"</main><script>{_JS}</script></body></html>"
    )


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    data: str | Path | None = None,
    split: str | None = None,
    max_videos: int = 60,
    log: Callable[[str], None] = lambda s: None,
) -> Path:
    """Write the report of a run folder (default ``RUN/report.html``) atomically; return its path."""
    from wsal.viz.run import load_run_view

    view = load_run_view(run_dir, data=data, split=split)
    out = Path(out) if out is not None else Path(run_dir) / "report.html"
    write_text_atomic(out, build_report(view, max_videos=max_videos, log=log))
    return out
