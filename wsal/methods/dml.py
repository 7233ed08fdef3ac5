"""DML: weakly supervised temporal action localization with deep metric learning.

Islam & Radke, "Weakly Supervised Temporal Action Localization Using Deep Metric Learning",
WACV 2020. Equation numbers below are the paper's.

Model (Sec. 3.2-3.3): snippet features ``x (B, T, D)`` -> FC + ReLU + dropout -> embedded
features ``u (B, T, d)`` (``d = D`` by default) -> linear class scores clipped to
``[-kappa, kappa]`` (Eq. 1) -> ``s (B, T, C)``. A video is cut into blocks of ``l_w``
snippets; a block's class probability is the sigmoid of the mean of its ``k`` largest
clipped scores (Eq. 4) and the video probability is ``1 - prod_i (1 - P(c | B_i))``
(Eq. 2-3). Training minimizes the balanced BCE (Eq. 5-6) plus ``lambda`` times a metric loss
(Eq. 12) computed on class-attention-pooled features with the class-specific distance
``D_c(u, v) = |W_f^c (u - v)|`` (Eq. 10-11), as a triplet or contrastive hinge (Sec. 3.4).

Everything is computed for the whole batch at once: blocks come from a reshape of the padded
sequence, the per-class pooling is one ``einsum`` and the distances of all
``(video, video, class)`` triples form a ``(B, B, C)`` tensor; no ``(B, B, C, d)`` tensor is
ever built. ``docs/methods/dml.md`` lists what we do differently from the paper and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.temporal import TemporalBatch
from wsal.methods.base import TemporalMethod, TemporalOutput

__all__ = [
    "DMLConfig",
    "DeepMetricMIL",
    "clip_scores",
    "block_topk_mean",
    "video_log_not_prob",
    "log1mexp",
    "window_video_logits",
    "balanced_bce",
    "plain_bce",
    "softmax_mil_loss",
    "class_attention_pool",
    "pair_distances",
    "class_pair_means",
    "triplet_loss",
    "contrastive_loss",
    "relu_dropout",
]

ClsLoss = Literal["bbce", "bce", "softmax_mil"]
MetricLoss = Literal["triplet", "contrastive", "none"]
Distance = Literal["ours", "cosine", "euclidean", "learned"]
LastBlock = Literal["merge", "separate"]


@dataclass
class DMLConfig:
    """Hyper-parameters of :class:`DeepMetricMIL` (constructor keywords; paper defaults).

    Ablation switches (Sec. 4.4): ``cls_loss`` (Fig. 2), ``metric_loss`` (Table 3),
    ``distance`` (Fig. 3), ``blocks`` (Table 4), ``block_size``/``topk`` (Fig. 4),
    ``kappa`` (Table 5).
    """

    embed_dim: int | None = None  # Sec. 3.2: embedding keeps the feature dimension (None: = D)
    dropout: float = 0.7  # Sec. 3.2 names a dropout layer, no rate; 0.7 as in the authors' code
    # (drawn with 8-bit resolution by relu_dropout: the keep probability is a multiple of 1/256)
    kappa: float | None = 4.0  # Eq. 1 clipping threshold (Sec. 4.4, Table 5); None: no clipping
    blocks: bool = True  # Sec. 3.3 block-based video score; False: one block per video (Table 4)
    block_size: int = 60  # l_w, snippets per block (Sec. 4.2, Fig. 4b)
    topk: int = 10  # k of the k-max block mean (Eq. 4, Sec. 4.2; min(k, block length))
    # Eq. 2-3 use floor(n / l_w) blocks: "merge" adds the n mod l_w leftover snippets to the
    # last block (as the authors' code does); "separate" keeps them as a partial last block.
    last_block: LastBlock = "merge"
    cls_loss: ClsLoss = "bbce"  # Eq. 5-6 balanced BCE; "bce" or W-TALC's "softmax_mil" (Fig. 2)
    metric_loss: MetricLoss = "triplet"  # Sec. 3.4 (Table 3): triplet, contrastive or none
    distance: Distance = "ours"  # Eq. 10-11 D_c; cosine / euclidean / learned M^c (Fig. 3)
    learned_rank: int | None = None  # rank r of the learned metric M^c = A_c^T A_c (None: d)
    alpha: float = 3.0  # triplet margin alpha (Sec. 4.2)
    contrastive_margin: float = 3.0  # negative-pair margin of the contrastive loss (alpha, Eq. 7)
    contrastive_pos_margin: float = 0.0  # positive pairs pay [d+ - m]_+ (paper: m = 0, i.e. d+)
    metric_weight: float = 1.0  # lambda of Eq. 12
    # weight of L_cls in Eq. 12 (paper: 1). The authors' code minimizes
    # 0.5 * (pos + neg) / 2 + 0.5 * metric: cls_weight 0.25 and metric_weight 0.5.
    cls_weight: float = 1.0


# --------------------------------------------------------------------------------------------
# Feature embedding (Sec. 3.2)
# --------------------------------------------------------------------------------------------


def _keep_level(p: float) -> int:
    """``q = round(128 (1 - p))``: a unit is kept when its random 7-bit lane is below ``q``."""
    return min(128, round(128 * (1.0 - p)))


_LOW7 = 0x7F7F7F7F7F7F7F7F  # the low 7 bits of every byte lane of an int64
_ONES = 0x0101010101010101  # bit 0 of every lane


def _keep_mask(shape: torch.Size, q: int, device: torch.device) -> torch.Tensor:
    """uint8 mask of ``shape``, 1 where a unit is kept (probability ``q / 128``), else 0.

    Eight units share one 64-bit random word (SWAR): each byte lane holds a uniform 7-bit
    ``y``; the lane of ``(0x80 + q - 1) - y`` lies in ``[1, 255]`` (no borrow between lanes)
    and has its bit 7 set exactly when ``y < q``. Four integer operations on ``n / 8`` words
    replace a Bernoulli draw and a comparison per unit, which on CPU cost more than the
    embedding product's share they serve.
    """
    n = math.prod(shape)
    words = torch.empty((n + 7) // 8, dtype=torch.int64, device=device).random_(-(2**63), None)
    lanes = (((0x80 + q - 1) * _ONES - (words & _LOW7)) >> 7) & _ONES
    return lanes.view(torch.uint8)[:n].view(shape)


class _KeptReluInplace(torch.autograd.Function):
    """``relu(h) * keep`` in place on ``h`` (a fresh intermediate); ``keep`` is a 0/1 uint8
    mask. The backward pass is one ``threshold_backward`` on the saved output."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h.clamp_(min=0.0).mul_(keep)
        ctx.mark_dirty(h)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, out, 0.0), None


def relu_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``dropout(relu(x))`` (Sec. 3.2) with a mask drawn 7 bits per element.

    ``F.dropout`` draws a Bernoulli variable per element, which on CPU costs about as much as
    the embedding's matrix product. Here an element is kept when its random 7-bit lane is
    below ``q = round(128 (1 - p))`` (:func:`_keep_mask`): the keep probability is ``q / 128``
    (0.2969 for p = 0.7) and kept values are scaled by ``128 / q``, so the expectation is
    exactly ``relu(x)``. ReLU and dropout share one mask, so the backward pass is a single
    thresholding.

    Args:
        x: pre-activations, any shape, e.g. ``(N, d)``.
        p: drop probability in ``[0, 1]``.
        training: apply dropout (False: plain ReLU).
    """
    q = _keep_level(p)
    if not training or q >= 128:
        return F.relu(x)
    if q <= 0:
        return x * 0.0
    return _KeptReluInplace.apply(x * (128.0 / q), _keep_mask(x.shape, q, x.device))


def embed_relu_dropout(x: torch.Tensor, layer: nn.Linear, p: float, training: bool) -> torch.Tensor:
    """``relu_dropout(layer(x), p, training)`` for ``x (N, D)`` in the fewest memory passes.

    The dropout scale ``128 / q`` is folded into the matrix product (``relu(a z) = a relu(z)``
    for ``a > 0``) and ReLU and the mask are applied in place on the product's output, so
    besides the product there are two passes forward and one backward over the ``(N, d)``
    activations. The result equals :func:`relu_dropout` of ``layer(x)`` for the same random
    state (up to rounding).
    """
    q = _keep_level(p)
    if not training or q >= 128:
        return F.relu(layer(x))
    if q <= 0:
        return layer(x) * 0.0
    scale = 128.0 / q
    h = torch.addmm(layer.bias, x, layer.weight.t(), beta=scale, alpha=scale)
    return _KeptReluInplace.apply(h, _keep_mask(h.shape, q, h.device))


# --------------------------------------------------------------------------------------------
# Classification module (Sec. 3.3)
# --------------------------------------------------------------------------------------------


def clip_scores(logits: torch.Tensor, kappa: float | None) -> torch.Tensor:
    """Eq. 1: ``phi_kappa``, clip class scores to ``[-kappa, kappa]`` (None: unchanged).

    Clipping keeps the attention softmax of the metric module from collapsing onto one
    snippet (Sec. 3.4) and bounds the block probabilities away from 0 and 1.
    """
    if kappa is None or math.isinf(kappa):
        return logits
    return logits.clamp(-kappa, kappa)


def _chunk_topk(
    scores: torch.Tensor, mask: torch.Tensor, size: int, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``scores (B, T, C)`` into consecutive chunks of ``size`` snippets; per-chunk top-k.

    Returns ``top (B, NCH, min(k, size), C)`` sorted descending, ``-inf`` where a chunk has
    fewer real snippets, and ``chunk_len (B, NCH)`` int64 real snippets per chunk.
    """
    b, t, c = scores.shape
    nch = max(1, -(-t // size))
    pad = nch * size - t
    x = scores.masked_fill(~mask.unsqueeze(-1), float("-inf"))
    x = F.pad(x, (0, 0, 0, pad), value=float("-inf")).view(b, nch, size, c)
    m = F.pad(mask, (0, pad), value=False).view(b, nch, size)
    return x.topk(min(k, size), dim=2).values, m.sum(-1)


def _merge_remainder(
    top: torch.Tensor, chunk_len: torch.Tensor, lengths: torch.Tensor, size: int, k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Join each video's leftover chunk (``n mod l_w`` snippets) to its last full block.

    A video of ``n`` snippets has ``n_B = max(1, floor(n / l_w))`` blocks (Eq. 2-3; Sec. 4.2:
    shorter videos are one block). Chunk ``n_B`` (if any) is merged into block ``n_B - 1`` by
    re-ranking the union of both chunks' top-k lists.

    Args:
        top: ``(B, NCH, K1, C)`` per-chunk top values (``-inf`` padded).
        chunk_len: ``(B, NCH)`` real snippets per chunk.
        lengths: ``(B,)`` real snippets per video.

    Returns ``top (B, NCH, K2, C)``, ``block_len (B, NCH)``, ``block_valid (B, NCH)`` bool.
    """
    nch = top.shape[1]
    n_blocks = torch.clamp(lengths // size, min=1)  # (B,)
    j = torch.arange(nch, device=top.device)
    join = j.unsqueeze(0) == (n_blocks - 1).unsqueeze(1)  # (B, NCH): block receiving leftovers
    nxt = torch.cat([top[:, 1:], torch.full_like(top[:, :1], float("-inf"))], dim=1)
    nxt = nxt.masked_fill(~join[..., None, None], float("-inf"))
    nxt_len = torch.cat([chunk_len[:, 1:], torch.zeros_like(chunk_len[:, :1])], dim=1)
    merged = torch.cat([top, nxt], dim=2)
    merged = merged.topk(min(k, merged.shape[2]), dim=2).values
    block_len = chunk_len + join * nxt_len
    valid = (j.unsqueeze(0) < n_blocks.unsqueeze(1)) & (block_len > 0)
    return merged, block_len, valid


def block_topk_mean(
    scores: torch.Tensor,
    mask: torch.Tensor,
    *,
    block_size: int | None,
    k: int,
    merge_last: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 4 inside the sigmoid: mean of the ``k`` largest scores of every block.

    Blocks are consecutive runs of ``block_size`` snippets (``l_w``) starting at snippet 0;
    ``block_size=None`` makes the whole video one block (Table 4, "w/o blocks"). A block
    averages its ``min(k, block length)`` largest real scores (Sec. 4.2: ``k = min(10, l_w)``
    for short videos). Padding never enters a top-k; blocks without a real snippet are
    invalid (they must not contribute to Eq. 3).

    Args:
        scores: ``(B, T, C)`` clipped class scores.
        mask: ``(B, T)`` bool, True for real snippets.
        block_size: ``l_w`` (None: one block per video).
        k: ``k`` of the k-max mean.
        merge_last: ``floor(n / l_w)`` blocks with the leftover snippets in the last one
            (True) or ``ceil(n / l_w)`` blocks with a partial last one (False).

    Returns:
        ``block_scores (B, NB, C)`` k-max means (0 on invalid blocks) and
        ``block_valid (B, NB)`` bool.
    """
    t = scores.shape[1]
    size = max(1, t) if block_size is None else int(block_size)
    top, chunk_len = _chunk_topk(scores, mask, size, k)
    if merge_last and block_size is not None:
        top, block_len, valid = _merge_remainder(top, chunk_len, mask.sum(1), size, k)
    else:
        block_len, valid = chunk_len, chunk_len > 0
    k_eff = block_len.clamp(max=k)  # (B, NB)
    take = torch.arange(top.shape[2], device=top.device) < k_eff.unsqueeze(-1)  # (B, NB, K)
    summed = torch.where(take.unsqueeze(-1), top, top.new_zeros(())).sum(2)
    return summed / k_eff.clamp_min(1).unsqueeze(-1).to(top.dtype), valid


def video_log_not_prob(block_scores: torch.Tensor, block_valid: torch.Tensor) -> torch.Tensor:
    """Eq. 3 in log space: ``log(1 - P(c|V)) = sum_i log(1 - sigmoid(a_i)) = -sum_i softplus(a_i)``.

    Args:
        block_scores: ``(B, NB, C)`` k-max block means ``a_i``.
        block_valid: ``(B, NB)`` bool; invalid blocks are skipped.

    Returns ``(B, C)`` ``log(1 - P(c | V))`` (0 for a video without a real snippet).
    """
    per_block = F.softplus(block_scores) * block_valid.unsqueeze(-1).to(block_scores.dtype)
    return -per_block.sum(1)


def window_video_logits(
    logits: torch.Tensor, mask: torch.Tensor, window: int, k: int
) -> torch.Tensor:
    """The video score of the authors' released test code, in logit units: ``(B, C)``.

    The video is cut into ``floor(n / window)`` windows (the remainder joins the last; a
    video shorter than ``window`` is one window), each window scores the mean of its ``k``
    largest unclipped logits, and the video takes the best window. This is Eq. 4's k-max
    block mean without the clipping and with max instead of the noisy-OR of Eq. 3.

    Args:
        logits: ``(B, T, C)`` unclipped snippet logits.
        mask: ``(B, T)`` bool, True for real snippets.
        window: snippets per window (``l_w``).
        k: ``k`` of the k-max mean.
    """
    block, valid = block_topk_mean(logits, mask, block_size=window, k=k, merge_last=True)
    block = block.masked_fill(~valid.unsqueeze(-1), float("-inf"))
    best = block.max(dim=1).values
    return torch.where(torch.isfinite(best), best, torch.zeros_like(best))


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x < 0``, stable (Maechler 2012); both branches stay finite."""
    cut = -math.log(2.0)
    near = torch.log(-torch.expm1(x.clamp(min=cut)))
    far = torch.log1p(-torch.exp(x.clamp(max=cut)))
    return torch.where(x > cut, near, far)


def _video_log_probs(
    log_not: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log P, log(1 - P))`` of ``(B, C)`` video probabilities; invalid videos get a dummy -1."""
    safe = torch.where(valid.unsqueeze(-1), log_not, torch.full_like(log_not, -1.0))
    safe = safe.clamp(max=-1e-30)  # P > 0 even if every block score underflows (no clipping)
    return log1mexp(safe), safe


def _masked_video_mean(per_video: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_video (B,)`` over videos with ``weight`` 1; 0 when none."""
    w = weight.to(per_video.dtype)
    return (per_video * w).sum() / w.sum().clamp_min(1.0)


def balanced_bce(
    log_p: torch.Tensor, log_not_p: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Eq. 5-6, the balanced BCE: positive and negative classes averaged separately, summed.

    ``L = -(sum_c y_c log P_c / sum_c y_c + sum_c (1-y_c) log(1-P_c) / sum_c (1-y_c))`` per
    video (an empty side contributes 0), averaged over the videos with a real snippet.

    Args:
        log_p, log_not_p: ``(B, C)`` ``log P(c|V)`` and ``log(1 - P(c|V))``.
        labels: ``(B, C)`` multi-hot video labels.
        valid: ``(B,)`` bool, videos with at least one real snippet.
    """
    pos = (labels * log_p).sum(1) / labels.sum(1).clamp_min(1.0)
    neg = ((1 - labels) * log_not_p).sum(1) / (1 - labels).sum(1).clamp_min(1.0)
    return _masked_video_mean(-(pos + neg), valid)


def plain_bce(
    log_p: torch.Tensor, log_not_p: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Standard BCE on the block-based video probabilities (Fig. 2 "BCE"), mean over classes."""
    per_video = -(labels * log_p + (1 - labels) * log_not_p).mean(1)
    return _masked_video_mean(per_video, valid)


def softmax_mil_loss(
    log_p: torch.Tensor, log_not_p: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """W-TALC's MIL loss (Fig. 2 "Softmax"): softmax cross-entropy over classes.

    The class logits are ``logit(P(c|V)) = log P - log(1-P)``; with one block this is exactly
    the k-max mean of W-TALC. Targets are the labels normalized to sum 1; videos without a
    label or without a real snippet are skipped.
    """
    logits = log_p - log_not_p  # (B, C)
    target = labels / labels.sum(1, keepdim=True).clamp_min(1.0)
    per_video = -(target * F.log_softmax(logits, dim=1)).sum(1)
    return _masked_video_mean(per_video, valid & (labels.sum(1) > 0))


# --------------------------------------------------------------------------------------------
# Metric learning module (Sec. 3.4)
# --------------------------------------------------------------------------------------------


def class_attention_pool(
    scores: torch.Tensor, embed: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-aggregated and not-class-aggregated features of every video (Sec. 3.4).

    ``pi^c = softmax_t(s^c)`` over real snippets, ``z^c = sum_t pi_t^c u_t`` and
    ``z^{not c} = sum_t (1 - pi_t^c) / (n - 1) u_t`` (``n - 1`` floored at 1; a one-snippet
    video has ``z^{not c} = 0``), both L2-normalized (zero vectors stay zero).

    Args:
        scores: ``(B, T, C)`` clipped class scores.
        embed: ``(B, T, d)`` embedded features ``u``.
        mask: ``(B, T)`` bool.

    Returns ``z_pos (B, C, d)`` and ``z_neg (B, C, d)``, unit norm (or zero).
    """
    m = mask.unsqueeze(-1).to(scores.dtype)  # (B, T, 1)
    logits = scores.masked_fill(~mask.unsqueeze(-1), torch.finfo(scores.dtype).min)
    pi = torch.softmax(logits, dim=1) * m  # (B, T, C); all-padding rows become 0
    # one product gives z^c for every class and, from the extra mask column, sum_t u_t
    pooled = torch.einsum("btk,btd->bkd", torch.cat([pi, m], dim=-1), embed)  # (B, C + 1, d)
    z_pos, total = pooled[:, :-1], pooled[:, -1:]
    n = mask.sum(1).to(scores.dtype)  # (B,)
    # sum_t (1 - pi_t) u_t = sum_t u_t - z^c; exactly zero when n <= 1 (all weight on pi)
    keep = (n > 1).to(scores.dtype) / (n - 1).clamp_min(1.0)
    z_neg = (total - z_pos) * keep[:, None, None]
    return F.normalize(z_pos, dim=-1), F.normalize(z_neg, dim=-1)


def _sq_dist_all_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a_i^c - b_j^c||^2`` for ``a, b (B, C, R)`` -> ``(B, B, C)`` without a (B,B,C,R) tensor."""
    if a.shape[-1] == 1:  # scalar projections: the direct difference is exact and tiny
        return (a[:, None, :, 0] - b[None, :, :, 0]).square()
    cross = torch.einsum("icr,jcr->ijc", a, b)
    sq = a.square().sum(-1).unsqueeze(1) + b.square().sum(-1).unsqueeze(0) - 2.0 * cross
    return sq.clamp_min(0.0)


def pair_distances(
    z_pos: torch.Tensor,
    z_neg: torch.Tensor,
    distance: Distance,
    *,
    class_weight: torch.Tensor | None = None,
    metric_factor: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances of all video pairs for every class: ``D_c^2(z_i^c, z_j^c)``, ``D_c^2(z_i^c, z_j^{not c})``.

    ``"ours"`` (Eq. 10-11): ``D_c(u, v) = |W_f^c (u - v)|`` with ``W_f^c`` the classifier row
    of class c, i.e. the Mahalanobis distance of ``M^c = W_f^c^T W_f^c``; computed from the
    scalar projections ``W_f^c z`` so it costs ``O(B C d)``. ``"euclidean"``: ``M^c = I``.
    ``"learned"``: ``M^c = A_c^T A_c`` with a learnable ``A (C, r, d)`` (Fig. 3 "custom";
    the factorization keeps ``M^c`` positive semidefinite). ``"cosine"``: ``1 - cos``.

    Args:
        z_pos, z_neg: ``(B, C, d)`` normalized aggregated features.
        distance: which distance.
        class_weight: ``(C, d)`` classifier weights (``"ours"``).
        metric_factor: ``(C, r, d)`` factors ``A`` (``"learned"``).

    Returns ``d_pos (B, B, C)`` and ``d_neg (B, B, C)`` (squared distances; cosine distance for
    ``"cosine"``), entry ``[i, j, c]`` pairing video ``i``'s ``z^c`` with video ``j``'s.
    """
    if distance == "cosine":
        d_pos = 1.0 - torch.einsum("icd,jcd->ijc", z_pos, z_pos)
        d_neg = 1.0 - torch.einsum("icd,jcd->ijc", z_pos, z_neg)
        return d_pos, d_neg
    if distance == "ours":
        if class_weight is None:
            raise ValueError("distance 'ours' needs the classifier weights")
        a = torch.einsum("bcd,cd->bc", z_pos, class_weight).unsqueeze(-1)  # (B, C, 1)
        b = torch.einsum("bcd,cd->bc", z_neg, class_weight).unsqueeze(-1)
    elif distance == "learned":
        if metric_factor is None:
            raise ValueError("distance 'learned' needs the metric factors")
        a = torch.einsum("bcd,crd->bcr", z_pos, metric_factor)  # (B, C, r)
        b = torch.einsum("bcd,crd->bcr", z_neg, metric_factor)
    elif distance == "euclidean":
        a, b = z_pos, z_neg
    else:
        raise ValueError(f"unknown distance {distance!r}")
    return _sq_dist_all_pairs(a, a), _sq_dist_all_pairs(a, b)


def class_pair_means(
    d_pos: torch.Tensor, d_neg: torch.Tensor, members: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``d^{+,c}`` and ``d^{-,c}`` (Sec. 3.4): means over ordered pairs ``j != j'`` of the
    batch's videos that contain class ``c``.

    Args:
        d_pos, d_neg: ``(B, B, C)`` pair distances (see :func:`pair_distances`).
        members: ``(B, C)`` bool, video ``i`` contains class ``c`` (and has a real snippet).

    Returns ``d_plus (C,)``, ``d_minus (C,)`` and ``valid (C,)`` bool (at least two videos).
    """
    m = members.to(d_pos.dtype)
    bsz = m.shape[0]
    off_diag = 1.0 - torch.eye(bsz, dtype=m.dtype, device=m.device)
    w = m.unsqueeze(1) * m.unsqueeze(0) * off_diag.unsqueeze(-1)  # (B, B, C)
    n_pairs = w.sum((0, 1))  # (C,) = n_c (n_c - 1)
    denom = n_pairs.clamp_min(1.0)
    return (w * d_pos).sum((0, 1)) / denom, (w * d_neg).sum((0, 1)) / denom, n_pairs > 0


def _mean_over(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    w = valid.to(values.dtype)
    return (values * w).sum() / w.sum().clamp_min(1.0)


def triplet_loss(
    d_plus: torch.Tensor, d_minus: torch.Tensor, valid: torch.Tensor, alpha: float
) -> torch.Tensor:
    """``L^c = [d^{+,c} - d^{-,c} + alpha]_+`` (Sec. 3.4, Eq. 9), averaged over valid classes."""
    return _mean_over(F.relu(d_plus - d_minus + alpha), valid)


def contrastive_loss(
    d_plus: torch.Tensor,
    d_minus: torch.Tensor,
    valid: torch.Tensor,
    margin: float,
    pos_margin: float = 0.0,
) -> torch.Tensor:
    """``L^c = [d^{+,c} - m_+]_+ + [alpha - d^{-,c}]_+`` (Sec. 3.4, Eq. 7; paper ``m_+ = 0``).

    Averaged over valid classes.
    """
    return _mean_over(F.relu(d_plus - pos_margin) + F.relu(margin - d_minus), valid)


# --------------------------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------------------------


#: Pack the real snippets before the embedding when they fill less than this share of the
#: padded batch (measured break-even of the packing copies against the padded product).
PACK_BELOW = 0.8


class DeepMetricMIL(TemporalMethod):
    """DML (Islam & Radke, WACV 2020): block-based MIL with balanced BCE + a metric loss.

    ``forward`` returns ``cas = sigmoid(s) (B, T, C)`` (0 on padding), the block-based
    video probability ``P(c|V) (B, C)`` (Eq. 2-4), and in logit units the unclipped snippet
    logits and the authors' test-time video score (:func:`window_video_logits`), which their
    released localization uses (preset ``"dml_code"``); ``losses`` returns ``{"total",
    "cls", ["metric"]}`` with ``total = cls_weight * cls + lambda * metric`` (Eq. 12).

    Args:
        feature_dim: snippet feature dimension ``D``.
        num_classes: number of classes ``C``.
        embed_dim, dropout, kappa, blocks, block_size, topk, last_block, cls_loss,
        metric_loss, distance, learned_rank, alpha, contrastive_margin,
        contrastive_pos_margin, metric_weight, cls_weight: see :class:`DMLConfig`.
    """

    Config = DMLConfig
    localizer_preset = "dml"

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        embed_dim: int | None = None,
        dropout: float = 0.7,
        kappa: float | None = 4.0,
        blocks: bool = True,
        block_size: int = 60,
        topk: int = 10,
        last_block: LastBlock = "merge",
        cls_loss: ClsLoss = "bbce",
        metric_loss: MetricLoss = "triplet",
        distance: Distance = "ours",
        learned_rank: int | None = None,
        alpha: float = 3.0,
        contrastive_margin: float = 3.0,
        contrastive_pos_margin: float = 0.0,
        metric_weight: float = 1.0,
        cls_weight: float = 1.0,
    ) -> None:
        super().__init__()
        _check_choice("last_block", last_block, LastBlock)
        _check_choice("cls_loss", cls_loss, ClsLoss)
        _check_choice("metric_loss", metric_loss, MetricLoss)
        _check_choice("distance", distance, Distance)
        if block_size < 1 or topk < 1:
            raise ValueError(f"block_size and topk must be >= 1, got {block_size}, {topk}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        if kappa is not None and not kappa > 0:
            raise ValueError(f"kappa must be > 0 or None, got {kappa}")
        d = int(embed_dim or feature_dim)
        self.embed = nn.Linear(feature_dim, d)
        self.dropout = float(dropout)
        self.classifier = nn.Linear(d, num_classes)
        self.kappa, self.blocks, self.block_size, self.topk = kappa, blocks, block_size, topk
        self.last_block, self.cls_loss, self.metric_loss = last_block, cls_loss, metric_loss
        self.distance, self.alpha, self.metric_weight = distance, alpha, metric_weight
        self.cls_weight = cls_weight
        self.contrastive_margin, self.contrastive_pos_margin = (
            contrastive_margin,
            contrastive_pos_margin,
        )
        self.metric_factor: nn.Parameter | None = None
        if distance == "learned" and metric_loss != "none":
            rank = int(learned_rank or d)
            eye = torch.eye(rank, d).expand(num_classes, rank, d).clone()  # M^c = I: Euclidean
            self.metric_factor = nn.Parameter(eye)
        for layer in (self.embed, self.classifier):  # Xavier init as in the authors' code
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _snippet_scores(
        self, feats: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sec. 3.2-3.3: ``u = dropout(relu(W x + b))`` and logits ``W_f u + b_f``.

        When padding is a large share of the batch (more than ``1 - PACK_BELOW``), only the
        real snippets go through the layers (packed rows, scattered back); otherwise the
        padded batch is used as it is, which saves the packing copies. Either way padding
        rows never reach a loss or an output (every consumer masks them).

        Returns ``u (B, T, d)`` and unclipped logits ``(B, T, C)``; padding rows are 0 when
        packed and finite but unspecified otherwise.
        """
        b, t, _ = feats.shape
        if float(mask.sum()) >= PACK_BELOW * b * t:
            u = embed_relu_dropout(
                feats.reshape(b * t, -1), self.embed, self.dropout, self.training
            )
            return u.view(b, t, -1), self.classifier(u).view(b, t, -1)
        rows = mask.reshape(-1).nonzero().squeeze(1)  # (N,) flat indices of real snippets
        h = embed_relu_dropout(
            feats.reshape(b * t, -1).index_select(0, rows), self.embed, self.dropout, self.training
        )  # (N, d)
        logits = self.classifier(h)  # (N, C)
        u = h.new_zeros(b * t, h.shape[1]).index_copy_(0, rows, h)
        s = logits.new_zeros(b * t, logits.shape[1]).index_copy_(0, rows, logits)
        return u.view(b, t, -1), s.view(b, t, -1)

    def forward(self, batch: TemporalBatch) -> TemporalOutput:
        """Snippet scores (Eq. 1), block scores (Eq. 4) and video probabilities (Eq. 2-3).

        ``extras``: ``scores (B, T, C)`` clipped logits, ``embedding (B, T, d)`` (padding
        rows unspecified, see ``_snippet_scores``), ``log_not_prob (B, C)`` = ``log(1 - P(c|V))``.
        """
        mask = batch.mask
        u, logits = self._snippet_scores(batch.feats, mask)  # (B, T, d), (B, T, C)
        s = clip_scores(logits, self.kappa)  # (B, T, C)
        block_scores, block_valid = block_topk_mean(
            s,
            mask,
            block_size=self.block_size if self.blocks else None,
            k=self.topk,
            merge_last=self.last_block == "merge",
        )
        log_not = video_log_not_prob(block_scores, block_valid)  # (B, C)
        real = mask.unsqueeze(-1).to(s.dtype)
        return TemporalOutput(
            cas=torch.sigmoid(s) * real,
            video_scores=-torch.expm1(log_not),
            logits=logits * real,
            video_logits=window_video_logits(logits, mask, self.block_size, self.topk),
            extras={"scores": s, "embedding": u, "log_not_prob": log_not},
        )

    def losses(self, batch: TemporalBatch, out: TemporalOutput) -> dict[str, torch.Tensor]:
        """Eq. 12: ``total = L_cls + lambda * L_metric`` (``cls``, ``metric`` also returned)."""
        valid = batch.lengths > 0  # (B,)
        labels = batch.video_labels
        log_p, log_not = _video_log_probs(out.extras["log_not_prob"], valid)
        cls_fn = {"bbce": balanced_bce, "bce": plain_bce, "softmax_mil": softmax_mil_loss}
        cls = cls_fn[self.cls_loss](log_p, log_not, labels, valid)
        losses = {"cls": cls}
        total = self.cls_weight * cls
        if self.metric_loss != "none":
            metric = self._metric(
                out.extras["scores"], out.extras["embedding"], batch.mask, labels, valid
            )
            losses["metric"] = metric
            total = total + self.metric_weight * metric
        losses["total"] = total
        return losses

    def _metric(
        self,
        scores: torch.Tensor,
        embed: torch.Tensor,
        mask: torch.Tensor,
        labels: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:
        """Sec. 3.4 metric loss of the batch: pooling, all-pair distances, hinge per class.

        Only classes with at least two videos in the batch have a pair (4 of C with the
        paper's batches), so pooling and distances are computed for those ``C'`` classes only.
        """
        members = (labels > 0) & valid.unsqueeze(1)  # (B, C)
        cls = (members.sum(0) >= 2).nonzero().squeeze(1)  # (C',)
        if cls.numel() == 0:
            return scores.new_zeros(())
        z_pos, z_neg = class_attention_pool(scores.index_select(2, cls), embed, mask)  # (B, C', d)
        factor = None if self.metric_factor is None else self.metric_factor.index_select(0, cls)
        d_pos, d_neg = pair_distances(
            z_pos,
            z_neg,
            self.distance,
            class_weight=self.classifier.weight.index_select(0, cls),
            metric_factor=factor,
        )  # (B, B, C') each
        d_plus, d_minus, class_valid = class_pair_means(d_pos, d_neg, members.index_select(1, cls))
        if self.metric_loss == "triplet":
            return triplet_loss(d_plus, d_minus, class_valid, self.alpha)
        return contrastive_loss(
            d_plus, d_minus, class_valid, self.contrastive_margin, self.contrastive_pos_margin
        )


def _check_choice(name: str, value: str, choices: object) -> None:
    allowed = getattr(choices, "__args__", ())
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {list(allowed)}")
