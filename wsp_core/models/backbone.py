"""The parts both networks share: a torchvision ResNet up to layer4, its starting weights, and the
3DMPPE deconvolution head with its initialisation.

Starting weights (``weights``): ``None`` for random initialisation (not the paper's), the word
``imagenet`` for torchvision's ImageNet weights (the paper's start, §4.3.1, and 3DMPPE PoseNet's),
or the path of a torchvision state dict. ``imagenet`` is resolved through torchvision's own
weights enum (``ResNet50_Weights.IMAGENET1K_V1``, the weights 3DMPPE's model-zoo URLs name) and
looked up in torch's hub cache (``$TORCH_HOME/hub/checkpoints``); nothing is ever downloaded.

``tiny`` is not a torchvision network: a ResNet of one basic block per stage and 16–128 channels
(≈ 0.2 M parameters, checkpoints under 3 MB) for the ``smoke`` presets, which exercise every code
path in seconds. It has no ImageNet weights and is never the paper's.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import nn

from ..errors import InputError

BACKBONES = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "tiny": 128}
#: Channels of the ``tiny`` backbone's stem (its four stages have 1, 2, 4 and 8 times as many).
TINY_WIDTH = 16
IMAGENET = "imagenet"
#: Standard deviation of the head's normal initialisation (3DMPPE PoseNet's HeadNet).
HEAD_INIT_STD = 0.001


def _imagenet_url(name: str) -> str:
    """torchvision's URL of backbone ``name``'s ImageNet weights (IMAGENET1K_V1)."""
    return getattr(torchvision.models, f"ResNet{name[len('resnet'):]}_Weights").IMAGENET1K_V1.url


def imagenet_weights_file(name: str) -> Path:
    """Where torch's hub cache keeps torchvision's ImageNet weights of backbone ``name``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(_imagenet_url(name))


def check_weights_available(name: str, weights: str | None) -> None:
    """Fail at once, in one line, when the starting weights a config asks for are not here."""
    if weights == IMAGENET:
        if name == "tiny":
            raise InputError("backbone_weights", "the tiny backbone (smoke runs) has no ImageNet "
                                                 "weights; use resnet18, resnet34 or resnet50")
        path = imagenet_weights_file(name)
        if not path.is_file():
            raise InputError(path, f"{name} ImageNet weights not found: download "
                                   f"{_imagenet_url(name)} on a machine with internet and put it "
                                   f"in {path.parent} (the folder is $TORCH_HOME/hub/checkpoints)")
    elif weights and not Path(weights).is_file():
        raise InputError(weights, "no such backbone weights file")


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise InputError(path, f"not a readable torchvision state dict ({reason})") from None
    if not isinstance(state, dict):
        raise InputError(path, "not a torchvision state dict")
    return state


def resnet_backbone(name: str, weights: str | None = None) -> nn.Sequential:
    """A torchvision ResNet up to layer4: random, ImageNet (``"imagenet"``) or from a file.

    Every convolution and batch-norm tensor must load (only the classifier ``fc`` may be missing).
    """
    if name not in BACKBONES:
        raise InputError("backbone", f"unknown backbone {name!r}; one of {', '.join(BACKBONES)}")
    net = _tiny_resnet() if name == "tiny" else getattr(torchvision.models, name)(weights=None)
    if weights:
        check_weights_available(name, weights)
        path = imagenet_weights_file(name) if weights == IMAGENET else Path(weights)
        state = _load_state_dict(path)
        try:
            missing, _ = net.load_state_dict(state, strict=False)
        except RuntimeError as e:  # a tensor of another shape: another architecture
            raise InputError(path, f"not a {name} state dict ({str(e).splitlines()[-1].strip()})"
                             ) from None
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing:
            raise InputError(path, f"not a {name} state dict ({len(missing)} tensors missing, "
                                   f"e.g. {missing[0]})")
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2,
                         net.layer3, net.layer4)


def _tiny_resnet() -> torchvision.models.ResNet:
    """torchvision's ResNet with one basic block per stage, narrowed to TINY_WIDTH channels."""
    from torchvision.models.resnet import BasicBlock

    net = torchvision.models.ResNet(BasicBlock, [1, 1, 1, 1])
    net.inplanes = TINY_WIDTH
    net.conv1 = nn.Conv2d(3, TINY_WIDTH, 7, 2, 3, bias=False)
    net.bn1 = nn.BatchNorm2d(TINY_WIDTH)
    for k in range(4):
        setattr(net, f"layer{k + 1}", net._make_layer(BasicBlock, TINY_WIDTH << k, 1,
                                                      stride=1 if k == 0 else 2))
    net.fc = nn.Identity()
    for m in net.modules():  # torchvision's own initialisation of the replaced layers
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def describe_start(weights: str | None) -> str:
    """How a backbone started, as results print it."""
    if weights == IMAGENET:
        return "ImageNet"
    if weights:
        return f"weights from {weights}"
    return "random initialisation (not the paper's: it starts from ImageNet)"


def deconv_head(in_channels: int, channels: int, layers: int = 3) -> nn.Sequential:
    """3 × [deconvolution 4×4 stride 2, BN, ReLU], initialised as 3DMPPE's HeadNet."""
    blocks: list[nn.Module] = []
    for k in range(layers):
        blocks += [nn.ConvTranspose2d(in_channels if k == 0 else channels, channels, 4, 2, 1,
                                      bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
    head = nn.Sequential(*blocks)
    init_head(head)
    return head


def init_head(module: nn.Module) -> nn.Module:
    """3DMPPE's head initialisation: (de)convolution weights normal with std 0.001, biases 0,
    batch-norm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=HEAD_INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module
