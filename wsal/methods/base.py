"""The contract every method implements (ARCHITECTURE.md, conventions 3-6).

A temporal method is an ``nn.Module`` built from keyword-only arguments (its ``Config``
dataclass lists them with the paper's defaults), whose ``forward`` maps a
:class:`~wsal.data.temporal.TemporalBatch` to raw scores (:class:`TemporalOutput`) and whose
``losses`` returns a dict with a ``"total"`` key. Localization, linking and evaluation never
live in a method; they run on the saved raw scores.

Methods with state learned outside gradients (EM pseudo-labels) keep it in buffers and react
to :meth:`TemporalMethod.on_epoch_start`, so checkpoints and resumption capture it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from wsal.data.temporal import TemporalBatch

__all__ = ["TemporalOutput", "TemporalMethod", "masked_mean", "masked_topk_mean"]


@dataclass
class TemporalOutput:
    """Raw scores of a temporal method for one batch.

    Attributes:
        cas: ``(B, T, C)`` per-snippet class scores as probabilities in [0, 1] (the class
            activation sequence the localizer thresholds).
        video_scores: ``(B, C)`` video-level class probabilities.
        actionness: ``(B, T)`` class-agnostic foreground probability, or None.
        logits: ``(B, T, C)`` unbounded per-snippet class scores (logit units), or None; for
            localizers that work in logit units (``LocalizerConfig.units == "logit"``), e.g.
            the procedure of an authors' released code.
        video_logits: ``(B, C)`` video-level class scores in the same logit units, or None.
        extras: method-specific tensors the losses need (logits, embeddings, attention).
    """

    cas: torch.Tensor
    video_scores: torch.Tensor
    actionness: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    video_logits: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


class TemporalMethod(nn.Module):
    """Base class of temporal methods: ``forward(batch) -> TemporalOutput``, ``losses(batch, out)``.

    Subclasses set ``Config`` (a dataclass whose fields are the constructor's keyword-only
    arguments) and ``localizer_preset`` (the name of their paper's post-processing preset in
    :mod:`wsal.localize.temporal`).
    """

    task: ClassVar[str] = "temporal"
    Config: ClassVar[type]
    localizer_preset: ClassVar[str] = "multi_threshold"

    def forward(self, batch: TemporalBatch) -> TemporalOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def losses(
        self, batch: TemporalBatch, out: TemporalOutput
    ) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, *, total_epochs: int) -> dict[str, float]:
        """Hook called before each training epoch; returns e.g. an lr multiplier ``{"lr_scale": x}``."""
        return {}

    def predict_scores(self, batch: TemporalBatch) -> TemporalOutput:
        """Raw scores for inference (default: ``forward`` in eval mode without gradients)."""
        return self(batch)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Mean of ``x (B, T, ...)`` over real snippets along ``dim``; all-padding rows give 0."""
    m = mask.to(x.dtype)
    while m.dim() < x.dim():
        m = m.unsqueeze(-1)
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0)


def masked_topk_mean(x: torch.Tensor, mask: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Mean of the ``k[b]`` largest real-snippet values of ``x (B, T, C)`` per video and class.

    ``k (B,)`` int64 >= 1 (clipped to the video's length). Padding never enters the top-k;
    an all-padding video yields 0. Vectorized: one sort, one cumulative sum, one gather.
    """
    b, t, _ = x.shape
    neg = torch.finfo(x.dtype).min
    filled = x.masked_fill(~mask.unsqueeze(-1), neg)
    top, _ = filled.sort(dim=1, descending=True)
    lengths = mask.sum(1)
    kk = torch.minimum(k.clamp_min(1), lengths.clamp_min(1)).long()
    valid = torch.arange(t, device=x.device).unsqueeze(0) < kk.unsqueeze(1)
    valid = valid & (torch.arange(t, device=x.device).unsqueeze(0) < lengths.unsqueeze(1))
    top = torch.where(valid.unsqueeze(-1), top, torch.zeros_like(top))
    return top.sum(1) / kk.unsqueeze(-1).to(x.dtype)
