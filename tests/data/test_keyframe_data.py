"""Keyframe bags and the weak-label protocol (clips of t seconds) on a hand-made AVA folder."""

import numpy as np
import pytest

from wsal.data.keyframe import (
    KeyframeBagDataset,
    clip_labels,
    collate_keyframe,
    instance_labels,
    open_keyframe_split,
)
from wsal.errors import ConfigError, FormatError
from wsal.io.ava import read_ava_gt, write_ava_gt, write_ava_proposals, write_labelmap
from wsal.structures import Boxes, KeyframeGroundTruth

D = 6
IDS = [3, 7, 12]  # AVA ids of the label map: columns 0, 1, 2


def _folder(tmp_path, *, times_a=range(1000, 1010), times_b=(2000, 2001, 2002), boxes_per_kf=2):
    """Video "a" (10 keyframes from 1000 s) and "b" (3 keyframes), ``boxes_per_kf`` proposals each.

    GT of "a": action 3 at 1000 and 1004, action 7 at 1005, nothing at 1006-1009, action 99
    (outside the label map) at 1007. GT of "b": action 12 at 2001. Feature row i is filled
    with the value i, so tests can see which rows were read.
    """
    root = tmp_path / "kf"
    write_labelmap(root / "annotations" / "action_list.pbtxt", {i: f"c{i}" for i in IDS})
    vids, ts = [], []
    # rows deliberately not sorted by keyframe: video b first, then a reversed
    for v, times in (("b", times_b), ("a", list(times_a)[::-1])):
        for t in times:
            vids += [v] * boxes_per_kf
            ts += [t] * boxes_per_kf
    n = len(vids)
    rng = np.random.default_rng(0)
    x1 = rng.uniform(0, 0.5, n)
    boxes = np.stack([x1, x1 * 0.5, x1 + 0.3, x1 * 0.5 + 0.4], axis=1)
    write_ava_proposals(root / "proposals" / "train.csv", vids, ts, Boxes(boxes), np.full(n, 0.9))
    feats = np.repeat(np.arange(n, dtype=np.float32)[:, None], D, axis=1)
    (root / "features").mkdir(parents=True)
    np.save(root / "features" / "train.npy", feats)
    gt = KeyframeGroundTruth(
        video_ids=["a", "a", "a", "a", "b"],
        timestamps=[1000, 1004, 1005, 1007, 2001],
        boxes=[boxes[-1], boxes[-1], boxes[-1], boxes[-1], boxes[0]],
        labels=[3, 3, 7, 99, 12],
        person_ids=[0, 0, 0, 0, 0],
    )
    write_ava_gt(root / "annotations" / "train.csv", gt)
    return root, boxes


def test_split_groups_rows_by_keyframe_sorted(tmp_path):
    root, _ = _folder(tmp_path)
    s = open_keyframe_split(root, "train")
    assert s.videos == ["a", "b"] and s.num_keyframes == 13 and s.feature_dim == D
    assert s.kf_video.tolist() == ["a"] * 10 + ["b"] * 3
    assert s.kf_time.tolist() == list(range(1000, 1010)) + [2000, 2001, 2002]
    assert isinstance(s.features, np.memmap)  # never loaded whole
    for k in range(s.num_keyframes):
        rows = s.order[s.kf_start[k] : s.kf_start[k + 1]]
        assert rows.size == 2
        assert set(s.proposals.timestamps[rows]) == {s.kf_time[k]}


@pytest.mark.parametrize(
    "t, expected_clips",
    [
        # clips counted from the video's first keyframe (1000): [1000, 1005), [1005, 1010)
        (5, {"a": [[1, 0, 0], [0, 1, 0]], "b": [[0, 0, 1]]}),
        # t = 1: every keyframe its own clip; keyframes 1001-1003 and 1006-1009 are negative
        (1, None),
        # t = 4: [1000,1004) [1004,1008) [1008,1010): the last clip is empty -> negative bag
        (4, {"a": [[1, 0, 0], [1, 1, 0], [0, 0, 0]], "b": [[0, 0, 1]]}),
        # t = 0 and t = 900: the whole video is one clip
        (0, {"a": [[1, 1, 0]], "b": [[0, 0, 1]]}),
        (900, {"a": [[1, 1, 0]], "b": [[0, 0, 1]]}),
    ],
)
def test_clip_labels_boundaries_empty_clips_and_whole_video(tmp_path, t, expected_clips):
    root, _ = _folder(tmp_path)
    s = open_keyframe_split(root, "train")
    kf_clip, labels = clip_labels(s, read_ava_gt(root / "annotations" / "train.csv"), t)
    if t == 1:
        assert labels.shape == (13, 3)
        on = {int(s.kf_time[k]): labels[kf_clip[k]].tolist() for k in range(13)}
        assert on[1000] == [1, 0, 0] and on[1004] == [1, 0, 0] and on[1005] == [0, 1, 0]
        assert on[1001] == [0, 0, 0] and on[1007] == [0, 0, 0]  # id 99 is not a class
        assert on[2001] == [0, 0, 1] and on[2000] == [0, 0, 0]
        return
    got = {v: labels[np.unique(kf_clip[s.kf_video == v])].tolist() for v in ("a", "b")}
    assert got == expected_clips
    if t == 5:  # boundary: 1004 belongs to the first clip, 1005 to the second
        assert kf_clip[4] == kf_clip[0] and kf_clip[5] != kf_clip[4]


def test_gt_on_keyframes_without_proposals_still_counts(tmp_path):
    root, _ = _folder(tmp_path, times_a=[1001, 1002, 1003])  # 1000 (action 3) has no proposal
    s = open_keyframe_split(root, "train")
    kf_clip, labels = clip_labels(s, read_ava_gt(root / "annotations" / "train.csv"), 5)
    assert labels[kf_clip[0]].tolist() == [1, 0, 0]  # the clip [1000, 1005) has action 3


def test_negative_clip_seconds_rejected(tmp_path):
    root, _ = _folder(tmp_path)
    s = open_keyframe_split(root, "train")
    with pytest.raises(ConfigError, match="clip_seconds"):
        clip_labels(s, read_ava_gt(root / "annotations" / "train.csv"), -1)


def test_clip_bags_sample_up_to_max_instances_and_read_only_their_rows(tmp_path):
    root, _ = _folder(tmp_path, boxes_per_kf=3)
    s = open_keyframe_split(root, "train")
    gt = read_ava_gt(root / "annotations" / "train.csv")
    ds = KeyframeBagDataset(s, bag="clip", clip_seconds=5, gt=gt, max_instances=4, seed=1)
    assert len(ds) == 3  # a: 2 clips, b: 1 clip
    item = ds[0]  # 5 keyframes x 3 boxes = 15 instances, 4 sampled
    assert item["feats"].shape == (4, D) and item["boxes"].shape == (4, 4)
    rows = item["rows"]
    assert np.array_equal(item["feats"][:, 0], rows.astype(np.float32))  # row i holds value i
    assert set(s.proposals.timestamps[rows]) <= set(range(1000, 1005))
    assert item["labels"].tolist() == [1, 0, 0]
    again = ds[0]
    assert np.array_equal(again["rows"], rows)  # seeded by (seed, epoch, index)
    ds.set_epoch(1)
    draws = {tuple(ds[0]["rows"]) for _ in range(1)} | {tuple(rows)}
    assert len(draws) == 2  # another epoch, another sample (15 choose 4 draws)
    full = KeyframeBagDataset(s, bag="clip", clip_seconds=5, gt=gt, max_instances=None)
    assert full[0]["feats"].shape == (15, D)


def test_keyframe_bags_and_collate_padding(tmp_path):
    root, _ = _folder(tmp_path)
    s = open_keyframe_split(root, "train")
    gt = read_ava_gt(root / "annotations" / "train.csv")
    ds = KeyframeBagDataset(s, bag="keyframe", clip_seconds=5, gt=gt)
    assert len(ds) == 13
    assert ds[1]["labels"].tolist() == [1, 0, 0]  # keyframe 1001 carries its clip's labels
    items = [ds[0], ds[10]]
    items[1] = {**items[1], "feats": items[1]["feats"][:1], "boxes": items[1]["boxes"][:1]}
    batch = collate_keyframe(items)
    assert batch.feats.shape == (2, 2, D) and batch.mask.tolist() == [[True, True], [True, False]]
    assert float(batch.feats[1, 1].abs().sum()) == 0 and batch.labels.shape == (2, 3)


def test_triplets_positive_neighbour_and_far_negative(tmp_path):
    root, _ = _folder(tmp_path, times_a=range(1000, 1150))
    s = open_keyframe_split(root, "train")
    gt = read_ava_gt(root / "annotations" / "train.csv")
    ds = KeyframeBagDataset(s, bag="keyframe", gt=gt, triplets=True, negative_gap=100, seed=0)
    val_to_time = dict(enumerate(s.proposals.timestamps.tolist()))
    val_to_video = dict(enumerate(s.proposals.video_ids.tolist()))
    seen_pos = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        item = ds[60]  # video a, t = 1060: no keyframe 100 s away in a -> video b
        neg = {val_to_video[int(v)] for v in item["neg_feats"][:, 0]}
        assert neg == {"b"}
        item = ds[10]  # t = 1010: negatives at >= 1110 in the same video
        neg_t = {val_to_time[int(v)] for v in item["neg_feats"][:, 0]}
        assert all(t >= 1110 for t in neg_t)
        pos = item["pos_feats"][:, 0]
        exact = [val_to_time.get(int(v)) for v in pos if float(v).is_integer()]
        if len(exact) == len(pos) and len(set(exact)) == 1 and exact[0] != 1010:
            seen_pos.add(exact[0])  # a neighbour keyframe, read unchanged
        else:
            seen_pos.add("augmented")  # t_p = t: the anchor with feature-space augmentation
            np.testing.assert_array_equal(item["pos_boxes"], item["boxes"])
        assert item["pos_feats"].shape[1] == D
    assert seen_pos <= {1009, 1011, "augmented"} and len(seen_pos) >= 2


def test_full_supervision_labels_from_iou_and_needs_boxes(tmp_path):
    root, boxes = _folder(tmp_path)
    s = open_keyframe_split(root, "train")
    gt = read_ava_gt(root / "annotations" / "train.csv")
    lab = instance_labels(s, gt)
    # GT at a/1000 uses proposal row boxes[-1] exactly: that row gets class 0 (id 3)
    rows_1000 = np.flatnonzero((s.proposals.video_ids == "a") & (s.proposals.timestamps == 1000))
    assert lab[rows_1000].any(axis=0).tolist() == [True, False, False]
    assert lab.sum() == 1  # the other GT boxes were copied from other keyframes: no overlap
    gt0 = KeyframeGroundTruth(
        gt.video_ids, gt.timestamps, np.zeros((len(gt), 4)), gt.labels, gt.person_ids
    )
    with pytest.raises(ConfigError, match="ground-truth boxes"):
        instance_labels(s, gt0)


def test_feature_rows_must_match_proposals(tmp_path):
    root, _ = _folder(tmp_path)
    np.save(root / "features" / "train.npy", np.zeros((3, D), np.float32))
    with pytest.raises(FormatError, match="proposal rows"):
        open_keyframe_split(root, "train")


def test_feature_rows_read_without_the_map_equal_indexing(tmp_path):
    from wsal.data.keyframe import read_feature_rows

    a = np.random.default_rng(0).standard_normal((500, 6)).astype(np.float16)
    np.save(tmp_path / "f.npy", a)
    m = np.load(tmp_path / "f.npy", mmap_mode="r")
    pick = np.sort(np.random.default_rng(1).choice(500, 60, replace=False))
    for rows in (np.array([0, 1, 2, 90, 91, 499]), np.arange(500), np.array([7]), pick):
        got = read_feature_rows(m, rows)
        assert got.dtype == np.float32 and np.array_equal(got, a[rows].astype(np.float32))
    assert read_feature_rows(m, np.zeros(0, np.int64)).shape == (0, 6)
    assert np.array_equal(read_feature_rows(a, rows), a[rows].astype(np.float32))  # plain array


def test_select_videos_keeps_only_their_keyframes(tmp_path):
    from wsal.data.keyframe import open_keyframe_split, select_videos
    from wsal.synthetic import generate_keyframe

    root = generate_keyframe(tmp_path / "kf", "tiny", seed=0)
    split = open_keyframe_split(root, "train")
    keep = split.videos[1:]
    sub = select_videos(split, keep)
    assert sub.videos == sorted(keep) and sub.num_keyframes < split.num_keyframes
    rows = sub.order
    assert set(split.proposals.video_ids[rows]) == set(keep)
    assert rows.size == np.isin(split.proposals.video_ids, keep).sum()
    assert np.array_equal(np.asarray(sub.videos)[sub.kf_video_code], sub.kf_video)
    with pytest.raises(ConfigError, match="not in split"):
        select_videos(split, ["nope"])
