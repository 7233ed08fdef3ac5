"""The project's own error types.

Every reader raises :class:`FormatError` for bad user input, naming the file, the place in
it (line, key or row) and what was expected, so the CLI can print one clear line.
"""

from __future__ import annotations

from pathlib import Path


class WsalError(Exception):
    """Base class of every error wsal raises on purpose (bad input, bad config, bad run)."""


class FormatError(WsalError, ValueError):
    """Malformed or unreadable user input.

    Args:
        path: the file (or folder) the problem is in; ``None`` for in-memory input.
        message: what is wrong and what was expected.
        where: optional location inside the file, e.g. ``"line 12"`` or ``"database.v1.annotations[0]"``.
    """

    def __init__(self, path: str | Path | None, message: str, *, where: str | None = None):
        self.path = None if path is None else str(path)
        self.where = where
        self.message = message
        loc = "" if self.path is None else self.path
        if where:
            loc = f"{loc} ({where})" if loc else where
        super().__init__(f"{loc}: {message}" if loc else message)


class ConfigError(WsalError, ValueError):
    """Invalid configuration: unknown key, wrong type, or inconsistent values."""


class DataWarning(UserWarning):
    """Input that wsal accepted only after repairing it as the user asked (e.g. NaN/Inf
    features zeroed with ``data.nonfinite: mask``); the message names the file and the place."""
