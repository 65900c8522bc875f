"""The 3D multi-person COCO-style layout of the 3DMPPE code: MuCo-3DHP (``--format muco``, 21
joints), MuPoTS-3D (``--format mupots``, MuCo's first 17) and the synthetic world (``synth``,
the same layout with every canonical joint).

Images carry intrinsics ``f: [fx, fy]`` and ``c: [cx, cy]`` (MuPoTS-3D.json of 3DMPPE: one
``intrinsic: [fx, fy, cx, cy]``); annotations carry ``keypoints_cam``
(J × 3, mm, camera frame) and ``keypoints_img`` (J × 2, px) in the same joint order, and may
carry COCO-style ``keypoints`` with visibility (the synthetic world does) or ``keypoints_vis``.
Where ``keypoints`` is absent (MuCo), it is made from ``keypoints_img``: a joint inside the image
is labelled (visibility 2, or ``keypoints_vis`` when given), one outside is not. An annotation
marked ``is_valid: 0`` (MuPoTS-3D: a person the official evaluation skips) is not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import JointSet
from .base import SourceData, finite_array, number_array, relative_image_name


def prepare_3d_annotations(joint_set: JointSet, images: list[tuple[Path, Any]],
                           keypoints: np.ndarray, anns: list[dict], files: list[Path]) -> None:
    """Fill the COCO-style ``keypoints`` (P, J, 3) of the annotations ``anns`` that lack them,
    from ``keypoints_img`` (the annotations have passed :func:`problem_3d`)."""
    sizes = {str(im.get("id")): (_size(im.get("width")), _size(im.get("height")))
             for _, im in images if isinstance(im, dict)}
    num = joint_set.num_joints
    for p, (path, a) in enumerate(zip(files, anns)):
        if a.get("keypoints") is not None:
            continue
        img = _array(path, a, "keypoints_img", (num, 2))
        width, height = sizes.get(str(a.get("image_id")), (0, 0))
        inside = (img >= 0).all(1)
        if width and height:
            inside &= (img[:, 0] < width) & (img[:, 1] < height)
        vis = np.where(inside, 2, 0)
        if a.get("keypoints_vis") is not None:
            given = _array(path, a, "keypoints_vis", (num,))
            vis = np.where(inside & (given > 0), np.where(given > 1, given, 2), 0)
        keypoints[p] = np.concatenate([np.where(vis[:, None] > 0, img, 0), vis[:, None]], 1)


def valid_annotations(anns: list[dict], rows: np.ndarray) -> np.ndarray:
    """Which of the annotations ``anns[rows]`` are not marked ``is_valid: 0`` (3DMPPE's
    MuPoTS-3D.json)."""
    return np.array([anns[c].get("is_valid", 1) not in (0, False) for c in rows], dtype=bool)


def problem_3d(a: dict, num: int) -> str | None:
    """What makes a 3D annotation unreadable (checked before any is used), or None."""
    cam = number_array(a.get("keypoints_cam"), (num, 3))
    if cam is None or not np.isfinite(cam).all():
        return f"keypoints_cam must be {num} × 3 finite numbers"
    if (cam[:, 2] <= 0).any():
        return "keypoints_cam has a joint at or behind the camera (z <= 0)"
    if a.get("keypoints") is None:
        img = number_array(a.get("keypoints_img"), (num, 2))
        if img is None or not np.isfinite(img).all():
            return f"keypoints_img must be {num} × 2 finite numbers"
        if a.get("keypoints_vis") is not None and number_array(a["keypoints_vis"], (num,)) is None:
            return f"keypoints_vis must be {num} numbers"
    return None


def attach_3d(data: SourceData, images: list[dict], persons: list[dict]) -> None:
    """Fill ``data.keypoints_cam`` and ``data.image_intrinsics`` from the 3D layout's fields."""
    num = data.joint_set.num_joints
    cam = np.array([a["keypoints_cam"] for a in persons], dtype=np.float64).reshape(-1, num, 3)
    intrinsics = []
    for im in images:
        relative_image_name(data.ann_path, im.get("file_name"))  # fine-tuning joins it, unchecked
        f, c = im.get("f"), im.get("c")
        packed = im.get("intrinsic")
        if f is None and c is None and isinstance(packed, list) and len(packed) == 4:
            f, c = packed[:2], packed[2:]
        if not (_pair(f) and _pair(c)) or min(f) <= 0:
            raise InputError(data.ann_path, f"image {im.get('id')}: intrinsics f and c (or "
                                            "intrinsic [fx, fy, cx, cy]) must be two numbers "
                                            "each, f positive")
        intrinsics.append({"f": [float(v) for v in f], "c": [float(v) for v in c]})
    data.keypoints_cam = cam
    data.image_intrinsics = intrinsics


def _size(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    return float(value) if ok and value > 0 else 0.0


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)


def _array(path: Path, ann: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
    return finite_array(path, f"annotation {ann.get('id')}", ann.get(key), key, shape)
