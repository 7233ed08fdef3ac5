"""Atomic file output: write to a temporary file in the target folder, fsync, rename.

A reader never sees a half-written file, and an interrupted write leaves the previous
version in place.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_open",
    "write_text_atomic",
    "write_json_atomic",
    "save_npy_atomic",
    "save_npz_atomic",
]


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8"
) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success fsync and rename it onto ``path``.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary). On an exception the temporary file is
    removed and ``path`` is untouched. Parent folders are created.
    """
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open supports modes 'w' and 'wb'")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_json_atomic(path: str | Path, obj: Any, *, indent: int | None = None) -> None:
    """Serialize ``obj`` as JSON to ``path`` atomically (NaN is rejected, as JSON has none)."""
    text = json.dumps(obj, indent=indent, allow_nan=False)
    write_text_atomic(path, text + "\n")


def save_npy_atomic(path: str | Path, array: np.ndarray) -> None:
    """``np.save`` to ``path`` atomically; object arrays are refused (no pickles written)."""
    with atomic_open(path, "wb") as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)


def save_npz_atomic(path: str | Path, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` atomically (uncompressed); object arrays are refused (no pickles)."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    bad = [k for k, v in arrays.items() if v.dtype.hasobject]
    if bad:
        raise ValueError(f"save_npz_atomic: object arrays would be pickled: {bad}")
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)
