"""3D poses of the persons in a photo, from a fine-tuned checkpoint (``wsp-core predict``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..skeleton import H36M, ROOT
from .data import crop_image, normalise
from .finetune import FINETUNE_TASK
from .runner import load_trained

#: The real-world extent of a person's box in 3DMPPE (mm), for the root depth of a photo.
BOX_3D_MM = 2000.0


def predict_image(ckpt: Path, image_path: Path, boxes: list[list[float]] | None = None,
                  device: str = "auto") -> dict[str, Any]:
    """Root-relative 3D joints (mm) and 2D joints (px) for each person box of a photo.

    A photo has no intrinsics: the focal length is taken as the image's larger side and the
    principal point as its centre; the root depth follows from the box size as in RootNet
    (Z = f · 2000 mm / box side). Root-relative coordinates depend on these only mildly.
    """
    from ..models.posenet import decode

    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(image_path, "cannot read the image (JPEG or PNG expected)")
    h, w = image.shape[:2]
    boxes = boxes or [[0.0, 0.0, float(w), float(h)]]
    for box in boxes:
        if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            raise InputError(image_path, f"box {box} is not x,y,w,h with a positive size")
    model, cfg, _, dev = load_trained(ckpt, FINETUNE_TASK, device, init="none")
    f, c = float(max(w, h)), (w / 2.0, h / 2.0)
    crops, inverses, roots = [], [], []
    for x, y, bw, bh in boxes:
        side = max(bw, bh)
        crop, m = crop_image(image, np.array([x + bw / 2, y + bh / 2]), side, 0.0, cfg.input_size)
        crops.append(normalise(crop))
        inverses.append(cv2.invertAffineTransform(m))
        roots.append(f * BOX_3D_MM / side)
    n = len(boxes)
    with torch.inference_mode():
        out = model(torch.from_numpy(np.stack(crops)).to(dev)).float()
        cam = decode(out, torch.tensor(np.stack(inverses), dtype=torch.float32, device=dev),
                     torch.tensor(roots, dtype=torch.float32, device=dev),
                     torch.tensor([[f, f]] * n, device=dev), torch.tensor([c] * n, device=dev),
                     cfg.input_size // 4, cfg.input_size, ROOT, cfg.depth_bins).cpu().numpy()
    px = cam[..., :2] / cam[..., 2:] * f + np.array(c)
    persons = [{"box": [round(float(v), 2) for v in box],
                "joints_mm": np.round(cam[k] - cam[k, ROOT], 1).tolist(),
                "joints_px": np.round(px[k], 1).tolist()} for k, box in enumerate(boxes)]
    return {"image": str(image_path), "checkpoint": str(ckpt), "joints": list(H36M.joints),
            "root": H36M.joints[ROOT], "persons": persons}
