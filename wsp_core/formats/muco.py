"""The 3D multi-person COCO-style layout of the 3DMPPE code: MuCo-3DHP (``--format muco``, 21
joints), MuPoTS-3D (``--format mupots``, MuCo's first 17) and the synthetic world (``synth``,
the same layout with every canonical joint).

Images carry intrinsics ``f: [fx, fy]`` and ``c: [cx, cy]``; annotations carry ``keypoints_cam``
(J × 3, mm, camera frame) and ``keypoints_img`` (J × 2, px) in the same joint order, and may
carry COCO-style ``keypoints`` with visibility (the synthetic world does) or ``keypoints_vis``.
Where ``keypoints`` is absent (MuCo), it is made from ``keypoints_img``: a joint inside the image
is labelled (visibility 2, or ``keypoints_vis`` when given), one outside is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import JointSet
from .base import SourceData, relative_image_name


def prepare_3d_annotations(joint_set: JointSet, images: list[tuple[Path, Any]],
                           anns: list[tuple[Path, Any]]) -> None:
    """Give every annotation COCO-style ``keypoints`` (in place) when the file lacks them."""
    sizes = {str(im.get("id")): (_size(im.get("width")), _size(im.get("height")))
             for _, im in images if isinstance(im, dict)}
    num = joint_set.num_joints
    for path, a in anns:
        if not isinstance(a, dict) or a.get("keypoints") is not None:
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
        a["keypoints"] = np.concatenate([np.where(vis[:, None] > 0, img, 0), vis[:, None]],
                                        1).ravel().tolist()


def attach_3d(data: SourceData, images: list[dict], persons: list[dict], files: list[Path]) -> None:
    """Fill ``data.keypoints_cam`` and ``data.image_intrinsics`` from the 3D layout's fields."""
    num = data.joint_set.num_joints
    cam = np.zeros((len(persons), num, 3))
    for p, a in enumerate(persons):
        cam[p] = _array(files[p], a, "keypoints_cam", (num, 3))
    if (cam[..., 2] <= 0).any():
        p = int(np.flatnonzero((cam[..., 2] <= 0).any(1))[0])
        raise InputError(files[p], f"annotation {persons[p]['id']}: keypoints_cam has a joint "
                                   "at or behind the camera (z <= 0)")
    intrinsics = []
    for im in images:
        relative_image_name(data.ann_path, im.get("file_name"))  # fine-tuning joins it, unchecked
        f, c = im.get("f"), im.get("c")
        if not (_pair(f) and _pair(c)) or min(f) <= 0:
            raise InputError(data.ann_path, f"image {im.get('id')}: intrinsics f and c must be "
                                            "two numbers each, f positive")
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
    try:
        out = np.asarray(ann.get(key), dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != shape or not np.isfinite(out).all():
        raise InputError(path, f"annotation {ann.get('id')}: {key} must be {' × '.join(map(str, shape))} "
                               "finite numbers")
    return out
