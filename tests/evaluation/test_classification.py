"""Video classification mAP: hand-computed values, tie handling, and agreement with sklearn."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wsal.evaluation.classification import classification_map


def test_hand_computed() -> None:
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    result = classification_map(scores, labels, class_names=["run", "jump"])
    # positives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert result.ap[0] == pytest.approx((1 + 2 / 3) / 2, abs=1e-15)
    assert np.isnan(result.ap[1])  # no positive video: NaN, left out of the mean
    assert result.mAP == result.ap[0]
    assert result.classes == ["run", "jump"]
    doc = result.to_json()
    assert doc == {"mAP": result.mAP, "per_class": {"run": result.ap[0], "jump": None}}
    json.dumps(doc, allow_nan=False)


def test_ties_form_one_threshold() -> None:
    # a positive tied with a negative gets the precision at the end of the tie block
    result = classification_map(np.array([[0.5], [0.5], [0.1]]), np.array([[0], [1], [1]]))
    assert result.ap[0] == pytest.approx((1 / 2 + 2 / 3) / 2, abs=1e-15)
    swapped = classification_map(np.array([[0.5], [0.5], [0.1]]), np.array([[1], [0], [1]]))
    assert swapped.ap[0] == result.ap[0]


def test_all_nan_and_default_names() -> None:
    result = classification_map(np.zeros((3, 2)), np.zeros((3, 2)))
    assert np.isnan(result.mAP) and result.classes == ["0", "1"]
    assert result.to_json()["mAP"] is None


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="must both be"):
        classification_map(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        classification_map(np.array([[np.nan]]), np.array([[1]]))
    with pytest.raises(ValueError, match="multi-hot"):
        classification_map(np.array([[0.5]]), np.array([[2]]))
    with pytest.raises(ValueError, match="class names"):
        classification_map(np.array([[0.5]]), np.array([[1]]), class_names=["a", "b"])


def test_equals_sklearn_average_precision() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for trial in range(40):
        n_videos = int(rng.integers(1, 40))
        scores = rng.random((n_videos, 5))
        if trial % 2:  # coarse scores: many ties
            scores = np.round(scores * 4) / 4
        labels = (rng.random((n_videos, 5)) < 0.3).astype(np.int64)
        result = classification_map(scores, labels)
        for c in range(scores.shape[1]):
            if labels[:, c].any():
                expected = sklearn_metrics.average_precision_score(labels[:, c], scores[:, c])
                assert result.ap[c] == pytest.approx(expected, abs=1e-12)
            else:
                assert np.isnan(result.ap[c])
