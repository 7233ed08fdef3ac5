"""Typed dataclass configs with YAML diffs and ``--set key=value`` overrides.

A config is a (nested) dataclass whose defaults are the paper's values. A YAML file lists
only the differences from those defaults; ``--set a.b=c`` overrides are applied last. Every
key is checked against the dataclass: unknown keys are rejected with the list of valid ones
and values are type-checked (ints, floats, bools, strings, ``Literal`` choices, tuples/lists,
dicts, optional values and nested dataclasses). The merged config is saved with every run
(:func:`save_config`), so a run folder always says exactly what ran.

Example::

    cfg = load_config(TrainConfig, "configs/dml/thumos14.yaml", ["train.epochs=5"])
    save_config(cfg, run_dir / "config.yaml")
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from wsal.errors import ConfigError

__all__ = [
    "load_config",
    "merge_config",
    "parse_overrides",
    "config_to_dict",
    "save_config",
    "read_yaml",
]

T = TypeVar("T")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping (an empty file is an empty mapping); errors name the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config ({e.strerror or e})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({e})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """Turn ``["a.b=3", "c=[1, 2]"]`` into a nested dict; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override '{item}': expected key=value (e.g. train.epochs=10)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override '{item}': cannot parse value ({e})") from None
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override '{item}': '{part}' was already set to a value")
            node = nxt
        node[parts[-1]] = value
    return out


def merge_config(cfg: T, diff: Mapping[str, Any], *, where: str = "") -> T:
    """Return a copy of dataclass instance ``cfg`` with ``diff`` applied (type-checked)."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError("merge_config expects a dataclass instance")
    hints = typing.get_type_hints(type(cfg))
    fields = {f.name: f for f in dataclasses.fields(cfg) if f.init}
    changes: dict[str, Any] = {}
    for key, value in diff.items():
        name = f"{where}{key}"
        if key not in fields:
            valid = ", ".join(sorted(fields))
            raise ConfigError(f"unknown config key '{name}'; valid keys{_at(where)}: {valid}")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"config key '{name}' is a section; give a mapping, not {value!r}"
                )
            changes[key] = merge_config(current, value, where=f"{name}.")
        else:
            changes[key] = _coerce(value, hints[key], name)
    return dataclasses.replace(cfg, **changes)


def _at(where: str) -> str:
    return f" in '{where.rstrip('.')}'" if where else ""


def _coerce(value: Any, tp: Any, name: str) -> Any:
    """Check/convert ``value`` to type annotation ``tp``; raise ConfigError naming ``name``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, name)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"config key '{name}': {value!r} fits none of {tp}"
        )
    if origin is typing.Literal:
        if isinstance(value, bool) and ("on" if value else "off") in args:
            return "on" if value else "off"  # YAML 1.1 reads on/off (and yes/no) as booleans
        if value not in args:
            raise ConfigError(f"config key '{name}': {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        return _coerce_sequence(value, tp, origin or tp, args, name)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{name}': expected a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {
            _coerce(k, kt, f"{name}.{k}"): _coerce(v, vt, f"{name}.{k}") for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{name}': expected a mapping for section {tp.__name__}")
        return merge_config(tp(), value, where=f"{name}.")
    return _coerce_scalar(value, tp, name)


def _coerce_sequence(value: Any, tp: Any, origin: Any, args: tuple, name: str) -> Any:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"config key '{name}': expected a list, got {value!r}")
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise ConfigError(f"config key '{name}': expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    item_tp = args[0] if args else Any
    items = [_coerce(v, item_tp, f"{name}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


#: Decimal floats as people write them (``2e-4``, ``1E3``, ``-.5``) that YAML 1.1 leaves as
#: strings; names like ``nan`` or ``inf`` are not included.
_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce_scalar(value: Any, tp: Any, name: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            return float(value)  # "2e-4": YAML 1.1 reads a float without a dot as a string
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    tname = getattr(tp, "__name__", str(tp))
    raise ConfigError(f"config key '{name}': expected {tname}, got {value!r}")


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    base: T | None = None,
) -> T:
    """Defaults of ``cls`` (or ``base``), then the YAML diff at ``path``, then ``overrides``."""
    cfg = base if base is not None else cls()
    if path is not None:
        try:
            cfg = merge_config(cfg, read_yaml(path))
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
    if overrides:
        cfg = merge_config(cfg, parse_overrides(overrides))
    return cfg


def config_to_dict(cfg: Any) -> Any:
    """Plain YAML/JSON-safe representation of a config (tuples -> lists, Paths -> str)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, Mapping):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def save_config(cfg: Any, path: str | Path) -> None:
    """Write the merged config as YAML, atomically (the record of what a run used)."""
    from wsal.io.atomic import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


# --------------------------------------------------------------------------------------------
# Run configuration shared by all temporal methods
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DataConfig:
    """Where the data is and how it is read."""

    root: str = ""  # dataset folder (overridden by --data)
    streams: tuple[str, ...] = ("rgb", "flow")  # feature streams, concatenated in this order
    train_split: str = "train"
    test_split: str = "test"
    max_snippets: int | None = 300  # snippets sampled per training video (DML: 300)
    sampling: typing.Literal["random_crop", "uniform", "none"] = "uniform"
    # NaN/Inf snippet features: "error" names the video and first bad snippet; "mask" zeroes
    # those snippets, warns, and records them in run.json ("masked_snippets")
    nonfinite: typing.Literal["error", "mask"] = "error"


@dataclasses.dataclass
class TrainConfig:
    """Optimization and engine settings (devices, precision and checkpoints live in wsal.engine)."""

    epochs: int = 50
    lr: float = 1e-4  # Adam (DML, EM-MIL)
    weight_decay: float = 5e-4
    batch_size: int = 20  # used when batching == "random"
    batching: typing.Literal["class_balanced", "random"] = "class_balanced"
    classes_per_batch: int = 4  # DML: batches of 4 classes x 5 videos
    videos_per_class: int = 5
    class_replacement: bool = False  # draw a batch's classes with replacement (DML code)
    iterations_per_epoch: int | None = None  # default: ceil(videos / batch size)
    grad_clip: float | None = None  # max gradient norm
    val_fraction: float = 0.0  # carve this fraction of training videos out for validation
    eval_every: int = 0  # validate every N epochs (0: never; needs val_fraction > 0)
    # which weights the run keeps: "last" (final epoch) or "best" (highest validation average
    # mAP among the validated epochs; needs val_fraction > 0 and eval_every > 0)
    select: typing.Literal["last", "best"] = "last"
    checkpoint_every: int = 1  # epochs between checkpoints (always at the end)
    num_workers: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: typing.Literal["auto", "32", "bf16", "16"] = "auto"  # auto/16: AMP on GPU only
    tensorboard: typing.Literal["auto", "on", "off"] = "auto"  # RUN/tensorboard/ when installed


@dataclasses.dataclass
class LocalizeConfig:
    """Post-processing: a named preset of wsal.localize.temporal plus overrides."""

    preset: str = ""  # empty: the method's own paper preset
    overrides: dict[str, typing.Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class EvalConfig:
    """Evaluation protocol."""

    tiou: str = "thumos14"  # preset name or "start:stop:step" / "a,b,c"


@dataclasses.dataclass
class RunConfig:
    """Everything a temporal training run uses; saved as ``config.yaml`` in the run folder.

    ``model`` is the method's own ``Config`` dataclass (chosen by ``method``).
    """

    method: str = "mil_topk"
    seed: int = 0
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    model: typing.Any = None
    localize: LocalizeConfig = dataclasses.field(default_factory=LocalizeConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)


# --------------------------------------------------------------------------------------------
# Run configuration of the keyframe (AVA-style) methods
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class KeyframeDataConfig:
    """Where the AVA-layout keyframe folder is and how bags are drawn from it."""

    root: str = ""  # keyframe dataset folder (overridden by --data)
    train_split: str = "train"
    test_split: str = "val"  # predicted and evaluated (Frame-mAP) after training
    # instances sampled uniformly per training bag (Arnab et al., Sec. 3.4: 4 tubelets per
    # bag on 8 GPUs; with frozen features many more fit); None keeps the whole bag
    max_instances: int | None = 4


@dataclasses.dataclass
class WeakConfig:
    """The weak-label protocol (clips of t seconds) and MITL's triplet sampling."""

    clip_seconds: int = 10  # t: clips of t keyframes (1, 5, 10, 30, 60; 900 or 0 = whole video)
    supervision: typing.Literal["weak", "full"] = "weak"  # full: GT labels of IoU>0.5 proposals
    negative_gap: int = 100  # MITL Sec. 3.2.1: |t_n - t| >= 100 s
    augment_noise: float = 0.1  # feature-space augmentation of t_p = t (fraction of row RMS)
    augment_dropout: float = 0.1  # ... and dropped feature dimensions


@dataclasses.dataclass
class KeyframeEvalConfig:
    """Detection output and the Frame-mAP protocol."""

    top_k: int = 10  # classes written per box (the evaluator keeps 50 rows per keyframe)
    protocol: typing.Literal["ava2019", "ava2020"] = "ava2019"


def _keyframe_train_defaults() -> TrainConfig:
    return TrainConfig(
        epochs=20,
        lr=1e-3,
        weight_decay=0.0,
        batch_size=32,  # Arnab et al.: 8 GPUs x 4 bags
        batching="random",
    )


@dataclasses.dataclass
class KeyframeRunConfig:
    """Everything a keyframe training run uses (ua_mil, mitl); saved as ``config.yaml``.

    ``model`` is the method's own ``Config`` dataclass. ``train`` is the temporal
    :class:`TrainConfig` (only ``batching: random`` applies to bags).
    """

    method: str = "ua_mil"
    seed: int = 0
    data: KeyframeDataConfig = dataclasses.field(default_factory=KeyframeDataConfig)
    weak: WeakConfig = dataclasses.field(default_factory=WeakConfig)
    train: TrainConfig = dataclasses.field(default_factory=_keyframe_train_defaults)
    model: typing.Any = None
    eval: KeyframeEvalConfig = dataclasses.field(default_factory=KeyframeEvalConfig)


def load_run_config(
    path: str | Path | None = None, overrides: Sequence[str] = ()
) -> RunConfig | KeyframeRunConfig:
    """Build a run config: defaults, YAML diff, ``--set`` overrides.

    The method is read first (from the overrides, else the file, else the default) so the
    ``model`` section is checked against that method's ``Config`` dataclass; keyframe methods
    (``task == "keyframe"``) get a :class:`KeyframeRunConfig`, temporal ones a
    :class:`RunConfig`.
    """
    from wsal.methods import METHODS

    diff = read_yaml(path) if path is not None else {}
    over = parse_overrides(overrides)
    method = over.get("method", diff.get("method", RunConfig.method))
    if method not in METHODS:
        raise ConfigError(f"unknown method '{method}'; available: {', '.join(sorted(METHODS))}")
    model_cfg = METHODS[method].Config()
    keyframe = getattr(METHODS[method], "task", "temporal") == "keyframe"
    cfg = (KeyframeRunConfig if keyframe else RunConfig)(model=model_cfg)
    for source, d in ((path, diff), ("--set", over)):
        d = dict(d)
        model_diff = d.pop("model", None) or {}
        try:
            cfg = merge_config(cfg, d)
            if not isinstance(model_diff, Mapping):
                raise ConfigError("config key 'model' is a section; give a mapping")
            cfg = dataclasses.replace(
                cfg, model=merge_config(cfg.model, model_diff, where="model.")
            )
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}" if source else str(e)) from None
    return cfg
