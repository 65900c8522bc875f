"""A person's square crop as 3DMPPE cuts it (its ``process_bbox``), and the network's input
normalisation: shared by training (:mod:`wsp_core.train`) and prediction (torch-free)."""

from __future__ import annotations

import cv2
import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: A person's crop spans this many times its (clipped, squared) box, as 3DMPPE's process_bbox.
BOX_MARGIN = 1.25


def crop_affine(centre: np.ndarray, side: float, rotation_deg: float, out: int) -> np.ndarray:
    """2×3 affine taking the square of ``side`` around ``centre`` (rotated) to out × out px."""
    s = out / side
    a = np.radians(rotation_deg)
    cos, sin = np.cos(a) * s, np.sin(a) * s
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    m[:, 2] = out / 2.0 - m[:, :2] @ centre
    return m


def person_square(box, width: int, height: int) -> tuple[np.ndarray, float]:
    """(centre, side) of the square crop around a person box [x, y, w, h], as 3DMPPE's
    ``process_bbox`` makes it for a square input: the box clipped to the image (its far edge at
    x + w − 1), widened to the input's aspect ratio (1: the longer side), then ×1.25. A box that
    clipping empties keeps its unclipped extent."""
    x, y, w, h = (float(v) for v in box)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
    if w * h > 0 and x2 >= x1 and y2 >= y1:
        x, y, w, h = x1, y1, x2 - x1, y2 - y1
    return np.array([x + w / 2.0, y + h / 2.0]), max(w, h, 1.0) * BOX_MARGIN


def crop_image(image: np.ndarray, centre: np.ndarray, side: float, rotation_deg: float,
               out: int) -> tuple[np.ndarray, np.ndarray]:
    """The square of ``side`` around ``centre`` (rotated) of a BGR image as an RGB float crop
    (out, out, 3) in 0…1, and the 2×3 affine from image to crop pixels."""
    m = crop_affine(centre, side, rotation_deg, out)
    return warp_crop(image, m, out), m


def warp_crop(image: np.ndarray, m: np.ndarray, out: int) -> np.ndarray:
    """A BGR image warped by the 2×3 affine ``m`` to an out × out RGB float crop in 0…1
    (bilinear, zeros outside the image)."""
    return warp_crop_uint8(image, m, out).astype(np.float32) / 255.0


def warp_crop_uint8(image: np.ndarray, m: np.ndarray, out: int) -> np.ndarray:
    """:func:`warp_crop`'s crop before the conversion to float: (out, out, 3) uint8 RGB."""
    crop = cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_LINEAR)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def normalise(crop: np.ndarray) -> np.ndarray:
    """An RGB crop (H, W, 3) in 0…1 as the network's (3, H, W) input (ImageNet mean and std)."""
    return np.ascontiguousarray(((crop - MEAN) / STD).transpose(2, 0, 1))
