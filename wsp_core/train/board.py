"""TensorBoard event files of a run, beside its ``metrics.jsonl`` (which stays the source of
truth). An optional extra (``pip install 'wsp-studio[tensorboard]'``): without the
``tensorboard`` package nothing is written and training is unchanged.

``RUN/tensorboard/steps`` holds the logged training steps (x: global step), and
``RUN/tensorboard/epochs`` every numeric column of the epoch rows (x: epoch, from 1). A resumed
run purges what its killed predecessor wrote after the epoch it resumes from, so its curves
continue without a doubled stretch: ``tensorboard --logdir RUN/tensorboard``.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

Emit = Callable[[dict[str, Any]], None]

#: Columns of an event that are bookkeeping, not curves (the rest of a step event's bookkeeping,
#: lr and samples/s, is worth a curve).
_NOT_CURVES = ("event", "epoch", "step", "steps", "eta_s")


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class Board:
    """The two writers of a run (none without the package, or off rank 0)."""

    def __init__(self, out: Path, start_epoch: int, steps_per_epoch: int, active: bool) -> None:
        self.steps = self.epochs = None
        if not (active and tensorboard_available()):
            return
        from torch.utils.tensorboard import SummaryWriter

        folder = Path(out) / "tensorboard"
        resumed = start_epoch > 0
        self.steps = SummaryWriter(str(folder / "steps"),
                                   purge_step=start_epoch * steps_per_epoch + 1 if resumed else None)
        self.epochs = SummaryWriter(str(folder / "epochs"),
                                    purge_step=start_epoch + 1 if resumed else None)

    def wrap(self, emit: Emit) -> Emit:
        """``emit`` that also writes step and epoch events to the event files."""
        if self.steps is None:
            return emit

        def both(event: dict[str, Any]) -> None:
            emit(event)
            if event.get("event") == "step":
                at = event["epoch"] * event["steps"] + event["step"]
                _scalars(self.steps, "train", event, at)
            elif event.get("event") == "epoch":
                _scalars(self.epochs, "epoch", event, event["epoch"] + 1)
                self.epochs.flush()

        return both

    def close(self) -> None:
        for writer in (self.steps, self.epochs):
            if writer is not None:
                writer.close()


def _scalars(writer, prefix: str, event: dict[str, Any], at: int) -> None:
    for name, value in event.items():
        if name in _NOT_CURVES or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            writer.add_scalar(f"{prefix}/{name}", value, at)
