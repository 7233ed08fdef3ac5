"""``wsal demo`` ends by writing the report of its runs and printing the path."""

import pytest

import wsal.demo
from wsal.cli import main


def test_demo_writes_and_prints_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(wsal.demo, "DEMO_METHODS", ("mil_topk",))  # one quick method
    quick = ["train.epochs=1", "train.iterations_per_epoch=1", "model.hidden_dim=16"]
    monkeypatch.setattr(wsal.demo, "_PRESET_OVERRIDES", {"tiny": quick})
    lines = []
    summary = wsal.demo.run_demo(tmp_path / "demo", preset="tiny", log=lines.append)
    report = tmp_path / "demo" / "runs" / "mil_topk" / "report.html"
    assert summary["reports"] == [str(report)] and report.is_file()
    assert lines[-1] == f"report: {report}"
    assert 'id="videos"' in report.read_text()


@pytest.mark.parametrize("sub", [["report"], ["plot", "timeline"], ["plot", "metrics"],
                                 ["plot", "frame"], ["plot", "tubes"], ["plot", "tube-errors"]])  # fmt: skip
def test_plot_and_report_help(sub, capsys):
    with pytest.raises(SystemExit) as e:
        main([*sub, "--help"])
    assert e.value.code == 0 and "usage: wsal" in capsys.readouterr().out
