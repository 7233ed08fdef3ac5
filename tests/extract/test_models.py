"""I3D (public parameter names, 1024-d), checkpoint loading, pure-torch RoIAlign, box features,
flow helpers and the optional torchvision/OpenCV extras."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from tv_fallback import import_torchvision

from wsal.errors import FormatError, WsalError
from wsal.extract.boxes import extract_box_features, read_detections, write_keyframe_split
from wsal.extract.flow import FlowState, flow_method, frame_difference_flow
from wsal.extract.i3d import I3D, load_i3d
from wsal.extract.roi import roi_align
from wsal.extract.videogen import write_test_video
from wsal.io.ava import ProposalRows
from wsal.io.features import open_box_features

#: A few of the names of the public PyTorch I3D checkpoints (rgb_imagenet.pt / flow_imagenet.pt).
PUBLIC_NAMES = [
    "Conv3d_1a_7x7.conv3d.weight",
    "Conv3d_1a_7x7.bn.running_mean",
    "Conv3d_2c_3x3.bn.running_var",
    "Mixed_3b.b0.conv3d.weight",
    "Mixed_3b.b1a.conv3d.weight",
    "Mixed_3b.b1b.bn.bias",
    "Mixed_4f.b2b.conv3d.weight",
    "Mixed_5c.b3b.bn.weight",
    "logits.conv3d.weight",
    "logits.conv3d.bias",
]


def test_full_i3d_has_the_public_names_and_gives_1024_d_per_stream():
    for stream, channels in (("rgb", 3), ("flow", 2)):
        model = I3D(stream=stream, num_classes=400).eval()
        keys = set(model.state_dict())
        assert set(PUBLIC_NAMES) <= keys
        assert model.Conv3d_1a_7x7.conv3d.weight.shape == (64, channels, 7, 7, 7)
        with torch.no_grad():
            out = model(torch.zeros(2, channels, 8, 32, 32))
        assert out.shape == (2, 1024)


def test_checkpoint_with_public_names_round_trips(tmp_path):
    torch.manual_seed(0)
    src = I3D(stream="flow", num_classes=400, width=0.125).eval()
    for m in src.modules():  # non-trivial statistics, as in a trained checkpoint
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = {k: v for k, v in src.state_dict().items() if "num_batches_tracked" not in k}
    # saved as old DataParallel checkpoints were: "module." prefix, no tracking counters
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "flow.pt")
    model = load_i3d(tmp_path / "flow.pt", "flow", width=0.125)
    x = torch.randn(1, 2, 16, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), src(x), atol=1e-6)


def test_checkpoint_key_problems_are_listed(tmp_path):
    state = I3D(stream="rgb", width=0.125).state_dict()
    state.pop("Mixed_3b.b0.conv3d.weight")
    state["Mixed_9z.b0.conv3d.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(FormatError, match="missing key.*Mixed_3b.b0.conv3d.weight") as err:
        load_i3d(tmp_path / "bad.pt", "rgb", width=0.125)
    assert "unexpected key(s): Mixed_9z" in str(err.value)
    with pytest.raises(FormatError, match="shape"):  # an RGB checkpoint is not a flow one
        torch.save(I3D(stream="rgb", width=0.125).state_dict(), tmp_path / "rgb.pt")
        load_i3d(tmp_path / "rgb.pt", "flow", width=0.125)
    with pytest.raises(FormatError, match="not found"):
        load_i3d(tmp_path / "none.pt", "rgb")


def test_roi_align_samples_bin_centres_of_a_linear_map():
    h, w = 8, 10
    xs = torch.arange(w, dtype=torch.float32).expand(h, w)
    ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    feats = torch.stack([xs, ys])[None].repeat(2, 1, 1, 1)  # (2, 2, H, W): value = coordinate
    boxes = torch.tensor([[1.0, 2.0, 5.0, 6.0], [2.0, 1.0, 3.0, 7.0]])
    out = roi_align(feats, boxes, torch.tensor([0, 1]), output_size=(2, 4), sampling_ratio=2)
    # aligned: the box [1, 5] covers pixel-centre coordinates [0.5, 4.5]; 4 bins -> centres 1..4
    assert torch.allclose(out[0, 0], torch.tensor([1.0, 2, 3, 4]).expand(2, 4))
    assert torch.allclose(out[0, 1], torch.tensor([[2.5] * 4, [4.5] * 4]))
    assert torch.allclose(out[1, 0, 0], torch.tensor([1.625, 1.875, 2.125, 2.375]))
    assert roi_align(feats, boxes[:0], torch.zeros(0, dtype=torch.int64)).shape == (0, 2, 7, 7)


def test_roi_align_outside_the_map_is_zero():
    feats = torch.ones(1, 1, 4, 4)
    out = roi_align(
        feats, torch.tensor([[10.0, 10.0, 12.0, 12.0]]), torch.tensor([0]), output_size=2
    )
    assert out.abs().max() == 0


def test_box_features_are_row_aligned_and_written_in_the_keyframe_layout(tmp_path):
    video = write_test_video(tmp_path / "vid.mp4", seconds=3, width=64, height=48)
    rows = ProposalRows(
        ["vid", "vid", "vid", "bad"],
        [1, 1, 2, 0],
        np.array([[0, 0, 0.5, 0.5], [0.2, 0.2, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]),
        [0.9, 0.8, 0.7, 0.6],
    )
    (tmp_path / "bad.mp4").write_bytes(b"x" * 100)
    torch.manual_seed(0)
    backbone = I3D(stream="rgb", width=1 / 16)
    feats, report = extract_box_features(
        rows, {"vid": video, "bad": tmp_path / "bad.mp4"}, backbone, dim=backbone.dim,
        clip_frames=8, short_side=48, log=lambda s: None,
    )  # fmt: skip
    assert feats.shape == (4, 64) and np.isfinite(feats).all()
    assert list(report.failed) == ["bad"] and report.zero_rows == 1 and not feats[3].any()
    assert not np.allclose(feats[0], feats[1])  # different boxes, different features
    write_keyframe_split(tmp_path / "kf", "val", rows, feats)
    assert open_box_features(tmp_path / "kf" / "features" / "val.npy", rows=4).shape == (4, 64)
    back = read_detections(tmp_path / "kf" / "proposals" / "val.csv")
    assert back.video_ids.tolist() == rows.video_ids.tolist()
    np.savez(tmp_path / "d.npz", video_ids=rows.video_ids, timestamps=rows.timestamps,
             boxes=rows.boxes.xyxy, scores=rows.scores)  # fmt: skip
    assert len(read_detections(tmp_path / "d.npz")) == 4


def test_flow_state_gives_one_flow_per_frame_across_chunks():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (7, 6, 5, 3), dtype=np.uint8)
    state = FlowState(frame_difference_flow)
    parts = [
        state.push(frames[:3]),
        state.push(frames[3:4]),
        state.push(frames[4:]),
        state.finish(),
    ]
    flows = np.concatenate([p for p in parts if p is not None])
    assert flows.shape == (7, 6, 5, 2) and np.abs(flows).max() <= 1
    whole = frame_difference_flow(frames[:-1], frames[1:])
    assert np.allclose(flows[:6], whole) and np.allclose(flows[6], whole[-1])


def test_tvl1_without_opencv_says_how_to_install(monkeypatch):
    try:
        import cv2  # noqa: F401
    except ImportError:
        with pytest.raises(WsalError, match="wsal\\[flow\\]"):
            flow_method("tvl1")
        return
    pytest.skip("OpenCV is installed; the missing-extra message cannot be triggered")


def test_torchvision_backbones_fail_clearly_without_torchvision(monkeypatch):
    from wsal.extract.tv import build_torchvision_backbone

    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    monkeypatch.setitem(sys.modules, "torchvision.models.video", None)
    with pytest.raises(WsalError, match="optional|extract"):
        build_torchvision_backbone("r3d_18", None)
    with pytest.raises(WsalError, match="unknown torchvision backbone"):
        build_torchvision_backbone("resnet50", None)


def test_core_extract_modules_do_not_import_torchvision():
    import subprocess

    code = (
        "import sys; import wsal.extract.features, wsal.extract.boxes, wsal.extract.i3d, "
        "wsal.extract.localize_video, wsal.extract.detector, wsal.engine.end_to_end, wsal.cli; "
        "assert 'torchvision' not in sys.modules and 'cv2' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_raft_flow_needs_weights_and_torchvision(monkeypatch, tmp_path):
    with pytest.raises(WsalError, match="--flow-weights"):
        flow_method("raft")
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    monkeypatch.setitem(sys.modules, "torchvision.models.optical_flow", None)
    with pytest.raises(WsalError, match="tvl1 works without it"):
        flow_method("raft", weights=tmp_path / "raft.pt")


@pytest.mark.skipif(import_torchvision() is not None, reason=str(import_torchvision()))
def test_raft_flow_from_a_local_state_dict(tmp_path):
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.optical_flow.raft_small().state_dict(), tmp_path / "raft.pt")
    from wsal.extract.flow import RaftFlow

    fn = RaftFlow(tmp_path / "raft.pt", model="raft_small", iters=2)
    frames = np.random.default_rng(0).integers(0, 255, (3, 128, 136, 3), dtype=np.uint8)
    flow = fn(frames[:-1], frames[1:])
    assert flow.shape == (2, 128, 136, 2) and np.abs(flow).max() <= 1
    with pytest.raises(WsalError, match="at least 128"):
        fn(frames[:1, :64], frames[1:2, :64])
