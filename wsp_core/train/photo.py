"""3D poses of the persons in a photo, from a fine-tuned checkpoint (``wsp-core predict``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..skeleton import H36M, ROOT
from .data import crop_image, normalise, person_square
from .finetune import FINETUNE_TASK
from .precision import autocast
from .runner import load_trained, to_device

#: The real-world extent of a person's box in 3DMPPE (mm), for the root depth of a photo.
BOX_3D_MM = 2000.0


def detections_of(path: Path, image_path: Path) -> list[tuple[list[float], float]]:
    """(box, root depth mm) of each person a boxes-and-roots file
    (:func:`~wsp_core.formats.pose3d.read_bbox_root`) lists for this photo: entries whose
    ``image_id`` is the photo's file name or stem, or every entry when it lists one image."""
    from ..formats.pose3d import read_bbox_root

    entries = read_bbox_root(path)
    names = {Path(image_path).name, Path(image_path).stem}
    mine = entries if len({e[0] for e in entries}) == 1 else [e for e in entries if e[0] in names]
    if not mine:
        raise InputError(path, f"lists no box of image {Path(image_path).name}")
    return [(box.tolist(), float(root[2])) for _, box, root in mine]


def predict_image(ckpt: Path, image_path: Path, boxes: list[list[float]] | None = None,
                  device: str = "auto", detections: Path | None = None) -> dict[str, Any]:
    """Root-relative 3D joints (mm) and 2D joints (px) for each person box of a photo.

    A photo has no intrinsics: the focal length is taken as the image's larger side and the
    principal point as its centre; each box is cropped as 3DMPPE does (clipped, squared, ×1.25)
    and the root depth follows from the crop's side as in RootNet (Z = f · 2000 mm / side).
    Root-relative coordinates depend on these only mildly. ``detections``: a boxes-and-roots
    file (:func:`detections_of`) whose boxes are cropped as they are, at their roots' depths.
    """
    from ..models.posenet import decode

    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(image_path, "cannot read the image (JPEG or PNG expected)")
    h, w = image.shape[:2]
    found = detections_of(detections, image_path) if detections is not None else []
    source = str(detections) if found else "given" if boxes else "whole image"
    boxes = [b for b, _ in found] or boxes or [[0.0, 0.0, float(w), float(h)]]
    for box in boxes:
        if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            raise InputError(image_path, f"box {box} is not x,y,w,h with a positive size")
    model, cfg, _, dev = load_trained(ckpt, FINETUNE_TASK, device, init="none")
    f, c = float(max(w, h)), (w / 2.0, h / 2.0)
    crops, inverses, roots = [], [], []
    for k, box in enumerate(boxes):
        centre, side = person_square(box, w, h) if not found else \
            (np.array([box[0] + box[2] / 2, box[1] + box[3] / 2]), max(box[2], box[3]))
        crop, m = crop_image(image, centre, side, 0.0, cfg.input_size)
        crops.append(normalise(crop))
        inverses.append(cv2.invertAffineTransform(m))
        roots.append(found[k][1] if found else f * BOX_3D_MM / side)
    n = len(boxes)
    images = to_device({"image": torch.from_numpy(np.stack(crops))}, dev, cfg)["image"]
    with torch.inference_mode():
        with autocast(dev, cfg):
            out = model(images).float()
        cam = decode(out, torch.tensor(np.stack(inverses), dtype=torch.float32, device=dev),
                     torch.tensor(roots, dtype=torch.float32, device=dev),
                     torch.tensor([[f, f]] * n, device=dev), torch.tensor([c] * n, device=dev),
                     cfg.input_size // 4, cfg.input_size, ROOT, cfg.depth_bins).cpu().numpy()
    px = cam[..., :2] / cam[..., 2:] * f + np.array(c)
    persons = [{"box": [round(float(v), 2) for v in box],
                "joints_mm": np.round(cam[k] - cam[k, ROOT], 1).tolist(),
                "joints_px": np.round(px[k], 1).tolist()} for k, box in enumerate(boxes)]
    return {"image": str(image_path), "checkpoint": str(ckpt), "joints": list(H36M.joints),
            "root": H36M.joints[ROOT], "boxes": source,
            "roots": str(detections) if found else "box-size prior", "persons": persons}
