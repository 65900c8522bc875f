"""What the app's Jobs tab launches: the ``wsp-core`` command line of each kind of job, built
from a form's values, and the reading of a job's output (``--progress jsonl`` events, a
``--json`` result, log lines).

Qt-free: the tab builds the command here, runs it with QProcess, and feeds every output line to
:class:`JobProgress`. The command is exactly what a terminal would run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import BadValue
from .formats import FORMATS
from .parser import PROTOCOLS, build_parser
from .progress import step_losses

PRESETS = ("smoke", "cpu-small", "paper")
#: The commands the Jobs tab launches, in its menu's order.
JOB_KINDS = ("synth", "import", "pretrain", "finetune", "eval-rd", "eval-3d", "score")
#: Options the launcher sets itself (--progress jsonl or --json; the Resume button).
LAUNCHER_OPTIONS = ("--help", "--json", "--progress", "--resume")
#: Kinds that train: they print --progress jsonl events, stop gracefully and resume.
TRAINING = ("pretrain", "finetune")
#: Kinds that run a network over data without training: their passes as --progress jsonl
#: events, then their --json result.
REPORTING = ("eval-rd", "eval-3d", "score")


@dataclass(frozen=True)
class Field:
    """One input of a job's form, and the flag it becomes (one option of the command)."""

    name: str
    label: str
    kind: str            # file, dir, int, float, text, choice, switch, sets (KEY=VALUE words)
    flag: str
    default: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    #: a choice that also takes a file (a preset's TOML)
    editable: bool = False
    #: the option's default in the parser: a value equal to it is not passed
    parser_default: str = ""
    #: a required one-of group (eval-3d: checkpoint or predictions), named for people
    one_of: str = ""


#: What the parser cannot say about an option, for people: its label, a folder (not a file), the
#: form's default and choices. Keyed by command ("*": every command), then the option's name.
#: tests/test_launch.py checks that each names an option the command has.
FORM_HINTS: dict[str, dict[str, dict[str, Any]]] = {
    "*": {"db": {"label": "store"},
          "out": {"label": "run folder", "kind": "dir"},
          "ckpt": {"label": "checkpoint"},
          "data": {"label": "3D data"},
          "set": {"label": "overrides", "help": "KEY=VALUE words, e.g. epochs=2 max_pairs=256"},
          "preset": {"choices": PRESETS, "default": "cpu-small", "editable": True}},
    "synth": {"out": {"label": "output folder"}, "images": {"default": "200"}},
    "pretrain": {"db": {"required": True}},
    "import": {"ann": {"label": "annotations"}, "images": {"label": "image folder", "kind": "dir"},
               "name": {"label": "source name"},
               "format": {"default": "synth", "choices": tuple(FORMATS)}},
    "finetune": {"data": {"required": True}, "init": {"label": "start from", "kind": "file"},
                 "mts_db": {"label": "MTS store"},
                 "protocol": {"default": "subject1", "choices": PROTOCOLS}},
    "eval-3d": {"pred": {"label": "predictions"}, "samples": {"label": "samples file"},
                "protocol": {"choices": PROTOCOLS}},
    "score": {"out": {"label": "fold runs folder"}},
}


def _parser_actions(kind: str) -> list[tuple[argparse.Action, str]]:
    """The options of command ``kind`` in the CLI's parser, with the name of the required
    one-of group each belongs to ("" for none)."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = commands.choices[kind]
    groups = {id(a): " or ".join(_name(x) for x in g._group_actions)
              for g in command._mutually_exclusive_groups if g.required
              for a in g._group_actions}
    return [(a, groups.get(id(a), "")) for a in command._actions
            if a.option_strings and not set(a.option_strings) & set(LAUNCHER_OPTIONS)]


def _name(action: argparse.Action) -> str:
    return action.option_strings[-1].lstrip("-").replace("-", "_")


def _field(kind: str, action: argparse.Action, one_of: str) -> Field:
    name = _name(action)
    hints = {**FORM_HINTS["*"].get(name, {}), **FORM_HINTS.get(kind, {}).get(name, {})}
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                           argparse._StoreConstAction)):
        field_kind, parser_default = "switch", ""
    else:
        field_kind = ("sets" if isinstance(action, argparse._AppendAction) else
                      "choice" if action.choices else
                      "int" if action.type is int else "float" if action.type is float else
                      "file" if action.type is Path else "text")
        parser_default = "" if action.default in (None, [], argparse.SUPPRESS) \
            else str(action.default)
    choices = tuple(hints.get("choices", action.choices or ()))
    return Field(name, hints.get("label", name.replace("_", " ")),
                 hints.get("kind", "choice" if choices else field_kind),
                 action.option_strings[-1], hints.get("default", parser_default),
                 bool(hints.get("required", action.required)), choices,
                 hints.get("help", action.help or ""),
                 bool(hints.get("editable", False)), parser_default, one_of)


def form_fields(kind: str) -> tuple[Field, ...]:
    """The form of a job kind: one field per option of the command (the launcher's own options
    left out), in the parser's order."""
    if kind not in JOB_KINDS:
        raise BadValue("job kind", f"unknown job kind {kind!r}; one of: {', '.join(JOB_KINDS)}")
    fields = [_field(kind, a, g) for a, g in _parser_actions(kind)]
    labels = {f.name: f.label for f in fields}
    return tuple(replace(f, one_of=" or ".join(labels[n] for n in f.one_of.split(" or ")))
                 if f.one_of else f for f in fields)


def job_command(kind: str, values: dict[str, str], resume: bool = False,
                python: str = sys.executable) -> list[str]:
    """The ``wsp-core`` argv of a job (run as ``python -m wsp_core.cli``).

    :class:`~wsp_core.errors.BadValue` names the first field that is missing or malformed.
    ``resume`` continues the training run in ``values["out"]`` with the run's own config.
    """
    fields = form_fields(kind)
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
    for f in fields:
        argv += _flag(f, values.get(f.name, f.default).strip())
    _check_one_of(fields, values)
    return argv + (["--progress", "jsonl"] if kind in TRAINING else
                   ["--progress", "jsonl", "--json"] if kind in REPORTING else ["--json"])


def _check_one_of(fields: tuple[Field, ...], values: dict[str, str]) -> None:
    for group in {f.one_of for f in fields if f.one_of}:
        given = [f for f in fields if f.one_of == group and values.get(f.name, "").strip()]
        if len(given) != 1:
            raise BadValue(group, "one of them is required" if not given
                           else "give only one of them")


def _flag(f: Field, value: str) -> list[str]:
    if f.kind == "switch":
        return [f.flag] if value.lower() in SWITCH_ON else []
    if not value:
        if f.required:
            raise BadValue(f.label, "required")
        return []
    if f.kind in ("int", "float"):
        try:
            int(value) if f.kind == "int" else float(value)
        except ValueError:
            what = "a whole number" if f.kind == "int" else "a number"
            raise BadValue(f.label, f"{value!r} is not {what}") from None
    if f.kind == "choice" and value not in f.choices and not (f.editable and
                                                              value.endswith(".toml")):
        raise BadValue(f.label, f"{value!r} is not one of {', '.join(f.choices)}"
                       + (" (nor a .toml file)" if f.editable else ""))
    if f.kind == "sets":
        out = []
        for word in shlex.split(value):
            if f.name == "set" and ("=" not in word or word.startswith("=")):
                raise BadValue(f.label, f"{word!r} is not KEY=VALUE")
            out += [f.flag, word]
        return out
    if value == f.parser_default and not f.required:
        return []  # the command's own default
    return [f.flag, value]


#: What a switch's value reads as "on".
SWITCH_ON = ("1", "true", "yes", "on")


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
