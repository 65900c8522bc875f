"""ONNX Runtime against torch for the 3D network on this CPU (``predict --onnx`` vs ``--ckpt``).

For the 3D presets (``cpu-small``: ResNet-18 at 64²; ``paper``: ResNet-50 at 256²), with their
own random weights (speed does not depend on them): the time of a forward pass of a batch of
crops in torch fp32, torch as ``predict`` runs it (bf16 autocast and channels-last where the CPU
has native bf16, docs/adr/0017), and ONNX Runtime (fp32, its default CPU threads), at batch 1
(one person of a photo) and batch 8; crops/s and the ratio torch-as-predict / ONNX Runtime
(> 1: ONNX Runtime is faster). The export's largest difference to torch fp32 is reported too.

Usage: python scripts/bench_onnx.py [--presets cpu-small,paper] [--reps 20]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch

from wsp_core.train.config import FinetuneConfig, load_config
from wsp_core.train.finetune import build_model
from wsp_core.train.onnx_export import onnx_model
from wsp_core.train.precision import autocast, describe, place_model


def _seconds(call, reps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    t0 = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - t0) / reps


def bench(preset: str, reps: int) -> dict:
    import onnxruntime as ort

    cfg = load_config(FinetuneConfig, preset, ["init=none"], kind="finetune")
    cfg.device = "cpu"
    cpu = torch.device("cpu")
    fp32 = build_model(cfg, cpu).eval()
    data, diff, _ = onnx_model(fp32, cfg, "finetune", preset)      # fp32 and contiguous from here
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    placed = place_model(copy.deepcopy(fp32), cpu, cfg)        # as predict runs it
    out = {"preset": preset, "backbone": cfg.backbone, "input_size": cfg.input_size,
           "torch_precision": describe(cpu, cfg), "max_abs_difference": diff}
    for batch in (1, 8):
        x = np.random.default_rng(0).standard_normal((batch, 3, cfg.input_size, cfg.input_size),
                                                     dtype=np.float32)
        t = torch.from_numpy(x)
        tl = t.contiguous(memory_format=torch.channels_last) \
            if next(placed.parameters()).is_contiguous(memory_format=torch.channels_last) else t

        def run_fp32():
            with torch.inference_mode():
                fp32(t)

        def run_predict():
            with torch.inference_mode(), autocast(cpu, cfg):
                placed(tl).float()

        times = {"torch_fp32": _seconds(run_fp32, reps), "torch_predict": _seconds(run_predict, reps),
                 "onnxruntime": _seconds(lambda: session.run(None, {"image": x}), reps)}
        for name, s in times.items():
            out[f"b{batch}_{name}_crops_per_s"] = round(batch / s, 1)
        out[f"b{batch}_predict_over_ort"] = round(times["torch_predict"] / times["onnxruntime"], 2)
        out[f"b{batch}_fp32_over_ort"] = round(times["torch_fp32"] / times["onnxruntime"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="cpu-small,paper")
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    results = []
    for preset in args.presets.split(","):
        row = bench(preset, args.reps)
        print(f"{preset}: " + ", ".join(f"{k}={v}" for k, v in row.items() if k != "preset"))
        results.append(row)
    print(json.dumps({"benchmark": "onnx", "threads": torch.get_num_threads(), "runs": results}))


if __name__ == "__main__":
    main()
