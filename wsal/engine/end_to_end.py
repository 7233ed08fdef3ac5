"""End-to-end training of a video backbone + RoI head with the keyframe methods' losses.

Why: Arnab et al. (ECCV 2020, ``../shared/papers/001``) fine-tune SlowFast end to end from
frames; ``wsal train`` trains the ua_mil head on frozen box features instead. This module
trains the backbone too: for every keyframe of a bag a clip of ``clip_frames`` frames (every
``frame_stride``-th frame of the 25 fps grid) centred on it goes through the backbone, the last
feature map is averaged over time, RoIAlign (:func:`wsal.extract.roi.roi_align`, pure PyTorch,
differentiable) pools each proposal box and a spatial max gives its vector (the SlowFast AVA
head, as ``wsal extract boxes``); the ua_mil head (:class:`wsal.methods.ua_mil.UAMIL`,
imported, not copied) scores the boxes and its loss (Eq. 6, or plain max-pooling BCE for
``mil_max``) trains backbone and head together. Bags and weak clip labels are those of
:class:`wsal.data.keyframe.KeyframeBagDataset` (the same protocol as frozen-feature training).

Clips are decoded once into a uint8 cache (``RUN/clips_<split>.npy``, memory-mapped, written
atomically) of ``K x clip_frames x H x W x 3`` bytes, where every frame is resized to
``frame_size`` (boxes are normalized, so they stay valid; the aspect ratio is not kept).

MITL (``method=mitl``, Biswas & Gall, ``../shared/papers/000``, who fine-tune SlowFast with
these losses): keyframe bags with positive and negative bags sampled by
:class:`KeyframeBagDataset` (``triplets=True``), the :class:`wsal.methods.mitl.MITL` head (its
``mitl.*`` settings) and its MIML + triplet + similarity losses, unchanged. The boxes of the
anchor, positive and negative bags of a batch are pooled from ONE backbone pass over the
unique keyframe clips they come from (:meth:`EndToEndModel.forward`), so the triplet terms
train the backbone. A positive with ``t_p = t`` (or a neighbour without proposals) is the
anchor keyframe itself: the same clip and boxes, hence the same backbone features; the
head's trunk dropout (independent masks for anchor and positive rows) is its only
augmentation (the frozen-feature noise / dropout of the dataset acts on zero-width features
here and changes nothing; cropping / mirroring frames is not done).

Prediction (:func:`predict_end_to_end`) decodes the clips of the predicted split into the
same kind of cache (``RUN/clips_<split>.npy``), scores every proposal box with the fine-tuned
backbone and head in chunks of keyframes, and returns the same :class:`KeyframeDetections` as
keyframe runs (:func:`wsal.engine.keyframe.detect_keyframes` is the shared scoring loop), so
the AVA CSV writer and the Frame-mAP evaluator are those of ``wsal predict``.

Devices, precision and DDP come from :func:`wsal.engine.runtime.make_fabric`: bf16/fp16
autocast on GPU, float32 on CPU unless ``precision=bf16`` (bf16 autocast on CPU, tested);
prediction runs in float32. Checkpoints are atomic and load with ``weights_only=True``. The
GPU path has not been run by the project (no GPU was lent to the sessions that wrote it); CPU
training and prediction at tiny scale are tested.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsal.config import KeyframeEvalConfig, config_to_dict, save_config
from wsal.data.keyframe import (
    KeyframeBagDataset,
    KeyframeBatch,
    KeyframeSplit,
    collate_keyframe,
    open_keyframe_split,
)
from wsal.engine.checkpoint import load_checkpoint, save_checkpoint
from wsal.engine.history import write_history
from wsal.engine.runtime import (
    make_fabric,
    resolve_precision,
    rng_state,
    seed_everything,
    set_rng_state,
)
from wsal.engine.trainer import unwrap_model
from wsal.errors import ConfigError, FormatError, WsalError
from wsal.io.atomic import atomic_open, write_json_atomic
from wsal.io.ava import read_ava_gt
from wsal.io.features import safe_path_component
from wsal.methods.keyframe_base import KeyframeMethod, KeyframeOutput
from wsal.methods.mitl import MITL, MITLConfig
from wsal.methods.ua_mil import UAMIL, UAMILConfig
from wsal.structures import KeyframeDetections

__all__ = [
    "EndToEndConfig",
    "TinyBackbone3D",
    "EndToEndModel",
    "build_end_to_end_model",
    "train_end_to_end",
    "load_end_to_end",
    "run_is_end_to_end",
    "predict_end_to_end",
]


@dataclass
class EndToEndConfig:
    """End-to-end keyframe training (``wsal train-e2e``); defaults follow the paper's setting.

    Attributes:
        method: ``ua_mil`` (Eq. 6 loss), ``mil_max`` (ua_mil head, max pooling, plain BCE) or
            ``mitl`` (keyframe bags + triplets, the MITL head and losses).
        data: AVA-layout keyframe folder (``annotations/``, ``proposals/<split>.csv``).
        videos: folder of ``<video_id>.<ext>`` files.
        split: training split.
        backbone: ``i3d``, ``tiny`` (a small 3D CNN for tests and smoke runs), or a torchvision
            model with a convolutional map (``r3d_18``, ``r2plus1d_18``, ``s3d``; optional extra).
        weights: local backbone checkpoint ('' = random init, needs ``random_init``).
        random_init: allow a randomly initialized backbone.
        width: I3D channel multiplier (1.0 = the published network).
        clip_frames, frame_stride: frames per keyframe clip and their spacing on the grid.
        fps: frame grid rate; time_offset: seconds subtracted from keyframe timestamps (AVA: 900).
        frame_size: ``(H, W)`` every decoded frame is resized to.
        roi_output: RoIAlign bins per side (SlowFast: 7).
        freeze_bn: keep batch-norm statistics fixed (small per-GPU batches).
        clip_seconds, max_instances: the weak-label protocol (Arnab et al.: t = 10, 4 per bag).
        model: the ua_mil head (``hidden_dim``, ``dropout``, ``pooling``, ``r``, ``uncertainty``)
            of ``ua_mil`` / ``mil_max``.
        mitl: the MITL head of ``method=mitl`` (``hidden_dim``, ``dropout``, ``embed_dim``,
            ``alpha``, ``beta``, ``triplet``, ``similarity``, ``negative``).
        negative_gap: MITL negatives lie at least this many seconds from the anchor (100).
        steps, batch_size, lr, backbone_lr_scale, weight_decay, grad_clip: optimization (Adam).
        checkpoint_every: steps between ``checkpoints/last.pt`` writes.
        device, precision: see :mod:`wsal.engine.runtime` (``auto``: AMP on GPU only;
            ``bf16``: bf16 autocast on CPU too).
        seed, num_workers: determinism and data loading.
        test_split: split predicted and evaluated (Frame-mAP) after training, and the default
            of ``wsal predict`` with this run.
        eval: classes written per box (``top_k``) and the Frame-mAP ``protocol``.
    """

    method: str = "ua_mil"
    data: str = ""
    videos: str = ""
    split: str = "train"
    backbone: str = "i3d"
    weights: str = ""
    random_init: bool = False
    width: float = 1.0
    clip_frames: int = 32
    frame_stride: int = 1
    fps: float = 25.0
    time_offset: float = 0.0
    frame_size: tuple[int, int] = (256, 320)
    roi_output: int = 7
    freeze_bn: bool = True
    clip_seconds: int = 10
    max_instances: int = 4
    model: UAMILConfig = field(default_factory=UAMILConfig)
    mitl: MITLConfig = field(default_factory=MITLConfig)
    negative_gap: int = 100
    steps: int = 1000
    batch_size: int = 4
    lr: float = 1e-3
    backbone_lr_scale: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float | None = None
    checkpoint_every: int = 100
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    num_workers: int = 0
    test_split: str = "val"
    eval: KeyframeEvalConfig = field(default_factory=KeyframeEvalConfig)


class TinyBackbone3D(nn.Module):
    """A small 3D CNN (three conv-BN-ReLU blocks, total stride 4 in space, 2 in time).

    For tests and smoke runs of the end-to-end mode on CPU; ``feature_map(x (B, 3, T, H, W))``
    returns ``(B, dim, T/2, H/4, W/4)`` like the real backbones' last maps.
    """

    def __init__(self, *, dim: int = 16):
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(
            nn.Conv3d(3, dim // 2, 3, stride=(1, 2, 2), padding=1),
            nn.BatchNorm3d(dim // 2),
            nn.ReLU(),
            nn.Conv3d(dim // 2, dim, 3, stride=2, padding=1),
            nn.BatchNorm3d(dim),
            nn.ReLU(),
            nn.Conv3d(dim, dim, 3, padding=1),
        )

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, dim, T', H', W')``."""
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, dim)`` pooled features."""
        return self.feature_map(x).mean(dim=(2, 3, 4))


class EndToEndModel(nn.Module):
    """Backbone + temporal pool + RoIAlign + spatial max + a keyframe method's head.

    ``forward(clips, clip_index, batch)``: ``clips (K, L, H, W, 3)`` uint8 keyframe clips,
    ``clip_index (n,)`` int64 clip of each real instance of ``batch`` (row-major over
    ``batch.mask``; for triplet batches followed by those of ``batch.pos_mask`` and then of
    ``batch.neg_mask``); boxes normalized x1y1x2y2. Returns the batch with ``feats
    (B, N, dim)`` (and ``pos_feats (B, M_p, dim)``, ``neg_feats (B, M_n, dim)``) filled from
    the backbone and the head's :class:`KeyframeOutput`.
    """

    def __init__(self, backbone: nn.Module, head: KeyframeMethod, *, dim: int,
                 rgb_range: str = "pm1", roi_output: int = 7, freeze_bn: bool = True):  # fmt: skip
        super().__init__()
        self.backbone, self.head, self.dim = backbone, head, dim
        self.rgb_range, self.roi_output, self.freeze_bn = rgb_range, roi_output, freeze_bn

    def train(self, mode: bool = True) -> EndToEndModel:
        """Train mode, with batch norm kept in eval mode when ``freeze_bn``."""
        super().train(mode)
        if mode and self.freeze_bn:
            for m in self.backbone.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def box_features(self, clips: torch.Tensor, clip_index: torch.Tensor,
                     boxes: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """``(n, dim)`` features of normalized ``boxes (n, 4)`` in ``clips[clip_index]``."""
        from wsal.extract.roi import roi_align

        x = clips.permute(0, 4, 1, 2, 3).float()
        x = x / 127.5 - 1.0 if self.rgb_range == "pm1" else x / 255.0
        # (K, C, h, w): temporal average; float32 from here (under autocast the backbone may
        # run in bf16/fp16, but box coordinates and the RoI sampling grid stay exact)
        fmap = self.backbone.feature_map(x).float().mean(dim=2)
        h, w = fmap.shape[-2:]
        scale = torch.tensor([w, h, w, h], dtype=fmap.dtype, device=fmap.device)
        pooled = roi_align(fmap, boxes.to(fmap.dtype) * scale, clip_index,
                           output_size=self.roi_output)  # fmt: skip
        return pooled.amax(dim=(2, 3))

    def with_box_features(self, clips: torch.Tensor, clip_index: torch.Tensor,
                          batch: KeyframeBatch) -> KeyframeBatch:  # fmt: skip
        """``batch`` with ``feats (B, N, dim)`` (and, for MITL triplet batches, ``pos_feats``
        and ``neg_feats``) pooled from the clips, zero on padding.

        Anchor, positive and negative boxes go through ONE backbone pass over the unique
        clips; ``clip_index`` lists their clips in that order (see the class docstring).
        """
        sides = [("feats", batch.boxes, batch.mask)]
        if batch.pos_mask is not None:
            sides += [("pos_feats", batch.pos_boxes, batch.pos_mask),
                      ("neg_feats", batch.neg_boxes, batch.neg_mask)]  # fmt: skip
        feats_n = self.box_features(clips, clip_index, torch.cat([b[m] for _, b, m in sides]))
        filled = {}
        for part, (name, _, m) in zip(feats_n.split([int(m.sum()) for _, _, m in sides]), sides):
            filled[name] = part.new_zeros((*m.shape, part.shape[1]))  # (B, M, dim)
            filled[name][m] = part
        return dataclasses.replace(batch, **filled)

    def forward(self, clips: torch.Tensor, clip_index: torch.Tensor, batch: KeyframeBatch):
        """See the class docstring: ``(batch with backbone feats, KeyframeOutput)``."""
        batch = self.with_box_features(clips, clip_index, batch)
        return batch, self.head(batch)

    def predict_scores(self, clips: torch.Tensor, clip_index: torch.Tensor,
                       batch: KeyframeBatch) -> KeyframeOutput:  # fmt: skip
        """Raw scores for inference (the head's ``predict_scores``; the caller sets eval mode).

        Same inputs as :meth:`forward`; ``instance_scores (B, N, C)`` are per-box class
        probabilities, zero on padding.
        """
        return self.head.predict_scores(self.with_box_features(clips, clip_index, batch))


def _backbone(cfg: EndToEndConfig) -> tuple[nn.Module, int, str]:
    """``(backbone, dim, rgb_range)`` of ``cfg.backbone`` with its local weights."""
    if not cfg.weights and not cfg.random_init and cfg.backbone != "tiny":
        raise ConfigError(
            f"no weights for the {cfg.backbone} backbone: set weights=PATH (a local file; "
            "nothing is downloaded) or random_init=true"
        )
    if cfg.backbone == "tiny":
        return TinyBackbone3D(), TinyBackbone3D().dim, "pm1"
    if cfg.backbone == "i3d":
        from wsal.extract.i3d import I3D, load_i3d

        m = load_i3d(cfg.weights, "rgb", width=cfg.width) if cfg.weights else I3D(width=cfg.width)
        return m, m.dim, "pm1"
    if cfg.backbone in ("r3d_18", "r2plus1d_18", "s3d"):
        from wsal.extract.tv import build_torchvision_backbone

        m = build_torchvision_backbone(cfg.backbone, cfg.weights or None)
        return m, m.dim, "unit"
    raise ConfigError(
        f"unknown backbone '{cfg.backbone}'; use i3d, tiny, r3d_18, r2plus1d_18 or s3d"
    )


def build_end_to_end_model(cfg: EndToEndConfig, num_classes: int) -> EndToEndModel:
    """The model of ``cfg`` (the one place where the config becomes constructor arguments)."""
    if cfg.method not in ("ua_mil", "mil_max", "mitl"):
        raise ConfigError(
            f"end-to-end training supports ua_mil, mil_max and mitl, not '{cfg.method}'"
        )
    backbone, dim, rgb_range = _backbone(cfg)
    head: KeyframeMethod
    if cfg.method == "mitl":
        head = MITL(feature_dim=dim, num_classes=num_classes, **dataclasses.asdict(cfg.mitl))
    else:
        kw = dataclasses.asdict(cfg.model)
        if cfg.method == "mil_max":
            kw.update(pooling="max", uncertainty=False)
        head = UAMIL(feature_dim=dim, num_classes=num_classes, **kw)
    return EndToEndModel(backbone, head, dim=dim, rgb_range=rgb_range,
                         roi_output=cfg.roi_output, freeze_bn=cfg.freeze_bn)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Data: a keyframe split without features, decoded clips, bags
# --------------------------------------------------------------------------------------------


def _file_stamp(path: Path) -> tuple[int, int]:
    """``(size in bytes, mtime in ns)`` of ``path``; ``(-1, -1)`` when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return int(st.st_size), int(st.st_mtime_ns)


def _video_files(split: KeyframeSplit, folder: str | Path) -> dict[str, Path]:
    """``{video id: file}`` of every video of ``split`` in ``folder`` (``<video_id>.<ext>``).

    Raises:
        WsalError: a video of the split has no file; the message names the expected file.
    """
    from wsal.extract.features import VIDEO_SUFFIXES, list_videos

    folder = Path(folder)
    if not folder.is_dir():
        raise WsalError(f"{folder}: video folder not found")
    videos = dict(list_videos([folder]))
    missing = sorted(set(split.videos) - set(videos))
    if missing:
        raise WsalError(
            f"{folder}: no video file for '{missing[0]}' of split '{split.split}' (looked for "
            f"{folder / missing[0]}{{{','.join(VIDEO_SUFFIXES)}}}; {len(missing)} of "
            f"{len(split.videos)} videos of the split have no file)"
        )
    return {v: videos[v] for v in split.videos}


def _cache_clips(cfg: EndToEndConfig, split: KeyframeSplit, videos: dict[str, Path],
                 path: Path, log: Callable[[str], None]) -> tuple[np.ndarray, dict[str, str]]:  # fmt: skip
    """Decode every keyframe clip once into the memory-mapped uint8 cache ``path``.

    Returns ``(clips (K, L, H, W, 3), failed {video: message})``; clips of failed videos stay
    zero. An existing cache with the same settings is reused.
    """
    from wsal.extract.boxes import _clips
    from wsal.extract.decode import Resize

    h, w = (int(v) for v in cfg.frame_size)
    shape = (split.num_keyframes, cfg.clip_frames, h, w, 3)
    sidecar = path.with_suffix(".json")
    stats = [(v, str(videos[v]), *_file_stamp(videos[v])) for v in split.videos]
    key = {"shape": list(shape), "stride": cfg.frame_stride, "fps": cfg.fps,
           "time_offset": cfg.time_offset, "keyframes": hashlib.sha1(
               split.kf_video.astype(str).tobytes() + split.kf_time.tobytes()).hexdigest(),
           "files": hashlib.sha1(json.dumps(stats).encode()).hexdigest()}  # fmt: skip
    if path.is_file() and sidecar.is_file():
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if meta.get("key") == key:
            return np.load(path, mmap_mode="r"), meta["failed"]
    failed: dict[str, str] = {}
    span = cfg.clip_frames * cfg.frame_stride
    resize = Resize("short_side", min(h, w), min(h, w))
    with atomic_open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|u1", "fortran_order": False, "shape": shape}
        )
        offset = fh.tell()
        for code, vid in enumerate(split.videos):
            kf = np.flatnonzero(split.kf_video_code == code)  # sorted by time
            centres = np.round((split.kf_time[kf] - cfg.time_offset) * cfg.fps).astype(np.int64)
            out = np.zeros((len(kf), *shape[1:]), np.uint8)
            try:
                for j, clip in _clips(videos[vid], centres, span, cfg.fps, resize):
                    t = torch.from_numpy(np.ascontiguousarray(clip[:: cfg.frame_stride]))
                    t = F.interpolate(t.permute(0, 3, 1, 2).float(), size=(h, w),
                                      mode="bilinear", align_corners=False)  # fmt: skip
                    out[j] = t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            except FormatError as e:
                failed[vid] = str(e)
                log(f"failed: {vid}: {e}")
            fh.seek(offset + int(kf[0]) * out[0].nbytes)
            fh.write(out.tobytes())
    write_json_atomic(sidecar, {"key": key, "failed": failed})
    return np.load(path, mmap_mode="r"), failed


class _ClipBags(torch.utils.data.Dataset):
    """Bags of :class:`KeyframeBagDataset` plus the decoded clips of their keyframes.

    An item adds ``clips (k, L, H, W, 3)`` uint8 (the unique keyframes of its instances) and
    ``clip_index (n,)`` int64 (the clip of each instance); with triplets also
    ``pos_clip_index (m_p,)`` and ``neg_clip_index (m_n,)`` into the same ``clips``.
    Negative instances of keyframes in ``bad_kf`` (videos that failed to decode: zero clips)
    are dropped.
    """

    def __init__(self, bags: KeyframeBagDataset, clips: np.ndarray,
                 bad_kf: np.ndarray | None = None):  # fmt: skip
        self.bags, self.clips = bags, clips
        s = bags.split
        self.row_kf = np.empty(len(s.proposals), np.int64)
        self.row_kf[s.order] = np.repeat(np.arange(s.num_keyframes), np.diff(s.kf_start))
        self.bad_kf = bad_kf

    def __len__(self) -> int:
        return len(self.bags)

    def __getitem__(self, index: int) -> dict:
        item = self.bags[index]
        if "pos_rows" not in item:
            kf, inv = np.unique(self.row_kf[item["rows"]], return_inverse=True)
            return {**item, "clips": np.asarray(self.clips[kf]),
                    "clip_index": inv.astype(np.int64)}  # fmt: skip
        if self.bad_kf is not None:
            keep = ~self.bad_kf[self.row_kf[item["neg_rows"]]]
            item.update({k: item[k][keep] for k in ("neg_rows", "neg_feats", "neg_boxes")})
        parts = [item["rows"], item["pos_rows"], item["neg_rows"]]
        kf, inv = np.unique(self.row_kf[np.concatenate(parts)], return_inverse=True)
        a, p, n = np.split(inv.astype(np.int64), np.cumsum([len(parts[0]), len(parts[1])]))
        return {**item, "clips": np.asarray(self.clips[kf]), "clip_index": a,
                "pos_clip_index": p, "neg_clip_index": n}  # fmt: skip


def _collate(items: list[dict]) -> tuple[torch.Tensor, torch.Tensor, KeyframeBatch]:
    """``(clips (K, L, H, W, 3) uint8, clip_index (n,) int64, KeyframeBatch)``.

    ``clip_index`` lists the clip of every real anchor instance (row-major over the batch's
    ``mask``), then, for triplet items, of every positive and every negative instance.
    """
    offsets = np.cumsum([0] + [len(it["clips"]) for it in items])[:-1]
    clips = torch.from_numpy(np.concatenate([it["clips"] for it in items]))
    keys = ("clip_index", "pos_clip_index", "neg_clip_index")
    keys = keys if "pos_clip_index" in items[0] else keys[:1]
    index = np.concatenate([it[k] + o for k in keys for it, o in zip(items, offsets)])
    return clips, torch.from_numpy(index), collate_keyframe(items)


def _batch_order(valid: np.ndarray, batch_size: int, seed: int, step: int, rank: int,
                 world: int) -> tuple[list[int], int]:  # fmt: skip
    """Item indices of global step ``step``: seeded permutations of ``valid``; rank slice."""
    per_epoch = max(1, len(valid) // batch_size)
    epoch, i = divmod(step, per_epoch)
    order = np.random.default_rng((seed, epoch, 104723)).permutation(valid)
    return order[i * batch_size : (i + 1) * batch_size][rank::world].tolist(), epoch


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _optimizer(model: EndToEndModel, cfg: EndToEndConfig, device: torch.device):
    """Adam with the head at ``lr`` and the backbone at ``lr * backbone_lr_scale``."""
    fused = torch.device(device).type in ("cpu", "cuda")
    groups = [
        {"params": list(model.head.parameters()), "lr": cfg.lr},
        {"params": list(model.backbone.parameters()), "lr": cfg.lr * cfg.backbone_lr_scale},
    ]
    return torch.optim.Adam(groups, weight_decay=cfg.weight_decay, fused=fused or None)


def train_end_to_end(
    cfg: EndToEndConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> list[dict[str, float]]:
    """Train backbone + RoI head + keyframe head (ua_mil, mil_max, mitl) from frames.

    Run folder: ``config.yaml``, ``run.json``, ``history.csv`` (one row per step),
    ``clips_<split>.npy`` (+ ``.json``; the decoded clip cache), ``checkpoints/last.pt``
    (resume point) and ``model.pt`` (weights, config, classes). Returns the history.
    """
    run_dir = Path(run_dir)
    safe_path_component(cfg.split, "split")
    if cfg.clip_frames < 1 or cfg.frame_stride < 1 or cfg.steps < 1 or cfg.batch_size < 1:
        raise ConfigError("clip_frames, frame_stride, steps and batch_size must be >= 1")
    if not cfg.data or not cfg.videos:
        raise ConfigError("set data (keyframe folder) and videos (folder of video files)")
    seed_everything(cfg.seed)
    fabric = make_fabric(cfg.device, cfg.precision)
    split = open_keyframe_split(cfg.data, cfg.split, features=False)
    gt = read_ava_gt(split.annotation_path())
    videos = _video_files(split, cfg.videos)
    model = build_end_to_end_model(cfg, split.num_classes)
    optimizer = _optimizer(model, cfg, fabric.device)
    model, optimizer = fabric.setup(model, optimizer)
    if fabric.is_global_zero:
        clips, failed = _cache_clips(cfg, split, videos, run_dir / f"clips_{cfg.split}.npy", log)
    fabric.barrier()
    if not fabric.is_global_zero:
        clips, failed = _cache_clips(cfg, split, videos, run_dir / f"clips_{cfg.split}.npy", log)
    mitl = cfg.method == "mitl"
    bags = KeyframeBagDataset(
        split, bag="keyframe" if mitl else "clip", clip_seconds=cfg.clip_seconds, gt=gt,
        max_instances=cfg.max_instances, train=True, seed=cfg.seed,
        triplets=mitl and (cfg.mitl.triplet or cfg.mitl.similarity),
        negative_gap=cfg.negative_gap,
    )  # fmt: skip
    if failed and fabric.is_global_zero:
        log(f"skipping the bags of {len(failed)} videos that failed to decode")
    bad_codes = np.flatnonzero(np.isin(np.asarray(split.videos), list(failed)))
    ds = _ClipBags(bags, clips, np.isin(split.kf_video_code, bad_codes))
    valid = np.flatnonzero(~np.isin(split.kf_video_code[bags.item_kf[:, 0]], bad_codes))
    if valid.size == 0:
        raise WsalError(f"{split.root}: no bag of split '{cfg.split}' has a decodable video")

    start, history = 0, []
    ckpt = run_dir / "checkpoints" / "last.pt"
    if resume:
        state = load_checkpoint(ckpt)
        unwrap_model(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = int(state["step"]), list(state["history"])
        set_rng_state(state["rng"])
        log(f"resumed from {ckpt} at step {start}")
    elif fabric.is_global_zero:
        save_config(cfg, run_dir / "config.yaml")
    if fabric.is_global_zero:
        write_json_atomic(run_dir / "run.json", {
            "method": cfg.method, "task": "keyframe", "mode": "end_to_end", "seed": cfg.seed,
            "data": str(split.root), "videos": str(cfg.videos), "backbone": cfg.backbone,
            "classes": [split.labelmap.names[i] for i in split.labelmap.ids],
            "class_ids": list(split.labelmap.ids), "feature_dim": unwrap_model(model).dim,
            "bags": {"count": len(bags), "usable": int(valid.size)}, "failed_videos": failed,
            "device": str(fabric.device), "world_size": fabric.world_size,
            "precision": resolve_precision(cfg.precision, str(fabric.device)),
        }, indent=1)  # fmt: skip
    t0 = time.perf_counter()
    model.train()
    for step in range(start, cfg.steps):
        idx, epoch = _batch_order(valid, cfg.batch_size, cfg.seed, step, fabric.global_rank,
                                  fabric.world_size)  # fmt: skip
        bags.set_epoch(epoch)
        clip_t, index, batch = _collate([ds[i] for i in idx])
        clip_t, index, batch = (
            clip_t.to(fabric.device),
            index.to(fabric.device),
            batch.to(fabric.device),
        )
        optimizer.zero_grad(set_to_none=True)
        batch, out = model(clip_t, index, batch)
        losses = unwrap_model(model).head.losses(batch, out)
        if not torch.isfinite(losses["total"]):
            raise WsalError(f"training diverged at step {step + 1}: loss {losses['total'].item()}")
        fabric.backward(losses["total"])
        if cfg.grad_clip:
            fabric.clip_gradients(model, optimizer, max_norm=cfg.grad_clip)
        optimizer.step()
        row = {"step": step + 1, **{f"loss/{k}": float(v.detach()) for k, v in losses.items()}}
        history.append(row)
        if fabric.is_global_zero and (
            (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps
        ):
            log(f"step {step + 1}/{cfg.steps} loss={row['loss/total']:.4f} "
                f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
            save_checkpoint(ckpt, {
                "model": unwrap_model(model).state_dict(), "optimizer": optimizer.state_dict(),
                "step": step + 1, "history": history, "rng": rng_state(),
                "config": config_to_dict(cfg),
            })  # fmt: skip
    if fabric.is_global_zero:
        save_checkpoint(run_dir / "model.pt", {
            "model": unwrap_model(model).state_dict(), "config": config_to_dict(cfg),
            "classes": [split.labelmap.names[i] for i in split.labelmap.ids],
            "class_ids": list(split.labelmap.ids), "feature_dim": unwrap_model(model).dim,
        })  # fmt: skip
        write_history(run_dir / "history.csv", history)
    fabric.barrier()
    return history


def load_end_to_end(
    run_dir: str | Path, *, device: str = "cpu"
) -> tuple[EndToEndConfig, EndToEndModel, dict]:
    """A finished end-to-end run: its config, the model (eval mode) and ``model.pt`` metadata.

    The checkpoint is read with ``weights_only=True``; the backbone is rebuilt without its
    original weights file (the fine-tuned weights are in ``model.pt``).
    """
    from wsal.config import merge_config

    state = load_checkpoint(Path(run_dir) / "model.pt", map_location=device)
    cfg = merge_config(EndToEndConfig(), state["config"])
    cfg = dataclasses.replace(cfg, weights="", random_init=True)
    model = build_end_to_end_model(cfg, len(state["classes"]))
    model.load_state_dict(state["model"])
    return cfg, model.to(device).eval(), state


def run_is_end_to_end(run_dir: str | Path) -> bool:
    """True when ``run_dir`` was written by ``wsal train-e2e`` (``run.json`` mode ``end_to_end``).

    Why: an end-to-end run's ``config.yaml`` names a keyframe method (``ua_mil``) but holds an
    :class:`EndToEndConfig`; ``wsal predict`` dispatches on this before the method's task.
    """
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("mode") == "end_to_end"
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


@torch.no_grad()
def predict_end_to_end(
    run_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    split: str | None = None,
    videos: str | Path | None = None,
    device: str = "auto",
    top_k: int | None = None,
    keyframes_per_batch: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[KeyframeDetections, KeyframeSplit]:
    """Detections of every proposal of ``split`` by a finished end-to-end run.

    The clips of the split's keyframes are decoded once into ``RUN/clips_<split>.npy`` (the
    training cache format, reused when the settings and video files match); chunks of
    keyframes go through the fine-tuned backbone, RoIAlign and the head in float32 (eval
    mode, deterministic), and the ``top_k`` classes of every box are kept.

    Args:
        run_dir: the folder written by ``wsal train-e2e``.
        data_root: AVA-layout keyframe folder (default: the run's ``data``).
        split: split to predict (default: the run's ``test_split``).
        videos: folder of ``<video_id>.<ext>`` files (default: the run's ``videos``).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        top_k: classes per box (default: the run's ``eval.top_k``), clipped to ``[1, C]``.
        keyframes_per_batch: clips per forward pass (default: ``batch_size * max_instances``,
            at most what one training step held).
        log: where progress lines go.

    Returns:
        ``(detections, split)``; detection labels are AVA action ids, boxes normalized.

    Raises:
        WsalError: a video of the split has no file or fails to decode (the file is named),
            or the split's label map differs from the run's.
    """
    from wsal.engine.keyframe import detect_keyframes
    from wsal.engine.runtime import resolve_device

    run_dir = Path(run_dir)
    dev = resolve_device(device)
    cfg, model, state = load_end_to_end(run_dir, device=dev)
    name = safe_path_component(split or cfg.test_split, "split")
    ks = open_keyframe_split(data_root or cfg.data, name, features=False)
    if list(state["class_ids"]) != list(ks.labelmap.ids):
        raise WsalError(
            f"{ks.root}: label map differs from the run's ({len(ks.labelmap.ids)} vs "
            f"{len(state['class_ids'])} classes)"
        )
    files = _video_files(ks, videos or cfg.videos)
    clips, failed = _cache_clips(cfg, ks, files, run_dir / f"clips_{name}.npy", log)
    if failed:
        vid = sorted(failed)[0]
        raise WsalError(
            f"{files[vid]}: cannot decode video '{vid}' of split '{name}' ({failed[vid]}); "
            f"{len(failed)} of {len(ks.videos)} videos failed"
        )
    bags = KeyframeBagDataset(ks, bag="keyframe", gt=None, train=False, seed=cfg.seed)
    ds = _ClipBags(bags, clips)
    k = max(1, min(int(top_k or cfg.eval.top_k), ks.num_classes))
    chunk = keyframes_per_batch or max(1, cfg.batch_size * (cfg.max_instances or 1))
    model.eval()

    def score(items: list[dict]) -> torch.Tensor:
        """``(n, C)`` class probabilities of the items' boxes, row-major."""
        clip_t, index, batch = _collate(items)
        batch = batch.to(dev)
        out = model.predict_scores(clip_t.to(dev), index.to(dev), batch)
        return out.instance_scores[batch.mask]

    return detect_keyframes(ds, ks, score, top_k=k, chunk=chunk), ks
