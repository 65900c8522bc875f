"""A training step captured once as a CUDA graph and replayed (``cuda_graph``, ADR 0028).

An eager step is many hundreds of kernels launched one by one from the training process's
Python thread, the thread that also receives every batch from the loader's workers: while it
launches, the next batch waits, and while it waits for a batch, the GPU runs dry. Captured as one
CUDA graph (forward, losses, backward and the optimiser's update, as PyTorch's "whole-network
capture" recipe does it), a step is queued with one call. On one H200 that took the `paper`
pre-training from 1,640 to 2,422 crops/s, though a step whose batch is already in memory is only
5 % faster (docs/BENCHMARKS.md).

The step computes what the eager step computes, on the same batches in the same order: the first
``warmup`` steps run eagerly on a side stream (cuDNN's autotuning, the optimiser's state and
autograd's buffers are made there); the next batch is captured and then replayed, and each later
batch is copied into the captured inputs and replayed. A batch of another shape (a smaller last
batch), and every step when the device is not CUDA, runs eagerly. The optimiser's learning rate
is part of the captured update, so a new rate (the schedule's step) is captured again. The
optimiser must be ``capturable`` (:func:`make_optimizer`).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import torch

Step = Callable[..., torch.Tensor]


def make_optimizer(model: torch.nn.Module, cfg, device: torch.device,
                   graphed: bool = False) -> torch.optim.Adam:
    """The paper's Adam; on CUDA its fused implementation (one kernel for all parameters, the
    same update to float rounding), capturable when the step is a CUDA graph."""
    cuda = device.type == "cuda"
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            fused=True if cuda else None, capturable=cuda and graphed)


#: The optimiser's settings that say how it computes, not what: this run's, never a checkpoint's.
_IMPLEMENTATION = ("fused", "foreach", "capturable")


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Resume an optimiser's state. How the saving run computed its update (fused, capturable:
    a GPU's) is replaced by how this one does (a CPU cannot run a capturable Adam)."""
    groups = [{**group, **{k: own[k] for k in _IMPLEMENTATION if k in own}}
              for group, own in zip(saved["param_groups"], optimizer.param_groups)]
    optimizer.load_state_dict({**saved, "param_groups": groups})


def graphs_usable(cfg, device: torch.device, world: int) -> bool:
    """Whether the training step is captured: asked for, on CUDA, one process, not compiled."""
    return bool(cfg.cuda_graph) and device.type == "cuda" and world == 1 and not cfg.compile


class GraphedStep:
    """``step(model, batch, optimizer, cfg, device)`` captured as a CUDA graph after ``warmup``
    eager steps; called as the step itself, it returns a copy of the step's losses."""

    def __init__(self, step: Step, warmup: int = 3) -> None:
        self.step = step
        self.warmup = warmup
        self.eager_steps = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: dict[str, torch.Tensor] | None = None
        self.losses: torch.Tensor | None = None
        self.lrs: list[float] | None = None
        self.failed: str | None = None   # why capture failed; every step is then eager
        self.captures = 0

    def __call__(self, model, batch: dict[str, torch.Tensor], optimizer, cfg,
                 device: torch.device) -> torch.Tensor:
        if device.type != "cuda" or self.failed:
            return self.step(model, batch, optimizer, cfg, device)
        if self.eager_steps < self.warmup:
            self.eager_steps += 1
            return self._side_stream(model, batch, optimizer, cfg, device)
        if self.inputs is not None and not self._fits(batch):
            return self.step(model, batch, optimizer, cfg, device)
        lrs = [group["lr"] for group in optimizer.param_groups]
        if self.graph is None or lrs != self.lrs:
            if not self._capture(model, batch, optimizer, cfg, device, lrs):
                return self._side_stream(model, batch, optimizer, cfg, device)
        else:
            self._copy_in(batch)
        self.graph.replay()
        return self.losses.clone()   # the next replay overwrites the captured output

    def _side_stream(self, model, batch, optimizer, cfg, device) -> torch.Tensor:
        """An eager step on a side stream, as capture's warm-up must run."""
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            losses = self.step(model, batch, optimizer, cfg, device)
        torch.cuda.current_stream(device).wait_stream(stream)
        return losses

    def _copy_in(self, batch: dict[str, torch.Tensor]) -> None:
        """The batch into the captured inputs (on the stream the replay runs on)."""
        for key, value in self.inputs.items():
            value.copy_(batch[key], non_blocking=True)

    def _fits(self, batch: dict[str, torch.Tensor]) -> bool:
        return all(key in batch and batch[key].shape == value.shape
                   and batch[key].dtype == value.dtype for key, value in self.inputs.items())

    def _capture(self, model, batch, optimizer, cfg, device, lrs: list[float]) -> bool:
        """Capture the step on ``batch`` (nothing runs yet: replaying it does); False, with
        one line saying why, if this step cannot be captured (then every step stays eager)."""
        if self.inputs is None:
            self.inputs = {k: v.clone() for k, v in batch.items() if isinstance(v, torch.Tensor)
                           and v.device.type == "cuda"}
        else:
            self._copy_in(batch)
        self.graph = None
        torch.cuda.synchronize(device)
        optimizer.zero_grad(set_to_none=True)   # the gradients then live in the graph's memory
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.current_stream(device)
        try:
            # thread_local: the loader's pin-memory thread may use CUDA while this one captures
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.losses = self.step(model, self.inputs, optimizer, cfg, device)
        except RuntimeError as e:
            # ending a broken capture raises again and leaves the capture stream current: the
            # first error is the reason, and this thread goes back to its own stream
            torch.cuda.set_stream(stream)
            cause = e.__context__ if isinstance(e.__context__, RuntimeError) else e
            self.failed = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            print(f"cuda_graph: the training step cannot be captured ({self.failed}); "
                  "every step runs eagerly", file=sys.stderr)
            self.inputs = self.losses = None
            return False
        self.graph, self.lrs = graph, lrs
        self.captures += 1
        return True
