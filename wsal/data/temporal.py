"""Snippet-feature datasets, the temporal batch vocabulary, padding and batch samplers.

One batch vocabulary for every temporal method (see :class:`TemporalBatch`):
``feats (B, T, D)`` float32, ``mask (B, T)`` bool (True = real snippet), ``video_labels (B, C)``
float32 multi-hot, ``snippet_index (B, T)`` int64 original snippet index of each position
(-1 on padding), ``video_index (B,)`` int64 index into the dataset.

Videos longer than ``max_snippets`` are sampled (W-TALC style random crop or uniform
sampling); sampling is seeded by ``(seed, epoch, video)`` so a run is reproducible and a
resumed run sees the same samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from wsal.io.features import TemporalFolder

__all__ = [
    "TemporalBatch",
    "SnippetDataset",
    "collate_temporal",
    "ClassBalancedBatchSampler",
    "sample_snippets",
]

Sampling = Literal["random_crop", "uniform", "none"]


@dataclass
class TemporalBatch:
    """A padded batch of videos (the temporal batch vocabulary).

    Attributes:
        feats: ``(B, T, D)`` float32 snippet features, zero on padding.
        mask: ``(B, T)`` bool, True for real snippets.
        video_labels: ``(B, C)`` float32 multi-hot video-level labels.
        snippet_index: ``(B, T)`` int64 original snippet index, -1 on padding.
        video_index: ``(B,)`` int64 index of each video in its dataset.
    """

    feats: torch.Tensor
    mask: torch.Tensor
    video_labels: torch.Tensor
    snippet_index: torch.Tensor
    video_index: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> TemporalBatch:
        """The same batch on ``device``."""
        return TemporalBatch(
            *(
                getattr(self, f).to(device, non_blocking=non_blocking)
                for f in self.__dataclass_fields__
            )
        )

    @property
    def lengths(self) -> torch.Tensor:
        """``(B,)`` int64 number of real snippets per video."""
        return self.mask.sum(dim=1)

    def __len__(self) -> int:
        return int(self.feats.shape[0])


def sample_snippets(
    length: int, max_snippets: int | None, mode: Sampling, rng: np.random.Generator | None
) -> np.ndarray:
    """Indices of the snippets used for a video of ``length`` snippets.

    ``random_crop`` takes a random contiguous window (W-TALC); ``uniform`` takes
    ``max_snippets`` evenly spaced snippets, jittered within their stride when ``rng`` is
    given (training) and centred otherwise (evaluation); ``none`` keeps everything.
    """
    if max_snippets is None or length <= max_snippets or mode == "none":
        return np.arange(length, dtype=np.int64)
    if mode == "random_crop":
        start = (
            int(rng.integers(0, length - max_snippets + 1))
            if rng is not None
            else (length - max_snippets) // 2
        )
        return np.arange(start, start + max_snippets, dtype=np.int64)
    edges = np.linspace(0, length, max_snippets + 1)
    if rng is None:
        idx = np.floor((edges[:-1] + edges[1:]) / 2)
    else:
        idx = np.floor(edges[:-1] + rng.random(max_snippets) * (edges[1:] - edges[:-1]))
    return np.clip(idx.astype(np.int64), 0, length - 1)


class SnippetDataset(torch.utils.data.Dataset):
    """Videos of one split of a temporal dataset folder, as ``(features, labels)`` items.

    Args:
        folder: an opened :class:`~wsal.io.features.TemporalFolder`.
        split: split name (``"train"``/``"test"``).
        videos: optional subset of the split's videos (e.g. a validation carve-out).
        max_snippets: sample at most this many snippets per video (None: all).
        sampling: how to sample long videos (see :func:`sample_snippets`).
        train: draw random samples (True) or deterministic ones (False).
        seed: base seed of the sampling; :meth:`set_epoch` changes the draw per epoch.
        cache: keep loaded features in memory (features are validated once).
    """

    def __init__(
        self,
        folder: TemporalFolder,
        split: str,
        *,
        videos: Sequence[str] | None = None,
        max_snippets: int | None = None,
        sampling: Sampling = "uniform",
        train: bool = True,
        seed: int = 0,
        cache: bool = True,
    ) -> None:
        self.folder = folder
        self.split = split
        self.videos = list(videos) if videos is not None else list(folder.splits[split])
        self.max_snippets = max_snippets
        self.sampling = sampling
        self.train = train
        self.seed = seed
        self.epoch = 0
        self._cache: dict[int, np.ndarray] | None = {} if cache else None
        labels = folder.gt.video_labels()
        zero = np.zeros(len(folder.classes), dtype=np.float32)
        self.labels = (
            np.stack([labels.get(v, zero) for v in self.videos])
            if self.videos
            else np.zeros((0, len(zero)), np.float32)
        )

    @property
    def num_classes(self) -> int:
        """Number of classes ``C``."""
        return len(self.folder.classes)

    @property
    def feature_dim(self) -> int:
        """Feature dimension ``D`` (all streams concatenated)."""
        return int(self.features(0).shape[1])

    def set_epoch(self, epoch: int) -> None:
        """Change the random sampling draw (call once per epoch)."""
        self.epoch = int(epoch)

    def features(self, index: int) -> np.ndarray:
        """All snippet features ``(T, D)`` float32 of video ``index`` (validated, cached)."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        feats = self.folder.load_features(self.split, self.videos[index])
        if self._cache is not None:
            self._cache[index] = feats
        return feats

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, np.ndarray | int]:
        feats = self.features(index)
        rng = np.random.default_rng((self.seed, self.epoch, index)) if self.train else None
        idx = sample_snippets(feats.shape[0], self.max_snippets, self.sampling, rng)
        contiguous = idx.size > 0 and bool(np.all(np.diff(idx) == 1))
        return {
            # a window (random crop, short video) is a view; collation copies it once anyway
            "feats": feats[int(idx[0]) : int(idx[-1]) + 1] if contiguous else feats[idx],
            "snippet_index": idx,
            "video_labels": self.labels[index],
            "video_index": index,
        }


def collate_temporal(items: Sequence[dict]) -> TemporalBatch:
    """Pad a list of dataset items to a :class:`TemporalBatch` (longest video sets ``T``)."""
    b = len(items)
    t = max(int(it["feats"].shape[0]) for it in items)
    d = int(items[0]["feats"].shape[1])
    feats = np.zeros((b, t, d), dtype=np.float32)
    snip = np.full((b, t), -1, dtype=np.int64)
    for i, it in enumerate(items):
        n = it["feats"].shape[0]
        feats[i, :n] = it["feats"]
        snip[i, :n] = it["snippet_index"]
    return TemporalBatch(
        feats=torch.from_numpy(feats),
        mask=torch.from_numpy(snip >= 0),
        video_labels=torch.from_numpy(
            np.stack([np.asarray(it["video_labels"], np.float32) for it in items])
        ),
        snippet_index=torch.from_numpy(snip),
        video_index=torch.as_tensor([int(it["video_index"]) for it in items], dtype=torch.int64),
    )


class ClassBalancedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of ``classes_per_batch`` classes x ``videos_per_class`` videos (DML, WACV 2020).

    Each batch draws ``classes_per_batch`` classes (among those with a video; distinct, or
    with replacement as the DML authors' code does when ``class_replacement``), then
    ``videos_per_class`` videos of each (without replacement when the class has enough,
    with replacement otherwise). Videos may repeat across classes when they carry several
    labels. An epoch has ``ceil(V / batch_size)`` batches. Deterministic given
    ``(seed, epoch)``; ``rank``/``world_size`` give each DDP process a disjoint slice of every
    global batch, so the per-step composition is the paper's across processes.
    """

    def __init__(
        self,
        video_labels: np.ndarray,
        *,
        classes_per_batch: int = 4,
        videos_per_class: int = 5,
        seed: int = 0,
        num_batches: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        class_replacement: bool = False,
    ) -> None:
        labels = np.asarray(video_labels) > 0
        self.members = [np.flatnonzero(labels[:, c]) for c in range(labels.shape[1])]
        self.valid_classes = np.array(
            [c for c, m in enumerate(self.members) if m.size], dtype=np.int64
        )
        if self.valid_classes.size == 0:
            raise ValueError("ClassBalancedBatchSampler: no class has a positive video")
        self.class_replacement = bool(class_replacement)
        self.classes_per_batch = (
            classes_per_batch
            if class_replacement
            else min(classes_per_batch, int(self.valid_classes.size))
        )
        self.videos_per_class = videos_per_class
        self.seed = seed
        self.epoch = 0
        self.rank, self.world_size = rank, world_size
        batch = self.classes_per_batch * videos_per_class
        self.num_batches = num_batches or max(1, -(-labels.shape[0] // batch))

    def set_epoch(self, epoch: int) -> None:
        """Change the draw (call once per epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch, 7919))
        for _ in range(self.num_batches):
            classes = rng.choice(
                self.valid_classes, size=self.classes_per_batch, replace=self.class_replacement
            )
            batch: list[int] = []
            for c in classes:
                m = self.members[c]
                batch.extend(
                    rng.choice(
                        m, size=self.videos_per_class, replace=m.size < self.videos_per_class
                    ).tolist()
                )
            yield batch[self.rank :: self.world_size]
