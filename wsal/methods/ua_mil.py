"""Uncertainty-aware multiple instance learning (Arnab, Sun, Nagrani, Schmid, ECCV 2020).

``../shared/papers/001_30ef4a3de708522c.txt``. A bag is all person instances (here: proposal
boxes at keyframes) of a clip whose only label is the set of actions in the clip; instances
are sampled uniformly up to a maximum per bag (Sec. 3.2, done by the dataset). The network
predicts per-instance class logits and, per instance and class, ``v = log sigma^2`` through
a softplus (Sec. 3.4). Instance probabilities are pooled over the bag (Eq. 3-5: max,
generalised mean with parameter ``r``, LSE with parameter ``r``; max is the paper's choice)
and the loss is the uncertainty-weighted binary cross-entropy of Eq. 6,
``exp(-v) * BCE + v``, with ``v`` of the instance selected by max pooling. With
``uncertainty=False`` the loss is the plain BCE of the pooled scores; with max pooling that
is the plain max-pooling MIL baseline (``configs/mil_max/synthetic.yaml``).

The fully supervised upper bound (Sec. 4.3, "FS") trains the same network with a BCE per
instance against ground-truth labels assigned to proposals with IoU > 0.5; the dataset
provides those labels (``weak.supervision=full``) and :meth:`UAMIL.losses` uses them.

Deviation (``docs/methods/ua_mil.md``): the paper fine-tunes SlowFast end to end; wsal
trains a small MLP trunk on frozen box features in its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.keyframe import KeyframeBatch
from wsal.methods.keyframe_base import KeyframeMethod, KeyframeOutput, masked_max

__all__ = ["UAMIL", "UAMILConfig", "mil_pool", "uncertainty_bce"]

Pooling = Literal["max", "mean", "lse", "gmean"]


@dataclass
class UAMILConfig:
    """Hyper-parameters of :class:`UAMIL` (constructor keywords; defaults = the paper's)."""

    hidden_dim: int = 512  # trunk width (stands in for the fine-tuned SlowFast head)
    dropout: float = 0.5
    pooling: Pooling = "max"  # Sec. 4.2: max pooling performs best
    r: float = 1.0  # generalised-mean / LSE parameter (Sec. 4.2: r = 1)
    uncertainty: bool = True  # Eq. 6; False: plain BCE of the pooled scores


def mil_pool(
    probs: torch.Tensor, mask: torch.Tensor, pooling: Pooling = "max", r: float = 1.0
) -> torch.Tensor:
    """Bag probabilities ``(B, C)`` from instance probabilities ``probs (B, N, C)`` (Eq. 3-5).

    ``max``: ``max_j p_j``; ``gmean``: ``((1/|j|) sum_j p_j^r)^(1/r)``; ``lse``:
    ``(1/r) log((1/|j|) sum_j exp(r p_j))``; ``mean`` = ``gmean`` with ``r = 1``. Only
    instances with ``mask (B, N)`` count; an all-padding bag gives 0.
    """
    m = mask.unsqueeze(-1).to(probs.dtype)
    count = m.sum(dim=1)
    nonempty = count > 0
    count = count.clamp_min(1.0)
    if pooling == "max":
        out = masked_max(probs, mask)[0]
    elif pooling == "mean" or (pooling == "gmean" and r == 1.0):
        out = (probs * m).sum(1) / count
    elif pooling == "gmean":  # scaled by the (constant) bag max so p^r cannot underflow
        mx = masked_max(probs, mask)[0].detach().clamp_min(1e-12)
        ratio = (probs / mx.unsqueeze(1)).clamp(1e-12, 1.0).masked_fill(~mask.unsqueeze(-1), 1.0)
        out = mx * (((ratio**r) * m).sum(1) / count).clamp_min(1e-30) ** (1.0 / r)
    elif pooling == "lse":
        mx = masked_max(probs, mask)[0].detach()  # stabilised log-mean-exp
        z = (r * (probs - mx.unsqueeze(1))).masked_fill(~mask.unsqueeze(-1), -torch.inf)
        s = torch.exp(z).sum(1) / count
        out = mx + torch.log(s.clamp_min(1e-30)) / r
    else:
        raise ValueError(f"unknown pooling {pooling!r}; use max, mean, lse or gmean")
    return torch.where(nonempty, out, torch.zeros_like(out))


def uncertainty_bce(bce: torch.Tensor, v: torch.Tensor, *, enabled: bool = True) -> torch.Tensor:
    """Eq. 6 of Arnab et al.: ``exp(-v) * BCE + v`` elementwise (``v = log sigma^2``).

    Correct and confident predictions cost least, wrong and uncertain ones less than wrong
    and confident ones (the paper's Fig. 3). ``enabled=False`` returns ``bce``.
    """
    return torch.exp(-v) * bce + v if enabled else bce


class UAMIL(KeyframeMethod):
    """Uncertainty-aware MIL over clip bags of person boxes (Arnab et al., ECCV 2020).

    Args:
        feature_dim: box feature dimension ``D``.
        num_classes: number of classes ``C``.
        hidden_dim, dropout, pooling, r, uncertainty: see :class:`UAMILConfig`.
    """

    Config = UAMILConfig
    bag = "clip"

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        hidden_dim: int = 512,
        dropout: float = 0.5,
        pooling: Pooling = "max",
        r: float = 1.0,
        uncertainty: bool = True,
    ) -> None:
        super().__init__()
        if pooling not in ("max", "mean", "lse", "gmean"):
            raise ValueError(f"unknown pooling {pooling!r}; use max, mean, lse or gmean")
        if r <= 0:
            raise ValueError(f"r must be > 0, got {r}")
        self.trunk = nn.Sequential(
            nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout)
        )
        self.classifier = nn.Linear(hidden_dim, num_classes)
        self.uncertainty_head = nn.Linear(hidden_dim, num_classes) if uncertainty else None
        self.pooling, self.r, self.uncertainty = pooling, float(r), bool(uncertainty)

    def forward(self, batch: KeyframeBatch) -> KeyframeOutput:
        """Instance logits/probabilities ``(B, N, C)``, ``v (B, N, C)`` and pooled bag scores."""
        h = self.trunk(batch.feats)  # (B, N, H)
        logits = self.classifier(h)  # (B, N, C)
        probs = torch.sigmoid(logits) * batch.mask.unsqueeze(-1)
        max_logit, arg = masked_max(logits, batch.mask)  # (B, C): instance chosen by max pooling
        bag = (
            torch.sigmoid(max_logit)
            if self.pooling == "max"
            else mil_pool(probs, batch.mask, self.pooling, self.r)
        )
        extras = {"logits": logits, "bag_logits": max_logit, "argmax": arg}
        if self.uncertainty_head is not None:
            v = F.softplus(self.uncertainty_head(h))  # (B, N, C) = log sigma^2 >= 0
            extras["v"] = v
            extras["bag_v"] = v.gather(1, arg.unsqueeze(1)).squeeze(1)  # (B, C)
        return KeyframeOutput(instance_scores=probs, bag_scores=bag, extras=extras)

    def losses(self, batch: KeyframeBatch, out: KeyframeOutput) -> dict[str, torch.Tensor]:
        """Eq. 6 (or plain BCE) of the pooled scores; per-instance BCE in the full mode."""
        if batch.instance_labels is not None:  # fully supervised upper bound
            bce = F.binary_cross_entropy_with_logits(
                out.extras["logits"], batch.instance_labels, reduction="none"
            )
            m = batch.mask.unsqueeze(-1).to(bce.dtype)
            loss = (bce * m).sum() / (m.sum() * bce.shape[-1]).clamp_min(1.0)
            return {"total": loss, "bce": loss}
        valid = batch.mask.any(dim=1).to(out.bag_scores.dtype).unsqueeze(-1)  # (B, 1)
        if self.pooling == "max":  # logits form: exact and stable
            bce = F.binary_cross_entropy_with_logits(
                out.extras["bag_logits"], batch.labels, reduction="none"
            )
        else:
            p = out.bag_scores.clamp(1e-6, 1 - 1e-6)
            bce = F.binary_cross_entropy(p, batch.labels, reduction="none")
        denom = (valid.sum() * bce.shape[-1]).clamp_min(1.0)
        plain = (bce * valid).sum() / denom
        if not self.uncertainty:
            return {"total": plain, "bce": plain}
        v = out.extras["bag_v"]
        loss = (uncertainty_bce(bce, v) * valid).sum() / denom
        return {"total": loss, "bce": plain, "v": (v * valid).sum() / denom}
