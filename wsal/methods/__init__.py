"""Methods, one file per paper. ``METHODS`` is the only name -> class table in wsal."""

from __future__ import annotations

from wsal.methods.attention_mil import AttentionMIL
from wsal.methods.dml import DeepMetricMIL
from wsal.methods.em_mil import EMMIL
from wsal.methods.mil_topk import MilTopK
from wsal.methods.wtalc import WTALC

__all__ = ["METHODS"]

METHODS: dict[str, type] = {
    "dml": DeepMetricMIL,
    "em_mil": EMMIL,
    "wtalc": WTALC,
    "attention_mil": AttentionMIL,
    "mil_topk": MilTopK,
}
