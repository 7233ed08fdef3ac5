"""Raw per-snippet scores -> temporal :class:`~wsal.structures.Segments` (seconds), one video.

Every temporal method returns raw scores only (ARCHITECTURE.md, convention 6); this module
is the post-processing that turns them into detections, and it can be re-run from saved raw
scores (:func:`save_raw_scores` / :func:`load_raw_scores`) without the model.

Inputs of one video:

* ``cas: (T, C)`` class activation sequence, probabilities in ``[0, 1]`` or logits (the
  caller says which with ``cas_is_logits``; logits are mapped by
  :attr:`LocalizerConfig.cas_activation`);
* ``actionness: (T,)`` optional class-agnostic score in ``[0, 1]`` (attention, ``Q_t``);
* ``video_scores: (C,)`` optional video-level class probabilities;
* ``timing``: :class:`~wsal.structures.SnippetTiming` (snippet ``i`` covers
  ``[i*s, (i+1)*s)`` seconds, the one owner of snippet <-> seconds conversion);
* ``duration``: optional video length in seconds; segments are clipped to it.

Pipeline (:func:`localize_video`), all in snippet indices until step 5:

1. per class ``c`` of the kept classes (class filter on ``video_scores``), the localization
   signal ``L[c] (T,)``: the CAS, the actionness, or ``lambda*actionness + (1-lambda)*CAS``;
2. for every threshold, ``L[c]`` is thresholded (absolute or per-video relative rule) and
   cut into 1-D connected components (:func:`connected_components`), half-open
   ``[start, end)`` snippet indices; proposals of all thresholds are pooled and de-duplicated;
3. proposals shorter than ``min_length_snippets`` are dropped;
4. each proposal is scored on ``L[c]`` (max, mean, or outer-inner contrast) plus
   ``video_score_weight * video_scores[c]`` (:func:`score_segments`);
5. bounds become seconds through ``timing.to_seconds`` and are clipped to ``duration``;
6. per-class hard NMS or Gaussian soft-NMS (:func:`nms_1d`, :func:`soft_nms_1d`), a score
   floor and a top-k per video.

Everything is vectorized over snippets; the only Python loops run over NMS picks and classes.

Presets (:data:`PRESETS`; the comment above each entry gives its source and our choices
where the paper is silent): ``"dml"`` (Islam & Radke, WACV 2020, Sec. 3.5), ``"dml_code"``
(the same authors' released test-time procedure, in logit units), ``"em_mil"``
(Luo et al., ECCV 2020, Sec. 3.5 / 4.1), ``"wtalc"`` (Paul et al., ECCV 2018, released
evaluation), ``"attention_mil"`` (STPN, Nguyen et al., CVPR 2018, T-CAS = attention x CAS)
and ``"multi_threshold"`` (a common recent recipe: many thresholds, AutoLoc OIC scoring,
soft-NMS).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import quote, unquote

import numpy as np

from wsal.errors import ConfigError, FormatError
from wsal.io.atomic import save_npz_atomic
from wsal.structures import Segments, SnippetTiming, TemporalDetections

__all__ = [
    "LocalizerConfig",
    "PRESETS",
    "RELATIVE_ON_LOGITS",
    "get_preset",
    "RawScores",
    "connected_components",
    "segments_from_mask",
    "score_segments",
    "nms_1d",
    "soft_nms_1d",
    "localize_video",
    "localize_many",
    "to_temporal_detections",
    "save_raw_scores",
    "load_raw_scores",
]

ScoreSource = Literal["cas", "actionness", "fused"]
ThresholdMode = Literal["absolute", "relative_minmax", "minmax_normalized", "fraction_of_max"]
Scoring = Literal["max", "mean", "oic"]
ClassFilter = Literal["none", "threshold", "topk", "given"]
NmsKind = Literal["none", "hard", "soft"]
CasActivation = Literal["sigmoid", "softmax", "none"]
Units = Literal["probability", "logit"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "cas_activation": get_args(CasActivation),
    "units": get_args(Units),
    "score_source": get_args(ScoreSource),
    "threshold_mode": get_args(ThresholdMode),
    "scoring": get_args(Scoring),
    "class_filter": get_args(ClassFilter),
    "nms": get_args(NmsKind),
}


# --------------------------------------------------------------------------------------------
# Configuration and presets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalizerConfig:
    """How raw scores of one video become segments (see the module docstring for the steps).

    The defaults are a neutral single-threshold setting (CAS >= 0.5, max scoring, no NMS);
    :data:`PRESETS` holds each paper's post-processing.

    Attributes:
        units: which raw scores are localized: ``"probability"`` (the CAS and the video-level
            probabilities) or ``"logit"`` (the method's unbounded snippet ``logits`` and
            ``video_logits``, used as they are: ``cas_activation`` does not apply). Logit
            units reproduce released code that thresholds and scores raw logits (DML's).
        cas_activation: how ``cas`` logits become scores when the caller passes
            ``cas_is_logits=True``: ``"sigmoid"`` per class (multi-label, DML),
            ``"softmax"`` over classes, or ``"none"`` (threshold the logits themselves, as
            W-TALC's released evaluation does). Ignored for probabilities.
        score_source: the signal that is thresholded and scored: ``"cas"``,
            ``"actionness"`` (class-agnostic: the same segments for every kept class, so pair
            it with a class filter) or ``"fused"``
            ``L = fuse_lambda * actionness + (1 - fuse_lambda) * cas`` (EM-MIL Eq. 9).
        fuse_lambda: weight of the actionness in ``"fused"``, in ``[0, 1]``.
        thresholds: one or more thresholds; proposals of all thresholds are pooled,
            de-duplicated and then go through NMS.
        threshold_mode: how a threshold ``g`` becomes a value per video and class, over the
            ``T`` snippets of ``L[c]``:
            ``"absolute"``: ``g``;
            ``"relative_minmax"``: ``mean(L) + g * (max(L) - min(L))`` (EM-MIL Eq. 5);
            ``"minmax_normalized"``: ``min(L) + g * (max(L) - min(L))``, i.e. the min-max
            normalized signal against ``g`` (W-TALC uses ``max - 0.5 (max - min)``);
            ``"fraction_of_max"``: ``g * max(L)``.
        threshold_inclusive: keep snippets with ``L >= value`` (True) or ``L > value``. With
            a relative mode a constant signal gives nothing when strict and the whole video
            when inclusive.
        min_length_snippets: proposals shorter than this many snippets are dropped (>= 1).
        scoring: base score of a proposal ``[s, e)`` on ``L[c]``: ``"max"``, ``"mean"``, or
            ``"oic"`` (outer-inner contrast, AutoLoc, Shou et al. ECCV 2018):
            ``mean(inner) - oic_weight * mean(outer)``, where the outer region is the
            ``ceil(oic_inflation * (e - s))`` snippets on each side, cut at the video ends
            (an empty outer region has mean 0).
        oic_inflation: outer margin as a fraction of the proposal length, each side (>= 0).
        oic_weight: weight of the outer mean in ``"oic"``.
        video_score_weight: ``gamma`` in ``q = base + gamma * video_scores[c]`` (DML: 0.7).
            Needs ``video_scores`` when non-zero.
        class_filter: which classes are localized: ``"none"`` (all), ``"threshold"``
            (``video_scores >= class_threshold``), ``"topk"`` (the ``class_topk`` best video
            scores) or ``"given"`` (the ``classes_to_use`` passed to :func:`localize_video`).
        class_threshold: video-score threshold of ``"threshold"``.
        class_topk: number of classes kept by ``"topk"`` (>= 1).
        nms: ``"none"``, ``"hard"`` (greedy, suppress IoU > ``nms_iou``) or ``"soft"``
            (Gaussian soft-NMS, Bodla et al. ICCV 2017); per class.
        nms_iou: IoU above which hard NMS suppresses, in ``[0, 1]``.
        soft_nms_sigma: ``sigma`` of the Gaussian decay ``exp(-iou^2 / sigma)`` (> 0).
        max_per_video: keep at most this many segments per video (best scores); None = all.
        min_score: drop segments whose final score is below this; None = keep all.
    """

    units: Units = "probability"
    cas_activation: CasActivation = "sigmoid"
    score_source: ScoreSource = "cas"
    fuse_lambda: float = 0.5
    thresholds: tuple[float, ...] = (0.5,)
    threshold_mode: ThresholdMode = "absolute"
    threshold_inclusive: bool = True
    min_length_snippets: int = 1
    scoring: Scoring = "max"
    oic_inflation: float = 0.25
    oic_weight: float = 1.0
    video_score_weight: float = 0.0
    class_filter: ClassFilter = "none"
    class_threshold: float = 0.1
    class_topk: int = 1
    nms: NmsKind = "none"
    nms_iou: float = 0.5
    soft_nms_sigma: float = 0.5
    max_per_video: int | None = None
    min_score: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name}: {getattr(self, name)!r} is not one of {list(choices)}")
        if not self.thresholds or not all(math.isfinite(t) for t in self.thresholds):
            raise ConfigError(f"thresholds: need one or more finite values, got {self.thresholds}")
        checks = [
            ("fuse_lambda", 0.0 <= self.fuse_lambda <= 1.0, "in [0, 1]"),
            ("min_length_snippets", self.min_length_snippets >= 1, ">= 1"),
            ("oic_inflation", self.oic_inflation >= 0.0, ">= 0"),
            ("nms_iou", 0.0 <= self.nms_iou <= 1.0, "in [0, 1]"),
            ("soft_nms_sigma", self.soft_nms_sigma > 0.0, "> 0"),
            ("class_topk", self.class_topk >= 1, ">= 1"),
            ("max_per_video", self.max_per_video is None or self.max_per_video >= 1, ">= 1"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ConfigError(f"{name}: must be {what}, got {getattr(self, name)!r}")


#: The relative threshold on raw logits that the W-TALC family of released evaluations uses
#: (DML's, W-TALC's): per video and class, logits strictly above min + 0.5 (max - min), runs of
#: >= 2 snippets, score max(logits over the run) + 0.7 x the video score in logit units, every
#: class, no NMS. The presets below that work in logit units are this or a variant of it.
RELATIVE_ON_LOGITS = LocalizerConfig(
    units="logit",
    score_source="cas",
    thresholds=(0.5,),
    threshold_mode="minmax_normalized",
    threshold_inclusive=False,
    min_length_snippets=2,
    scoring="max",
    video_score_weight=0.7,
    class_filter="none",
    nms="none",
)

#: EM-MIL's Sec. 3.5 / 4.1 rule (preset "em_mil", commented there); "em_mil_code" varies it.
EM_MIL_PAPER = LocalizerConfig(
    cas_activation="sigmoid",
    score_source="fused",
    fuse_lambda=0.8,
    thresholds=(0.15,),
    threshold_mode="relative_minmax",
    threshold_inclusive=False,
    scoring="mean",
    video_score_weight=0.0,
    class_filter="threshold",
    class_threshold=0.1,
    nms="none",
)

#: Each method's paper post-processing. ``dataclasses.replace(PRESETS[name], ...)`` tunes one.
PRESETS: dict[str, LocalizerConfig] = {
    # DML (Islam & Radke, WACV 2020, Sec. 3.5): y = sigmoid(s); snippets with y < 0.5 are
    # discarded ("less than threshold 0.5", so >= 0.5 is kept); 1-D connected components are
    # the instances; q = max(y over the instance) + 0.7 * video score. The paper names no class
    # filter, no NMS and no minimum length ("we detect action instances for each class
    # separately"), so none are applied; ranking by q already favours classes the video
    # classifier believes in. (The authors' released code instead uses W-TALC's relative
    # threshold on logits: that is the "wtalc" preset.)
    "dml": LocalizerConfig(
        cas_activation="sigmoid",
        score_source="cas",
        thresholds=(0.5,),
        threshold_mode="absolute",
        threshold_inclusive=True,
        scoring="max",
        video_score_weight=0.7,
        class_filter="none",
        nms="none",
    ),
    # DML as in the authors' released code (asrafulashiq/wsad, eval_detection.py), which is
    # what produced the published numbers rather than Sec. 3.5: the raw, unclipped snippet
    # logits (clipping is only used inside the training losses) are thresholded per video
    # and class at min + 0.5 (max - min), strictly above; runs of >= 2 snippets are kept; a
    # run scores max(logits over it) + 0.7 x the video score in logit units (the max over
    # l_w = 60-snippet windows, the remainder joined to the last, of the mean of the 10
    # largest logits: DeepMetricMIL's ``video_logits``). Every class of every video is
    # localized (no class filter) and no NMS is applied. The released code additionally
    # drops predictions that overlap THUMOS14's "Ambiguous" segments; the evaluator handles
    # ambiguous ground truth instead.
    "dml_code": RELATIVE_ON_LOGITS,
    # EM-MIL (Luo et al., ECCV 2020, Sec. 3.5, 4.1 for THUMOS14): L_t = 0.8 Q_t + 0.2 P_tc
    # (Eq. 9), thresholded with the M-step rule of Eq. 5, L_t > mean(L) + 0.15 (max L - min L),
    # clips above it grouped into proposals. Classes come from a separate video classifier
    # (UntrimmedNet / W-TALC): pass its probabilities as ``video_scores``. The paper is
    # silent on the class rule, the proposal score and NMS; we keep classes with video score
    # >= 0.1, score a proposal by the mean of L over it and apply no NMS (one threshold
    # gives disjoint proposals per class). ActivityNet1.2 uses lambda 0.3 and gamma 0.
    "em_mil": EM_MIL_PAPER,
    # EM-MIL as in the authors' released test.py (airmachine/EM-MIL-WeaklyActionDetection),
    # the procedure behind the published numbers as far as the code shows it: the score is
    # 0.8 Q + 0.8 P (both terms weighted by lambda, not Eq. 9's lambda / 1 - lambda; the
    # relative threshold is scale-free, so equal weights 0.5 / 0.5 are the same), kept where
    # (L - mean) / (max - min) > 0.05, i.e. L > mean + 0.05 (max - min) (not Eq. 5's 0.15);
    # classes whose UntrimmedNet probability is >= 0.15; no minimum length, no NMS.
    # Deviations: the code writes the constant score 1 for every proposal (ties ranked by
    # file order) and drops a proposal still open at the last clip; here a proposal scores
    # the mean of L over it and runs reaching the video's end are kept.
    "em_mil_code": replace(EM_MIL_PAPER, fuse_lambda=0.5, thresholds=(0.05,), class_threshold=0.15),
    # EM-MIL in logit units (wsal's choice for THUMOS14, chosen on validation carve-outs of the
    # training videos, docs/methods/em_mil.md): the stream-averaged logits of the classifier
    # p_theta (EMMIL's ``logits``; its M-step pseudo-labels carry q_phi's assignment) are
    # thresholded per video and class at min + 0.5 (max - min), strictly above; runs of >= 2
    # snippets; a run scores max(logits over it) + 0.7 x the video classifier's
    # log-probability (EMMIL's ``video_logits``); every class, no NMS. This is the relative
    # threshold-on-logits procedure of W-TALC's and DML's released evaluations ("dml_code").
    "em_mil_logit": RELATIVE_ON_LOGITS,
    # W-TALC (Paul et al., ECCV 2018) as in its released evaluation: the CAS logits are used
    # as they are (pass cas_is_logits=True), thresholded per video and class at
    # max - 0.5 (max - min) (strictly above), proposals of >= 2 snippets, score
    # max(CAS over the proposal) + 0.7 * video score, classes whose video score (mean of the
    # top T/8 logits) is > 0, i.e. probability > 0.5. Deviations: our video score is a
    # probability (their 0.7 weight multiplied the logit) and the class test is >= 0.5.
    "wtalc": replace(
        RELATIVE_ON_LOGITS,
        units="probability",
        cas_activation="none",
        class_filter="threshold",
        class_threshold=0.5,
    ),
    # W-TALC as its authors' released evaluation runs it (sujoyp/wtalc-pytorch,
    # detectionMAP.py), in logit units: the raw snippet logits of each class are thresholded
    # per video at max - 0.5 (max - min), strictly above; runs of >= 2 snippets are kept and
    # score max(logits over the run) + 0.7 x the video logit (mean of the top T/8 logits);
    # only classes whose video logit is > 0 are localized (ours: >= 0); no NMS. The release
    # also drops predictions overlapping THUMOS14's "Ambiguous" segments (the evaluator
    # handles ambiguous ground truth instead) and takes the top floor(T/8) for the class
    # score where the video logit of WTALC uses ceil(T/8), as training does.
    "wtalc_code": replace(RELATIVE_ON_LOGITS, class_filter="threshold", class_threshold=0.0),
    # STPN / UntrimmedNets-style attention MIL (Nguyen et al., CVPR 2018): pass the T-CAS
    # (attention x class probabilities) as ``cas``. Classes with video score >= 0.1 are kept,
    # proposals are connected components of the thresholded T-CAS, scored by the mean T-CAS
    # inside, and overlapping ones are removed by per-class NMS. The STPN text is not in
    # the shared papers; the threshold set (0.1 .. 0.5) and NMS IoU 0.5 are our choices.
    "attention_mil": LocalizerConfig(
        cas_activation="sigmoid",
        score_source="cas",
        thresholds=(0.1, 0.2, 0.3, 0.4, 0.5),
        threshold_mode="absolute",
        threshold_inclusive=True,
        scoring="mean",
        video_score_weight=0.0,
        class_filter="threshold",
        class_threshold=0.1,
        nms="hard",
        nms_iou=0.5,
    ),
    # A common modern setting (no single paper): absolute thresholds 0.1, 0.2, ..., 0.9 on the
    # fused score (lambda 0.5), AutoLoc outer-inner contrast scoring (margin 0.25 of the
    # length each side) plus 0.2 x video score, classes with video score >= 0.2, Gaussian
    # soft-NMS (sigma 0.5) and at most 100 segments per video (the ActivityNet result cap).
    "multi_threshold": LocalizerConfig(
        cas_activation="sigmoid",
        score_source="fused",
        fuse_lambda=0.5,
        thresholds=tuple(round(0.1 * i, 1) for i in range(1, 10)),
        threshold_mode="absolute",
        threshold_inclusive=True,
        scoring="oic",
        oic_inflation=0.25,
        oic_weight=1.0,
        video_score_weight=0.2,
        class_filter="threshold",
        class_threshold=0.2,
        nms="soft",
        soft_nms_sigma=0.5,
        max_per_video=100,
    ),
}


def get_preset(name: str) -> LocalizerConfig:
    """The preset called ``name``; an unknown name raises :class:`ConfigError` listing them."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown localization preset {name!r}; choose one of {sorted(PRESETS)}"
        ) from None


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-D runs of True in each row of a boolean mask.

    Args:
        mask: ``(T,)`` or ``(K, T)`` bool (one row per class / threshold).

    Returns:
        ``(starts, ends, row)``: ``(N,)`` int64 each, half-open snippet indices
        ``[start, end)`` of every run and the row it lies in (0 for a 1-D mask), ordered by
        row then start. Found with ``np.diff`` of the mask padded with False on both sides.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 1:
        m = m[None, :]
    elif m.ndim != 2:
        raise ValueError(f"mask: expected shape (T,) or (K, T), got {m.shape}")
    padded = np.zeros((m.shape[0], m.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    step = np.diff(padded, axis=1)
    row, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    return starts.astype(np.int64), ends.astype(np.int64), row.astype(np.int64)


def _to_seconds(
    starts: np.ndarray, ends: np.ndarray, timing: SnippetTiming, duration: float | None
) -> np.ndarray:
    """``(N, 2)`` seconds of half-open snippet ranges, clipped to ``[0, duration]``."""
    bounds = np.stack([timing.to_seconds(starts), timing.to_seconds(ends)], axis=1).reshape(-1, 2)
    if duration is not None:
        bounds = np.minimum(bounds, duration)
    return bounds


def _clean_duration(duration: float | None) -> float | None:
    """None for unknown (None or NaN) durations; otherwise a positive float."""
    if duration is None or not math.isfinite(float(duration)):
        return None
    if duration <= 0:
        raise ValueError(f"duration must be positive seconds, got {duration}")
    return float(duration)


def segments_from_mask(
    mask: np.ndarray,
    *,
    timing: SnippetTiming,
    labels: Sequence[int] | np.ndarray | None = None,
    duration: float | None = None,
    min_length_snippets: int = 1,
) -> Segments:
    """Segments (seconds, unscored) of the True runs of a per-snippet mask.

    Args:
        mask: ``(T,)`` or ``(K, T)`` bool, one row per class.
        timing: snippet timing converting indices to seconds.
        labels: ``(K,)`` class index of each row; default the row index (``-1`` for a 1-D mask).
        duration: video length in seconds; segments are clipped to it and dropped if empty.
        min_length_snippets: runs shorter than this are dropped.

    Returns:
        :class:`Segments` with NaN scores, ordered by row then start.
    """
    m = np.asarray(mask, dtype=bool)
    starts, ends, row = connected_components(m)
    if labels is None:
        row_labels = np.full(1, -1) if m.ndim == 1 else np.arange(m.shape[0])
    else:
        row_labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    keep = ends - starts >= min_length_snippets
    starts, ends, row = starts[keep], ends[keep], row[keep]
    bounds = _to_seconds(starts, ends, timing, _clean_duration(duration))
    valid = bounds[:, 1] > bounds[:, 0]
    return Segments(bounds[valid], labels=row_labels[row[valid]])


def score_segments(
    signal: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    method: Scoring = "max",
    oic_inflation: float = 0.25,
    oic_weight: float = 1.0,
) -> np.ndarray:
    """Score proposals ``[start, end)`` on a per-snippet signal (vectorized over proposals).

    Args:
        signal: ``(T,)`` or ``(K, T)`` float per-snippet score (e.g. the CAS of one class).
        starts, ends: ``(N,)`` int half-open snippet indices, ``0 <= start < end <= T``.
        rows: ``(N,)`` row of ``signal`` of each proposal (default 0).
        method: ``"max"`` or ``"mean"`` of the signal inside, or ``"oic"``:
            ``mean(inside) - oic_weight * mean(outside)``, the outer-inner contrast of
            AutoLoc (Shou et al., ECCV 2018) with the outer region the
            ``ceil(oic_inflation * length)`` snippets before and after the proposal, cut at
            the video ends (mean 0 when that region is empty).
        oic_inflation: outer margin per side as a fraction of the proposal length.
        oic_weight: weight of the outer mean.

    Returns:
        ``(N,)`` float64 scores. Means use cumulative sums; the max uses ``np.maximum.reduceat``.
    """
    sig = np.asarray(signal, dtype=np.float64)
    sig = sig[None, :] if sig.ndim == 1 else sig
    k, t = sig.shape
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    ends = np.asarray(ends, dtype=np.int64).reshape(-1)
    rows = np.zeros_like(starts) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
    if starts.size == 0:
        return np.zeros(0, dtype=np.float64)
    bad_rows = np.any(rows < 0) or np.any(rows >= k)
    if np.any(starts < 0) or np.any(ends > t) or np.any(ends <= starts) or bad_rows:
        raise ValueError("score_segments: proposals must satisfy 0 <= start < end <= T")
    if method == "max":
        flat = np.append(sig.reshape(-1), 0.0)  # one spare slot so an end index of K*T is valid
        offsets = rows * t
        pairs = np.stack([offsets + starts, offsets + ends], axis=1).reshape(-1)
        return np.maximum.reduceat(flat, pairs)[::2]
    csum = np.zeros((k, t + 1), dtype=np.float64)
    np.cumsum(sig, axis=1, out=csum[:, 1:])
    inner = (csum[rows, ends] - csum[rows, starts]) / (ends - starts)
    if method == "mean":
        return inner
    if method != "oic":
        raise ValueError(f"score_segments: unknown method {method!r}")
    margin = np.ceil(oic_inflation * (ends - starts) - 1e-9).astype(np.int64)
    left = np.maximum(starts - margin, 0)
    right = np.minimum(ends + margin, t)
    outer_sum = (csum[rows, starts] - csum[rows, left]) + (csum[rows, right] - csum[rows, ends])
    outer_n = (starts - left) + (right - ends)
    outer = np.divide(outer_sum, outer_n, out=np.zeros_like(outer_sum), where=outer_n > 0)
    return inner - oic_weight * outer


def _check_nms_inputs(bounds: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 ``(N, 2)`` bounds and ``(N,)`` finite scores, or ValueError."""
    b = np.asarray(bounds, dtype=np.float64).reshape(-1, 2)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if b.shape[0] != s.shape[0]:
        raise ValueError(f"NMS: {b.shape[0]} segments but {s.shape[0]} scores")
    if not np.isfinite(s).all():
        raise ValueError("NMS: scores must be finite")
    return b, s


def _iou_one_to_many(s0: float, e0: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """IoU of ``[s0, e0)`` with each of ``(N,)`` segments; the rules of ``segment_iou_matrix``.

    Inlined for the NMS loops, which call it once per pick (the general function's input
    checks would dominate there).
    """
    inter = np.clip(np.minimum(e0, ends) - np.maximum(s0, starts), 0.0, None)
    union = (e0 - s0) + (ends - starts) - inter
    valid = (e0 >= s0) & (ends >= starts) & (union > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=valid)


def nms_1d(
    bounds: np.ndarray, scores: np.ndarray, iou_threshold: float, *, max_keep: int | None = None
) -> np.ndarray:
    """Greedy 1-D non-maximum suppression of the segments of one class.

    The best remaining segment is kept and every remaining segment whose temporal IoU with it
    is ``> iou_threshold`` is removed, until none remain. Ties in score keep input order.

    Args:
        bounds: ``(N, 2)`` segments, any time unit (IoU is unit-free).
        scores: ``(N,)`` finite scores.
        iou_threshold: IoU above which a segment is suppressed.
        max_keep: stop after keeping this many.

    Returns:
        ``(M,)`` int64 indices into the input of the kept segments, best score first.
    """
    b, s = _check_nms_inputs(bounds, scores)
    idx = np.argsort(-s, kind="stable")
    starts, ends = b[idx, 0], b[idx, 1]
    limit = len(s) if max_keep is None else max_keep
    keep: list[int] = []
    while idx.size and len(keep) < limit:
        keep.append(int(idx[0]))
        iou = _iou_one_to_many(starts[0], ends[0], starts[1:], ends[1:])
        survive = 1 + np.flatnonzero(iou <= iou_threshold)
        idx, starts, ends = idx[survive], starts[survive], ends[survive]
    return np.asarray(keep, dtype=np.int64)


def soft_nms_1d(
    bounds: np.ndarray,
    scores: np.ndarray,
    sigma: float = 0.5,
    *,
    score_threshold: float | None = None,
    max_keep: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian soft-NMS (Bodla et al., ICCV 2017) of the segments of one class.

    Repeatedly picks the remaining segment with the highest current score and decays every
    other remaining score by ``w = exp(-iou^2 / sigma)``, its IoU with the pick. For a
    non-negative score this is ``s * w``; a negative score (e.g. an outer-inner contrast) is
    lowered by the same fraction of its magnitude, ``s - |s| (1 - w)``, so a decay never
    raises a score. Ties keep input order.

    Args:
        bounds: ``(N, 2)`` segments, any time unit.
        scores: ``(N,)`` finite scores.
        sigma: Gaussian width (> 0); smaller suppresses harder.
        score_threshold: segments whose decayed score falls below this are dropped.
        max_keep: stop after this many picks.

    Returns:
        ``(keep, new_scores)``: ``(M,)`` int64 input indices in pick order and their
        ``(M,)`` float64 decayed scores (non-increasing).
    """
    if sigma <= 0:
        raise ValueError(f"soft_nms_1d: sigma must be > 0, got {sigma}")
    b, s = _check_nms_inputs(bounds, scores)
    idx, starts, ends = np.arange(len(s)), b[:, 0], b[:, 1]
    if score_threshold is not None:
        ok = s >= score_threshold
        idx, starts, ends, s = idx[ok], starts[ok], ends[ok], s[ok]
    limit = len(s) if max_keep is None else max_keep
    keep: list[int] = []
    kept: list[float] = []
    while idx.size and len(keep) < limit:
        j = int(np.argmax(s))  # first maximum: ties go to the lowest input index
        keep.append(int(idx[j]))
        kept.append(float(s[j]))
        s0, e0 = starts[j], ends[j]
        idx, starts, ends, s = (np.delete(x, j) for x in (idx, starts, ends, s))
        w = np.exp(-(_iou_one_to_many(s0, e0, starts, ends) ** 2) / sigma)
        s = s - np.abs(s) * (1.0 - w)
        if score_threshold is not None:
            ok = s >= score_threshold
            idx, starts, ends, s = idx[ok], starts[ok], ends[ok], s[ok]
    return np.asarray(keep, dtype=np.int64), np.asarray(kept, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# One video
# --------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _activate(cas: np.ndarray, cas_is_logits: bool, activation: CasActivation) -> np.ndarray:
    """``(T, C)`` scores from the caller's CAS (probabilities pass through unchanged)."""
    if not cas_is_logits or activation == "none":
        return cas
    if activation == "sigmoid":
        return _sigmoid(cas)
    z = np.exp(cas - cas.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _check_arrays(
    cas: np.ndarray, actionness: np.ndarray | None, video_scores: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """float64 copies of one video's raw scores, shapes and finiteness checked."""
    c = np.asarray(cas, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"cas: expected shape (T, C), got {c.shape}")
    t, n_cls = c.shape
    a = None if actionness is None else np.asarray(actionness, dtype=np.float64).reshape(-1)
    v = None if video_scores is None else np.asarray(video_scores, dtype=np.float64).reshape(-1)
    if a is not None and a.shape[0] != t:
        raise ValueError(f"actionness: expected {t} values (one per snippet), got {a.shape[0]}")
    if v is not None and v.shape[0] != n_cls:
        raise ValueError(f"video_scores: expected {n_cls} values (one per class), got {v.shape[0]}")
    for name, arr in (("cas", c), ("actionness", a), ("video_scores", v)):
        if arr is not None and not np.isfinite(arr).all():
            raise ValueError(f"{name}: contains NaN or Inf")
    return c, a, v


def _select_classes(
    config: LocalizerConfig,
    num_classes: int,
    video_scores: np.ndarray | None,
    classes_to_use: Sequence[int] | np.ndarray | None,
) -> np.ndarray:
    """``(K,)`` sorted int64 indices of the classes to localize."""
    if classes_to_use is not None and config.class_filter != "given":
        raise ValueError("classes_to_use is only read with class_filter='given'")
    if config.class_filter == "none":
        return np.arange(num_classes, dtype=np.int64)
    if config.class_filter == "given":
        if classes_to_use is None:
            raise ValueError("class_filter='given' needs classes_to_use")
        given = np.unique(np.asarray(classes_to_use, dtype=np.int64).reshape(-1))
        if given.size and (given[0] < 0 or given[-1] >= num_classes):
            raise ValueError(f"classes_to_use: indices must lie in [0, {num_classes})")
        return given
    if video_scores is None:
        raise ValueError(f"class_filter={config.class_filter!r} needs video_scores")
    if config.class_filter == "threshold":
        return np.flatnonzero(video_scores >= config.class_threshold).astype(np.int64)
    best = np.argsort(-video_scores, kind="stable")[: config.class_topk]
    return np.sort(best).astype(np.int64)


def _signal(
    config: LocalizerConfig, cas: np.ndarray, actionness: np.ndarray | None, classes: np.ndarray
) -> np.ndarray:
    """``(K, T)`` localization signal ``L`` of the kept classes."""
    cls_cas = cas[:, classes].T
    if config.score_source == "cas":
        return cls_cas
    if actionness is None:
        raise ValueError(f"score_source={config.score_source!r} needs actionness")
    if config.score_source == "actionness":
        return np.broadcast_to(actionness, cls_cas.shape).copy()
    return config.fuse_lambda * actionness[None, :] + (1.0 - config.fuse_lambda) * cls_cas


def _threshold_values(config: LocalizerConfig, signal: np.ndarray) -> np.ndarray:
    """``(n_thresholds, K)`` per-class threshold values of every configured threshold."""
    g = np.asarray(config.thresholds, dtype=np.float64)[:, None]
    if config.threshold_mode == "absolute":
        return np.broadcast_to(g, (g.shape[0], signal.shape[0]))
    hi, lo = signal.max(axis=1), signal.min(axis=1)
    if config.threshold_mode == "relative_minmax":
        return signal.mean(axis=1) + g * (hi - lo)
    if config.threshold_mode == "minmax_normalized":
        return lo + g * (hi - lo)
    return g * hi


def _proposals(config: LocalizerConfig, signal: np.ndarray) -> tuple[np.ndarray, ...]:
    """De-duplicated ``(rows, starts, ends)`` of all thresholds, length-filtered."""
    values = _threshold_values(config, signal)[:, :, None]
    mask = signal[None] >= values if config.threshold_inclusive else signal[None] > values
    starts, ends, row = connected_components(mask.reshape(-1, signal.shape[1]))
    keep = ends - starts >= config.min_length_snippets
    triples = np.stack([row[keep] % signal.shape[0], starts[keep], ends[keep]], axis=1)
    triples = np.unique(triples, axis=0)
    return triples[:, 0], triples[:, 1], triples[:, 2]


def _suppress(
    config: LocalizerConfig, bounds: np.ndarray, labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class NMS; returns kept indices and their (possibly decayed) scores."""
    if config.nms == "none" or len(scores) == 0:
        return np.arange(len(scores)), scores
    # Picks come out best first, so a class never needs more than max_per_video of them, and
    # soft-NMS scores only decrease, so dropping those under min_score early changes nothing.
    cap = config.max_per_video
    keep_parts, score_parts = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if config.nms == "hard":
            kept = idx[nms_1d(bounds[idx], scores[idx], config.nms_iou, max_keep=cap)]
            keep_parts.append(kept)
            score_parts.append(scores[kept])
        else:
            order, new_scores = soft_nms_1d(
                bounds[idx],
                scores[idx],
                config.soft_nms_sigma,
                score_threshold=config.min_score,
                max_keep=cap,
            )
            keep_parts.append(idx[order])
            score_parts.append(new_scores)
    return np.concatenate(keep_parts), np.concatenate(score_parts)


def localize_video(
    cas: np.ndarray,
    *,
    timing: SnippetTiming,
    config: LocalizerConfig | None = None,
    actionness: np.ndarray | None = None,
    video_scores: np.ndarray | None = None,
    duration: float | None = None,
    cas_is_logits: bool = False,
    classes_to_use: Sequence[int] | np.ndarray | None = None,
    logits: np.ndarray | None = None,
    video_logits: np.ndarray | None = None,
) -> Segments:
    """Segments of one video from its raw scores (see the module docstring for the steps).

    Args:
        cas: ``(T, C)`` class activation sequence: probabilities in ``[0, 1]``, or logits
            with ``cas_is_logits=True`` (mapped by ``config.cas_activation``).
        timing: snippet timing of the video (snippet ``i`` is ``[i*s, (i+1)*s)`` seconds).
        config: post-processing settings, e.g. ``PRESETS["dml"]``; default
            ``LocalizerConfig()``.
        actionness: ``(T,)`` class-agnostic score in ``[0, 1]``; needed by the
            ``"actionness"`` and ``"fused"`` score sources.
        video_scores: ``(C,)`` video-level class probabilities; needed by the class filters
            ``"threshold"``/``"topk"`` and by a non-zero ``video_score_weight``.
        duration: video length in seconds (None or NaN: unknown); segments are clipped to it
            and dropped when they start at or after it.
        cas_is_logits: whether ``cas`` holds logits rather than probabilities.
        classes_to_use: class indices to localize with ``class_filter="given"`` (e.g. the
            ground-truth video labels for an oracle-classification study).
        logits: ``(T, C)`` unbounded snippet scores; replace ``cas`` (used as they are) when
            ``config.units == "logit"``.
        video_logits: ``(C,)`` video scores in logit units; replace ``video_scores`` when
            ``config.units == "logit"``.

    Returns:
        :class:`Segments`: bounds ``(N, 2)`` seconds, labels = class indices into the CAS
        columns, scores; ordered by decreasing score (ties: class, then start).
    """
    config = LocalizerConfig() if config is None else config
    if config.units == "logit":
        if logits is None:
            raise ValueError("units='logit' needs the method's snippet logits")
        cas, video_scores, cas_is_logits = logits, video_logits, False
    c, a, v = _check_arrays(cas, actionness, video_scores)
    duration = _clean_duration(duration)
    if config.video_score_weight != 0.0 and v is None:
        raise ValueError("video_score_weight != 0 needs video_scores")
    classes = _select_classes(config, c.shape[1], v, classes_to_use)
    if c.shape[0] == 0 or classes.size == 0:
        return Segments(np.zeros((0, 2)))
    signal = _signal(config, _activate(c, cas_is_logits, config.cas_activation), a, classes)
    rows, starts, ends = _proposals(config, signal)
    scores = score_segments(
        signal,
        starts,
        ends,
        rows,
        method=config.scoring,
        oic_inflation=config.oic_inflation,
        oic_weight=config.oic_weight,
    )
    labels = classes[rows]
    if config.video_score_weight != 0.0:
        scores = scores + config.video_score_weight * v[labels]
    bounds = _to_seconds(starts, ends, timing, duration)
    valid = bounds[:, 1] > bounds[:, 0]
    bounds, labels, scores = bounds[valid], labels[valid], scores[valid]
    keep, scores = _suppress(config, bounds, labels, scores)
    bounds, labels = bounds[keep], labels[keep]
    if config.min_score is not None:
        ok = scores >= config.min_score
        bounds, labels, scores = bounds[ok], labels[ok], scores[ok]
    order = np.lexsort((bounds[:, 0], labels, -scores))[: config.max_per_video]
    return Segments(bounds[order], labels=labels[order], scores=scores[order])


# --------------------------------------------------------------------------------------------
# Many videos and saved raw scores
# --------------------------------------------------------------------------------------------


@dataclass
class RawScores:
    """The raw output of a temporal method for one video: everything localization needs.

    Attributes:
        cas: ``(T, C)`` float class activation sequence (probabilities, or logits if
            ``cas_is_logits``).
        timing: snippet timing of the video's features.
        actionness: ``(T,)`` float class-agnostic score, or None.
        video_scores: ``(C,)`` float video-level class probabilities, or None.
        duration: video length in seconds, or None (unknown).
        cas_is_logits: whether ``cas`` holds logits.
        logits: ``(T, C)`` float unbounded snippet scores (logit units), or None; localized
            by presets with ``units="logit"``.
        video_logits: ``(C,)`` float video scores in logit units, or None.
    """

    cas: np.ndarray
    timing: SnippetTiming = field(default_factory=SnippetTiming)
    actionness: np.ndarray | None = None
    video_scores: np.ndarray | None = None
    duration: float | None = None
    cas_is_logits: bool = False
    logits: np.ndarray | None = None
    video_logits: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.cas = _float_array(self.cas)
        if self.cas.ndim != 2:
            raise ValueError(f"RawScores.cas: expected shape (T, C), got {self.cas.shape}")
        t, c = self.cas.shape
        self.actionness = _optional_scores("actionness", self.actionness, (t,))
        self.video_scores = _optional_scores("video_scores", self.video_scores, (c,))
        self.logits = _optional_scores("logits", self.logits, (t, c))
        self.video_logits = _optional_scores("video_logits", self.video_logits, (c,))
        self.duration = _clean_duration(self.duration)
        self.cas_is_logits = bool(self.cas_is_logits)


def _optional_scores(
    name: str, value: np.ndarray | None, shape: tuple[int, ...]
) -> np.ndarray | None:
    """A float array of ``shape`` (1-D ones may come in any shape of that size), or None."""
    if value is None:
        return None
    arr = _float_array(value)
    arr = arr.reshape(-1) if len(shape) == 1 else arr
    if arr.shape != shape:
        what = f"{shape[0]} values" if len(shape) == 1 else f"shape {shape}"
        got = arr.shape[0] if len(shape) == 1 else arr.shape
        raise ValueError(f"RawScores.{name}: expected {what}, got {got}")
    return arr


def _float_array(a: np.ndarray) -> np.ndarray:
    """The array itself if it is floating point (float16/32/64 kept), else float64."""
    arr = np.asarray(a)
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def localize_many(
    raw: Mapping[str, RawScores],
    *,
    config: LocalizerConfig | None = None,
    classes_to_use: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Segments]:
    """:func:`localize_video` over many videos: ``{video: RawScores}`` -> ``{video: Segments}``.

    ``classes_to_use`` (``{video: class indices}``) is required with ``class_filter="given"``
    and must name every video.
    """
    config = LocalizerConfig() if config is None else config
    out: dict[str, Segments] = {}
    for video, r in raw.items():
        given = None
        if config.class_filter == "given":
            if classes_to_use is None or video not in classes_to_use:
                raise ValueError(f"class_filter='given': no classes_to_use for video {video!r}")
            given = classes_to_use[video]
        out[video] = localize_video(
            r.cas,
            timing=r.timing,
            config=config,
            actionness=r.actionness,
            video_scores=r.video_scores,
            duration=r.duration,
            cas_is_logits=r.cas_is_logits,
            classes_to_use=given,
            logits=r.logits,
            video_logits=r.video_logits,
        )
    return out


def to_temporal_detections(
    per_video: Mapping[str, Segments], classes: Sequence[str]
) -> TemporalDetections:
    """Flatten ``{video: Segments}`` into :class:`TemporalDetections` (labels index ``classes``)."""
    counts = [len(s) for s in per_video.values()]
    ids = np.repeat(np.asarray(list(per_video), dtype=str), counts)
    return TemporalDetections(ids, Segments.cat(list(per_video.values())), list(classes))


_FORMAT_KEY = "__wsal_raw_scores__"
_FORMAT_VERSION = 1
_FIELDS = (
    "cas",
    "actionness",
    "video_scores",
    "timing",
    "duration",
    "cas_is_logits",
    "logits",
    "video_logits",
)


def _encode_video(video: str) -> str:
    """Key-safe video id: percent-encoding of everything but ``[A-Za-z0-9_~-]``."""
    if not isinstance(video, str) or not video:
        raise ValueError(f"video ids must be non-empty strings, got {video!r}")
    return quote(video, safe="").replace(".", "%2E")


def save_raw_scores(path: str | Path, raw: Mapping[str, RawScores]) -> None:
    """Write ``{video: RawScores}`` to one ``.npz`` file atomically (no pickled objects).

    Layout: ``"<video>/cas"`` ``(T, C)``, ``"<video>/actionness"`` ``(T,)`` and
    ``"<video>/video_scores"`` ``(C,)``, ``"<video>/logits"`` ``(T, C)`` and
    ``"<video>/video_logits"`` ``(C,)`` when present, ``"<video>/timing"``
    ``[frames_per_snippet, fps]``, ``"<video>/duration"`` (seconds, absent when unknown),
    ``"<video>/cas_is_logits"`` bool, and a format-version entry. ``<video>`` is the
    percent-encoded id (``/`` -> ``%2F``, ``.`` -> ``%2E``), so any id is a safe key.
    """
    arrays: dict[str, np.ndarray] = {_FORMAT_KEY: np.array(_FORMAT_VERSION, dtype=np.int64)}
    for video, r in raw.items():
        key = _encode_video(video)
        arrays[f"{key}/cas"] = r.cas
        if r.actionness is not None:
            arrays[f"{key}/actionness"] = r.actionness
        for name in ("video_scores", "logits", "video_logits"):
            if getattr(r, name) is not None:
                arrays[f"{key}/{name}"] = getattr(r, name)
        arrays[f"{key}/timing"] = np.array(
            [r.timing.frames_per_snippet, r.timing.fps], dtype=np.float64
        )
        if r.duration is not None:
            arrays[f"{key}/duration"] = np.array(r.duration, dtype=np.float64)
        arrays[f"{key}/cas_is_logits"] = np.array(r.cas_is_logits)
    save_npz_atomic(path, **arrays)


def load_raw_scores(path: str | Path) -> dict[str, RawScores]:
    """Read a file written by :func:`save_raw_scores`; ``{video: RawScores}`` in file order.

    Bad content (unknown entries, missing ``cas`` or ``timing``, wrong shapes, NaN/Inf)
    raises :class:`FormatError` naming the file and the entry.
    """
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise FormatError(path, f"cannot read raw scores ({e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise FormatError(path, "not a wsal raw-scores file (an .npy array, not an .npz archive)")
    with npz:
        if _FORMAT_KEY not in npz.files:
            raise FormatError(path, "not a wsal raw-scores file (format entry missing)")
        grouped: dict[str, dict[str, np.ndarray]] = {}
        for name in npz.files:
            video, sep, part = name.rpartition("/")
            if name == _FORMAT_KEY:
                continue
            if not sep or part not in _FIELDS:
                raise FormatError(path, "unexpected entry", where=name)
            try:
                grouped.setdefault(video, {})[part] = npz[name]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                raise FormatError(path, f"unreadable entry ({e})", where=name) from None
    return {unquote(k): _raw_from_arrays(path, k, parts) for k, parts in grouped.items()}


def _raw_from_arrays(path: str | Path, key: str, parts: dict[str, np.ndarray]) -> RawScores:
    """One video's :class:`RawScores` from its npz entries; problems raise FormatError."""
    for required in ("cas", "timing"):
        if required not in parts:
            raise FormatError(path, f"missing '{required}'", where=f"{key}/{required}")
    for name, arr in parts.items():
        if name != "cas_is_logits" and not (
            np.issubdtype(arr.dtype, np.number) and np.isfinite(arr).all()
        ):
            raise FormatError(path, "expected finite numbers", where=f"{key}/{name}")
    timing = parts["timing"].reshape(-1)
    try:
        if timing.shape != (2,):
            raise ValueError(f"expected [frames_per_snippet, fps], got shape {timing.shape}")
        snippet = SnippetTiming(int(round(timing[0])), float(timing[1]))
        return RawScores(
            cas=parts["cas"],
            timing=snippet,
            actionness=parts.get("actionness"),
            video_scores=parts.get("video_scores"),
            duration=float(parts["duration"]) if "duration" in parts else None,
            cas_is_logits=bool(parts["cas_is_logits"]) if "cas_is_logits" in parts else False,
            logits=parts.get("logits"),
            video_logits=parts.get("video_logits"),
        )
    except ValueError as e:
        raise FormatError(path, str(e), where=key) from None
