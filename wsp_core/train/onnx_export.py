"""``wsp-core export-onnx``: a trained checkpoint as an ONNX graph with a dynamic batch, for
ONNX Runtime (``predict --onnx``, the Photo tab) and other tools.

The 3D network (PoseNet) maps ``image`` (B, 3, S, S) — RGB crops normalised with ImageNet's
mean and std, cut as :func:`~wsp_core.infer.crops.person_square` does — to ``joints`` (B, 17, 3):
x, y in heatmap pixels (S / 4 across), z in depth bins, in H36M's joint order; decoding to
millimetres is :func:`~wsp_core.infer.pose.to_camera`. The WSP pre-training network maps
``image``, ``boxes`` (B, 2, 4: each person's box in heatmap pixels, x0 y0 x1 y1) and ``joints``
(B, N: joint indices) to ``heatmaps`` (B, 21, S/4, S/4) and ``logits`` (B, N: A's joint closer).
Both are exported in fp32 (torch's dynamo exporter) and checked against torch on two batches
before the file is written (atomically); the metadata (``wsp.*``) names the kind, input size, depth bins and
joints.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import InputError
from ..infer.onnx_runtime import META_PREFIX
from ..skeleton import H36M
from .checkpoint import load_checkpoint
from .data import PRETRAIN_JOINTS
from .finetune import FINETUNE_TASK
from .pretrain import WSP_TASK
from .runner import load_trained

#: The ONNX opset written (ONNX Runtime ≥ 1.16 runs it).
OPSET = 18
#: The largest difference to torch's output an export may have, as a share of the output's
#: largest magnitude (at least 1): PoseNet's outputs span 0…64 heatmap pixels and depth bins,
#: and a random ResNet-50 at 256² differs by ~1e-3 of a bin in fp32 (docs/BENCHMARKS.md).
TOLERANCE = 1e-4


def _inputs(kind: str, size: int, batch: int = 2) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    image = torch.randn(batch, 3, size, size, generator=g)
    if kind == "finetune":
        return (image,)
    h = size // 4
    boxes = torch.tensor([[[1.0, 2.0, h / 2, h - 2.0], [h / 3, 1.0, h - 1.0, h - 3.0]]] * batch)
    joints = torch.arange(len(PRETRAIN_JOINTS)).repeat(batch, 1)
    return image, boxes, joints


def export_onnx(ckpt: Path, out: Path) -> dict[str, Any]:
    """Write ``ckpt``'s network to ``out``; returns what was written and the check's figure."""
    kind = {FINETUNE_TASK.kind: "finetune", WSP_TASK.kind: "pretrain"}.get(
        load_checkpoint(ckpt).get("kind"))
    if kind is None:
        raise InputError(ckpt, "is neither a fine-tuned (3D) nor a WSP pre-training checkpoint")
    fp32 = {"bf16": False, "channels_last": False}
    if kind == "finetune":
        model, cfg, _, _ = load_trained(ckpt, FINETUNE_TASK, "cpu", init="none", **fp32)
    else:
        model, cfg, _, _ = load_trained(ckpt, WSP_TASK, "cpu", backbone_weights=None, **fp32)
    data, diff, scale = onnx_model(model, cfg, kind, str(ckpt))
    if not diff <= TOLERANCE * scale:
        raise InputError(ckpt, f"its ONNX export differs from torch by {diff:.3g} (over "
                               f"{TOLERANCE:g} × {scale:.3g}); not written")
    with atomic_write(out, "wb") as f:
        f.write(data)
    return {"onnx": str(out), "checkpoint": str(ckpt), "kind": kind, "opset": OPSET,
            "input_size": cfg.input_size, "max_abs_difference": float(diff), "bytes": len(data)}


def onnx_model(model: torch.nn.Module, cfg, kind: str,
               origin: str) -> tuple[bytes, float, float]:
    """(the serialised ONNX model with its ``wsp.*`` metadata, the largest difference between
    ONNX Runtime's outputs and torch's on the export's inputs — batches of 2 and 3 —, and the
    largest magnitude of torch's outputs, at least 1) of a network in fp32."""
    names, outputs, joints = (["image"], ["joints"], list(H36M.joints)) if kind == "finetune" \
        else (["image", "boxes", "joints"], ["heatmaps", "logits"], list(PRETRAIN_JOINTS))
    model = model.float().to(memory_format=torch.contiguous_format).eval()
    inputs = _inputs(kind, cfg.input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = {"image": {0: batch}} if kind == "finetune" else \
        {"image": {0: batch}, "boxes": {0: batch},
         "joints": {0: batch, 1: torch.export.Dim("pairs", min=1, max=1024)}}
    with torch.no_grad(), warnings.catch_warnings():
        # the one batch axis shared by several inputs is named once: torch says so, harmlessly
        warnings.filterwarnings("ignore", message="# The axis name", category=UserWarning)
        program = torch.onnx.export(model, inputs, input_names=names, output_names=outputs,
                                    dynamic_shapes=shapes, opset_version=OPSET, dynamo=True,
                                    verbose=False)
        other = _inputs(kind, cfg.input_size, batch=3)       # the batch is really dynamic
        expected = [model(*inputs), model(*other)]
    graph = program.model_proto
    meta = {"kind": kind, "input_size": str(cfg.input_size), "joints": ",".join(joints),
            "depth_bins": str(getattr(cfg, "depth_bins", "")), "backbone": cfg.backbone,
            "checkpoint": origin}
    for key, value in meta.items():
        graph.metadata_props.add(key=META_PREFIX + key, value=value)
    data = graph.SerializeToString()
    diff = max(_max_difference(data, names, x, y) for x, y in zip((inputs, other), expected))
    scale = max([1.0] + [float(t.abs().max()) for out in expected
                         for t in (out if isinstance(out, tuple) else (out,))])
    return data, diff, scale


def _max_difference(data: bytes, names: list[str], inputs: tuple[torch.Tensor, ...],
                    expected) -> float:
    """The largest difference between ONNX Runtime's outputs and torch's on the same inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
    expected = expected if isinstance(expected, tuple) else (expected,)
    return max(float(np.abs(g - e.float().numpy()).max()) for g, e in zip(got, expected))
