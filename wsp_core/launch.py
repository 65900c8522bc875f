"""What the app's Jobs tab launches: the ``wsp-core`` command line of each kind of job, built
from a form's values, and the reading of a job's output (``--progress jsonl`` events, a
``--json`` result, log lines).

Qt-free: the tab builds the command here, runs it with QProcess, and feeds every output line to
:class:`JobProgress`. The command is exactly what a terminal would run.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadValue
from .formats import FORMATS
from .progress import step_losses

PRESETS = ("smoke", "cpu-small", "paper")
PROTOCOLS = ("subject1", "subject2", "cross-action", "all")


@dataclass(frozen=True)
class Field:
    """One input of a job's form, and the flag it becomes."""

    name: str
    label: str
    kind: str            # file, dir, int, text, choice, sets (KEY=VALUE words)
    flag: str
    default: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""


def _db(required: bool = True) -> Field:
    return Field("db", "store", "file", "--db", required=required,
                 help="the label store (the one open in the app by default)")


def _preset() -> Field:
    return Field("preset", "preset", "choice", "--preset", "cpu-small", True, PRESETS)


def _sets() -> Field:
    return Field("set", "overrides", "sets", "--set",
                 help="KEY=VALUE words, e.g. epochs=2 max_pairs=256")


KINDS: dict[str, tuple[Field, ...]] = {
    "synth": (Field("out", "output folder", "dir", "--out", required=True),
              Field("images", "images", "int", "--images", "200", True),
              Field("seed", "seed", "int", "--seed", "0")),
    "import": (_db(), Field("format", "format", "choice", "--format", "synth", True,
                            tuple(FORMATS)),
               Field("ann", "annotations", "file", "--ann", required=True),
               Field("images", "image folder", "dir", "--images", required=True),
               Field("name", "source name", "text", "--name")),
    "pretrain": (_db(), Field("out", "run folder", "dir", "--out", required=True), _preset(),
                 _sets()),
    "finetune": (Field("data", "3D data", "text", "--data", required=True,
                       help="FORMAT:PATH, e.g. synth:world"),
                 Field("init", "start from", "file", "--init",
                       help="a WSP checkpoint, imagenet (the PoseNet baseline, as the paper) or "
                            "none (random, not the paper's); empty: the preset's"),
                 Field("out", "run folder", "dir", "--out", required=True), _preset(),
                 Field("protocol", "protocol", "choice", "--protocol", "subject1", True,
                       PROTOCOLS), _sets(), _db(required=False)),
    "eval-rd": (Field("ckpt", "checkpoint", "file", "--ckpt", required=True),
                Field("db", "store", "file", "--db",
                      help="empty: the run's own held-out pairs")),
    "eval-3d": (Field("ckpt", "checkpoint", "file", "--ckpt", required=True),
                Field("data", "3D data", "text", "--data", required=True),
                Field("protocol", "protocol", "choice", "--protocol", "subject1", True,
                      PROTOCOLS)),
    "score": (_db(), Field("ckpt", "checkpoint", "file", "--ckpt", required=True)),
}
#: Kinds that train: they print --progress jsonl events, stop gracefully and resume.
TRAINING = ("pretrain", "finetune")


def job_command(kind: str, values: dict[str, str], resume: bool = False,
                python: str = sys.executable) -> list[str]:
    """The ``wsp-core`` argv of a job (run as ``python -m wsp_core.cli``).

    :class:`~wsp_core.errors.BadValue` names the first field that is missing or malformed.
    ``resume`` continues the training run in ``values["out"]`` with the run's own config.
    """
    if kind not in KINDS:
        raise BadValue("job kind", f"unknown job kind {kind!r}; one of: {', '.join(KINDS)}")
    argv = _core(python) + [kind]
    if resume:
        if kind not in TRAINING:
            raise BadValue("job kind", f"only training jobs resume, not {kind}")
        out = values.get("out", "").strip()
        if not out:
            raise BadValue("run folder", "needed to resume")
        argv += ["--out", out, "--resume"]
        if kind == "finetune" and values.get("db", "").strip():
            argv += ["--db", values["db"].strip()]
        return argv + ["--progress", "jsonl"]
    for f in KINDS[kind]:
        argv += _flag(f, values.get(f.name, f.default).strip())
    return argv + (["--progress", "jsonl"] if kind in TRAINING else ["--json"])


def _flag(f: Field, value: str) -> list[str]:
    if not value:
        if f.required:
            raise BadValue(f.label, "required")
        return []
    if f.kind == "int":
        try:
            int(value)
        except ValueError:
            raise BadValue(f.label, f"{value!r} is not a whole number") from None
    if f.kind == "choice" and value not in f.choices:
        raise BadValue(f.label, f"{value!r} is not one of {', '.join(f.choices)}")
    if f.kind == "sets":
        out = []
        for word in shlex.split(value):
            if "=" not in word or word.startswith("="):
                raise BadValue(f.label, f"{word!r} is not KEY=VALUE")
            out += [f.flag, word]
        return out
    return [f.flag, value]


def run_folder(kind: str, values: dict[str, str]) -> Path | None:
    """The folder a job writes or reads its run in (open run folder, STOP file)."""
    if values.get("out", "").strip():
        return Path(values["out"].strip())
    if values.get("ckpt", "").strip():
        return Path(values["ckpt"].strip()).parent
    return None


@dataclass
class JobProgress:
    """What a job's output lines tell: progress, ETA, curves, the result, the log."""

    epochs: int | None = None
    fraction: float | None = None
    eta_s: float | None = None
    status: str | None = None
    #: step losses: name -> ([global step], [value])
    step_curves: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    #: epoch rows of metrics.jsonl as they come
    epoch_rows: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    epochs_done: int = 0

    def feed(self, line: str) -> dict[str, Any] | None:
        """Read one output line; returns its JSON object (None for a plain log line)."""
        text = line.strip()
        if not text:
            return None
        if not text.startswith("{"):
            return None
        try:
            event = json.loads(text)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        kind = event.get("event")
        if kind == "start":
            self.epochs = event.get("epochs")
            self.epochs_done = event.get("start_epoch", 0)
        elif kind == "step":
            self._step(event)
        elif kind == "epoch":
            self.epoch_rows.append(event)
            self.epochs_done = event["epoch"] + 1
        elif kind == "stopped":
            self.status = "stopped"
        elif kind == "done":
            self.status = event.get("status", "finished")
            if self.status == "finished":
                self.fraction = 1.0
            self.result = event
        elif kind is None:
            self.result = event  # a --json result (eval-rd, eval-3d, score, import, synth)
        return event

    def _step(self, event: dict[str, Any]) -> None:
        steps = max(int(event["steps"]), 1)
        x = event["epoch"] + event["step"] / steps
        if self.epochs:
            self.fraction = min(1.0, x / self.epochs)
        self.eta_s = event.get("eta_s")
        for name, value in step_losses(event).items():
            xs, ys = self.step_curves.setdefault(name, ([], []))
            xs.append(x)
            ys.append(value)

    def epoch_curves(self) -> dict[str, tuple[list[float], list[float]]]:
        """Validation metrics per epoch (the ``val_*`` columns): name -> ([epoch + 1], [value]).
        The epoch's mean training losses are left out: the step curves show them."""
        out: dict[str, tuple[list[float], list[float]]] = {}
        for row in self.epoch_rows:
            for name, value in row.items():
                if name.startswith("val_") and isinstance(value, (int, float)):
                    xs, ys = out.setdefault(name, ([], []))
                    xs.append(row["epoch"] + 1)
                    ys.append(float(value))
        return out


def format_result(kind: str, result: dict[str, Any]) -> str:
    """A finished job's result as the terminal would print it (the evaluation tables)."""
    if kind == "eval-rd":
        from .evaluate.relative_depth import format_rd_tables

        return format_rd_tables(result)
    if kind == "eval-3d":
        from .evaluate.pose3d import format_3d

        return format_3d(result)
    return json.dumps(result, indent=1, default=str)


def _core(python: str) -> list[str]:
    return [python, "-m", "wsp_core.cli"]


def predict_command(ckpt: str | Path, image: str | Path, boxes: list[list[float]],
                    python: str = sys.executable) -> list[str]:
    """``wsp-core predict`` of person boxes on a photo, printing its JSON."""
    argv = _core(python) + ["predict", "--ckpt", str(ckpt), str(image)]
    for box in boxes:
        argv += ["--box", ",".join(str(float(v)) for v in box)]
    return argv + ["--json"]


def samples_command(ckpt: str | Path, data: str, protocol: str, out: str | Path,
                    python: str = sys.executable) -> list[str]:
    """``wsp-core eval-3d`` writing every sample (worst first) to ``out`` (.npz)."""
    return _core(python) + ["eval-3d", "--ckpt", str(ckpt), "--data", data, "--protocol",
                            protocol, "--workers", "0", "--samples", str(out), "--json"]
