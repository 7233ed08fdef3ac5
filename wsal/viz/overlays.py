"""Box overlays: an AVA keyframe with person boxes and actions, a clip of action tubes.

Both work from the dataset folder layouts alone (``docs/formats.md``): boxes are drawn on a
blank canvas of the video size (the tube folder's ``gt_tubes.json`` gives it; the AVA layout
has none, so the keyframe canvas defaults to 640 x 360) and on the real frames when a video
file is given (decoded with PyAV).

* :func:`keyframe_figure`: one keyframe, ground-truth boxes (dashed, green) with their
  actions, detections (solid, per-box list of the best actions and scores; from an AVA
  detection CSV) or, without detections, the person proposals with their detector scores.
* :func:`write_tube_clip`: a GIF (Pillow) or MP4 (PyAV) of one video with its ground-truth
  tubes and the best detected tubes, each labelled with class and score.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsal.errors import FormatError, WsalError
from wsal.io.atomic import atomic_open
from wsal.viz.common import class_color, new_figure

__all__ = [
    "KeyframeData",
    "load_keyframe_data",
    "keyframe_figure",
    "read_video_frame",
    "iter_video_frames",
    "write_tube_clip",
    "DEFAULT_KEYFRAME_SIZE",
]

#: Canvas of a keyframe without a video file (AVA frames are usually 16:9).
DEFAULT_KEYFRAME_SIZE = (640, 360)


# --------------------------------------------------------------------------------------------
# Video decoding (PyAV)
# --------------------------------------------------------------------------------------------


def read_video_frame(path: str | Path, seconds: float) -> np.ndarray:
    """The first frame at or after ``seconds`` of a video file: ``(H, W, 3)`` uint8 RGB."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            container.seek(max(0, int(seconds / tb)), stream=stream, backward=True)
            last = None
            for frame in container.decode(stream):
                last = frame
                if frame.pts is not None and frame.pts * tb >= seconds - 1e-6:
                    break
    except (av.error.FFmpegError, IndexError) as e:  # type: ignore[attr-defined]
        raise FormatError(path, f"cannot decode video ({e})") from None
    if last is None:
        raise FormatError(path, f"no frame at {seconds:g} s")
    return last.to_ndarray(format="rgb24")


def iter_video_frames(path: str | Path):
    """Decoded frames of a video file in order, ``(H, W, 3)`` uint8 RGB (frame 1 first)."""
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(container.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, IndexError) as e:  # type: ignore[attr-defined]
        raise FormatError(path, f"cannot decode video ({e})") from None


# --------------------------------------------------------------------------------------------
# Keyframes (AVA layout)
# --------------------------------------------------------------------------------------------


@dataclass
class KeyframeData:
    """The rows of one keyframe.

    Attributes:
        video, timestamp: the keyframe.
        names: ``{action id: name}`` from the label map.
        gt_boxes: ``(G, 4)`` normalized unique person boxes; gt_actions: ``G`` lists of ids.
        det_boxes: ``(D, 4)`` unique detected boxes; det_actions: ``D`` lists of
            ``(id, score)`` sorted by score.
        proposals: ``(P, 4)`` person proposals; proposal_scores ``(P,)``.
    """

    video: str
    timestamp: int
    names: dict[int, str]
    gt_boxes: np.ndarray
    gt_actions: list[list[int]]
    det_boxes: np.ndarray
    det_actions: list[list[tuple[int, float]]]
    proposals: np.ndarray
    proposal_scores: np.ndarray


def _group_boxes(xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of ``xyxy (N, 4)`` (first-appearance order) and each row's group."""
    if len(xyxy) == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    uniq, first, inverse = np.unique(xyxy, axis=0, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return uniq[np.argsort(first)], rank[inverse.reshape(-1)]


def _rows(table, video: str, timestamp: int) -> np.ndarray:
    return np.flatnonzero((table.video_ids == video) & (table.timestamps == timestamp))


def load_keyframe_data(
    folder: str | Path,
    video: str,
    timestamp: int,
    *,
    split: str | None = None,
    detections: str | Path | None = None,
    with_gt: bool = True,
) -> KeyframeData:
    """Read one keyframe's boxes from an AVA-layout folder and an optional detection CSV.

    ``split`` (``train``/``val``): which annotation and proposal files; default: the first
    whose annotations contain the video. Unknown videos or keyframes raise :class:`WsalError`.
    """
    from wsal.io.ava import read_ava_detections, read_ava_gt, read_ava_proposals, read_labelmap

    folder = Path(folder)
    labelmap = read_labelmap(folder / "annotations" / "action_list.pbtxt")
    split = split or _split_of(folder, video)
    gt = read_ava_gt(folder / "annotations" / f"{split}.csv")
    if not (gt.video_ids == video).any():
        raise WsalError(f"video '{video}' is not in {folder / 'annotations' / f'{split}.csv'}")
    g = _rows(gt, video, timestamp)
    gt_boxes, gi = _group_boxes(gt.boxes.xyxy[g]) if with_gt else (np.zeros((0, 4)), [])
    gt_actions = [[int(a) for a in gt.labels[g][gi == k]] for k in range(len(gt_boxes))]
    det_boxes, det_actions = np.zeros((0, 4)), []
    if detections is not None:
        det = read_ava_detections(detections)
        d = _rows(det, video, timestamp)
        det_boxes, di = _group_boxes(det.boxes.xyxy[d])
        for k in range(len(det_boxes)):
            sel = d[di == k]
            order = np.argsort(-det.scores[sel], kind="stable")
            det_actions.append(
                [(int(det.labels[sel][i]), float(det.scores[sel][i])) for i in order]
            )
    props = np.zeros((0, 4)), np.zeros(0)
    prop_path = folder / "proposals" / f"{split}.csv"
    if prop_path.is_file():
        p = read_ava_proposals(prop_path)
        r = _rows(p, video, timestamp)
        props = p.boxes.xyxy[r], p.scores[r]
    if len(g) == 0 and len(props[0]) == 0 and not len(det_boxes):
        raise WsalError(f"no boxes at keyframe {video},{timestamp} (keyframes are whole seconds)")
    return KeyframeData(video, int(timestamp), dict(labelmap.names), gt_boxes, gt_actions,
                        det_boxes, det_actions, props[0], props[1])  # fmt: skip


def _split_of(folder: Path, video: str) -> str:
    for split in ("val", "train", "test"):
        path = folder / "annotations" / f"{split}.csv"
        if path.is_file() and video in path.read_text(encoding="utf-8"):
            return split
    raise WsalError(f"video '{video}' is in no annotation file of {folder / 'annotations'}")


def _name(names: dict[int, str], action: int, width: int = 18) -> str:
    text = names.get(action, str(action))
    return text if len(text) <= width else text[: width - 1] + "…"


def keyframe_figure(
    data: KeyframeData,
    *,
    frame: np.ndarray | None = None,
    size: tuple[int, int] = DEFAULT_KEYFRAME_SIZE,
    min_score: float = 0.1,
    top_k: int = 3,
):
    """Figure of one keyframe: ``frame`` (``(H, W, 3)``) or a blank ``size`` canvas with the
    ground truth, detections (``top_k`` actions per box with score ``>= min_score``) or, when
    there are no detections, the person proposals."""
    from matplotlib.patches import Rectangle

    h, w = (frame.shape[0], frame.shape[1]) if frame is not None else (size[1], size[0])
    fig = new_figure(8, 8 * h / w + 0.5)
    ax = fig.add_subplot()
    ax.imshow(frame if frame is not None else np.full((h, w, 3), 235, np.uint8))
    scale = np.array([w, h, w, h], dtype=np.float64)
    for box, acts in zip(data.gt_boxes * scale, data.gt_actions, strict=True):
        ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                               edgecolor="#2ca02c", linestyle="--", linewidth=2))  # fmt: skip
        ax.text(box[0], box[3], "GT: " + ", ".join(_name(data.names, a) for a in acts),
                fontsize=7, va="top", color="w", bbox={"facecolor": "#2ca02c", "pad": 1})  # fmt: skip
    for k, (box, acts) in enumerate(zip(data.det_boxes * scale, data.det_actions, strict=True)):
        color = class_color(k)
        ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                               edgecolor=color, linewidth=2))  # fmt: skip
        shown = [f"{_name(data.names, a)} {s:.2f}" for a, s in acts if s >= min_score][:top_k]
        ax.text(box[0], box[1], "\n".join(shown) or "(below min score)", fontsize=7,
                va="bottom", color="w", bbox={"facecolor": color, "pad": 1, "alpha": 0.85})  # fmt: skip
    if not len(data.det_boxes):
        for box, s in zip(data.proposals * scale, data.proposal_scores, strict=True):
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                   edgecolor="#1f77b4", linewidth=1, linestyle=":"))  # fmt: skip
            ax.text(box[2], box[1], f"person {s:.2f}", fontsize=6, ha="right", va="bottom",
                    color="#1f77b4")  # fmt: skip
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    what = "detections" if len(data.det_boxes) else "person proposals"
    ax.set_title(f"{data.video} @ {data.timestamp} s  (green dashed: ground truth; {what})",
                 fontsize=9)  # fmt: skip
    return fig


# --------------------------------------------------------------------------------------------
# Tube clips
# --------------------------------------------------------------------------------------------


def _font():
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _draw_tube(
    draw, tube, f: int, scale: tuple[float, float], color: str, text: str, font, *, below=False
):
    i = f - tube.first_frame
    if not 0 <= i < len(tube):
        return
    x1, y1, x2, y2 = (tube.boxes[i] * np.array([*scale, *scale])).tolist()
    if not all(np.isfinite([x1, y1, x2, y2])):
        return
    draw.rectangle([x1, y1, x2, y2], outline=color, width=2)
    tw = draw.textlength(text, font=font)
    top = y2 - 13 if below else max(0, y1 - 13)  # ground truth labelled inside the bottom edge
    draw.rectangle([x1, top, x1 + tw + 4, top + 13], fill=color)
    draw.text((x1 + 2, top), text, fill="white", font=font)


def _clip_frames(info: dict, video_file, frame_step: int, max_frames: int):
    """``(frame number, base image (H, W, 3) or None)`` pairs to draw."""
    numbers = list(range(1, int(info["nframes"]) + 1, frame_step))[:max_frames]
    if video_file is None:
        return [(f, None) for f in numbers]
    wanted, out = set(numbers), []
    for f, img in enumerate(iter_video_frames(video_file), start=1):
        if f in wanted:
            out.append((f, img))
        if f >= numbers[-1]:
            break
    if not out:
        raise FormatError(video_file, "the video has no frames")
    return out


def write_tube_clip(
    out: str | Path,
    *,
    video: str,
    gt,
    dets=None,
    video_file: str | Path | None = None,
    fps: float = 10.0,
    frame_step: int = 1,
    max_frames: int = 300,
    top_k: int = 5,
) -> Path:
    """Write a GIF (``.gif``) or MP4 (``.mp4``, PyAV) of ``video`` with its tubes drawn.

    Args:
        out: output file; the suffix picks the format.
        video: video id of ``gt`` (:class:`~wsal.structures.TubeGroundTruth`, which gives the
            frame size and count).
        dets: :class:`~wsal.structures.TubeDetections` or None; its ``top_k`` best tubes of
            the video are drawn with class and score.
        video_file: draw on its frames (boxes scaled if its size differs) instead of a blank
            canvas of the video size.
        fps, frame_step, max_frames: playback rate, frame subsampling and cap.
    """
    from PIL import Image, ImageDraw

    out = Path(out)
    fmt = out.suffix.lower()
    if fmt not in (".gif", ".mp4"):
        raise WsalError(f"{out}: clips are written as .gif or .mp4")
    if video not in gt.videos:
        raise WsalError(f"video '{video}' is not in the ground-truth tubes")
    info, font = gt.videos[video], _font()
    det_tubes = sorted(dets.tubes.get(video, []), key=lambda t: -t.score)[:top_k] if dets else []
    frames = []
    for f, base in _clip_frames(info, video_file, max(1, frame_step), max_frames):
        img = Image.fromarray(base) if base is not None else Image.new(
            "RGB", (int(info["width"]), int(info["height"])), (235, 235, 235))  # fmt: skip
        scale = (img.width / info["width"], img.height / info["height"])
        draw = ImageDraw.Draw(img)
        for t in gt.tubes.get(video, []):
            _draw_tube(draw, t, f, scale, "#2ca02c", f"GT {gt.labels[t.label]}", font, below=True)
        for t in det_tubes:
            name = dets.labels[t.label] if 0 <= t.label < len(dets.labels) else "?"
            _draw_tube(draw, t, f, scale, class_color(t.label), f"{name} {t.score:.2f}", font)
        draw.text((4, img.height - 14), f"frame {f}", fill="black", font=font)
        frames.append(img)
    data = _encode_gif(frames, fps) if fmt == ".gif" else _encode_mp4(frames, fps)
    with atomic_open(out, "wb") as fh:
        fh.write(data)
    return out


def _encode_gif(frames, fps: float) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=max(20, int(1000 / fps)), loop=0)  # fmt: skip
    return buf.getvalue()


def _encode_mp4(frames, fps: float) -> bytes:
    from fractions import Fraction

    import av

    buf = io.BytesIO()
    w, h = frames[0].width // 2 * 2, frames[0].height // 2 * 2  # yuv420p needs even sizes
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.asarray(img)[:h, :w], format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()
