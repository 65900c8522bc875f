"""Pre-training crops made on the training device: finished there always, decoded and warped
there too with ``decode_on_device``.

Every pre-training batch reaches the device as uint8 crops with their colour factors (ADR 0027);
:func:`finish_crops` applies the colour and ImageNet's normalisation there. With
``decode_on_device`` (ADR 0026; measured slower on one H200, so off) a worker does less still: it
reads the file's bytes, draws the augmentation and makes the targets exactly as before. The
training process then decodes the batch's JPEGs in one call (``torchvision.io.decode_jpeg``:
nvJPEG on CUDA) and samples each crop with ``grid_sample`` through the same affine map
``cv2.warpAffine`` uses (bilinear, zeros outside the image, the flip folded in), before the same
:func:`finish_crops`. The crops equal the workers' within the rounding of two JPEG decoders and
of OpenCV's fixed-point interpolation (tests/test_device_crops.py measures it).

A file that is not a plain JPEG (PNG, or a JPEG with an EXIF block, whose orientation OpenCV
applies and nvJPEG would not) is decoded in the worker with OpenCV, as the CPU path does, and
travels as pixels; only the warp then happens on the device.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..infer.crops import MEAN, STD

#: The keys a deferred sample carries instead of ``image``.
PIXEL_KEYS = ("pixels", "pixels_encoded", "pixels_affine", "pixels_path")
#: JPEG's start-of-image marker, and the APP1 block that may rotate the image (EXIF).
_JPEG_START, _EXIF = b"\xff\xd8", b"Exif\x00\x00"


def deferred_pixels(path: str, image_to_crop: np.ndarray, size: int, flip: bool) -> dict[str, Any]:
    """What a worker sends for one crop instead of its pixels: the file's bytes (or, for a
    file the device cannot decode as OpenCV would, its RGB pixels) and the map from crop to
    image pixels (the flip folded in)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(path, f"cannot read the image ({exc.strerror or exc})") from exc
    encoded = data[:2].tobytes() == _JPEG_START and _EXIF not in data[:65536].tobytes()
    inverse = cv2.invertAffineTransform(image_to_crop)
    if flip:  # output column x shows what the unflipped crop shows at size - 1 - x
        inverse = inverse @ np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    pixels = torch.from_numpy(data) if encoded else _opencv_rgb(path)
    return {"pixels": pixels, "pixels_encoded": torch.tensor(encoded), "pixels_path": path,
            "pixels_affine": torch.from_numpy(inverse.astype(np.float32))}


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """The default collation, except that ``pixels`` (of every size) stays a list."""
    from torch.utils.data import default_collate

    pixels = [s["pixels"] for s in samples]
    batch = default_collate([{k: v for k, v in s.items() if k != "pixels"} for s in samples])
    batch["pixels"] = pixels
    return batch


def decode_images(pixels: list[torch.Tensor], encoded: torch.Tensor, paths: list[str],
                  device: torch.device) -> list[torch.Tensor]:
    """Each sample's full image, (3, H, W) uint8 RGB on ``device``: the JPEGs decoded in one
    call on the device, the rest (already decoded by the worker) moved there. If the device's
    decoder refuses a file (a CMYK JPEG, say), the batch's JPEGs are decoded by OpenCV here
    instead, and a file neither can read is named."""
    from torchvision.io import ImageReadMode, decode_jpeg

    images: list[torch.Tensor | None] = [None] * len(pixels)
    jpegs = [k for k, e in enumerate(encoded.tolist()) if e]
    if jpegs:
        try:
            decoded = decode_jpeg([pixels[k].cpu() for k in jpegs], mode=ImageReadMode.RGB,
                                  device=device)
        except RuntimeError:
            decoded = [_opencv_rgb(paths[k]).to(device) for k in jpegs]
        for k, image in zip(jpegs, decoded):
            images[k] = image
    for k, image in enumerate(images):
        if image is None:
            images[k] = pixels[k].to(device, non_blocking=True)
    return images


def _opencv_rgb(path: str) -> torch.Tensor:
    """An image read as the CPU path reads it (cv2.imread: EXIF orientation applied), as
    (3, H, W) uint8 RGB."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "cannot read the image")
    return torch.from_numpy(np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1)))


def warp_crops(images: list[torch.Tensor], crop_to_image: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, size, size) float crops in 0…1: crop pixel (x, y) samples its image bilinearly
    at ``crop_to_image @ (x, y, 1)`` (pixel centres at integers, as cv2.warpAffine), zero
    outside the image."""
    device = images[0].device
    axis = torch.arange(size, device=device, dtype=torch.float32)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    homogeneous = torch.stack([x, y, torch.ones_like(x)], -1)                  # (S, S, 3)
    source = torch.einsum("yxk,bjk->byxj", homogeneous,
                          crop_to_image.to(device, torch.float32))              # (B, S, S, 2)
    crops = []
    for image, src in zip(images, source):
        h, w = image.shape[-2:]
        grid = torch.stack([src[..., 0] * (2.0 / max(w - 1, 1)) - 1.0,        # align_corners:
                            src[..., 1] * (2.0 / max(h - 1, 1)) - 1.0], -1)[None]  # ±1 at centres
        crops.append(torch.nn.functional.grid_sample(
            image[None].float(), grid, mode="bilinear", padding_mode="zeros",
            align_corners=True)[0])
    return torch.stack(crops) / 255.0


def device_crops(batch: dict[str, Any], size: int, device: torch.device) -> torch.Tensor:
    """A deferred batch's crops, decoded and warped (the flip included) on ``device``:
    (B, 3, size, size) float RGB in 0…1, for :func:`finish_crops`."""
    images = decode_images(batch["pixels"], batch["pixels_encoded"], batch["pixels_path"], device)
    return warp_crops(images, batch["pixels_affine"], size)


def finish_crops(crops: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """The network's input from a batch of RGB crops (B, 3, S, S), uint8 or float in 0…1, on
    the training device: each crop's colour factors (B, 3) applied (clipped to 0…1), then
    ImageNet's mean and std."""
    x = crops.float() / 255.0 if crops.dtype == torch.uint8 else crops.float()
    x = (x * colour.to(x.device, torch.float32)[:, :, None, None]).clamp_(0.0, 1.0)
    mean = torch.as_tensor(MEAN, device=x.device)[None, :, None, None]
    std = torch.as_tensor(STD, device=x.device)[None, :, None, None]
    return (x - mean) / std
