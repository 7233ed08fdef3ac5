"""Per-epoch training metrics: ``RUN/history.csv`` and TensorBoard event files.

Every trainer in :mod:`wsal.engine` reports one row per epoch (losses, validation metrics)
to a :class:`TrainingLog`. The CSV is rewritten atomically after every epoch, so a user can
watch a run (``wsal plot metrics``, ``wsal report``) and a killed run never leaves a
half-written file. When the ``tensorboard`` package is installed (``pip install
'wsal[tensorboard]'``) the same scalars, plus the wall time per epoch, go to
``RUN/tensorboard/`` (``tensorboard --logdir RUN``). Timings stay out of the CSV so that two
runs with the same seed write byte-identical histories.
"""

from __future__ import annotations

import csv
import io
import typing
from pathlib import Path

from wsal.errors import WsalError
from wsal.io.atomic import write_text_atomic

__all__ = ["TrainingLog", "write_history", "tensorboard_available", "TENSORBOARD_DIR"]

#: Sub-folder of the run folder that holds the TensorBoard event files.
TENSORBOARD_DIR = "tensorboard"

TensorboardMode = typing.Literal["auto", "on", "off"]


def write_history(path: str | Path, history: list[dict[str, float]]) -> None:
    """Write epoch rows as CSV (``epoch`` first, then the other keys sorted), atomically."""
    keys = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(Path(path), buf.getvalue())


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can be used (the ``tensorboard`` package is installed)."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


class TrainingLog:
    """Collects epoch rows; writes ``history.csv`` and TensorBoard scalars after each epoch.

    Args:
        run_dir: the run folder.
        history: rows already recorded (a resumed run passes the checkpoint's history).
        tensorboard: ``auto`` (write event files when TensorBoard is installed), ``on``
            (require it: a clear error otherwise) or ``off``.
        enabled: ``False`` on non-zero DDP ranks: rows are kept, nothing is written.
    """

    def __init__(
        self,
        run_dir: str | Path,
        history: list[dict[str, float]] | None = None,
        *,
        tensorboard: TensorboardMode = "auto",
        enabled: bool = True,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.history: list[dict[str, float]] = list(history or [])
        self.enabled = enabled
        self._writer = None
        if tensorboard not in ("auto", "on", "off"):
            raise WsalError(f"train.tensorboard must be auto, on or off, not '{tensorboard}'")
        if not enabled or tensorboard == "off":
            return
        if not tensorboard_available():
            if tensorboard == "on":
                raise WsalError(
                    "train.tensorboard=on but the tensorboard package is not installed "
                    "(pip install 'wsal[tensorboard]', or set train.tensorboard=auto)"
                )
            return
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run wrote after its last checkpoint.
        self._writer = SummaryWriter(
            str(self.run_dir / TENSORBOARD_DIR), purge_step=len(self.history) + 1
        )

    @property
    def writes_tensorboard(self) -> bool:
        """Whether event files are being written."""
        return self._writer is not None

    def append(self, row: dict[str, float], *, extra: dict[str, float] | None = None) -> None:
        """Record one epoch (``row`` must hold ``epoch``); ``extra`` scalars go to TensorBoard only."""
        self.history.append(row)
        if not self.enabled:
            return
        write_history(self.run_dir / "history.csv", self.history)
        if self._writer is not None:
            step = int(row["epoch"])
            for key, value in {**row, **(extra or {})}.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._writer.add_scalar(key, float(value), step)
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file (safe to call twice)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
