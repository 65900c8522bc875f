"""The 3D pose network fine-tuned from WSP (3DMPPE PoseNet / Integral Regression).

ResNet backbone → 3 × [deconv 4×4 stride 2, 256 channels, BN, ReLU] → 1×1 convolution to J·D
channels (D = 64 depth bins) → one softmax over each joint's whole (D, H, W) volume →
soft-argmax: the expected (x, y, z) in heatmap units (eq. 11). x, y map back to the crop's pixels;
z spans root-relative depth ±1000 mm. The loss is L1 on the three coordinates (eq. 12).
"""

from __future__ import annotations

import torch
from torch import nn

from ..infer.pose import DEPTH_RANGE_MM
from .backbone import BACKBONES, deconv_head, init_head, resnet_backbone

DEPTH_BINS = 64


def soft_argmax_3d(volumes: torch.Tensor) -> torch.Tensor:
    """(B, J, D, H, W) logits → (B, J, 3) expected (x, y, z) in voxel units, one softmax over each
    joint's whole volume (so the peak's position is differentiable)."""
    b, j, d, h, w = volumes.shape
    prob = torch.softmax(volumes.reshape(b, j, -1).float(), dim=-1).reshape(b, j, d, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    zs = torch.arange(d, dtype=prob.dtype, device=prob.device)
    x = (prob.sum((2, 3)) * xs).sum(-1)
    y = (prob.sum((2, 4)) * ys).sum(-1)
    z = (prob.sum((3, 4)) * zs).sum(-1)
    return torch.stack([x, y, z], -1)


class PoseNet(nn.Module):
    def __init__(self, backbone: str = "resnet50", joints: int = 17, head_channels: int = 256,
                 depth_bins: int = DEPTH_BINS, backbone_weights: str | None = None) -> None:
        super().__init__()
        self.joints, self.depth_bins = joints, depth_bins
        self.backbone = resnet_backbone(backbone, backbone_weights)
        self.deconv = deconv_head(BACKBONES[backbone], head_channels)
        self.volume = init_head(nn.Conv2d(head_channels, joints * depth_bins, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, J, 3): x, y in heatmap pixels, z in depth bins."""
        feats = self.deconv(self.backbone(image))
        b, _, h, w = feats.shape
        volumes = self.volume(feats).reshape(b, self.joints, self.depth_bins, h, w)
        return soft_argmax_3d(volumes)

    def init_from_wsp(self, state: dict[str, torch.Tensor], deconv: bool = False) -> list[str]:
        """Copy a WSP checkpoint's backbone (the heads differ and are dropped, as in the paper)
        and, with ``deconv``, its deconvolution layers too (the same shapes in both networks;
        the last 1×1 layers always differ); returns the names of the tensors copied. ValueError
        unless every tensor asked for is there with its shape (a partial or another backbone's
        checkpoint is no start)."""
        parts = ("backbone", "deconv") if deconv else ("backbone",)
        names: list[str] = []
        for part in parts:
            module = getattr(self, part)
            own = module.state_dict()
            theirs = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + ".")}
            bad = [k for k in own if k not in theirs or theirs[k].shape != own[k].shape]
            if bad:
                raise ValueError(f"{len(bad)} of {len(own)} {part} tensors missing or of another "
                                 f"shape (first: {bad[0]})")
            module.load_state_dict({k: theirs[k] for k in own})
            names += [f"{part}.{k}" for k in own]
        return sorted(names)


def pixel_to_camera(uv: torch.Tensor, depth_mm: torch.Tensor, f: torch.Tensor,
                    c: torch.Tensor) -> torch.Tensor:
    """Back-projection: image pixels (…, J, 2) at camera-frame depths (…, J) → camera-frame
    points (…, J, 3) in mm, for focal lengths f (…, 2) and principal points c (…, 2)."""
    xy = (uv - c[..., None, :]) / f[..., None, :] * depth_mm[..., None]
    return torch.cat([xy, depth_mm[..., None]], -1)


def camera_to_pixel(points: torch.Tensor, f: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Projection: camera-frame points (…, J, 3) → pixels (…, J, 2)."""
    return points[..., :2] / points[..., 2:3] * f[..., None, :] + c[..., None, :]


def decode(pred: torch.Tensor, crop_to_image: torch.Tensor, root_depth_mm: torch.Tensor,
           f: torch.Tensor, c: torch.Tensor, heatmap_size: int, input_size: int,
           root: int, depth_bins: int = DEPTH_BINS) -> torch.Tensor:
    """PoseNet output (B, J, 3) in heatmap/bin units → camera-frame joints (B, J, 3) in mm.

    x, y: heatmap pixels → crop pixels → image pixels through ``crop_to_image`` (B, 2, 3 affine);
    z: bins → root-relative mm → absolute with the root's depth (ground truth by default, as the
    field's protocol does); then back-projection with the intrinsics.
    """
    scale = input_size / heatmap_size
    crop_xy = (pred[..., :2] + 0.5) * scale - 0.5
    ones = torch.ones_like(crop_xy[..., :1])
    img_xy = torch.einsum("bij,bkj->bki", crop_to_image, torch.cat([crop_xy, ones], -1))
    rel_z = (pred[..., 2] / (depth_bins - 1) - 0.5) * DEPTH_RANGE_MM
    depth = rel_z - rel_z[:, root:root + 1] + root_depth_mm[:, None]
    return pixel_to_camera(img_xy, depth, f, c)
