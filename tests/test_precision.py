"""bf16 autocast and channels-last where the device computes bf16 natively (train/precision.py),
fp32 elsewhere; a fixed short run's loss curve in bf16 follows fp32's."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from helpers import synth_store
from wsp_core.train import precision
from wsp_core.train.config import PretrainConfig, load_config


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Set the CPU detection's answer (``WSP_CPU_BF16``) for one test."""
    def force(value: bool):
        monkeypatch.setenv("WSP_CPU_BF16", "1" if value else "0")
        precision.cpu_has_bf16.cache_clear()
    yield force
    precision.cpu_has_bf16.cache_clear()


def test_bf16_only_where_the_cpu_has_it_and_the_config_asks(cpu_bf16):
    cpu = torch.device("cpu")
    cfg = load_config(PretrainConfig, "smoke")
    cpu_bf16(False)
    assert not precision.uses_bf16(cpu, cfg) and not precision.uses_channels_last(cpu, cfg)
    assert "no native bf16" in precision.describe(cpu, cfg)
    with precision.autocast(cpu, cfg):
        assert torch.nn.Linear(4, 4)(torch.ones(1, 4)).dtype == torch.float32
    cpu_bf16(True)
    assert precision.uses_bf16(cpu, cfg) and precision.uses_channels_last(cpu, cfg)
    with precision.autocast(cpu, cfg):
        assert torch.nn.Linear(4, 4)(torch.ones(1, 4)).dtype == torch.bfloat16
    model = precision.place_model(torch.nn.Conv2d(3, 8, 3), cpu, cfg)
    assert model.weight.is_contiguous(memory_format=torch.channels_last)
    cfg.bf16 = False
    assert not precision.uses_bf16(cpu, cfg) and precision.describe(cpu, cfg) == "fp32"


def test_cpu_detection_reads_the_cpu_flags(monkeypatch):
    monkeypatch.delenv("WSP_CPU_BF16", raising=False)
    precision.cpu_has_bf16.cache_clear()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    expected = any(f in flags.split() for f in precision.BF16_CPU_FLAGS)
    assert precision.cpu_has_bf16() == expected
    precision.cpu_has_bf16.cache_clear()


def test_a_bf16_run_follows_the_fp32_loss_curve(tmp_path):
    """The same seed, data and schedule in fp32 and bf16: every logged step's loss agrees within
    bf16's noise (and the run records how it computed)."""
    db = synth_store(tmp_path, 8, seed=3)
    curves = {}
    for name, flag in (("fp32", "0"), ("bf16", "1")):
        run = tmp_path / name
        sets = ("epochs=2", "epoch_pairs=all", "log_every=1", "workers=0")
        out = run_cli("pretrain", "--db", db, "--out", run, "--preset", "smoke",
                      *(x for s in sets for x in ("--set", s)), "--progress", "jsonl",
                      env={"WSP_CPU_BF16": flag}).stdout
        events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        curves[name] = [e["loss"] for e in events if e.get("event") == "step"]
        assert json.loads((run / "config.json").read_text())["precision"].startswith(name)
    fp32, bf16 = torch.tensor(curves["fp32"]), torch.tensor(curves["bf16"])
    assert len(fp32) == len(bf16) >= 4
    assert ((bf16 - fp32).abs() <= 0.05 * fp32.abs() + 0.05).all(), (fp32, bf16)
