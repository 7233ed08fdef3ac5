"""Keyframe and tube overlays from the folder layouts alone, and on frames of a real video."""

import numpy as np
import pytest
from PIL import Image

from wsal.cli import main
from wsal.errors import WsalError
from wsal.io.ava import read_ava_gt, write_ava_detections
from wsal.io.tubes import read_gt_tubes, write_tube_results
from wsal.structures import KeyframeDetections, Tube, TubeDetections
from wsal.viz.common import figure_bytes
from wsal.viz.overlays import (
    keyframe_figure,
    load_keyframe_data,
    read_video_frame,
    write_tube_clip,
)


def _first_keyframe(folder):
    gt = read_ava_gt(folder / "annotations" / "val.csv")
    return gt, str(gt.video_ids[0]), int(gt.timestamps[0])


def test_keyframe_with_detections_csv(keyframe_data, tmp_path):
    gt, video, ts = _first_keyframe(keyframe_data)
    scores = np.linspace(0.95, 0.2, len(gt))
    det = KeyframeDetections(gt.video_ids, gt.timestamps, gt.boxes, gt.labels, scores)
    write_ava_detections(tmp_path / "det.csv", det)
    data = load_keyframe_data(keyframe_data, video, ts, detections=tmp_path / "det.csv")
    assert len(data.gt_boxes) == len(data.det_boxes) > 0
    top = max(data.det_actions[0], key=lambda a: a[1])
    svg = figure_bytes(keyframe_figure(data), "svg").decode()
    assert f"{data.names[top[0]][:10]}" in svg and f"{top[1]:.2f}" in svg and "GT: " in svg


def test_keyframe_without_detections_shows_proposals(keyframe_data, tmp_path, capsys):
    _, video, ts = _first_keyframe(keyframe_data)
    data = load_keyframe_data(keyframe_data, video, ts, with_gt=False)
    assert len(data.gt_boxes) == 0 and len(data.proposals) > 0
    assert "person proposals" in figure_bytes(keyframe_figure(data), "svg").decode()
    with pytest.raises(WsalError, match="no boxes"):
        load_keyframe_data(keyframe_data, video, 5)
    out = tmp_path / "kf.png"
    code = main(["plot", "frame", "--data", str(keyframe_data), "--video", video,
                 "--timestamp", str(ts), "--out", str(out)])  # fmt: skip
    assert code == 0 and Image.open(out).size[0] > 400


def test_keyframe_on_video_frame(keyframe_data, video_file):
    frame = read_video_frame(video_file, 1.0)  # frame 4 of a 4 fps clip: grey 80
    assert frame.shape == (48, 64, 3) and abs(int(frame.mean()) - 80) <= 6
    _, video, ts = _first_keyframe(keyframe_data)
    fig = keyframe_figure(load_keyframe_data(keyframe_data, video, ts), frame=frame)
    assert fig.axes[0].get_xlim() == (0.0, 64.0)


def _dets(gt):
    return TubeDetections(
        {v: [Tube(t.frames, t.boxes + 4, t.label, 0.8) for t in ts] for v, ts in gt.tubes.items()},
        gt.labels,
    )


def test_tube_gif_on_blank_canvas(tube_data, tmp_path, capsys):
    gt = read_gt_tubes(tube_data / "gt_tubes.json")
    video = next(v for v, ts in gt.tubes.items() if ts)
    write_tube_results(tmp_path / "res.json", _dets(gt))
    out = tmp_path / "clip.gif"
    code = main(["plot", "tubes", "--data", str(tube_data), "--video", video, "--results",
                 str(tmp_path / "res.json"), "--frame-step", "10", "--out", str(out)])  # fmt: skip
    assert code == 0
    img = Image.open(out)
    info = gt.videos[video]
    assert img.size == (info["width"], info["height"])
    assert img.n_frames == len(range(1, info["nframes"] + 1, 10))
    first = gt.tubes[video][0].first_frame
    img.seek((first - 1 + 9) // 10)
    pixels = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert (np.abs(pixels - [44, 160, 44]).sum(axis=1) < 30).any()  # the green GT box


def test_tube_mp4_on_video_frames(tube_data, video_file, tmp_path):
    import av

    gt = read_gt_tubes(tube_data / "gt_tubes.json")
    video = next(iter(gt.videos))
    out = write_tube_clip(tmp_path / "c.mp4", video=video, gt=gt, dets=_dets(gt),
                          video_file=video_file)  # fmt: skip
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)  # the video's 12 frames
    with pytest.raises(WsalError, match=".gif or .mp4"):
        write_tube_clip(tmp_path / "c.avi", video=video, gt=gt)
