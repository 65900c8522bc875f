"""The fine-tuned 3D network of a checkpoint as a :class:`~wsp_core.infer.pose.PoseNetwork`
(torch; bf16 where :mod:`.precision` says), for ``wsp-core predict`` on photos, folders and
videos (:mod:`wsp_core.infer`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .finetune import FINETUNE_TASK
from .precision import autocast
from .runner import load_trained, to_device


class TorchPoseNetwork:
    """A fine-tuned checkpoint's PoseNet, in eval mode on ``device``."""

    def __init__(self, ckpt: Path, device: str = "auto") -> None:
        self.model, self.cfg, _, self.device = load_trained(ckpt, FINETUNE_TASK, device,
                                                            init="none")
        self.input_size, self.depth_bins = self.cfg.input_size, self.cfg.depth_bins
        self.source = str(ckpt)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        images = to_device({"image": torch.from_numpy(crops)}, self.device, self.cfg)["image"]
        with torch.inference_mode(), autocast(self.device, self.cfg):
            return self.model(images).float().cpu().numpy()
