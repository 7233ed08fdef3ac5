"""Crash-safe checkpoints: written atomically (temp file, fsync, rename), read with
``torch.load(weights_only=True)`` so a checkpoint can never execute code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from wsal.errors import FormatError
from wsal.io.atomic import atomic_open

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Save ``state`` (tensors, numbers, strings, lists, dicts) atomically to ``path``."""
    with atomic_open(path, "wb") as fh:
        torch.save(state, fh)


def load_checkpoint(
    path: str | Path, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises :class:`FormatError` naming the file when it is missing, truncated or holds
    anything but plain data.
    """
    p = Path(path)
    if not p.is_file():
        raise FormatError(p, "checkpoint file missing")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for corrupt or unsafe files
        raise FormatError(
            p, f"cannot load checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        ) from None
