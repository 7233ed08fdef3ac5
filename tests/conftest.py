"""Shared test fixtures: where ``../shared`` (real annotation data and evaluator fixtures) lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    env = os.environ.get("WSAL_SHARED")
    return Path(env) if env else REPO.parent / "shared"


SHARED = _shared_dir()


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path of the shared folder (``$WSAL_SHARED`` or ``<repo>/../shared``); must exist."""
    if not (SHARED / "data").is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set WSAL_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared: Path) -> Path:
    """``shared/data``: real benchmark annotation files."""
    return shared / "data"


@pytest.fixture(scope="session")
def fixtures_dir(shared: Path) -> Path:
    """``shared/fixtures``: evaluator fixtures with the official numbers."""
    return shared / "fixtures"
