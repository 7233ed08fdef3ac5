"""Typed configs: YAML diffs, --set overrides, unknown keys, saving."""

from dataclasses import dataclass, field
from typing import Literal

import pytest
import yaml

from wsal.config import load_config, load_run_config, merge_config, parse_overrides, save_config
from wsal.errors import ConfigError


@dataclass
class _Opt:
    lr: float = 1e-4
    name: Literal["adam", "sgd"] = "adam"


@dataclass
class _Cfg:
    seed: int = 0
    tiou: tuple[float, ...] = (0.1, 0.2)
    opt: _Opt = field(default_factory=_Opt)
    note: str | None = None


def test_yaml_diff_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("seed: 3\nopt:\n  lr: 0.01\n")
    cfg = load_config(_Cfg, p, ["opt.name=sgd", "tiou=[0.5, 0.7]", "note=hi"])
    assert cfg == _Cfg(seed=3, tiou=(0.5, 0.7), opt=_Opt(lr=0.01, name="sgd"), note="hi")


def test_unknown_key_lists_valid_ones():
    with pytest.raises(
        ConfigError, match="unknown config key 'opt.momentum'; valid keys in 'opt': lr, name"
    ):
        merge_config(_Cfg(), parse_overrides(["opt.momentum=0.9"]))


@pytest.mark.parametrize(
    "text, value", [("2e-4", 2e-4), ("1E3", 1000.0), ("-.5", -0.5), ("3", 3.0), ("1.0e-4", 1e-4)]
)
def test_floats_are_read_the_way_users_write_them(tmp_path, text, value):
    """YAML 1.1 reads ``2e-4`` as a string; a float key still gets the number, from --set
    and from a YAML file alike."""
    assert merge_config(_Cfg(), parse_overrides([f"opt.lr={text}"])).opt.lr == value
    p = tmp_path / "c.yaml"
    p.write_text(f"opt:\n  lr: {text}\n")
    assert load_config(_Cfg, p).opt.lr == value
    with pytest.raises(ConfigError):
        merge_config(_Cfg(), parse_overrides(["opt.lr=2e-4x"]))


@pytest.mark.parametrize("bad", ["seed=1.5", "opt.name=rmsprop", "opt=3", "tiou=0.5", "seed=true"])
def test_type_errors(bad):
    with pytest.raises(ConfigError):
        merge_config(_Cfg(), parse_overrides([bad]))


def test_malformed_override_and_yaml(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["seed"])
    p = tmp_path / "bad.yaml"
    p.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(_Cfg, p)


def test_save_round_trip(tmp_path):
    cfg = load_run_config(None, ["train.epochs=7", "model.hidden_dim=32"])
    save_config(cfg, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["train"]["epochs"] == 7
    again = load_run_config(tmp_path / "config.yaml")
    assert again == cfg


def test_run_config_rejects_unknown_method_and_model_key():
    with pytest.raises(ConfigError, match="unknown method"):
        load_run_config(None, ["method=nope"])
    with pytest.raises(ConfigError, match="model.nope"):
        load_run_config(None, ["model.nope=1"])
