"""The HTML report: self-contained, key sections present, opens in headless Chromium."""

import re
import shutil
import subprocess

import pytest

from wsal.cli import main
from wsal.viz.report import SECTION_IDS, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tiny_run, temporal_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "r.html"
    return write_report(tiny_run, out, data=temporal_data, max_videos=3)


def test_report_is_self_contained(report):
    text = report.read_text()
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in text, sid
    assert not re.search(r"""(src|href)=["'](https?:)?//""", text)  # nothing from the network
    assert text.count("data:image/png;base64,") >= 6
    assert "DETAD" in text and "average mAP" in text and "<script>" in text


def test_report_caps_videos_and_cli(tiny_run, temporal_data, tmp_path, capsys):
    out = tmp_path / "small.html"
    code = main(["report", "--run", str(tiny_run), "--data", str(temporal_data),
                 "--max-videos", "2", "--out", str(out)])  # fmt: skip
    assert code == 0 and str(out) in capsys.readouterr().out
    text = out.read_text()
    assert text.count('class="video"') == 2 and "Showing the first 2 of" in text


def test_report_without_data_still_renders(tiny_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("*.pt", "checkpoints"))
    (run / "config.yaml").write_text(
        (run / "config.yaml").read_text().replace("root:", "root: /nonexistent #")
    )
    (run / "run.json").write_text(
        (run / "run.json").read_text().replace('"data": "', '"data": "/x')
    )
    text = write_report(run, max_videos=1).read_text()
    assert "dataset folder not found" in text and 'id="videos"' in text


def _chromium(*args, cwd):
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr",
           "--v=0", f"--user-data-dir={cwd / 'profile'}", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium')"
)
def test_report_in_headless_chromium(report, tmp_path):
    # the check itself: a page with an error must be caught
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    r = _chromium("--dump-dom", bad.as_uri(), cwd=tmp_path)
    assert _console_lines(r.stderr), r.stderr[-2000:]

    shot = tmp_path / "report.png"
    r = _chromium("--window-size=1280,2400", f"--screenshot={shot}", report.as_uri(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not _console_lines(r.stderr), _console_lines(r.stderr)
    assert shot.is_file() and shot.stat().st_size > 20_000
    dom = _chromium("--dump-dom", report.as_uri(), cwd=tmp_path)
    assert not _console_lines(dom.stderr)
    assert 'data-ready="1"' in dom.stdout  # the inline script ran to the end
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in dom.stdout, sid
    assert re.search(r'id="page-label">page 1 of \d+ \(\d+ videos\)', dom.stdout)
    shutil.copy(shot, report.parent / "report.png")  # kept next to the report for inspection
