"""WSP pre-training: one process or many (torchrun), CPU or GPU, resumable, stoppable.

A run folder holds ``manifest.jsonl`` (the frozen labels), ``config.json`` (the resolved config
and the manifest's SHA-256), ``metrics.jsonl`` (one row per epoch), and the atomic checkpoints
``last.pt`` and ``best.pt`` ({model, optimizer, scheduler, epoch, config, manifest_sha256, …}).
Only rank 0 writes. SIGTERM or a file named ``STOP`` in the run folder ends the current step,
saves ``last.pt`` and stops; ``--resume`` continues from ``last.pt`` (a partly done epoch is done
again, and ``metrics.jsonl`` keeps exactly one row per finished epoch).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from ..atomic import atomic_write
from ..errors import InputError
from ..evaluate.metrics import rd_scores
from .checkpoint import load_checkpoint, save_checkpoint
from .config import PretrainConfig
from .data import PRETRAIN_JOINTS, PairDataset, check_images, worker_init
from .manifest import export_manifest, file_sha256, read_manifest

Emit = Callable[[dict[str, Any]], None]
#: RD protocol 1: cumulative subsets by scale gap.
DELTA_S_SUBSETS = (1.0, 0.5, 0.3, 0.1)


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


def pick_device(cfg: PretrainConfig) -> torch.device:
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


def build_model(cfg: PretrainConfig, device: torch.device) -> torch.nn.Module:
    from ..models.wsp import WSPNet

    model = WSPNet(cfg.backbone, len(PRETRAIN_JOINTS), cfg.head_channels, cfg.rd_hidden,
                   cfg.backbone_weights).to(device)
    if device.type == "cuda" and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def make_loader(rows, cfg: PretrainConfig, train: bool, world: int, rank: int,
                ankles_removed: bool = False, batch: int | None = None) -> DataLoader:
    dataset = PairDataset(rows, cfg.input_size, cfg.sampled_joints, cfg.sigma,
                          augment=train and cfg.augment,
                          aug={"scale": cfg.aug_scale, "rotation": cfg.aug_rotation,
                               "flip": cfg.aug_flip, "colour": cfg.aug_colour},
                          seed=cfg.seed, ankles_removed=ankles_removed)
    per_rank = max(1, (batch or cfg.batch_size) // world)
    # the same sampler for one process or many: its shuffled order, dealt out round-robin, puts
    # the same pairs in a global batch whatever the number of processes
    sampler = DistributedSampler(dataset, world, rank, shuffle=train, seed=cfg.seed,
                                 drop_last=False)
    # workers are not persistent: each epoch's workers copy the dataset after set_epoch(), so
    # augmentation changes from epoch to epoch
    return DataLoader(dataset, per_rank, sampler=sampler, num_workers=cfg.workers,
                      worker_init_fn=worker_init,
                      drop_last=train and len(dataset) > per_rank * world,
                      pin_memory=torch.cuda.is_available() and cfg.device != "cpu")


def to_device(batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool):
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if channels_last and device.type == "cuda":
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


def training_step(model, batch: dict[str, torch.Tensor], optimizer, cfg: PretrainConfig,
                  cuda: bool) -> torch.Tensor:
    """One optimisation step on a batch already on the device; returns (loss, L_hm, L_rd)."""
    from ..models.wsp import wsp_loss

    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
        heat, logits = model(batch["image"], batch["boxes"], batch["joints"])
    loss, l_hm, l_rd = wsp_loss(heat, logits, batch, cfg.alpha)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return torch.stack([loss.detach(), l_hm.detach(), l_rd.detach()]).float()


def train_one_epoch(model, loader, optimizer, cfg: PretrainConfig, device, epoch: int,
                    world: int, emit: Emit, stop: Callable[[], bool]) -> dict[str, Any]:
    """One pass over the training pairs; returns the epoch's mean losses and speed."""
    set_train_mode(model, cfg.bn_frozen)
    loader.dataset.set_epoch(epoch)
    loader.sampler.set_epoch(epoch)
    sums = torch.zeros(3, dtype=torch.float64)
    steps, samples, start = 0, 0, time.perf_counter()
    total = len(loader)
    cuda = device.type == "cuda"
    for step, batch in enumerate(loader):
        batch = to_device(batch, device, cfg.channels_last)
        parts = _reduce_mean(training_step(model, batch, optimizer, cfg, cuda), world).double().cpu()
        sums += parts
        steps += 1
        samples += len(batch["label"]) * world
        elapsed = time.perf_counter() - start
        if step % cfg.log_every == 0 or step == total - 1:
            emit({"event": "step", "epoch": epoch, "step": step + 1, "steps": total,
                  "loss": float(parts[0]), "loss_hm": float(parts[1]), "loss_rd": float(parts[2]),
                  "lr": optimizer.param_groups[0]["lr"], "samples_per_s": samples / elapsed,
                  "eta_s": elapsed / (step + 1) * ((cfg.epochs - epoch) * total - step - 1)})
        if _agree(stop(), world, device):
            return {"stopped": True}
    mean = (sums / max(steps, 1)).tolist()
    elapsed = time.perf_counter() - start
    return {"stopped": False, "loss": mean[0], "loss_hm": mean[1], "loss_rd": mean[2],
            "time_s": elapsed, "samples_per_s": samples / max(elapsed, 1e-9)}


@torch.inference_mode()
def predict(model, loader, device, cfg: PretrainConfig) -> dict[str, np.ndarray]:
    """Probabilities that A is closer for every (pair, joint the source annotates)."""
    model.eval()
    out: dict[str, list] = {k: [] for k in ("prob", "label", "truth", "delta_s", "pair_id", "present")}
    cuda = device.type == "cuda"
    for batch in loader:
        batch = to_device(batch, device, cfg.channels_last)
        joints = torch.arange(len(PRETRAIN_JOINTS), device=device).expand(len(batch["label"]), -1)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
            _, logits = model(batch["image"], batch["boxes"], joints)
        out["prob"].append(torch.sigmoid(logits.float()).cpu().numpy())
        for key in ("label", "truth", "delta_s", "pair_id", "present"):
            out[key].append(batch[key].cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def rd_summary(pred: dict[str, np.ndarray]) -> dict[str, Any]:
    """RD scores on every (pair, joint), per ΔS subset (protocol 1), and against 3D truth."""
    if len(pred["prob"]) == 0:
        return {"subsets": {}, "pairs": 0}
    present = pred["present"].astype(bool)
    rows = {}
    for limit in DELTA_S_SUBSETS:
        keep = np.nan_to_num(pred["delta_s"], nan=2.0) <= limit
        mask = present & keep[:, None]
        labels = np.broadcast_to(pred["label"][:, None], present.shape)[mask]
        rows[f"<= {limit}"] = {"pairs": int(keep.sum()), **rd_scores(labels, pred["prob"][mask])}
    truth_known = pred["truth"] >= 0
    truth = None
    if truth_known.any():
        mask = present & truth_known[:, None]
        t = np.broadcast_to(pred["truth"][:, None], present.shape)[mask]
        lab = np.broadcast_to(pred["label"][:, None], present.shape)[mask]
        hit = (pred["prob"][mask] >= 0.5).astype(int)
        truth = {"pairs": int(truth_known.sum()), "accuracy_vs_truth": float((hit == t).mean()),
                 "accuracy_vs_labels": float((hit == lab).mean()),
                 "labels_vs_truth": float((lab == t).mean())}
    return {"pairs": int(len(pred["prob"])), "subsets": rows, "truth": truth}


def _emitter(mode: str, rank: int) -> tuple[Emit, Callable[[], None]]:
    if rank != 0 or mode == "none":
        return (lambda _e: None), (lambda: None)
    if mode == "jsonl":
        def emit(event: dict[str, Any]) -> None:
            print(json.dumps(event), flush=True)
        return emit, (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", dynamic_ncols=True)

    def emit_bar(event: dict[str, Any]) -> None:
        if event["event"] == "step":
            bar.total = event["steps"]
            bar.n = event["step"]
            bar.set_description(f"epoch {event['epoch'] + 1}")
            bar.set_postfix(loss=f"{event['loss']:.4f}", rd=f"{event['loss_rd']:.3f}")
            bar.refresh()
        elif event["event"] == "epoch":
            bar.write(json.dumps({k: v for k, v in event.items() if k != "event"}))
    return emit_bar, bar.close


def _write_json_atomic(path: Path, data: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(data, indent=2))


def _metrics_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _keep_metrics_before(path: Path, epoch: int) -> None:
    """On resume: keep one row per epoch already checkpointed, drop any later row."""
    rows = [r for r in _metrics_rows(path) if r["epoch"] < epoch]
    with atomic_write(path) as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))


def _append_metrics(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def config_from_checkpoint(state: dict[str, Any], path: Path) -> PretrainConfig:
    """The config a WSP pre-training checkpoint was made with; InputError for another kind."""
    if state.get("kind") != "wsp-pretrain" or not isinstance(state.get("config"), dict):
        raise InputError(path, f"is a {state.get('kind')!r} checkpoint, not a WSP pre-training one")
    try:
        return PretrainConfig(**state["config"])
    except TypeError as e:
        raise InputError(path, f"its config does not fit this version of WSP Studio ({e})") from None


def prepare_run(db: Path | None, out: Path, cfg: PretrainConfig, resume: bool,
                rank: int) -> tuple[PretrainConfig, dict[str, Any] | None, str]:
    """Rank 0 exports the manifest and writes config.json (or reads them on resume)."""
    last = out / "last.pt"
    if resume:
        if not last.exists():
            raise InputError(out, "nothing to resume: no last.pt in this run folder")
        state = load_checkpoint(last)
        cfg = config_from_checkpoint(state, last)
        digest = file_sha256(out / "manifest.jsonl")
        if digest != state["manifest_sha256"]:
            raise InputError(out / "manifest.jsonl", "does not match the checkpoint's manifest "
                                                     "(the run folder was changed)")
        return cfg, state, digest
    if last.exists():
        raise InputError(out, "already holds a run (last.pt); use --resume, or another --out")
    if rank == 0:
        from ..store import open_store

        if db is None:
            raise InputError("--db", "a store is needed to start a run")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(out, f"cannot create the run folder ({e.strerror})") from None
        with open_store(db, create=False) as store:
            info = export_manifest(store, out / "manifest.jsonl", cfg.val_fraction)
        _write_json_atomic(out / "config.json", {"config": asdict(cfg), "manifest": info,
                                                 "db": str(Path(db).resolve())})
    if dist.is_initialized():
        dist.barrier()
    return cfg, None, file_sha256(out / "manifest.jsonl")


def pretrain(db: Path | None, out: Path, cfg: PretrainConfig, resume: bool = False,
             progress: str = "bar") -> dict[str, Any]:
    """Run (or resume) WSP pre-training; returns the final summary."""
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
    cfg, state, digest = prepare_run(db, out, cfg, resume, rank)
    emit, close = _emitter(progress, rank)
    rows = read_manifest(out / "manifest.jsonl")
    train_rows = [r for r in rows if r["split"] == "train"]
    val_rows = [r for r in rows if r["split"] == "val"]
    if cfg.max_pairs:  # an even sample: max_pairs for training, a quarter as many held out
        train_rows = _even_sample(train_rows, cfg.max_pairs)
        val_rows = _even_sample(val_rows, max(2, cfg.max_pairs // 4))
        rows = train_rows + val_rows
    if not train_rows:
        raise InputError(out / "manifest.jsonl", "no training pair (is the store empty, or every "
                                                 "pair excluded?)")
    check_images(rows)
    model = build_model(cfg, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.lr_steps, cfg.lr_factor)
    start, best = 0, -math.inf
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
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
    train_loader = make_loader(train_rows, cfg, True, world, rank)
    val_loader = make_loader(val_rows, cfg, False, 1, 0) if val_rows and rank == 0 else None
    stopper = Stopper(out, rank)
    job = _job_started(db, out, cfg, digest, rank) if db else None
    emit({"event": "start", "epochs": cfg.epochs, "start_epoch": start, "train_pairs": len(train_rows),
          "val_pairs": len(val_rows), "world_size": world, "device": str(device),
          "manifest_sha256": digest})
    status, last_row, done = "finished", None, start
    try:
        for epoch in range(start, cfg.epochs):
            stats = train_one_epoch(net, train_loader, optimizer, cfg, device, epoch, world, emit,
                                    stopper)
            if stats["stopped"]:
                status = "stopped"
                break
            lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
            scheduler.step()
            val = rd_summary(predict(model, val_loader, device, cfg)) \
                if val_loader is not None and (epoch + 1) % cfg.eval_every == 0 else None
            if rank == 0:
                last_row = {"epoch": epoch, **{k: v for k, v in stats.items() if k != "stopped"},
                            "lr": lr, **_val_columns(val)}
                _append_metrics(out / "metrics.jsonl", last_row)
                # best = highest validation AUC; without held-out pairs, lowest training loss
                metric = last_row.get("val_auc") if val_loader is not None else -last_row["loss"]
                improved = metric is not None and metric >= best
                best = max(best, metric) if metric is not None else best
                ckpt = _checkpoint(model, optimizer, scheduler, epoch + 1, cfg, digest, best)
                save_checkpoint(out / "last.pt", ckpt)
                if improved:
                    save_checkpoint(out / "best.pt", ckpt)
                emit({"event": "epoch", **last_row})
            done = epoch + 1
        if status == "stopped" and rank == 0:
            # the scheduler has stepped once per finished epoch, as it must on resume
            save_checkpoint(out / "last.pt", _checkpoint(model, optimizer, scheduler, done, cfg,
                                                         digest, best))
            emit({"event": "stopped", "epochs_done": done})
    except BaseException as e:
        if job is not None:
            try:
                _job_finished(db, job, "failed", last_row, str(e))
            except Exception:  # noqa: BLE001 - the training error matters more
                pass
        raise
    finally:
        stopper.close()
        close()
    if job is not None:
        _job_finished(db, job, status, last_row, None)
    summary = {"event": "done", "status": status, "run": str(out), "last": last_row,
               "epochs_done": done}
    emit(summary)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def _even_sample(rows: list, n: int) -> list:
    if len(rows) <= n:
        return rows
    return [rows[int(k)] for k in np.linspace(0, len(rows) - 1, n)]


def _val_columns(val: dict[str, Any] | None) -> dict[str, Any]:
    if not val or not val.get("subsets"):
        return {}
    top = val["subsets"]["<= 1.0"]
    cols = {"val_auc": top["auc"], "val_accuracy": top["accuracy"], "val_f1": top["f1"],
            "val_auc_ds_0.1": val["subsets"]["<= 0.1"]["auc"]}
    if val.get("truth"):
        cols["val_accuracy_vs_truth"] = val["truth"]["accuracy_vs_truth"]
    return cols


def _checkpoint(model, optimizer, scheduler, epoch: int, cfg: PretrainConfig, digest: str,
                best: float) -> dict[str, Any]:
    return {"kind": "wsp-pretrain", "version": 1, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": epoch, "config": asdict(cfg), "manifest_sha256": digest,
            "best_metric": float(best), "joints": list(PRETRAIN_JOINTS)}


def _job_started(db: Path, out: Path, cfg: PretrainConfig, digest: str, rank: int) -> int | None:
    if rank != 0:
        return None
    from ..store import open_store
    from ..store.jobs import start_job

    with open_store(db, create=False) as store:
        return start_job(store, "pretrain", asdict(cfg), out, digest)


def _job_finished(db: Path, job: int, status: str, metrics: dict | None, error: str | None) -> None:
    from ..store import open_store
    from ..store.jobs import finish_job

    with open_store(db, create=False) as store:
        finish_job(store, job, status, metrics, error)
