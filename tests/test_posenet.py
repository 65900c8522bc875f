"""The 3D head's building blocks: soft-argmax, back-projection, decoding, WSP initialisation."""

import numpy as np
import pytest
import torch

from wsp_core.models.posenet import (DEPTH_BINS, PoseNet, camera_to_pixel, decode, pixel_to_camera,
                                     soft_argmax_3d)


def test_soft_argmax_recovers_a_known_peak():
    vol = torch.full((1, 2, 8, 16, 16), -30.0)
    vol[0, 0, 3, 5, 11] = 30.0                     # joint 0 at x 11, y 5, z 3
    vol[0, 1, 6, 2, 4] = 30.0
    vol[0, 1, 6, 2, 5] = 30.0                      # joint 1 halfway between x 4 and 5
    out = soft_argmax_3d(vol)[0]
    np.testing.assert_allclose(out[0].numpy(), [11, 5, 3], atol=1e-4)
    np.testing.assert_allclose(out[1].numpy(), [4.5, 2, 6], atol=1e-4)


def test_back_projection_inverts_projection():
    rng = np.random.default_rng(0)
    pts = torch.tensor(rng.uniform([-2000, -1500, 2000], [2000, 1500, 9000], (3, 17, 3)))
    f = torch.tensor([[1145.0, 1143.8], [500.0, 500.0], [800.0, 790.0]], dtype=pts.dtype)
    c = torch.tensor([[512.5, 515.4], [320.0, 240.0], [300.0, 250.0]], dtype=pts.dtype)
    uv = camera_to_pixel(pts, f, c)
    back = pixel_to_camera(uv, pts[..., 2], f, c)
    assert torch.allclose(back, pts, atol=1e-6)


def test_decode_maps_heatmap_units_to_camera_millimetres():
    # identity crop (crop pixels = image pixels), 64-pixel input, 16-pixel heatmaps
    crop_to_image = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]])
    pred = torch.tensor([[[7.5, 7.5, (DEPTH_BINS - 1) / 2], [3.5, 7.5, DEPTH_BINS - 1]]])
    f, c = torch.tensor([[100.0, 100.0]]), torch.tensor([[32.0, 32.0]])
    out = decode(pred, crop_to_image, torch.tensor([5000.0]), f, c, 16, 64, root=0)
    # joint 0 (the root) sits at the crop centre (pixel 31.5 ≈ c) at the root depth
    np.testing.assert_allclose(out[0, 0].numpy(), [-0.5 / 100 * 5000, -0.5 / 100 * 5000, 5000],
                               atol=1e-3)
    assert out[0, 1, 2].item() == pytest.approx(6000.0)   # the last bin is +1000 mm from the root
    assert out[0, 1, 0].item() < out[0, 0, 0].item()      # 16 px to the left


def test_posenet_shapes_and_wsp_initialisation():
    from wsp_core.models.wsp import WSPNet

    wsp = WSPNet("resnet18", 21, 16, 16)
    net = PoseNet("resnet18", joints=17, head_channels=16)
    copied = net.init_from_wsp(wsp.state_dict())
    assert copied and torch.equal(net.backbone[0].weight, wsp.backbone[0].weight)
    assert all(name.startswith("backbone.") for name in copied)    # the paper: heads dropped
    assert not torch.equal(net.deconv[0].weight, wsp.deconv[0].weight)
    both = PoseNet("resnet18", joints=17, head_channels=16)
    copied = both.init_from_wsp(wsp.state_dict(), deconv=True)
    assert any(name.startswith("deconv.") for name in copied)
    assert all(torch.equal(a, b) for a, b in zip(both.deconv.state_dict().values(),
                                                  wsp.deconv.state_dict().values()))
    with pytest.raises(ValueError, match="deconv tensors"):          # another head width
        PoseNet("resnet18", head_channels=32).init_from_wsp(wsp.state_dict(), deconv=True)
    out = net(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 17, 3)
    assert (out[..., :2] >= 0).all() and (out[..., :2] <= 15).all()
    assert (out[..., 2] >= 0).all() and (out[..., 2] <= DEPTH_BINS - 1).all()


def test_flip_test_mirrors_back_and_swaps_sides():
    """A mirror-equivariant model (joint j on the brightest column, told apart by 0.01·j; on the
    mirrored crop each joint where its mirror twin's mirror is): the flip test must give back the
    plain pass exactly. A missing left/right swap or a wrong mirror formula would not."""
    from wsp_core.train.config import FinetuneConfig
    from wsp_core.train.data3d import FLIP
    from wsp_core.train.eval3d import _forward

    cfg = FinetuneConfig(input_size=64, bf16=False)
    offset = torch.arange(17).float() * 0.01

    class Dot(torch.nn.Module):
        def forward(self, x):
            col = x[:, 0].amax(1).argmax(-1).float()                       # (B,) crop pixels
            hm_x = ((col + 0.5) / 4 - 0.5)[:, None]
            mirrored = x[:, 1, 0, 0] > 0                                     # the marker moved
            out = torch.zeros(len(x), 17, 3)
            out[..., 0] = torch.where(mirrored[:, None], hm_x - offset[torch.as_tensor(FLIP)],
                                      hm_x + offset)
            return out

    images = torch.full((1, 3, 64, 64), -1.0)
    images[0, 0, :, 9] = 1.0                                                  # the dot
    images[0, 1, 0, -1] = 0.5                                                 # a corner marker
    plain = _forward(Dot(), images, cfg, flip=False)
    assert not torch.allclose(plain[0, FLIP, 0], plain[0, :, 0])             # sides differ
    torch.testing.assert_close(_forward(Dot(), images, cfg, flip=True), plain)
