"""Runs you can compare: TensorBoard event files beside metrics.jsonl, and runs read back from
their folders (wsp_core/runs.py: measures, curves, config differences)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from helpers import synth_store
from wsp_core.errors import InputError
from wsp_core.runs import config_table, curve, measures, read_run


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    db = synth_store(tmp, 8, seed=4)
    for name, lr in (("a", "1e-3"), ("b", "2e-3")):
        run_cli("pretrain", "--db", db, "--out", tmp / name, "--preset", "smoke", "--set",
                "epochs=2", "--set", f"lr={lr}", "--set", "workers=0", "--progress", "none")
    return tmp / "a", tmp / "b"


def test_event_files_hold_the_epoch_rows_of_metrics_jsonl(two_runs):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = two_runs[0]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = EventAccumulator(str(run / "tensorboard" / "epochs"))
    epochs.Reload()
    events = epochs.Scalars("epoch/loss")
    assert [e.step for e in events] == [r["epoch"] + 1 for r in rows] == [1, 2]
    assert [e.value for e in events] == pytest.approx([r["loss"] for r in rows], rel=1e-6)
    steps = EventAccumulator(str(run / "tensorboard" / "steps"))
    steps.Reload()
    assert {"train/loss", "train/loss_hm", "train/loss_rd"} <= set(steps.Tags()["scalars"])


def test_runs_read_back_compare_their_configs_and_curves(two_runs):
    runs = [read_run(folder) for folder in two_runs]
    assert [r.kind for r in runs] == ["wsp-pretrain", "wsp-pretrain"]
    shared = measures(runs)
    assert "loss" in shared and "epoch" not in shared and "lr" not in shared
    xs, ys = curve(runs[1], "loss")
    rows = [json.loads(x) for x in (two_runs[1] / "metrics.jsonl").read_text().splitlines()]
    assert xs == [1, 2] and ys == [r["loss"] for r in rows]
    table = {key: (values, differs) for key, values, differs in config_table(runs)}
    assert table["lr"] == (["0.001", "0.002"], True)
    assert table["backbone"] == (["tiny", "tiny"], False)


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a run folder"):
        read_run(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a run's config.json"):
        read_run(tmp_path)


def test_a_resumed_run_continues_its_event_curves_without_a_doubled_stretch(tmp_path):
    """The killed run wrote epochs 1–3; resuming from epoch 1 purges 2–3 and writes its own."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from wsp_core.train.board import Board

    first = Board(tmp_path, start_epoch=0, steps_per_epoch=4, active=True)
    emit = first.wrap(lambda event: None)
    for epoch, loss in enumerate((3.0, 2.0, 1.5)):
        emit({"event": "epoch", "epoch": epoch, "loss": loss, "lr": 1e-3})
    first.close()
    again = Board(tmp_path, start_epoch=1, steps_per_epoch=4, active=True)
    emit = again.wrap(lambda event: None)
    for epoch, loss in ((1, 2.5), (2, 1.9)):
        emit({"event": "epoch", "epoch": epoch, "loss": loss, "lr": 1e-3})
    again.close()
    acc = EventAccumulator(str(tmp_path / "tensorboard" / "epochs"))
    acc.Reload()
    curve = [(e.step, e.value) for e in acc.Scalars("epoch/loss")]
    assert curve == [(1, 3.0), (2, 2.5), (3, pytest.approx(1.9))]
    assert Board(tmp_path / "other", 0, 4, active=False).wrap(print) is print   # off rank 0
