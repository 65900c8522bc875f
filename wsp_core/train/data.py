"""The pair crops I_AB that WSP pre-training reads, with heatmap targets and labels.

A sample is the square crop around the union of both persons' boxes (1.25 × its larger side),
augmented as in 3DMPPE (scale, rotation, horizontal flip with left/right joints swapped, colour),
with: Gaussian heatmap targets of the labelled joints of every annotated person the crop shows
(``hm_persons`` all; "pair": only the two; docs/TRAINING.md), each person's box in heatmap
coordinates (features are pooled inside it), N randomly sampled joints among those the source
annotates, and the label (1 = a closer), copied to every joint. Randomness is drawn from a
generator seeded by (seed, epoch, pair id), so a sample is the same in one process or many.
Images are decoded and cropped with OpenCV inside the DataLoader's workers, which send the crop
as uint8 RGB with its colour factors and the heatmap targets as float16 (a third of float32's
bytes through shared memory); the training device applies the colour and ImageNet's
normalisation (``train.device_crops.finish_crops``). With ``pixels_on_device`` the workers send
the file's bytes and the crop's geometry instead, and the device makes the crop too
(train/device_crops.py; the same randomness, the same targets).

The paper's epoch (``per_image``): an index is an image, and each epoch draws one of its pairs
(two of its persons, in random order) from a generator seeded by (seed, epoch, image); else an
index is a pair and an epoch visits every pair of every image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from ..infer.crops import crop_affine, warp_crop_uint8
from ..skeleton import FORMAT_JOINT_SETS, to_canonical
from .device_crops import deferred_pixels

#: The joints the pre-training network predicts heatmaps for and compares depths of.
PRETRAIN_JOINTS: tuple[str, ...] = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
    "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    "head_top", "neck", "pelvis", "thorax",
)
FLIP = np.array([PRETRAIN_JOINTS.index(n.replace("l_", "r_", 1) if n.startswith("l_") else
                                       n.replace("r_", "l_", 1) if n.startswith("r_") else n)
                 for n in PRETRAIN_JOINTS])
ANKLE_JOINTS = ("l_ankle", "r_ankle")


def joints_present(fmt: str) -> np.ndarray:
    """(J,) bool: the pre-training joints a source format annotates (or derives)."""
    js = FORMAT_JOINT_SETS[fmt]
    probe = np.ones((1, js.num_joints, 3))
    return to_canonical(probe, js, names=PRETRAIN_JOINTS)[0, :, 2] > 0


def person_joints(person: dict[str, Any], fmt: str) -> np.ndarray:
    """(J, 3) pre-training joints of one person of a manifest row."""
    kp = np.asarray(person["keypoints"], dtype=np.float64)
    return to_canonical(kp, FORMAT_JOINT_SETS[fmt], names=PRETRAIN_JOINTS)


def remove_ankles(image: np.ndarray, persons: list[np.ndarray], boxes: list[list[float]]) -> np.ndarray:
    """RD protocol 2: hide each person's ankle regions, the cue the labels were made from.

    Around every labelled ankle a disc of radius 0.12 × the person's box height (about the
    foot's length in the image) is filled with the image's mean colour, so neither the ankle
    position nor the ground contact can be read. docs/RESULTS.md shows an example.
    """
    out = image.copy()
    fill = tuple(float(v) for v in image.reshape(-1, 3).mean(0))
    for joints, box in zip(persons, boxes):
        radius = max(2, int(round(0.12 * box[3])))
        for name in ANKLE_JOINTS:
            x, y, v = joints[PRETRAIN_JOINTS.index(name)]
            if v > 0:
                cv2.circle(out, (int(round(x)), int(round(y))), radius, fill, -1)
    return out


def gaussian_targets(joints: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """(J, size, size) max over persons of a Gaussian at each labelled joint inside the map.

    joints: (P, J, 3) in heatmap pixels, visibility last. Separable: one row and one column
    profile per joint, multiplied out for all joints at once.
    """
    grid = np.arange(size, dtype=np.float32)
    x, y = joints[..., 0].astype(np.float32), joints[..., 1].astype(np.float32)
    ok = (joints[..., 2] > 0) & (x >= 0) & (x < size) & (y >= 0) & (y < size)       # (P, J)
    gx = np.exp(-((grid - x[..., None]) ** 2) / (2 * sigma ** 2)) * ok[..., None]   # (P, J, S)
    gy = np.exp(-((grid - y[..., None]) ** 2) / (2 * sigma ** 2))
    return (gy[..., :, None] * gx[..., None, :]).max(axis=0)


class PairDataset(Dataset):
    """Manifest rows as training (or evaluation) samples."""

    def __init__(self, rows: list[dict[str, Any]], input_size: int, sampled_joints: int,
                 sigma: float = 2.0, augment: bool = False, aug: dict[str, float] | None = None,
                 seed: int = 0, ankles_removed: bool = False, per_image: bool = False,
                 hm_persons: str = "all", pixels_on_device: bool = False) -> None:
        if pixels_on_device and ankles_removed:
            raise ValueError("RD protocol 2 draws on the image: its crops are made on the CPU")
        self.rows = rows
        #: the crop's pixels are left to the training device (train/device_crops.py)
        self.pixels_on_device = pixels_on_device
        self.hm_persons = hm_persons
        self.groups = pairs_by_image(rows) if per_image else None
        self.size = input_size
        self.hm = input_size // 4
        self.n = sampled_joints
        self.sigma = sigma
        self.augment = augment
        self.aug = {"scale": 0.25, "rotation": 30.0, "flip": True, "colour": 0.2, **(aug or {})}
        self.seed = seed
        self.epoch = 0
        self.ankles_removed = ankles_removed
        self._present = {fmt: joints_present(fmt) for fmt in {r["format"] for r in rows}}
        for fmt, present in self._present.items():
            if present.sum() < sampled_joints:
                raise InputError(fmt, f"annotates {present.sum()} of the pre-training joints, "
                                      f"fewer than sampled_joints={sampled_joints}")

    def __len__(self) -> int:
        return len(self.rows) if self.groups is None else len(self.groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def row(self, index: int) -> dict[str, Any]:
        """The pair behind an index: in the paper's epoch, this epoch's draw from the image."""
        if self.groups is None:
            return self.rows[index]
        group = self.groups[index]
        draw = np.random.default_rng([self.seed, self.epoch, int(self.rows[group[0]]["pair_id"]),
                                      _DRAW_STREAM])
        row = self.rows[group[int(draw.integers(len(group)))]]
        return swap_persons(row) if draw.random() < 0.5 else row

    def others(self, row: dict[str, Any]) -> list[np.ndarray]:
        """The pre-training joints of the image's persons other than the pair (``hm_persons``
        all: the heatmap targets show every annotated person the crop shows; pair: only a, b)."""
        if self.hm_persons != "all":
            return []
        pair = (row["a"]["person_id"], row["b"]["person_id"])
        return [person_joints(p, row["format"]) for p in row.get("persons", ())
                if p["person_id"] not in pair]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = self.row(index)
        rng = np.random.default_rng([self.seed, self.epoch, int(row["pair_id"])])
        persons = [person_joints(row[k], row["format"]) for k in ("a", "b")]
        boxes = [row["a"]["bbox"], row["b"]["bbox"]]
        centre, side = _union_square(boxes)
        rotation, flip = 0.0, False
        if self.augment:  # as 3DMPPE: scale 1 ± clip(N(0,1), ±1)·s, rotation clip(N(0,1), ±2)·r
            side *= 1.0 + float(np.clip(rng.normal(), -1, 1)) * self.aug["scale"]
            if rng.random() < 0.6:
                rotation = float(np.clip(rng.normal(), -2, 2)) * self.aug["rotation"]
            flip = bool(self.aug["flip"]) and rng.random() < 0.5
        m = crop_affine(centre, side, rotation, self.size)
        persons += self.others(row)
        joints = np.stack([_transform(p, m) for p in persons])           # (P, J, 3) crop px
        box_hm = np.stack([_transform_box(b, m) for b in boxes]) / 4.0     # (2, 4) heatmap px
        present = self._present[row["format"]].copy()
        if flip:
            joints = joints[:, FLIP]
            joints[..., 0] = self.size - 1 - joints[..., 0]
            box_hm = np.stack([self.hm - box_hm[:, 2], box_hm[:, 1], self.hm - box_hm[:, 0],
                               box_hm[:, 3]], 1)
            present = present[FLIP]
        colour = np.ones(3, np.float32)
        if self.augment and self.aug["colour"] > 0:
            c = self.aug["colour"]
            colour = rng.uniform(1 - c, 1 + c, 3).astype(np.float32)
        pixels = (deferred_pixels(row["image"], m, self.size, flip) if self.pixels_on_device
                  else {"image": torch.from_numpy(self.crop(row, persons[:2], boxes, m, flip))})
        hm_joints = joints.copy()
        hm_joints[..., :2] = (joints[..., :2] + 0.5) / 4.0 - 0.5
        target = gaussian_targets(hm_joints, self.hm, self.sigma)
        hm_joints = hm_joints[:2]                                          # the pair's
        labelled = (joints[:2, :, 2] > 0).any(0) & present
        choice = rng.choice(np.flatnonzero(present), size=self.n, replace=False)
        return {
            **pixels, "colour": torch.from_numpy(colour),
            "heatmap": torch.from_numpy(target).half(),   # torch converts 30× faster than numpy
            "hm_weight": torch.from_numpy(labelled.astype(np.float32)),
            "boxes": torch.from_numpy(box_hm.astype(np.float32)),
            "joints": torch.from_numpy(np.sort(choice).astype(np.int64)),
            "present": torch.from_numpy(present),
            "hm_joints": torch.from_numpy(hm_joints.astype(np.float32)),
            "label": torch.tensor(float(row["label"])),
            "truth": torch.tensor(float(-1 if row.get("truth") is None else row["truth"])),
            "delta_s": torch.tensor(float("nan") if row["delta_s"] is None else row["delta_s"]),
            "pair_id": torch.tensor(int(row["pair_id"])),
        }

    def crop(self, row: dict[str, Any], pair: list[np.ndarray], boxes: list[list[float]],
             m: np.ndarray, flip: bool) -> np.ndarray:
        """The crop, made here: decoded and warped with OpenCV, (3, S, S) uint8 RGB."""
        image = cv2.imread(row["image"], cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(row["image"], "cannot read the image")
        if self.ankles_removed:
            image = remove_ankles(image, pair, boxes)
        crop = warp_crop_uint8(image, m, self.size)
        if flip:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop.transpose(2, 0, 1))


#: Keeps the per-image pair draw's random stream apart from the augmentation's.
_DRAW_STREAM = 7


def pairs_by_image(rows: list[dict[str, Any]]) -> list[list[int]]:
    """Row indices grouped by image, in the order the images first appear."""
    groups: dict[str, list[int]] = {}
    for k, row in enumerate(rows):
        groups.setdefault(row["image"], []).append(k)
    return list(groups.values())


def swap_persons(row: dict[str, Any]) -> dict[str, Any]:
    """The same pair seen as (b, a): every label turns over (1 = the new a closer); an unknown
    one (None, or a negative truth) stays unknown."""
    out = {**row, "a": row["b"], "b": row["a"]}
    for key in ("label", "auto_label", "truth"):
        if out.get(key) is not None and out[key] >= 0:
            out[key] = 1 - int(out[key])
    return out


def _union_square(boxes: list[list[float]]) -> tuple[np.ndarray, float]:
    b = np.asarray(boxes, dtype=np.float64)
    x0, y0 = b[:, 0].min(), b[:, 1].min()
    x1, y1 = (b[:, 0] + b[:, 2]).max(), (b[:, 1] + b[:, 3]).max()
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(x1 - x0, y1 - y0, 1.0) * 1.25


def _transform(joints: np.ndarray, m: np.ndarray) -> np.ndarray:
    out = joints.copy()
    out[:, :2] = joints[:, :2] @ m[:, :2].T + m[:, 2]
    return out


def _transform_box(box: list[float], m: np.ndarray) -> np.ndarray:
    x, y, w, h = box
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]]) @ m[:, :2].T + m[:, 2]
    return np.array([*corners.min(0), *corners.max(0)])


def worker_init(_worker_id: int) -> None:
    """One thread per DataLoader worker: OpenCV and torch would otherwise oversubscribe cores."""
    cv2.setNumThreads(0)
    torch.set_num_threads(1)


def check_images(rows: list[dict[str, Any]]) -> None:
    missing = next((r["image"] for r in rows if not Path(r["image"]).is_file()), None)
    if missing:
        raise InputError(missing, "image of the manifest not found")
