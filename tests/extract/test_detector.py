"""Person proposals from a detector at keyframes (torchvision optional)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn
from tv_fallback import import_torchvision

from wsal.errors import WsalError
from wsal.extract.detector import build_person_detector, detect_persons
from wsal.extract.videogen import write_test_video


class _BrightBoxDetector(nn.Module):
    """torchvision's detection interface in pure torch: a "person" box around the bright
    pixels of each image (score = their fraction + 0.5) and a label-2 box that must be dropped."""

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        out = []
        for img in images:
            ys, xs = torch.nonzero(img.mean(0) > 0.95, as_tuple=True)
            box = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
            score = (img.mean(0) > 0.95).float().mean() + 0.5
            out.append({"boxes": torch.stack([box, box]), "labels": torch.tensor([1, 2]),
                        "scores": torch.stack([score, torch.tensor(0.99)])})  # fmt: skip
        return out


def test_detect_persons_at_keyframes_normalizes_and_filters(tmp_path):
    video = write_test_video(tmp_path / "v.mp4", seconds=3.2, width=64, height=48, marker=True)
    (tmp_path / "bad.mp4").write_bytes(b"junk" * 30)
    rows, failed = detect_persons(
        {"v": video, "bad": tmp_path / "bad.mp4"}, _BrightBoxDetector(), time_offset=900,
        threshold=0.5, batch_size=2, log=lambda s: None,
    )  # fmt: skip
    assert list(failed) == ["bad"] and "bad.mp4" in failed["bad"]
    assert rows.video_ids.tolist() == ["v"] * 4
    assert rows.timestamps.tolist() == [900, 901, 902, 903]  # frames 0, 25, 50, 75
    assert np.allclose(rows.boxes.xyxy, [0, 0, 0.25, 0.25], atol=0.05)
    assert np.allclose(rows.scores, 0.5625, atol=0.02)
    none, _ = detect_persons({"v": video}, _BrightBoxDetector(), threshold=0.9, log=print)
    assert len(none) == 0


def test_missing_torchvision_is_a_clear_error(monkeypatch, tmp_path):
    for mod in ("torchvision", "torchvision.models", "torchvision.models.detection"):
        monkeypatch.setitem(sys.modules, mod, None)
    (tmp_path / "w.pt").write_bytes(b"")
    with pytest.raises(WsalError, match="--detections"):
        build_person_detector("fasterrcnn_resnet50_fpn", tmp_path / "w.pt")
    with pytest.raises(WsalError, match="unknown detector"):
        build_person_detector("yolo", tmp_path / "w.pt")


@pytest.mark.skipif(
    import_torchvision() is not None,
    reason=str(import_torchvision()),
)
def test_torchvision_detector_from_a_local_state_dict(tmp_path):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.detection.fcos_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=2, min_size=64, max_size=96
    )
    torch.save(model.state_dict(), tmp_path / "det.pt")
    det = build_person_detector("fcos_resnet50_fpn", tmp_path / "det.pt", num_classes=2)
    det.transform.min_size, det.transform.max_size = (64,), 96
    det.score_thresh = 0.0  # random weights: keep every candidate
    video = write_test_video(tmp_path / "v.mp4", seconds=1.2, width=64, height=48)
    rows, failed = detect_persons({"v": video}, det, threshold=0.0, log=print)
    assert not failed and len(rows) > 0 and set(rows.timestamps.tolist()) <= {0, 1}
    assert ((rows.boxes.xyxy >= 0) & (rows.boxes.xyxy <= 1)).all()
