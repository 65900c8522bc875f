"""The single-person 3D samples fine-tuning and 3D evaluation read: manifest rows of a
:class:`~wsp_core.formats.h36m.Pose3DSet` split by protocol, PoseNet's targets, the crop
dataset, and the mixed 3D + 2D batch sampler of MTS.

A row: ``sample_id, image, split, box [x, y, w, h], joints_img (17×2 px), joints_cam (17×3 mm),
visible (17), f, c, subject, action``; a 2D row (MTS) has ``kind: "2d"`` and no
``joints_cam``. The split of the config's protocol is documented in docs/TRAINING.md.
"""

from __future__ import annotations

import zlib
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import InputError
from ..evaluate.protocols import custom_split, protocol_split
from ..formats.h36m import Pose3DSet
from ..models.posenet import DEPTH_RANGE_MM
from ..skeleton import H36M, ROOT
from .config import FinetuneConfig
from ..infer.crops import crop_image, normalise, person_square
from .data import worker_init
from .runner import epoch_loader

FLIP = np.array([H36M.canonical.index(n.replace("l_", "r_", 1) if n.startswith("l_") else
                                      n.replace("r_", "l_", 1) if n.startswith("r_") else n)
                 for n in H36M.canonical])


def split_samples(data: Pose3DSet, cfg: FinetuneConfig,
                  spec: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the training, validation and test samples of ``data`` under the config's
    protocol. The test set is the protocol's (``all``: the images whose name hashes under
    ``test_fraction``); the validation set, which chooses best.pt, is taken from the training
    side only (the images whose name hashes into the top ``val_fraction``), so no model is ever
    chosen on the samples it is tested on. Where the set numbers its frames (3DMPPE's
    Human3.6M JSON), training and validation keep every ``train_frame_step``-th frame and
    testing every ``test_frame_step``-th (5 and 64)."""
    u = np.array([zlib.crc32(n.encode()) % 10_000 for n in data.images], dtype=np.int64) / 10_000
    if cfg.protocol == "all":
        pool, test = np.flatnonzero(u >= cfg.test_fraction), np.flatnonzero(u < cfg.test_fraction)
    elif cfg.protocol == "custom":
        pool, test = custom_split(data.subjects, data.actions, cfg.train_subjects,
                                  cfg.test_subjects, cfg.train_actions)
    else:
        try:
            pool, test, _ = protocol_split(data.subjects, data.actions, cfg.protocol, cfg.action)
        except ValueError as e:
            raise InputError(spec, str(e)) from None
    if data.frames is not None:
        pool = pool[data.frames[pool] % max(cfg.train_frame_step, 1) == 0]
        test = test[data.frames[test] % max(cfg.test_frame_step, 1) == 0]
    held = u[pool] >= 1 - cfg.val_fraction
    return pool[~held], pool[held], test


def sample_row(data: Pose3DSet, images, k: int, split: str) -> dict[str, Any]:
    """Sample ``k`` of ``data`` as a manifest row (coordinates rounded as the manifest keeps them)."""
    return {"sample_id": k, "image": str(images / data.images[k]), "split": split,
            "box": data.boxes[k].round(3).tolist(), "joints_img": data.joints_img[k].round(3).tolist(),
            "joints_cam": data.joints_cam[k].round(2).tolist(),
            "visible": data.visible[k].tolist(), "f": data.f[k].tolist(), "c": data.c[k].tolist(),
            "subject": int(data.subjects[k]), "action": data.actions[k]}


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


#: 3DMPPE's synthetic occlusion: the rectangle's area is up to this share of the person's box,
#: its aspect ratio (height / width) between 0.3 and 1 / 0.3.
OCCLUSION_MAX_AREA = 0.7
OCCLUSION_RATIO = (0.3, 1 / 0.3)


def synthetic_occlusion(image: np.ndarray, box, rng: np.random.Generator,
                        tries: int = 20) -> np.ndarray:
    """3DMPPE's occlusion augmentation: a rectangle of uniform noise placed over the person's box
    (area uniform in [0, 0.7] of the box, aspect ratio uniform in [0.3, 1/0.3]; a side longer
    than the box's reaches past it, as in 3DMPPE's formula), drawn again
    until it lies inside the image (at most ``tries`` times, else the image is left as is)."""
    x, y, w, h = (float(v) for v in box)
    height, width = image.shape[:2]
    for _ in range(tries):
        area = rng.uniform(0.0, OCCLUSION_MAX_AREA) * w * h
        ratio = rng.uniform(*OCCLUSION_RATIO)
        oh, ow = np.sqrt(area * ratio), np.sqrt(area / ratio)
        ox, oy = rng.random() * (w - ow - 1) + x, rng.random() * (h - oh - 1) + y
        if ox >= 0 and oy >= 0 and ox + ow < width and oy + oh < height:
            out = image.copy()
            x0, y0, cw, ch = int(ox), int(oy), int(ow), int(oh)
            out[y0:y0 + ch, x0:x0 + cw] = rng.integers(0, 256, (ch, cw, image.shape[2]),
                                                        dtype=np.uint8)
            return out
    return image


def crop_square(row: dict[str, Any], width: int, height: int) -> tuple[np.ndarray, float]:
    """(centre, side) of a row's crop: 3DMPPE's 1.25× box
    (:func:`~wsp_core.infer.crops.person_square`), or, for a detected box that is already
    extended (``box_ready``, a bbox_root file), the box itself."""
    if row.get("box_ready"):
        x, y, w, h = row["box"]
        return np.array([x + w / 2.0, y + h / 2.0]), max(w, h, 1.0)
    return person_square(row["box"], width, height)


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
        if self.train and cfg.aug_occlusion and rng.random() < 0.5:
            image = synthetic_occlusion(image, row["box"], rng)
        centre, side = crop_square(row, image.shape[1], image.shape[0])
        rotation, flip = 0.0, False
        if self.train:  # as 3DMPPE: scale 1 ± clip(N(0,1), ±1)·s, rotation clip(N(0,1), ±2)·r
            side *= 1.0 + float(np.clip(rng.normal(), -1, 1)) * cfg.aug_scale
            if rng.random() < 0.6:
                rotation = float(np.clip(rng.normal(), -2, 2)) * cfg.aug_rotation
            flip = cfg.aug_flip and rng.random() < 0.5
        crop, m = crop_image(image, centre, side, rotation, cfg.input_size)
        if flip:
            crop = crop[:, ::-1]
        if self.train and cfg.aug_colour > 0:
            c = cfg.aug_colour
            crop = np.clip(crop * rng.uniform(1 - c, 1 + c, 3).astype(np.float32), 0, 1)
        is_3d = "joints_cam" in row
        cam = np.asarray(row["joints_cam"], dtype=np.float64) if is_3d else np.zeros((17, 3))
        root_depth = float(row["root_cam"][2]) if "root_cam" in row else float(cam[ROOT, 2])
        target, weight = targets(np.asarray(row["joints_img"], dtype=np.float64),
                                 cam if is_3d else None, np.asarray(row["visible"], dtype=bool),
                                 m, cfg.input_size, cfg.depth_bins, flip)
        inverse = cv2.invertAffineTransform(m)
        return {"image": torch.from_numpy(normalise(crop)),
                "target": torch.from_numpy(target), "weight": torch.from_numpy(weight),
                "joints_cam": torch.from_numpy(cam.astype(np.float32)),
                "crop_to_image": torch.from_numpy(inverse.astype(np.float32)),
                "root_depth": torch.tensor(root_depth),
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
