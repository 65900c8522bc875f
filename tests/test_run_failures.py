"""Issue 19, points 4-6: checkpoints that are what they claim, runs that fail say so, jobs that
died. The runner is driven with a toy task (a linear model on a few numbers) where a test needs
to control the loss; the real pre-training runs where the command line is the subject."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from wsp_core.errors import InputError
from wsp_core.store import open_store
from wsp_core.store.jobs import list_jobs, start_job
from wsp_core.train.checkpoint import init_backbone, load_checkpoint, save_checkpoint
from wsp_core.train.config import FinetuneConfig, PretrainConfig, load_config
from wsp_core.heartbeat import FILE as HEARTBEAT, Heartbeat
from wsp_core.train.runner import Task, TrainingDiverged, epoch_loader, run_training


def strict_rows(path: Path) -> list[dict]:
    """metrics.jsonl parsed as strict JSON: a bare NaN or Infinity fails."""
    def refuse(name):
        raise AssertionError(f"{path} holds a bare {name}")
    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


# -- a toy task the tests control ----------------------------------------------------------

class ToyData(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return {"image": torch.tensor([float(i), 1.0]), "target": torch.tensor([2.0 * i])}


def toy_task(bad_step: int | None = None, bad_value: float = math.nan,
             stop_after: int | None = None, out: Path | None = None) -> Task:
    """Four samples per epoch, batch 2 (two steps an epoch). At global step ``bad_step`` the
    loss is ``bad_value``; after ``stop_after`` steps a STOP file asks the run to end."""
    count = {"steps": 0}

    def step(model, batch, optimizer, cfg, device):
        loss = ((model(batch["image"]) - batch["target"]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        count["steps"] += 1
        if stop_after is not None and count["steps"] == stop_after:
            (out / "STOP").write_text("")
        value = loss.detach()
        if bad_step is not None and count["steps"] == bad_step:
            value = torch.tensor(bad_value)
        return torch.stack([value]).float()

    def export(source, path, cfg):
        path.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(4)))
        return {"rows": 4}

    return Task(kind="wsp-pretrain", config_cls=PretrainConfig, loss_names=("loss",),
                export=export, rows=lambda path, cfg: (list(range(4)), list(range(2))),
                make_loader=lambda rows, cfg, train, world, rank: epoch_loader(
                    ToyData(len(rows)), cfg, train, world, rank),
                build_model=lambda cfg, device: torch.nn.Linear(2, 1),
                step=step, validate=lambda *a: ({"val_auc": float("nan")}, 0.5),
                job_kind="pretrain")


def toy_config(**changes) -> PretrainConfig:
    cfg = load_config(PretrainConfig, "smoke", ["workers=0", "device=cpu", "batch_size=2",
                                                "epochs=3", "lr=0.001"])
    return replace(cfg, **changes)


@pytest.fixture
def job_store(tmp_path) -> Path:
    db = tmp_path / "store.db"
    open_store(db).close()
    return db


# -- point 5: runs that fail say so --------------------------------------------------------

@pytest.mark.parametrize("bad_value, what", [(math.nan, "loss nan"), (1e12, "over 1000")])
def test_a_diverging_loss_fails_the_run_and_keeps_the_last_finite_checkpoint(
        tmp_path, job_store, capsys, bad_value, what):
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=f"training diverged at epoch 2, step 1 .*{what}"):
        run_training(toy_task(bad_step=3, bad_value=bad_value), None, run, toy_config(),
                     progress="jsonl", store=job_store)
    assert load_checkpoint(run / "last.pt")["epoch"] == 1      # epoch 1 stays, finite
    assert [r["epoch"] for r in strict_rows(run / "metrics.jsonl")] == [0]
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["status"] == "failed"
    with open_store(job_store) as s:
        job = list_jobs(s)[-1]
    assert job["status"] == "failed" and "training diverged" in job["error"]
    assert job["resumable"]


def test_every_step_is_logged_in_order_and_counted_in_its_epoch(tmp_path, job_store, capsys):
    """The loop reads a step's loss after queuing the next one: still every step of every
    epoch is logged once, in order, with its own loss, and the epoch's mean takes them all."""
    run = tmp_path / "run"
    run_training(toy_task(), None, run, toy_config(), progress="jsonl", store=job_store)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps = [(e["epoch"], e["step"]) for e in events if e["event"] == "step"]
    assert steps == [(epoch, step) for epoch in range(3) for step in (1, 2)]
    for row in strict_rows(run / "metrics.jsonl"):
        losses = [e["loss"] for e in events if e["event"] == "step" and e["epoch"] == row["epoch"]]
        assert row["loss"] == pytest.approx(sum(losses) / 2)


def test_metrics_are_strict_json(tmp_path):
    run = tmp_path / "run"
    run_training(toy_task(), None, run, toy_config(epochs=2), progress="none")
    rows = strict_rows(run / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [0, 1] and rows[0]["val_auc"] is None   # NaN -> null


def test_a_learning_rate_of_1e4_fails_from_the_command_line(tmp_path):
    """The issue's run: lr=1e4 on the real pre-training ended "finished"; now it fails, in one
    line, and every checkpoint it left is finite (or there is none)."""
    gen = run_cli("synth", "--out", tmp_path / "w", "--images", 6, "--seed", 1)
    db = tmp_path / "s.db"
    run_cli("import", "--db", db, "--format", "synth", "--ann", tmp_path / "w" / "scenes.json",
            "--images", tmp_path / "w")
    assert gen.returncode == 0
    proc = run_cli("pretrain", "--db", db, "--out", tmp_path / "run", "--preset", "smoke",
                   "--set", "lr=1e4", "--set", "epochs=3", "--progress", "none", check=False)
    assert proc.returncode == 2, proc.stdout
    assert "training diverged" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    if (tmp_path / "run" / "last.pt").exists():
        load_checkpoint(tmp_path / "run" / "last.pt")           # finite, or this raises
    with open_store(db) as s:
        assert list_jobs(s)[-1]["status"] == "failed"


@pytest.mark.parametrize("preset_text, fragment", [
    ('lr_steps = "3,4"\n', "lr_steps must be a list of whole numbers, not '3,4'"),
    ("epochs = 2.5\n", "epochs must be a whole number"),
    ("augment = 1\n", "augment must be true or false"),
])
def test_preset_types_are_checked(tmp_path, preset_text, fragment):
    preset = tmp_path / "p.toml"
    preset.write_text(preset_text)
    with pytest.raises(InputError, match=fragment):
        load_config(PretrainConfig, str(preset))


@pytest.mark.parametrize("setting, fragment", [
    ("eval_every=0", "eval_every must be at least 1"), ("log_every=0", "log_every"),
    ("alpha=nan", "alpha must be a finite number"), ("lr=nan", "lr must be a finite"),
    ("lr=-1", "lr must be a finite positive"), ("workers=-2", "workers and seed"),
    ("lr_steps=3;4", "lr_steps takes whole numbers"), ("weight_decay=inf", "weight_decay"),
    ("aug_scale=-1", "aug_scale"), ("max_pairs=-5", "max_pairs"),
])
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, setting, fragment):
    run = tmp_path / "run"
    proc = run_cli("pretrain", "--db", tmp_path / "none.db", "--out", run, "--preset", "smoke",
                   "--set", setting, check=False)
    assert proc.returncode == 2 and fragment in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not run.exists()


def test_finetune_ranges_are_checked():
    with pytest.raises(InputError, match="max_samples"):
        load_config(FinetuneConfig, "smoke", ["max_samples=-1"], kind="finetune")


# -- point 6: jobs that died ---------------------------------------------------------------

def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_run_is_shown_as_died_and_resumable(tmp_path, job_store):
    run = tmp_path / "run"
    run_training(toy_task(stop_after=3, out=run), None, run, toy_config(epochs=4),
                 progress="none", store=job_store)
    with open_store(job_store) as s:
        assert list_jobs(s)[-1]["status"] == "stopped"
        # the same run started again and SIGKILLed: the row says running, the process is gone
        start_job(s, "pretrain", {}, run)
        assert list_jobs(s)[-1]["status"] == "running"            # its heartbeat is fresh
        beat = json.loads((run / HEARTBEAT).read_text())
        (run / HEARTBEAT).write_text(json.dumps({**beat, "pid": dead_pid()}))
        job = list_jobs(s)[-1]
        assert job["status"] == "died" and job["resumable"]
        (run / HEARTBEAT).write_text(json.dumps({**beat, "pid": os.getpid(),
                                                 "host": "elsewhere", "time": 0}))
        assert list_jobs(s)[-1]["status"] == "died"               # stale: another host
    # a partial last line (the process died while appending) does not stop the resume
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "loss": 0.1')
    summary = run_training(toy_task(), None, run, toy_config(), resume=True, progress="none",
                           store=job_store)
    assert summary["status"] == "finished"
    assert [r["epoch"] for r in strict_rows(run / "metrics.jsonl")] == [0, 1, 2, 3]
    with open_store(job_store) as s:
        assert list_jobs(s)[-1]["status"] == "finished"


def test_the_heartbeat_beats_while_the_run_lives(tmp_path):
    beat = Heartbeat(tmp_path, interval_s=0.05).start()
    first = json.loads((tmp_path / HEARTBEAT).read_text())
    import time
    time.sleep(0.3)
    beat.stop()
    later = json.loads((tmp_path / HEARTBEAT).read_text())
    assert later["time"] > first["time"] and later["pid"] == os.getpid()


def test_resume_from_another_working_directory(tmp_path):
    gen = tmp_path / "work"
    run_cli("synth", "--out", gen / "w", "--images", 6, "--seed", 2)
    run_cli("import", "--db", gen / "s.db", "--format", "synth", "--ann", gen / "w" / "scenes.json",
            "--images", gen / "w")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.run([sys.executable, "-m", "wsp_core.cli", "pretrain", "--db", "s.db",
                            "--out", "run", "--preset", "smoke", "--set", "epochs=1",
                            "--progress", "none"], cwd=gen, capture_output=True, text=True,
                           env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    config = json.loads((gen / "run" / "config.json").read_text())
    assert Path(config["db"]).is_absolute()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = subprocess.run([sys.executable, "-m", "wsp_core.cli", "pretrain", "--out",
                            str(gen / "run"), "--resume", "--progress", "none"], cwd=elsewhere,
                           capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "finished: 1 epochs" in again.stdout


# -- point 4: checkpoints that are what they claim -------------------------------------------

def wsp_state(backbone: str = "resnet18", drop: str | None = None, **changes) -> dict:
    from wsp_core.models.wsp import WSPNet
    from wsp_core.train.data import PRETRAIN_JOINTS

    cfg = load_config(PretrainConfig, "smoke", [f"backbone={backbone}"])
    model = WSPNet(backbone, len(PRETRAIN_JOINTS), cfg.head_channels, cfg.rd_hidden)
    weights = {k: v for k, v in model.state_dict().items() if k != drop}
    return {"kind": "wsp-pretrain", "model": weights, "epoch": 2, "config": asdict(cfg),
            **changes}


@pytest.mark.parametrize("change, fragment", [
    ({"kind": "resnet-classifier"}, "unknown checkpoint kind 'resnet-classifier'"),
    ({"config": None}, "holds no config"),
    ({"epoch": -1}, "epoch -1 is not a count of epochs"),
    ({"epoch": "2"}, "epoch '2' is not a count"),
    ({"model": {"a": [1, 2]}}, "not a non-empty set of named tensors"),
])
def test_checkpoint_contents_are_checked(tmp_path, change, fragment):
    state = {"kind": "wsp-pretrain", "model": {"w": torch.zeros(2)}, "epoch": 1, "config": {}}
    state.update(change)
    save_checkpoint(tmp_path / "c.pt", state)
    with pytest.raises(InputError, match=fragment) as e:
        load_checkpoint(tmp_path / "c.pt")
    assert str(e.value).startswith(str(tmp_path / "c.pt")) and "\n" not in str(e.value)


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    state = wsp_state()
    state["model"]["backbone.0.weight"] = torch.full_like(state["model"]["backbone.0.weight"],
                                                          math.inf)
    save_checkpoint(tmp_path / "c.pt", state)
    with pytest.raises(InputError, match="weight backbone.0.weight is not finite"):
        load_checkpoint(tmp_path / "c.pt")


def test_tensors_that_do_not_fit_the_config_are_one_line(tmp_path):
    from wsp_core.train.rd import load_wsp

    save_checkpoint(tmp_path / "c.pt", wsp_state(drop="backbone.0.weight"))
    with pytest.raises(InputError, match=r"c\.pt: its tensors do not fit .*1 missing; "
                                         r"e\.g\. backbone\.0\.weight"):
        load_wsp(tmp_path / "c.pt", "cpu")
    bad = wsp_state()
    bad["config"]["head_channels"] = 32                      # the tensors have 16
    save_checkpoint(tmp_path / "d.pt", bad)
    with pytest.raises(InputError, match="of another shape"):
        load_wsp(tmp_path / "d.pt", "cpu")


def test_init_requires_the_same_whole_backbone(tmp_path):
    from wsp_core.models.posenet import PoseNet

    save_checkpoint(tmp_path / "r34.pt", wsp_state("resnet34"))
    net = PoseNet("resnet18", 17, 16)
    with pytest.raises(InputError, match="holds a resnet34 backbone; this run builds a resnet18 "
                                         r"\(--set backbone=resnet34"):
        init_backbone(net, tmp_path / "r34.pt", "resnet18")
    save_checkpoint(tmp_path / "part.pt", wsp_state(drop="backbone.4.0.conv1.weight"))
    with pytest.raises(InputError, match="does not hold the whole resnet18 backbone: 1 of "
                                         r"\d+ backbone tensors missing"):
        init_backbone(net, tmp_path / "part.pt", "resnet18")
    save_checkpoint(tmp_path / "ok.pt", wsp_state())
    record = init_backbone(net, tmp_path / "ok.pt", "resnet18")
    assert record["tensors"] == len(net.backbone.state_dict()) and record["epoch"] == 2
    assert record["checkpoint"] == str((tmp_path / "ok.pt").resolve())
    assert len(record["sha256"]) == 64
