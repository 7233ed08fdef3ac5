"""The ``wsal`` command: help, version, evaluation through the CLI, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from wsal import __version__
from wsal.cli import main


def run_cli(*args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("demo", "synth", "train", "predict", "localize", "evaluate"):
        assert cmd in out


def test_version_console_script():
    out = subprocess.run(
        [sys.executable, "-m", "wsal.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"wsal {__version__}"


@pytest.mark.parametrize(
    "sub",
    [
        ["evaluate", "temporal"],
        ["evaluate", "frame"],
        ["evaluate", "video"],
        ["synth"],
        ["train"],
        ["predict"],
    ],
)
def test_subcommand_help(sub, capsys):
    with pytest.raises(SystemExit) as e:
        main([*sub, "--help"])
    assert e.value.code == 0 and "usage: wsal" in capsys.readouterr().out


@pytest.mark.parametrize("pred", ["pred_good.json", "pred_mediocre.json"])
@pytest.mark.parametrize(
    "preset,key", [("thumos14", "thumos14_0.1:0.1:0.7"), ("activitynet", "anet_0.5:0.05:0.95")]
)
def test_evaluate_temporal_cli_matches_official(fixtures_dir, capsys, pred, preset, key):
    d = fixtures_dir / "temporal"
    code, out, _ = run_cli(
        "evaluate",
        "temporal",
        "--gt",
        d / "gt.json",
        "--pred",
        d / pred,
        "--subset",
        "testing",
        "--preset",
        preset,
        "--json",
        capsys=capsys,
    )
    assert code == 0
    got = json.loads(out)
    exp = json.loads((d / "expected.json").read_text())["results"][pred][key]
    np.testing.assert_allclose(list(got["mAP"].values()), exp["mAP"], rtol=0, atol=1e-9)
    assert got["average_mAP"] == pytest.approx(exp["average_mAP"], abs=1e-9)
    for cls, aps in exp["ap"].items():
        np.testing.assert_allclose(list(got["per_class"][cls].values()), aps, rtol=0, atol=1e-9)


def test_evaluate_temporal_table(fixtures_dir, capsys):
    d = fixtures_dir / "temporal"
    code, out, _ = run_cli(
        "evaluate",
        "temporal",
        "--gt",
        d / "gt.json",
        "--pred",
        d / "pred_good.json",
        "--tiou",
        "0.3,0.5",
        capsys=capsys,
    )
    assert code == 0 and "mAP" in out and "0.50" in out


@pytest.mark.parametrize("det", ["det_good.json", "det_mediocre.json"])
def test_evaluate_video_cli_matches_official(fixtures_dir, capsys, det):
    d = fixtures_dir / "video"
    exp = json.loads((d / "expected.json").read_text())["results_official_nms0.3"][det]
    code, out, _ = run_cli(
        "evaluate", "video", "--gt", d / "gt_tubes.json", "--pred", d / det, "--json", capsys=capsys
    )
    assert code == 0
    got = json.loads(out)
    for t in ("0.2", "0.5", "0.75"):
        assert got["mAP"][f"{float(t):.2f}"] == pytest.approx(exp[t]["mAP_percent"] / 100, abs=1e-6)
    code, out, _ = run_cli(
        "evaluate",
        "video",
        "--gt",
        d / "gt_tubes.json",
        "--pred",
        d / det,
        "--range",
        "--json",
        capsys=capsys,
    )
    assert json.loads(out)["average_mAP"] == pytest.approx(
        exp["0.5:0.05:0.95"]["mAP_percent"] / 100, abs=1e-6
    )


def test_bad_input_gives_one_line_error(tmp_path, fixtures_dir, capsys):
    bad = tmp_path / "truncated.json"
    bad.write_text('{"results": {"v": [')
    code, out, err = run_cli(
        "evaluate",
        "temporal",
        "--gt",
        fixtures_dir / "temporal/gt.json",
        "--pred",
        bad,
        capsys=capsys,
    )
    assert code == 2 and out == ""
    assert (
        err.startswith("wsal: error:")
        and "truncated.json" in err
        and len(err.strip().splitlines()) == 1
    )
    code, _, err = run_cli(
        "evaluate", "temporal", "--gt", tmp_path / "missing.json", "--pred", bad, capsys=capsys
    )
    assert code == 2 and "missing.json" in err and "Traceback" not in err


def test_debug_shows_traceback(tmp_path, fixtures_dir):
    bad = tmp_path / "x.json"
    bad.write_text("{")
    from wsal.errors import FormatError

    with pytest.raises(FormatError):
        main(
            [
                "--debug",
                "evaluate",
                "temporal",
                "--gt",
                str(fixtures_dir / "temporal/gt.json"),
                "--pred",
                str(bad),
            ]
        )


@pytest.mark.parametrize("det", ["det_good.csv", "det_mediocre.csv"])
def test_evaluate_frame_cli_matches_official(fixtures_dir, capsys, det):
    d = fixtures_dir / "frame"
    expected = json.loads((d / "expected.json").read_text())
    code, out, _ = run_cli(
        "evaluate",
        "frame",
        "--gt",
        d / "gt.csv",
        "--pred",
        d / det,
        "--labelmap",
        d / "label_map.pbtxt",
        "--exclusions",
        d / "excluded_timestamps.csv",
        "--json",
        capsys=capsys,
    )
    assert code == 0
    got = json.loads(out)
    exp = expected["results"][det]
    assert got["mAP"]["0.50"] == pytest.approx(exp["mAP"], abs=1e-9)
    assert got["average_mAP"] == pytest.approx(exp["mAP"], abs=1e-9)
    for cid, info in exp["per_class"].items():
        if info["ap"] is None:
            assert got["per_class"][cid]["ap"] is None
        else:
            assert got["per_class"][cid]["ap"] == pytest.approx(info["ap"], abs=1e-9)
    code, out, _ = run_cli(
        "evaluate",
        "frame",
        "--gt",
        d / "gt.csv",
        "--pred",
        d / det,
        "--labelmap",
        d / "label_map.pbtxt",
        "--protocol",
        "ava2020",
        "--json",
        capsys=capsys,
    )
    assert json.loads(out)["average_mAP"] == pytest.approx(
        expected["results_head_2020_no_exclusions"][det]["mAP"], abs=1e-9
    )


def _two_subset_gt(fixtures_dir, tmp_path):
    """The fixture's ground truth plus 5 annotated training videos, written to tmp_path."""
    doc = json.loads((fixtures_dir / "temporal/gt.json").read_text())
    first = next(iter(doc["database"].values()))
    for k in range(5):
        doc["database"][f"video_train_{k}"] = {**first, "subset": "training"}
    path = tmp_path / "gt_two_subsets.json"
    path.write_text(json.dumps(doc))
    return path


def test_evaluate_temporal_needs_subset_when_gt_has_several(fixtures_dir, tmp_path, capsys):
    gt = _two_subset_gt(fixtures_dir, tmp_path)
    pred = fixtures_dir / "temporal/pred_good.json"
    code, out, err = run_cli("evaluate", "temporal", "--gt", gt, "--pred", pred, capsys=capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("wsal: error:") and "gt_two_subsets.json" in err
    assert "testing (60 videos" in err and "training (5 videos" in err and "--subset" in err
    # naming the subset gives the official numbers: the training videos are not scored
    code, out, _ = run_cli(
        "evaluate", "temporal", "--gt", gt, "--pred", pred, "--subset", "testing", "--json",
        capsys=capsys,
    )  # fmt: skip
    exp = json.loads((fixtures_dir / "temporal/expected.json").read_text())
    exp = exp["results"]["pred_good.json"]["thumos14_0.1:0.1:0.7"]
    assert code == 0
    assert json.loads(out)["average_mAP"] == pytest.approx(exp["average_mAP"], abs=1e-9)


def test_evaluate_temporal_unknown_subset_lists_the_available_ones(fixtures_dir, tmp_path, capsys):
    gt = _two_subset_gt(fixtures_dir, tmp_path)
    pred = fixtures_dir / "temporal/pred_good.json"
    code, out, err = run_cli(
        "evaluate", "temporal", "--gt", gt, "--pred", pred, "--subset", "test", capsys=capsys
    )
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "'test'" in err and "available: testing (60 videos" in err and "training (5" in err
    assert "Traceback" not in err
    # a subset of videos without annotations (ActivityNet's public "testing") is one line too
    doc = json.loads(gt.read_text())
    doc["database"]["video_unlabeled"] = {"subset": "unlabeled", "annotations": []}
    gt.write_text(json.dumps(doc))
    args = ["evaluate", "temporal", "--gt", gt, "--pred", pred, "--subset", "unlabeled"]
    code, out, err = run_cli(*args, capsys=capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "no annotated segments" in err and "unlabeled (1 videos, 0 segments)" in err


def test_evaluate_temporal_single_subset_is_used_without_subset(fixtures_dir, capsys):
    d = fixtures_dir / "temporal"
    args = ["evaluate", "temporal", "--gt", d / "gt.json", "--pred", d / "pred_mediocre.json"]
    code, out, _ = run_cli(*args, "--json", capsys=capsys)
    assert code == 0
    exp = json.loads((d / "expected.json").read_text())
    exp = exp["results"]["pred_mediocre.json"]["thumos14_0.1:0.1:0.7"]
    assert json.loads(out)["average_mAP"] == pytest.approx(exp["average_mAP"], abs=1e-9)


def test_evaluate_temporal_bad_thresholds_is_one_line(fixtures_dir, capsys):
    d = fixtures_dir / "temporal"
    args = ["evaluate", "temporal", "--gt", d / "gt.json", "--pred", d / "pred_good.json"]
    code, out, err = run_cli(*args, "--tiou", "1.5", capsys=capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--tiou" in err
