"""Plain top-k MIL: the reference baseline every temporal method must beat.

A video is a bag of snippets; the video score of class c is the sigmoid of the mean of the
``k = ceil(T / k_divisor)`` largest snippet logits of c (the k-max MIL pooling of W-TALC,
Paul et al., ECCV 2018), trained with binary cross-entropy against the video labels. No
metric loss, no attention, no pseudo-labels: the simplest sound weakly-supervised localizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.temporal import TemporalBatch
from wsal.methods.base import TemporalMethod, TemporalOutput, masked_topk_mean

__all__ = ["MilTopK", "MilTopKConfig"]


@dataclass
class MilTopKConfig:
    """Hyper-parameters of :class:`MilTopK` (constructor keywords)."""

    hidden_dim: int = 512  # embedding width (FC + ReLU + dropout)
    dropout: float = 0.5
    k_divisor: int = 8  # k = ceil(T / k_divisor), as in W-TALC


class MilTopK(TemporalMethod):
    """Top-k MIL over snippet logits with BCE (the baseline of the temporal comparisons).

    Args:
        feature_dim: snippet feature dimension ``D``.
        num_classes: number of classes ``C``.
        hidden_dim, dropout, k_divisor: see :class:`MilTopKConfig`.
    """

    Config = MilTopKConfig
    localizer_preset = "wtalc"

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        hidden_dim: int = 512,
        dropout: float = 0.5,
        k_divisor: int = 8,
    ):
        super().__init__()
        self.embed = nn.Sequential(
            nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout)
        )
        self.classifier = nn.Linear(hidden_dim, num_classes)
        self.k_divisor = k_divisor

    def forward(self, batch: TemporalBatch) -> TemporalOutput:
        """``cas`` = sigmoid of snippet logits ``(B, T, C)``; video scores from top-k pooling."""
        logits = self.classifier(self.embed(batch.feats))  # (B, T, C)
        k = torch.div(batch.lengths + self.k_divisor - 1, self.k_divisor, rounding_mode="floor")
        video_logits = masked_topk_mean(logits, batch.mask, k)  # (B, C)
        return TemporalOutput(
            cas=torch.sigmoid(logits) * batch.mask.unsqueeze(-1),
            video_scores=torch.sigmoid(video_logits),
            extras={"video_logits": video_logits},
        )

    def losses(self, batch: TemporalBatch, out: TemporalOutput) -> dict[str, torch.Tensor]:
        """Binary cross-entropy of the pooled video logits against the video labels."""
        bce = F.binary_cross_entropy_with_logits(out.extras["video_logits"], batch.video_labels)
        return {"total": bce, "bce": bce}
