"""Pre-training crops made on the training device (``decode_on_device``, train/device_crops.py)
against the OpenCV crops of the workers: the same targets and randomness, the same pixels within
the rounding of two JPEG decoders and of OpenCV's fixed-point bilinear weights. Run on the CPU
(torchvision's decoder, ``grid_sample`` on the CPU): the GPU runs the same code with nvJPEG."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from helpers import first_step_loss, synth_store
from wsp_core.errors import InputError
from wsp_core.train.data import PairDataset
from wsp_core.train.device_crops import collate, device_crops, finish_crops
from wsp_core.train.manifest import export_manifest, read_manifest
from wsp_core.store import open_store

AUG = {"scale": 0.25, "rotation": 30.0, "flip": True, "colour": 0.2}
#: The networks' input is (pixel / 255 − mean) / std: one grey level is about 1 / (255 × 0.225).
LEVEL = 1.0 / (255 * 0.225)


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    folder = tmp_path_factory.mktemp("device-crops")
    db = synth_store(folder, 10, seed=5)
    with open_store(db) as s:
        export_manifest(s, folder / "m.jsonl", 0.0)
    return read_manifest(folder / "m.jsonl")


def both_ways(rows: list[dict], n: int, size: int = 96) -> tuple[list[dict], list[dict], torch.Tensor]:
    """n samples made by the workers' OpenCV path and by the device path (on the CPU)."""
    kw = {"augment": True, "aug": AUG, "seed": 2}
    cpu = PairDataset(rows, size, 4, **kw)
    deferred = PairDataset(rows, size, 4, pixels_on_device=True, **kw)
    a = [cpu[i % len(cpu)] for i in range(n)]
    b = [deferred[i % len(deferred)] for i in range(n)]
    batch = collate(b)
    return a, b, finish_crops(device_crops(batch, size, torch.device("cpu")), batch["colour"])


def grey_levels(made: torch.Tensor, reference: list[dict]) -> np.ndarray:
    """Per pixel, how far the device's network input lies from the workers' (their uint8
    crops finished by the same colour and normalisation), in grey levels."""
    ref = finish_crops(torch.stack([s["image"] for s in reference]),
                       torch.stack([s["colour"] for s in reference]))
    return ((made - ref).abs() / LEVEL).numpy()


def test_device_crops_equal_the_opencv_crops_within_rounding(rows):
    a, b, made = both_ways(rows, 16)
    flipped = [bool(s["pixels_affine"][0, 0] * s["pixels_affine"][1, 1] < 0) for s in b]
    assert any(flipped) and not all(flipped)                # both kinds of crop are compared
    assert all(not torch.equal(s["colour"], torch.ones(3)) for s in b)
    for x, y in zip(a, b):                                   # the same draw, the same targets
        for key in x.keys() - {"image"}:
            assert torch.equal(x[key], y[key]), key
    d = grey_levels(made, a)
    assert made.shape == (16, 3, 96, 96) and made.dtype == torch.float32
    assert d.mean() < 0.5 and np.quantile(d, 0.999) < 4, (d.mean(), np.quantile(d, 0.999))
    # and the comparison can fail: a crop one pixel off differs by many grey levels
    shifted = grey_levels(torch.roll(made, 1, dims=3), a)
    assert shifted.mean() > 3 * d.mean() + 1


def test_png_and_exif_files_are_read_by_the_worker_as_opencv_reads_them(rows, tmp_path):
    """A PNG, and a JPEG whose EXIF block says 'rotate' (cv2.imread turns it; nvJPEG would
    not): the worker decodes both with OpenCV and the device only warps them."""
    source = rows[0]["image"]
    png, exif = tmp_path / "image.png", tmp_path / "rotated.jpg"
    cv2.imwrite(str(png), cv2.imread(source))
    image = Image.open(source)
    tags = Image.Exif()
    tags[0x0112] = 3                                         # orientation: rotated 180°
    image.save(exif, quality=95, exif=tags.tobytes())
    for path in (png, exif):
        moved = [{**r, "image": str(path)} for r in rows if r["image"] == source]
        a, b, made = both_ways(moved, 4)
        assert not bool(b[0]["pixels_encoded"]) and b[0]["pixels"].dim() == 3
        assert grey_levels(made, a).mean() < 0.5, path


def test_an_unreadable_image_is_named(rows, tmp_path):
    bad, truncated = tmp_path / "bad.jpg", tmp_path / "truncated.jpg"
    bad.write_bytes(b"not a jpeg")
    truncated.write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))  # a JPEG's start, then nothing
    for path in (bad, truncated):
        ds = PairDataset([{**rows[0], "image": str(path)}], 64, 4, pixels_on_device=True)
        with pytest.raises(InputError) as err:
            device_crops(collate([ds[0]]), 64, torch.device("cpu"))
        assert str(path) in str(err.value) and "cannot read the image" in str(err.value)


def test_a_pretraining_run_with_crops_made_on_the_device(tmp_path):
    """The runner feeds deferred batches through to_device: the run finishes, and its first
    step's loss is the OpenCV run's within the pixels' rounding."""
    db = synth_store(tmp_path, 8, seed=4)
    common = ["pretrain", "--db", db, "--preset", "smoke", "--set", "epochs=1",
              "--set", "workers=2", "--progress", "jsonl"]
    losses = []
    for on in ("false", "true"):
        out = run_cli(*common, "--out", tmp_path / f"run-{on}", "--set", f"decode_on_device={on}")
        losses.append(first_step_loss(out.stdout))
        assert (tmp_path / f"run-{on}" / "last.pt").is_file()
    assert losses[1] == pytest.approx(losses[0], rel=0.02)
