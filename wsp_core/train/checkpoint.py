"""Atomic checkpoints: written to a temporary file, synced, then renamed over the old one.
Loaded with ``torch.load(weights_only=True)``: plain tensors and containers, never code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..errors import InputError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_write(path, "wb") as f:
        torch.save(state, f)


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """A checkpoint's dict; InputError naming the file when it is missing, truncated or foreign."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise InputError(path, f"not a readable checkpoint (truncated or corrupt?): {reason}") from None
    if not isinstance(state, dict) or "model" not in state or "kind" not in state:
        raise InputError(path, "not a WSP Studio checkpoint (no model/kind entries)")
    return state
