"""The WSP pre-training network (the paper's eq. 5–10).

ResNet backbone → 3 deconvolutions (4×4, stride 2, BN, ReLU) → features F (D × h × h, h = input/4)
and a 1×1 convolution → heatmaps M (J × h × h). Joint features F^j = F ⊗ M^j (eq. 5), pooled
inside each person's box: F_P^j = Σ_box F · relu(M^j) / Σ_box relu(M^j), a (J, D) matrix per
person. For N joints, a fully connected network on F_A^j ⊕ F_B^j gives the logit that A's joint
is closer (eq. 6). The loss is L_hm + α·L_rd: L2 on heatmaps, binary cross-entropy on relative
depth (eq. 8–10). We mask the head's deconvolved features rather than the backbone's 1/32-scale
ones: they share the heatmaps' resolution (docs/adr/0006-wsp-joint-features.md).
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from ..errors import InputError

BACKBONES = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}


def resnet_backbone(name: str, weights: str | None = None) -> nn.Sequential:
    """A torchvision ResNet up to layer4 (random init, or a torchvision state dict from a file)."""
    if name not in BACKBONES:
        raise InputError("backbone", f"unknown backbone {name!r}; one of {', '.join(BACKBONES)}")
    net = getattr(torchvision.models, name)(weights=None)
    if weights:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
            raise InputError(weights, f"not a readable torchvision state dict ({e})") from None
        missing, unexpected = net.load_state_dict(state, strict=False)
        if [k for k in missing if not k.startswith("fc.")]:
            raise InputError(weights, f"not a {name} state dict (missing {missing[:3]})")
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2,
                         net.layer3, net.layer4)


def deconv_head(in_channels: int, channels: int, layers: int = 3) -> nn.Sequential:
    blocks: list[nn.Module] = []
    for k in range(layers):
        blocks += [nn.ConvTranspose2d(in_channels if k == 0 else channels, channels, 4, 2, 1,
                                      bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*blocks)


def box_masks(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B, P, size, size) 1 inside each box (x0, y0, x1, y1 in map pixels), else 0."""
    grid = torch.arange(size, device=boxes.device, dtype=boxes.dtype) + 0.5
    x0, y0, x1, y1 = (boxes[..., k, None] for k in range(4))
    inside_x = (grid >= x0) & (grid <= x1)
    inside_y = (grid >= y0) & (grid <= y1)
    return (inside_y[..., :, None] & inside_x[..., None, :]).to(boxes.dtype)


class WSPNet(nn.Module):
    def __init__(self, backbone: str = "resnet50", joints: int = 21, head_channels: int = 256,
                 rd_hidden: int = 256, backbone_weights: str | None = None) -> None:
        super().__init__()
        self.backbone = resnet_backbone(backbone, backbone_weights)
        self.deconv = deconv_head(BACKBONES[backbone], head_channels)
        self.heatmap = nn.Conv2d(head_channels, joints, 1)
        self.rd = nn.Sequential(nn.Linear(2 * head_channels, rd_hidden), nn.ReLU(inplace=True),
                                nn.Linear(rd_hidden, 1))

    def joint_features(self, feats: torch.Tensor, heat: torch.Tensor,
                       boxes: torch.Tensor) -> torch.Tensor:
        """(B, 2, J, D): each person's features masked by each joint's heatmap, pooled in its box."""
        masks = box_masks(boxes, feats.shape[-1]).to(feats.dtype)        # (B, 2, h, w)
        weight = F.relu(heat)[:, None] * masks[:, :, None]                 # (B, 2, J, h, w)
        pooled = torch.einsum("bdhw,bpjhw->bpjd", feats, weight)
        return pooled / (weight.sum((-2, -1))[..., None] + 1e-6)

    def forward(self, image: torch.Tensor, boxes: torch.Tensor,
                joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps (B, J, h, h) and relative-depth logits (B, N) for the joints asked for (B, N)."""
        feats = self.deconv(self.backbone(image))
        heat = self.heatmap(feats)
        pooled = self.joint_features(feats, heat, boxes)
        index = joints[:, None, :, None].expand(-1, 2, -1, pooled.shape[-1])
        picked = torch.gather(pooled, 2, index)                             # (B, 2, N, D)
        logits = self.rd(torch.cat([picked[:, 0], picked[:, 1]], -1)).squeeze(-1)
        return heat, logits


def wsp_loss(heat: torch.Tensor, logits: torch.Tensor, batch: dict[str, torch.Tensor],
             alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L = L_hm + α·L_rd. L_hm: mean squared error over the joints the source labels; L_rd:
    binary cross-entropy of every sampled joint against the pair's label."""
    weight = batch["hm_weight"][..., None, None]
    l_hm = ((heat.float() - batch["heatmap"]) ** 2 * weight).mean()
    target = batch["label"][:, None].expand_as(logits)
    l_rd = F.binary_cross_entropy_with_logits(logits.float(), target)
    return l_hm + alpha * l_rd, l_hm, l_rd
