"""Shared plotting helpers: headless figures, atomic PNG/SVG output, colours.

Figures are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), so
plotting works without a display and from several threads; saving renders with Agg (PNG) or
the SVG backend.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from wsal.errors import WsalError
from wsal.io.atomic import atomic_open

__all__ = [
    "FORMATS",
    "new_figure",
    "figure_bytes",
    "save_figure",
    "output_paths",
    "data_uri",
    "class_color",
    "TYPE_COLORS",
]

#: Image formats the plot writers accept (by file suffix).
FORMATS = ("png", "svg")

#: DETAD's colours: true positive, double detection, wrong label, localization, confusion,
#: background (the same order as :data:`wsal.evaluation.analysis.FP_TYPES`).
TYPE_COLORS = ("#33a02c", "#b2df8a", "#1f78b4", "#fb9a99", "#e31a1c", "#a6cee3")

_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def new_figure(width: float, height: float):
    """A ``width x height`` inch figure with a constrained layout (no pyplot state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_bytes(fig, fmt: str = "png", *, dpi: int = 100) -> bytes:
    """Render ``fig`` to PNG or SVG bytes; SVG output carries no date (reproducible files)."""
    if fmt not in FORMATS:
        raise WsalError(f"unknown image format '{fmt}'; use one of {', '.join(FORMATS)}")
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()


def output_paths(path: str | Path) -> list[Path]:
    """The files to write for ``path``: itself for ``.png``/``.svg``, both formats otherwise."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return [path]
    if suffix:
        raise WsalError(f"{path}: unknown image format '.{suffix}'; use .png or .svg")
    return [path.with_suffix(f".{f}") for f in FORMATS]


def save_figure(fig, path: str | Path, *, dpi: int = 100) -> list[Path]:
    """Write ``fig`` atomically to ``path`` (format from the suffix; none: PNG and SVG).

    Returns the written paths.
    """
    written = []
    for out in output_paths(path):
        data = figure_bytes(fig, out.suffix.lstrip(".").lower(), dpi=dpi)
        with atomic_open(out, "wb") as fh:
            fh.write(data)
        written.append(out)
    return written


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of ``data`` (base64), for self-contained HTML."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def class_color(index: int) -> str:
    """A stable colour for class ``index`` (cycles through ten colours)."""
    return _PALETTE[int(index) % len(_PALETTE)]
