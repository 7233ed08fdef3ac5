"""STIL: spatio-temporal instance learning of action tubes from video labels.

Mettes & Snoek, "Spatio-Temporal Instance Learning: Action Tubes from Class Supervision"
(2019; ``../shared/papers/003_ecc5408090c2274f.txt``). One linear max-margin classifier
``(w_c, b_c)`` per class over L2-normalized box features, trained by latent-variable
max-margin EM (Eq. 1-3):

* every training video is decomposed into a few tubes by Temporal Prim on the detector
  prior (Sec. 3.2, :func:`wsal.localize.linking.temporal_prim`);
* E-step: in each positive video exactly one subtube (consecutive boxes of one tube, length
  ``1..F``) is selected by maximizing Eq. 3, ``z = sum_l (<w, x_l> + b) - s`` with ``s`` the
  stride (length - 1), solved exactly in O(length) per tube by :func:`best_subtube`; the first
  E-step uses the prior box scores instead of model scores;
* M-step: hinge loss, C = 10, liblinear (scikit-learn ``LinearSVC``) on the selected boxes
  (positives) against background boxes of every video and the top-scoring boxes of the
  negative videos (Condition 3); 3 folds (Cinbis et al.: the selection of a fold is made by
  the model trained on the other folds); 5 epochs.

Inference (Sec. 3.4): box scores ``<w_c, x> + b_c``, Temporal Prim on them with the test-time
stopping rule (no box with a positive score), tube score = mean box score, boxes interpolated
on every frame. Reranking: contextual (add a global video classifier's score) and negative
evidence (subtract the gap to the best tube of any class in the video), :func:`rerank`.

The baselines of the paper's Table 1 are options of :class:`STILConfig` (``selection``):
``"mil"`` (one box per positive video), ``"gmil"`` (``mu`` boxes per positive video; both
start from random boxes, as in the paper) and ``"no_prim"`` (STIL's objective without the
tube constraint: any set of boxes of the video).

This method is not gradient-trained: it is not in ``METHODS``; :mod:`wsal.engine.tubes` fits
and predicts it. State learned by ``fit`` ends in ``_`` (scikit-learn convention).
"""

from __future__ import annotations

import dataclasses
import typing
import warnings
from collections.abc import Sequence

import numpy as np

from wsal.localize.linking import (
    FrameIndex,
    half_sampling_step,
    temporal_prim,
    tube_from_indices,
)
from wsal.structures import Tube

__all__ = [
    "STILConfig",
    "VideoBoxes",
    "STIL",
    "best_subtube",
    "best_box_set",
    "rerank",
    "l2_normalize",
    "Annotations",
    "ANNOTATION_SECONDS",
    "delta_t",
    "delta_s",
    "annotation_prior",
    "simulate_annotations",
    "annotation_seconds",
]


@dataclasses.dataclass
class STILConfig:
    """Hyper-parameters of STIL (defaults: the paper's values where it gives them)."""

    # "stil" (paper), or the Table 1 baselines "mil", "gmil" (mu boxes), "no_prim"
    selection: typing.Literal["stil", "mil", "gmil", "no_prim"] = "stil"
    mu: int = 10  # boxes per positive video for "gmil" (paper: 5, 10, 40)
    C: float = 10.0  # liblinear regularization (paper: 10)
    epochs: int = 5  # EM epochs (paper: 5)
    folds: int = 3  # multi-fold selection (paper: 3, after Cinbis et al.)
    length_penalty: float = 1.0  # the "- s" of Eq. 3 (paper: 1 per extra box)
    prior_scale: float = 1.0  # first E-step scores = prior_scale * detector prior (paper: 1)
    # length penalty of the first E-step (on prior scores, which live in [0, 1] while SVM
    # scores do not); None: the same as length_penalty (paper)
    init_length_penalty: float | None = None
    train_tubes: int = 5  # Temporal Prim tubes per training video ("a small set")
    prim_iou: float = 0.1  # Eq. 4 edge threshold (paper: 0.1)
    suppress_iou: float | None = 0.5  # drop boxes overlapping a found tube (ours)
    background_per_video: int = 20  # background boxes (outside the tubes) of each video
    negatives_per_video: int = 10  # top boxes of each negative video (paper: "top boxes")
    max_iter: int = 2000  # liblinear iterations
    # class weights of the hinge loss: None (paper) or "balanced" (positives and negatives
    # weighted by inverse frequency; ours, for few positives against many negatives)
    class_weight: typing.Literal["balanced"] | None = None
    # inference
    test_tubes: int = 3  # Temporal Prim tubes per class per test video
    # test-time stopping rule: grow only through boxes scoring above this (paper: 0, "no box
    # with a positive action score"); None: grow while edges (IoU >= prim_iou) exist
    test_min_score: float | None = 0.0
    extend: int | None = None  # frames added at each tube end (None: half the sampling step)
    contextual: bool = False  # contextual reranking (global video classifier)
    negative: bool = False  # negative-evidence reranking


@dataclasses.dataclass
class VideoBoxes:
    """Box proposals of one video, the input of STIL.

    Attributes:
        frames: ``(N,)`` int64 1-indexed frames (a subsample, e.g. every 5th frame).
        boxes: ``(N, 4)`` float64 pixels x1y1x2y2 (inclusive corners).
        prior: ``(N,)`` detector (actor) scores, the zero-shot prior of Sec. 3.2.
        features: ``(N, D)`` float box features (L2-normalized inside STIL).
        nframes: video length in frames (tubes are clipped to it).
    """

    frames: np.ndarray
    boxes: np.ndarray
    prior: np.ndarray
    features: np.ndarray
    nframes: int


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of ``x (N, D)`` divided by their L2 norm (zero rows stay zero); float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, eps)


# --------------------------------------------------------------------------------------------
# E-step: exact latent selection
# --------------------------------------------------------------------------------------------


def best_subtube(scores: np.ndarray, penalty: float = 1.0) -> tuple[int, int, float]:
    """Exact maximizer of Eq. 3 over the subtubes of one tube, in O(L).

    ``z(k, s) = sum_{l=k}^{k+s} scores[l] - penalty * s`` over start ``k`` and stride
    ``s >= 0`` (length ``s + 1`` in ``1..L``) equals ``penalty + sum_{l} (scores[l] - penalty)``,
    so the maximum is Kadane's maximum subarray of ``scores - penalty`` (non-empty) plus
    ``penalty``.

    Args:
        scores: ``(L,)`` box scores of the tube in frame order (``L >= 1``).
        penalty: the length regularization per extra box.

    Returns:
        ``(start, stop, z)``: the subtube is ``scores[start:stop]`` (earliest on ties, then the
        shortest), ``z`` its value.
    """
    a = np.asarray(scores, dtype=np.float64).reshape(-1) - penalty
    if a.size == 0:
        raise ValueError("best_subtube: empty tube")
    # prefix sums: best subarray ending at j = P[j+1] - min_{i <= j} P[i]
    prefix = np.concatenate([[0.0], np.cumsum(a)])
    run_min = np.minimum.accumulate(prefix[:-1])
    arg_min = _last_argmin_accumulate(prefix[:-1])
    ends = prefix[1:] - run_min
    stop = int(np.argmax(ends)) + 1
    start = int(arg_min[stop - 1])
    return start, stop, float(ends[stop - 1] + penalty)


def _last_argmin_accumulate(p: np.ndarray) -> np.ndarray:
    """``out[j]`` = the largest index ``i <= j`` with ``p[i] == min(p[:j + 1])`` (vectorized)."""
    run_min = np.minimum.accumulate(p)
    is_min = p <= run_min  # p[i] attains the running minimum at i
    idx = np.where(is_min, np.arange(p.size), 0)
    return np.maximum.accumulate(idx)


def best_box_set(scores: np.ndarray, penalty: float = 1.0) -> np.ndarray:
    """Eq. 3 without the tube constraint ("STIL w/o Temporal Prim"): any non-empty box set.

    ``max_S sum_{l in S} scores[l] - penalty (|S| - 1)`` is attained by every box with
    ``scores > penalty``, or the single best box if there is none. Returns sorted indices.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    pick = np.flatnonzero(scores > penalty)
    return pick if pick.size else np.array([int(np.argmax(scores))])


# --------------------------------------------------------------------------------------------
# Supervision beyond video labels (Sec. 3.3, Eq. 5-7; appendix A)
# --------------------------------------------------------------------------------------------

#: Appendix A cost model, seconds: one video label, one box, one point (an "absent" frame
#: costs what the frame's annotation kind costs: the annotator inspects the frame either way).
ANNOTATION_SECONDS = {"label": 5.0, "box": 15.0, "point": 1.5}

#: annotation kinds of :class:`Annotations` (``kind`` codes)
BOX, POINT, ABSENT = 0, 1, 2


@dataclasses.dataclass
class Annotations:
    """Frame annotations of one training video (STIL Sec. 3.3).

    Attributes:
        frames: ``(M,)`` int 1-indexed annotated frames.
        kind: ``(M,)`` int: 0 box, 1 point, 2 "absent" (the action is not in the frame).
        geometry: ``(M, 4)`` float pixels: the box x1y1x2y2, a point as ``(x, y, x, y)``,
            ignored (zeros) for "absent".
    """

    frames: np.ndarray
    kind: np.ndarray
    geometry: np.ndarray

    @classmethod
    def empty(cls) -> Annotations:
        """No annotation (video labels only)."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)))

    def __len__(self) -> int:
        return int(len(self.frames))


def delta_t(ann_frames: np.ndarray, box_frames: np.ndarray) -> np.ndarray:
    """Eq. 6, ``max(0, 1 - |A^f - B^f| / 2)``: ``(M,)``, ``(N,)`` -> ``(M, N)``.

    An annotation counts fully on its frame and half on the two neighbouring frames.
    """
    af = np.asarray(ann_frames, np.float64).reshape(-1, 1)
    bf = np.asarray(box_frames, np.float64).reshape(1, -1)
    return np.maximum(0.0, 1.0 - np.abs(af - bf) / 2.0)


def _pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(M, N)`` of pixel boxes ``a (M, 4)`` and ``b (N, 4)`` (+1 pixel convention)."""
    a, b = a[:, None, :], b[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1, 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1, 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def delta_s(kind: np.ndarray, geometry: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Eq. 7, the spatial score of each annotation for each box: ``(M, N)``.

    * box: ``iou(A, B)``;
    * point: ``pmatch(A, B) = max(0, 1 - ||A - c(B)|| / ||c(B) - e(B)||)`` with ``c`` the box
      centre and ``e`` a box corner (the point overlap of Mettes et al. 2016: 1 at the centre,
      0 at the corners and beyond);
    * absent: ``-1`` (boxes in frames without the action are pushed down).
    """
    kind = np.asarray(kind, np.int64).reshape(-1)
    geometry = np.asarray(geometry, np.float64).reshape(-1, 4)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    iou = _pairwise_iou(geometry, boxes)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0  # (N, 2)
    half_diag = np.linalg.norm(boxes[:, 2:] - centre, axis=1)  # ||c(B) - e(B)||
    dist = np.linalg.norm(geometry[:, None, :2] - centre[None], axis=2)  # (M, N)
    pmatch = np.maximum(0.0, 1.0 - dist / np.maximum(half_diag, 1e-9)[None])
    k = kind[:, None]
    return np.where(k == BOX, iou, np.where(k == POINT, pmatch, -1.0))


def annotation_prior(frames: np.ndarray, boxes: np.ndarray, ann: Annotations) -> np.ndarray:
    """Eq. 5, ``s(B, A) = sum_j delta_t(A_j^f, B^f) delta_s(A_j^s, B^s)`` for every box: ``(N,)``.

    STIL adds it to the detector prior of the training boxes (Sec. 3.3), so the first E-step
    and the Temporal Prim decomposition start from the annotated actor.
    """
    n = len(np.asarray(frames).reshape(-1))
    if len(ann) == 0 or n == 0:
        return np.zeros(n)
    dt = delta_t(ann.frames, frames)
    near = np.flatnonzero(dt.any(axis=1))  # only annotations within one frame of some box
    if near.size == 0:
        return np.zeros(n)
    ds = delta_s(ann.kind[near], ann.geometry[near], boxes)
    return (dt[near] * ds).sum(axis=0)


def simulate_annotations(
    gt_tubes: Sequence[Tube], nframes: int, kind: typing.Literal["box", "point"], stride: int
) -> Annotations:
    """Annotations of one training video simulated from its ground-truth tubes.

    Every ``stride``-th frame (1, 1 + stride, ...) is annotated: one box (or the box centre as
    a point) per ground-truth tube present in the frame, "absent" when no tube is. Only for
    the supervision-beyond-labels experiments (Sec. 5.2.2); labels-only training never calls it.
    """
    if kind not in ("box", "point"):
        raise ValueError(f"simulate_annotations: kind must be 'box' or 'point', not {kind!r}")
    if stride < 1:
        raise ValueError(f"simulate_annotations: stride must be >= 1, got {stride}")
    sampled = np.arange(1, int(nframes) + 1, int(stride))
    fr, geo = [], []
    for t in gt_tubes:
        hit = np.isin(t.frames, sampled)
        fr.append(t.frames[hit])
        geo.append(t.boxes[hit])
    fr_all = np.concatenate(fr) if fr else np.zeros(0, np.int64)
    geo_all = np.concatenate(geo) if geo else np.zeros((0, 4))
    if kind == "point":
        c = (geo_all[:, :2] + geo_all[:, 2:]) / 2.0
        geo_all = np.concatenate([c, c], axis=1)
    absent = np.setdiff1d(sampled, fr_all)
    code = BOX if kind == "box" else POINT
    return Annotations(
        frames=np.concatenate([fr_all, absent]).astype(np.int64),
        kind=np.concatenate([np.full(len(fr_all), code), np.full(len(absent), ABSENT)]),
        geometry=np.concatenate([geo_all, np.zeros((len(absent), 4))]),
    )


def annotation_seconds(ann: Annotations | None) -> float:
    """Appendix A cost of one video: 5 s for its label plus 15 s per annotated box and 1.5 s
    per point; an "absent" frame costs one annotation of the kind used in the video (boxes
    if the video has no box or point at all)."""
    cost = ANNOTATION_SECONDS["label"]
    if ann is None or len(ann) == 0:
        return cost
    kind = np.asarray(ann.kind)
    n_box, n_point = int((kind == BOX).sum()), int((kind == POINT).sum())
    absent_unit = ANNOTATION_SECONDS["point"] if n_point > n_box else ANNOTATION_SECONDS["box"]
    return (
        cost
        + n_box * ANNOTATION_SECONDS["box"]
        + n_point * ANNOTATION_SECONDS["point"]
        + int((kind == ABSENT).sum()) * absent_unit
    )


# --------------------------------------------------------------------------------------------
# Reranking (Sec. 3.4)
# --------------------------------------------------------------------------------------------


def rerank(
    tube_scores: np.ndarray,
    tube_labels: np.ndarray,
    video_scores: np.ndarray | None = None,
    *,
    contextual: bool = False,
    negative: bool = False,
) -> np.ndarray:
    """Reranked scores of the tubes of one video (STIL Sec. 3.4).

    * contextual: ``s + v[label]`` with ``v (C,)`` the global video classifier's scores;
    * negative evidence: ``s - (M - s)`` with ``M`` the maximum tube score over all classes in
      the video (the larger the gap to the best action, the larger the penalty);
    * both: the contextual scores first, then negative evidence on them.

    Args:
        tube_scores: ``(T,)`` mean box scores; tube_labels: ``(T,)`` class indices.
        video_scores: ``(C,)``, required when ``contextual``.
    """
    s = np.asarray(tube_scores, dtype=np.float64).reshape(-1).copy()
    if s.size == 0:
        return s
    if contextual:
        if video_scores is None:
            raise ValueError("rerank: contextual reranking needs video_scores")
        s = s + np.asarray(video_scores, dtype=np.float64)[np.asarray(tube_labels, dtype=int)]
    if negative:
        s = s - (s.max() - s)
    return s


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def _svm(cfg: STILConfig):
    """The max-margin solver: liblinear, hinge loss, L2 regularization (STIL: C = 10).

    ``random_state`` is fixed: liblinear's dual coordinate descent shuffles the samples, and an
    unseeded solver made two identical fits differ (runs were not reproducible).
    """
    from sklearn.svm import LinearSVC

    return LinearSVC(
        C=cfg.C, loss="hinge", dual=True, max_iter=cfg.max_iter, class_weight=cfg.class_weight,
        random_state=0,
    )  # fmt: skip


def _fit_binary(x_pos: np.ndarray, x_neg: np.ndarray, cfg: STILConfig) -> tuple[np.ndarray, float]:
    """``(w (D,), b)`` of a hinge-loss SVM separating ``x_pos`` from ``x_neg``."""
    from sklearn.exceptions import ConvergenceWarning

    x = np.concatenate([x_pos, x_neg])
    y = np.concatenate([np.ones(len(x_pos)), -np.ones(len(x_neg))])
    svm = _svm(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(x, y)
    return svm.coef_[0].astype(np.float32), float(svm.intercept_[0])


@dataclasses.dataclass
class _Prepared:
    """Per-video training state shared by all classes."""

    x: np.ndarray  # (N, D) L2-normalized features
    tubes: list[np.ndarray]  # Temporal Prim tubes on the prior (box indices, frame order)
    background: np.ndarray  # indices of background boxes (outside every tube), subsampled


class STIL:
    """Spatio-temporal instance learning (Mettes & Snoek 2019); see the module docstring.

    Args:
        config: :class:`STILConfig`.
        seed: seeds the background subsampling, the folds and the baselines' random init.

    Attributes (after :meth:`fit`):
        coef_: ``(C, D)`` float32 class weights; intercept_: ``(C,)`` biases.
        video_coef_, video_intercept_: the global video classifier (contextual reranking).
        selections_: ``{class: {video index: box indices}}`` of the last E-step.
        history_: per class and epoch, the mean selected boxes per positive video.
    """

    def __init__(self, *, config: STILConfig | None = None, seed: int = 0):
        self.config = config if config is not None else STILConfig()
        self.seed = int(seed)

    # ---------------------------------------------------------------------------- fitting
    def _prepare(self, videos: Sequence[VideoBoxes], rng: np.random.Generator) -> list[_Prepared]:
        cfg = self.config
        out = []
        for v in videos:
            tubes = temporal_prim(
                v.frames, v.boxes, v.prior, iou_threshold=cfg.prim_iou,
                max_tubes=cfg.train_tubes, suppress_iou=cfg.suppress_iou,
            )  # fmt: skip
            in_tube = np.zeros(len(v.frames), dtype=bool)
            for t in tubes:
                in_tube[t.indices] = True
            bg = np.flatnonzero(~in_tube)
            if bg.size > cfg.background_per_video:
                bg = np.sort(rng.choice(bg, cfg.background_per_video, replace=False))
            out.append(_Prepared(l2_normalize(v.features), [t.indices for t in tubes], bg))
        return out

    def _select(
        self, prep: _Prepared, scores: np.ndarray, rng: np.random.Generator, first: bool
    ) -> np.ndarray:
        """E-step of one positive video: the box indices that are positives for the class."""
        cfg = self.config
        n = scores.shape[0]
        penalty = cfg.length_penalty
        if first and cfg.init_length_penalty is not None:
            penalty = cfg.init_length_penalty
        if cfg.selection in ("mil", "gmil"):
            k = 1 if cfg.selection == "mil" else min(cfg.mu, n)
            if first:  # the paper initializes the baselines with random boxes
                return np.sort(rng.choice(n, k, replace=False))
            return np.sort(np.argsort(-scores, kind="stable")[:k])
        if cfg.selection == "no_prim":
            return best_box_set(scores, penalty)
        best, best_z = np.array([int(np.argmax(scores))]), -np.inf
        for tube in prep.tubes:
            start, stop, z = best_subtube(scores[tube], penalty)
            if z > best_z:
                best, best_z = tube[start:stop], z
        return best

    def fit(self, videos: Sequence[VideoBoxes], labels: Sequence[set[int]], n_classes: int) -> STIL:
        """Learn one classifier per class from video label sets only.

        Args:
            videos: the training videos' boxes (prior scores, features).
            labels: the set of class indices of each video (its only supervision).
            n_classes: number of classes ``C``.
        """
        if len(videos) != len(labels):
            raise ValueError(f"STIL.fit: {len(videos)} videos but {len(labels)} label sets")
        if not videos:
            raise ValueError("STIL.fit: no training videos")
        rng = np.random.default_rng(self.seed)
        prep = self._prepare(videos, rng)
        dim = prep[0].x.shape[1]
        self.coef_ = np.zeros((n_classes, dim), dtype=np.float32)
        self.intercept_ = np.full(n_classes, -1.0, dtype=np.float64)
        self.selections_: dict[int, dict[int, np.ndarray]] = {}
        self.history_: dict[int, list[float]] = {}
        background = np.concatenate([p.x[p.background] for p in prep])
        for c in range(n_classes):
            pos = [i for i, y in enumerate(labels) if c in y]
            neg = [i for i, y in enumerate(labels) if c not in y]
            if not pos:
                continue
            self._fit_class(c, pos, neg, prep, videos, background, rng)
        self._fit_video_classifier(prep, labels, n_classes)
        return self

    def _hard_negatives(
        self, neg: list[int], prep: list[_Prepared], scores: dict[int, np.ndarray]
    ) -> np.ndarray:
        """Top-scoring boxes of each negative video (Condition 3): ``(M, D)``."""
        k = self.config.negatives_per_video
        parts = [prep[i].x[np.argsort(-scores[i], kind="stable")[:k]] for i in neg]
        return np.concatenate(parts) if parts else np.zeros((0, prep[0].x.shape[1]), np.float32)

    def _fit_class(
        self,
        c: int,
        pos: list[int],
        neg: list[int],
        prep: list[_Prepared],
        videos: Sequence[VideoBoxes],
        background: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Latent max-margin EM of class ``c`` (Eq. 1-3): E-steps per fold, M-step, mining."""
        cfg = self.config

        def positives(ids) -> np.ndarray:
            return np.concatenate([prep[i].x[sel[i]] for i in ids])

        prior = {i: cfg.prior_scale * np.asarray(videos[i].prior, np.float64) for i in pos + neg}
        sel = {i: self._select(prep[i], prior[i], rng, first=True) for i in pos}
        negatives = np.concatenate([background, self._hard_negatives(neg, prep, prior)])
        folds = np.array_split(rng.permutation(pos), max(1, min(cfg.folds, len(pos))))
        history = [float(np.mean([len(s) for s in sel.values()]))]
        w, b = _fit_binary(positives(pos), negatives, cfg)
        for _ in range(cfg.epochs):
            if len(folds) > 1:  # multi-fold: a fold is re-selected by the other folds' model
                for fold in folds:
                    held = set(fold.tolist())
                    wf, bf = _fit_binary(
                        positives([i for i in pos if i not in held]), negatives, cfg
                    )
                    for i in held:
                        sel[i] = self._select(prep[i], prep[i].x @ wf + bf, rng, first=False)
            else:
                sel = {i: self._select(prep[i], prep[i].x @ w + b, rng, first=False) for i in pos}
            w, b = _fit_binary(positives(pos), negatives, cfg)
            scores = {i: prep[i].x @ w + b for i in neg}
            negatives = np.concatenate([background, self._hard_negatives(neg, prep, scores)])
            history.append(float(np.mean([len(s) for s in sel.values()])))
        self.coef_[c], self.intercept_[c] = w, b
        self.selections_[c] = sel
        self.history_[c] = history

    def _fit_video_classifier(self, prep, labels, n_classes) -> None:
        """Global video classifier (contextual reranking) on mean box features (a deviation:
        the paper pools frame CNN features at 2 fps; the tube folder has box features only)."""
        xv = l2_normalize(np.stack([p.x.mean(axis=0) for p in prep]))
        self.video_coef_ = np.zeros((n_classes, xv.shape[1]), dtype=np.float32)
        self.video_intercept_ = np.full(n_classes, -1.0)
        for c in range(n_classes):
            y = np.array([c in s for s in labels])
            if y.any() and not y.all():
                w, b = _fit_binary(xv[y], xv[~y], self.config)
                self.video_coef_[c], self.video_intercept_[c] = w, b

    # ---------------------------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("STIL: call fit() (or load a fitted model) before predicting")

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Box scores ``<w_c, x> + b_c``: ``features (N, D)`` raw -> ``(N, C)``."""
        self._check_fitted()
        return l2_normalize(features) @ self.coef_.T + self.intercept_[None, :]

    def video_scores(self, features: np.ndarray) -> np.ndarray:
        """Global video classifier scores ``(C,)`` of one video's box features ``(N, D)``."""
        self._check_fitted()
        xv = l2_normalize(l2_normalize(features).mean(axis=0, keepdims=True))
        return (xv @ self.video_coef_.T)[0] + self.video_intercept_

    def predict_video(self, video: VideoBoxes) -> list[Tube]:
        """Tubes of one test video, every class: Temporal Prim on the model's box scores
        (stopping at non-positive scores), mean-score tubes, interpolated, reranked."""
        cfg = self.config
        if len(video.frames) == 0:
            return []
        scores = self.decision_function(video.features)  # (N, C)
        index = FrameIndex.build(video.frames)
        extend = half_sampling_step(index) if cfg.extend is None else cfg.extend
        tubes: list[Tube] = []
        for c in range(scores.shape[1]):
            s = scores[:, c].astype(np.float64)
            found = temporal_prim(
                video.frames, video.boxes, s, iou_threshold=cfg.prim_iou,
                max_tubes=cfg.test_tubes, min_score=cfg.test_min_score, suppress_iou=cfg.suppress_iou,
                index=index,
            )  # fmt: skip
            for t in found:
                tubes.append(
                    tube_from_indices(
                        t.indices, video.frames, video.boxes, s, label=c,
                        nframes=video.nframes, extend=extend,
                    )
                )  # fmt: skip
        if tubes and (cfg.contextual or cfg.negative):
            base = np.array([t.score for t in tubes])
            labels = np.array([t.label for t in tubes])
            vs = self.video_scores(video.features) if cfg.contextual else None
            new = rerank(base, labels, vs, contextual=cfg.contextual, negative=cfg.negative)
            for t, v in zip(tubes, new):
                t.score = float(v)
        return tubes

    # ---------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """The learned arrays (for an ``.npz``)."""
        self._check_fitted()
        return {
            "coef": self.coef_, "intercept": self.intercept_,
            "video_coef": self.video_coef_, "video_intercept": self.video_intercept_,
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, np.ndarray]) -> STIL:
        """Restore what :meth:`state_dict` returned."""
        self.coef_ = np.asarray(state["coef"], dtype=np.float32)
        self.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
        self.video_coef_ = np.asarray(state["video_coef"], dtype=np.float32)
        self.video_intercept_ = np.asarray(state["video_intercept"], dtype=np.float64)
        return self
