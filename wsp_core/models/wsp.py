"""The WSP pre-training network (the paper's eq. 5–10).

ResNet backbone → 3 deconvolutions (4×4, stride 2, BN, ReLU) → features F (D × h × h, h = input/4)
and a 1×1 convolution → heatmaps M (J × h × h). Joint features F^j = F ⊗ M^j (eq. 5), pooled
inside each person's box: F_P^j = Σ_box F · relu(M^j) / Σ_box relu(M^j), a (J, D) matrix per
person. For N joints, a fully connected network on F_A^j ⊕ F_B^j gives the logit that A's joint
is closer (eq. 6). The loss is L_hm + α·L_rd (eq. 8): L_hm the squared L2 norm of each joint's
heatmap error averaged over joints and samples (eq. 10), L_rd the binary cross-entropy of the
sampled joints (eq. 9). ``detach_masks`` stops the relative-depth gradient at the heatmaps that
mask the features (the paper is silent; docs/TRAINING.md measures both). The heads start as
3DMPPE's (normal, std 0.001; :func:`~wsp_core.models.backbone.init_head`). We mask the head's
deconvolved features rather than the backbone's 1/32-scale ones: they share the heatmaps'
resolution (docs/adr/0006-wsp-joint-features.md).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .backbone import BACKBONES, deconv_head, init_head, resnet_backbone

__all__ = ["BACKBONES", "WSPNet", "box_masks", "heatmap_loss", "heatmap_scores", "wsp_loss"]

#: A joint is found when its heatmap's peak inside the person's box is this close (map pixels).
PEAK_TOLERANCE = 2.0


def box_masks(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B, P, size, size) 1 inside each box (x0, y0, x1, y1 in map pixels), else 0."""
    grid = torch.arange(size, device=boxes.device, dtype=boxes.dtype) + 0.5
    x0, y0, x1, y1 = (boxes[..., k, None] for k in range(4))
    inside_x = (grid >= x0) & (grid <= x1)
    inside_y = (grid >= y0) & (grid <= y1)
    return (inside_y[..., :, None] & inside_x[..., None, :]).to(boxes.dtype)


class WSPNet(nn.Module):
    def __init__(self, backbone: str = "resnet50", joints: int = 21, head_channels: int = 256,
                 rd_hidden: int = 256, backbone_weights: str | None = None,
                 detach_masks: bool = False) -> None:
        super().__init__()
        self.backbone = resnet_backbone(backbone, backbone_weights)
        self.deconv = deconv_head(BACKBONES[backbone], head_channels)
        self.heatmap = init_head(nn.Conv2d(head_channels, joints, 1))
        self.detach_masks = detach_masks
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
        # detach_masks: the relative-depth loss trains the features, never the heatmaps
        pooled = self.joint_features(feats, heat.detach() if self.detach_masks else heat, boxes)
        index = joints[:, None, :, None].expand(-1, 2, -1, pooled.shape[-1])
        picked = torch.gather(pooled, 2, index)                             # (B, 2, N, D)
        logits = self.rd(torch.cat([picked[:, 0], picked[:, 1]], -1)).squeeze(-1)
        return heat, logits


def heatmap_loss(heat: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Eq. 10: the squared L2 norm of each (sample, joint) heatmap's error, summed over the
    map's pixels, averaged over the (sample, joint) pairs the source labels (weight 1)."""
    per_map = ((heat.float() - target) ** 2).sum((-2, -1))                  # (B, J)
    return (per_map * weight).sum() / weight.sum().clamp(min=1.0)


def wsp_loss(heat: torch.Tensor, logits: torch.Tensor, batch: dict[str, torch.Tensor],
             alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 8: L = L_hm + α·L_rd. L_hm as eq. 10 (:func:`heatmap_loss`); L_rd (eq. 9): binary
    cross-entropy of every sampled joint's logit against the pair's label, averaged."""
    l_hm = heatmap_loss(heat, batch["heatmap"], batch["hm_weight"])
    target = batch["label"][:, None].expand_as(logits)
    l_rd = F.binary_cross_entropy_with_logits(logits.float(), target)
    return l_hm + alpha * l_rd, l_hm, l_rd


def heatmap_scores(heat: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sums over a batch: (eq. 10 loss, all-zero output's eq. 10 loss, labelled maps, joints
    found, joints labelled, visible joints found, visible joints, joints found by the refined
    peak, visible joints found by it). A person's labelled joint inside the map is found when
    the peak of its joint's heatmap inside the person's box lies within
    :data:`PEAK_TOLERANCE` pixels; visible: labelled and seen (visibility 2, COCO's convention;
    a joint hidden behind someone is 1). The refined peak is the field's usual decoding of a
    heatmap (SimpleBaselines' and HRNet's ``get_final_preds``, mmpose's default): the argmax
    moved a quarter pixel towards the higher of its two neighbours along each axis."""
    weight = batch["hm_weight"]
    err = ((heat.float() - batch["heatmap"]) ** 2).sum((-2, -1))
    zero = (batch["heatmap"] ** 2).sum((-2, -1))
    size = heat.shape[-1]
    joints = batch["hm_joints"]                                              # (B, 2, J, 3)
    inside = (joints[..., :2] >= 0).all(-1) & (joints[..., :2] <= size - 1).all(-1)
    labelled = (joints[..., 2] > 0) & inside & (weight[:, None] > 0)
    masks = box_masks(batch["boxes"], size).bool()                           # (B, 2, h, w)
    scores = heat.float()[:, None].masked_fill(~masks[:, :, None], float("-inf"))
    peak = scores.flatten(-2).argmax(-1)                                     # (B, 2, J)
    xy = torch.stack([peak % size, peak // size], -1).float()
    found = ((xy - joints[..., :2]).norm(dim=-1) <= PEAK_TOLERANCE) & labelled
    refined = ((xy + quarter_offset(scores, peak) - joints[..., :2]).norm(dim=-1)
               <= PEAK_TOLERANCE) & labelled
    visible = labelled & (joints[..., 2] >= 2)
    return torch.stack([(err * weight).sum(), (zero * weight).sum(), weight.sum(),
                        found.sum().float(), labelled.sum().float(),
                        (found & visible).sum().float(), visible.sum().float(),
                        refined.sum().float(), (refined & visible).sum().float()]).double()


def quarter_offset(scores: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """(..., 2) offsets of a quarter pixel from each argmax ``peak`` (flat index into the last
    two dims of ``scores``) towards its higher neighbour in x and in y, as HRNet's
    ``get_final_preds`` moves them: only for a peak with ``1 < x < W - 1`` and
    ``1 < y < H - 1`` (else no move); a neighbour outside the person's box (-inf) counts as
    lower."""
    size = scores.shape[-1]
    flat = scores.flatten(-2)
    x, y = peak % size, peak // size
    inside = (x > 1) & (x < size - 1) & (y > 1) & (y < size - 1)

    def at(index: torch.Tensor) -> torch.Tensor:
        return flat.gather(-1, index.clamp(0, size * size - 1).unsqueeze(-1)).squeeze(-1)

    offsets = []
    for step in (1, size):
        diff = torch.nan_to_num(at(peak + step) - at(peak - step), nan=0.0, posinf=1.0,
                                neginf=-1.0)
        offsets.append(torch.where(inside, 0.25 * torch.sign(diff), torch.zeros_like(diff)))
    return torch.stack(offsets, -1)
