"""W-TALC: k-max MIL loss + co-activity similarity loss (Paul, Roy, Roy-Chowdhury, ECCV 2018).

S. Paul, S. Roy, A. K. Roy-Chowdhury, "W-TALC: Weakly-supervised Temporal Activity
Localization and Classification", ECCV 2018, pp. 563-579.

Model (paper Sec. 3.1): snippet features ``x_t`` go through one fully connected layer with
ReLU and dropout (2048 units, dropout 0.7), giving the embedding ``X (T, H)``; a linear
"label space projection" maps it to the class activation sequence ``A (T, C)`` (logits).

Losses (paper Sec. 3.2-3.4), all in snippet indices, ``T`` = real length of a video:

* **k-max MIL (MILL)**: ``k = ceil(T / s)`` with ``s = 8``; the video logit of class ``j`` is
  the mean of the ``k`` largest ``A[:, j]``; softmax over classes; cross-entropy against the
  L1-normalised label vector ``y / ||y||_1``; averaged over the videos of the batch.
* **Co-activity similarity (CASL)**: attention over time ``a^j = softmax_t(A[:, j])``;
  high-attention feature ``H^j = X^T a^j``, low-attention feature
  ``L^j = X^T (1 - a^j) / (T - 1)``; for two videos ``m, n`` that both contain class ``j``,
  with the cosine distance ``d(u, v) = 1 - <u, v> / (||u|| ||v||)``::

      L^j_mn = 1/2 [max(0, d(H^j_m, H^j_n) - d(H^j_m, L^j_n) + delta)
                    + max(0, d(H^j_m, H^j_n) - d(L^j_m, H^j_n) + delta)],   delta = 0.5

  averaged over the pairs of each class, then over the classes that have a pair.
* **Total**: ``lambda * MILL + (1 - lambda) * CASL`` with ``lambda = 0.5``.

Raw scores returned (see ``docs/methods/wtalc.md``): ``cas = sigmoid(A)`` (0 on padding),
``video_scores = sigmoid(k-max pooled logits)``, and in logit units ``logits = A`` (0 on
padding) and ``video_logits`` = the k-max pooled logits. The ``"wtalc_code"`` localizer
preset works on the logits, as the authors' released evaluation (``detectionMAP.py``)
does; the ``"wtalc"`` preset applies the same rule to the probabilities. Training uses the
softmax over classes, exactly as the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.temporal import TemporalBatch
from wsal.methods.base import TemporalMethod, TemporalOutput, masked_topk_mean

__all__ = [
    "WTALC",
    "WTALCConfig",
    "kmax_k",
    "kmax_mil_loss",
    "temporal_softmax",
    "co_activity_features",
    "co_activity_loss",
]


@dataclass
class WTALCConfig:
    """Hyper-parameters of :class:`WTALC` (constructor keywords); defaults = the paper's.

    Paul et al., ECCV 2018, Sec. 3 and 4 ("Implementation details").
    """

    # width of the FC + ReLU + dropout embedding (paper: 2048); None = the input width D, as
    # the authors' code builds it (Linear(n_feature, n_feature): 2048 for 2048-D I3D)
    hidden_dim: int | None = 2048
    dropout: float = 0.7  # dropout after the embedding (paper: 0.7)
    k_divisor: int = 8  # s in k = ceil(T / s) of the k-max MIL loss (paper: 8)
    casl_margin: float = 0.5  # delta of the CASL ranking hinge (paper: 0.5)
    mill_weight: float = 0.5  # lambda: total = lambda MILL + (1 - lambda) CASL (paper: 0.5)


def kmax_k(lengths: torch.Tensor, divisor: int) -> torch.Tensor:
    """``k = ceil(T / s)`` per video, at least 1 (W-TALC Sec. 3.2).

    Args:
        lengths: ``(B,)`` int64 real snippet counts ``T`` (padding excluded).
        divisor: ``s`` (8 in the paper).

    Returns:
        ``(B,)`` int64 ``k``; an empty video gets 1 (its pooled score is 0 anyway).
    """
    k = torch.div(lengths + divisor - 1, divisor, rounding_mode="floor")
    return k.clamp_min(1)


def kmax_mil_loss(
    video_logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """k-max MIL loss: softmax cross-entropy against L1-normalised labels (W-TALC Eq. 2).

    Args:
        video_logits: ``(B, C)`` k-max pooled class logits.
        labels: ``(B, C)`` multi-hot video labels.
        valid: ``(B,)`` bool, videos that enter the mean (at least one real snippet).

    Returns:
        Scalar: mean over valid videos of ``-sum_j y_j / ||y||_1 * log softmax(s)_j``
        (0 when no video is valid; a video without labels contributes 0).
    """
    target = labels / labels.sum(dim=1, keepdim=True).clamp_min(1e-12)
    ce = -(target * F.log_softmax(video_logits, dim=1)).sum(dim=1)  # (B,)
    w = valid.to(ce.dtype)
    return (ce * w).sum() / w.sum().clamp_min(1.0)


def temporal_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the real snippets of each video and class (padding gets 0).

    Args:
        logits: ``(B, T, C)`` class activation sequence (logits).
        mask: ``(B, T)`` bool, True on real snippets.

    Returns:
        ``(B, T, C)`` attention ``a`` with ``sum_t a[b, t, c] = 1`` for every video with a real
        snippet; an all-padding video gets all zeros (finite, no NaN).
    """
    m = mask.unsqueeze(-1)
    filled = logits.masked_fill(~m, torch.finfo(logits.dtype).min)
    return torch.softmax(filled, dim=1) * m.to(logits.dtype)


def co_activity_features(
    embedding: torch.Tensor, attention: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-wise high- and low-attention features of every video (W-TALC Eq. 4-5).

    Args:
        embedding: ``(B, T, H)`` snippet embedding ``X``.
        attention: ``(B, T, C)`` softmax-over-time attention (0 on padding).
        mask: ``(B, T)`` bool, True on real snippets.

    Returns:
        ``(high, low)``, each ``(B, C, H)``: ``high[b, c] = sum_t a[b, t, c] X[b, t]`` and
        ``low[b, c] = sum_t (1 - a[b, t, c]) X[b, t] / (T_b - 1)`` over real snippets
        (``T_b - 1`` clamped to 1, so a one-snippet video has ``low = 0``).
    """
    m = mask.unsqueeze(-1).to(embedding.dtype)
    high = torch.einsum("btc,bth->bch", attention, embedding)
    denom = (mask.sum(dim=1).to(embedding.dtype) - 1.0).clamp_min(1.0)  # (B,)
    low_weight = (1.0 - attention) * m / denom.view(-1, 1, 1)
    low = torch.einsum("btc,bth->bch", low_weight, embedding)
    return high, low


def co_activity_loss(
    high: torch.Tensor,
    low: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor,
    margin: float,
) -> torch.Tensor:
    """Co-activity similarity loss over all pairs of videos sharing a class (W-TALC Eq. 6-8).

    Vectorized over ``(B, B, C)``: no loop over videos, pairs or classes.

    Args:
        high: ``(B, C, H)`` high-attention features.
        low: ``(B, C, H)`` low-attention features.
        labels: ``(B, C)`` multi-hot video labels (``> 0`` means the class is present).
        valid: ``(B,)`` bool, videos that may form pairs (>= 2 real snippets, so a
            low-attention feature exists).
        margin: ``delta`` of the ranking hinge.

    Returns:
        Scalar: per class the mean of ``L^j_mn`` over unordered pairs ``m != n`` that both
        contain ``j``, then the mean over classes with at least one pair (0 if none).
    """
    hn = F.normalize(high, dim=-1, eps=1e-8)
    ln = F.normalize(low, dim=-1, eps=1e-8)
    d_hh = 1.0 - torch.einsum("mch,nch->mnc", hn, hn)  # d(H_m, H_n): (B, B, C)
    d_hl = 1.0 - torch.einsum("mch,nch->mnc", hn, ln)  # d(H_m, L_n): (B, B, C)
    d_lh = d_hl.transpose(0, 1)  # d(L_m, H_n) = d(H_n, L_m)
    pair_loss = 0.5 * (F.relu(d_hh - d_hl + margin) + F.relu(d_hh - d_lh + margin))
    present = (labels > 0) & valid.unsqueeze(1)  # (B, C)
    b = labels.shape[0]
    off_diag = ~torch.eye(b, dtype=torch.bool, device=labels.device)
    pairs = (present.unsqueeze(1) & present.unsqueeze(0) & off_diag.unsqueeze(-1)).to(
        pair_loss.dtype
    )  # (B, B, C), ordered pairs: each unordered pair twice, L^j_mn = L^j_nm
    per_class_n = pairs.sum(dim=(0, 1))  # (C,)
    per_class = (pair_loss * pairs).sum(dim=(0, 1)) / per_class_n.clamp_min(1.0)
    has_pair = (per_class_n > 0).to(per_class.dtype)
    return (per_class * has_pair).sum() / has_pair.sum().clamp_min(1.0)


class WTALC(TemporalMethod):
    """W-TALC (Paul et al., ECCV 2018): embedding, linear CAS, k-max MIL loss and CASL.

    Args:
        feature_dim: snippet feature dimension ``D``.
        num_classes: number of classes ``C``.
        hidden_dim, dropout, k_divisor, casl_margin, mill_weight: see :class:`WTALCConfig`.

    ``forward`` returns ``cas (B, T, C)`` = sigmoid of the snippet logits (0 on padding),
    ``video_scores (B, C)`` = sigmoid of the k-max pooled logits, no actionness,
    ``logits (B, T, C)`` = the snippet logits ``A`` (0 on padding), ``video_logits (B, C)`` =
    the k-max pooled logits, and extras ``logits (B, T, C)`` (unmasked, for the losses),
    ``video_logits (B, C)``, ``embedding (B, T, H)``.
    """

    Config = WTALCConfig
    localizer_preset = "wtalc"

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        hidden_dim: int | None = 2048,
        dropout: float = 0.7,
        k_divisor: int = 8,
        casl_margin: float = 0.5,
        mill_weight: float = 0.5,
    ) -> None:
        super().__init__()
        if k_divisor < 1:
            raise ValueError(f"k_divisor must be >= 1, got {k_divisor}")
        if not 0.0 <= mill_weight <= 1.0:
            raise ValueError(f"mill_weight must be in [0, 1], got {mill_weight}")
        if hidden_dim is None:
            hidden_dim = feature_dim
        if hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1 or None, got {hidden_dim}")
        self.embed = nn.Sequential(
            nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout)
        )
        self.classifier = nn.Linear(hidden_dim, num_classes)  # label space projection
        self.k_divisor = k_divisor
        self.casl_margin = casl_margin
        self.mill_weight = mill_weight

    def forward(self, batch: TemporalBatch) -> TemporalOutput:
        """Raw scores of a batch (shapes in the class docstring)."""
        embedding = self.embed(batch.feats)  # X: (B, T, H)
        logits = self.classifier(embedding)  # A: (B, T, C)
        k = kmax_k(batch.lengths, self.k_divisor)
        video_logits = masked_topk_mean(logits, batch.mask, k)  # (B, C)
        mask = batch.mask.unsqueeze(-1).to(logits.dtype)
        return TemporalOutput(
            cas=torch.sigmoid(logits) * mask,
            video_scores=torch.sigmoid(video_logits),
            logits=logits * mask,
            video_logits=video_logits,
            extras={"logits": logits, "video_logits": video_logits, "embedding": embedding},
        )

    def losses(self, batch: TemporalBatch, out: TemporalOutput) -> dict[str, torch.Tensor]:
        """``{"total", "mill", "casl"}``: ``total = lambda MILL + (1 - lambda) CASL``."""
        lengths = batch.lengths
        mill = kmax_mil_loss(out.extras["video_logits"], batch.video_labels, lengths > 0)
        attention = temporal_softmax(out.extras["logits"], batch.mask)
        high, low = co_activity_features(out.extras["embedding"], attention, batch.mask)
        casl = co_activity_loss(high, low, batch.video_labels, lengths >= 2, self.casl_margin)
        total = self.mill_weight * mill + (1.0 - self.mill_weight) * casl
        return {"total": total, "mill": mill, "casl": casl}
