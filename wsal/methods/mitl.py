"""Multiple instance triplet loss (Biswas & Gall, "Multiple Instance Triplet Loss for Weakly
Supervised Multi-Label Action Localisation of Interacting Persons", ICCVW 2021).

``../shared/papers/000_3f4cff0dafd539ab.txt``. A bag is all person detections of one
keyframe. Two heads read each person's feature: a classification head ``f`` (one linear layer
+ sigmoid, Sec. 3.1) and a contrastive head ``g`` (two-layer MLP to 512 dimensions,
L2-normalised). Losses (Eq. 5, unweighted sum):

* MIML (Eq. 6): binary cross-entropy of the class-wise maximum of ``f`` over the bag against
  the clip's label set;
* triplet (Eq. 2): ``max(0, sim_n(S, N) - sim_p(S, P) + alpha)`` for an anchor bag ``S`` at
  ``t``, a positive bag ``P`` at ``t_p`` in {t-1, t, t+1} and a negative bag ``N`` with
  ``|t_n - t| >= 100`` s (sampling: :class:`wsal.data.keyframe.KeyframeBagDataset`), with
  ``sim_p = max_{s, p} exp(-||l_s - l_p||^2) g_s . g_p`` (Eq. 3, ``l`` the normalised box
  centres) and ``sim_n = min_{s, n} g_s . g_n`` (Eq. 4);
* similarity (Eq. 7): ``max(0, beta - sim_p)``.

Ablations: ``triplet=False``, ``similarity=False``, ``negative="max"`` (the max instead of the
min for ``sim_n``), and ``alpha`` / ``beta`` sweeps. Scores at test time are ``f``.

Deviations (``docs/methods/mitl.md``): frozen box features with a trainable MLP trunk shared by
``f`` and ``g`` instead of fine-tuning SlowFast end to end (without a shared trainable layer
the contrastive head could not influence the classifier), and a feature-space augmentation
for ``t_p = t`` instead of cropping and mirroring frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.keyframe import KeyframeBatch
from wsal.methods.keyframe_base import KeyframeMethod, KeyframeOutput, masked_max

__all__ = ["MITL", "MITLConfig", "bag_similarities"]


@dataclass
class MITLConfig:
    """Hyper-parameters of :class:`MITL` (constructor keywords; defaults = the paper's)."""

    hidden_dim: int = 512  # shared trunk (stands in for the fine-tuned SlowFast features)
    dropout: float = 0.5
    embed_dim: int = 512  # Sec. 3.1: g maps to 512 dimensions
    alpha: float = 0.05  # triplet margin (Sec. 4.3.2)
    beta: float = 0.8  # similarity-loss target (Sec. 4.3.3)
    triplet: bool = True  # ablation: drop L_triplet
    similarity: bool = True  # ablation: drop L_sim
    negative: Literal["min", "max"] = "min"  # ablation: max instead of min for sim_n


def bag_similarities(
    anchor: torch.Tensor,
    anchor_mask: torch.Tensor,
    anchor_boxes: torch.Tensor,
    other: torch.Tensor,
    other_mask: torch.Tensor,
    other_boxes: torch.Tensor | None = None,
    *,
    reduce: Literal["max", "min"] = "max",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarity of bag pairs: ``(sim (B,), valid (B,) bool)``.

    Args:
        anchor: ``(B, N, E)`` L2-normalised embeddings of the anchor bags; ``anchor_mask``
            ``(B, N)``; ``anchor_boxes`` ``(B, N, 4)`` x1y1x2y2 normalised.
        other: ``(B, M, E)`` embeddings of the positive or negative bags; ``other_mask (B, M)``.
        other_boxes: ``(B, M, 4)``: when given, each cosine is weighted by
            ``exp(-||l_s - l_o||^2)`` of the box centres (Eq. 3); None: plain cosine (Eq. 4).
        reduce: ``"max"`` over instance pairs (``sim_p``) or ``"min"`` (``sim_n``).

    A pair of bags without a real instance on either side is not valid (its sim is 0).
    """
    sim = torch.einsum("bne,bme->bnm", anchor, other)  # (B, N, M) cosines
    if other_boxes is not None:
        ls = (anchor_boxes[..., :2] + anchor_boxes[..., 2:]) / 2  # (B, N, 2)
        lo = (other_boxes[..., :2] + other_boxes[..., 2:]) / 2
        d2 = ((ls.unsqueeze(2) - lo.unsqueeze(1)) ** 2).sum(-1)  # (B, N, M)
        sim = torch.exp(-d2) * sim
    pair = anchor_mask.unsqueeze(2) & other_mask.unsqueeze(1)
    fill = -3.0 if reduce == "max" else 3.0  # outside [-1, 1]
    sim = sim.masked_fill(~pair, fill).flatten(1)
    best = sim.max(dim=1).values if reduce == "max" else sim.min(dim=1).values
    valid = pair.flatten(1).any(dim=1)
    return torch.where(valid, best, torch.zeros_like(best)), valid


class MITL(KeyframeMethod):
    """Keyframe bags with MIML + multiple instance triplet + similarity losses (Biswas & Gall).

    Args:
        feature_dim: box feature dimension ``D``.
        num_classes: number of classes ``C``.
        hidden_dim, dropout, embed_dim, alpha, beta, triplet, similarity, negative: see
            :class:`MITLConfig`.
    """

    Config = MITLConfig
    bag = "keyframe"
    uses_triplets = True

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        hidden_dim: int = 512,
        dropout: float = 0.5,
        embed_dim: int = 512,
        alpha: float = 0.05,
        beta: float = 0.8,
        triplet: bool = True,
        similarity: bool = True,
        negative: Literal["min", "max"] = "min",
    ) -> None:
        super().__init__()
        if negative not in ("min", "max"):
            raise ValueError(f"negative must be 'min' or 'max', got {negative!r}")
        self.trunk = nn.Sequential(
            nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout)
        )
        self.f = nn.Linear(hidden_dim, num_classes)  # classification head (sigmoid in scores)
        self.g = nn.Sequential(
            nn.Linear(hidden_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim)
        )  # contrastive head (L2-normalised in _embed)
        self.alpha, self.beta = float(alpha), float(beta)
        self.use_triplet, self.use_similarity = bool(triplet), bool(similarity)
        self.negative = negative

    def _embed(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.g(h), dim=-1)

    def forward(self, batch: KeyframeBatch) -> KeyframeOutput:
        """Instance probabilities ``f (B, N, C)``, the class-wise max over the bag, and (with
        triplet bags in training) ``sim_p (B,)``, ``sim_n (B,)`` and their validity."""
        b, n, d = batch.feats.shape
        contrastive = self.use_triplet or self.use_similarity
        contrastive = contrastive and self.training and batch.pos_feats is not None
        if contrastive:  # one trunk pass over anchor, positive and negative instances
            np_, nn_ = batch.pos_feats.shape[1], batch.neg_feats.shape[1]
            flat = torch.cat(
                [
                    batch.feats.reshape(-1, d),
                    batch.pos_feats.reshape(-1, d),
                    batch.neg_feats.reshape(-1, d),
                ]
            )
            h_all = self.trunk(flat)
            h = h_all[: b * n].reshape(b, n, -1)
        else:
            h = self.trunk(batch.feats)
        logits = self.f(h)
        probs = torch.sigmoid(logits) * batch.mask.unsqueeze(-1)
        bag_logits, _ = masked_max(logits, batch.mask)
        extras = {"logits": logits, "bag_logits": bag_logits}
        if contrastive:
            e_all = self._embed(h_all)
            es = e_all[: b * n].reshape(b, n, -1)
            ep = e_all[b * n : b * (n + np_)].reshape(b, np_, -1)
            en = e_all[b * (n + np_) :].reshape(b, nn_, -1)
            sim_p, vp = bag_similarities(
                es, batch.mask, batch.boxes, ep, batch.pos_mask, batch.pos_boxes, reduce="max"
            )
            sim_n, vn = bag_similarities(
                es, batch.mask, batch.boxes, en, batch.neg_mask, None, reduce=self.negative
            )
            extras.update({"sim_p": sim_p, "sim_n": sim_n, "sim_p_valid": vp, "sim_n_valid": vn})
        return KeyframeOutput(
            instance_scores=probs, bag_scores=torch.sigmoid(bag_logits), extras=extras
        )

    def losses(self, batch: KeyframeBatch, out: KeyframeOutput) -> dict[str, torch.Tensor]:
        """``L = L_miml + L_triplet + L_sim`` (Eq. 5), terms switched by the ablation flags."""
        valid = batch.mask.any(dim=1).to(out.bag_scores.dtype).unsqueeze(-1)
        bce = F.binary_cross_entropy_with_logits(
            out.extras["bag_logits"], batch.labels, reduction="none"
        )
        miml = (bce * valid).sum() / (valid.sum() * bce.shape[-1]).clamp_min(1.0)
        losses = {"miml": miml}
        total = miml
        if "sim_p" in out.extras:
            sp, sn = out.extras["sim_p"], out.extras["sim_n"]
            vp = out.extras["sim_p_valid"].to(sp.dtype)
            vt = vp * out.extras["sim_n_valid"].to(sp.dtype)
            if self.use_triplet:
                trip = (F.relu(sn - sp + self.alpha) * vt).sum() / vt.sum().clamp_min(1.0)
                losses["triplet"] = trip
                total = total + trip
            if self.use_similarity:
                sim = (F.relu(self.beta - sp) * vp).sum() / vp.sum().clamp_min(1.0)
                losses["similarity"] = sim
                total = total + sim
        losses["total"] = total
        return losses
