"""EM-MIL: expectation-maximization multi-instance learning (Luo et al., ECCV 2020).

The key-instance assignment ``z_t`` of every snippet is a latent variable. Two branches are
trained *alternately* with hard pseudo-labels produced by the other one (Sec. 3, Alg. 1):

* **E step** - the class-agnostic key-instance branch ``q_phi`` (``Q_t`` in [0, 1]) learns
  ``z_hat_t = 1`` iff some ground-truth class ``c`` of the video has ``P_{t,c}`` above its
  temporal mean (Eq. 3), with binary cross-entropy (Eq. 4);
* **M step** - the classifier ``p_theta`` (``P_{t,c}`` in [0, 1]) learns
  ``y_hat_{t,c} = 1`` iff ``y_c = 1`` and ``Q_t > mean(Q) + gamma (max Q - min Q)`` (Eq. 5),
  with binary cross-entropy (Eq. 6); every snippet of a negative video (and every class not in
  the video) is a negative;
* **initialization** - the first M phase labels every snippet of a positive video positive
  for its classes (Sec. 3.4), so the search scope shrinks from "everything" (high recall).

The phase is a pure function of the epoch (:func:`em_phase`), set by
:meth:`EMMIL.on_epoch_start` (THUMOS14: switch every 10 epochs for 30 epochs, then the learning
rate x4 and switch every epoch; ActivityNet1.2: switch every 5 epochs, constant rate,
Sec. 4.1). RGB and flow have separate branches, fused by weighted averaging (Sec. 4.1).

Inference (Sec. 3.5) fuses ``L_t = lambda Q_t + (1 - lambda) P_{t,c}`` (Eq. 9) and thresholds
it with the rule of Eq. 5; the localizer preset ``"em_mil"`` does this from the raw outputs
(``actionness`` = fused ``Q``, ``cas`` = fused ``P``), ``"em_mil_code"`` follows the authors'
released test code, and ``"em_mil_logit"`` (wsal's THUMOS14 config, chosen on validation)
thresholds ``p_theta``'s raw ``logits`` per video instead (docs/methods/em_mil.md).
Classes come from a separately trained video classifier: UntrimmedNet-style soft attention
(Wang et al. CVPR 2017; the paper's THUMOS14 choice) or W-TALC's top-k MIL
(``video_classifier="topk"``; its ActivityNet1.2 choice); here it is an independent head of the model with its own parameters and loss term, fed by
the input features only, so no gradient reaches the EM branches. Its probabilities are the
``video_scores``. Like the paper's separately trained classifier it learns at a constant rate:
its loss enters the total only in epochs whose ``lr_scale`` is 1 (frozen during the 4x phase).

Ablations (Table 3, ``train_mode``): ``"joint"`` - the same pseudo-labels but both branches
trained every epoch; ``"attention"`` - alternating training of the same two branches with a
plain attention-MIL loss (the key-instance branch as temporal softmax attention pooling the
classifier) instead of pseudo-labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsal.data.temporal import TemporalBatch
from wsal.errors import ConfigError, WsalError
from wsal.methods.base import TemporalMethod, TemporalOutput, masked_mean, masked_topk_mean

__all__ = [
    "EMMIL",
    "EMMILConfig",
    "PHASES",
    "PhaseNotSetError",
    "em_phase",
    "em_lr_scale",
    "e_step_labels",
    "m_step_labels",
    "init_labels",
    "relative_threshold_mask",
    "localization_score",
    "video_classifier_loss",
]

TrainMode = Literal["em", "joint", "attention"]
Phase = Literal["init", "E", "M", "joint"]
VideoClassifier = Literal["attention", "topk"]

#: Training phases. ``"init"``: M step on the initialization labels (every snippet of a
#: positive video); ``"E"``: train ``q_phi`` only; ``"M"``: train ``p_theta`` only;
#: ``"joint"``: both.
PHASES: tuple[Phase, ...] = ("init", "E", "M", "joint")


class PhaseNotSetError(WsalError, RuntimeError):
    """``phase_`` was read before :meth:`EMMIL.on_epoch_start` set it (scikit-learn style).

    Deliberately not an ``AttributeError``: ``nn.Module.__getattr__`` would hide the message.
    """


@dataclass
class EMMILConfig:
    """Hyper-parameters of :class:`EMMIL` (constructor keywords); defaults = paper, THUMOS14.

    Architecture values the paper does not state follow the authors' released code.
    """

    hidden_dim: int = 256  # width of each branch (released code: Conv1d(D, 256) -> ReLU)
    kernel_size: int = 3  # temporal conv width of each branch (released code: 3; odd)
    dropout: float = 0.0  # after the ReLU of each branch (none in the released code)
    stream_dims: tuple[int, ...] | None = None  # None: two equal halves (rgb, flow); (D,): one
    stream_weights: tuple[float, ...] | None = None  # RGB/flow fusion (Sec. 4.1); None: equal
    gamma: float = 0.15  # Eq. 5 threshold: THUMOS14 0.15, ActivityNet1.2 0
    fuse_lambda: float = 0.8  # Eq. 9 weight of Q_t: THUMOS14 0.8, ActivityNet1.2 0.3
    switch_every: int = 10  # Sec. 4.1: E/M switch every 10 epochs (ActivityNet1.2: 5) ...
    late_start: int | None = 30  # ... until epoch 30 (None: for ever, ActivityNet1.2), then
    late_switch_every: int = 1  # switch every epoch
    late_lr_scale: float = 4.0  # with the learning rate x4 (ActivityNet1.2: constant, 1)
    train_mode: TrainMode = "em"  # "em" (full), ablations "joint" / "attention" (Table 3)
    video_hidden_dim: int = 128  # trunk of the separate attention-MIL video classifier (ours)
    video_dropout: float = 0.5  # its dropout (ours; the paper gives no architecture)
    # the separate video classifier (Sec. 3.5): "attention" = UntrimmedNet soft attention (the
    # paper's THUMOS14 choice); "topk" = W-TALC's top-k MIL (its ActivityNet1.2 choice)
    video_classifier: VideoClassifier = "attention"


# --------------------------------------------------------------------------------------------
# Schedule (Sec. 4.1, Alg. 1): a pure function of the epoch, so resumption reproduces it
# --------------------------------------------------------------------------------------------


def _block(epoch: int, *, switch_every: int, late_start: int | None, late_switch_every: int) -> int:
    """Index of the alternation block that contains ``epoch`` (0-based epochs)."""
    if late_start is None or epoch < late_start:
        return epoch // switch_every
    return math.ceil(late_start / switch_every) + (epoch - late_start) // late_switch_every


def em_phase(
    epoch: int,
    *,
    switch_every: int = 10,
    late_start: int | None = 30,
    late_switch_every: int = 1,
    train_mode: TrainMode = "em",
) -> Phase:
    """Training phase of 0-based ``epoch`` (Sec. 4.1; Alg. 1 alternates E and M).

    Block 0 is the initialization M phase (every snippet of a positive video positive,
    Sec. 3.4); then blocks alternate E (odd) and M (even). Blocks last ``switch_every``
    epochs before ``late_start`` and ``late_switch_every`` epochs from it on. THUMOS14
    defaults: epochs 0-9 init, 10-19 E, 20-29 M, then E, M, E, ... each epoch (30-64).
    ``train_mode="joint"`` keeps the initialization block and trains both branches after it.
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    block = _block(
        epoch, switch_every=switch_every, late_start=late_start, late_switch_every=late_switch_every
    )
    if block == 0:
        return "init"
    if train_mode == "joint":
        return "joint"
    return "E" if block % 2 == 1 else "M"


def em_lr_scale(epoch: int, *, late_start: int | None = 30, late_lr_scale: float = 4.0) -> float:
    """Learning-rate multiplier of ``epoch``: ``late_lr_scale`` from ``late_start`` (Sec. 4.1)."""
    return float(late_lr_scale) if late_start is not None and epoch >= late_start else 1.0


# --------------------------------------------------------------------------------------------
# Pseudo-labels (Eq. 3, Eq. 5) and the inference score (Eq. 9): mask-aware, loop-free
# --------------------------------------------------------------------------------------------


def _masked_max_min(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Max and min of ``x (B, T, ...)`` over the real snippets of dim 1; 0 for all-padding rows."""
    m = mask
    while m.dim() < x.dim():
        m = m.unsqueeze(-1)
    hi = x.masked_fill(~m, -math.inf).amax(dim=1)
    lo = x.masked_fill(~m, math.inf).amin(dim=1)
    empty = ~mask.any(dim=1)
    while empty.dim() < hi.dim():
        empty = empty.unsqueeze(-1)
    return hi.masked_fill(empty, 0.0), lo.masked_fill(empty, 0.0)


def relative_threshold_mask(x: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """``x > mean(x) + gamma (max(x) - min(x))`` over the real snippets (the rule of Eq. 5).

    Args:
        x: ``(B, T)`` or ``(B, T, C)`` scores; statistics are per video (and class) along T.
        mask: ``(B, T)`` bool, True for real snippets.
        gamma: relative margin (0: above the temporal mean, as in Eq. 3).

    Returns:
        bool tensor shaped like ``x``; False on padding. Strict ``>``: a constant video
        (e.g. a single snippet) has no snippet above its threshold.
    """
    hi, lo = _masked_max_min(x, mask)
    thr = masked_mean(x, mask) + gamma * (hi - lo)
    m = mask if x.dim() == 2 else mask.unsqueeze(-1)
    return (x > thr.unsqueeze(1)) & m


def e_step_labels(
    cas: torch.Tensor, video_labels: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """E-step pseudo-labels ``z_hat (B, T)`` float in {0, 1} (Eq. 3).

    ``z_hat_t = 1`` iff some class ``c`` with ``y_c = 1`` has ``P_{t,c}`` strictly above its
    mean over the video's real snippets. Videos without labels are all 0 (the MIL assumption:
    negative bags are uniformly negative); padding is 0.

    Args:
        cas: ``(B, T, C)`` classifier probabilities ``P`` (used without gradient).
        video_labels: ``(B, C)`` multi-hot ``y``.
        mask: ``(B, T)`` bool.
    """
    above = relative_threshold_mask(cas.detach(), mask, 0.0)
    return (above & (video_labels > 0).unsqueeze(1)).any(dim=-1).to(cas.dtype)


def m_step_labels(
    actionness: torch.Tensor, video_labels: torch.Tensor, mask: torch.Tensor, gamma: float
) -> torch.Tensor:
    """M-step pseudo-labels ``y_hat (B, T, C)`` float in {0, 1} (Eq. 5).

    ``y_hat_{t,c} = 1`` iff ``y_c = 1`` and ``Q_t > mean(Q) + gamma (max Q - min Q)`` over the
    video's real snippets; classes not in the video, negative videos and padding are 0.

    Args:
        actionness: ``(B, T)`` key-instance scores ``Q`` (used without gradient).
        video_labels: ``(B, C)`` multi-hot ``y``.
        mask: ``(B, T)`` bool.
        gamma: Eq. 5 margin (THUMOS14 0.15, ActivityNet1.2 0).
    """
    fg = relative_threshold_mask(actionness.detach(), mask, gamma)
    return (fg.unsqueeze(-1) & (video_labels > 0).unsqueeze(1)).to(actionness.dtype)


def init_labels(video_labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Initialization labels ``(B, T, C)``: every real snippet positive for the video's classes.

    The first M phase uses them instead of Eq. 5 (Sec. 3.4: "We initialize our training
    procedure by labeling every clip in a positive bag to be 1").
    """
    return (mask.unsqueeze(-1) & (video_labels > 0).unsqueeze(1)).to(video_labels.dtype)


def localization_score(
    actionness: torch.Tensor, cas: torch.Tensor, fuse_lambda: float
) -> torch.Tensor:
    """``L_{t,c} = lambda Q_t + (1 - lambda) P_{t,c}`` (Eq. 9).

    Args:
        actionness: ``(B, T)`` fused ``Q``; cas: ``(B, T, C)`` fused ``P``.

    Returns:
        ``(B, T, C)`` localization score.
    """
    return fuse_lambda * actionness.unsqueeze(-1) + (1.0 - fuse_lambda) * cas


# --------------------------------------------------------------------------------------------
# Losses (Eq. 4, Eq. 6, the attention-MIL ablation and the video classifier)
# --------------------------------------------------------------------------------------------


def _mean_over_videos(per_snippet: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real snippets of each video ``(B, T) -> (B,)``, then over non-empty videos."""
    per_video = masked_mean(per_snippet, mask)
    has = mask.any(dim=1).to(per_video.dtype)
    return (per_video * has).sum() / has.sum().clamp_min(1.0)


def _pseudo_label_bce(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """BCE of every stream's logits against one pseudo-label map (Eq. 4 / Eq. 6).

    ``logits (S, B, T[, C])``, ``target (B, T[, C])``. Per snippet the classes are summed
    (one binary problem per class, as in the released code), each video averages its real
    snippets, videos are averaged and the streams summed.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target.expand_as(logits), reduction="none")
    if bce.dim() == 4:
        bce = bce.sum(dim=-1)
    return sum(_mean_over_videos(b, mask) for b in bce.unbind(0))


def _masked_log_softmax_time(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log of a temporal softmax over real snippets: ``(S, B, T)`` logits -> ``(S, B, T)``.

    Padding gets a weight of exactly 0; an all-padding row gets finite (unused) values.
    """
    filled = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return torch.log_softmax(filled, dim=-1)


def _attention_mil_bce(
    q_logits: torch.Tensor,
    p_logits: torch.Tensor,
    video_labels: torch.Tensor,
    mask: torch.Tensor,
    *,
    uniform: bool,
) -> torch.Tensor:
    """Plain attention-MIL loss of the ``"attention"`` ablation (Table 3, Eq. 8).

    Per stream, ``v_c = sum_t a_t P_{t,c}`` with ``a = softmax_t(q logits)`` over the real
    snippets (or uniform weights when ``uniform``: the initialization block), and BCE of ``v``
    against ``y`` on every video, positive or negative (summed over classes, averaged over
    non-empty videos, summed over streams). Gradient control (which branch learns) is the
    caller's, by detaching inputs.

    Args:
        q_logits: ``(S, B, T)``; p_logits: ``(S, B, T, C)``.
        video_labels: ``(B, C)``; mask: ``(B, T)``.
    """
    m = mask.to(p_logits.dtype)
    if uniform:
        att = (m / m.sum(dim=1, keepdim=True).clamp_min(1.0)).expand_as(q_logits)
    else:
        att = _masked_log_softmax_time(q_logits, mask).exp() * m
    video = (att.unsqueeze(-1) * torch.sigmoid(p_logits)).sum(dim=2)  # (S, B, C)
    eps = 1e-6
    bce = F.binary_cross_entropy(
        video.clamp(eps, 1 - eps), video_labels.expand_as(video), reduction="none"
    )
    has = mask.any(dim=1).to(bce.dtype)
    per_stream = (bce.sum(dim=-1) * has).sum(dim=-1) / has.sum().clamp_min(1.0)
    return per_stream.sum()


# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------


class _TemporalTrunk(nn.Module):
    """Temporal conv -> ReLU -> dropout: ``(B, T, D_s)`` features -> ``(B, T, H)`` (released code).

    Zero padding of the conv at the video ends equals the zero features of batch padding, so a
    padded video scores like the same video alone.
    """

    def __init__(self, *, in_dim: int, hidden_dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(in_dim, hidden_dim, kernel_size, padding=kernel_size // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D_s)`` -> ``(B, T, H)``."""
        return self.drop(torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2))


class _SnippetBranch(nn.Module):
    """One EM branch of one stream (``q_phi`` or ``p_theta``): trunk -> linear logits."""

    def __init__(
        self, *, in_dim: int, hidden_dim: int, out_dim: int, kernel_size: int, dropout: float
    ):
        super().__init__()
        self.trunk = _TemporalTrunk(
            in_dim=in_dim, hidden_dim=hidden_dim, kernel_size=kernel_size, dropout=dropout
        )
        self.head = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D_s)`` -> ``(B, T, out_dim)`` logits."""
        return self.head(self.trunk(x))


class _AttentionMILClassifier(nn.Module):
    """Video-level classifier for class filtering (Sec. 3.5): UntrimmedNet-style soft attention.

    Per stream, a temporal trunk ``h_t`` (as in the EM branches, own weights), attention
    ``a_t = softmax_t(w_a . h_t)`` over real snippets and class scores
    ``s_{t,c} = softmax_c(W h_t)``; the stream's video probability is ``sum_t a_t s_{t,c}``
    (UntrimmedNets, Wang et al. CVPR 2017, soft selection) and the streams are fused by the
    model's weights. Trained with the cross-entropy against the L1-normalized video labels.
    It reads the input features only: nothing flows into or out of the EM branches.
    """

    def __init__(
        self,
        *,
        stream_dims: tuple[int, ...],
        num_classes: int,
        hidden_dim: int,
        kernel_size: int,
        dropout: float,
    ):
        super().__init__()
        trunk = {"hidden_dim": hidden_dim, "kernel_size": kernel_size, "dropout": dropout}
        self.trunk = nn.ModuleList(_TemporalTrunk(in_dim=d, **trunk) for d in stream_dims)
        self.attention = nn.ModuleList(nn.Linear(hidden_dim, 1) for _ in stream_dims)
        self.classifier = nn.ModuleList(nn.Linear(hidden_dim, num_classes) for _ in stream_dims)

    def forward(
        self, parts: list[torch.Tensor], mask: torch.Tensor, log_weights: torch.Tensor
    ) -> torch.Tensor:
        """Fused video log-probabilities ``(B, C)`` from per-stream features ``(B, T, D_s)``."""
        per_stream = []
        for x, trunk, att, cls in zip(
            parts, self.trunk, self.attention, self.classifier, strict=True
        ):
            h = trunk(x)  # (B, T, H)
            log_a = _masked_log_softmax_time(att(h).squeeze(-1), mask)  # (B, T)
            log_s = torch.log_softmax(cls(h), dim=-1)  # (B, T, C)
            per_stream.append(torch.logsumexp(log_a.unsqueeze(-1) + log_s, dim=1))  # (B, C)
        stacked = torch.stack(per_stream)  # (S, B, C)
        return torch.logsumexp(stacked + log_weights.view(-1, 1, 1), dim=0)

    @staticmethod
    def loss(
        log_probs: torch.Tensor, video_labels: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """See :func:`video_classifier_loss`."""
        return video_classifier_loss(log_probs, video_labels, mask)


class _TopkMILClassifier(nn.Module):
    """Video-level classifier for class filtering: W-TALC's top-k MIL (Paul et al., ECCV 2018).

    The paper's ActivityNet1.2 classifier (Sec. 3.5). Per stream, a temporal trunk (as in the
    EM branches, own weights), snippet class logits ``s_{t,c} = W h_t`` and the video logits
    ``mean of the k = ceil(T / 8) largest s_{., c}`` over the real snippets (W-TALC's k-max
    MIL); the streams' video logits are averaged with the fusion weights and turned into
    log-probabilities by a softmax over classes (W-TALC's MIL loss is the cross-entropy of
    that softmax against ``y / ||y||_1``). It reads the input features only.
    """

    def __init__(
        self,
        *,
        stream_dims: tuple[int, ...],
        num_classes: int,
        hidden_dim: int,
        kernel_size: int,
        dropout: float,
    ):
        super().__init__()
        trunk = {"hidden_dim": hidden_dim, "kernel_size": kernel_size, "dropout": dropout}
        self.trunk = nn.ModuleList(_TemporalTrunk(in_dim=d, **trunk) for d in stream_dims)
        self.classifier = nn.ModuleList(nn.Linear(hidden_dim, num_classes) for _ in stream_dims)

    def forward(
        self, parts: list[torch.Tensor], mask: torch.Tensor, log_weights: torch.Tensor
    ) -> torch.Tensor:
        """Fused video log-probabilities ``(B, C)`` from per-stream features ``(B, T, D_s)``."""
        k = torch.ceil(mask.sum(dim=1) / 8.0).long()  # (B,) W-TALC: k = ceil(T / 8)
        per_stream = torch.stack(
            [
                masked_topk_mean(cls(trunk(x)), mask, k)
                for x, trunk, cls in zip(parts, self.trunk, self.classifier, strict=True)
            ]
        )  # (S, B, C) video logits
        logits = (log_weights.exp().view(-1, 1, 1) * per_stream).sum(dim=0)
        return torch.log_softmax(logits, dim=-1)

    @staticmethod
    def loss(
        log_probs: torch.Tensor, video_labels: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """See :func:`video_classifier_loss`."""
        return video_classifier_loss(log_probs, video_labels, mask)


def video_classifier_loss(
    log_probs: torch.Tensor, video_labels: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of video log-probabilities ``(B, C)`` against ``y / ||y||_1``.

    Mean over labelled, non-empty videos (UntrimmedNet's and W-TALC's MIL loss).
    """
    n = video_labels.sum(dim=-1)
    target = video_labels / n.clamp_min(1.0).unsqueeze(-1)
    ce = -(target * log_probs).sum(dim=-1)
    has = ((n > 0) & mask.any(dim=1)).to(ce.dtype)
    return (ce * has).sum() / has.sum().clamp_min(1.0)


def _resolve_streams(feature_dim: int, stream_dims: tuple[int, ...] | None) -> tuple[int, ...]:
    """Per-stream dimensions; ``None`` splits ``feature_dim`` into two equal halves (rgb, flow)."""
    if stream_dims is None:
        if feature_dim % 2:
            raise ConfigError(
                f"em_mil: feature_dim {feature_dim} is odd; "
                f"set model.stream_dims (e.g. [{feature_dim}])"
            )
        return (feature_dim // 2, feature_dim // 2)
    dims = tuple(int(d) for d in stream_dims)
    if not dims or min(dims) < 1 or sum(dims) != feature_dim:
        raise ConfigError(
            f"em_mil: stream_dims {list(dims)} must be positive "
            f"and sum to feature_dim {feature_dim}"
        )
    return dims


def _resolve_weights(n: int, stream_weights: tuple[float, ...] | None) -> torch.Tensor:
    """``(S,)`` fusion weights normalized to sum 1; ``None`` gives equal weights."""
    if stream_weights is None:
        return torch.full((n,), 1.0 / n)
    w = torch.as_tensor([float(v) for v in stream_weights], dtype=torch.float32)
    if w.numel() != n or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(
            f"em_mil: stream_weights {list(stream_weights)} need {n} non-negative values, not all 0"
        )
    return w / w.sum()


class EMMIL(TemporalMethod):
    """EM-MIL (Luo et al., ECCV 2020): alternating pseudo-label training of ``q_phi``, ``p_theta``.

    Args:
        feature_dim: snippet feature dimension ``D`` (streams concatenated).
        num_classes: number of classes ``C``.
        hidden_dim, kernel_size, dropout: branch architecture (see :class:`EMMILConfig`).
        stream_dims: per-stream dimensions summing to ``D``; None = two equal halves.
        stream_weights: fusion weights of the streams (normalized); None = equal.
        gamma: Eq. 5 threshold margin.
        fuse_lambda: Eq. 9 weight of ``Q_t`` in the localization score.
        switch_every, late_start, late_switch_every, late_lr_scale: the schedule
            (:func:`em_phase`, :func:`em_lr_scale`).
        train_mode: ``"em"`` (the paper), ``"joint"`` or ``"attention"`` (ablations, Table 3).
        video_hidden_dim, video_dropout: trunk of the independent video classifier.
        video_classifier: ``"attention"`` (UntrimmedNet soft attention) or ``"topk"``
            (W-TALC top-k MIL); both see the input features only.

    Outputs (:class:`TemporalOutput`): ``cas (B, T, C)`` fused ``P``; ``actionness (B, T)``
    fused ``Q``; ``video_scores (B, C)`` the video classifier's probabilities;
    in logit units (for ``LocalizerConfig.units == "logit"``): ``logits (B, T, C)`` the
    stream-weighted average of ``p_theta``'s logits (the classifier before its sigmoid) and
    ``video_logits (B, C)`` the video classifier's log-probabilities (log-softmax over
    classes); ``extras``: ``q_logits (S, B, T)``, ``p_logits (S, B, T, C)``,
    ``video_log_probs (B, C)``. All are 0 on padding (the video-level ones excepted).
    """

    Config = EMMILConfig
    localizer_preset: ClassVar[str] = "em_mil"
    #: Epochs over which every parameter gets a gradient under the default schedule
    #: (init/M phase for epochs 0-9, E phase at epoch 10).
    contract_epochs: ClassVar[int] = 11

    def __init__(
        self,
        *,
        feature_dim: int,
        num_classes: int,
        hidden_dim: int = 256,
        kernel_size: int = 3,
        dropout: float = 0.0,
        stream_dims: tuple[int, ...] | None = None,
        stream_weights: tuple[float, ...] | None = None,
        gamma: float = 0.15,
        fuse_lambda: float = 0.8,
        switch_every: int = 10,
        late_start: int | None = 30,
        late_switch_every: int = 1,
        late_lr_scale: float = 4.0,
        train_mode: TrainMode = "em",
        video_hidden_dim: int = 128,
        video_dropout: float = 0.5,
        video_classifier: VideoClassifier = "attention",
    ):
        super().__init__()
        _check_args(
            kernel_size, switch_every, late_start, late_switch_every, fuse_lambda, train_mode
        )
        self.stream_dims = _resolve_streams(feature_dim, stream_dims)
        self.num_classes = num_classes
        self.gamma, self.fuse_lambda, self.train_mode = float(gamma), float(fuse_lambda), train_mode
        self.switch_every, self.late_start = switch_every, late_start
        self.late_switch_every, self.late_lr_scale = late_switch_every, float(late_lr_scale)
        branch = {"hidden_dim": hidden_dim, "kernel_size": kernel_size, "dropout": dropout}
        self.key = nn.ModuleList(
            _SnippetBranch(in_dim=d, out_dim=1, **branch) for d in self.stream_dims
        )
        self.cls = nn.ModuleList(
            _SnippetBranch(in_dim=d, out_dim=num_classes, **branch) for d in self.stream_dims
        )
        if video_classifier not in ("attention", "topk"):
            raise ConfigError(
                f"em_mil: video_classifier must be attention or topk, got {video_classifier!r}"
            )
        head = _AttentionMILClassifier if video_classifier == "attention" else _TopkMILClassifier
        self.video_classifier = head(
            stream_dims=self.stream_dims,
            num_classes=num_classes,
            hidden_dim=video_hidden_dim,
            kernel_size=kernel_size,
            dropout=video_dropout,
        )
        self.register_buffer(
            "stream_weights", _resolve_weights(len(self.stream_dims), stream_weights)
        )
        # the epoch set by on_epoch_start (-1: none yet); saved with checkpoints
        self.register_buffer("_epoch", torch.tensor(-1, dtype=torch.int64))

    # ---- schedule -----------------------------------------------------------------------

    def phase_at(self, epoch: int) -> Phase:
        """The phase of ``epoch`` under this model's schedule (no state change)."""
        return em_phase(
            epoch,
            switch_every=self.switch_every,
            late_start=self.late_start,
            late_switch_every=self.late_switch_every,
            train_mode=self.train_mode,
        )

    def on_epoch_start(self, epoch: int, *, total_epochs: int) -> dict[str, float]:
        """Set ``phase_`` for ``epoch`` and return its ``lr_scale`` (Sec. 4.1).

        Depends on ``epoch`` only (never on earlier calls), so a resumed run is identical.
        """
        self.phase_at(epoch)  # validates the epoch
        self._epoch.fill_(int(epoch))
        return {"lr_scale": self.lr_scale_at(epoch)}

    def lr_scale_at(self, epoch: int) -> float:
        """Learning-rate multiplier of ``epoch`` under this model's schedule (Sec. 4.1)."""
        return em_lr_scale(epoch, late_start=self.late_start, late_lr_scale=self.late_lr_scale)

    @property
    def phase_(self) -> Phase:
        """Current phase (``"init"``, ``"E"``, ``"M"``, ``"joint"``), set by on_epoch_start."""
        phase = self._current_phase()
        if phase is None:
            raise PhaseNotSetError(
                "EMMIL.phase_ is set by on_epoch_start(epoch, total_epochs=...), which has not "
                "been called (forward and losses still work: without a phase both branches train)"
            )
        return phase

    def _current_phase(self) -> Phase | None:
        epoch = int(self._epoch)
        return None if epoch < 0 else self.phase_at(epoch)

    def _video_classifier_trains(self) -> bool:
        """The video classifier learns at the base learning rate only (see :meth:`losses`)."""
        epoch = int(self._epoch)
        return epoch < 0 or self.lr_scale_at(epoch) == 1.0

    # ---- forward ------------------------------------------------------------------------

    def _fuse(self, x: torch.Tensor) -> torch.Tensor:
        """Weighted average over the leading stream axis ``(S, ...) -> (...)`` (Sec. 4.1)."""
        w = self.stream_weights.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        return (w * x).sum(dim=0)

    def forward(self, batch: TemporalBatch) -> TemporalOutput:
        """Raw scores: fused ``Q`` (actionness), fused ``P`` (cas), video classifier (scores)."""
        mask = batch.mask
        x = batch.feats * mask.unsqueeze(-1).to(batch.feats.dtype)
        parts = list(torch.split(x, list(self.stream_dims), dim=-1))
        q_logits = torch.stack(
            [k(p).squeeze(-1) for k, p in zip(self.key, parts, strict=True)]
        )  # (S, B, T)
        p_logits = torch.stack([c(p) for c, p in zip(self.cls, parts, strict=True)])  # (S, B, T, C)
        m = mask.to(q_logits.dtype)
        q = self._fuse(torch.sigmoid(q_logits)) * m
        p = self._fuse(torch.sigmoid(p_logits)) * m.unsqueeze(-1)
        log_w = torch.log(self.stream_weights.to(x.dtype).clamp_min(1e-30))
        video_log_probs = self.video_classifier(parts, mask, log_w)
        return TemporalOutput(
            cas=p,
            video_scores=video_log_probs.exp(),
            actionness=q,
            logits=self._fuse(p_logits) * m.unsqueeze(-1),
            video_logits=video_log_probs,
            extras={"q_logits": q_logits, "p_logits": p_logits, "video_log_probs": video_log_probs},
        )

    def localization_scores(self, out: TemporalOutput) -> torch.Tensor:
        """``L (B, T, C)`` of Eq. 9 with this model's ``fuse_lambda`` (what the localizer uses)."""
        return localization_score(out.actionness, out.cas, self.fuse_lambda)

    def localization_mask(self, out: TemporalOutput, mask: torch.Tensor) -> torch.Tensor:
        """Snippets kept at inference ``(B, T, C)`` bool: Eq. 9 thresholded by the rule of Eq. 5."""
        return relative_threshold_mask(self.localization_scores(out), mask, self.gamma)

    # ---- losses -------------------------------------------------------------------------

    def losses(self, batch: TemporalBatch, out: TemporalOutput) -> dict[str, torch.Tensor]:
        """Loss terms of the current phase; ``"total"`` sums the ones that train.

        ``em``/``joint``: ``"e_step"`` (Eq. 4) and ``"m_step"`` (Eq. 6, or the initialization
        labels in the ``init`` phase) are always reported; a term enters ``"total"`` only in a
        phase that trains its branch (``None``, before :meth:`on_epoch_start`: both).
        ``attention``: ``"attention_mil"``. Every mode reports ``"video_cls"`` (the independent
        video classifier, trained separately with a constant rate in the paper); it enters
        ``"total"`` in the epochs whose ``lr_scale`` is 1 (THUMOS14: epochs 0-29, then the head
        is frozen while the EM branches run at 4x the rate; ActivityNet1.2: always).
        """
        phase = self._current_phase()
        if self.train_mode == "attention":
            terms, active = self._attention_terms(batch, out, phase)
        else:
            terms, active = self._pseudo_label_terms(batch, out, phase)
        video = video_classifier_loss(out.extras["video_log_probs"], batch.video_labels, batch.mask)
        if self._video_classifier_trains():
            active.add("video_cls")
        terms["video_cls"] = video
        total = sum(terms[k] for k in sorted(active))
        return {"total": total, **{k: v.detach() for k, v in terms.items()}}

    def _pseudo_label_terms(
        self, batch: TemporalBatch, out: TemporalOutput, phase: Phase | None
    ) -> tuple[dict[str, torch.Tensor], set[str]]:
        """E/M pseudo-label BCE terms (Eq. 3-6) and the names of those that train now."""
        mask, y = batch.mask, batch.video_labels
        z_hat = e_step_labels(out.cas, y, mask)
        if phase == "init":
            y_hat = init_labels(y, mask)
        else:
            y_hat = m_step_labels(out.actionness, y, mask, self.gamma)
        terms = {
            "e_step": _pseudo_label_bce(out.extras["q_logits"], z_hat, mask),
            "m_step": _pseudo_label_bce(out.extras["p_logits"], y_hat, mask),
        }
        return terms, _trained_terms(phase)

    def _attention_terms(
        self, batch: TemporalBatch, out: TemporalOutput, phase: Phase | None
    ) -> tuple[dict[str, torch.Tensor], set[str]]:
        """The attention-MIL term of the ``"attention"`` ablation; the frozen branch is detached."""
        q_logits, p_logits = out.extras["q_logits"], out.extras["p_logits"]
        if phase == "E":
            p_logits = p_logits.detach()
        elif phase in ("init", "M"):
            q_logits = q_logits.detach()
        loss = _attention_mil_bce(
            q_logits, p_logits, batch.video_labels, batch.mask, uniform=phase == "init"
        )
        return {"attention_mil": loss}, {"attention_mil"}


def _trained_terms(phase: Phase | None) -> set[str]:
    """Pseudo-label terms that enter the total in ``phase`` (None: no phase, both)."""
    if phase == "E":
        return {"e_step"}
    if phase in ("init", "M"):
        return {"m_step"}
    return {"e_step", "m_step"}


def _check_args(
    kernel_size: int,
    switch_every: int,
    late_start: int | None,
    late_switch_every: int,
    fuse_lambda: float,
    train_mode: str,
) -> None:
    """Raise :class:`ConfigError` for values the schedule or the branches cannot use."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"em_mil: kernel_size must be odd and >= 1, got {kernel_size}")
    if switch_every < 1 or late_switch_every < 1:
        raise ConfigError("em_mil: switch_every and late_switch_every must be >= 1")
    if late_start is not None and late_start < 0:
        raise ConfigError(f"em_mil: late_start must be >= 0 or null, got {late_start}")
    if not 0.0 <= fuse_lambda <= 1.0:
        raise ConfigError(f"em_mil: fuse_lambda must lie in [0, 1], got {fuse_lambda}")
    if train_mode not in ("em", "joint", "attention"):
        raise ConfigError(f"em_mil: train_mode must be em, joint or attention, got {train_mode!r}")
