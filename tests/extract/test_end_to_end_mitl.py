"""End-to-end MITL (`wsal train-e2e --set method=mitl`): keyframe bags with positive and
negative bags whose RoI features come from the backbone (one pass over the unique clips), the
MITL head and losses unchanged; tiny 3D CNN on generated AVA-layout videos (CPU, float32)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.cli import main
from wsal.data.keyframe import KeyframeBagDataset, open_keyframe_split
from wsal.engine.end_to_end import (
    EndToEndConfig,
    _cache_clips,
    _ClipBags,
    _collate,
    _video_files,
    build_end_to_end_model,
    predict_end_to_end,
    train_end_to_end,
)
from wsal.extract.videogen import write_ava_test_dataset
from wsal.io.ava import read_ava_detections, read_ava_gt, read_ava_proposals
from wsal.methods.mitl import MITL, MITLConfig

QUIET = {"log": lambda s: None}


@pytest.fixture(scope="module")
def ava(tmp_path_factory) -> Path:
    """Train split (vid00, vid01) and a val split (val00, val01) in one folder."""
    root = write_ava_test_dataset(tmp_path_factory.mktemp("ava"), videos=2, seconds=6)
    other = write_ava_test_dataset(
        tmp_path_factory.mktemp("ava_val"), videos=2, seconds=6, split="val", seed=1
    )
    for sub in ("annotations", "proposals"):
        text = (other / sub / "val.csv").read_text(encoding="utf-8")
        (root / sub / "val.csv").write_text(text.replace("vid", "val"), encoding="utf-8")
    for f in sorted((other / "videos").iterdir()):
        shutil.copy(f, root / "videos" / f.name.replace("vid", "val"))
    return root


def _cfg(root: Path, **kw) -> EndToEndConfig:
    base = EndToEndConfig(
        method="mitl", data=str(root), videos=str(root / "videos"), backbone="tiny",
        clip_frames=4, frame_stride=2, frame_size=(32, 40), time_offset=900, clip_seconds=2,
        max_instances=4, steps=12, batch_size=2, lr=3e-3, backbone_lr_scale=1.0, device="cpu",
        checkpoint_every=6, mitl=MITLConfig(hidden_dim=16, embed_dim=16, dropout=0.0),
    )  # fmt: skip
    return dataclasses.replace(base, **kw)


def _triplet_batch(cfg: EndToEndConfig, tmp_path: Path, indices: list[int]):
    """A training batch of ``indices`` built as ``train_end_to_end`` builds it."""
    split = open_keyframe_split(cfg.data, cfg.split, features=False)
    clips, failed = _cache_clips(
        cfg, split, _video_files(split, cfg.videos), tmp_path / "clips.npy", print
    )
    assert not failed
    bags = KeyframeBagDataset(split, bag="keyframe", clip_seconds=cfg.clip_seconds,
                              gt=read_ava_gt(split.annotation_path()), train=True,
                              max_instances=cfg.max_instances, triplets=True, seed=cfg.seed)  # fmt: skip
    ds = _ClipBags(bags, clips)
    items = [ds[i] for i in indices]
    return items, _collate(items)


def test_mitl_trains_end_to_end(ava, tmp_path):
    torch.set_num_threads(1)
    history = train_end_to_end(_cfg(ava), tmp_path / "run", **QUIET)
    assert len(history) == 12
    for key in ("loss/total", "loss/miml", "loss/triplet", "loss/similarity"):
        assert all(key in r and np.isfinite(r[key]) for r in history), key
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert state["config"]["method"] == "mitl" and "head.g.0.weight" in state["model"]
    torch.manual_seed(0)  # the run's seed: the same initial weights
    fresh = build_end_to_end_model(_cfg(ava), num_classes=3).state_dict()
    assert not torch.equal(state["model"]["backbone.net.0.weight"], fresh["backbone.net.0.weight"])


def test_triplet_bags_get_backbone_features_in_one_pass(ava, tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg(ava)
    items, (clips, index, batch) = _triplet_batch(cfg, tmp_path, [0, 3, 6])
    n_a, n_p, n_n = (int(m.sum()) for m in (batch.mask, batch.pos_mask, batch.neg_mask))
    assert index.shape == (n_a + n_p + n_n,) and len(clips) <= 3 * 3  # unique keyframes only
    torch.manual_seed(0)
    model = build_end_to_end_model(cfg, num_classes=3).train()
    assert isinstance(model.head, MITL)
    calls = []
    model.backbone.net.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    out_batch, out = model(clips, index, batch)
    assert calls == [len(clips)]  # one backbone pass over the unique clips
    assert out_batch.pos_feats.shape == (*batch.pos_mask.shape, 16)
    assert out_batch.neg_feats.shape == (*batch.neg_mask.shape, 16)
    # every negative instance equals its box pooled from its own keyframe's clip alone
    same = 0
    with torch.no_grad():
        for b, it in enumerate(items):
            m = len(it["neg_rows"])
            lo = sum(len(x["neg_rows"]) for x in items[:b])
            own = index[n_a + n_p + lo : n_a + n_p + lo + m]
            ref = model.box_features(clips[own], torch.arange(m), batch.neg_boxes[b, :m])
            torch.testing.assert_close(out_batch.neg_feats[b, :m], ref, rtol=1e-4, atol=1e-5)
            if np.array_equal(it["pos_rows"], it["rows"]):  # t_p = t: the same clip and boxes
                k = len(it["rows"])
                torch.testing.assert_close(out_batch.pos_feats[b, :k], out_batch.feats[b, :k])
                same += 1
    assert 0 < same < len(items)  # both kinds of positive occur in this batch
    assert torch.isfinite(out_batch.feats).all() and "sim_p" in out.extras


def test_triplet_term_alone_trains_the_backbone(ava, tmp_path):
    torch.set_num_threads(1)
    # a margin > 2 keeps every triplet active, so the term has a gradient
    cfg = _cfg(ava, mitl=MITLConfig(hidden_dim=16, embed_dim=16, dropout=0.0, alpha=3.0,
                                    similarity=False))  # fmt: skip
    _, (clips, index, batch) = _triplet_batch(cfg, tmp_path, [0, 1, 5, 8])
    torch.manual_seed(0)
    model = build_end_to_end_model(cfg, num_classes=3).train()
    batch, out = model(clips, index, batch)
    losses = model.head.losses(batch, out)
    assert set(losses) == {"total", "miml", "triplet"}
    before = model.backbone.net[0].weight.detach().clone()
    opt = torch.optim.SGD(model.backbone.parameters(), lr=1.0)
    losses["triplet"].backward()
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.backbone.net[0].weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, model.backbone.net[0].weight)


def test_same_seed_same_weights_and_resume(ava, tmp_path):
    torch.set_num_threads(1)
    drop = {"mitl": MITLConfig(hidden_dim=16, embed_dim=16, dropout=0.5)}  # RNG in the head
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_end_to_end(_cfg(ava, steps=4, seed=seed, **drop), tmp_path / name, **QUIET)
        runs[name] = torch.load(tmp_path / name / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(runs["a"][k], runs["b"][k]) for k in runs["a"])
    assert not all(torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"])
    part = tmp_path / "part"
    train_end_to_end(_cfg(ava, steps=2, checkpoint_every=2, seed=3, **drop), part, **QUIET)
    train_end_to_end(_cfg(ava, steps=4, checkpoint_every=2, seed=3, **drop), part, resume=True,
                     **QUIET)  # fmt: skip
    b = torch.load(part / "model.pt", weights_only=True)["model"]
    assert all(torch.allclose(runs["a"][k].float(), b[k].float()) for k in b)


def test_cli_train_e2e_mitl_then_predict(ava, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train-e2e", "--data", str(ava), "--videos", str(ava / "videos"), "--out",
                 str(out), "--set", "method=mitl", "--set", "backbone=tiny",
                 "--set", "clip_frames=2", "--set", "frame_size=[16,20]", "--set", "steps=3",
                 "--set", "time_offset=900", "--set", "device=cpu",
                 "--set", "mitl.hidden_dim=8", "--set", "mitl.embed_dim=8"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "step 3/3" in text and "Frame-mAP" in text
    assert (out / "detections_val.csv").is_file()
    det = tmp_path / "det.csv"
    args = ["predict", "--run", str(out), "--split", "val", "--videos", str(ava / "videos"),
            "--out", str(det), "--top-k", "2", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    dets = read_ava_detections(det)
    props = read_ava_proposals(ava / "proposals" / "val.csv")
    assert len(dets) == 2 * len(props) and ((dets.scores >= 0) & (dets.scores <= 1)).all()
    # scores are f: the same as the library call, deterministic
    a, _ = predict_end_to_end(out, split="val", device="cpu", top_k=2, **QUIET)
    np.testing.assert_allclose(np.sort(a.scores), np.sort(dets.scores), rtol=1e-4, atol=1e-5)
