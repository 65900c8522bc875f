"""MPII in mmpose's JSON layout: a list of ``{image, joints[16][2], joints_vis[16], center[2],
scale}``, one person per entry; several entries may share an image. A person's key is
``<image>#<rank among the entries of that image>``.

``joints_vis`` says whether a joint is labelled; unlabelled joints hold ``[-1, -1]``. A labelled
joint gets visibility 2 (MPII's occlusion flag is not in this layout). The file gives no box and
no image size: the box is the square ``center ± scale·200/2`` (MPII's scale is the person's
height / 200 px), the size comes from the image header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import MPII
from .base import SourceData, check_keypoints, load_json

MPII_BOX_UNIT = 200.0


def read_mpii(ann: Path, images_dir: Path) -> SourceData:
    entries = load_json(ann)
    if not isinstance(entries, list):
        raise InputError(ann, "expected a JSON list of person entries (mmpose MPII layout), "
                              f"found a {type(entries).__name__}")
    num = MPII.num_joints
    image_pos: dict[str, int] = {}
    person_image = np.empty(len(entries), dtype=np.int64)
    kps = np.zeros((len(entries), num, 3))
    bbox = np.zeros((len(entries), 4))
    for p, entry in enumerate(entries):
        image, joints, vis, center, scale = _fields(ann, p, entry, num)
        person_image[p] = image_pos.setdefault(image, len(image_pos))
        kps[p, :, :2] = joints
        kps[p, :, 2] = np.where(vis > 0, 2.0, 0.0)
        side = scale * MPII_BOX_UNIT
        bbox[p] = (center[0] - side / 2, center[1] - side / 2, side, side)
    # a person's key is its image and its rank among that image's entries, so entries added
    # elsewhere in a new release of the file do not renumber the stored persons
    seen: dict[str, int] = {}
    keys = []
    for entry in entries:
        rank = seen.get(entry["image"], 0)
        seen[entry["image"]] = rank + 1
        keys.append(f"{entry['image']}#{rank}")
    check_keypoints(ann, kps, keys, what="entry")
    files = list(image_pos)
    return SourceData("mpii", MPII, ann, images_dir, files, files,
                      np.zeros((len(files), 2), dtype=np.int64), person_image, keys, kps, bbox,
                      [None] * len(entries))


def _fields(ann: Path, p: int, entry: Any, num: int):
    if not isinstance(entry, dict):
        raise InputError(ann, f"entry {p} is not an object")
    missing = [k for k in ("image", "joints", "joints_vis", "center", "scale") if k not in entry]
    if missing:
        raise InputError(ann, f"entry {p} lacks {', '.join(missing)}")
    try:
        joints = np.asarray(entry["joints"], dtype=np.float64)
        vis = np.asarray(entry["joints_vis"], dtype=np.float64)
        center = np.asarray(entry["center"], dtype=np.float64)
        scale = float(entry["scale"])
    except (TypeError, ValueError, OverflowError):
        raise InputError(ann, f"entry {p}: joints, joints_vis, center and scale must be numbers") from None
    if joints.shape != (num, 2) or vis.shape != (num,):
        raise InputError(ann, f"entry {p}: {joints.shape[0] if joints.ndim else 0} joints / "
                              f"{vis.size} visibilities, expected {num} of each")
    if center.shape != (2,) or not np.isfinite(center).all() or not np.isfinite(scale) or scale <= 0:
        raise InputError(ann, f"entry {p}: center must be 2 finite numbers and scale positive")
    if not isinstance(entry["image"], str):
        raise InputError(ann, f"entry {p}: image {entry['image']!r} is not a file name")
    return entry["image"], joints, vis, center, scale
