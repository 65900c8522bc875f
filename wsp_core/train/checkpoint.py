"""Atomic checkpoints: written to a temporary file, synced, then renamed over the old one.
Loaded with ``torch.load(weights_only=True)``: plain tensors and containers, never code.

A checkpoint is checked before use, and each problem is one line naming the file: a file that
asks to import code is refused as such (PyTorch's advice to load it unsafely is not repeated);
its kind, config, epoch and weights (finite) are checked by :func:`check_contents`; its tensors
must fit the model they are loaded into (:func:`load_weights`), and a fine-tuning run's
``--init`` must hold every backbone tensor of the same backbone (:func:`init_backbone`).
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..errors import InputError
from .manifest import file_sha256

#: The kinds of checkpoint this version writes (Task.kind).
KINDS = ("wsp-pretrain", "posenet-finetune")
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_write(path, "wb") as f:
        torch.save(state, f)


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """A checkpoint's dict, checked (:func:`check_contents`); InputError naming the file when it
    is missing, truncated, foreign, asks to run code, or holds what a checkpoint cannot."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise InputError(path, unpickling_problem(str(e))) from None
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise InputError(path, f"not a readable checkpoint (truncated or corrupt?): {reason}") from None
    check_contents(state, path)
    return state


def unpickling_problem(message: str) -> str:
    """PyTorch's weights-only refusal in one line, without its advice to load the file unsafely:
    the import the file asks for, else the unpickler's own reason (a file that is no pickle)."""
    found = _GLOBAL.search(message)
    if found:
        return (f"refused: the file asks to import {found.group(1)} (a checkpoint holds tensors "
                "only; it was not loaded)")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    after = [lines[k + 1] for k, line in enumerate(lines[:-1])
             if line.endswith("WeightsUnpickler error:")]
    reason = after[0] if after else (lines[0] if lines and "weights_only" not in lines[0]
                                     else "not a PyTorch pickle")
    return f"not a readable checkpoint (truncated or corrupt?): {reason[:160]}"


def check_contents(state: Any, path: Path) -> None:
    """What every WSP Studio checkpoint holds: a known kind, a config, an epoch, and a model of
    named, finite tensors. One InputError line per problem found first."""
    if not isinstance(state, dict) or "model" not in state or "kind" not in state:
        raise InputError(path, "not a WSP Studio checkpoint (no model/kind entries)")
    if state["kind"] not in KINDS:
        raise InputError(path, f"unknown checkpoint kind {state['kind']!r}; one of "
                               f"{', '.join(KINDS)}")
    if not isinstance(state.get("config"), dict):
        raise InputError(path, "holds no config (the settings it was trained with)")
    epoch = state.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise InputError(path, f"epoch {epoch!r} is not a count of epochs")
    model = state["model"]
    if not isinstance(model, dict) or not model or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()):
        raise InputError(path, "its model is not a non-empty set of named tensors")
    for name, tensor in model.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InputError(path, f"weight {name} is not finite (NaN or infinite): the run "
                                   "that wrote it diverged")


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """``model.load_state_dict(weights)``, every tensor required to fit; one line otherwise."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shape = [k for k in own if k in weights and weights[k].shape != own[k].shape]
    if missing or unexpected or shape:
        parts = [f"{len(missing)} missing" if missing else "",
                 f"{len(unexpected)} unexpected" if unexpected else "",
                 f"{len(shape)} of another shape" if shape else ""]
        first = (shape or missing or unexpected)[0]
        detail = f"{first}: {list(weights[first].shape)} here, {list(own[first].shape)} expected" \
            if shape else first
        raise InputError(path, f"its tensors do not fit the model its config describes "
                               f"({', '.join(p for p in parts if p)}; e.g. {detail})")
    model.load_state_dict(weights)


def wsp_init_checkpoint(path: str | os.PathLike[str], backbone: str) -> dict[str, Any]:
    """A checkpoint ``--init`` can start a ``backbone`` PoseNet from: a WSP pre-training one of
    the same backbone (checked before a run writes anything; the tensors when it builds its
    model, by :func:`init_backbone`)."""
    path = Path(path)
    state = load_checkpoint(path)
    if state["kind"] != "wsp-pretrain":
        raise InputError(path, f"is a {state['kind']!r} checkpoint; --init takes a WSP "
                               "pre-training checkpoint")
    theirs = state["config"].get("backbone")
    if theirs != backbone:
        raise InputError(path, f"holds a {theirs} backbone; this run builds a {backbone} "
                               f"(--set backbone={theirs} to fine-tune from it)")
    return state


def init_backbone(model: torch.nn.Module, path: str | os.PathLike[str],
                  backbone: str, deconv: bool = False) -> dict[str, Any]:
    """Start ``model``'s backbone (a PoseNet) from a WSP pre-training checkpoint: same
    backbone, every backbone tensor loaded (with ``deconv``, the deconvolution layers too).
    Returns what was loaded (for the run's config)."""
    path = Path(path)
    state = wsp_init_checkpoint(path, backbone)
    what = f"{backbone} backbone" + (" and deconvolutions" if deconv else "")
    try:
        names = model.init_from_wsp(state["model"], deconv=deconv)
    except ValueError as e:
        raise InputError(path, f"does not hold the whole {what}: {e}") from None
    return {"checkpoint": str(path.resolve()), "sha256": file_sha256(path),
            "kind": state["kind"], "backbone": backbone, "epoch": state["epoch"],
            "tensors": len(names), "deconv": deconv,
            "start": state["config"].get("backbone_weights")}

