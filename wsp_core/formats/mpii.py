"""MPII in mmpose's JSON layout: a list of ``{image, joints[16][2], joints_vis[16], center[2],
scale}``, one person per entry; several entries may share an image. A person's key is
``<image>#<rank among the entries of that image>``.

``joints_vis`` says whether a joint is labelled; unlabelled joints hold ``[-1, -1]``. A labelled
joint gets visibility 2 (MPII's occlusion flag is not in this layout). The file gives no box and
no image size: the box is the square ``center ± scale·200/2`` (MPII's scale is the person's
height / 200 px), the size comes from the image header.

An entry that cannot be read (not an object, a field missing, joints that are not 16 pairs of
numbers, a non-positive scale) is skipped and noted; ranks count every entry naming an image,
so skipping one does not renumber the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import MPII
from .base import ReadNotes, SourceData, clean_keypoints, is_number, load_json, number_array

MPII_BOX_UNIT = 200.0


def read_mpii(ann: Path, images_dir: Path, notes: ReadNotes | None = None) -> SourceData:
    notes = notes if notes is not None else ReadNotes()
    entries = load_json(ann)
    if not isinstance(entries, list):
        raise InputError(ann, "expected a JSON list of person entries (mmpose MPII layout), "
                              f"found a {type(entries).__name__}")
    num = MPII.num_joints
    # a person's key is its image and its rank among that image's entries, so entries added
    # elsewhere in a new release of the file do not renumber the stored persons
    seen: dict[str, int] = {}
    image_pos: dict[str, int] = {}
    person_image, kps, bbox, keys = [], [], [], []
    for p, entry in enumerate(entries):
        image = entry.get("image") if isinstance(entry, dict) else None
        if isinstance(image, str):
            rank = seen.get(image, 0)
            seen[image] = rank + 1
        fields, problem = _fields(p, entry, num)
        if problem:
            notes.note(ann, "annotation_malformed", f"entry {p}: {problem}")
            continue
        image, joints, vis, center, scale = fields
        person_image.append(image_pos.setdefault(image, len(image_pos)))
        kps.append(np.concatenate([joints, np.where(vis > 0, 2.0, 0.0)[:, None]], 1))
        side = scale * MPII_BOX_UNIT
        bbox.append((center[0] - side / 2, center[1] - side / 2, side, side))
        keys.append(f"{image}#{rank}")
    kps_ = np.array(kps, dtype=np.float64).reshape(-1, num, 3)
    clean_keypoints(ann, kps_, keys, notes, MPII.joints, what="entry")
    files = list(image_pos)
    data = SourceData("mpii", MPII, ann, images_dir, files, files,
                      np.zeros((len(files), 2), dtype=np.int64),
                      np.array(person_image, dtype=np.int64), keys, kps_,
                      np.array(bbox, dtype=np.float64).reshape(-1, 4), [None] * len(keys))
    data.notes = notes
    return data


def _fields(p: int, entry: Any, num: int):
    """(image, joints, joints_vis, center, scale) of an entry, or (None, what is wrong)."""
    if not isinstance(entry, dict):
        return None, "not an object"
    missing = [k for k in ("image", "joints", "joints_vis", "center", "scale") if k not in entry]
    if missing:
        return None, f"lacks {', '.join(missing)}"
    if not isinstance(entry["image"], str) or not entry["image"]:
        return None, f"image {entry['image']!r} is not a file name"
    joints = number_array(entry["joints"], (num, 2))
    vis = number_array(entry["joints_vis"], (num,))
    center = number_array(entry["center"], (2,))
    scale = entry["scale"]
    if joints is None or vis is None:
        return None, f"joints and joints_vis must be {num} [x, y] pairs and {num} numbers"
    if center is None or not np.isfinite(center).all() or not is_number(scale) \
            or not np.isfinite(scale) or scale <= 0:
        return None, "center must be 2 finite numbers and scale a positive number"
    return (entry["image"], joints, vis, center, float(scale)), None
