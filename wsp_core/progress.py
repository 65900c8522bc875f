"""The progress events a training run emits, defined once (torch-free); an inference command
(eval-rd, eval-3d, score) emits the same start and step events for its passes (PassProgress).

A run (``pretrain``, ``finetune``) reports through one callable, ``emit(event)``; the same
dictionaries become the terminal's progress bar, the JSON lines of ``--progress jsonl`` that the
Jobs tab reads (:class:`wsp_core.launch.RunProgress`), and the TensorBoard event files.

- ``start``: ``kind``, ``epochs``, ``start_epoch`` (0, or the epoch a resumed run starts from),
  the training and validation sizes, ``world_size``, ``device``, ``precision``,
  ``manifest_sha256``.
- ``step``: ``epoch`` (from 0), ``step`` (from 1), ``steps`` (per epoch), ``lr``,
  ``samples_per_s``, ``eta_s``, and one number per loss part of the task (``loss`` always;
  pre-training also ``loss_rd`` and ``loss_hm``): whatever :data:`STEP_FIELDS` does not name.
- ``epoch``: the row appended to ``metrics.jsonl`` (``epoch``, mean losses, ``time_s``,
  ``samples_per_s``, ``lr``, validation columns ``val_*``).
- ``stopped``: ``epochs_done`` (a stop request ended the run; ``last.pt`` resumes it).
- ``done``: ``status`` (finished, stopped, failed), ``run``, ``last`` (the last epoch row),
  ``epochs_done``, and ``error`` when it failed.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

EVENTS = ("start", "step", "epoch", "stopped", "done")

#: The fields of a step event that are bookkeeping; every other number is a loss part.
STEP_FIELDS = ("event", "epoch", "step", "steps", "lr", "samples_per_s", "eta_s")


def finite_or_null(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON null): events, metrics and
    job results are strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def step_losses(event: dict[str, Any]) -> dict[str, float]:
    """The loss parts of a step event, in the order the task reports them."""
    return {k: float(v) for k, v in event.items() if k not in STEP_FIELDS and _is_number(v)}


def step_event(epoch: int, step: int, steps: int, losses: dict[str, float], lr: float,
               samples_per_s: float, eta_s: float) -> dict[str, Any]:
    """A step event; ``losses`` may not use the names of :data:`STEP_FIELDS`."""
    clash = set(losses) & set(STEP_FIELDS)
    if clash:
        raise ValueError(f"loss part named like a step field: {sorted(clash)}")
    return {"event": "step", "epoch": epoch, "step": step, "steps": steps, **losses, "lr": lr,
            "samples_per_s": samples_per_s, "eta_s": eta_s}


def format_step(event: dict[str, Any]) -> dict[str, str]:
    """The loss parts of a step event as a progress bar's postfix (``loss=0.6931``, …)."""
    return {name: f"{value:.4f}" for name, value in step_losses(event).items()}


class PassProgress:
    """An inference command (eval-rd, eval-3d, score) reported batch by batch, over ``passes``
    passes of its data (eval-rd: one per RD protocol): a bar on stderr (``bar``), the same
    start and step events as training on stdout (``jsonl``: the Jobs tab's progress bar and
    ETA; a pass is an "epoch"), or nothing (``none``)."""

    def __init__(self, mode: str, kind: str, passes: int = 1) -> None:
        self.mode, self.kind, self.passes = mode, kind, passes
        self.done = 0
        self.started = time.monotonic()

    def _print(self, event: dict[str, Any]) -> None:
        print(json.dumps(finite_or_null(event), allow_nan=False), flush=True)

    def wrap(self, batches: Iterable) -> Iterator:
        """The batches of one pass, reported as they are used."""
        steps = len(batches) if hasattr(batches, "__len__") else 0
        epoch, self.done = self.done, self.done + 1
        if self.mode == "jsonl" and epoch == 0:
            self._print({"event": "start", "kind": self.kind, "epochs": self.passes,
                         "start_epoch": 0})
        if self.mode == "bar":
            from tqdm import tqdm

            yield from tqdm(batches, total=steps or None, desc=f"{self.kind} {epoch + 1}/"
                            f"{self.passes}", unit="batch", file=sys.stderr, disable=None,
                            leave=False)
            return
        for k, batch in enumerate(batches, start=1):
            yield batch
            if self.mode == "jsonl":
                elapsed = time.monotonic() - self.started
                fraction = (epoch + k / max(steps, 1)) / self.passes
                self._print({"event": "step", "epoch": epoch, "step": k, "steps": steps,
                             "lr": 0.0, "samples_per_s": 0.0,
                             "eta_s": elapsed / fraction - elapsed if fraction else None})
