"""Timeline plots: activation curves, threshold, ground truth and predictions of one video."""

import numpy as np
import pytest

from wsal.cli import main
from wsal.errors import WsalError
from wsal.localize.temporal import PRESETS, RawScores
from wsal.structures import Segments, SnippetTiming
from wsal.viz.common import save_figure
from wsal.viz.run import load_run_view
from wsal.viz.timeline import class_track, timeline_figure, video_timeline


def test_fused_track_shows_signal_and_relative_threshold():
    rng = np.random.default_rng(0)
    raw = RawScores(
        cas=rng.random((20, 3)), actionness=rng.random(20), timing=SnippetTiming(16, 25.0)
    )
    cfg = PRESETS["em_mil"]  # fused 0.8 Q + 0.2 P, threshold mean + 0.15 (max - min)
    gt = Segments([[1.0, 3.0], [5.0, 6.0]], labels=[1, 0])
    pred = Segments([[1.2, 2.9], [7.0, 8.0]], labels=[1, 1], scores=[0.9, 0.3])
    t = class_track("B", 1, raw=raw, localizer=cfg, gt=gt, pred=pred, duration=12.8)
    signal = 0.8 * raw.actionness + 0.2 * raw.cas[:, 1]
    assert set(t.curves) == {"class activation", "actionness", "fused signal (lambda=0.8)"}
    np.testing.assert_allclose(t.curves["fused signal (lambda=0.8)"], signal)
    np.testing.assert_allclose(t.thresholds, [signal.mean() + 0.15 * np.ptp(signal)])
    np.testing.assert_allclose(t.edges[-1], 20 * 0.64)
    assert t.gt.tolist() == [[1.0, 3.0]] and t.pred_scores.tolist() == [0.9, 0.3]


def test_timeline_png_and_svg(tmp_path):
    raw = RawScores(cas=np.linspace(0, 1, 30)[:, None], timing=SnippetTiming(16, 25.0))
    track = class_track(
        "LongJump", 0, raw=raw, localizer=PRESETS["dml"],
        pred=Segments([[10.0, 19.2]], labels=[0], scores=[0.77]), duration=19.2,
    )  # fmt: skip
    paths = save_figure(timeline_figure([track], title="v1"), tmp_path / "tl")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 5000
    svg = paths[1].read_text()
    for text in ("LongJump", "threshold (absolute 0.5)", "0.77", "GT", "pred"):
        assert text in svg, text


def test_run_timeline_and_cli(tiny_run, temporal_data, tmp_path, capsys):
    view = load_run_view(tiny_run, data=temporal_data)
    video = view.videos()[0]
    assert video_timeline(view, video).axes  # default classes
    with pytest.raises(WsalError, match="unknown class"):
        video_timeline(view, video, ["NoSuchClass"])
    out = tmp_path / "t.svg"
    cls = view.classes[0]
    code = main(["plot", "timeline", "--run", str(tiny_run), "--data", str(temporal_data),
                 "--video", video, "--class", cls, "--out", str(out)])  # fmt: skip
    assert code == 0 and cls in out.read_text()
    capsys.readouterr()
    code = main(["plot", "timeline", "--run", str(tiny_run), "--video", "nope", "--out", str(out)])
    assert code == 2 and "not in the run's test split" in capsys.readouterr().err
