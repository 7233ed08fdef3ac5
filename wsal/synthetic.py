"""Generators of realistic synthetic datasets, written in the real on-disk layouts.

They are the bundled demo data and the test data of every method, so each family carries
the difficulties that the implemented papers address (a dataset without them would make
every method look alike). All generators are seeded (same seed and config -> byte-identical
files), vectorized over snippets and boxes, and write every file atomically.

Temporal family (THUMOS14 / ActivityNet layout, :func:`generate_temporal`)
    * **weak start/end phases** - class evidence ramps from ``weak_floor`` at a segment's
      boundary to full strength in its core (``weak_phase`` of the length on each side), so
      the discriminative core is shorter than the ground truth (the motivation of DML's
      metric loss and EM-MIL's pseudo-label expansion);
    * **context confusion** - a class *context* vector (partly aligned with the class
      prototype) is on inside the action, decays over ``context_seconds`` outside it, and
      is weakly on all over positive videos (``video_context``): background that looks like
      the action;
    * **scene appearance** - a per-video offset shared by all snippets, larger than the
      class signal in a fixed subset of dimensions (``scene_strength``);
    * **confusable class pairs** - real confusable THUMOS14 pairs (CricketBowling /
      CricketShot, HighJump / LongJump, ...) share a prototype component (``confusion``)
      and co-occur in some videos;
    * **multiple instances, two-class videos, several modes per class, varying instance
      amplitude**; **varying video lengths** with a few very short videos;
    * **two streams with different signal**: RGB carries more scene and context and flatter
      evidence, flow more class signal concentrated in the motion core;
    * background "states" (camera motion, crowd, replay ...) and temporally correlated
      noise, so background is structured rather than white. No label noise.

Keyframe family (AVA layout, :func:`generate_keyframe`)
    * 1-6 persons per keyframe, each a track with slowly drifting boxes (walking persons
      move faster), entering and leaving;
    * exactly one pose action per person and keyframe plus 0-2 concurrent
      interaction/object actions; actions change in segments of several seconds, so
      weak clip-level label sets grow and get more ambiguous as the clip length grows;
    * interacting persons share actions (talk to / listen to with alternating speaker,
      watch (a person), hand shakes at conversation starts); the partner's evidence leaks
      into a person's box feature (RoI context);
    * detector misses (more for small persons), false positives (background boxes with no
      person evidence, and partial boxes on a person), box jitter (IoU mostly > 0.5, some
      loose boxes < 0.5), scores overlapping between true and false detections;
    * features = smoothed action evidence + person identity appearance + scene offset per
      video + noise; an excluded-timestamps file for a few val keyframes (no GT there).

Tube family (UCF101-24 layout, :func:`generate_tubes`)
    * ground-truth tubes are **real UCF101-24 trajectories** (boxes, temporal extents,
      video lengths, classes, two-actor videos) from a bundled extract of
      ``pyannot.pkl`` (:func:`build_ucf101_24_extract`);
    * proposals on every ``frame_step``-th frame: jittered actor boxes (also outside the
      action's temporal extent, where they carry no class evidence), distractor persons
      (moving or static) with confusable partial class evidence, static and random
      background boxes, detector misses; scores higher on persons than on background but
      noisy (a weak actor prior);
    * features encode class evidence only on the actor inside the tube, weaker at its
      start and end, plus a per-video scene offset, per-track identity and a weak class
      context on every box of a positive video.

The layouts are described in ``docs/formats.md``; ``meta.json`` in each folder records the
generator, seed, config, difficulties and summary statistics.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from wsal.errors import ConfigError, WsalError
from wsal.io.atomic import save_npy_atomic, write_json_atomic, write_text_atomic
from wsal.structures import (
    Boxes,
    KeyframeGroundTruth,
    Segments,
    SnippetTiming,
    TemporalGroundTruth,
    Tube,
    TubeGroundTruth,
)

__all__ = [
    "TemporalSynthConfig",
    "temporal_class_names",
    "KeyframeSynthConfig",
    "TubeSynthConfig",
    "TEMPORAL_PRESETS",
    "KEYFRAME_PRESETS",
    "TUBE_PRESETS",
    "generate_temporal",
    "generate_keyframe",
    "generate_tubes",
    "GENERATORS",
    "UCF101_24_EXTRACT_CLASSES",
    "build_ucf101_24_extract",
    "write_ucf101_24_extract",
    "load_ucf101_24_extract",
]

_FORMAT_VERSION = 1  # version of the folder layouts written here (recorded in meta.json)
_META = "meta.json"

# ============================================================================================
# Shared helpers: seeding, random building blocks, output folder handling
# ============================================================================================


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """Independent generator for one (seed, family, part...) key: order-independent streams."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))


def _key(name: str) -> int:
    """Stable integer key of a name (stream or class) for :func:`_rng`."""
    return zlib.crc32(name.encode("utf-8"))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x (N, D)`` scaled to unit L2 norm."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _random_directions(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``(n, dim)`` float64 random unit vectors (nearly orthogonal for large ``dim``)."""
    return _unit_rows(rng.standard_normal((n, dim)))


def _geometric(rng: np.random.Generator, mean: float | np.ndarray, size: int) -> np.ndarray:
    """``(size,)`` int64 run lengths >= 1 with the given mean (geometric distribution)."""
    p = 1.0 / np.maximum(np.asarray(mean, dtype=np.float64), 1.0)
    return rng.geometric(np.broadcast_to(p, (size,))).astype(np.int64)


def _on_off_mask(rng: np.random.Generator, n: int, mean_on: float, mean_off: float) -> np.ndarray:
    """``(n,)`` bool alternating on/off runs with geometric lengths (a two-state Markov chain)."""
    if n <= 0:
        return np.zeros(0, dtype=bool)
    count = n + 1  # every run is >= 1 long, so n + 1 runs always cover n steps
    first_on = rng.random() < mean_on / (mean_on + mean_off)
    state = (np.arange(count) % 2 == 0) == first_on
    lengths = np.where(state, _geometric(rng, mean_on, count), _geometric(rng, mean_off, count))
    return np.repeat(state, lengths)[:n]


def _piecewise_states(
    rng: np.random.Generator,
    n: int,
    mean_len: float,
    num_states: int,
    *,
    length_factor: np.ndarray | None = None,
) -> np.ndarray:
    """``(n,)`` int64 piecewise-constant states, consecutive runs always different.

    Run lengths are geometric with mean ``mean_len`` (times ``length_factor[state]``).
    """
    if num_states <= 1:
        return np.zeros(n, dtype=np.int64)
    count = n + 1
    steps = np.concatenate([[rng.integers(num_states)], rng.integers(1, num_states, count - 1)])
    states = np.cumsum(steps) % num_states
    factor = 1.0 if length_factor is None else np.asarray(length_factor)[states]
    lengths = _geometric(rng, mean_len * factor, count)
    return np.repeat(states, lengths)[:n]


def _smoothed_noise(rng: np.random.Generator, n: int, k: int, sigma: float) -> np.ndarray:
    """``(n, k)`` float32 temporally correlated noise, unit variance per column."""
    z = rng.standard_normal((n, k), dtype=np.float32)
    if sigma <= 0 or n < 2:
        return z
    s = gaussian_filter1d(z, sigma=sigma, axis=0, mode="nearest")
    return s / np.maximum(s.std(axis=0, keepdims=True), 1e-6)


_REFERENCE_DIM = 256


def _per_dim_scale(dim: int) -> float:
    """Scale of per-dimension quantities (noise, scene offsets) for ``dim``-D features.

    They are specified for features of at most 256 dimensions; wider features get
    ``sqrt(256 / dim)`` so that the total noise energy, and hence the difficulty, stays that
    of 256-D features (real I3D features are far from isotropic noise in 2048 dimensions).
    """
    return float(np.sqrt(min(1.0, _REFERENCE_DIM / dim)))


def _check_fraction(name: str, value: float, *, upper_open: bool = False) -> None:
    hi_ok = value < 1.0 if upper_open else value <= 1.0
    if not (0.0 <= value and hi_ok):
        raise ConfigError(f"{name} must be in [0, 1{')' if upper_open else ']'}, got {value}")


def _check_positive(cfg: Any, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not value > 0:
            raise ConfigError(f"{type(cfg).__name__}.{name} must be > 0, got {value}")


def _check_non_negative(cfg: Any, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not value >= 0:
            raise ConfigError(f"{type(cfg).__name__}.{name} must be >= 0, got {value}")


def _check_dtype(name: str, dtype: str) -> None:
    if dtype not in ("float16", "float32"):
        raise ConfigError(f"{name} must be 'float16' or 'float32', got {dtype!r}")


def _resolve_config(config: Any, presets: dict[str, Any], cls: type) -> tuple[Any, str | None]:
    """A config object from a preset name or an instance; returns ``(config, preset name)``."""
    if isinstance(config, str):
        if config not in presets:
            raise ConfigError(f"unknown preset {config!r}; choose one of {sorted(presets)}")
        return replace(presets[config]), config
    if not isinstance(config, cls):
        raise ConfigError(
            f"config must be a {cls.__name__} or a preset name, got {type(config).__name__}"
        )
    return config, None


def _config_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(asdict(config)))


def _begin_output(
    out_dir: str | Path, generator: str, files: Iterable[str], *, overwrite: bool
) -> Path:
    """Check and prepare ``out_dir`` for ``generator``; returns the folder path.

    A non-empty folder is accepted only when its ``meta.json`` names the same generator
    (its files listed there but not planned now are removed, so no stale video stays) or
    when ``overwrite`` is true (then nothing is removed). A provisional ``meta.json``
    marked ``"complete": false`` is written first, so an interrupted run can be re-run.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise WsalError(f"{out}: exists and is not a folder")
    planned = set(files)
    if out.is_dir() and any(out.iterdir()):
        previous = _read_meta(out)
        same = previous is not None and previous.get("generator") == generator
        if not same and not overwrite:
            raise WsalError(
                f"{out}: folder is not empty and not a previous output of {generator}; "
                "choose an empty folder or pass overwrite=True"
            )
        if same:
            _remove_stale(out, previous.get("files", []), planned)
    out.mkdir(parents=True, exist_ok=True)
    provisional = {"generator": generator, "complete": False, "files": sorted(planned)}
    write_json_atomic(out / _META, provisional)
    return out


def _read_meta(out: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((out / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _remove_stale(out: Path, previous: Sequence[str], planned: set[str]) -> None:
    root = out.resolve()
    for rel in previous:
        if not isinstance(rel, str) or rel in planned:
            continue
        path = (out / rel).resolve()
        if root in path.parents and path.is_file():
            path.unlink()


def _finish_output(out: Path, meta: dict[str, Any], files: Iterable[str]) -> None:
    meta = {**meta, "complete": True, "files": sorted(files)}
    write_json_atomic(out / _META, meta, indent=1)


def _meta_header(family: str, generator: str, seed: int, preset: str | None, config: Any) -> dict:
    from wsal import __version__

    return {
        "generator": generator,
        "family": family,
        "format_version": _FORMAT_VERSION,
        "wsal_version": __version__,
        "seed": seed,
        "preset": preset,
        "config": _config_dict(config),
    }


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


# ============================================================================================
# Temporal family (THUMOS14 / ActivityNet)
# ============================================================================================

# THUMOS14 detection classes, confusable pairs first so that small class sets contain pairs.
_THUMOS14_ORDER = (
    "CricketBowling",
    "CricketShot",
    "HighJump",
    "LongJump",
    "CliffDiving",
    "Diving",
    "Shotput",
    "ThrowDiscus",
    "HammerThrow",
    "JavelinThrow",
    "BaseballPitch",
    "BasketballDunk",
    "Billiards",
    "CleanAndJerk",
    "FrisbeeCatch",
    "GolfSwing",
    "PoleVault",
    "SoccerPenalty",
    "TennisSwing",
    "VolleyballSpiking",
)
_THUMOS14_PAIRS = (
    ("CricketBowling", "CricketShot"),
    ("HighJump", "LongJump"),
    ("CliffDiving", "Diving"),
    ("Shotput", "ThrowDiscus"),
    ("HammerThrow", "JavelinThrow"),
)


# (signal, context, scene, ramp_power) multipliers by stream name; "" for other streams.
_STREAM_DEFAULTS: dict[str, tuple[float, float, float, float]] = {
    "rgb": (0.8, 1.0, 1.0, 0.8),
    "flow": (1.15, 0.35, 0.4, 1.6),
    "": (1.0, 0.7, 0.7, 1.0),
}


@dataclass
class TemporalSynthConfig:
    """Configuration of :func:`generate_temporal` (a THUMOS14-like snippet-feature dataset).

    Sizes are per split; lengths in snippets of ``frames_per_snippet / fps`` seconds (0.64 s).
    Feature model per stream (noise std 1 per dimension; class and context vectors are unit
    directions times an amplitude)::

        x_t = scene_v + bg_state(t) + sum_i e_i(t) a_i P[c_i, mode_i]
              + sum_c ctx_c(t) Q[c] + noise_t

    where ``e_i(t)`` is the weak-phase evidence profile of instance ``i`` and ``ctx_c(t)``
    the context profile of class ``c``. Defaults give the "demo" difficulty.
    """

    num_classes: int = 10  # <= 20 uses real THUMOS14 class names
    train_videos: int = 80
    test_videos: int = 80
    min_snippets: int = 40  # length range of ordinary videos (log-uniform)
    max_snippets: int = 400
    short_video_fraction: float = 0.05  # very short videos: max(6, min/4) .. min/2 snippets
    feature_dim: int = 128  # per stream (I3D: 1024)
    streams: tuple[str, ...] = ("rgb", "flow")
    feature_dtype: str = "float32"
    mean_instances: float = 3.0  # instances per class and video (1 + Poisson)
    max_instances: int = 8
    two_class_fraction: float = 0.2  # videos with a second class (half of them its confusable pair)
    instance_seconds: tuple[float, float] = (2.0, 24.0)  # log-uniform instance length
    max_action_coverage: float = 0.6  # at most this fraction of a video is action
    weak_phase: float = 0.3  # fraction of an instance (each side) where evidence ramps up/down
    weak_floor: float = 0.15  # relative evidence at the very boundary
    signal: float = 4.0  # class evidence amplitude in the core (x stream_signal)
    context_strength: float = 0.7  # context amplitude relative to ``signal`` (x stream_context)
    context_seconds: float = 3.0  # decay length of context outside an instance
    context_alignment: float = 0.5  # cosine between a class's context and its prototype
    video_context: float = 0.25  # context level on every snippet of a positive video
    scene_strength: float = 1.5  # per-dimension std of the scene offset in scene dimensions
    scene_dims_fraction: float = 0.25  # fraction of dimensions carrying scene appearance
    confusion: float = 0.6  # cosine between confusable class prototypes
    class_modes: int = 2  # sub-prototypes per class (cosine ~0.7 to the class direction)
    amplitude_spread: float = 0.25  # log-normal sigma of per-instance amplitude
    background_strength: float = 1.5  # amplitude of background states
    background_states: int = 6
    background_seconds: float = 12.0  # mean run length of a background state
    smooth_noise: float = 0.6  # amplitude of temporally correlated noise (x noise)
    smooth_seconds: float = 2.0
    noise: float = 1.0  # per-dimension noise std (x sqrt(256 / feature_dim) above 256-D)
    # per-stream knobs aligned with ``streams``; empty = by name (see _STREAM_DEFAULTS)
    stream_signal: tuple[float, ...] = ()  # rgb 0.8, flow 1.15: flow more class signal
    stream_context: tuple[float, ...] = ()  # rgb 1.0, flow 0.35: rgb sees context
    stream_scene: tuple[float, ...] = ()  # rgb 1.0, flow 0.4: rgb sees the scene
    stream_ramp_power: tuple[
        float, ...
    ] = ()  # rgb 0.6, flow 1.6: >1 concentrates evidence in the core
    frames_per_snippet: int = 16
    fps: float = 25.0

    def __post_init__(self) -> None:
        self.streams = tuple(self.streams)
        self.instance_seconds = tuple(float(v) for v in self.instance_seconds)
        for name in ("stream_signal", "stream_context", "stream_scene", "stream_ramp_power"):
            value = tuple(float(v) for v in getattr(self, name))
            if value and len(value) != len(self.streams):
                raise ConfigError(
                    f"TemporalSynthConfig.{name} needs one value per stream {self.streams}"
                )
            setattr(self, name, value)
        self._validate()

    def _validate(self) -> None:
        _check_positive(self, "num_classes", "min_snippets", "feature_dim", "mean_instances")
        _check_positive(self, "max_instances", "class_modes", "fps", "frames_per_snippet")
        _check_positive(self, "context_seconds", "background_seconds", "background_states")
        _check_non_negative(self, "train_videos", "test_videos", "signal", "context_strength")
        _check_non_negative(self, "video_context", "scene_strength", "amplitude_spread", "noise")
        _check_non_negative(self, "background_strength", "smooth_noise", "smooth_seconds")
        if self.max_snippets < self.min_snippets:
            raise ConfigError("TemporalSynthConfig: max_snippets < min_snippets")
        if not self.streams or len(set(self.streams)) != len(self.streams):
            raise ConfigError(
                f"TemporalSynthConfig.streams must be distinct names, got {self.streams}"
            )
        lo, hi = self.instance_seconds if len(self.instance_seconds) == 2 else (0, -1)
        if not 0 < lo <= hi:
            raise ConfigError(
                "instance_seconds must be (min, max) with 0 < min <= max, "
                f"got {self.instance_seconds}"
            )
        for name in (
            "short_video_fraction",
            "two_class_fraction",
            "weak_floor",
            "context_alignment",
        ):
            _check_fraction(name, getattr(self, name))
        for name in ("scene_dims_fraction", "max_action_coverage"):
            _check_fraction(name, getattr(self, name))
        _check_fraction("weak_phase", self.weak_phase)
        _check_fraction("confusion", self.confusion, upper_open=True)
        _check_dtype("feature_dtype", self.feature_dtype)

    def stream_profile(self, index: int) -> tuple[float, float, float, float]:
        """``(signal, context, scene, ramp_power)`` multipliers of stream ``index``."""
        defaults = _STREAM_DEFAULTS.get(self.streams[index], _STREAM_DEFAULTS[""])
        given = (self.stream_signal, self.stream_context, self.stream_scene, self.stream_ramp_power)
        out = [g[index] if g else d for g, d in zip(given, defaults, strict=True)]
        return out[0], out[1], out[2], out[3]

    @property
    def timing(self) -> SnippetTiming:
        """The snippet timing of the features (default 16 frames at 25 fps = 0.64 s)."""
        return SnippetTiming(self.frames_per_snippet, self.fps)


TEMPORAL_PRESETS: dict[str, TemporalSynthConfig] = {
    "tiny": TemporalSynthConfig(
        num_classes=4,
        train_videos=8,
        test_videos=6,
        min_snippets=24,
        max_snippets=96,
        feature_dim=32,
        instance_seconds=(2.0, 12.0),
    ),
    "small": TemporalSynthConfig(
        num_classes=6,
        train_videos=30,
        test_videos=30,
        min_snippets=30,
        max_snippets=200,
        feature_dim=64,
    ),
    "demo": TemporalSynthConfig(),
    "thumos14": TemporalSynthConfig(
        num_classes=20,
        train_videos=200,
        test_videos=210,
        min_snippets=60,
        max_snippets=750,
        feature_dim=2048,
        instance_seconds=(1.5, 30.0),
    ),
}
"""Named temporal configs: "tiny" (unit tests), "small", "demo" (bundled demo),
"thumos14" (THUMOS14 scale: 20 classes, 200/210 videos, up to 750 snippets, 2048-D)."""


@dataclass
class _TemporalVideo:
    """Plan of one temporal video: timing and ground-truth instances (seconds)."""

    video_id: str
    subset: str
    num_snippets: int
    duration: float
    bounds: np.ndarray  # (N, 2) seconds
    labels: np.ndarray  # (N,) class indices
    modes: np.ndarray  # (N,) sub-prototype index
    amplitudes: np.ndarray  # (N,) relative evidence amplitude


@dataclass
class _StreamModel:
    """Fixed vectors of one stream: prototypes, contexts, background, scene dims, noise basis."""

    prototypes: np.ndarray  # (C, M, D) unit rows
    contexts: np.ndarray  # (C, D) unit rows
    background: np.ndarray  # (S, D) unit rows
    scene_mask: np.ndarray  # (D,) 0/1
    noise_basis: np.ndarray  # (k, D)


def temporal_class_names(num_classes: int) -> tuple[list[str], list[tuple[int, int]]]:
    """Class names (sorted) and confusable pairs (index pairs) for ``num_classes`` classes.

    Up to 20 classes are real THUMOS14 names, chosen so that confusable pairs
    (CricketBowling/CricketShot, HighJump/LongJump, ...) come first; beyond 20, generic
    names ``Action21 ...`` are added and paired consecutively.
    """
    names = sorted(_THUMOS14_ORDER[: min(num_classes, 20)])
    extra = [f"Action{i + 1:02d}" for i in range(20, num_classes)]
    names += extra
    index = {n: i for i, n in enumerate(names)}
    pairs = [(index[a], index[b]) for a, b in _THUMOS14_PAIRS if a in index and b in index]
    pairs += [(index[extra[i]], index[extra[i + 1]]) for i in range(0, len(extra) - 1, 2)]
    return names, pairs


def _video_id_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n,)`` sorted distinct positive ids (non-contiguous, like real benchmark ids)."""
    return np.sort(rng.choice(np.arange(1, 10 * n + 2), size=n, replace=False))


def _temporal_lengths(rng: np.random.Generator, cfg: TemporalSynthConfig, n: int) -> np.ndarray:
    """``(n,)`` video lengths in snippets: log-uniform, with a few very short videos."""
    lo, hi = cfg.min_snippets, cfg.max_snippets
    t = np.exp(rng.uniform(np.log(lo), np.log(hi + 1), n)).astype(np.int64).clip(lo, hi)
    short = rng.random(n) < cfg.short_video_fraction
    s_lo = min(max(6, lo // 4), lo)
    t[short] = rng.integers(s_lo, max(s_lo + 1, lo // 2), int(short.sum()))
    return t


def _video_classes(
    rng: np.random.Generator, cfg: TemporalSynthConfig, n: int, pairs: list[tuple[int, int]]
) -> list[list[int]]:
    """Class set of each of ``n`` videos: balanced primary class, sometimes a second one."""
    c = cfg.num_classes
    primary = rng.permutation(np.arange(n) % c)
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    second = rng.random(n) < cfg.two_class_fraction
    use_partner = rng.random(n) < 0.5
    other = (primary + rng.integers(1, max(c, 2), n)) % c
    out = []
    for i, p in enumerate(primary.tolist()):
        classes = [p]
        if second[i] and c > 1:
            q = partner[p] if (use_partner[i] and p in partner) else int(other[i])
            classes.append(q)
        out.append(classes)
    return out


def _place_instances(
    rng: np.random.Generator, cfg: TemporalSynthConfig, classes: list[int], span: float
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping instances in ``[0, span)`` snippets: ``(bounds (N, 2), labels (N,))``."""
    sps = cfg.timing.seconds_per_snippet
    counts = np.minimum(1 + rng.poisson(cfg.mean_instances - 1, len(classes)), cfg.max_instances)
    labels = rng.permutation(np.repeat(np.asarray(classes, dtype=np.int64), counts))
    lo, hi = (v / sps for v in cfg.instance_seconds)
    lengths = np.exp(rng.uniform(np.log(lo), np.log(hi), labels.size))
    budget = cfg.max_action_coverage * span
    if lengths.sum() > budget:
        lengths *= budget / lengths.sum()
    gaps = rng.dirichlet(np.ones(labels.size + 1)) * (span - lengths.sum())
    starts = np.cumsum(gaps[:-1]) + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    return np.stack([starts, starts + lengths], axis=1), labels


def _plan_temporal_video(
    rng: np.random.Generator,
    cfg: TemporalSynthConfig,
    video_id: str,
    subset: str,
    t: int,
    classes: list[int],
) -> _TemporalVideo:
    """Duration, instances (seconds, 0.1 s resolution), modes and amplitudes of one video."""
    sps = cfg.timing.seconds_per_snippet
    duration = round(t * sps - rng.uniform(0.0, 0.8 * sps), 2)
    bounds, labels = _place_instances(rng, cfg, classes, duration / sps)
    sec = np.round(bounds * sps, 1)
    sec[:, 0] = np.minimum(sec[:, 0], duration - 0.1)
    sec[:, 1] = np.clip(np.maximum(sec[:, 1], sec[:, 0] + 0.1), None, duration)
    order = np.argsort(sec[:, 0], kind="stable")
    n = labels.size
    modes = rng.integers(cfg.class_modes, size=n)
    amplitudes = np.exp(rng.normal(0.0, cfg.amplitude_spread, n))
    return _TemporalVideo(
        video_id, subset, t, duration, sec[order], labels[order], modes[order], amplitudes[order]
    )


def _plan_temporal(cfg: TemporalSynthConfig, seed: int) -> list[_TemporalVideo]:
    """All videos of both splits (train first), each from its own seeded generator."""
    _, pairs = temporal_class_names(cfg.num_classes)
    videos: list[_TemporalVideo] = []
    for s_idx, (subset, n) in enumerate((("train", cfg.train_videos), ("test", cfg.test_videos))):
        rng = _rng(seed, 1, s_idx)
        numbers = _video_id_numbers(rng, n)
        lengths = _temporal_lengths(rng, cfg, n)
        classes = _video_classes(rng, cfg, n, pairs)
        for i in range(n):
            vid = f"video_{subset}_{numbers[i]:07d}"
            vrng = _rng(seed, 1, s_idx, 1000 + i)
            videos.append(_plan_temporal_video(vrng, cfg, vid, subset, int(lengths[i]), classes[i]))
    return videos


def _stream_model(cfg: TemporalSynthConfig, seed: int, stream: str) -> _StreamModel:
    """Prototypes (with confusable pairs sharing a component), contexts, background of a stream."""
    rng = _rng(seed, 2, _key(stream))
    c, d, m = cfg.num_classes, cfg.feature_dim, cfg.class_modes
    base = _random_directions(rng, c, d)
    shared = _random_directions(rng, c, d)
    _, pairs = temporal_class_names(c)
    for a, b in pairs:
        base[[a, b]] = _unit_rows(
            np.sqrt(1 - cfg.confusion) * base[[a, b]] + np.sqrt(cfg.confusion) * shared[a]
        )
    modes = _unit_rows(base[:, None, :] + 0.6 * _random_directions(rng, c * m, d).reshape(c, m, d))
    al = cfg.context_alignment
    contexts = _unit_rows(al * base + np.sqrt(1 - al**2) * _random_directions(rng, c, d))
    background = _random_directions(rng, cfg.background_states, d)
    n_scene = max(1, int(round(cfg.scene_dims_fraction * d)))
    scene_mask = np.zeros(d)
    scene_mask[rng.choice(d, n_scene, replace=False)] = 1.0
    noise_basis = _random_directions(rng, 16, d) * np.sqrt(d / 16)
    return _StreamModel(modes, contexts, background, scene_mask, noise_basis)


def _evidence_profiles(
    cfg: TemporalSynthConfig, video: _TemporalVideo, power: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-instance evidence ``(N, T)`` (weak phases) and context ``(N, T)`` profiles in [0, 1].

    Evidence is ``weak_floor`` at an instance boundary, ramps to 1 over ``weak_phase`` of
    the instance (shape ``ramp ** power``) and is 0 outside; context is 1 inside and decays
    exponentially over ``context_seconds`` outside.
    """
    timing = cfg.timing
    centers = np.arange(video.num_snippets) + 0.5
    s, e = (timing.to_index(video.bounds[:, k])[:, None] for k in (0, 1))
    inside = (centers >= s) & (centers < e)
    u = (centers - s) / np.maximum(e - s, 1e-6)
    ramp = np.clip(np.minimum(u, 1.0 - u) / max(cfg.weak_phase, 1e-6), 0.0, 1.0) ** power
    evidence = np.where(inside, cfg.weak_floor + (1.0 - cfg.weak_floor) * ramp, 0.0)
    dist = np.maximum(s - centers, centers - e).clip(0.0, None)
    context = np.exp(-dist / timing.to_index(cfg.context_seconds))
    return evidence, context


def _temporal_features(
    cfg: TemporalSynthConfig,
    model: _StreamModel,
    video: _TemporalVideo,
    s_idx: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(T, D)`` features of one video and stream (see :class:`TemporalSynthConfig`)."""
    t, d = video.num_snippets, cfg.feature_dim
    k_signal, k_context, k_scene, power = cfg.stream_profile(s_idx)
    sig = cfg.signal * k_signal
    evidence, context = _evidence_profiles(cfg, video, power)
    protos = model.prototypes[video.labels, video.modes] * (sig * video.amplitudes)[:, None]
    x = evidence.T @ protos
    classes = np.unique(video.labels)
    ctx_amp = sig * cfg.context_strength * k_context
    per_class = np.stack([context[video.labels == c].max(axis=0) for c in classes])  # (K, T)
    per_class = np.maximum(per_class, cfg.video_context)
    x += per_class.T @ (model.contexts[classes] * ctx_amp)
    per_dim = _per_dim_scale(d)
    scene = rng.standard_normal(d) * model.scene_mask * (cfg.scene_strength * k_scene * per_dim)
    states = _piecewise_states(
        rng, t, cfg.timing.to_index(cfg.background_seconds), cfg.background_states + 1
    )
    bg = np.vstack([np.zeros((1, d)), model.background * cfg.background_strength])
    x += scene + bg[states]
    x = x.astype(np.float32)
    x += rng.standard_normal((t, d), dtype=np.float32) * np.float32(cfg.noise * per_dim)
    if cfg.smooth_noise > 0:
        sigma = cfg.timing.to_index(cfg.smooth_seconds)
        z = _smoothed_noise(rng, t, model.noise_basis.shape[0], float(sigma))
        amp = np.float32(cfg.noise * cfg.smooth_noise * per_dim)
        x += (z @ model.noise_basis.astype(np.float32)) * amp
    return x.astype(cfg.feature_dtype)


def _temporal_ground_truth(
    cfg: TemporalSynthConfig, videos: list[_TemporalVideo]
) -> TemporalGroundTruth:
    names, _ = temporal_class_names(cfg.num_classes)
    ids = [v.video_id for v in videos]
    return TemporalGroundTruth(
        videos=ids,
        subsets={v.video_id: v.subset for v in videos},
        durations={v.video_id: v.duration for v in videos},
        video_ids=np.concatenate([[v.video_id] * len(v.labels) for v in videos]) if videos else [],
        segments=Segments(
            np.concatenate([v.bounds for v in videos]) if videos else np.zeros((0, 2)),
            np.concatenate([v.labels for v in videos]) if videos else np.zeros(0),
        ),
        classes=names,
        fps={v.video_id: float(cfg.fps) for v in videos},
    )


def _temporal_files(cfg: TemporalSynthConfig, videos: list[_TemporalVideo]) -> list[str]:
    files = ["gt.json", "split_train.txt", "split_test.txt"]
    files += [f"features/{v.subset}/{s}/{v.video_id}.npy" for v in videos for s in cfg.streams]
    return files


_TEMPORAL_DIFFICULTIES = {
    "weak_phases": "class evidence ramps from weak_floor at segment boundaries to full strength "
    "over weak_phase of each side; the discriminative core is shorter than the ground truth",
    "context_confusion": "a class context vector partly aligned with the class prototype is on "
    "inside actions, decays over context_seconds outside them, and is weakly on (video_context) "
    "on every snippet of a positive video",
    "scene_offset": "per-video offset shared by all snippets, std scene_strength in a fixed "
    "scene_dims_fraction of dimensions (larger than the class signal there)",
    "confusable_pairs": "THUMOS14 confusable pairs share a prototype component (cosine = "
    "confusion) and co-occur in some two-class videos",
    "multiple_instances": "1 + Poisson(mean_instances - 1) instances per class; two-class videos; "
    "class_modes sub-prototypes per class; log-normal instance amplitudes",
    "varying_lengths": "log-uniform video lengths in [min_snippets, max_snippets] plus a few very "
    "short videos (short_video_fraction)",
    "two_streams": "rgb: more scene and context, flatter evidence; flow: stronger class signal "
    "concentrated in the core (stream_* knobs)",
    "structured_background": "piecewise-constant background states and temporally correlated noise",
    "label_noise": "none",
}


def generate_temporal(
    out_dir: str | Path,
    config: TemporalSynthConfig | str = "demo",
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a THUMOS14-style temporal dataset folder (layout in ``docs/formats.md``).

    Files: ``gt.json`` (ActivityNet style, subsets "train"/"test", durations, per-video
    fps = the feature fps), ``split_{train,test}.txt``, ``features/<subset>/<stream>/<video>.npy``
    (``(T, feature_dim)`` per stream; snippet ``i`` covers ``[i*0.64, (i+1)*0.64)`` s) and
    ``meta.json``. Same ``seed`` and config -> byte-identical files.

    Args:
        out_dir: target folder; must be empty, absent, or a previous output of this
            generator unless ``overwrite`` is true.
        config: a :class:`TemporalSynthConfig` or a preset name of ``TEMPORAL_PRESETS``.
        seed: non-negative integer seed.
        overwrite: allow writing into a non-empty foreign folder (nothing is deleted there).

    Returns:
        The output folder.
    """
    from wsal.io.features import safe_video_filename
    from wsal.io.temporal import write_activitynet_gt, write_split_file

    cfg, preset = _resolve_config(config, TEMPORAL_PRESETS, TemporalSynthConfig)
    seed = _check_seed(seed)
    videos = _plan_temporal(cfg, seed)
    files = _temporal_files(cfg, videos)
    generator = "wsal.synthetic.generate_temporal"
    out = _begin_output(out_dir, generator, files, overwrite=overwrite)
    gt = _temporal_ground_truth(cfg, videos)
    write_activitynet_gt(out / "gt.json", gt)
    for subset in ("train", "test"):
        write_split_file(
            out / f"split_{subset}.txt", [v.video_id for v in videos if v.subset == subset]
        )
    models = [_stream_model(cfg, seed, s) for s in cfg.streams]
    for v_idx, video in enumerate(videos):
        for s_idx, stream in enumerate(cfg.streams):
            rng = _rng(seed, 3, v_idx, _key(stream))
            x = _temporal_features(cfg, models[s_idx], video, s_idx, rng)
            name = safe_video_filename(video.video_id, suffix=".npy")
            save_npy_atomic(out / "features" / video.subset / stream / name, x)
    meta = _meta_header("temporal", generator, seed, preset, cfg)
    meta.update(_temporal_meta(cfg, videos))
    _finish_output(out, meta, files)
    return out


def _profile_dict(profile: tuple[float, float, float, float]) -> dict[str, float]:
    return dict(zip(("signal", "context", "scene", "ramp_power"), profile, strict=True))


def _temporal_meta(cfg: TemporalSynthConfig, videos: list[_TemporalVideo]) -> dict[str, Any]:
    names, pairs = temporal_class_names(cfg.num_classes)
    timing = cfg.timing
    lengths = np.array([v.num_snippets for v in videos]) if videos else np.zeros(1)
    n_inst = np.array([len(v.labels) for v in videos]) if videos else np.zeros(1)
    seg_len = (
        np.concatenate([v.bounds[:, 1] - v.bounds[:, 0] for v in videos]) if videos else np.zeros(1)
    )
    return {
        "snippet": {
            "frames_per_snippet": timing.frames_per_snippet,
            "fps": timing.fps,
            "seconds_per_snippet": timing.seconds_per_snippet,
        },
        "classes": names,
        "confusable_pairs": [[names[a], names[b]] for a, b in pairs],
        "streams": {
            s: {
                "dim": cfg.feature_dim,
                "dtype": cfg.feature_dtype,
                **_profile_dict(cfg.stream_profile(i)),
            }
            for i, s in enumerate(cfg.streams)
        },
        "subsets": {"train": "train", "test": "test"},
        "difficulties": _TEMPORAL_DIFFICULTIES,
        "stats": {
            "videos": {s: sum(v.subset == s for v in videos) for s in ("train", "test")},
            "instances": int(n_inst.sum()),
            "two_class_videos": sum(len(np.unique(v.labels)) > 1 for v in videos),
            "snippets_min_mean_max": [
                int(lengths.min()),
                _r(lengths.mean(), 1),
                int(lengths.max()),
            ],
            "segment_seconds_min_mean_max": [
                _r(seg_len.min(), 2),
                _r(seg_len.mean(), 2),
                _r(seg_len.max(), 2),
            ],
            "instances_per_video_max": int(n_inst.max()),
        },
    }


# ============================================================================================
# Keyframe family (AVA)
# ============================================================================================

# Real AVA v2.2 ids and names of the classes this generator can use, with their role.
_AVA_NAMES: dict[int, str] = {
    1: "bend/bow (at the waist)",
    3: "crouch/kneel",
    8: "lie/sleep",
    10: "run/jog",
    11: "sit",
    12: "stand",
    14: "walk",
    15: "answer phone",
    17: "carry/hold (an object)",
    27: "drink",
    29: "eat",
    48: "read",
    57: "text on/look at a cellphone",
    59: "touch (an object)",
    64: "fight/hit (a person)",
    68: "hand shake",
    70: "hug (a person)",
    74: "listen to (a person)",
    79: "talk to (e.g., self, a person, a group)",
    80: "watch (a person)",
}
_AVA_POSE = frozenset({1, 3, 8, 10, 11, 12, 14})
_AVA_TALK, _AVA_LISTEN, _AVA_WATCH = 79, 74, 80
_AVA_PAIRED_SHORT = frozenset({64, 68, 70})  # both persons, short, at conversation starts
# Relative pose run length (bending and running are short) and box height (sitting is short).
_POSE_LENGTH = {1: 0.35, 3: 0.5, 8: 2.0, 10: 0.5, 11: 1.6, 12: 1.0, 14: 0.8}
_POSE_HEIGHT = {1: 0.8, 3: 0.6, 8: 0.4, 10: 1.0, 11: 0.65, 12: 1.0, 14: 1.0}
# (mean seconds on, mean seconds off) of object actions.
_OBJECT_RUNS = {
    15: (5.0, 60.0),
    17: (12.0, 12.0),
    27: (3.0, 40.0),
    29: (6.0, 40.0),
    48: (15.0, 40.0),
    57: (6.0, 25.0),
    59: (3.0, 12.0),
}


@dataclass
class KeyframeSynthConfig:
    """Configuration of :func:`generate_keyframe` (an AVA-style keyframe/box dataset).

    Keyframes are at 1 Hz (AVA timestamps, starting at a random second >= 902). Box
    feature model (noise std 1 per dimension; vectors are unit directions times amplitude)::

        f = scene_v + identity_p + sum_a e_a(p, t) s_a A[a] * overlap(IoU)
            + partner_context * sum_a e_a(partner, t) s_a A[a] + noise

    with ``e`` the action indicators smoothed over +-1 s (onsets ramp), and background
    false positives ``f = scene_v + background state + noise``. Defaults are the "demo" preset.
    """

    train_videos: int = 12
    val_videos: int = 6
    keyframes_per_video: int = 90  # seconds of annotated video (AVA: 897)
    pose_ids: tuple[int, ...] = (1, 11, 12, 14)  # bend/bow, sit, stand, walk
    interaction_ids: tuple[int, ...] = (68, 74, 79, 80)  # hand shake, listen to, talk to, watch
    object_ids: tuple[int, ...] = (17, 57, 59)  # carry/hold, cellphone, touch
    min_persons: int = 1
    max_persons: int = 6
    max_concurrent: int = 2  # interaction/object actions per person and keyframe
    pose_seconds: float = 8.0  # mean pose run length
    conversation_seconds: float = 10.0  # mean conversation length (off: 1.2x)
    speaker_seconds: float = 3.0  # mean turn length within a conversation
    handshake_probability: float = 0.35  # per conversation start
    person_drift: float = 0.008  # std of box-centre random walk per second (normalized)
    walk_speed: float = 0.025  # normalized width per second while walking
    miss_rate: float = 0.08  # detector misses (x2.5 for small persons)
    # Persistent misses (occlusion, out of frame, detector domain gap; Arnab et al. Sec. 3.3):
    # each person is undetected in runs of mean ``occlusion_seconds`` covering this fraction
    # of its time, so a whole clip bag can lack the actor. 0 (default): off.
    occlusion_fraction: float = 0.0
    occlusion_seconds: float = 12.0
    false_positives: float = 0.6  # mean false-positive boxes per keyframe
    partial_box_fraction: float = 0.3  # false positives that partly cover a person
    box_jitter: float = 0.04  # std of proposal corner noise, fraction of box size
    loose_box_fraction: float = 0.12  # detections with 5.5x jitter (IoU often < 0.5)
    feature_dim: int = 128
    feature_dtype: str = "float16"
    pose_signal: float = 3.0
    interaction_signal: float = 2.0
    object_signal: float = 2.5
    interaction_confusion: float = 0.5  # cosine between interaction prototypes
    identity_strength: float = 2.0
    partner_context: float = 0.35
    scene_strength: float = 1.5
    scene_dims_fraction: float = 0.25
    background_strength: float = 2.0
    noise: float = 1.0  # per-dimension noise std (x sqrt(256 / feature_dim) above 256-D)
    excluded_fraction: float = 0.03  # val keyframes listed as excluded (their GT removed)
    first_timestamp: int = 902
    last_timestamp: int = 1798

    def __post_init__(self) -> None:
        for name in ("pose_ids", "interaction_ids", "object_ids"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        self._validate()

    def _validate(self) -> None:
        _check_positive(self, "keyframes_per_video", "min_persons", "feature_dim", "pose_seconds")
        _check_positive(self, "conversation_seconds", "speaker_seconds", "occlusion_seconds")
        _check_non_negative(self, "train_videos", "val_videos", "max_concurrent", "false_positives")
        _check_non_negative(self, "person_drift", "walk_speed", "box_jitter", "noise")
        _check_non_negative(self, "pose_signal", "interaction_signal", "object_signal")
        _check_non_negative(self, "identity_strength", "partner_context", "scene_strength")
        _check_non_negative(self, "background_strength")
        if self.max_persons < self.min_persons:
            raise ConfigError("KeyframeSynthConfig: max_persons < min_persons")
        if not self.pose_ids:
            raise ConfigError("KeyframeSynthConfig.pose_ids must not be empty")
        ids = self.action_ids
        if len(set(ids)) != len(ids):
            raise ConfigError(f"KeyframeSynthConfig: repeated action ids {ids}")
        unknown = [a for a in ids if a not in _AVA_NAMES]
        if unknown:
            raise ConfigError(
                f"KeyframeSynthConfig: unsupported AVA ids {unknown}; "
                f"choose from {sorted(_AVA_NAMES)}"
            )
        if (
            not set(self.pose_ids) <= _AVA_POSE
            or set(self.interaction_ids + self.object_ids) & _AVA_POSE
        ):
            raise ConfigError(
                f"KeyframeSynthConfig: pose_ids must be pose classes {sorted(_AVA_POSE)}, "
                "the other ids must not"
            )
        bad_obj = [a for a in self.object_ids if a not in _OBJECT_RUNS]
        if bad_obj:
            raise ConfigError(f"KeyframeSynthConfig.object_ids: {bad_obj} are not object classes")
        if self.keyframes_per_video > self.last_timestamp - self.first_timestamp + 1:
            raise ConfigError(
                "KeyframeSynthConfig: keyframes_per_video exceeds the timestamp range"
            )
        for name in (
            "miss_rate",
            "occlusion_fraction",
            "partial_box_fraction",
            "loose_box_fraction",
            "excluded_fraction",
        ):
            _check_fraction(name, getattr(self, name))
        for name in ("handshake_probability", "scene_dims_fraction"):
            _check_fraction(name, getattr(self, name))
        _check_fraction("interaction_confusion", self.interaction_confusion, upper_open=True)
        _check_dtype("feature_dtype", self.feature_dtype)

    @property
    def action_ids(self) -> tuple[int, ...]:
        """All action ids: pose, then interaction, then object classes (column order)."""
        return self.pose_ids + self.interaction_ids + self.object_ids


KEYFRAME_PRESETS: dict[str, KeyframeSynthConfig] = {
    "tiny": KeyframeSynthConfig(
        train_videos=3, val_videos=2, keyframes_per_video=30, feature_dim=32
    ),
    "small": KeyframeSynthConfig(
        train_videos=6, val_videos=3, keyframes_per_video=60, feature_dim=64
    ),
    "demo": KeyframeSynthConfig(),
}
"""Named keyframe configs: "tiny" (unit tests), "small", "demo" (bundled demo)."""


@dataclass
class _PersonTracks:
    """Persons of one video over its ``K`` keyframes (``P`` tracks)."""

    present: np.ndarray  # (P, K) bool
    boxes: np.ndarray  # (P, K, 4) normalized
    labels: np.ndarray  # (P, K, A) bool, columns = config.action_ids
    partner: np.ndarray  # (P, K) int64 conversation partner or -1


@dataclass
class _KeyframeVideo:
    """One generated AVA-style video: GT tracks and proposal rows with their features."""

    video_id: str
    timestamps: np.ndarray  # (K,) int64
    tracks: _PersonTracks
    excluded: np.ndarray  # (K,) bool
    prop_k: np.ndarray  # (N,) keyframe index of each proposal
    prop_boxes: np.ndarray  # (N, 4)
    prop_scores: np.ndarray  # (N,)
    prop_person: np.ndarray  # (N,) person index or -1 (false positive)
    prop_iou: np.ndarray  # (N,) IoU with the person's GT box (0 for background)
    features: np.ndarray  # (N, D)


def _youtube_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct 11-character YouTube-like ids (alphabet ``A-Za-z0-9-_``)."""
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    ids: list[str] = []
    while len(ids) < n:
        chars = alphabet[rng.integers(0, 64, size=(n, 11))]
        chars[:, 0] = alphabet[rng.integers(0, 62, size=n)]  # no leading '-'/'_'
        ids = list(dict.fromkeys(ids + ["".join(r) for r in chars]))[:n]
    return ids


def _presence(rng: np.random.Generator, num_persons: int, k: int) -> np.ndarray:
    """``(P, K)`` bool: persons 0-1 are always there, others enter/leave (>= 5 s)."""
    present = np.ones((num_persons, k), dtype=bool)
    for p in range(2, num_persons):
        if rng.random() < 0.4:
            continue
        length = int(rng.integers(min(5, k), k + 1))
        start = int(rng.integers(0, k - length + 1))
        present[p] = False
        present[p, start : start + length] = True
    return present


def _pose_labels(rng: np.random.Generator, cfg: KeyframeSynthConfig, p: int, k: int) -> np.ndarray:
    """``(P, K)`` int64 index into ``pose_ids``: runs of several seconds, never repeating."""
    factor = np.array([_POSE_LENGTH[a] for a in cfg.pose_ids])
    return np.stack(
        [
            _piecewise_states(rng, k, cfg.pose_seconds, len(cfg.pose_ids), length_factor=factor)
            for _ in range(p)
        ]
    )


def _conversations(
    rng: np.random.Generator, cfg: KeyframeSynthConfig, present: np.ndarray
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Conversation pairs: ``({action id: (P, K) bool}, partner (P, K))``.

    Persons are paired at random; a pair talks in runs (``conversation_seconds``) while both
    are present, the speaker alternating every ``speaker_seconds``: the speaker has
    *talk to*, the other *listen to*, both *watch (a person)* most of the time; short paired
    actions (hand shake, ...) happen at some conversation starts.
    """
    p, k = present.shape
    out = {a: np.zeros((p, k), dtype=bool) for a in cfg.interaction_ids}
    partner = np.full((p, k), -1, dtype=np.int64)
    order = rng.permutation(p)
    paired_short = [a for a in cfg.interaction_ids if a in _AVA_PAIRED_SHORT]
    for a_i, b_i in zip(order[0 : 2 * (p // 2) : 2], order[1::2], strict=True):
        conv = _on_off_mask(rng, k, cfg.conversation_seconds, 1.2 * cfg.conversation_seconds)
        conv &= present[a_i] & present[b_i]
        a_talks = _on_off_mask(rng, k, cfg.speaker_seconds, cfg.speaker_seconds)
        partner[a_i, conv], partner[b_i, conv] = b_i, a_i
        _set(out, _AVA_TALK, a_i, conv & a_talks)
        _set(out, _AVA_TALK, b_i, conv & ~a_talks)
        _set(out, _AVA_LISTEN, a_i, conv & ~a_talks)
        _set(out, _AVA_LISTEN, b_i, conv & a_talks)
        for q in (a_i, b_i):
            _set(out, _AVA_WATCH, q, conv & _on_off_mask(rng, k, 6.0, 2.0))
        if paired_short:
            short = _conversation_starts(rng, conv, cfg.handshake_probability)
            action = paired_short[int(rng.integers(len(paired_short)))]
            _set(out, action, a_i, short)
            _set(out, action, b_i, short)
    lonely = partner < 0
    if _AVA_WATCH in out:  # persons outside a conversation sometimes watch someone
        watch = np.stack([_on_off_mask(rng, k, 4.0, 12.0) for _ in range(p)])
        out[_AVA_WATCH] |= watch & lonely & present
    return out, partner


def _set(out: dict[int, np.ndarray], action: int, person: int, mask: np.ndarray) -> None:
    if action in out:
        out[action][person] |= mask


def _conversation_starts(rng: np.random.Generator, conv: np.ndarray, prob: float) -> np.ndarray:
    """``(K,)`` bool: the first two seconds of a random subset (``prob``) of conversation runs."""
    starts = np.flatnonzero(conv & ~np.concatenate([[False], conv[:-1]]))
    chosen = starts[rng.random(starts.size) < prob]
    mask = np.zeros(conv.size, dtype=bool)
    for offset in (0, 1):
        idx = chosen + offset
        mask[idx[idx < conv.size]] = True
    return mask & conv


def _object_labels(
    rng: np.random.Generator, cfg: KeyframeSynthConfig, present: np.ndarray
) -> dict[int, np.ndarray]:
    """``{object action id: (P, K) bool}`` independent on/off runs per person."""
    p, k = present.shape
    return {
        a: np.stack([_on_off_mask(rng, k, *_OBJECT_RUNS[a]) for _ in range(p)]) & present
        for a in cfg.object_ids
    }


def _cap_concurrent(labels: np.ndarray, n_pose: int, cap: int) -> np.ndarray:
    """Keep at most ``cap`` non-pose actions per (person, keyframe), earlier columns first."""
    extra = labels[..., n_pose:]
    keep = extra & (np.cumsum(extra, axis=-1) <= cap)
    return np.concatenate([labels[..., :n_pose], keep], axis=-1)


def _reflect(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fold ``x`` into ``[lo, hi]`` by reflection at the borders (a person turning back)."""
    span = np.maximum(hi - lo, 1e-9)
    y = np.mod(x - lo, 2 * span)
    return lo + span - np.abs(y - span)


def _person_boxes(
    rng: np.random.Generator, cfg: KeyframeSynthConfig, pose: np.ndarray
) -> np.ndarray:
    """``(P, K, 4)`` normalized boxes: drifting centres, walkers moving, pose-dependent height."""
    p, k = pose.shape
    height = rng.uniform(0.35, 0.95, (p, 1))
    width = height * rng.uniform(0.35, 0.55, (p, 1)) * (9.0 / 16.0)  # 16:9 frames
    walking = np.asarray(cfg.pose_ids)[pose] == 14
    direction = rng.choice([-1.0, 1.0], (p, 1))
    steps = rng.normal(0.0, cfg.person_drift, (p, k)) + walking * direction * cfg.walk_speed
    cx = _reflect(
        rng.uniform(0.15, 0.85, (p, 1)) + np.cumsum(steps, axis=1), width / 2, 1 - width / 2
    )
    dy = np.cumsum(rng.normal(0.0, cfg.person_drift / 2, (p, k)), axis=1)
    bottom = _reflect(rng.uniform(0.75, 1.0, (p, 1)) + dy, height, np.ones_like(height))
    h = height * np.asarray([_POSE_HEIGHT[a] for a in cfg.pose_ids])[pose]
    boxes = np.stack([cx - width / 2, bottom - h, cx + width / 2, bottom], axis=-1)
    return np.round(np.clip(boxes, 0.0, 1.0), 3)


def _person_tracks(rng: np.random.Generator, cfg: KeyframeSynthConfig, k: int) -> _PersonTracks:
    """Persons, boxes and per-keyframe action labels of one video."""
    p = int(rng.integers(cfg.min_persons, cfg.max_persons + 1))
    present = _presence(rng, p, k)
    pose = _pose_labels(rng, cfg, p, k)
    n_pose = len(cfg.pose_ids)
    inter, partner = _conversations(rng, cfg, present)
    objects = _object_labels(rng, cfg, present)
    labels = np.zeros((p, k, len(cfg.action_ids)), dtype=bool)
    labels[..., :n_pose] = pose[..., None] == np.arange(n_pose)
    for j, a in enumerate(cfg.interaction_ids + cfg.object_ids):
        labels[..., n_pose + j] = {**inter, **objects}[a]
    labels = _cap_concurrent(labels, n_pose, cfg.max_concurrent) & present[..., None]
    return _PersonTracks(present, _person_boxes(rng, cfg, pose), labels, partner)


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of ``a (N, 4)`` and ``b (N, 4)`` boxes (continuous convention)."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (
        (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        - inter
    )
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _jitter_boxes(
    rng: np.random.Generator, boxes: np.ndarray, sigma: np.ndarray, limit: np.ndarray
) -> np.ndarray:
    """Corner noise ``sigma (N,)`` x box size on ``boxes (N, 4)``, clipped to ``[0, limit]``."""
    size = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
    out = boxes + rng.standard_normal(boxes.shape) * sigma[:, None] * size
    out = np.clip(out, 0.0, np.concatenate([limit, limit]))
    lo = np.minimum(out[:, :2], out[:, 2:])
    hi = np.maximum(np.maximum(out[:, :2], out[:, 2:]), lo + 0.02 * limit)
    return np.concatenate([lo, np.minimum(hi, limit)], axis=1)


@dataclass
class _Detections:
    """Proposal rows of one video before features: keyframe, box, score, person, IoU, kind."""

    k: np.ndarray  # (N,) keyframe index
    boxes: np.ndarray  # (N, 4) normalized
    scores: np.ndarray  # (N,)
    person: np.ndarray  # (N,) person the box covers (partial boxes included) or -1
    iou: np.ndarray  # (N,) IoU with that person's GT box
    true: np.ndarray  # (N,) bool: a detection of a person (not a false positive)


def _true_detections(
    rng: np.random.Generator, cfg: KeyframeSynthConfig, tracks: _PersonTracks
) -> _Detections:
    """Jittered detections of present persons; misses are more likely for small persons."""
    p_idx, k_idx = np.nonzero(tracks.present)
    gt = tracks.boxes[p_idx, k_idx]
    small = (gt[:, 3] - gt[:, 1]) < 0.45
    detected = rng.random(p_idx.size) >= cfg.miss_rate * np.where(small, 2.5, 0.7)
    if cfg.occlusion_fraction > 0:  # runs of persistent misses per person
        on = cfg.occlusion_seconds
        off = on * (1.0 - cfg.occlusion_fraction) / cfg.occlusion_fraction
        num_persons, k = tracks.present.shape
        occluded = np.zeros((num_persons, k), dtype=bool)
        for person in range(num_persons):  # one Markov chain per person (a few per video)
            occluded[person] = _on_off_mask(rng, k, on, off)
        detected &= ~occluded[p_idx, k_idx]
    p_idx, k_idx, gt = p_idx[detected], k_idx[detected], gt[detected]
    loose = rng.random(p_idx.size) < cfg.loose_box_fraction
    sigma = np.where(loose, 5.5, 1.0) * cfg.box_jitter
    boxes = np.round(_jitter_boxes(rng, gt, sigma, np.ones(2)), 3)
    scores = np.where(loose, rng.beta(4.0, 3.0, p_idx.size), rng.beta(8.0, 2.0, p_idx.size))
    return _Detections(
        k_idx, boxes, scores, p_idx, _paired_iou(boxes, gt), np.ones(p_idx.size, bool)
    )


def _false_detections(
    rng: np.random.Generator, cfg: KeyframeSynthConfig, tracks: _PersonTracks
) -> _Detections:
    """Background boxes anywhere and partial boxes on a person (IoU about 0.2-0.45)."""
    k = tracks.present.shape[1]
    k_idx = np.repeat(np.arange(k), rng.poisson(cfg.false_positives, k))
    n = k_idx.size
    h = rng.uniform(0.15, 0.6, n)
    w = h * rng.uniform(0.3, 0.8, n) * (9.0 / 16.0)
    x1, y1 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1)
    person = np.full(n, -1, dtype=np.int64)
    partial = rng.random(n) < cfg.partial_box_fraction
    choice = _random_present_person(rng, tracks.present, k_idx)
    partial &= choice >= 0
    if partial.any():
        gt = tracks.boxes[choice[partial], k_idx[partial]]
        frac = rng.uniform(0.2, 0.45, partial.sum())
        part = gt.copy()
        part[:, 3] = gt[:, 1] + frac * (gt[:, 3] - gt[:, 1])  # upper body / head box
        boxes[partial] = _jitter_boxes(
            rng, part, np.full(partial.sum(), cfg.box_jitter), np.ones(2)
        )
        person[partial] = choice[partial]
    boxes = np.round(boxes, 3)
    iou = np.zeros(n)
    if partial.any():
        iou[partial] = _paired_iou(boxes[partial], tracks.boxes[person[partial], k_idx[partial]])
    scores = np.where(partial, rng.beta(4.0, 4.0, n), rng.beta(2.5, 4.0, n))
    return _Detections(k_idx, boxes, scores, person, iou, np.zeros(n, bool))


def _random_present_person(
    rng: np.random.Generator, present: np.ndarray, k_idx: np.ndarray
) -> np.ndarray:
    """``(N,)`` a random present person at each keyframe ``k_idx``, -1 where nobody is."""
    if present.shape[0] == 0 or k_idx.size == 0:
        return np.full(k_idx.size, -1, dtype=np.int64)
    weights = present[:, k_idx].T * rng.random((k_idx.size, present.shape[0]))
    pick = np.argmax(weights, axis=1)
    return np.where(weights.max(axis=1) > 0, pick, -1)


def _cat_detections(parts: Sequence[_Detections]) -> _Detections:
    return _Detections(
        *(np.concatenate([getattr(d, f.name) for d in parts]) for f in fields(_Detections))
    )


@dataclass
class _KeyframeModel:
    """Fixed vectors of the keyframe family: action prototypes and background states."""

    actions: np.ndarray  # (A, D) unit rows times the class-type signal
    interaction_cols: np.ndarray  # (A,) bool
    background: np.ndarray  # (S, D) unit rows
    scene_mask: np.ndarray  # (D,)


def _keyframe_model(cfg: KeyframeSynthConfig, seed: int) -> _KeyframeModel:
    rng = _rng(seed, 12)
    n_pose, n_int = len(cfg.pose_ids), len(cfg.interaction_ids)
    d = cfg.feature_dim
    protos = _random_directions(rng, len(cfg.action_ids), d)
    rho = cfg.interaction_confusion
    inter = slice(n_pose, n_pose + n_int)
    shared = _random_directions(rng, 1, d)
    protos[inter] = _unit_rows(np.sqrt(1 - rho) * protos[inter] + np.sqrt(rho) * shared)
    signal = np.array(
        [cfg.pose_signal] * n_pose
        + [cfg.interaction_signal] * n_int
        + [cfg.object_signal] * len(cfg.object_ids)
    )
    interaction_cols = np.zeros(len(cfg.action_ids), dtype=bool)
    interaction_cols[inter] = True
    scene_mask = np.zeros(d)
    scene_mask[rng.choice(d, max(1, int(round(cfg.scene_dims_fraction * d))), replace=False)] = 1.0
    return _KeyframeModel(
        protos * signal[:, None], interaction_cols, _random_directions(rng, 4, d), scene_mask
    )


def _box_features(
    rng: np.random.Generator,
    cfg: KeyframeSynthConfig,
    model: _KeyframeModel,
    tracks: _PersonTracks,
    det: _Detections,
) -> np.ndarray:
    """``(N, D)`` features of the proposal rows (see :class:`KeyframeSynthConfig`)."""
    p, k, _ = tracks.labels.shape
    d = cfg.feature_dim
    evidence = gaussian_filter1d(
        tracks.labels.astype(np.float64), sigma=0.6, axis=1, mode="nearest"
    )
    evidence *= tracks.present[..., None]
    per_person = evidence @ model.actions  # (P, K, D)
    inter_only = (evidence * model.interaction_cols) @ model.actions
    identity = _random_directions(rng, p, d) * cfg.identity_strength
    per_dim = _per_dim_scale(d)
    scene = rng.standard_normal(d) * model.scene_mask * (cfg.scene_strength * per_dim)
    n = det.k.size
    covers = det.person >= 0
    w = np.clip((det.iou - 0.1) / 0.5, 0.0, 1.0) * covers
    pp = np.where(covers, det.person, 0)
    x = w[:, None] * (per_person[pp, det.k] + identity[pp])
    partner = tracks.partner[pp, det.k] if p else np.full(n, -1)
    has_partner = covers & (partner >= 0)
    x[has_partner] += cfg.partner_context * inter_only[partner[has_partner], det.k[has_partner]]
    bg = model.background[rng.integers(0, len(model.background), n)] * cfg.background_strength
    x += (1.0 - w)[:, None] * bg + scene
    x += rng.standard_normal((n, d)) * (cfg.noise * per_dim)
    return x.astype(cfg.feature_dtype)


def _keyframe_video(
    cfg: KeyframeSynthConfig,
    model: _KeyframeModel,
    rng: np.random.Generator,
    video_id: str,
    split: str,
) -> _KeyframeVideo:
    """Persons, labels, proposals (sorted by keyframe, then score) and features of one video."""
    k = cfg.keyframes_per_video
    start = int(rng.integers(cfg.first_timestamp, cfg.last_timestamp - k + 2))
    tracks = _person_tracks(rng, cfg, k)
    det = _cat_detections([_true_detections(rng, cfg, tracks), _false_detections(rng, cfg, tracks)])
    det.scores = np.round(np.clip(det.scores, 0.01, 0.999), 4)
    order = np.lexsort((-det.scores, det.k))
    det = _Detections(*(getattr(det, f.name)[order] for f in fields(_Detections)))
    features = _box_features(rng, cfg, model, tracks, det)
    excluded = np.zeros(k, dtype=bool)
    if split == "val" and cfg.excluded_fraction > 0:
        excluded[rng.choice(k, max(1, int(round(cfg.excluded_fraction * k))), replace=False)] = True
    return _KeyframeVideo(
        video_id, np.arange(start, start + k), tracks, excluded, det.k, det.boxes, det.scores,
        np.where(det.true, det.person, -1), np.where(det.true, det.iou, 0.0), features,
    )  # fmt: skip


def _keyframe_ground_truth(
    videos: Sequence[_KeyframeVideo], action_ids: Sequence[int]
) -> KeyframeGroundTruth:
    """AVA GT rows (sorted by video, timestamp, person, action); excluded keyframes have none."""
    parts = []
    ids = np.asarray(action_ids, dtype=np.int64)
    for v in videos:
        labels = v.tracks.labels & ~v.excluded[None, :, None]
        k_idx, p_idx, a_idx = np.nonzero(labels.transpose(1, 0, 2))
        parts.append(
            (
                np.full(k_idx.size, v.video_id),
                v.timestamps[k_idx],
                v.tracks.boxes[p_idx, k_idx],
                ids[a_idx],
                p_idx,
            )
        )
    if not parts:
        return KeyframeGroundTruth(
            np.zeros(0, str), np.zeros(0), np.zeros((0, 4)), np.zeros(0), np.zeros(0)
        )
    return KeyframeGroundTruth(*(np.concatenate([q[i] for q in parts]) for i in range(5)))


def _clip_label_stats(
    videos: Sequence[_KeyframeVideo], lengths: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Weak-label ambiguity per clip length ``t`` (seconds = keyframes).

    ``labels_per_clip``: mean size of a clip's label set; ``witness_fraction``: mean, over
    clip labels, of the fraction of the clip's person boxes that carry that label (the
    chance that a random box of the bag is a positive instance). Longer clips: more labels,
    fewer witnesses.
    """
    out = {}
    for t in lengths:
        n_labels, witness = [], []
        for v in videos:
            lab, pres = v.tracks.labels, v.tracks.present
            nc = lab.shape[1] // t
            if nc == 0:
                continue
            lab_c = lab[:, : nc * t].reshape(lab.shape[0], nc, t, -1).sum(axis=(0, 2))  # (nc, A)
            pres_c = pres[:, : nc * t].reshape(pres.shape[0], nc, t).sum(axis=(0, 2))  # (nc,)
            on = lab_c > 0
            n_labels.append(on.sum(axis=1))
            frac = lab_c / np.maximum(pres_c, 1)[:, None]
            witness.append(frac[on])
        if n_labels:
            out[str(t)] = {
                "labels_per_clip": _r(np.concatenate(n_labels).mean(), 3),
                "witness_fraction": _r(np.concatenate(witness).mean(), 3),
            }
    return out


def _keyframe_stats(videos: Sequence[_KeyframeVideo], cfg: KeyframeSynthConfig) -> dict[str, Any]:
    present = (
        np.concatenate([v.tracks.present.sum(axis=0) for v in videos]) if videos else np.zeros(1)
    )
    n_gt = sum(int(v.tracks.present.sum()) for v in videos)
    n_true = sum(int((v.prop_person >= 0).sum()) for v in videos)
    n_prop = sum(v.prop_k.size for v in videos)
    iou = (
        np.concatenate([v.prop_iou[v.prop_person >= 0] for v in videos]) if videos else np.zeros(1)
    )
    n_pose = len(cfg.pose_ids)
    extra = np.concatenate(
        [v.tracks.labels[..., n_pose:].sum(-1)[v.tracks.present] for v in videos]
    )
    return {
        "persons_per_keyframe_min_mean_max": [
            int(present.min()),
            _r(present.mean(), 2),
            int(present.max()),
        ],
        "extra_actions_per_person_histogram": np.bincount(
            extra, minlength=cfg.max_concurrent + 1
        ).tolist(),
        "person_keyframes": n_gt,
        "proposals": n_prop,
        "detector_miss_rate": _r(1 - n_true / max(n_gt, 1)),
        "false_positive_rate": _r(1 - n_true / max(n_prop, 1)),
        "true_detection_iou_below_0.5": _r((iou < 0.5).mean() if iou.size else 0.0),
        "true_detection_iou_median": _r(np.median(iou) if iou.size else 0.0),
        "clip_labels_by_seconds": _clip_label_stats(videos, (1, 5, 10, 30)),
    }


_KEYFRAME_DIFFICULTIES = {
    "multiple_persons": "1-6 persons per keyframe; tracks with slowly drifting boxes; persons "
    "enter and leave; walking persons move",
    "multi_label": "exactly one pose action per person and keyframe plus 0-max_concurrent "
    "interaction/object actions",
    "temporal_changes": "actions change in runs of several seconds, so clip-level label sets grow "
    "and witnesses get rarer as the clip length t grows (stats.clip_labels_by_seconds)",
    "interactions": "paired persons share actions: talk to / listen to with alternating speaker, "
    "watch (a person), hand shakes at conversation starts; partner evidence leaks into features",
    "detector_misses": "some GT person boxes have no proposal (more for small persons; with "
    "occlusion_fraction > 0 also runs of persistent misses per person)",
    "false_positives": "background boxes with no person evidence and partial boxes on persons",
    "box_jitter": "proposal boxes jittered vs GT; loose_box_fraction with IoU often < 0.5",
    "features": "smoothed action evidence (onsets ramp over +-1 s) + person identity + per-video "
    "scene offset + noise; interaction prototypes share a component",
    "excluded_timestamps": "a few val keyframes are listed as excluded and have no GT rows",
}


def generate_keyframe(
    out_dir: str | Path,
    config: KeyframeSynthConfig | str = "demo",
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write an AVA-style keyframe dataset folder (layout in ``docs/formats.md``).

    Files: ``annotations/action_list.pbtxt`` (real AVA ids and names),
    ``annotations/{train,val}.csv`` (GT rows
    ``video_id,timestamp,x1,y1,x2,y2,action_id,person_id``),
    ``annotations/val_excluded_timestamps.csv``, ``proposals/{train,val}.csv`` (person
    detections ``video_id,timestamp,x1,y1,x2,y2,score``), ``features/{train,val}.npy``
    (``(N, feature_dim)``, row ``i`` = proposal row ``i``) and ``meta.json``.

    Args:
        out_dir: target folder (empty, absent, or a previous output of this generator unless
            ``overwrite``).
        config: a :class:`KeyframeSynthConfig` or a preset name of ``KEYFRAME_PRESETS``.
        seed: non-negative integer seed (same seed -> byte-identical files).
        overwrite: allow writing into a non-empty foreign folder.

    Returns:
        The output folder.
    """
    from wsal.io.ava import (
        write_ava_gt,
        write_ava_proposals,
        write_excluded_timestamps,
        write_labelmap,
    )

    cfg, preset = _resolve_config(config, KEYFRAME_PRESETS, KeyframeSynthConfig)
    seed = _check_seed(seed)
    files = [
        "annotations/action_list.pbtxt",
        "annotations/val_excluded_timestamps.csv",
        *(f"{d}/{s}.csv" for d in ("annotations", "proposals") for s in ("train", "val")),
        "features/train.npy",
        "features/val.npy",
    ]
    generator = "wsal.synthetic.generate_keyframe"
    out = _begin_output(out_dir, generator, files, overwrite=overwrite)
    model = _keyframe_model(cfg, seed)
    ids = _youtube_ids(_rng(seed, 11), cfg.train_videos + cfg.val_videos)
    splits = {"train": ids[: cfg.train_videos], "val": ids[cfg.train_videos :]}
    write_labelmap(
        out / "annotations" / "action_list.pbtxt",
        {a: _AVA_NAMES[a] for a in sorted(cfg.action_ids)},
    )
    all_videos: dict[str, list[_KeyframeVideo]] = {}
    for s_idx, (split, vids) in enumerate(splits.items()):
        videos = [
            _keyframe_video(cfg, model, _rng(seed, 13, s_idx, i), vid, split)
            for i, vid in enumerate(sorted(vids))
        ]
        all_videos[split] = videos
        _write_keyframe_split(out, split, videos, cfg, write_ava_gt, write_ava_proposals)
    excluded = [(v.video_id, int(t)) for v in all_videos["val"] for t in v.timestamps[v.excluded]]
    write_excluded_timestamps(out / "annotations" / "val_excluded_timestamps.csv", excluded)
    meta = _meta_header("keyframe", generator, seed, preset, cfg)
    meta.update(_keyframe_meta(cfg, all_videos))
    _finish_output(out, meta, files)
    return out


def _write_keyframe_split(
    out: Path,
    split: str,
    videos: Sequence[_KeyframeVideo],
    cfg: KeyframeSynthConfig,
    write_gt: Callable[..., None],
    write_proposals: Callable[..., None],
) -> None:
    write_gt(out / "annotations" / f"{split}.csv", _keyframe_ground_truth(videos, cfg.action_ids))
    vid = (
        np.concatenate([np.full(v.prop_k.size, v.video_id) for v in videos])
        if videos
        else np.zeros(0, str)
    )
    ts = (
        np.concatenate([v.timestamps[v.prop_k] for v in videos])
        if videos
        else np.zeros(0, np.int64)
    )
    boxes = np.concatenate([v.prop_boxes for v in videos]) if videos else np.zeros((0, 4))
    scores = np.concatenate([v.prop_scores for v in videos]) if videos else np.zeros(0)
    write_proposals(out / "proposals" / f"{split}.csv", vid, ts, Boxes(boxes), scores)
    feats = (
        np.concatenate([v.features for v in videos])
        if videos
        else np.zeros((0, cfg.feature_dim), cfg.feature_dtype)
    )
    save_npy_atomic(out / "features" / f"{split}.npy", feats)


def _keyframe_meta(
    cfg: KeyframeSynthConfig, videos: dict[str, list[_KeyframeVideo]]
) -> dict[str, Any]:
    kinds = {**{a: "pose" for a in cfg.pose_ids}, **{a: "interaction" for a in cfg.interaction_ids}}
    kinds.update({a: "object" for a in cfg.object_ids})
    return {
        "classes": [
            {"id": a, "name": _AVA_NAMES[a], "kind": kinds[a]} for a in sorted(cfg.action_ids)
        ],
        "keyframe_hz": 1,
        "splits": {s: [v.video_id for v in vs] for s, vs in videos.items()},
        "features": {
            "dim": cfg.feature_dim,
            "dtype": cfg.feature_dtype,
            "rows": "row i = proposal row i",
        },
        "difficulties": _KEYFRAME_DIFFICULTIES,
        "stats": {s: _keyframe_stats(vs, cfg) for s, vs in videos.items()},
    }


# ============================================================================================
# Tube family (UCF101-24), built on real trajectories
# ============================================================================================

#: Classes of the bundled UCF101-24 extract (two-actor classes Fencing and SalsaSpin included).
UCF101_24_EXTRACT_CLASSES: tuple[str, ...] = (
    "Basketball",
    "Biking",
    "Diving",
    "Fencing",
    "GolfSwing",
    "HorseRiding",
    "SalsaSpin",
    "TennisSwing",
)
_UCF_PAIRS = (
    ("GolfSwing", "TennisSwing"),
    ("Biking", "HorseRiding"),
    ("Fencing", "SalsaSpin"),
    ("Basketball", "VolleyballSpiking"),
    ("CliffDiving", "Diving"),
    ("IceDancing", "SalsaSpin"),
    ("Skiing", "Skijet"),
)
_EXTRACT_RESOURCE = "ucf101_24_tubes_sample.json"
_EXTRACT_SOURCE = {
    "dataset": "UCF101-24 corrected annotations (split 1)",
    "repository": "gurkirt/corrected-UCF101-Annots",
    "commit": "5de776b",
    "files": ["pyannot.pkl", "testlist01.txt"],
    "reader": "wsal.io.tubes.read_ucf101_24_pickle",
    "conventions": "1-indexed inclusive frames, 0-based inclusive pixel corners x1 y1 x2 y2",
    "builder": "wsal.synthetic.build_ucf101_24_extract",
}


def build_ucf101_24_extract(
    data_dir: str | Path,
    *,
    classes: Sequence[str] = UCF101_24_EXTRACT_CLASSES,
    videos_per_class: int = 13,
    test_per_class: int = 4,
    box_step: int = 2,
) -> dict[str, Any]:
    """Build the compact, deterministic UCF101-24 extract bundled as package data.

    Why: the tube generator uses real trajectories, but users do not have the benchmark
    files; this function makes the bundled JSON reproducible from them.

    Args:
        data_dir: folder with ``pyannot.pkl`` and ``testlist01.txt``
            (gurkirt/corrected-UCF101-Annots).
        classes: UCF101-24 class names to keep.
        videos_per_class: videos per class, of which ``test_per_class`` from the split-1 test
            list; each group is picked evenly spaced from the sorted ids.
        box_step: keep every ``box_step``-th box of a tube (plus the last one); the generator
            interpolates the others.

    Returns:
        ``{"source", "box_step", "width", "height", "classes", "videos": {id: {"nframes",
        "split", "tubes": [{"label", "first", "last", "boxes"}]}}}`` with 1-indexed inclusive
        frames and integer ``x1, y1, x2, y2`` pixel boxes at frames ``first, first + step, ...,
        last``.
    """
    from wsal.io.tubes import UCF101_24_FRAME_SIZE, read_ucf101_24_pickle, read_video_list

    data_dir = Path(data_dir)
    gt = read_ucf101_24_pickle(data_dir / "pyannot.pkl")
    test = set(read_video_list(data_dir / "testlist01.txt"))
    videos: dict[str, Any] = {}
    for name in classes:
        ids = sorted(v for v in gt.videos if v.split("/", 1)[0] == name)
        test_ids = [v for v in ids if v in test]
        train_ids = [v for v in ids if v not in test]
        picked = _evenly_spaced(test_ids, test_per_class) + _evenly_spaced(
            train_ids, videos_per_class - test_per_class
        )
        for vid in sorted(picked):
            tubes = [_extract_tube(t, gt.labels[t.label], box_step) for t in gt.tubes[vid]]
            split = "test" if vid in test else "train"
            videos[vid] = {
                "nframes": int(gt.videos[vid]["nframes"]),
                "split": split,
                "tubes": tubes,
            }
    width, height = UCF101_24_FRAME_SIZE
    return {
        "source": _EXTRACT_SOURCE,
        "box_step": box_step,
        "width": width,
        "height": height,
        "classes": list(classes),
        "videos": videos,
    }


def _evenly_spaced(items: Sequence[str], n: int) -> list[str]:
    if n <= 0 or not items:
        return []
    idx = np.unique(np.linspace(0, len(items) - 1, min(n, len(items))).round().astype(int))
    return [items[i] for i in idx]


def _extract_tube(tube: Tube, label: str, step: int) -> dict[str, Any]:
    keep = np.unique(np.r_[np.arange(0, len(tube), step), len(tube) - 1])
    return {
        "label": label,
        "first": tube.first_frame,
        "last": tube.last_frame,
        "boxes": np.rint(tube.boxes[keep]).astype(int).tolist(),
    }


def write_ucf101_24_extract(path: str | Path, extract: dict[str, Any]) -> None:
    """Write an extract compactly (one video per line) and atomically."""
    head = {k: v for k, v in extract.items() if k != "videos"}
    lines = [json.dumps(head, separators=(",", ":"))[:-1] + ',"videos":{']
    items = [
        f"{json.dumps(v)}:{json.dumps(e, separators=(',', ':'))}"
        for v, e in extract["videos"].items()
    ]
    lines.append(",\n".join(items))
    lines.append("}}\n")
    write_text_atomic(path, "\n".join(lines))


@lru_cache(maxsize=1)
def _bundled_extract() -> dict[str, Any]:
    """The parsed bundled extract, cached; callers must not modify it."""
    text = resources.files("wsal.resources").joinpath(_EXTRACT_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def load_ucf101_24_extract() -> dict[str, Any]:
    """The bundled UCF101-24 extract (see :func:`build_ucf101_24_extract`), a fresh copy."""
    return json.loads(json.dumps(_bundled_extract()))


@dataclass
class TubeSynthConfig:
    """Configuration of :func:`generate_tubes` (a UCF101-24-style tube dataset).

    Ground-truth tubes are real UCF101-24 trajectories (bundled extract). Proposal feature
    model (noise std 1 per dimension; vectors unit directions times amplitude)::

        f = scene_v + w (person + identity_track + e(t) signal P[c]) + video_context signal Q[c]
            + (distractor persons) w distractor_evidence signal P[c'] + (1 - w) background + noise

    where ``w`` is the box overlap with the track's true box and ``e(t)`` the weak-phase
    evidence of the actor inside its tube (0 outside). Defaults are the "demo" preset.
    """

    classes: tuple[str, ...] = ()  # subset of the extract's classes; empty = all
    videos_per_class: int = 13  # at most the extract's (13)
    test_fraction: float = 0.3  # picked from the official split-1 test videos
    frame_step: int = 5  # proposals on frames 1, 1 + step, ...
    feature_dim: int = 64
    miss_rate: float = 0.1  # detector misses of persons (x2 for small persons)
    box_jitter: float = 0.05  # proposal corner noise, fraction of box size
    loose_box_fraction: float = 0.1  # person detections with 4x jitter
    actor_margin: float = 0.3  # actor visible up to this fraction of the video around its tube
    min_distractors: int = 0  # distractor persons per video
    max_distractors: int = 3
    static_distractor_fraction: float = 0.4
    background_boxes: float = 1.2  # mean random background boxes per sampled frame
    static_background: float = 1.0  # mean persistent static background boxes per video
    signal: float = 4.0  # class evidence amplitude on the actor
    weak_phase: float = 0.2  # fraction of a tube (each side) where evidence ramps
    weak_floor: float = 0.2
    video_context: float = 0.3  # class context on every box (x signal)
    distractor_evidence: float = 0.45  # confusable evidence on distractor persons (x signal)
    confusion: float = 0.5  # cosine between confusable class prototypes
    person_strength: float = 1.5  # "person" direction shared by actors and distractors
    identity_strength: float = 1.5
    scene_strength: float = 1.5
    scene_dims_fraction: float = 0.25
    background_strength: float = 2.0
    noise: float = 1.0  # per-dimension noise std (x sqrt(256 / feature_dim) above 256-D)

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        _check_positive(self, "videos_per_class", "frame_step", "feature_dim")
        _check_non_negative(
            self, "min_distractors", "background_boxes", "static_background", "signal"
        )
        _check_non_negative(
            self, "box_jitter", "video_context", "distractor_evidence", "person_strength"
        )
        _check_non_negative(
            self, "identity_strength", "scene_strength", "background_strength", "noise"
        )
        if self.max_distractors < self.min_distractors:
            raise ConfigError("TubeSynthConfig: max_distractors < min_distractors")
        for name in ("test_fraction", "miss_rate", "loose_box_fraction", "actor_margin"):
            _check_fraction(name, getattr(self, name))
        for name in (
            "static_distractor_fraction",
            "weak_phase",
            "weak_floor",
            "scene_dims_fraction",
        ):
            _check_fraction(name, getattr(self, name))
        _check_fraction("confusion", self.confusion, upper_open=True)


TUBE_PRESETS: dict[str, TubeSynthConfig] = {
    "tiny": TubeSynthConfig(
        classes=("Fencing", "GolfSwing", "TennisSwing"), videos_per_class=3, feature_dim=16
    ),
    "small": TubeSynthConfig(
        classes=UCF101_24_EXTRACT_CLASSES[:5], videos_per_class=6, feature_dim=32
    ),
    "demo": TubeSynthConfig(),
}
"""Named tube configs: "tiny" (unit tests), "small", "demo" (all of the bundled extract)."""


@dataclass
class _Track:
    """A person or background box track over the ``G`` sampled frames of a video."""

    kind: str  # "actor", "distractor" or "background"
    boxes: np.ndarray  # (G, 4) true pixel boxes
    present: np.ndarray  # (G,) bool
    evidence: np.ndarray  # (G,) class evidence in [0, 1] (actors only)
    label: int  # class index of the evidence (-1: none)


def _select_tube_videos(
    extract: dict[str, Any], cfg: TubeSynthConfig, seed: int
) -> tuple[list[str], dict[str, str]]:
    """Classes used and ``{video: split}``: per class a seeded pick from each official split."""
    available = list(extract["classes"])
    classes = list(cfg.classes) or available
    unknown = [c for c in classes if c not in available]
    if unknown:
        raise ConfigError(
            f"TubeSynthConfig.classes: {unknown} not in the bundled extract {available}"
        )
    rng = _rng(seed, 21)
    splits: dict[str, str] = {}
    for name in classes:
        ids = sorted(v for v in extract["videos"] if v.split("/", 1)[0] == name)
        by_split = {
            s: [v for v in ids if extract["videos"][v]["split"] == s] for s in ("train", "test")
        }
        n = min(cfg.videos_per_class, len(ids))
        n_test = min(
            len(by_split["test"]), max(1, int(round(n * cfg.test_fraction))) if n > 1 else 0
        )
        n_train = min(len(by_split["train"]), n - n_test)
        for split, count in (("test", n_test), ("train", n_train)):
            for v in rng.permutation(by_split[split])[:count].tolist():
                splits[v] = split
    ordered = sorted(splits)
    return classes, {v: splits[v] for v in ordered}


def _interpolate_tube(raw: dict[str, Any], step: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(L,)`` and boxes ``(L, 4)`` of an extract tube (boxes interpolated)."""
    frames = np.arange(raw["first"], raw["last"] + 1, dtype=np.int64)
    length = frames.size
    kept = np.unique(np.r_[np.arange(0, length, step), length - 1])
    stored = np.asarray(raw["boxes"], dtype=np.float64).reshape(-1, 4)
    pos = np.arange(length)
    boxes = np.stack([np.interp(pos, kept, stored[:, j]) for j in range(4)], axis=1)
    return frames, np.rint(boxes)


def _actor_track(
    rng: np.random.Generator,
    cfg: TubeSynthConfig,
    tube: Tube,
    sampled: np.ndarray,
    size: tuple[int, int],
) -> _Track:
    """The actor of a GT tube: GT boxes inside, drifting first/last box outside (no evidence)."""
    nframes = int(sampled[-1]) if sampled.size else 1
    idx = np.clip(sampled - tube.first_frame, 0, len(tube) - 1)
    boxes = tube.boxes[idx].copy()
    before, after = sampled < tube.first_frame, sampled > tube.last_frame
    outside = before | after
    steps = rng.normal(0.0, 1.5, (sampled.size, 2))
    drift = np.cumsum(steps * after[:, None], axis=0)  # walks away after the tube ...
    drift += np.cumsum((steps * before[:, None])[::-1], axis=0)[::-1]  # ... and before it
    boxes = _clip_pixels(boxes + np.tile(drift, 2), size)
    margin = cfg.actor_margin * nframes * rng.random()
    present = (sampled >= tube.first_frame - margin) & (sampled <= tube.last_frame + margin)
    u = (sampled - tube.first_frame + 0.5) / len(tube)
    ramp = np.clip(np.minimum(u, 1 - u) / max(cfg.weak_phase, 1e-6), 0.0, 1.0)
    evidence = np.where(outside, 0.0, cfg.weak_floor + (1 - cfg.weak_floor) * ramp)
    return _Track("actor", boxes, present, evidence, tube.label)


def _clip_pixels(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Clip ``(N, 4)`` pixel boxes to a ``width x height`` frame keeping >= 2 px extent."""
    w, h = size
    lim = np.array([w - 1, h - 1, w - 1, h - 1], dtype=np.float64)
    out = np.clip(boxes, 0.0, lim)
    out[:, 2:] = np.maximum(out[:, 2:], np.minimum(out[:, :2] + 2, lim[:2]))
    out[:, :2] = np.minimum(out[:, :2], out[:, 2:] - 1)
    return out


def _distractor_track(
    rng: np.random.Generator, cfg: TubeSynthConfig, sampled: np.ndarray, size: tuple[int, int]
) -> _Track:
    """A non-acting person, static or walking, visible over a random interval (>= 40 %)."""
    w, h = size
    g = sampled.size
    bh = rng.uniform(0.2, 0.6) * h
    bw = bh * rng.uniform(0.3, 0.5)
    start = np.array([rng.uniform(0, w - bw), rng.uniform(0, h - bh)])
    moving = rng.random() >= cfg.static_distractor_fraction
    step = (sampled[1] - sampled[0]) if g > 1 else 1
    velocity = rng.normal(0.0, 1.2, 2) * step * moving
    walk = (
        np.cumsum(rng.normal(0.0, 0.3 + 1.5 * moving, (g, 2)), axis=0)
        + np.arange(g)[:, None] * velocity
    )
    lo = np.array([0.0, 0.0])
    hi = np.array([w - bw, h - bh])
    xy = _reflect(start + walk, lo, hi)
    boxes = np.concatenate([xy, xy + [bw, bh]], axis=1)
    length = int(np.ceil(g * rng.uniform(0.4, 1.0)))
    first = int(rng.integers(0, g - length + 1))
    present = np.zeros(g, dtype=bool)
    present[first : first + length] = True
    return _Track("distractor", _clip_pixels(boxes, size), present, np.zeros(g), -1)


def _static_background_track(
    rng: np.random.Generator, sampled: np.ndarray, size: tuple[int, int]
) -> _Track:
    """A persistent false positive (poster, statue, ...): a fixed box, detected now and then."""
    w, h = size
    bw, bh = rng.uniform(0.08, 0.3) * w, rng.uniform(0.15, 0.5) * h
    x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    boxes = np.tile([x, y, x + bw, y + bh], (sampled.size, 1))
    present = rng.random(sampled.size) < 0.7
    return _Track("background", _clip_pixels(boxes, size), present, np.zeros(sampled.size), -1)


@dataclass
class _TubeVideo:
    """Proposals of one video: rows sorted by frame, then score (descending)."""

    frames: np.ndarray  # (N,) int64, 1-indexed
    boxes: np.ndarray  # (N, 4) pixels
    scores: np.ndarray  # (N,)
    features: np.ndarray  # (N, D) float32
    kind: np.ndarray  # (N,) 0 actor, 1 distractor, 2 background
    iou: np.ndarray  # (N,) IoU with the track's true box (0 for random background)


@dataclass
class _TubeModel:
    """Fixed vectors of the tube family."""

    prototypes: np.ndarray  # (C, D) unit rows, confusable pairs share a component
    contexts: np.ndarray  # (C, D)
    person: np.ndarray  # (D,)
    background: np.ndarray  # (S, D)
    scene_mask: np.ndarray  # (D,)
    partner: np.ndarray  # (C,) confusable class index (itself when none)


def _tube_model(cfg: TubeSynthConfig, classes: list[str], seed: int) -> _TubeModel:
    rng = _rng(seed, 22)
    c, d = len(classes), cfg.feature_dim
    protos = _random_directions(rng, c, d)
    shared = _random_directions(rng, c, d)
    partner = np.arange(c)
    index = {n: i for i, n in enumerate(classes)}
    for a, b in _UCF_PAIRS:
        if a in index and b in index:
            i, j = index[a], index[b]
            protos[[i, j]] = _unit_rows(
                np.sqrt(1 - cfg.confusion) * protos[[i, j]] + np.sqrt(cfg.confusion) * shared[i]
            )
            partner[i], partner[j] = j, i
    contexts = _unit_rows(0.5 * protos + np.sqrt(0.75) * _random_directions(rng, c, d))
    scene_mask = np.zeros(d)
    scene_mask[rng.choice(d, max(1, int(round(cfg.scene_dims_fraction * d))), replace=False)] = 1.0
    person, background = _random_directions(rng, 1, d)[0], _random_directions(rng, 4, d)
    return _TubeModel(protos, contexts, person, background, scene_mask, partner)


def _track_detections(
    rng: np.random.Generator,
    cfg: TubeSynthConfig,
    tracks: list[_Track],
    sampled: np.ndarray,
    size: tuple[int, int],
) -> tuple[np.ndarray, ...]:
    """Detected rows of all tracks: ``(track index, sample index, boxes, iou)``."""
    t_idx, g_idx = (
        np.nonzero(np.stack([t.present for t in tracks])) if tracks else (np.zeros(0, int),) * 2
    )
    true = np.stack([t.boxes for t in tracks])[t_idx, g_idx] if tracks else np.zeros((0, 4))
    person = np.array([t.kind != "background" for t in tracks], dtype=bool)[t_idx]
    small = (true[:, 3] - true[:, 1]) < 0.25 * size[1]
    miss = person & (rng.random(t_idx.size) < cfg.miss_rate * np.where(small, 2.0, 1.0))
    keep = ~miss
    t_idx, g_idx, true, person = t_idx[keep], g_idx[keep], true[keep], person[keep]
    loose = person & (rng.random(t_idx.size) < cfg.loose_box_fraction)
    sigma = cfg.box_jitter * np.where(loose, 4.0, 1.0)
    boxes = _clip_pixels(_jitter_boxes(rng, true, sigma, np.array(size, float) - 1), size)
    return t_idx, g_idx, np.round(boxes, 1), _pixel_iou_rows(boxes, true)


def _pixel_iou_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of pixel boxes ``a (N, 4)``, ``b (N, 4)`` with the +1 (inclusive) convention."""
    one = np.array([0.0, 0.0, 1.0, 1.0])
    return _paired_iou(a + one, b + one)


def _random_background(
    rng: np.random.Generator, cfg: TubeSynthConfig, g: int, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Random false positives: ``(sample index (M,), boxes (M, 4))``."""
    w, h = size
    g_idx = np.repeat(np.arange(g), rng.poisson(cfg.background_boxes, g))
    m = g_idx.size
    bw, bh = rng.uniform(0.05, 0.35, m) * w, rng.uniform(0.1, 0.6, m) * h
    x, y = rng.uniform(0, 1, m) * (w - bw), rng.uniform(0, 1, m) * (h - bh)
    return g_idx, np.round(_clip_pixels(np.stack([x, y, x + bw, y + bh], axis=1), size), 1)


def _tube_video(
    rng: np.random.Generator,
    cfg: TubeSynthConfig,
    model: _TubeModel,
    tubes: list[Tube],
    nframes: int,
    size: tuple[int, int],
) -> _TubeVideo:
    """Tracks, detections, scores and features of one video."""
    sampled = np.arange(1, nframes + 1, cfg.frame_step, dtype=np.int64)
    g = sampled.size
    tracks = [_actor_track(rng, cfg, t, sampled, size) for t in tubes]
    n_dis = int(rng.integers(cfg.min_distractors, cfg.max_distractors + 1))
    tracks += [_distractor_track(rng, cfg, sampled, size) for _ in range(n_dis)]
    tracks += [
        _static_background_track(rng, sampled, size)
        for _ in range(rng.poisson(cfg.static_background))
    ]
    t_idx, g_idx, boxes, iou = _track_detections(rng, cfg, tracks, sampled, size)
    kinds = np.array(
        [{"actor": 0, "distractor": 1, "background": 2}[t.kind] for t in tracks], dtype=np.int64
    )
    kind = kinds[t_idx] if tracks else np.zeros(0, np.int64)
    b_idx, b_boxes = _random_background(rng, cfg, g, size)
    g_all = np.concatenate([g_idx, b_idx])
    kind = np.concatenate([kind, np.full(b_idx.size, 2)])
    boxes = np.concatenate([boxes, b_boxes])
    iou = np.concatenate([iou, np.zeros(b_idx.size)])
    feats = _tube_features(
        rng, cfg, model, tracks, t_idx, g_idx, iou[: t_idx.size], b_idx.size, tubes
    )
    scores = _detector_scores(rng, kind)
    order = np.lexsort((-scores, g_all))
    return _TubeVideo(
        sampled[g_all][order], boxes[order], scores[order], feats[order], kind[order], iou[order]
    )


def _detector_scores(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    """Person-detector scores: actors > distractor persons > background on average, noisy."""
    a = np.array([6.0, 4.5, 2.0])[kind]
    b = np.array([2.5, 3.0, 5.0])[kind]
    return np.round(np.clip(rng.beta(a, b), 0.01, 0.999), 4)


def _tube_features(
    rng: np.random.Generator,
    cfg: TubeSynthConfig,
    model: _TubeModel,
    tracks: list[_Track],
    t_idx: np.ndarray,
    g_idx: np.ndarray,
    iou: np.ndarray,
    n_random: int,
    tubes: list[Tube],
) -> np.ndarray:
    """``(N_tracks + n_random, D)`` float32 features (see :class:`TubeSynthConfig`)."""
    d = cfg.feature_dim
    video_class = tubes[0].label if tubes else 0
    n = t_idx.size
    w = np.clip((iou - 0.1) / 0.5, 0.0, 1.0)
    x = np.zeros((n + n_random, d))
    if tracks:
        is_person = np.array([t.kind != "background" for t in tracks])
        identity = _random_directions(rng, len(tracks), d) * cfg.identity_strength
        evidence = np.stack([t.evidence for t in tracks])[t_idx, g_idx]
        label = np.array([max(t.label, 0) for t in tracks])[t_idx]
        distractor = np.array([t.kind == "distractor" for t in tracks])[t_idx]
        confusable = np.where(
            rng.random(len(tracks)) < 0.5, video_class, model.partner[video_class]
        )[t_idx]
        x[:n] = identity[t_idx] + is_person[t_idx, None] * model.person * cfg.person_strength
        x[:n] += (evidence * cfg.signal)[:, None] * model.prototypes[label]
        x[:n] += (distractor * cfg.distractor_evidence * cfg.signal)[:, None] * model.prototypes[
            confusable
        ]
        x[:n] *= w[:, None]
    bg_weight = np.concatenate([1.0 - w, np.ones(n_random)])
    bg = model.background[rng.integers(0, len(model.background), n + n_random)]
    x += bg_weight[:, None] * bg * cfg.background_strength
    per_dim = _per_dim_scale(d)
    x += rng.standard_normal(d) * model.scene_mask * (cfg.scene_strength * per_dim)
    if tubes:
        x += cfg.video_context * cfg.signal * model.contexts[video_class]
    x += rng.standard_normal(x.shape) * (cfg.noise * per_dim)
    return x.astype(np.float32)


_TUBE_DIFFICULTIES = {
    "real_trajectories": "GT tubes (boxes, temporal extents, video lengths, classes, two-actor "
    "videos) are real UCF101-24 annotations from the bundled extract",
    "sparse_proposals": "proposals only on every frame_step-th frame",
    "actor_outside_action": "the actor is detected also outside its tube (up to actor_margin of "
    "the video), with no class evidence there",
    "weak_phases": "actor class evidence ramps from weak_floor over weak_phase of the tube at its "
    "start and end",
    "distractors": "distractor persons (static or moving) with person appearance and confusable "
    "partial class evidence; static and random background boxes",
    "detector_noise": "misses (more for small persons), jittered and loose boxes, detector scores "
    "higher on persons than background but overlapping (a weak actor prior)",
    "scene_and_context": "per-video scene offset and a weak class context on every box",
    "multiple_actors": "videos with two or more GT tubes have one actor track per tube",
}


def generate_tubes(
    out_dir: str | Path,
    config: TubeSynthConfig | str = "demo",
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a UCF101-24-style tube dataset folder (layout in ``docs/formats.md``).

    Files: ``gt_tubes.json`` (real trajectories from the bundled extract, 320x240 pixels,
    1-indexed frames), ``split_{train,test}.txt``, ``proposals/<id with '/' -> '__'>.npz``
    (``frames (N,)``, ``boxes (N, 4)`` pixels, ``scores (N,)``, ``features (N, D)`` float32 on
    every ``frame_step``-th frame) and ``meta.json``.

    Args:
        out_dir: target folder (empty, absent, or a previous output of this generator unless
            ``overwrite``).
        config: a :class:`TubeSynthConfig` or a preset name of ``TUBE_PRESETS``.
        seed: non-negative integer seed (same seed -> byte-identical files).
        overwrite: allow writing into a non-empty foreign folder.

    Returns:
        The output folder.
    """
    from wsal.io.temporal import write_split_file
    from wsal.io.tubes import TubeProposals, proposal_filename, write_gt_tubes, write_tube_proposals

    cfg, preset = _resolve_config(config, TUBE_PRESETS, TubeSynthConfig)
    seed = _check_seed(seed)
    extract = _bundled_extract()
    classes, splits = _select_tube_videos(extract, cfg, seed)
    gt = _tube_ground_truth(extract, classes, splits)
    files = ["gt_tubes.json", "split_train.txt", "split_test.txt"]
    files += [f"proposals/{proposal_filename(v)}" for v in splits]
    generator = "wsal.synthetic.generate_tubes"
    out = _begin_output(out_dir, generator, files, overwrite=overwrite)
    write_gt_tubes(out / "gt_tubes.json", gt)
    for split in ("train", "test"):
        write_split_file(out / f"split_{split}.txt", [v for v, s in splits.items() if s == split])
    model = _tube_model(cfg, classes, seed)
    videos = {}
    for i, vid in enumerate(splits):
        meta = gt.videos[vid]
        video = _tube_video(
            _rng(seed, 23, i),
            cfg,
            model,
            gt.tubes[vid],
            meta["nframes"],
            (meta["width"], meta["height"]),
        )
        write_tube_proposals(
            out / "proposals" / proposal_filename(vid),
            TubeProposals(video.frames, video.boxes, video.scores, video.features),
        )
        videos[vid] = video
    meta = _meta_header("tubes", generator, seed, preset, cfg)
    meta.update(_tube_meta(cfg, extract, classes, splits, gt, videos))
    _finish_output(out, meta, files)
    return out


def _tube_ground_truth(
    extract: dict[str, Any], classes: list[str], splits: dict[str, str]
) -> TubeGroundTruth:
    index = {c: i for i, c in enumerate(classes)}
    step = int(extract["box_step"])
    videos, tubes = {}, {}
    for vid in splits:
        raw = extract["videos"][vid]
        videos[vid] = {
            "nframes": int(raw["nframes"]),
            "width": int(extract["width"]),
            "height": int(extract["height"]),
        }
        tubes[vid] = [
            Tube(*_interpolate_tube(t, step), label=index[t["label"]]) for t in raw["tubes"]
        ]
    return TubeGroundTruth(labels=list(classes), videos=videos, tubes=tubes)


def _tube_meta(
    cfg: TubeSynthConfig,
    extract: dict[str, Any],
    classes: list[str],
    splits: dict[str, str],
    gt: TubeGroundTruth,
    videos: dict[str, _TubeVideo],
) -> dict[str, Any]:
    kind = np.concatenate([v.kind for v in videos.values()]) if videos else np.zeros(0, int)
    scores = np.concatenate([v.scores for v in videos.values()]) if videos else np.zeros(0)
    iou = np.concatenate([v.iou for v in videos.values()]) if videos else np.zeros(0)
    samples = sum(int(np.unique(v.frames).size) for v in videos.values())
    names = ("actor", "distractor", "background")
    return {
        "classes": classes,
        "source": extract["source"],
        "frame_size": [int(extract["width"]), int(extract["height"])],
        "frame_step": cfg.frame_step,
        "splits": {s: [v for v, x in splits.items() if x == s] for s in ("train", "test")},
        "features": {"dim": cfg.feature_dim, "dtype": "float32"},
        "difficulties": _TUBE_DIFFICULTIES,
        "stats": {
            "videos": {s: sum(x == s for x in splits.values()) for s in ("train", "test")},
            "tubes": len(gt),
            "multi_actor_videos": sum(len(t) > 1 for t in gt.tubes.values()),
            "proposals": int(kind.size),
            "proposals_per_sampled_frame": _r(kind.size / max(samples, 1), 2),
            "rows_by_kind": {n: int((kind == i).sum()) for i, n in enumerate(names)},
            "mean_score_by_kind": {
                n: _r(scores[kind == i].mean() if (kind == i).any() else 0.0, 3)
                for i, n in enumerate(names)
            },
            "actor_iou_below_0.5": _r((iou[kind == 0] < 0.5).mean() if (kind == 0).any() else 0.0),
        },
    }


GENERATORS: dict[str, Callable[..., Path]] = {
    "temporal": generate_temporal,
    "keyframe": generate_keyframe,
    "tubes": generate_tubes,
}
"""Generator of each dataset family, ``(out_dir, config, *, seed, overwrite) -> Path``."""
