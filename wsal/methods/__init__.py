"""Methods, one file per paper. ``METHODS`` is the only name -> class table in wsal."""

from __future__ import annotations

from wsal.methods.mil_topk import MilTopK

__all__ = ["METHODS"]

METHODS: dict[str, type] = {
    "mil_topk": MilTopK,
}
