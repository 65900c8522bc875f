"""Where the networks run in bf16 and channels-last: CUDA devices, and CPUs with bf16 arithmetic.

``bf16`` (a config switch, on by default) runs the forward passes under bf16 autocast where the
device computes bf16 natively: every CUDA device this project targets, and x86 CPUs whose flags
name ``avx512_bf16`` or ``amx_bf16`` (oneDNN then uses them; on this project's 2-core EPYC a
ResNet step is ~1.8× faster, docs/BENCHMARKS.md). Elsewhere (older CPUs, where bf16 would be
emulated and slower) it is fp32. ``channels_last`` follows the same rule: it is what oneDNN's and
cuDNN's bf16 convolutions want. Losses are always computed in fp32 (the losses cast up).

``WSP_CPU_BF16=0`` (or ``1``) overrides the CPU detection, e.g. to compare on one machine.
"""

from __future__ import annotations

import functools
import os
from contextlib import AbstractContextManager

import torch

#: CPU flags (Linux /proc/cpuinfo) that mean native bf16 matrix arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (``WSP_CPU_BF16`` overrides the detection)."""
    forced = os.environ.get("WSP_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in BF16_CPU_FLAGS)
    except OSError:
        pass
    return False


def uses_bf16(device: torch.device, cfg) -> bool:
    """Whether the forward passes on ``device`` run under bf16 autocast."""
    if not cfg.bf16:
        return False
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())


def uses_channels_last(device: torch.device, cfg) -> bool:
    """Whether images and weights on ``device`` are kept channels-last."""
    return bool(cfg.channels_last) and (device.type == "cuda" or uses_bf16(device, cfg))


def autocast(device: torch.device, cfg) -> AbstractContextManager:
    """bf16 autocast where :func:`uses_bf16`, else a context that changes nothing. Its cache
    of cast weights is off, as a CUDA graph's capture needs (train/graphs.py): these networks
    use each weight once a pass, so the cache saves nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, cfg),
                          cache_enabled=False)


def place_model(model: torch.nn.Module, device: torch.device, cfg) -> torch.nn.Module:
    """The model on ``device``, channels-last where :func:`uses_channels_last`. On CUDA, cuDNN
    times its convolution algorithms once per shape and keeps the fastest (a run's crops have
    one size)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = model.to(device)
    if uses_channels_last(device, cfg):
        model = model.to(memory_format=torch.channels_last)
    return model


def describe(device: torch.device, cfg) -> str:
    """How the networks compute on ``device``, as runs print and record it."""
    if uses_bf16(device, cfg):
        return "bf16 autocast" + (", channels-last" if uses_channels_last(device, cfg) else "")
    why = "" if not cfg.bf16 or device.type != "cpu" else " (this CPU has no native bf16)"
    return "fp32" + why
