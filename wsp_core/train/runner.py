"""The training runner shared by every kind of training (WSP pre-training, 3D fine-tuning).

One process or many (torchrun), CPU or GPU, resumable, stoppable. A run folder holds
``manifest.jsonl`` (the frozen training data), ``config.json`` (the resolved config and the
manifest's SHA-256), ``metrics.jsonl`` (one row per epoch), and the atomic checkpoints ``last.pt``
({kind, model, optimizer, scheduler, epoch, config, manifest_sha256, best_metric}) and ``best.pt``
(the same without optimizer and scheduler: it is evaluated, never resumed, and so is a third of
last.pt's size with Adam). Only rank 0 writes; it also keeps ``heartbeat.json`` (pid, host, time: a
killed run is recognised as dead). SIGTERM or a file named ``STOP`` in the run folder ends the
current step, saves ``last.pt`` and stops; ``--resume`` continues from ``last.pt`` (a partly done
epoch is done again, and ``metrics.jsonl`` keeps exactly one row per finished epoch).

A loss that is not finite, or more than ``EXPLODED`` times the run's first, stops the run with
:class:`TrainingDiverged` (the job is marked failed; ``last.pt`` keeps the last finite epoch), and
a checkpoint is saved only when every weight is finite. ``metrics.jsonl`` and the progress lines
are strict JSON (a non-finite number is written as null).

A :class:`Task` supplies what differs between kinds: how the manifest is made, the data, the
model, one optimisation step, and validation.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..atomic import atomic_write
from ..errors import InputError
from ..progress import finite_or_null, format_step, step_event
from ..store.db import is_server
from ..runs import metrics_rows
from .board import Board
from .checkpoint import load_checkpoint, load_weights, save_checkpoint
from .graphs import GraphedStep, graphs_usable, load_optimizer_state, make_optimizer
from ..heartbeat import Heartbeat
from .manifest import file_sha256
from .precision import describe as describe_precision

Emit = Callable[[dict[str, Any]], None]
#: A step's loss above this many times the run's first step's loss stops the run.
EXPLODED = 1000.0


class TrainingDiverged(InputError):
    """The loss became non-finite or exploded: the run stops and is marked failed."""


class LossGuard:
    """Checks every step's total loss: finite, and below EXPLODED × the first step's."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.first: float | None = None

    def __call__(self, loss: float, epoch: int, step: int) -> None:
        if math.isfinite(loss) and (self.first is None or loss <= EXPLODED * max(self.first, 1e-6)):
            self.first = loss if self.first is None else self.first
            return
        what = f"loss {loss}" if not math.isfinite(loss) else \
            f"loss {loss:.4g}, over {EXPLODED:g} × the first step's {self.first:.4g}"
        raise TrainingDiverged(self.run_dir, f"training diverged at epoch {epoch + 1}, step "
                                             f"{step + 1} ({what}); lower lr (or alpha). "
                                             "last.pt keeps the last finite epoch")


@dataclass(frozen=True)
class Task:
    """What one kind of training supplies to :func:`run_training`.

    - ``export(source, manifest_path, cfg)``: write the frozen training data, return a summary;
    - ``rows(manifest_path, cfg)``: (training rows, held-out rows);
    - ``make_loader(rows, cfg, train, world, rank)``: a DataLoader whose sampler has set_epoch;
    - ``build_model(cfg, device)``: the network (initialised as the config says);
    - ``step(model, batch, optimizer, cfg, cuda)``: one optimisation step, returns the losses as
      a tensor in ``loss_names`` order (the first is the total);
    - ``validate(model, loader, device, cfg)``: (metrics columns, score; higher is better).
    """

    kind: str
    config_cls: type
    loss_names: tuple[str, ...]
    export: Callable[..., dict[str, Any]]
    rows: Callable[..., tuple[list, list]]
    make_loader: Callable[..., DataLoader]
    build_model: Callable[..., torch.nn.Module]
    step: Callable[..., torch.Tensor]
    validate: Callable[..., tuple[dict[str, Any], float | None]]
    job_kind: str = "train"   # the command's name in the jobs table (pretrain, finetune)
    unit: str = "pairs"


class Stopper:
    """Set by SIGTERM or by a STOP file in the run folder; checked after every step."""

    def __init__(self, run_dir: Path, rank: int = 0) -> None:
        self.stop_file = run_dir / "STOP"
        self.rank = rank
        if rank == 0:
            self.stop_file.unlink(missing_ok=True)  # a leftover from a killed run asks nothing
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._on_signal) \
            if _main_thread() else None

    def _on_signal(self, *_: object) -> None:
        self.requested = True

    def __call__(self) -> bool:
        self.requested = self.requested or self.stop_file.exists()
        return self.requested

    def close(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
        if self.rank == 0:
            self.stop_file.unlink(missing_ok=True)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def distributed() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) for a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def pick_device(cfg) -> torch.device:
    """The device a config asks for ("auto": CUDA when there is one); this process's GPU."""
    kind = cfg.device
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--set device=cuda", "no CUDA device is available")
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def to_device(batch: dict[str, torch.Tensor], device: torch.device, cfg):
    """A batch on ``device``, its images channels-last where the config and device want it.
    A pre-training batch (train/data.py) comes as uint8 crops with colour factors, or as files
    and crop geometry (train/device_crops.py), and float16 heatmaps: its crops are made or
    finished, and its heatmaps widened to float32, here."""
    from .device_crops import PIXEL_KEYS, device_crops, finish_crops
    from .precision import uses_channels_last

    deferred = "pixels" in batch
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()
           if not (deferred and k in PIXEL_KEYS)}
    if deferred:
        out["image"] = device_crops(batch, cfg.input_size, device)
    if "colour" in out:
        out["image"] = finish_crops(out["image"], out.pop("colour"))
    if "heatmap" in out:
        out["heatmap"] = out["heatmap"].float()
    if out["image"].dim() == 4 and uses_channels_last(device, cfg):
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    return out


def set_train_mode(model: torch.nn.Module, bn_frozen: bool) -> None:
    model.train()
    if bn_frozen:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def _agree(flag: bool, world: int, device: torch.device) -> bool:
    """True on every process when it is true on any (so all stop at the same step)."""
    if world == 1:
        return flag
    value = torch.tensor([int(flag)], device=device)  # NCCL reduces CUDA tensors only
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _reduce_mean(values: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        dist.all_reduce(values)
        values = values / world
    return values


def _emitter(mode: str, rank: int) -> tuple[Emit, Callable[[], None]]:
    if rank != 0 or mode == "none":
        return (lambda _e: None), (lambda: None)
    if mode == "jsonl":
        def emit(event: dict[str, Any]) -> None:
            print(json_line(event), end="", flush=True)
        return emit, (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", dynamic_ncols=True)

    def emit_bar(event: dict[str, Any]) -> None:
        if event["event"] == "step":
            bar.total = event["steps"]
            bar.n = event["step"]
            bar.set_description(f"epoch {event['epoch'] + 1}")
            bar.set_postfix(format_step(event))
            bar.refresh()
        elif event["event"] == "epoch":
            bar.write(json.dumps({k: v for k, v in event.items() if k != "event"}))
    return emit_bar, bar.close


def _write_json_atomic(path: Path, data: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(finite_or_null(data), indent=2, allow_nan=False))


def _record_in_config(path: Path, key: str, value: Any) -> None:
    """Add ``key`` to a run's config.json (what the model started from, for --init)."""
    config = json.loads(path.read_text())
    config[key] = value
    _write_json_atomic(path, config)


def json_line(row: dict[str, Any]) -> str:
    """One strict JSON line (no bare NaN or Infinity: they become null)."""
    return json.dumps(finite_or_null(row), allow_nan=False, default=str) + "\n"


def _keep_metrics_before(path: Path, epoch: int) -> None:
    """On resume: keep one row per epoch already checkpointed, drop any later row (and a
    partial line left by a killed process)."""
    rows = [r for r in metrics_rows(path) if r["epoch"] < epoch]
    with atomic_write(path) as f:
        f.write("".join(json_line(r) for r in rows))


def _append_metrics(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json_line(row))
        f.flush()
        os.fsync(f.fileno())


def config_from_checkpoint(state: dict[str, Any], path: Path, task: Task):
    """The config a checkpoint of ``task``'s kind was made with; InputError for another kind."""
    if state.get("kind") != task.kind or not isinstance(state.get("config"), dict):
        raise InputError(path, f"is a {state.get('kind')!r} checkpoint, not a {task.kind} one")
    from .config import validate

    try:
        cfg = task.config_cls(**state["config"])
    except TypeError as e:
        raise InputError(path, f"its config does not fit this version of WSP Studio ({e})") from None
    try:
        validate(cfg)
    except InputError as e:
        raise InputError(path, f"its config is not valid: {e.problem}") from None
    return cfg


def load_trained(ckpt: str | os.PathLike[str], task: Task, device: str = "auto",
                 **overrides: Any) -> tuple[torch.nn.Module, Any, dict[str, Any], torch.device]:
    """(model in eval mode, config, checkpoint state, device) of a trained checkpoint of
    ``task``'s kind. ``overrides`` set config fields before the model is built (e.g. no start
    weights to load: the checkpoint's own weights replace them)."""
    state = load_checkpoint(ckpt)
    cfg = config_from_checkpoint(state, Path(ckpt), task)
    cfg.device = device
    for key, value in overrides.items():
        setattr(cfg, key, value)
    dev = pick_device(cfg)
    model = task.build_model(cfg, dev)
    load_weights(model, state["model"], Path(ckpt))
    model.eval()
    return model, cfg, state, dev


def train_one_epoch(task: Task, model, loader, optimizer, cfg, device, epoch: int, world: int,
                    emit: Emit, stop: Callable[[], bool],
                    guard: Callable[[float, int, int], None] | None = None) -> dict[str, Any]:
    """One pass over the training data; returns the epoch's mean losses and speed.
    ``guard(loss, epoch, step)`` checks every step's total loss (raises to stop the run).

    A step's losses are read back one step late, after the next step is queued: on a GPU,
    reading them at once would leave it idle while this process fetches and launches the
    next batch. Every step is still guarded, counted and logged in order."""
    set_train_mode(model, cfg.bn_frozen)
    loader.dataset.set_epoch(epoch)
    sampler = loader.batch_sampler if hasattr(loader.batch_sampler, "set_epoch") else loader.sampler
    sampler.set_epoch(epoch)
    sums = torch.zeros(len(task.loss_names), dtype=torch.float64)
    steps, samples, start = 0, 0, time.perf_counter()
    total = len(loader)

    def account(step: int, parts: torch.Tensor, batch_size: int) -> None:
        nonlocal steps, samples, sums
        parts = parts.double().cpu()
        if guard is not None:
            guard(float(parts[0]), epoch, step)  # every process sees the same reduced loss
        sums += parts
        steps += 1
        samples += batch_size * world
        elapsed = time.perf_counter() - start
        if step % cfg.log_every == 0 or step == total - 1:
            emit(step_event(epoch, step + 1, total, dict(zip(task.loss_names, parts.tolist())),
                            optimizer.param_groups[0]["lr"], samples / elapsed,
                            elapsed / (step + 1) * ((cfg.epochs - epoch) * total - step - 1)))

    pending = None
    for step, batch in enumerate(loader):
        batch = to_device(batch, device, cfg)
        parts = _reduce_mean(task.step(model, batch, optimizer, cfg, device), world)
        if pending is not None:
            account(*pending)
        pending = (step, parts, len(batch["image"]))
        if _agree(stop(), world, device):
            account(*pending)                    # a diverged last step still says so
            return {"stopped": True}
    if pending is not None:
        account(*pending)
    mean = (sums / max(steps, 1)).tolist()
    elapsed = time.perf_counter() - start
    return {"stopped": False, **dict(zip(task.loss_names, mean)), "time_s": elapsed,
            "samples_per_s": samples / max(elapsed, 1e-9)}


def prepare_run(task: Task, source, out: Path, cfg, resume: bool, rank: int,
                source_key: str = "source") -> tuple[Any, dict[str, Any] | None, str]:
    """Rank 0 exports the manifest and writes config.json (or reads them on resume)."""
    last = out / "last.pt"
    source = absolute_source(source)
    if resume:
        if not last.exists():
            raise InputError(out, "nothing to resume: no last.pt in this run folder")
        state = load_checkpoint(last)
        cfg = config_from_checkpoint(state, last, task)
        digest = file_sha256(out / "manifest.jsonl")
        if digest != state["manifest_sha256"]:
            raise InputError(out / "manifest.jsonl", "does not match the checkpoint's manifest "
                                                     "(the run folder was changed)")
        return cfg, state, digest
    if last.exists():
        raise InputError(out, "already holds a run (last.pt); use --resume, or another --out")
    if rank == 0:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(out, f"cannot create the run folder ({e.strerror})") from None
        info = task.export(source, out / "manifest.jsonl", cfg)
        _write_json_atomic(out / "config.json", {"kind": task.kind, "config": asdict(cfg),
                                                 "manifest": info, source_key: str(source)})
    if dist.is_initialized():
        dist.barrier()
    return cfg, None, file_sha256(out / "manifest.jsonl")


def absolute_source(source):
    """A run's source with an absolute path (a store, or ``FORMAT:PATH``), so config.json
    lets ``--resume`` work from any working directory."""
    if source is None or is_server(source):
        return source
    if isinstance(source, str) and ":" in source and not Path(source).exists():
        fmt, _, path = source.partition(":")
        return f"{fmt}:{Path(path).resolve()}"
    return Path(source).resolve()


def weights_finite(model: torch.nn.Module) -> bool:
    """Every parameter and buffer is finite (checked before a checkpoint is saved)."""
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values()
               if t.is_floating_point())


def run_training(task: Task, source, out: Path, cfg, resume: bool = False,
                 progress: str = "bar", store: Path | None = None,
                 source_key: str = "source") -> dict[str, Any]:
    """Run (or resume) a training of ``task``'s kind; returns the final summary. Jobs are
    recorded in ``store`` when one is given."""
    rank, world = distributed()
    device = pick_device(cfg)
    if world > 1 and not dist.is_initialized():
        # rank 0 validates alone while the others wait in the next all-reduce: allow for it
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(hours=2))
    if world > 1 and cfg.batch_size % world:
        raise InputError("batch_size", f"{cfg.batch_size} does not split evenly over {world} "
                                       "processes")
    torch.manual_seed(cfg.seed)
    cfg, state, digest = prepare_run(task, source, out, cfg, resume, rank, source_key)
    emit, close = _emitter(progress, rank)
    train_rows, val_rows = task.rows(out / "manifest.jsonl", cfg)
    if not train_rows:
        raise InputError(out / "manifest.jsonl", f"no training {task.unit} (is the data empty, "
                                                 "or everything excluded?)")
    model = task.build_model(cfg, device)
    if state is None and rank == 0 and getattr(model, "init_record", None):
        _record_in_config(out / "config.json", "init", model.init_record)
    if rank == 0:  # how this run (or this resumption of it) computes
        _record_in_config(out / "config.json", "precision", describe_precision(device, cfg))
    graphed = graphs_usable(cfg, device, world)
    optimizer = make_optimizer(model, cfg, device, graphed)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.lr_steps, cfg.lr_factor)
    start, best = 0, -math.inf
    if state is not None:
        load_weights(model, state["model"], out / "last.pt")
        load_optimizer_state(optimizer, state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, best = state["epoch"], state.get("best_metric", -math.inf)
        if rank == 0:
            _keep_metrics_before(out / "metrics.jsonl", start)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)
    if graphed:
        task = replace(task, step=GraphedStep(task.step))
    train_loader = task.make_loader(train_rows, cfg, True, world, rank)
    val_loader = task.make_loader(val_rows, cfg, False, 1, 0) if val_rows and rank == 0 else None
    stopper = Stopper(out, rank)
    guard = LossGuard(out)
    # the heartbeat first: a job row that says running always has a fresh one
    heartbeat = Heartbeat(out).start() if rank == 0 else None
    job = _job_started(store, out, task.job_kind, cfg, digest, rank) if store else None
    board = Board(out, start, len(train_loader), active=rank == 0)
    emit = board.wrap(emit)
    emit({"event": "start", "kind": task.kind, "epochs": cfg.epochs, "start_epoch": start,
          f"train_{task.unit}": len(train_rows), f"val_{task.unit}": len(val_rows),
          "world_size": world, "device": str(device),
          "precision": describe_precision(device, cfg), "manifest_sha256": digest})
    status, last_row, done = "finished", None, start
    try:
        for epoch in range(start, cfg.epochs):
            stats = train_one_epoch(task, net, train_loader, optimizer, cfg, device, epoch, world,
                                    emit, stopper, guard)
            if stats["stopped"]:
                status = "stopped"
                break
            lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
            scheduler.step()
            if not weights_finite(model):  # before validation, which non-finite outputs break
                raise TrainingDiverged(out, f"training diverged in epoch {epoch + 1}: a weight "
                                            "is no longer finite; lower lr (or alpha). last.pt "
                                            "keeps the last finite epoch")
            columns, score = task.validate(model, val_loader, device, cfg) \
                if val_loader is not None and (epoch + 1) % cfg.eval_every == 0 else ({}, None)
            if rank == 0:
                last_row = {"epoch": epoch, **{k: v for k, v in stats.items() if k != "stopped"},
                            "lr": lr, **columns}
                _append_metrics(out / "metrics.jsonl", last_row)
                # best = the task's validation score; without held-out data, the lowest loss
                metric = score if val_loader is not None else -last_row[task.loss_names[0]]
                improved = metric is not None and metric >= best
                best = max(best, metric) if metric is not None else best
                ckpt = _checkpoint(task, model, optimizer, scheduler, epoch + 1, cfg, digest, best)
                save_checkpoint(out / "last.pt", ckpt)
                if improved:
                    save_checkpoint(out / "best.pt", {k: v for k, v in ckpt.items()
                                                      if k not in ("optimizer", "scheduler")})
                emit({"event": "epoch", **last_row})
            done = epoch + 1
        if status == "stopped" and rank == 0:
            # the scheduler has stepped once per finished epoch, as it must on resume
            save_checkpoint(out / "last.pt", _checkpoint(task, model, optimizer, scheduler, done,
                                                         cfg, digest, best))
            emit({"event": "stopped", "epochs_done": done})
    except BaseException as e:
        if isinstance(e, TrainingDiverged):
            emit({"event": "done", "status": "failed", "error": str(e), "run": str(out),
                  "last": last_row, "epochs_done": done})
        if job is not None:
            try:
                _job_finished(store, job, "failed", last_row, str(e))
            except Exception:  # noqa: BLE001 - the training error matters more
                pass
        raise
    finally:
        stopper.close()
        board.close()
        close()
        if heartbeat is not None:
            heartbeat.stop()
    if job is not None:
        _job_finished(store, job, status, last_row, None)
    summary = {"event": "done", "status": status, "run": str(out), "last": last_row,
               "epochs_done": done}
    emit(summary)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def epoch_loader(dataset, cfg, train: bool, world: int, rank: int,
                 batch: int | None = None, collate_fn=None) -> DataLoader:
    """A DataLoader over ``dataset`` with the sampler every kind of training uses.

    One ``DistributedSampler`` for one process or many: its shuffled order, dealt out
    round-robin, puts the same samples in a global batch whatever the number of processes.
    A training loader's workers live for the whole run: its sampler hands each index over with
    the epoch (:class:`EpochSampler`), so the samples, and their augmentation, are those of the
    epoch asked for, as if the workers had started afresh.
    """
    from .data import worker_init

    per_rank = max(1, (batch or cfg.batch_size) // world)
    persistent = train and cfg.workers > 0
    sampler = (EpochSampler if persistent else DistributedSampler)(
        dataset, world, rank, shuffle=train, seed=cfg.seed, drop_last=False)
    return DataLoader(AtEpoch(dataset) if persistent else dataset, per_rank, sampler=sampler,
                      num_workers=cfg.workers, persistent_workers=persistent,
                      worker_init_fn=worker_init, collate_fn=collate_fn,
                      drop_last=train and len(dataset) > per_rank * world,
                      pin_memory=torch.cuda.is_available() and cfg.device != "cpu")


class EpochSampler(DistributedSampler):
    """A ``DistributedSampler`` whose indices carry the epoch they belong to: (epoch, index)."""

    def __iter__(self):
        epoch = self.epoch
        return ((epoch, index) for index in super().__iter__())


class AtEpoch(Dataset):
    """A dataset with ``set_epoch`` read at an (epoch, index) key, in whichever process the
    sample is made (a persistent worker's copy never sees the main process's ``set_epoch``);
    a plain index reads the epoch last set."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            epoch, key = key
            self.dataset.set_epoch(epoch)
        return self.dataset[key]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __getattr__(self, name: str):
        if name == "dataset":   # not yet set (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


def even_sample(rows: list, n: int) -> list:
    """``n`` rows spread evenly over ``rows`` (all of them when there are not more)."""
    if len(rows) <= n:
        return rows
    return [rows[int(k)] for k in np.linspace(0, len(rows) - 1, n)]


def _checkpoint(task: Task, model, optimizer, scheduler, epoch: int, cfg, digest: str,
                best: float) -> dict[str, Any]:
    return {"kind": task.kind, "version": 1, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": epoch, "config": asdict(cfg), "manifest_sha256": digest,
            "best_metric": float(best)}


def _job_started(store: Path, out: Path, kind: str, cfg, digest: str, rank: int) -> int | None:
    if rank != 0:
        return None
    from ..store import open_store
    from ..store.jobs import start_job

    with open_store(store, create=False) as s:
        return start_job(s, kind, asdict(cfg), out, digest)


def _job_finished(store: Path, job: int, status: str, metrics: dict | None,
                  error: str | None) -> None:
    from ..store import open_store
    from ..store.jobs import finish_job

    with open_store(store, create=False) as s:
        finish_job(s, job, status, metrics, error)
