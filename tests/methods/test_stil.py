"""STIL (Mettes & Snoek 2019): exact subtube search, reranking arithmetic, a tiny fit/predict."""

from __future__ import annotations

import numpy as np
import pytest

from wsal.methods.stil import STIL, STILConfig, VideoBoxes, best_box_set, best_subtube, rerank


def _brute(scores: np.ndarray, penalty: float) -> float:
    best = -np.inf
    for k in range(len(scores)):
        for stop in range(k + 1, len(scores) + 1):
            best = max(best, scores[k:stop].sum() - penalty * (stop - k - 1))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_best_subtube_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    scores = rng.normal(0.5, 1.5, size=n)
    if seed % 3 == 0:
        scores = np.round(scores)  # ties
    penalty = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
    start, stop, z = best_subtube(scores, penalty)
    assert 0 <= start < stop <= n
    assert z == pytest.approx(_brute(scores, penalty))
    assert z == pytest.approx(scores[start:stop].sum() - penalty * (stop - start - 1))


def test_best_subtube_hand_cases():
    assert best_subtube(np.array([0.5, 0.9, 0.3]), 1.0) == (1, 2, pytest.approx(0.9))
    assert best_subtube(np.array([2.0, 0.5, 3.0]), 1.0)[:2] == (0, 3)  # 5.5 - 2 = 3.5 > 3
    with pytest.raises(ValueError):
        best_subtube(np.array([]), 1.0)


def test_best_box_set_without_tube_constraint():
    assert best_box_set(np.array([0.2, 1.5, 0.9, 3.0]), 1.0).tolist() == [1, 3]
    assert best_box_set(np.array([0.2, 0.9]), 1.0).tolist() == [1]


def test_rerank_arithmetic():
    s = np.array([0.5, 0.2, 0.8])
    lab = np.array([0, 1, 1])
    v = np.array([1.0, -1.0])
    np.testing.assert_allclose(rerank(s, lab), s)
    np.testing.assert_allclose(rerank(s, lab, v, contextual=True), [1.5, -0.8, -0.2])
    # negative evidence: s - (max - s) with max = 0.8
    np.testing.assert_allclose(rerank(s, lab, negative=True), [0.2, -0.4, 0.8])
    # both: contextual first (max 1.5), then negative evidence
    np.testing.assert_allclose(rerank(s, lab, v, contextual=True, negative=True), [1.5, -3.1, -1.9])
    with pytest.raises(ValueError):
        rerank(s, lab, contextual=True)
    assert rerank(np.zeros(0), np.zeros(0, int), negative=True).size == 0


def _toy_video(rng, label: int, n_frames: int = 8):
    """2 boxes per sampled frame: the actor (class direction) and a static background box."""
    dim = 6
    frames = np.repeat(1 + 5 * np.arange(n_frames), 2)
    actor = np.array([10.0, 10.0, 60.0, 110.0])
    bg = np.array([200.0, 100.0, 260.0, 200.0])
    boxes = np.stack([actor, bg] * n_frames) + rng.normal(0, 1, size=(2 * n_frames, 4))
    feats = rng.normal(0, 0.3, size=(2 * n_frames, dim))
    feats[0::2, label] += 3.0
    feats[1::2, 5] += 3.0
    prior = np.tile([0.9, 0.4], n_frames)
    return VideoBoxes(frames, boxes, prior, feats, nframes=int(frames[-1]) + 4)


@pytest.mark.parametrize("selection", ["stil", "mil", "gmil", "no_prim"])
def test_fit_predict_finds_the_actor(selection):
    rng = np.random.default_rng(0)
    labels = [i % 3 for i in range(12)]
    videos = [_toy_video(rng, y) for y in labels]
    cfg = STILConfig(selection=selection, mu=3, epochs=2, class_weight="balanced")
    model = STIL(config=cfg, seed=0).fit(videos, [{y} for y in labels], 3)
    assert model.coef_.shape == (3, 6)
    test = _toy_video(rng, 1)
    tubes = model.predict_video(test)
    best = max(tubes, key=lambda t: t.score)
    assert best.label == 1
    assert best.boxes[:, 0].max() < 100  # the actor, not the background box
    assert best.frames.tolist() == list(range(1, 39))  # interpolated, extended by step // 2
    again = STIL(config=cfg).load_state_dict(model.state_dict())
    assert [t.score for t in again.predict_video(test)] == [t.score for t in tubes]


def test_unfitted_model_refuses_to_predict():
    with pytest.raises(RuntimeError):
        STIL().decision_function(np.zeros((1, 3)))


def test_fit_is_deterministic_and_penalty_sets_selection_length():
    """Same seed -> same weights (liblinear is seeded); the Eq. 3 penalty decides how many
    boxes the E-step keeps: 1 with the paper's penalty on [0, 1] priors, the whole actor
    tube with a penalty below the scores (``init_length_penalty`` only for the first E-step)."""
    rng = np.random.default_rng(1)
    labels = [i % 3 for i in range(9)]
    videos = [_toy_video(rng, y) for y in labels]
    sets = [{y} for y in labels]
    paper = STILConfig(epochs=0, folds=1)
    a = STIL(config=paper, seed=3).fit(videos, sets, 3)
    b = STIL(config=paper, seed=3).fit(videos, sets, 3)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert all(h == [1.0] for h in a.history_.values())  # priors < 1: one box
    long = STIL(config=STILConfig(epochs=0, folds=1, init_length_penalty=0.5)).fit(videos, sets, 3)
    assert all(h == [8.0] for h in long.history_.values())  # the 8 actor boxes (prior 0.9)
    neg = STIL(config=STILConfig(epochs=1, folds=1, length_penalty=-5.0)).fit(videos, sets, 3)
    assert all(h[-1] >= 8.0 for h in neg.history_.values())
