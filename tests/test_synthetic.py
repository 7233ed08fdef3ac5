"""Tests of wsal.synthetic: layouts, readers, determinism, difficulties and learnability.

Every generator runs on its "tiny" preset (a few module-scoped folders are reused), so the
whole file stays fast. The difficulties are measured on the written files, not on internals.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from wsal import synthetic as S
from wsal.errors import ConfigError, WsalError
from wsal.io.ava import read_ava_gt, read_ava_proposals, read_excluded_timestamps, read_labelmap
from wsal.io.features import open_box_features, open_temporal_folder
from wsal.io.temporal import read_activitynet_gt, read_split_file
from wsal.io.tubes import proposal_filename, read_gt_tubes, read_tube_proposals
from wsal.structures import SnippetTiming, box_iou_matrix

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WSAL_SHARED", REPO.parent / "shared"))
SPS = SnippetTiming().seconds_per_snippet


def _files(root: Path) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file under ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic)."""
    ranks = np.empty(scores.size)
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, scores.size + 1)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@pytest.fixture(scope="module")
def temporal_dir(tmp_path_factory) -> Path:
    return S.generate_temporal(tmp_path_factory.mktemp("temporal"), "tiny", seed=0)


@pytest.fixture(scope="module")
def keyframe_dir(tmp_path_factory) -> Path:
    return S.generate_keyframe(tmp_path_factory.mktemp("keyframe"), "tiny", seed=0)


@pytest.fixture(scope="module")
def tube_dir(tmp_path_factory) -> Path:
    return S.generate_tubes(tmp_path_factory.mktemp("tubes"), "tiny", seed=0)


@pytest.fixture(scope="module")
def temporal_data(temporal_dir):
    """Opened folder and per-video ``(split, video, features (T, 2D), segments)``."""
    folder = open_temporal_folder(temporal_dir)
    rows = [
        (split, v, folder.load_features(split, v), folder.gt.for_video(v))
        for split in ("train", "test")
        for v in folder.splits[split]
    ]
    return folder, rows


# --------------------------------------------------------------------------------------------
# API, presets, determinism, output folder handling
# --------------------------------------------------------------------------------------------


def test_generators_and_presets():
    assert set(S.GENERATORS) == {"temporal", "keyframe", "tubes"}
    for presets in (S.TEMPORAL_PRESETS, S.KEYFRAME_PRESETS, S.TUBE_PRESETS):
        assert {"tiny", "small", "demo"} <= set(presets)
    t = S.TEMPORAL_PRESETS["thumos14"]
    assert (t.num_classes, t.train_videos, t.test_videos) == (20, 200, 210)
    assert (t.max_snippets, t.feature_dim) == (750, 2048)
    demo = S.TEMPORAL_PRESETS["demo"]
    assert (demo.min_snippets, demo.max_snippets) == (40, 400)


@pytest.mark.parametrize("family", ["temporal", "keyframe", "tubes"])
def test_same_seed_same_bytes_other_seed_other_bytes(family, tmp_path, request):
    first = _files(request.getfixturevalue(f"{family}_dir" if family != "tubes" else "tube_dir"))
    again = _files(S.GENERATORS[family](tmp_path / "a", "tiny", seed=0))
    assert again.keys() == first.keys()
    assert [k for k in first if first[k] != again[k]] == []
    other = _files(S.GENERATORS[family](tmp_path / "b", "tiny", seed=1))
    feature_files = [k for k in other if k.endswith((".npy", ".npz"))]
    assert feature_files and any(other[k] != first.get(k) for k in feature_files)


def test_output_folder_is_protected(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(WsalError, match="not empty"):
        S.generate_keyframe(foreign, "tiny")
    S.generate_keyframe(foreign, "tiny", overwrite=True)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(WsalError):  # a keyframe folder is not a previous temporal output
        S.generate_temporal(foreign, "tiny")


def test_regenerating_removes_stale_files(tmp_path):
    big = dataclasses.replace(S.TEMPORAL_PRESETS["tiny"], train_videos=4, test_videos=3)
    small = dataclasses.replace(big, train_videos=2, test_videos=2)
    out = S.generate_temporal(tmp_path / "t", big, seed=3)
    S.generate_temporal(out, small, seed=3)  # same generator: allowed without overwrite
    meta = json.loads((out / "meta.json").read_text())
    written = {k for k in _files(out) if k != "meta.json"}
    assert written == set(meta["files"]) and meta["complete"] is True
    assert len(list((out / "features").rglob("*.npy"))) == 2 * 4


def test_invalid_configs_are_refused(tmp_path):
    with pytest.raises(ConfigError):
        S.generate_temporal(tmp_path / "x", "no-such-preset")
    with pytest.raises(ConfigError):
        S.generate_temporal(tmp_path / "x", "tiny", seed=-1)
    with pytest.raises(ConfigError):
        S.TemporalSynthConfig(weak_phase=1.5)
    with pytest.raises(ConfigError):
        S.TemporalSynthConfig(streams=("rgb",), stream_signal=(1.0, 2.0))
    with pytest.raises(ConfigError):
        S.KeyframeSynthConfig(pose_ids=(79,))
    with pytest.raises(ConfigError):
        S.generate_tubes(tmp_path / "y", S.TubeSynthConfig(classes=("NoSuchClass",)))


# --------------------------------------------------------------------------------------------
# Temporal family
# --------------------------------------------------------------------------------------------


def test_temporal_layout_and_readers(temporal_dir, temporal_data):
    cfg = S.TEMPORAL_PRESETS["tiny"]
    gt = read_activitynet_gt(temporal_dir / "gt.json")
    meta = json.loads((temporal_dir / "meta.json").read_text())
    assert meta["generator"] == "wsal.synthetic.generate_temporal" and meta["seed"] == 0
    assert meta["snippet"]["seconds_per_snippet"] == pytest.approx(0.64)
    assert set(meta["difficulties"]) >= {"weak_phases", "context_confusion", "scene_offset"}
    assert sorted(gt.classes) == sorted(meta["classes"]) and len(meta["classes"]) == 4
    for split, n in (("train", cfg.train_videos), ("test", cfg.test_videos)):
        videos = read_split_file(temporal_dir / f"split_{split}.txt")
        assert len(videos) == n and all(gt.subsets[v] == split for v in videos)
    folder, rows = temporal_data
    for split, v, x, segs in rows:
        assert x.dtype == np.float32 and x.shape[1] == 2 * cfg.feature_dim
        for stream in cfg.streams:
            assert np.load(folder.feature_path(split, stream, v)).shape == (len(x), cfg.feature_dim)
        assert SnippetTiming().num_snippets(gt.durations[v]) == len(x)
        assert gt.fps[v] == 25.0
        assert len(segs) >= 1
        assert (segs.starts >= 0).all() and (segs.ends <= gt.durations[v]).all()
        assert (segs.lengths > 0).all()


def _temporal_masks(t: int, segs, num_classes: int) -> dict[str, np.ndarray]:
    """``(C, T)`` masks: inside, core (middle 40 %), edge (outer 15 % each side), near outside."""
    c = (np.arange(t) + 0.5) * SPS
    out = {k: np.zeros((num_classes, t), bool) for k in ("inside", "core", "edge", "near")}
    for (s, e), label in zip(segs.bounds, segs.labels, strict=True):
        u = (c - s) / (e - s)
        m = (c >= s) & (c < e)
        out["inside"][label] |= m
        out["core"][label] |= m & (u > 0.3) & (u < 0.7)
        out["edge"][label] |= m & ((u < 0.15) | (u > 0.85))
        out["near"][label] |= ((s - c > 0) & (s - c < 2 * SPS)) | ((c - e > 0) & (c - e < 2 * SPS))
    anyin = out["inside"].any(0)
    out["near"] &= ~anyin
    far = ~anyin
    for s, e in segs.bounds:
        far &= ~((c > s - 8 * SPS) & (c < e + 8 * SPS))
    out["far"] = np.broadcast_to(far, (num_classes, t))
    out["background"] = np.broadcast_to(~anyin, (num_classes, t))
    return out


def _class_projections(rows, columns: slice, num_classes: int) -> dict[str, float]:
    """Mean projection on each class direction (class snippets minus background) per region."""
    data = [
        (x[:, columns], _temporal_masks(len(x), segs, num_classes), segs) for *_, x, segs in rows
    ]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("core", "edge", "near", "far", "negative")}
    for c in range(num_classes):
        pos = np.concatenate([x[m["inside"][c]] for x, m, _ in data])
        bg = np.concatenate([x[m["background"][c]] for x, m, _ in data])
        w = pos.mean(0) - bg.mean(0)
        w /= np.linalg.norm(w)
        for x, m, segs in data:
            p = x @ w
            if c in segs.labels:
                for k in ("core", "edge", "near", "far"):
                    out[k].append(p[m[k][c]])
            else:
                out["negative"].append(p[m["background"][c]])
    return {k: float(np.concatenate(v).mean()) for k, v in out.items()}


def test_temporal_difficulties_are_present(temporal_data):
    folder, rows = temporal_data
    d, c = S.TEMPORAL_PRESETS["tiny"].feature_dim, len(folder.classes)
    rgb = _class_projections(rows, slice(0, d), c)
    flow = _class_projections(rows, slice(d, 2 * d), c)
    # weak start/end phases: evidence at the edges (above far background) is well below the
    # core, more so in flow (motion phases)
    edge_ratio = [(p["edge"] - p["far"]) / (p["core"] - p["far"]) for p in (rgb, flow)]
    assert edge_ratio[0] < 0.85 and edge_ratio[1] < 0.6 and edge_ratio[1] < edge_ratio[0]
    # context confusion: background next to an action looks like it, mostly in rgb
    assert rgb["near"] > rgb["far"] + 0.5 and rgb["far"] > rgb["negative"]
    assert rgb["near"] - rgb["negative"] > flow["near"] - flow["negative"]
    # scene offset: per-video means differ much more than the noise allows in some dims
    means = np.stack([x[:, :d].mean(0) for *_, x, _ in rows])
    assert np.sort(means.std(0))[-d // 8 :].min() > 0.8
    # multiple instances, two-class videos, varying lengths
    counts = [len(segs) for *_, segs in rows]
    assert max(counts) >= 3 and any(len(np.unique(s.labels)) == 2 for *_, s in rows)
    lengths = [len(x) for *_, x, _ in rows]
    assert max(lengths) > 2 * min(lengths)


def test_temporal_confusable_pairs_and_short_videos():
    cfg = S.TEMPORAL_PRESETS["demo"]
    names, pairs = S.temporal_class_names(cfg.num_classes)
    assert ("CricketBowling", "CricketShot") in [(names[a], names[b]) for a, b in pairs]
    model = S._stream_model(cfg, 0, "flow")
    base = model.prototypes.mean(axis=1)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    cos = base @ base.T
    paired = np.mean([cos[a, b] for a, b in pairs])
    off = cos[~np.eye(len(names), dtype=bool)].mean()
    assert paired > off + 0.3
    videos = S._plan_temporal(cfg, 0)
    lengths = np.array([v.num_snippets for v in videos])
    assert lengths.max() <= 400 and (lengths < 40).any() and (lengths >= 200).any()


def test_temporal_linear_probe_separates_action_from_background(temporal_data):
    _, rows = temporal_data

    def xy(split):
        xs, ys = [], []
        for s, _, x, segs in rows:
            if s == split:
                xs.append(x)
                ys.append(_temporal_masks(len(x), segs, 4)["inside"].any(0))
        x = np.concatenate(xs)
        return np.hstack([x, np.ones((len(x), 1))]), np.concatenate(ys)

    x_tr, y_tr = xy("train")
    x_te, y_te = xy("test")
    w, *_ = np.linalg.lstsq(x_tr, y_tr.astype(float), rcond=None)
    auc = _auc(x_te @ w, y_te)
    assert 0.7 < auc < 0.999  # learnable, not trivial


def test_temporal_single_stream_config(tmp_path):
    cfg = dataclasses.replace(
        S.TEMPORAL_PRESETS["tiny"], streams=("rgb",), train_videos=2, test_videos=1
    )
    out = S.generate_temporal(tmp_path / "rgb", cfg)
    assert not (out / "features" / "train" / "flow").exists()
    assert len(list((out / "features").rglob("*.npy"))) == 3


# --------------------------------------------------------------------------------------------
# Keyframe family
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyframe_data(keyframe_dir):
    gt = {s: read_ava_gt(keyframe_dir / "annotations" / f"{s}.csv") for s in ("train", "val")}
    props = {
        s: read_ava_proposals(keyframe_dir / "proposals" / f"{s}.csv") for s in ("train", "val")
    }
    return gt, props


def test_keyframe_layout_and_readers(keyframe_dir, keyframe_data):
    cfg = S.KEYFRAME_PRESETS["tiny"]
    labelmap = read_labelmap(keyframe_dir / "annotations" / "action_list.pbtxt")
    assert sorted(labelmap.ids) == sorted(cfg.action_ids) and 8 <= len(labelmap) <= 12
    real = SHARED / "data" / "ava" / "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
    if real.is_file():
        official = read_labelmap(real).names
        assert all(official[i] == n for i, n in labelmap.names.items())
    gt, props = keyframe_data
    for split in ("train", "val"):
        g, p = gt[split], props[split]
        feats = open_box_features(keyframe_dir / "features" / f"{split}.npy", rows=len(p))
        assert feats.dtype == np.float16 and feats.shape[1] == cfg.feature_dim
        assert np.isfinite(np.asarray(feats, np.float32)).all()
        assert set(np.unique(g.labels)) <= set(labelmap.ids)
        for ids in (g.video_ids, p.video_ids):
            assert all(len(v) == 11 for v in np.unique(ids))
        assert g.timestamps.min() >= 902 and g.timestamps.max() <= 1798
        for boxes in (g.boxes, p.boxes):
            assert boxes.valid.all() and (boxes.xyxy >= 0).all() and (boxes.xyxy <= 1).all()
    excluded = read_excluded_timestamps(
        keyframe_dir / "annotations" / "val_excluded_timestamps.csv"
    )
    assert excluded and {v for v, _ in excluded} <= set(props["val"].video_ids.tolist())
    val_keys = set(zip(gt["val"].video_ids.tolist(), gt["val"].timestamps.tolist(), strict=True))
    assert not excluded & val_keys
    meta = json.loads((keyframe_dir / "meta.json").read_text())
    assert (
        meta["generator"] == "wsal.synthetic.generate_keyframe"
        and "detector_misses" in meta["difficulties"]
    )


def _person_keyframes(g) -> tuple[np.ndarray, np.ndarray]:
    """Unique (video, timestamp, person) rows: inverse index of each GT row and their count."""
    keys = np.stack([np.unique(g.video_ids, return_inverse=True)[1], g.timestamps, g.person_ids], 1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def test_keyframe_persons_and_labels(keyframe_data):
    gt, _ = keyframe_data
    cfg = S.KEYFRAME_PRESETS["tiny"]
    g = gt["train"]
    inv, n = _person_keyframes(g)
    pose = np.isin(g.labels, cfg.pose_ids)
    assert (np.bincount(inv, weights=pose, minlength=n) == 1).all()  # exactly one pose
    extra = np.bincount(inv, weights=~pose, minlength=n)
    assert extra.max() == cfg.max_concurrent and (extra == 0).any()
    vid = np.unique(g.video_ids, return_inverse=True)[1]
    frame = np.unique(np.stack([vid, g.timestamps], 1), axis=0, return_inverse=True)[1].reshape(-1)
    persons = np.array([np.unique(g.person_ids[frame == f]).size for f in range(frame.max() + 1)])
    assert persons.max() >= 3 and persons.min() >= 1
    # interacting persons share actions: someone talks while someone else listens
    talk = {(v, t) for v, t, a in zip(vid, g.timestamps, g.labels, strict=True) if a == 79}
    listen = {(v, t) for v, t, a in zip(vid, g.timestamps, g.labels, strict=True) if a == 74}
    assert len(talk & listen) > 0
    # boxes drift slowly: a person's box centre moves little from one second to the next
    first = np.unique(inv, return_index=True)[1]
    c = g.boxes.centers()[first]
    same = np.stack([vid, g.person_ids], 1)[first]
    order = np.lexsort((g.timestamps[first], same[:, 1], same[:, 0]))
    step = np.linalg.norm(np.diff(c[order], axis=0), axis=1)[
        (np.diff(same[order], axis=0) == 0).all(1)
    ]
    assert np.median(step) < 0.05


def test_keyframe_clip_labels_get_more_ambiguous_with_length(keyframe_data):
    g = keyframe_data[0]["train"]
    vid = np.unique(g.video_ids, return_inverse=True)[1]
    sizes = []
    for t in (1, 5, 15):
        start = np.array([g.timestamps[vid == v].min() for v in range(vid.max() + 1)])[vid]
        clip = np.stack([vid, (g.timestamps - start) // t], 1)
        keys = np.unique(np.column_stack([clip, g.labels]), axis=0)
        sizes.append(len(keys) / len(np.unique(clip, axis=0)))
    assert sizes[0] < sizes[1] < sizes[2]


def test_keyframe_detector_noise(keyframe_data):
    gt, props = keyframe_data
    g, p = gt["val"], props["val"]
    misses = fps = matched = loose = 0
    for key in set(zip(p.video_ids.tolist(), p.timestamps.tolist(), strict=True)):
        gm = (g.video_ids == key[0]) & (g.timestamps == key[1])
        pm = (p.video_ids == key[0]) & (p.timestamps == key[1])
        if not gm.any():
            continue
        _, first = np.unique(g.person_ids[gm], return_index=True)
        iou = box_iou_matrix(g.boxes.xyxy[gm][first], p.boxes.xyxy[pm])
        best_gt = iou.max(axis=1)
        misses += int((best_gt < 0.3).sum())
        fps += int((iou.max(axis=0) < 0.3).sum())
        matched += int((best_gt >= 0.5).sum())
        loose += int(((best_gt >= 0.2) & (best_gt < 0.5)).sum())
    assert misses > 0 and fps > 0 and loose > 0
    assert matched > 5 * loose


def _match_proposals(g, p) -> tuple[np.ndarray, np.ndarray]:
    """Per proposal: best IoU with a GT person of its keyframe and that person's pose id."""
    best, pose = np.zeros(len(p)), np.full(len(p), -1)
    is_pose = np.isin(g.labels, S.KEYFRAME_PRESETS["tiny"].pose_ids)
    for key in set(zip(p.video_ids.tolist(), p.timestamps.tolist(), strict=True)):
        rows = np.flatnonzero((p.video_ids == key[0]) & (p.timestamps == key[1]))
        gm = np.flatnonzero((g.video_ids == key[0]) & (g.timestamps == key[1]) & is_pose)
        if gm.size:
            iou = box_iou_matrix(p.boxes.xyxy[rows], g.boxes.xyxy[gm])
            best[rows], pose[rows] = iou.max(1), g.labels[gm][iou.argmax(1)]
    return best, pose


def test_keyframe_features_carry_scene_persons_and_actions(keyframe_dir, keyframe_data):
    gt, props = keyframe_data
    g, p = gt["train"], props["train"]
    x = np.load(keyframe_dir / "features" / "train.npy").astype(np.float32)
    means = np.stack([x[p.video_ids == v].mean(0) for v in np.unique(p.video_ids)])
    assert means.std(0).max() > 0.8  # per-video scene offsets
    best, pose = _match_proposals(g, p)
    x1 = np.hstack([x, np.ones((len(x), 1))])
    person = best >= 0.5
    w, *_ = np.linalg.lstsq(x1, person.astype(float), rcond=None)
    assert _auc(x1 @ w, person) > 0.75  # persons vs false positives
    ids = np.array(S.KEYFRAME_PRESETS["tiny"].pose_ids)
    target = (pose[person, None] == ids).astype(float)
    w, *_ = np.linalg.lstsq(x1[person], target, rcond=None)
    accuracy = np.mean(ids[(x1[person] @ w).argmax(1)] == pose[person])
    assert 1.5 / len(ids) < accuracy < 0.999  # pose is learnable, not trivial


# --------------------------------------------------------------------------------------------
# Tube family
# --------------------------------------------------------------------------------------------


def test_tube_layout_and_readers(tube_dir):
    cfg = S.TUBE_PRESETS["tiny"]
    gt = read_gt_tubes(tube_dir / "gt_tubes.json")
    assert gt.labels == list(cfg.classes)
    train = read_split_file(tube_dir / "split_train.txt")
    test = read_split_file(tube_dir / "split_test.txt")
    assert set(train) | set(test) == set(gt.videos) and not set(train) & set(test)
    extract = S.load_ucf101_24_extract()
    for vid, meta in gt.videos.items():
        assert (meta["width"], meta["height"]) == (320, 240)
        raw = extract["videos"][vid]
        assert meta["nframes"] == raw["nframes"] and len(gt.tubes[vid]) == len(raw["tubes"])
        for tube, r in zip(gt.tubes[vid], raw["tubes"], strict=True):
            assert (tube.first_frame, tube.last_frame) == (r["first"], r["last"])
            assert np.array_equal(tube.boxes[:: extract["box_step"]][0], r["boxes"][0])
        p = read_tube_proposals(tube_dir / "proposals" / proposal_filename(vid))
        assert len(p) > 0 and p.features.shape == (len(p), cfg.feature_dim)
        assert ((p.frames - 1) % cfg.frame_step == 0).all() and p.frames.max() <= meta["nframes"]
        assert (
            (p.boxes[:, :2] >= 0).all()
            and (p.boxes[:, 2] <= 319).all()
            and (p.boxes[:, 3] <= 239).all()
        )
        assert ((p.scores > 0) & (p.scores < 1)).all()
    meta = json.loads((tube_dir / "meta.json").read_text())
    assert meta["source"]["repository"] == "gurkirt/corrected-UCF101-Annots"


def test_tube_difficulties_are_present(tube_dir):
    gt = read_gt_tubes(tube_dir / "gt_tubes.json")
    assert any(len(t) >= 2 for t in gt.tubes.values())  # two-actor videos (Fencing)
    misses = fps = 0
    scores_actor, scores_other = [], []
    x_all, y_all = [], []
    for vid in gt.videos:
        p = read_tube_proposals(tube_dir / "proposals" / proposal_filename(vid))
        best = np.zeros(len(p))
        for tube in gt.tubes[vid]:
            for f in np.unique(p.frames):
                if tube.first_frame <= f <= tube.last_frame:
                    rows = np.flatnonzero(p.frames == f)
                    box = tube.boxes[f - tube.first_frame][None]
                    iou = box_iou_matrix(box, p.boxes[rows], plus_one=True)[0]
                    misses += int(iou.max() < 0.5)
                    best[rows] = np.maximum(best[rows], iou)
        fps += int((best < 0.2).sum())
        scores_actor.append(p.scores[best >= 0.5])
        scores_other.append(p.scores[best < 0.2])
        x_all.append(p.features - p.features.mean(0))
        y_all.append(best >= 0.5)
    assert misses > 0 and fps > 0
    assert np.concatenate(scores_actor).mean() > np.concatenate(scores_other).mean() + 0.1
    x, y = np.concatenate(x_all), np.concatenate(y_all)
    w, *_ = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y.astype(float), rcond=None)
    assert _auc(np.hstack([x, np.ones((len(x), 1))]) @ w, y) > 0.7


def test_bundled_extract_is_small_and_reproducible():
    path = Path(S.__file__).parent / "resources" / "ucf101_24_tubes_sample.json"
    assert path.stat().st_size < 300_000
    bundled = S.load_ucf101_24_extract()
    assert bundled["source"]["repository"] == "gurkirt/corrected-UCF101-Annots"
    assert 6 <= len(bundled["classes"]) <= 10 and len(bundled["videos"]) >= 6 * 12
    data = SHARED / "data" / "ucf101_24"
    if not (data / "pyannot.pkl").is_file():
        pytest.skip(f"shared UCF101-24 annotations not found under {data}")
    assert S.build_ucf101_24_extract(data) == bundled


def test_keyframe_occlusion_gives_persistent_misses():
    """``occlusion_fraction``: persons go undetected in runs (whole clips without the actor)."""
    cfg = dataclasses.replace(
        S.KEYFRAME_PRESETS["tiny"], keyframes_per_video=200, miss_rate=0.0, min_persons=3
    )
    rng = np.random.default_rng(0)
    tracks = S._person_tracks(rng, cfg, cfg.keyframes_per_video)
    plain = S._true_detections(np.random.default_rng(1), cfg, tracks)
    assert plain.k.size == tracks.present.sum()  # no misses without occlusion or miss_rate
    occluded = dataclasses.replace(cfg, occlusion_fraction=0.4, occlusion_seconds=10.0)
    det = S._true_detections(np.random.default_rng(1), occluded, tracks)
    seen = np.zeros_like(tracks.present)
    seen[det.person, det.k] = True
    missed = tracks.present & ~seen
    assert 0.25 < missed.sum() / tracks.present.sum() < 0.55
    runs = [np.diff(np.flatnonzero(np.diff(np.r_[0, m.astype(int), 0]))) for m in missed]
    lengths = np.concatenate([r[::2] for r in runs])  # lengths of the missed runs
    assert lengths.mean() > 4  # persistent, unlike independent per-keyframe misses
    with pytest.raises(ConfigError, match="occlusion_fraction"):
        dataclasses.replace(cfg, occlusion_fraction=1.5)
