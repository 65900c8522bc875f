"""3D poses of the persons in one image, from any pose network that maps crops to PoseNet's
output: crop each box as 3DMPPE does, run the network (torch or ONNX Runtime: a
:class:`PoseNetwork`), and decode its (x, y) heatmap pixels and z depth bins to root-relative and
camera-space joints (mm) and image pixels, with each person's root depth taken from a
boxes-and-roots file or estimated from its box (:mod:`~wsp_core.infer.camera`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from ..skeleton import H36M, ROOT
from .camera import Focal, root_depth_mm
from .crops import crop_image, normalise, person_square

#: PoseNet's depth bins span root-relative depths of ±1000 mm.
DEPTH_RANGE_MM = 2000.0
#: Crops per forward pass.
BATCH = 16


class PoseNetwork(Protocol):
    """A fine-tuned 3D pose network: (B, 3, S, S) normalised crops → (B, J, 3) with x, y in
    heatmap pixels (S / 4 across) and z in depth bins (0 … depth_bins − 1)."""

    input_size: int
    depth_bins: int
    source: str          # what it is, for the output (a checkpoint's or an ONNX file's path)

    def __call__(self, crops: np.ndarray) -> np.ndarray: ...


@dataclass
class PersonBox:
    """A person to predict: its box [x, y, w, h] px, the detector's score, and its root depth
    (mm) when a boxes-and-roots file knows it (its box is then cropped as it is: RootNet's boxes
    are already extended)."""

    box: list[float]
    score: float | None = None
    root_mm: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def to_camera(pred: np.ndarray, crop_to_image: np.ndarray, root_mm: np.ndarray, focal: float,
              centre: tuple[float, float], input_size: int, depth_bins: int) -> np.ndarray:
    """PoseNet output (B, J, 3) → camera-frame joints (B, J, 3) mm: x, y from heatmap to crop
    pixels (S/4 → S, pixel centres kept) and through the inverse crop affines (B, 2, 3) to image
    pixels; z from bins to ±1000 mm about the root, placed at the root's depth; then back-
    projected with focal length ``focal`` and principal point ``centre``."""
    scale = input_size / (input_size // 4)
    crop_xy = (pred[..., :2] + 0.5) * scale - 0.5
    homog = np.concatenate([crop_xy, np.ones_like(crop_xy[..., :1])], -1)
    image_xy = np.einsum("bij,bkj->bki", crop_to_image, homog)
    rel_z = (pred[..., 2] / (depth_bins - 1) - 0.5) * DEPTH_RANGE_MM
    depth = rel_z - rel_z[:, ROOT:ROOT + 1] + np.asarray(root_mm, dtype=np.float64)[:, None]
    xy = (image_xy - np.asarray(centre)) / focal * depth[..., None]
    return np.concatenate([xy, depth[..., None]], -1)


def predict_persons(image: np.ndarray, persons: list[PersonBox], network: PoseNetwork,
                    focal: Focal) -> list[dict[str, Any]]:
    """Each person's root-relative joints (mm), camera-space joints (mm), joints in image pixels
    and root depth, for a BGR image; the principal point is the image's centre."""
    if not persons:
        return []
    h, w = image.shape[:2]
    crops, inverses, roots = [], [], []
    for person in persons:
        x, y, bw, bh = person.box
        centre, side = person_square(person.box, w, h) if person.root_mm is None else \
            (np.array([x + bw / 2.0, y + bh / 2.0]), max(bw, bh))
        crop, m = crop_image(image, centre, side, 0.0, network.input_size)
        crops.append(normalise(crop))
        inverses.append(cv2.invertAffineTransform(m))
        roots.append(person.root_mm if person.root_mm is not None else root_depth_mm(side, focal.px))
    batch = np.stack(crops).astype(np.float32)
    pred = np.concatenate([network(batch[k:k + BATCH]) for k in range(0, len(batch), BATCH)])
    centre = (w / 2.0, h / 2.0)
    cam = to_camera(pred.astype(np.float64), np.stack(inverses), np.array(roots), focal.px,
                    centre, network.input_size, network.depth_bins)
    px = cam[..., :2] / cam[..., 2:] * focal.px + np.array(centre)
    out = []
    for k, person in enumerate(persons):
        row = {"box": [round(float(v), 2) for v in person.box]}
        if person.score is not None:
            row["score"] = round(float(person.score), 4)
        row.update({"root_depth_mm": round(float(roots[k]), 1),
                    "root_source": "given" if person.root_mm is not None else "box-size prior",
                    "joints_mm": np.round(cam[k] - cam[k, ROOT], 1).tolist(),
                    "joints_cam_mm": np.round(cam[k], 1).tolist(),
                    "joints_px": np.round(px[k], 1).tolist(), **person.extra})
        out.append(row)
    return out


def frame_result(name: str, image: np.ndarray, persons: list[PersonBox], network: PoseNetwork,
                 focal: Focal, boxes_from: str) -> dict[str, Any]:
    """One image's (or video frame's) prediction as ``wsp-core predict`` writes it."""
    h, w = image.shape[:2]
    return {"image": name, "width": w, "height": h, "model": network.source,
            "joints": list(H36M.joints), "root": H36M.joints[ROOT],
            "focal_px": round(focal.px, 2), "focal_source": focal.source, "boxes": boxes_from,
            "persons": predict_persons(image, persons, network, focal)}

