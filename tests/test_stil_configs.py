"""Every STIL config file loads into a TubeRunConfig (the config system accepts its keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsal.engine.tubes import TubeRunConfig, is_tube_method, load_tube_run_config

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs" / "stil").glob("*.yaml"))


def test_stil_configs_exist():
    names = {p.stem for p in CONFIGS}
    assert {"synthetic", "ucf101_24", "jhmdb", "ucf_sports"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_stil_config_loads(path):
    cfg = load_tube_run_config(path)
    assert isinstance(cfg, TubeRunConfig)
    assert cfg.method == "stil" and is_tube_method(path)
    assert cfg.model.C > 0 and cfg.model.epochs >= 1
