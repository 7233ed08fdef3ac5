"""The contract of keyframe (person-box) methods: ua_mil, mitl (ARCHITECTURE.md, conventions 3-6).

A keyframe method is an ``nn.Module`` built from keyword-only arguments (its ``Config``
dataclass lists them with the paper's defaults) whose ``forward`` maps a
:class:`~wsal.data.keyframe.KeyframeBatch` of bags to raw per-box scores
(:class:`KeyframeOutput`) and whose ``losses`` returns a dict with a ``"total"`` key. It
registers in the one ``METHODS`` table with ``task = "keyframe"``; ``bag`` says which bags it
trains on (``"clip"`` or ``"keyframe"``) and ``uses_triplets`` whether it needs MITL's
positive/negative bags. Writing detections and Frame-mAP live outside (``wsal.engine.keyframe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from wsal.data.keyframe import KeyframeBatch

__all__ = ["KeyframeOutput", "KeyframeMethod", "masked_max", "NEG_INF"]

NEG_INF = -1e4  # finite "minus infinity" for masked logits (stays finite under bf16/fp16)


@dataclass
class KeyframeOutput:
    """Raw scores of a keyframe method for one batch of bags.

    Attributes:
        instance_scores: ``(B, N, C)`` per-box class probabilities in [0, 1]; 0 on padding.
        bag_scores: ``(B, C)`` bag-level class probabilities (the pooled instance scores).
        extras: method-specific tensors the losses need (logits, uncertainties, embeddings).
    """

    instance_scores: torch.Tensor
    bag_scores: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


class KeyframeMethod(nn.Module):
    """Base class of keyframe methods: ``forward(batch) -> KeyframeOutput``, ``losses(batch, out)``."""

    task: ClassVar[str] = "keyframe"
    Config: ClassVar[type]
    bag: ClassVar[str] = "clip"
    uses_triplets: ClassVar[bool] = False

    def forward(self, batch: KeyframeBatch) -> KeyframeOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def losses(
        self, batch: KeyframeBatch, out: KeyframeOutput
    ) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, *, total_epochs: int) -> dict[str, float]:
        """Hook called before each training epoch (same contract as the temporal methods)."""
        return {}

    def predict_scores(self, batch: KeyframeBatch) -> KeyframeOutput:
        """Raw scores for inference (default: ``forward``; the engine sets eval mode)."""
        return self(batch)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over instances of ``x (B, N, C)`` where ``mask (B, N)``: ``(values (B, C), index (B, C))``.

    Padding never wins; an all-padding bag gives ``NEG_INF`` (finite) and index 0.
    """
    filled = x.masked_fill(~mask.unsqueeze(-1), NEG_INF)
    return filled.max(dim=1)
