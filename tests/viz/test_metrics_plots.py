"""Metrics plots from a generated run: AP bars, PR curves, mAP vs tIoU, training, DETAD."""

from wsal.cli import main
from wsal.evaluation.analysis import tube_error_breakdown
from wsal.io.tubes import read_gt_tubes
from wsal.structures import Tube, TubeDetections
from wsal.viz.common import figure_bytes
from wsal.viz.metrics import training_curves_figure, tube_errors_figure


def test_plot_metrics_cli_writes_every_plot(tiny_run, temporal_data, tmp_path, capsys):
    out = tmp_path / "plots"
    code = main(["plot", "metrics", "--run", str(tiny_run), "--data", str(temporal_data),
                 "--out", str(out), "--format", "svg"])  # fmt: skip
    assert code == 0
    names = {p.stem for p in out.iterdir()}
    assert names == {"training_curves", "map_vs_tiou", "ap_per_class", "pr_curves", "detad"}
    for p in out.iterdir():
        assert p.stat().st_size > 5000, p
    assert "loss/total" in (out / "training_curves.svg").read_text()
    assert "false-positive profile" in (out / "detad.svg").read_text()
    assert "precision-recall at tIoU 0.50" in (out / "pr_curves.svg").read_text()


def test_training_curves_with_validation_panel():
    rows = [{"epoch": e, "loss/total": 1.0 / e, "val/average_mAP": 0.1 * e} for e in (1, 2, 3)]
    fig = training_curves_figure(rows)
    assert len(fig.axes) == 2
    svg = figure_bytes(fig, "svg").decode()
    assert "val/average_mAP" in svg and "loss/total" in svg


def test_tube_breakdown_figure(tube_data, tmp_path, capsys):
    gt = read_gt_tubes(tube_data / "gt_tubes.json")
    dets = TubeDetections(
        {v: [Tube(t.frames, t.boxes + 3, t.label, 0.9) for t in ts] for v, ts in gt.tubes.items()},
        gt.labels,
    )
    r = tube_error_breakdown(gt, dets)
    assert r.counts[0] == len(gt) and r.missed == 0
    svg = figure_bytes(tube_errors_figure(r), "svg").decode()
    assert "missed (of GT)" in svg and "classification" in svg
    from wsal.io.tubes import write_tube_results

    write_tube_results(tmp_path / "res.json", dets)
    code = main(["plot", "tube-errors", "--gt", str(tube_data / "gt_tubes.json"),
                 "--pred", str(tmp_path / "res.json"), "--out", str(tmp_path / "e.png")])  # fmt: skip
    assert code == 0 and '"true_positive": 1.0' in capsys.readouterr().out
