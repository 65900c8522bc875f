"""3D fine-tuning: PoseNet's head on a backbone from WSP pre-training (or from scratch: the
PoseNet baseline), trained with integral regression on single-person 3D samples.

Data: ``FORMAT:PATH`` with FORMAT one of ``synth`` (a synthetic world folder: its ``single/``
set), ``h36m-npz`` (mmpose's npz; images in ``images/`` beside it), ``h36m`` (the 3DMPPE JSON
annotation folder; images in ``../images``), or a multi-person 3D set whose every person is a
sample: ``synth-scenes`` (a world's ``scenes.json``), ``muco`` / ``mupots`` (3DMPPE JSON files;
images beside them). On multi-person sets eval-3d adds 3DPCK All/Matched. The manifest lists every sample with its split by
the config's protocol (docs/TRAINING.md).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..atomic import atomic_write
from ..errors import InputError
from ..evaluate.metrics import axis_errors, mpjpe, pa_mpjpe, per_action, root_align
from ..evaluate.protocols import protocol_split
from ..skeleton import H36M
from .config import FinetuneConfig
from .data import MEAN, STD, crop_affine, worker_init
from .manifest import read_manifest
from .runner import Task, epoch_loader, even_sample, run_training, to_device

DATA_FORMATS = ("synth", "h36m-npz", "h36m", "synth-scenes", "muco", "mupots")
ROOT = H36M.index("pelvis")
FLIP = np.array([H36M.canonical.index(n.replace("l_", "r_", 1) if n.startswith("l_") else
                                      n.replace("r_", "l_", 1) if n.startswith("r_") else n)
                 for n in H36M.canonical])
DEPTH_RANGE_MM = 2000.0


def read_3d_source(spec: str):
    """(Pose3DSet, image folder) of ``FORMAT:PATH``."""
    from ..formats.h36m import read_h36m_json, read_h36m_npz

    fmt, sep, path = spec.partition(":")
    if not sep or fmt not in DATA_FORMATS:
        raise InputError(spec, f"expected FORMAT:PATH with FORMAT one of {', '.join(DATA_FORMATS)}")
    path = Path(path)
    if fmt == "synth":
        return read_h36m_npz(path / "single" / "annotations.npz"), path / "single" / "images"
    if fmt == "h36m-npz":
        return read_h36m_npz(path), path.parent / "images"
    if fmt == "h36m":
        return read_h36m_json(path), path.parent / "images"
    if fmt == "synth-scenes":
        return multi_person_set("synth", path / "scenes.json", path), path
    return multi_person_set(fmt, path, path.parent), path.parent


def multi_person_set(fmt: str, ann: Path, images: Path):
    """Every person of a multi-person 3D source (MuCo, MuPoTS, the synthetic scenes) as a
    sample in Human3.6M's joint order; joints the source lacks are marked not visible."""
    from ..formats import read_source
    from ..formats.h36m import Pose3DSet
    from ..skeleton import to_canonical

    data = read_source(fmt, ann, images)
    cam = np.concatenate([data.keypoints_cam, np.ones(data.keypoints_cam.shape[:2] + (1,))], -1)
    cam = to_canonical(cam, data.joint_set, names=H36M.canonical)
    img = to_canonical(data.keypoints, data.joint_set, names=H36M.canonical)
    intr = data.image_intrinsics
    f = np.array([intr[i]["f"] for i in data.person_image]).reshape(-1, 2)
    c = np.array([intr[i]["c"] for i in data.person_image]).reshape(-1, 2)
    extra = [e or {} for e in data.person_extra]
    keep = (cam[:, ROOT, 3] > 0) & (cam[:, ROOT, 2] > 0)
    names = [data.image_files[i] for i in data.person_image]
    sel = np.flatnonzero(keep)
    return Pose3DSet([names[k] for k in sel], cam[sel, :, :3], img[sel, :, :2],
                     (img[sel, :, 2] > 0) & (cam[sel, :, 3] > 0), f[sel], c[sel], data.bbox[sel],
                     np.array([int(extra[k].get("subject", 0)) for k in sel], dtype=int),
                     [str(extra[k].get("action", "all")) for k in sel])


def export_samples(spec: str, path: Path, cfg: FinetuneConfig) -> dict[str, Any]:
    """Write the fine-tuning manifest: every sample with its split under the protocol."""
    data, images = read_3d_source(spec)
    if cfg.protocol == "all":
        test = np.array([zlib.crc32(n.encode()) % 10_000 < cfg.val_fraction * 10_000
                         for n in data.images], dtype=bool)
        train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
    elif cfg.protocol == "custom":
        train_idx, test_idx = custom_split(data.subjects, data.actions, cfg)
    else:
        try:
            train_idx, test_idx, _ = protocol_split(data.subjects, data.actions, cfg.protocol,
                                                    cfg.action)
        except ValueError as e:
            raise InputError(spec, str(e)) from None
    split = np.full(len(data), "", dtype=object)
    split[train_idx], split[test_idx] = "train", "val"
    counts = {"train": int(len(train_idx)), "val": int(len(test_idx))}
    with atomic_write(path) as f:
        for k in range(len(data)):
            if not split[k]:
                continue
            f.write(json.dumps({
                "sample_id": k, "image": str(images / data.images[k]), "split": split[k],
                "box": data.boxes[k].round(3).tolist(), "joints_img": data.joints_img[k].round(3).tolist(),
                "joints_cam": data.joints_cam[k].round(2).tolist(),
                "visible": data.visible[k].tolist(), "f": data.f[k].tolist(), "c": data.c[k].tolist(),
                "subject": int(data.subjects[k]), "action": data.actions[k]},
                separators=(",", ":")) + "\n")
        if cfg.mts_db:
            counts["train_2d"] = _write_2d_rows(Path(cfg.mts_db), f)
    return {"source": spec, "protocol": cfg.protocol, **counts}


#: Sample ids of 2D (MTS) rows start here, so they never meet a 3D sample's id.
ID_2D = 1_000_000_000


def _write_2d_rows(db: Path, f) -> int:
    """MTS: every MCPC person of the store as a 2D sample (Human3.6M joints it has, no depth)."""
    from sqlalchemy import select

    from ..skeleton import FORMAT_JOINT_SETS, to_canonical
    from ..store import open_store
    from ..store.models import Image, Person, Source

    count = 0
    with open_store(db, create=False) as store, store.read() as session:
        query = (select(Person, Image.file_name, Source.images_dir, Source.format)
                 .join(Image, Image.id == Person.image_id)
                 .join(Source, Source.id == Image.source_id).where(Person.mcpc == 1))
        for person, file_name, images_dir, fmt in session.execute(query):
            kp = to_canonical(np.asarray(person.keypoints, dtype=np.float64),
                              FORMAT_JOINT_SETS[fmt], names=H36M.canonical)
            if (kp[:, 2] > 0).sum() < 6:
                continue
            f.write(json.dumps({
                "sample_id": ID_2D + person.id, "kind": "2d", "split": "train",
                "image": str(Path(images_dir) / file_name),
                "box": [person.bbox_x, person.bbox_y, person.bbox_w, person.bbox_h],
                "joints_img": np.round(kp[:, :2], 2).tolist(), "visible": (kp[:, 2] > 0).tolist(),
                "action": "2d"}, separators=(",", ":")) + "\n")
            count += 1
    return count


def _ints(text: str) -> set[int]:
    return {int(v) for v in text.split(",") if v.strip()}


def custom_split(subjects, actions, cfg: FinetuneConfig) -> tuple[np.ndarray, np.ndarray]:
    """Protocol ``custom``: train on ``train_subjects`` (only ``train_actions`` when given), test
    on every action of ``test_subjects`` — e.g. a narrow 3D training set and a wide test set."""
    subjects, actions = np.asarray(subjects), np.asarray(actions)
    wanted = {a.strip() for a in cfg.train_actions.split(",") if a.strip()}
    train = np.isin(subjects, list(_ints(cfg.train_subjects)))
    if wanted:
        train &= np.isin(actions, list(wanted))
    test = np.isin(subjects, list(_ints(cfg.test_subjects))) & ~train
    return np.flatnonzero(train), np.flatnonzero(test)


def targets(joints_img: np.ndarray, joints_cam: np.ndarray | None, visible: np.ndarray,
            m: np.ndarray, input_size: int, depth_bins: int,
            flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """PoseNet's targets (J, 3) in heatmap pixels and depth bins, and their weights (J, 3).

    x, y: the joints through the crop affine ``m``, then (px + 0.5) / 4 − 0.5; z: the depth
    relative to the root, ±1000 mm mapped onto bins 0 … D − 1. A joint outside the crop or the
    depth range gets weight 0. Without ``joints_cam`` (a 2D sample, MTS) z has weight 0.
    """
    hm = input_size // 4
    xy = joints_img @ m[:, :2].T + m[:, 2]
    if flip:
        xy[:, 0] = input_size - 1 - xy[:, 0]
    xy = (xy + 0.5) / 4.0 - 0.5
    if joints_cam is None:
        z = np.zeros(len(xy))
        has_z = np.zeros(len(xy), dtype=bool)
    else:
        z = ((joints_cam[:, 2] - joints_cam[ROOT, 2]) / DEPTH_RANGE_MM + 0.5) * (depth_bins - 1)
        has_z = (z >= 0) & (z <= depth_bins - 1)
    target = np.concatenate([xy, z[:, None]], 1)
    in_xy = visible & (xy >= 0).all(1) & (xy <= hm - 1).all(1)
    weight = np.stack([in_xy, in_xy, in_xy & has_z], 1)
    if joints_cam is not None:  # a 3D sample counts a joint only with all three coordinates
        weight &= weight[:, 2:3]
    if flip:
        target, weight = target[FLIP], weight[FLIP]
    return target.astype(np.float32), weight.astype(np.float32)


class Pose3DDataset(Dataset):
    def __init__(self, rows: list[dict[str, Any]], cfg: FinetuneConfig, train: bool) -> None:
        self.rows, self.cfg, self.train = rows, cfg, train and cfg.augment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row, cfg = self.rows[index], self.cfg
        rng = np.random.default_rng([cfg.seed, self.epoch, int(row["sample_id"])])
        image = cv2.imread(row["image"], cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(row["image"], "cannot read the image")
        x, y, w, h = row["box"]
        centre, side = np.array([x + w / 2, y + h / 2]), max(w, h, 1.0)
        rotation, flip = 0.0, False
        if self.train:  # as 3DMPPE: scale 1 ± clip(N(0,1), ±1)·s, rotation clip(N(0,1), ±2)·r
            side *= 1.0 + float(np.clip(rng.normal(), -1, 1)) * cfg.aug_scale
            if rng.random() < 0.6:
                rotation = float(np.clip(rng.normal(), -2, 2)) * cfg.aug_rotation
            flip = cfg.aug_flip and rng.random() < 0.5
        m = crop_affine(centre, side, rotation, cfg.input_size)
        crop = cv2.warpAffine(image, m, (cfg.input_size, cfg.input_size), flags=cv2.INTER_LINEAR)
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        if flip:
            crop = crop[:, ::-1]
        if self.train and cfg.aug_colour > 0:
            c = cfg.aug_colour
            crop = np.clip(crop * rng.uniform(1 - c, 1 + c, 3).astype(np.float32), 0, 1)
        is_3d = "joints_cam" in row
        cam = np.asarray(row["joints_cam"], dtype=np.float64) if is_3d else np.zeros((17, 3))
        target, weight = targets(np.asarray(row["joints_img"], dtype=np.float64),
                                 cam if is_3d else None, np.asarray(row["visible"], dtype=bool),
                                 m, cfg.input_size, cfg.depth_bins, flip)
        inverse = cv2.invertAffineTransform(m)
        return {"image": torch.from_numpy(np.ascontiguousarray(((crop - MEAN) / STD)
                                                               .transpose(2, 0, 1))),
                "target": torch.from_numpy(target), "weight": torch.from_numpy(weight),
                "joints_cam": torch.from_numpy(cam.astype(np.float32)),
                "crop_to_image": torch.from_numpy(inverse.astype(np.float32)),
                "root_depth": torch.tensor(float(cam[ROOT, 2])),
                "f": torch.tensor(row.get("f", [1.0, 1.0]), dtype=torch.float32),
                "c": torch.tensor(row.get("c", [0.0, 0.0]), dtype=torch.float32),
                "sample_id": torch.tensor(int(row["sample_id"]))}


class MixedBatchSampler:
    """MTS batches: each global batch holds half 3D samples and half 2D ones (the 2D list is
    reshuffled and cycled as needed); an epoch is one pass over the 3D samples. Each process
    takes every world-th sample of each half, so it gets both kinds."""

    def __init__(self, n3d: int, n2d: int, batch: int, seed: int, world: int, rank: int) -> None:
        self.n3d, self.n2d, self.half = n3d, n2d, max(1, batch // 2)
        self.seed, self.world, self.rank, self.epoch = seed, world, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, self.n3d // self.half)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order3 = rng.permutation(self.n3d)
        needed = len(self) * self.half
        order2 = np.concatenate([rng.permutation(self.n2d) for _ in range(-(-needed // self.n2d))])
        for k in range(len(self)):
            part = slice(k * self.half, (k + 1) * self.half)
            three, two = order3[part], self.n3d + order2[part]
            yield [int(i) for i in (*three[self.rank::self.world], *two[self.rank::self.world])]


def make_loader(rows, cfg: FinetuneConfig, train: bool, world: int, rank: int) -> DataLoader:
    n2d = sum(1 for r in rows if r.get("kind") == "2d")
    if train and n2d:
        rows = [r for r in rows if r.get("kind") != "2d"] + [r for r in rows if r.get("kind") == "2d"]
        sampler = MixedBatchSampler(len(rows) - n2d, n2d, cfg.batch_size, cfg.seed, world, rank)
        return DataLoader(Pose3DDataset(rows, cfg, train), batch_sampler=sampler,
                          num_workers=cfg.workers, worker_init_fn=worker_init,
                          pin_memory=torch.cuda.is_available() and cfg.device != "cpu")
    return epoch_loader(Pose3DDataset(rows, cfg, train), cfg, train, world, rank)


def build_model(cfg: FinetuneConfig, device: torch.device) -> torch.nn.Module:
    from ..models.posenet import PoseNet

    model = PoseNet(cfg.backbone, len(H36M.joints), cfg.head_channels, cfg.depth_bins)
    if cfg.init and cfg.init != "none":
        from .checkpoint import init_backbone

        model.init_record = init_backbone(model, cfg.init, cfg.backbone)  # runner records it
    model = model.to(device)
    if device.type == "cuda" and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def training_step(model, batch, optimizer, cfg: FinetuneConfig, cuda: bool) -> torch.Tensor:
    """L1 between the soft-argmax coordinates and the targets, on the coordinates with weight
    (eq. 12); a 2D sample (MTS) has no depth target."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
        pred = model(batch["image"])
    err = (pred.float() - batch["target"]).abs() * batch["weight"]
    loss = err.sum() / batch["weight"].sum().clamp(min=1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return torch.stack([loss.detach()]).float()


@torch.inference_mode()
def predict_3d(model, loader, device, cfg: FinetuneConfig) -> dict[str, np.ndarray]:
    """Camera-frame predictions (mm, root depth from the ground truth) and the ground truth."""
    from ..models.posenet import decode

    model.eval()
    preds, gts, ids = [], [], []
    cuda = device.type == "cuda"
    for batch in loader:
        batch = to_device(batch, device, cfg.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
            out = model(batch["image"]).float()
        cam = decode(out, batch["crop_to_image"], batch["root_depth"], batch["f"], batch["c"],
                     cfg.input_size // 4, cfg.input_size, ROOT, cfg.depth_bins)
        preds.append(cam.cpu().numpy())
        gts.append(batch["joints_cam"].cpu().numpy())
        ids.append(batch["sample_id"].cpu().numpy())
    if not preds:
        return {"pred": np.zeros((0, 17, 3)), "gt": np.zeros((0, 17, 3)), "sample_id": np.zeros(0)}
    return {"pred": np.concatenate(preds), "gt": np.concatenate(gts),
            "sample_id": np.concatenate(ids)}


def summary_3d(pred: dict[str, np.ndarray], actions: list[str],
               images: list[str] | None = None) -> dict[str, Any]:
    """MPJPE (root-aligned), PA-MPJPE, per-axis errors, and MPJPE by action with its average."""
    p, g = pred["pred"], pred["gt"]
    if len(p) == 0:
        return {"samples": 0}
    per_pose = np.linalg.norm((p - p[:, ROOT:ROOT + 1]) - (g - g[:, ROOT:ROOT + 1]), axis=-1).mean(1)
    out = {"samples": int(len(p)), "mpjpe": mpjpe(p, g, root=ROOT), "pa_mpjpe": pa_mpjpe(p, g),
           **{f"{k}_error": v for k, v in axis_errors(p, g, root=ROOT).items()},
           "by_action": per_action(per_pose, actions)}
    if images is not None and len(set(images)) < len(images):  # multi-person: MuPoTS's 3DPCK
        from ..evaluate.metrics import pck3d_multi

        groups: dict[str, list[int]] = {}
        for k, name in enumerate(images):
            groups.setdefault(name, []).append(k)
        scenes = [(p[idx], g[idx]) for idx in groups.values()]
        out["pck3d_150"] = pck3d_multi(scenes, ROOT, 150.0)
    return out


def _rows(path: Path, cfg: FinetuneConfig) -> tuple[list, list]:
    rows = read_manifest(path)
    train_rows = [r for r in rows if r["split"] == "train" and r.get("kind") != "2d"]
    rows_2d = [r for r in rows if r.get("kind") == "2d"]
    val_rows = [r for r in rows if r["split"] == "val"]
    if cfg.max_samples:
        train_rows = even_sample(train_rows, cfg.max_samples)
        val_rows = even_sample(val_rows, max(2, cfg.max_samples // 4))
        rows_2d = even_sample(rows_2d, cfg.max_samples)
    return train_rows + rows_2d, val_rows


def _validate(model, loader, device, cfg: FinetuneConfig) -> tuple[dict[str, Any], float | None]:
    actions = {r["sample_id"]: r["action"] for r in loader.dataset.rows}
    pred = predict_3d(model, loader, device, cfg)
    s = summary_3d(pred, [actions[int(k)] for k in pred["sample_id"]])
    if not s["samples"]:
        return {}, None
    columns = {"val_mpjpe": s["mpjpe"], "val_pa_mpjpe": s["pa_mpjpe"],
               "val_action_mpjpe": s["by_action"]["average"], "val_z_error": s["z_error"]}
    return columns, -s["mpjpe"]


FINETUNE_TASK = Task(kind="posenet-finetune", config_cls=FinetuneConfig, loss_names=("loss",),
                     export=export_samples, rows=_rows, make_loader=make_loader,
                     build_model=build_model, step=training_step, validate=_validate,
                     job_kind="finetune", unit="samples")


def finetune(data: str, out: Path, cfg: FinetuneConfig, resume: bool = False,
             progress: str = "bar", store: Path | None = None) -> dict[str, Any]:
    """Run (or resume) 3D fine-tuning on ``FORMAT:PATH`` data; returns the summary."""
    return run_training(FINETUNE_TASK, data, out, cfg, resume, progress, store=store,
                        source_key="data")


def _predict_protocol(ckpt: Path, data: str, protocol: str, action: str | None, batch: int,
                      workers: int, device: str):
    """(checkpoint state, predictions, manifest rows by sample id) on a protocol's test set."""
    import tempfile

    from .checkpoint import load_checkpoint, load_weights
    from .runner import config_from_checkpoint, pick_device

    state = load_checkpoint(ckpt)
    cfg = config_from_checkpoint(state, Path(ckpt), FINETUNE_TASK)
    cfg.device, cfg.workers, cfg.batch_size, cfg.init = device, workers, batch, "none"
    if protocol != "custom":  # custom keeps the subject lists the checkpoint was trained with
        cfg.protocol, cfg.action = protocol, action
    cfg.val_fraction, cfg.mts_db = 1.0, None
    with tempfile.TemporaryDirectory() as tmp:
        export_samples(data, Path(tmp) / "m.jsonl", cfg)
        rows = [r for r in read_manifest(Path(tmp) / "m.jsonl") if r["split"] == "val"]
    if not rows:
        raise InputError(data, f"no test sample under protocol {protocol}")
    dev = pick_device(cfg)
    model = build_model(cfg, dev)
    load_weights(model, state["model"], Path(ckpt))
    pred = predict_3d(model, make_loader(rows, cfg, False, 1, 0), dev, cfg)
    return state, pred, {r["sample_id"]: r for r in rows}


def eval_3d(ckpt: Path, data: str, protocol: str = "subject1", action: str | None = None,
            batch: int = 32, workers: int = 2, device: str = "auto",
            samples_out: Path | None = None) -> dict[str, Any]:
    """The field's 3D metrics of a fine-tuned checkpoint on the test samples of a protocol
    (``all``: every sample), with the ground-truth root depth. ``samples_out`` also writes every
    sample's prediction, truth and per-joint errors, worst first (see :func:`write_samples`)."""
    state, pred, by_id = _predict_protocol(ckpt, data, protocol, action, batch, workers, device)
    result = {"checkpoint": str(ckpt), "epoch": state["epoch"], "data": data,
              "protocol": protocol,
              **summary_3d(pred, [by_id[int(k)]["action"] for k in pred["sample_id"]],
                           [by_id[int(k)]["image"] for k in pred["sample_id"]])}
    if samples_out is not None:
        write_samples(samples_out, worst_first(pred, by_id))
        result["samples_file"] = str(samples_out)
    return result


def worst_first(pred: dict[str, np.ndarray], by_id: dict[int, dict]) -> dict[str, np.ndarray]:
    """Root-relative predictions and truths (mm), per-joint errors and MPJPE of each sample,
    the worst sample first: what the app's 3D tab browses."""
    p, g = root_align(pred["pred"], ROOT), root_align(pred["gt"], ROOT)
    errors = np.linalg.norm(p - g, axis=-1)
    per_sample = errors.mean(1)
    order = np.argsort(-per_sample, kind="stable")
    rows = [by_id[int(k)] for k in pred["sample_id"][order]]
    return {"pred": p[order], "gt": g[order], "errors": errors[order],
            "mpjpe": per_sample[order],
            "image": np.array([r["image"] for r in rows], dtype=str),
            "action": np.array([r["action"] for r in rows], dtype=str),
            "joints": np.array(H36M.joints, dtype=str)}


SAMPLE_ARRAYS = ("pred", "gt", "errors", "mpjpe", "image", "action", "joints")


def write_samples(path: Path, table: dict[str, np.ndarray]) -> None:
    """The samples as an .npz of plain arrays (no pickled objects), written atomically."""
    with atomic_write(path, "wb") as f:
        np.savez(f, **{k: table[k] for k in SAMPLE_ARRAYS})


def read_samples(path: Path) -> dict[str, np.ndarray]:
    """Read what :func:`write_samples` wrote; never unpickles (allow_pickle=False)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in SAMPLE_ARRAYS if k not in z.files]
            if missing:
                raise InputError(path, f"not an eval-3d samples file (no {', '.join(missing)})")
            return {k: z[k] for k in SAMPLE_ARRAYS}
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the samples: {e}") from None


def format_3d(result: dict[str, Any]) -> str:
    lines = [f"checkpoint {result['checkpoint']} (epoch {result['epoch']}) on {result['data']}, "
             f"protocol {result['protocol']}: {result['samples']} samples",
             f"MPJPE {result['mpjpe']:.1f} mm   PA-MPJPE {result['pa_mpjpe']:.1f} mm   "
             f"X {result['x_error']:.1f}   Y {result['y_error']:.1f}   Z {result['z_error']:.1f} mm",
             "MPJPE by action (mm): " + ", ".join(f"{a} {v:.1f}" for a, v in
                                                 result["by_action"].items())]
    if "pck3d_150" in result:
        pck = result["pck3d_150"]
        lines.append(f"3DPCK@150mm: All {100 * pck['all']:.1f}  Matched {100 * pck['matched']:.1f}")
    return "\n".join(lines)


#: The real-world extent of a person's box in 3DMPPE (mm), for the root depth of a photo.
BOX_3D_MM = 2000.0


def predict_image(ckpt: Path, image_path: Path, boxes: list[list[float]] | None = None,
                  device: str = "auto") -> dict[str, Any]:
    """Root-relative 3D joints (mm) and 2D joints (px) for each person box of a photo.

    A photo has no intrinsics: the focal length is taken as the image's larger side and the
    principal point as its centre; the root depth follows from the box size as in RootNet
    (Z = f · 2000 mm / box side). Root-relative coordinates depend on these only mildly.
    """
    from ..models.posenet import decode
    from .checkpoint import load_checkpoint, load_weights
    from .runner import config_from_checkpoint, pick_device

    state = load_checkpoint(ckpt)
    cfg = config_from_checkpoint(state, Path(ckpt), FINETUNE_TASK)
    cfg.device, cfg.init = device, "none"
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(image_path, "cannot read the image (JPEG or PNG expected)")
    h, w = image.shape[:2]
    boxes = boxes or [[0.0, 0.0, float(w), float(h)]]
    for box in boxes:
        if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            raise InputError(image_path, f"box {box} is not x,y,w,h with a positive size")
    dev = pick_device(cfg)
    model = build_model(cfg, dev)
    load_weights(model, state["model"], Path(ckpt))
    model.eval()
    f, c = float(max(w, h)), (w / 2.0, h / 2.0)
    crops, inverses, roots = [], [], []
    for x, y, bw, bh in boxes:
        side = max(bw, bh)
        m = crop_affine(np.array([x + bw / 2, y + bh / 2]), side, 0.0, cfg.input_size)
        crop = cv2.warpAffine(image, m, (cfg.input_size, cfg.input_size), flags=cv2.INTER_LINEAR)
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        crops.append(((crop - MEAN) / STD).transpose(2, 0, 1))
        inverses.append(cv2.invertAffineTransform(m))
        roots.append(f * BOX_3D_MM / side)
    n = len(boxes)
    with torch.inference_mode():
        out = model(torch.from_numpy(np.stack(crops)).to(dev)).float()
        cam = decode(out, torch.tensor(np.stack(inverses), dtype=torch.float32, device=dev),
                     torch.tensor(roots, dtype=torch.float32, device=dev),
                     torch.tensor([[f, f]] * n, device=dev), torch.tensor([c] * n, device=dev),
                     cfg.input_size // 4, cfg.input_size, ROOT, cfg.depth_bins).cpu().numpy()
    px = cam[..., :2] / cam[..., 2:] * f + np.array(c)
    persons = [{"box": [round(float(v), 2) for v in box],
                "joints_mm": np.round(cam[k] - cam[k, ROOT], 1).tolist(),
                "joints_px": np.round(px[k], 1).tolist()} for k, box in enumerate(boxes)]
    return {"image": str(image_path), "checkpoint": str(ckpt), "joints": list(H36M.joints),
            "root": H36M.joints[ROOT], "persons": persons}
