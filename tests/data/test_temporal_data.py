"""Snippet sampling, padding/collate and the class-balanced batch sampler."""

import numpy as np
import torch

from wsal.data.temporal import ClassBalancedBatchSampler, collate_temporal, sample_snippets


def test_sample_snippets_modes():
    assert sample_snippets(5, 10, "uniform", None).tolist() == [0, 1, 2, 3, 4]
    u = sample_snippets(100, 10, "uniform", None)
    assert u.tolist() == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    r = sample_snippets(100, 10, "uniform", np.random.default_rng(0))
    assert len(r) == 10 and (np.diff(r) > 0).all() and r.max() < 100
    c = sample_snippets(100, 10, "random_crop", np.random.default_rng(0))
    assert (np.diff(c) == 1).all()
    assert sample_snippets(100, 10, "none", None).shape == (100,)


def test_collate_pads_and_masks():
    items = [
        {
            "feats": np.ones((3, 2), np.float32),
            "snippet_index": np.array([0, 1, 2]),
            "video_labels": np.array([1, 0]),
            "video_index": 0,
        },
        {
            "feats": np.ones((1, 2), np.float32),
            "snippet_index": np.array([7]),
            "video_labels": np.array([0, 1]),
            "video_index": 1,
        },
    ]
    b = collate_temporal(items)
    assert b.feats.shape == (2, 3, 2) and b.mask.tolist() == [[True] * 3, [True, False, False]]
    assert b.snippet_index.tolist() == [[0, 1, 2], [7, -1, -1]]
    assert b.lengths.tolist() == [3, 1] and torch.all(b.feats[1, 1:] == 0)


def test_class_balanced_sampler_draws_classes_with_replacement():
    """The DML authors' code draws its 5 classes with replacement: a class may fill two groups."""
    labels = np.zeros((12, 3), np.float32)
    labels[np.arange(12), np.arange(12) % 3] = 1
    s = ClassBalancedBatchSampler(
        labels, classes_per_batch=5, videos_per_class=4, seed=0, num_batches=50,
        class_replacement=True,
    )  # fmt: skip
    batches = list(s)
    assert all(len(b) == 20 for b in batches)  # 5 groups although only 3 classes exist
    groups = [labels[b].argmax(1).reshape(5, 4) for b in batches]
    assert all((g == g[:, :1]).all() for g in groups)  # each group of 4 shares its class
    assert any(len(set(g[:, 0].tolist())) < 5 for g in groups)
    plain = ClassBalancedBatchSampler(labels, classes_per_batch=5, videos_per_class=4, seed=0)
    assert all(len(b) == 12 for b in plain)  # without replacement: at most the 3 classes


def test_class_balanced_sampler_composition_and_determinism():
    labels = np.zeros((40, 6), np.float32)
    labels[np.arange(40), np.arange(40) % 6] = 1
    s = ClassBalancedBatchSampler(labels, classes_per_batch=4, videos_per_class=5, seed=1)
    batches = list(s)
    assert len(batches) == 2 and all(len(b) == 20 for b in batches)
    for b in batches:
        classes = labels[b].argmax(1)
        assert len(set(classes.tolist())) == 4 and all(
            (classes == c).sum() == 5 for c in set(classes.tolist())
        )
    assert batches == list(ClassBalancedBatchSampler(labels, seed=1))
    s.set_epoch(1)
    assert list(s) != batches
    ranks = [
        list(ClassBalancedBatchSampler(labels, seed=1, rank=r, world_size=2)) for r in range(2)
    ]
    assert sorted(ranks[0][0] + ranks[1][0]) == sorted(batches[0])
