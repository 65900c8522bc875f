"""The Jobs tab's commands and the reading of a job's output, without Qt."""

from __future__ import annotations

import json
import sys

import pytest

from wsp_core.launch import (JobProgress, format_result, job_command, predict_command,
                             run_folder, samples_command)
from wsp_core.errors import BadValue

CORE = [sys.executable, "-m", "wsp_core.cli"]


def test_job_commands_are_what_a_terminal_runs():
    argv = job_command("pretrain", {"db": "s.db", "out": "runs/a", "preset": "smoke",
                                    "set": "epochs=2 max_pairs=16"})
    assert argv == CORE + ["pretrain", "--db", "s.db", "--out", "runs/a", "--preset", "smoke",
                           "--set", "epochs=2", "--set", "max_pairs=16", "--progress", "jsonl"]
    argv = job_command("finetune", {"data": "synth:w", "out": "runs/f"})
    assert argv[-2:] == ["--progress", "jsonl"] and "subject1" in argv
    assert "--init" not in argv                      # the preset's start (paper: ImageNet)
    assert job_command("score", {"db": "s.db", "ckpt": "r/best.pt"})[-1] == "--json"
    assert job_command("pretrain", {"out": "runs/a"}, resume=True) == \
        CORE + ["pretrain", "--out", "runs/a", "--resume", "--progress", "jsonl"]
    assert run_folder("eval-rd", {"ckpt": "runs/a/best.pt"}).as_posix() == "runs/a"
    assert predict_command("c.pt", "p.jpg", [[1, 2, 3.5, 4]]) == \
        CORE + ["predict", "--ckpt", "c.pt", "p.jpg", "--box", "1.0,2.0,3.5,4.0", "--json"]
    assert samples_command("c.pt", "synth:w", "all", "s.npz")[-3:] == ["--samples", "s.npz",
                                                                      "--json"]


@pytest.mark.parametrize("kind, values, message", [
    ("synth", {"out": "", "images": "3"}, "output folder: required"),
    ("synth", {"out": "w", "images": "ten"}, "images: 'ten' is not a whole number"),
    ("pretrain", {"db": "s", "out": "o", "preset": "huge"}, "preset: 'huge' is not one of"),
    ("pretrain", {"db": "s", "out": "o", "set": "epochs"}, "overrides: 'epochs' is not KEY=VALUE"),
    ("import", {"db": "s", "ann": "a.json", "images": "i", "format": "coco"}, None),
    ("train", {}, "unknown job kind"),
])
def test_a_bad_form_names_its_field(kind, values, message):
    if message is None:
        assert job_command(kind, values)[3] == kind
        return
    with pytest.raises(BadValue, match=message):     # the project's error type, one line
        job_command(kind, values)
    with pytest.raises(BadValue, match="only training jobs resume"):
        job_command("score", {}, resume=True)


def test_progress_reads_events_curves_and_the_result():
    progress = JobProgress()
    lines = [
        {"event": "start", "epochs": 2, "start_epoch": 0},
        {"event": "step", "epoch": 0, "step": 2, "steps": 4, "loss": 3.0, "loss_rd": 0.5,
         "lr": 0.1, "samples_per_s": 9.0, "eta_s": 30.0},
        {"event": "epoch", "epoch": 0, "loss": 2.5, "time_s": 1.0, "val_auc": 0.7,
         "val_auc_ds_0.1": None},
        {"event": "step", "epoch": 1, "step": 4, "steps": 4, "loss": 2.0, "loss_rd": 0.4,
         "lr": 0.01, "samples_per_s": 9.0, "eta_s": 0.0},
    ]
    for line in lines:
        progress.feed(json.dumps(line))
    assert progress.feed("Traceback: not json") is None
    assert progress.step_curves["loss"] == ([0.5, 2.0], [3.0, 2.0])
    assert set(progress.step_curves) == {"loss", "loss_rd"}
    assert progress.fraction == 1.0 and progress.eta_s == 0.0 and progress.epochs_done == 1
    assert progress.epoch_curves() == {"val_auc": ([1], [0.7])}
    progress.feed(json.dumps({"event": "stopped", "epochs_done": 1}))
    assert progress.status == "stopped"
    result = JobProgress()
    result.feed(json.dumps({"checkpoint": "c", "pairs": 3}))
    assert result.result == {"checkpoint": "c", "pairs": 3} and result.status is None
    assert format_result("score", result.result).startswith("{")


def test_one_definition_of_a_step_event_for_the_bar_the_board_and_the_jobs_tab():
    from wsp_core.progress import format_step, step_event, step_losses

    event = step_event(1, 3, 10, {"loss": 0.5, "loss_hm": 2.0}, 1e-3, 40.0, 12.0)
    assert event["event"] == "step" and (event["epoch"], event["step"], event["steps"]) == (1, 3, 10)
    assert step_losses(event) == {"loss": 0.5, "loss_hm": 2.0}       # not lr, samples/s or eta
    assert format_step(event) == {"loss": "0.5000", "loss_hm": "2.0000"}
    assert format_step(step_event(0, 1, 1, {"loss": 1.0}, 0.1, 1.0, 0.0)) == {"loss": "1.0000"}
    with pytest.raises(ValueError, match="eta_s"):
        step_event(0, 1, 1, {"loss": 1.0, "eta_s": 2.0}, 0.1, 1.0, 0.0)
    progress = JobProgress()
    progress.feed(json.dumps(event))
    assert set(progress.step_curves) == {"loss", "loss_hm"}


def test_job_results_are_formatted_without_torch():
    """The Jobs tab formats an ended evaluation's result in the app's process (ADR 0009):
    neither the eval-rd nor the eval-3d text may pull in torch or training code."""
    import os
    import subprocess

    from conftest import ROOT

    script = (
        "import sys\n"
        "from wsp_core.launch import format_result\n"
        "rd = {'checkpoint': 'c.pt', 'epoch': 1, 'pairs': 1, 'split': 'test', 'order_seed': 0,\n"
        "      'protocol1': {'subsets': {}, 'truth': None, 'heatmaps': None}}\n"
        "assert 'RD protocol 1' in format_result('eval-rd', rd)\n"
        "format_result('eval-3d', {'checkpoint': 'c.pt', 'epoch': 1, 'data': 'd', "
        "'protocol': 'all', 'samples': 0})\n"
        "print(sorted(m for m in sys.modules if m in ('torch', 'torchvision') "
        "or m.startswith('wsp_core.train') or m.startswith('wsp_core.models')))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_forms_are_the_cli_parser_s_options_and_their_commands_parse():
    """The Jobs tab's forms come from the CLI's own parser: every option of each command is a
    field (but those the launcher sets), every hint names a real option, and a filled form's
    command is one the CLI accepts."""
    import argparse

    from wsp_core.launch import FORM_HINTS, JOB_KINDS, LAUNCHER_OPTIONS, form_fields
    from wsp_core.parser import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for kind in JOB_KINDS:
        options = {o for a in commands.choices[kind]._actions for o in a.option_strings[-1:]
                   if a.option_strings and not set(a.option_strings) & set(LAUNCHER_OPTIONS)}
        fields = form_fields(kind)
        assert {f.flag for f in fields} == options, kind
        names = {f.name for f in fields}
        assert set(FORM_HINTS.get(kind, {})) <= names, kind
        values = {f.name: ("x.db" if f.kind in ("file", "dir", "text") else
                           f.choices[0] if f.kind == "choice" else "1")
                  for f in fields if f.required}
        if kind == "eval-3d":
            values["ckpt"] = "r/last.pt"
        args = parser.parse_args(job_command(kind, values)[3:])
        assert args.command == kind
    assert all(set(h) <= {n for k in JOB_KINDS for n in (f.name for f in form_fields(k))}
               for h in [FORM_HINTS["*"]])


def test_switches_one_of_groups_and_the_parser_defaults():
    argv = job_command("eval-3d", {"ckpt": "r/last.pt", "data": "synth:w",
                                   "no_flip_test": "true", "batch": "32"})
    assert "--no-flip-test" in argv and "--batch" not in argv  # 32 is the command's default
    assert "--protocol" not in argv                             # the command's own default
    with pytest.raises(BadValue, match="checkpoint or predictions: one of them is required"):
        job_command("eval-3d", {"data": "synth:w"})
    with pytest.raises(BadValue, match="give only one of them"):
        job_command("eval-3d", {"ckpt": "a.pt", "pred": "p.json", "data": "synth:w"})
    argv = job_command("import", {"db": "s.db", "ann": "a.json", "images": "i",
                                  "format": "coco", "strict": "yes", "update": ""})
    assert "--strict" in argv and "--update" not in argv
    with pytest.raises(BadValue, match="format: 'cocoa' is not one of"):
        job_command("import", {"db": "s.db", "ann": "a.json", "images": "i", "format": "cocoa"})
    assert "--preset" in job_command("pretrain", {"db": "s", "out": "o", "preset": "my.toml"})
