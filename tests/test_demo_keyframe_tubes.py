"""``wsal demo`` (tiny preset) also trains keyframe methods and STIL and prints their metrics."""

import json

import wsal.demo


def test_demo_runs_keyframe_and_tube_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(wsal.demo, "DEMO_METHODS", ())  # temporal runs are tested elsewhere
    lines: list[str] = []
    summary = wsal.demo.run_demo(tmp_path / "demo", preset="tiny", log=lines.append)
    kf, tubes = summary["keyframe"], summary["tubes"]
    assert set(wsal.demo.KEYFRAME_DEMO_METHODS) <= set(kf) and kf["preset"] == "tiny"
    for method in wsal.demo.KEYFRAME_DEMO_METHODS:
        assert 0.0 <= kf[method]["frame_mAP"] <= 1.0
        run = tmp_path / "demo" / "runs" / "keyframe" / method
        assert (run / "metrics_val.json").is_file() and (run / "detections_val.csv").is_file()
        assert any(ln.strip().startswith(method) and "Frame-mAP@0.5" in ln for ln in lines)
    assert any("no HTML report for keyframe runs" in ln for ln in lines)
    assert "0.50" in tubes["stil"]["mAP"]
    assert (tmp_path / "demo" / "runs" / "tubes" / "stil" / "metrics.json").is_file()
    assert any(ln.strip().startswith("stil") and "video-mAP" in ln for ln in lines)
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert saved["keyframe"]["ua_mil"]["frame_mAP"] == kf["ua_mil"]["frame_mAP"]
