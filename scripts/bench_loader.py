"""Where the pre-training data loader's time goes (issue 15, point 6).

One process first: the mean time of one training sample (``PairDataset.__getitem__`` with the
preset's augmentation) and of its parts — reading and decoding the JPEG, warping the crop, the
heatmap targets. Then the DataLoader as training builds it, with each number of workers given:
crops/s with pinned memory (as on a GPU) and without, and the machine's logical and physical CPU
count. If N workers deliver much less than N / (one sample's time), the workers wait on
something besides their own work (the transfer to the training process, or shared cores).

Usage:
  python scripts/bench_loader.py [--preset paper] [--images 1500] [--workers 4,8,12,15]
      [--world DIR] [--samples 300] [--batches 60]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def physical_cores() -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; None where it does not say."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    cores, phys = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            phys = value.strip()
        elif key.strip() == "core id":
            cores.add((phys, value.strip()))
    return len(cores) or None


def one_process(dataset, samples: int) -> dict:
    """ms per sample of __getitem__, and of its decoding, warp and targets, in this process."""
    import cv2

    from wsp_core.train.data import gaussian_targets
    from wsp_core.infer.crops import warp_crop_uint8

    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    n = len(dataset)
    for i in range(min(10, n)):
        dataset[i]
    t0 = time.perf_counter()
    for i in range(samples):
        dataset[i % n]
    whole = (time.perf_counter() - t0) / samples
    paths = [dataset.row(i % n)["image"] for i in range(samples)]
    t0 = time.perf_counter()
    images = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths[:100]]
    decode = (time.perf_counter() - t0) / len(images)
    m = np.array([[0.4, 0.0, -20.0], [0.0, 0.4, -10.0]])
    t0 = time.perf_counter()
    for image in images:
        warp_crop_uint8(image, m, dataset.size)
    warp = (time.perf_counter() - t0) / len(images)
    joints = np.random.default_rng(0).uniform(0, dataset.hm, (4, 21, 3))
    t0 = time.perf_counter()
    for _ in range(100):
        torch.from_numpy(gaussian_targets(joints, dataset.hm, dataset.sigma)).half()
    targets = (time.perf_counter() - t0) / 100
    return {"sample_ms": round(1000 * whole, 3), "decode_ms": round(1000 * decode, 3),
            "warp_ms": round(1000 * warp, 3), "targets_ms": round(1000 * targets, 3),
            "one_worker_crops_per_s": round(1 / whole, 1)}


def loader_rate(rows, cfg, workers: int, batches: int, pin: bool) -> float:
    """Crops/s of the training DataLoader alone (its first batch left out)."""
    from dataclasses import replace

    from wsp_core.train.pretrain import make_loader
    from bench_train import loader_images_per_s

    loader = make_loader(rows, replace(cfg, workers=workers), True, 1, 0)
    loader.pin_memory = pin and torch.cuda.is_available()
    return round(loader_images_per_s(loader, batches), 1)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--world", type=Path, help="an existing synthetic world folder")
    parser.add_argument("--workers", default="4,8,12,15")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args(argv)

    from bench_train import make_rows
    from wsp_core.train.config import PretrainConfig, load_config
    from wsp_core.train.pretrain import make_loader

    cfg = load_config(PretrainConfig, args.preset, ["backbone_weights=none"])
    result = {"preset": args.preset, "input_size": cfg.input_size, "batch": cfg.batch_size,
              "logical_cpus": os.cpu_count(), "physical_cores": physical_cores()}
    with tempfile.TemporaryDirectory() as tmp:
        rows = make_rows(args.world, Path(tmp), args.images)
        result.update(one_process(make_loader(rows, cfg, True, 1, 0).dataset, args.samples))
        for w in (int(x) for x in args.workers.split(",")):
            pins = (True, False) if torch.cuda.is_available() else (False,)
            for pin in pins:
                key = f"workers_{w}" + ("_pinned" if pin else "")
                result[key] = loader_rate(rows, cfg, w, args.batches, pin)
                result[key + "_ms_per_crop_per_worker"] = round(1000 * w / result[key], 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
