"""Methods, one file per paper. ``METHODS`` is the only name -> class table in wsal.

Each class says its task family in ``task``: ``"temporal"`` (snippet features -> CAS, trained
by :mod:`wsal.engine.trainer`) or ``"keyframe"`` (person boxes at keyframes -> per-box class
scores, trained by :mod:`wsal.engine.keyframe`). The CLI dispatches on it.
"""

from __future__ import annotations

from wsal.methods.attention_mil import AttentionMIL
from wsal.methods.dml import DeepMetricMIL
from wsal.methods.em_mil import EMMIL
from wsal.methods.mil_topk import MilTopK
from wsal.methods.mitl import MITL
from wsal.methods.ua_mil import UAMIL
from wsal.methods.wtalc import WTALC

__all__ = ["METHODS", "method_names"]

METHODS: dict[str, type] = {
    "dml": DeepMetricMIL,
    "em_mil": EMMIL,
    "wtalc": WTALC,
    "attention_mil": AttentionMIL,
    "mil_topk": MilTopK,
    "ua_mil": UAMIL,
    "mitl": MITL,
}


def method_names(task: str) -> list[str]:
    """Sorted names of the methods of one task family (``"temporal"`` or ``"keyframe"``)."""
    return sorted(n for n, cls in METHODS.items() if getattr(cls, "task", "temporal") == task)
