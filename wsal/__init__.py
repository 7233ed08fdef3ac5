"""wsal: weakly-supervised action localization (temporal and spatio-temporal).

Importing ``wsal`` is cheap: it pulls in no torch and no plotting code. The public names
below are the typed structures shared by localization, linking and evaluation.
"""

__version__ = "0.1.0"

from wsal.errors import FormatError, WsalError  # noqa: E402

__all__ = ["__version__", "FormatError", "WsalError"]
