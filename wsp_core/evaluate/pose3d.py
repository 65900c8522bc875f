"""3D pose results from arrays: the summary eval-3d reports, the per-sample table the app's 3D
tab browses, and its .npz file. Plain numpy: no model is needed to score predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import InputError
from ..skeleton import H36M, ROOT
from .metrics import axis_errors, mpjpe, pa_mpjpe, per_action, root_align


def summary_3d(pred: dict[str, np.ndarray], actions: list[str],
               images: list[str] | None = None) -> dict[str, Any]:
    """MPJPE (root-aligned), PA-MPJPE, per-axis errors, and MPJPE by action with its average."""
    p, g = pred["pred"], pred["gt"]
    if len(p) == 0:
        return {"samples": 0}
    per_pose = np.linalg.norm((p - p[:, ROOT:ROOT + 1]) - (g - g[:, ROOT:ROOT + 1]), axis=-1).mean(1)
    out = {"samples": int(len(p)), "mpjpe": mpjpe(p, g, root=ROOT), "pa_mpjpe": pa_mpjpe(p, g),
           **{f"{k}_error": v for k, v in axis_errors(p, g, root=ROOT).items()},
           "by_action": per_action(per_pose, actions)}
    if images is not None and len(set(images)) < len(images):  # multi-person: MuPoTS's 3DPCK
        from .metrics import pck3d_multi

        groups: dict[str, list[int]] = {}
        for k, name in enumerate(images):
            groups.setdefault(name, []).append(k)
        scenes = [(p[idx], g[idx]) for idx in groups.values()]
        out["pck3d_150"] = pck3d_multi(scenes, ROOT, 150.0)
    return out


def worst_first(pred: dict[str, np.ndarray], by_id: dict[int, dict]) -> dict[str, np.ndarray]:
    """Root-relative predictions and truths (mm), per-joint errors and MPJPE of each sample,
    the worst sample first: what the app's 3D tab browses."""
    p, g = root_align(pred["pred"], ROOT), root_align(pred["gt"], ROOT)
    errors = np.linalg.norm(p - g, axis=-1)
    per_sample = errors.mean(1)
    order = np.argsort(-per_sample, kind="stable")
    rows = [by_id[int(k)] for k in pred["sample_id"][order]]
    return {"pred": p[order], "gt": g[order], "errors": errors[order],
            "mpjpe": per_sample[order],
            "image": np.array([r["image"] for r in rows], dtype=str),
            "action": np.array([r["action"] for r in rows], dtype=str),
            "joints": np.array(H36M.joints, dtype=str)}


SAMPLE_ARRAYS = ("pred", "gt", "errors", "mpjpe", "image", "action", "joints")


def write_samples(path: Path, table: dict[str, np.ndarray]) -> None:
    """The samples as an .npz of plain arrays (no pickled objects), written atomically."""
    with atomic_write(path, "wb") as f:
        np.savez(f, **{k: table[k] for k in SAMPLE_ARRAYS})


def read_samples(path: Path) -> dict[str, np.ndarray]:
    """Read what :func:`write_samples` wrote; never unpickles (allow_pickle=False)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in SAMPLE_ARRAYS if k not in z.files]
            if missing:
                raise InputError(path, f"not an eval-3d samples file (no {', '.join(missing)})")
            return {k: z[k] for k in SAMPLE_ARRAYS}
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the samples: {e}") from None


def format_3d(result: dict[str, Any]) -> str:
    lines = [f"checkpoint {result['checkpoint']} (epoch {result['epoch']}) on {result['data']}, "
             f"protocol {result['protocol']}: {result['samples']} samples",
             f"network started from {result.get('start', '?')}",
             f"MPJPE {result['mpjpe']:.1f} mm   PA-MPJPE {result['pa_mpjpe']:.1f} mm   "
             f"X {result['x_error']:.1f}   Y {result['y_error']:.1f}   Z {result['z_error']:.1f} mm",
             "MPJPE by action (mm): " + ", ".join(f"{a} {v:.1f}" for a, v in
                                                 result["by_action"].items())]
    if "pck3d_150" in result:
        pck = result["pck3d_150"]
        lines.append(f"3DPCK@150mm: All {100 * pck['all']:.1f}  Matched {100 * pck['matched']:.1f}")
    return "\n".join(lines)
