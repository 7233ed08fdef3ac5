"""Seeing the results: timelines, metrics plots, box/tube overlays and the HTML report.

Modules import matplotlib lazily through :mod:`wsal.viz.common`; see ``docs/viz.md``.
"""
