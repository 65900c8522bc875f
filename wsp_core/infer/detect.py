"""Person boxes without drawing them: a detector maps a BGR image to scored person boxes
[x, y, w, h] (pixels), kept above a score threshold after non-maximum suppression.

- :class:`HogDetector`, the offline default: OpenCV's HOG people detector (Dalal & Triggs 2005,
  a linear SVM trained on INRIA Person, its coefficients inside OpenCV 4). It needs no download
  and is weak: upright, whole, unoccluded people of at least ~100 px; it misses sitting, lying,
  cut-off and crowded people and finds some false ones. Its SVM margin is the score.
- :class:`OnnxDetector`: any ONNX person detector (an exported YOLO or RTMDet), run with ONNX
  Runtime. Input: one image (1, 3, H, W) float RGB in 0…1, letterboxed (aspect kept, padded with
  grey 114) to the model's fixed size, or to ``size`` when the model's size is dynamic. Output
  layouts (``layout``; "auto" picks by shape, docs/APP.md): ``xyxy``, rows of [x1, y1, x2, y2,
  score(, class)] in input pixels (end-to-end exports with NMS inside; a second output of class
  ids is read when present); ``yolov8``, (1, 4 + C, A) [cx, cy, w, h, class scores…]
  (YOLOv8/YOLO11 raw heads); ``yolov5``, (1, A, 5 + C) [cx, cy, w, h, objectness, class
  scores…]. Only class ``person_class`` (COCO's 0, person) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import InputError

#: Scores below this are dropped (an ONNX detector's class probability; HOG's SVM margin, whose
#: scale differs: 0.8 keeps 15 of the 23 large whole persons of a 40-image synthetic world at
#: 72 % precision, docs/APP.md); overlapping boxes above this IoU are suppressed.
SCORE_MIN, HOG_SCORE_MIN, IOU_MAX = 0.3, 0.8, 0.45
LAYOUTS = ("auto", "xyxy", "yolov8", "yolov5")


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]   # x, y, w, h (px)
    score: float


class Detector(Protocol):
    name: str

    def __call__(self, image: np.ndarray) -> list[Detection]: ...


def iou(a, b) -> float:
    """Intersection over union of two [x, y, w, h] boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def nms(found: list[Detection], iou_max: float = IOU_MAX,
        score_min: float = SCORE_MIN) -> list[Detection]:
    """Greedy non-maximum suppression: best score first, each box kept unless it overlaps a kept
    one by more than ``iou_max``; boxes scoring under ``score_min`` or of no area dropped."""
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: -d.score):
        if d.score >= score_min and d.box[2] > 0 and d.box[3] > 0 \
                and all(iou(d.box, k.box) <= iou_max for k in kept):
            kept.append(d)
    return kept


def clip_box(box, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
    x1, y1 = min(float(width), float(box[0] + box[2])), min(float(height), float(box[1] + box[3]))
    return (round(x0, 1), round(y0, 1), round(max(0.0, x1 - x0), 1), round(max(0.0, y1 - y0), 1))


class HogDetector:
    """OpenCV's HOG + linear SVM people detector (see the module's notes: weak, offline).

    The image is scaled so that its longer side is ``work_side`` px (people then need to be at
    least ~100 px tall in it); OpenCV's window (64 × 128) holds a person of ~96 px with margins,
    so each window is shrunk to the person inside it (``PERSON_IN_WINDOW``)."""

    name = "hog"
    #: (x0, y0, w, h) of the person inside a 64 × 128 detection window, as fractions.
    PERSON_IN_WINDOW = (0.19, 0.09, 0.62, 0.84)

    def __init__(self, score_min: float = HOG_SCORE_MIN, iou_max: float = IOU_MAX,
                 work_side: int = 800) -> None:
        if not hasattr(cv2, "HOGDescriptor"):
            raise InputError("opencv", f"OpenCV {cv2.__version__} has no HOG people detector "
                                       "(OpenCV 5 moved it out): pip install "
                                       "'opencv-python-headless<5', or give --detector FILE.onnx")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.score_min, self.iou_max, self.work_side = score_min, iou_max, work_side

    def __call__(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        s = self.work_side / max(h, w)
        small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                           interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(16, 16),
                                                   scale=1.05)
        fx, fy, fw, fh = self.PERSON_IN_WINDOW
        found = [Detection(clip_box(((x + fx * rw) / s, (y + fy * rh) / s, fw * rw / s,
                                     fh * rh / s), w, h), float(score))
                 for (x, y, rw, rh), score in zip(np.reshape(rects, (-1, 4)),
                                                  np.ravel(weights))]
        return nms(found, self.iou_max, self.score_min)


class OnnxDetector:
    """An ONNX person detector run with ONNX Runtime (layouts in the module's notes)."""

    def __init__(self, path: Path, score_min: float = SCORE_MIN, iou_max: float = IOU_MAX,
                 layout: str = "auto", size: int = 640, person_class: int = 0) -> None:
        from .onnx_runtime import session

        if layout not in LAYOUTS:
            raise InputError(path, f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
        self.path, self.name = Path(path), f"onnx:{Path(path).name}"
        self.session = session(self.path)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        dims = list(first.shape)
        if len(dims) != 4:
            raise InputError(path, f"the detector's input {first.name} has shape {dims}; "
                                   "expected (1, 3, H, W)")
        fixed = [d if isinstance(d, int) and d > 0 else None for d in dims[2:]]
        self.input_hw = (fixed[0] or size, fixed[1] or size)
        self.score_min, self.iou_max = score_min, iou_max
        self.layout, self.person_class = layout, person_class

    def __call__(self, image: np.ndarray) -> list[Detection]:
        tensor, scale, pad = letterbox(image, self.input_hw)
        outputs = self.session.run(None, {self.input_name: tensor})
        rows = self._rows(outputs)                                    # (n, 5): x1 y1 x2 y2 score
        h, w = image.shape[:2]
        found = []
        for x1, y1, x2, y2, score in rows:
            x1, x2 = (x1 - pad[0]) / scale, (x2 - pad[0]) / scale
            y1, y2 = (y1 - pad[1]) / scale, (y2 - pad[1]) / scale
            found.append(Detection(clip_box((x1, y1, x2 - x1, y2 - y1), w, h), float(score)))
        return nms(found, self.iou_max, self.score_min)

    def _rows(self, outputs: list[np.ndarray]) -> np.ndarray:
        """The person rows [x1, y1, x2, y2, score] in input pixels, whatever the layout."""
        out = np.asarray(outputs[0], dtype=np.float64)
        layout = self.layout if self.layout != "auto" else guess_layout(out)
        if layout == "xyxy":
            rows = out.reshape(-1, out.shape[-1])
            if rows.shape[1] not in (5, 6):
                raise InputError(self.path, f"output {out.shape}: xyxy rows need 5 or 6 values")
            classes = rows[:, 5] if rows.shape[1] == 6 else \
                np.ravel(outputs[1]) if len(outputs) > 1 and np.size(outputs[1]) == len(rows) \
                else np.full(len(rows), self.person_class)
            return rows[classes.astype(int) == self.person_class, :5]
        if layout == "yolov8":
            pred = out.reshape(out.shape[-2], out.shape[-1]).T        # (A, 4 + C)
            score = pred[:, 4 + self.person_class]
        else:
            pred = out.reshape(out.shape[-2], out.shape[-1])          # (A, 5 + C)
            score = pred[:, 4] * (pred[:, 5 + self.person_class] if pred.shape[1] > 5 else 1.0)
        keep = score >= self.score_min
        cx, cy, bw, bh = (pred[keep, k] for k in range(4))
        return np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score[keep]], 1)


def guess_layout(out: np.ndarray) -> str:
    """The layout of a detector's first output from its shape: a long last axis is YOLOv8's
    (1, 4 + C, anchors); thousands of rows of ≥ 6 values YOLOv5's; else end-to-end rows."""
    if out.ndim == 3 and out.shape[-1] > out.shape[-2] >= 5:
        return "yolov8"
    if out.ndim == 3 and out.shape[-1] >= 6 and out.shape[-2] >= 1000:
        return "yolov5"
    return "xyxy"


def letterbox(image: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, float, tuple[int, int]]:
    """(1, 3, H, W) float RGB 0…1 of a BGR image scaled to fit (aspect kept) and padded with
    grey 114 (centred); with the scale and the (x, y) padding."""
    h, w = image.shape[:2]
    scale = min(hw[0] / h, hw[1] / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    pad = ((hw[1] - nw) // 2, (hw[0] - nh) // 2)
    canvas = np.full((hw[0], hw[1], 3), 114, dtype=np.uint8)
    canvas[pad[1]:pad[1] + nh, pad[0]:pad[0] + nw] = cv2.resize(image, (nw, nh),
                                                                interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None]), scale, pad


def make_detector(path: Path | None = None, score_min: float | None = None,
                  iou_max: float = IOU_MAX, layout: str = "auto") -> Detector:
    """The ONNX detector at ``path``, or the HOG default; ``score_min`` None: the detector's
    own default threshold."""
    if path is None:
        return HogDetector(HOG_SCORE_MIN if score_min is None else score_min, iou_max)
    return OnnxDetector(path, SCORE_MIN if score_min is None else score_min, iou_max, layout)
