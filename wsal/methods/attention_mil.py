"""Attention MIL: STPN (Nguyen et al., CVPR 2018) and UntrimmedNets-style soft selection.

P. Nguyen, T. Liu, G. Prasad, B. Han, "Weakly Supervised Action Localization by Sparse
Temporal Pooling Network", CVPR 2018 (STPN). L. Wang, Y. Xiong, D. Lin, L. Van Gool,
"UntrimmedNets for Weakly Supervised Action Recognition and Detection", CVPR 2017.

Model, all in snippet indices (``T_b`` = real length of video ``b``):

* class-agnostic attention ``a_t = sigmoid(FC(ReLU(FC(x_t))))`` (STPN's attention module);
* per-snippet class logits ``s_t = W x_t + b`` (one linear classifier, shared with the
  video level);
* video logits, by the ablation switch ``pool``:

  - ``"features"`` (STPN): attention-weighted temporal pooling of the *features*,
    ``xbar = (1 / T_b) sum_t a_t x_t``, then ``W xbar + b``;
  - ``"scores"`` (UntrimmedNets-style soft selection): attention-normalised average of the
    snippet *scores*, ``sum_t a_t s_t / sum_t a_t``;

* multi-label sigmoid classification with binary cross-entropy, plus the sparsity loss
  ``beta * (1 / T_b) sum_t a_t`` (STPN's ``||a||_1``, divided by the length);
* T-CAS ``cas[t, c] = a_t * sigmoid(s_t[c])`` (STPN's attention-weighted T-CAS), returned as
  ``cas``; ``actionness = a``; ``video_scores = sigmoid(video logits)``. With
  ``pool="scores"`` the classification only sees attention *ratios*, so ``a`` is replaced by
  the relative attention ``a_t / max_t a_t`` in the T-CAS and the actionness.

STPN sums ``a_t x_t`` over a fixed number of sampled segments (400); with variable lengths we
divide by ``T_b`` so the pooled feature has the same scale for every video (for a fixed
``T`` this is the paper's pooling up to a constant the classifier absorbs).
See ``docs/methods/attention_mil.md`` for the deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.temporal import TemporalBatch
from wsal.methods.base import TemporalMethod, TemporalOutput

__all__ = [
    "AttentionMIL",
    "AttentionMILConfig",
    "Pooling",
    "attention_pool_features",
    "attention_pool_scores",
    "relative_attention",
    "sparsity_loss",
    "video_bce_loss",
]

Pooling = Literal["features", "scores"]


@dataclass
class AttentionMILConfig:
    """Hyper-parameters of :class:`AttentionMIL` (constructor keywords).

    STPN (Nguyen et al., CVPR 2018): attention module FC-ReLU-FC-sigmoid and
    ``L = L_class + beta ||a||_1`` with ``beta = 1e-4`` on the L1 *sum* over its ``T = 400``
    sampled segments. wsal's sparsity term is the *mean* over real snippets (independent of
    the video length), so the STPN-equivalent weight is ``400 * 1e-4 = 0.04``. The hidden
    width (256) is not fixed by the text we follow; 256 is the common choice.
    """

    attention_hidden: int = 256  # width of the attention module's hidden FC layer
    sparsity_weight: float = 0.04  # beta on the per-snippet mean = STPN's 1e-4 x T=400 (sum)
    pool: Pooling = "features"  # "features" (STPN) | "scores" (UntrimmedNets-style)


def attention_pool_features(
    feats: torch.Tensor, attention: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """STPN attention-weighted temporal pooling of features, divided by the real length.

    Args:
        feats: ``(B, T, D)`` snippet features.
        attention: ``(B, T)`` attention in [0, 1].
        mask: ``(B, T)`` bool, True on real snippets.

    Returns:
        ``(B, D)``: ``(1 / T_b) sum_t a_t x_t`` over real snippets (0 for an empty video).
    """
    w = attention * mask.to(attention.dtype)  # (B, T)
    lengths = mask.sum(dim=1).to(feats.dtype).clamp_min(1.0)
    return torch.einsum("bt,btd->bd", w, feats) / lengths.unsqueeze(-1)


def attention_pool_scores(
    scores: torch.Tensor, attention: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """UntrimmedNets-style soft selection: attention-normalised average of snippet scores.

    Args:
        scores: ``(B, T, C)`` snippet class logits.
        attention: ``(B, T)`` attention in [0, 1].
        mask: ``(B, T)`` bool, True on real snippets.
        eps: floor of ``sum_t a_t`` (keeps an empty video finite: its result is 0).

    Returns:
        ``(B, C)``: ``sum_t a_t s_t / sum_t a_t`` over real snippets.
    """
    w = attention * mask.to(attention.dtype)  # (B, T)
    total = w.sum(dim=1, keepdim=True).clamp_min(eps)  # (B, 1)
    return torch.einsum("bt,btc->bc", w, scores) / total


def relative_attention(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention divided by its maximum over the real snippets of each video.

    Soft selection (``pool="scores"``) is invariant to the scale of the attention, so only
    its ratios are learned (and the sparsity term drives the scale towards 0); the
    localization signal of that mode is therefore the relative attention.

    Args:
        attention: ``(B, T)`` attention in [0, 1].
        mask: ``(B, T)`` bool, True on real snippets.

    Returns:
        ``(B, T)`` in [0, 1], 1 at each video's most attended snippet, 0 on padding.
    """
    w = attention * mask.to(attention.dtype)
    peak = w.amax(dim=1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return w / peak


def sparsity_loss(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """STPN's L1 sparsity of the attention, as the mean over real snippets.

    Args:
        attention: ``(B, T)`` attention in [0, 1] (non-negative, so L1 = sum).
        mask: ``(B, T)`` bool, True on real snippets.

    Returns:
        Scalar: mean over videos with a real snippet of ``(1 / T_b) sum_t a_t`` (0 if none).
    """
    m = mask.to(attention.dtype)
    lengths = m.sum(dim=1)
    per_video = (attention * m).sum(dim=1) / lengths.clamp_min(1.0)
    valid = (lengths > 0).to(attention.dtype)
    return (per_video * valid).sum() / valid.sum().clamp_min(1.0)


def video_bce_loss(
    video_logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Multi-label binary cross-entropy of the video logits (STPN's classification loss).

    Args:
        video_logits: ``(B, C)`` video-level class logits.
        labels: ``(B, C)`` multi-hot labels.
        valid: ``(B,)`` bool, videos with at least one real snippet.

    Returns:
        Scalar: BCE averaged over classes and valid videos (0 if none is valid).
    """
    bce = F.binary_cross_entropy_with_logits(video_logits, labels, reduction="none").mean(1)
    w = valid.to(bce.dtype)
    return (bce * w).sum() / w.sum().clamp_min(1.0)


class AttentionMIL(TemporalMethod):
    """Attention MIL (STPN / UntrimmedNets style): attention pooling, BCE, L1 sparsity.

    Args:
        feature_dim: snippet feature dimension ``D``.
        num_classes: number of classes ``C``.
        attention_hidden, sparsity_weight, pool: see :class:`AttentionMILConfig`.

    ``forward`` returns ``cas (B, T, C)`` = T-CAS ``a_t * sigmoid(s_t)`` (0 on padding),
    ``video_scores (B, C)`` = sigmoid of the pooled video logits, ``actionness (B, T)`` = the
    attention (0 on padding; with ``pool="scores"`` the relative attention
    :func:`relative_attention`, which also replaces ``a`` in the T-CAS), in logit units the
    snippet logits ``s_t`` (0 on padding) and the video logits (for presets with
    ``units="logit"``), and extras
    ``snippet_logits (B, T, C)``, ``video_logits (B, C)``, ``attention (B, T)`` (the raw
    sigmoid attention, which the sparsity loss uses).
    """

    Config = AttentionMILConfig
    localizer_preset = "attention_mil"

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        attention_hidden: int = 256,
        sparsity_weight: float = 0.04,
        pool: Pooling = "features",
    ) -> None:
        super().__init__()
        if pool not in ("features", "scores"):
            raise ValueError(f"pool must be 'features' or 'scores', got {pool!r}")
        self.attention = nn.Sequential(
            nn.Linear(feature_dim, attention_hidden), nn.ReLU(), nn.Linear(attention_hidden, 1)
        )
        self.classifier = nn.Linear(feature_dim, num_classes)
        self.sparsity_weight = sparsity_weight
        self.pool = pool

    def forward(self, batch: TemporalBatch) -> TemporalOutput:
        """Raw scores of a batch (shapes in the class docstring)."""
        mask = batch.mask.to(batch.feats.dtype)
        attention = torch.sigmoid(self.attention(batch.feats).squeeze(-1)) * mask  # (B, T)
        snippet_logits = self.classifier(batch.feats)  # (B, T, C)
        if self.pool == "features":
            pooled = attention_pool_features(batch.feats, attention, batch.mask)  # (B, D)
            video_logits = self.classifier(pooled)
            actionness = attention
        else:
            video_logits = attention_pool_scores(snippet_logits, attention, batch.mask)
            actionness = relative_attention(attention, batch.mask)
        tcas = actionness.unsqueeze(-1) * torch.sigmoid(snippet_logits) * mask.unsqueeze(-1)
        return TemporalOutput(
            cas=tcas,
            video_scores=torch.sigmoid(video_logits),
            actionness=actionness,
            logits=snippet_logits * mask.unsqueeze(-1),
            video_logits=video_logits,
            extras={
                "snippet_logits": snippet_logits,
                "video_logits": video_logits,
                "attention": attention,
            },
        )

    def losses(self, batch: TemporalBatch, out: TemporalOutput) -> dict[str, torch.Tensor]:
        """``{"total", "bce", "sparsity"}``: ``total = bce + beta * sparsity``."""
        valid = batch.lengths > 0
        bce = video_bce_loss(out.extras["video_logits"], batch.video_labels, valid)
        sparsity = sparsity_loss(out.extras["attention"], batch.mask)
        return {"total": bce + self.sparsity_weight * sparsity, "bce": bce, "sparsity": sparsity}
