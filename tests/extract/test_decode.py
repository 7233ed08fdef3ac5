"""Decoding: timing alignment on the 25 fps grid, VFR, rotation, audio, and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from wsal.errors import FormatError
from wsal.extract.decode import Resize, iter_frame_chunks, probe_video
from wsal.extract.features import StatsEncoder, extract_video
from wsal.extract.snippets import SnippetAssembler, SnippetSpec
from wsal.extract.videogen import level_at, write_test_video

FULL = Resize("full")


def _frames(path, **kw) -> np.ndarray:
    return np.concatenate([c.frames for c in iter_frame_chunks(path, resize=FULL, **kw)])


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """A 60 s, 30 fps, 32x24 video (so resampling to 25 fps is not the identity)."""
    return write_test_video(
        tmp_path_factory.mktemp("v") / "long.mp4", seconds=60, fps=30, width=32, height=24
    )


def test_sixty_seconds_give_the_recorded_snippet_count_and_times(long_video):
    chunks = list(iter_frame_chunks(long_video, resize=FULL, chunk_frames=100))
    assert [c.start for c in chunks] == list(range(0, 1500, 100))
    frames = np.concatenate([c.frames for c in chunks])
    assert len(frames) == 1500  # 60 s x 25 fps
    # grid frame k shows the source frame displayed at k / 25 s
    t = np.arange(1500) / 25
    shown = np.floor(t * 30 + 1e-6) / 30
    assert np.abs(frames.mean(axis=(1, 2, 3)) - level_at(shown, 60)).max() <= 2.5
    feats = extract_video(long_video, [StatsEncoder()], resize=FULL, crop=None)["rgb"]
    spec = SnippetSpec()
    assert feats.shape == (spec.num_snippets(1500), 24) == (94, 24)
    assert spec.timing.to_seconds(94) == pytest.approx(60.16)  # last snippet padded


def test_variable_frame_rate_resamples_by_timestamps(tmp_path):
    gaps = np.where(np.arange(60) % 2, 0.02, 0.07)
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    end = float(times[-1] + 0.04)
    path = write_test_video(tmp_path / "vfr.mkv", seconds=end, times=times)
    frames = _frames(path)
    grid = np.arange(len(frames)) / 25
    assert len(frames) == int(np.ceil(end * 25 - 0.05))
    shown = times[np.searchsorted(times, grid + 1e-9, side="right") - 1]
    assert np.abs(frames.mean(axis=(1, 2, 3)) - level_at(shown, end)).max() <= 6


def test_rotation_from_the_display_matrix_is_applied(tmp_path):
    path = write_test_video(tmp_path / "rot.mp4", rotation=90, marker=True, seconds=0.4)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    frame = _frames(path)[0]
    assert frame.shape == (64, 48, 3)
    # the white top-left marker of the stored frame is bottom-left after a CCW quarter turn
    assert frame[-8:, :8].mean() > 200 and frame[:8, :8].mean() < 60


def test_resize_short_side_and_centre_crop(tmp_path):
    path = write_test_video(tmp_path / "s.mp4", seconds=0.2, width=64, height=48)
    assert _frames(path, chunk_frames=2)[0].shape == (48, 64, 3)
    f = np.concatenate(
        [c.frames for c in iter_frame_chunks(path, resize=Resize("short_side", 24, 24))]
    )
    assert f.shape[1:] == (24, 32, 3)
    f = np.concatenate(
        [c.frames for c in iter_frame_chunks(path, resize=Resize("center_crop", 24, 16))]
    )
    assert f.shape[1:] == (16, 16, 3)


def test_audio_track_is_ignored(tmp_path):
    path = write_test_video(tmp_path / "a.mp4", seconds=0.4, audio=True)
    assert len(_frames(path)) == 10


@pytest.mark.parametrize("case", ["empty", "garbage", "truncated", "audio_only", "missing"])
def test_bad_files_raise_format_error_naming_the_file(tmp_path, case):
    path = tmp_path / f"{case}.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "garbage":
        path.write_bytes(b"not a video" * 50)
    elif case == "truncated":
        good = write_test_video(tmp_path / "good.mp4", seconds=1.0)
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "audio_only":
        path = write_test_video(tmp_path / "audio.m4a", seconds=0.5, audio=True, video=False)
    with pytest.raises(FormatError) as err:
        _frames(path)
    assert str(path) in str(err.value)


def test_snippet_windows_with_stride_and_padding():
    spec = SnippetSpec(frames=4, stride=2, fps=10)
    asm = SnippetAssembler(spec)
    frames = np.arange(9)[:, None]
    out = [asm.push(frames[:3]), asm.push(frames[3:7]), asm.push(frames[7:]), asm.finish()]
    windows = np.concatenate([o for o in out if o is not None])[..., 0]
    assert len(windows) == spec.num_snippets(9) == 5
    assert windows.tolist() == [
        [0, 1, 2, 3],
        [2, 3, 4, 5],
        [4, 5, 6, 7],
        [6, 7, 8, 8],
        [8, 8, 8, 8],
    ]
    assert spec.meta()["snippet"] == {
        "frames_per_snippet": 2, "fps": 10.0, "window_frames": 4, "stride_frames": 2,
        "last_snippet": "padded by repeating the last frame",
    }  # fmt: skip
