"""Scoring 3D predictions against a 3D set's truth, whoever made them: the numbers eval-3d
reports (docs/EVALUATION.md lists every key), the per-sample table the app's 3D tab browses, and
its .npz file. Plain numpy: no model is needed to score predictions.

Predictions are grouped by image: ``{image key: [(cam (J, 3) mm, img (J, 2) px, has (J,))]}`` in
the evaluation's joint order (Human3.6M's for single-person sets, MuPoTS-3D's for multi-person
sets). On a single-person set each truth takes the prediction of its image nearest in 2D; on a
multi-person set persons are matched as MuPoTS's official evaluation does
(:mod:`.mupots`), which also gives 3DPCK All/Matched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import InputError
from ..formats.h36m import Pose3DSet
from ..skeleton import JointSet, to_canonical
from .metrics import (axis_errors, joints_avg_paper, mpjpe, pa_mpjpe, pa_mpjpe_rigid,
                      per_action, per_pose_mpjpe, procrustes_align, root_align)
from .mupots import Scene, match_identities, mupots_pck

Predictions = dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


def image_key(data: Pose3DSet, k: int) -> str:
    """The key that groups sample ``k`` by image: the source's image id, else its file name."""
    return data.image_ids[k] or data.images[k]


def image_lookup(gt: Pose3DSet) -> dict[str, tuple[str, int]]:
    """An image's id or file name → (its key, one of its samples)."""
    keys: dict[str, tuple[str, int]] = {}
    for k in range(len(gt)):
        keys.setdefault(str(gt.image_ids[k]), (image_key(gt, k), k))
        keys.setdefault(gt.images[k], (image_key(gt, k), k))
    keys.pop("", None)
    return keys


def reorder(poses: np.ndarray, have: tuple[str, ...],
            want: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Poses (..., len(have), C) in the joint order ``want`` (canonical names), and the
    (len(want),) mask of the joints ``have`` holds (the others are zeros; nothing is derived)."""
    out = to_canonical(np.asarray(poses, dtype=np.float64), JointSet("order", have, have),
                       derive=False, names=want)
    return out, np.array([n in have for n in want], dtype=bool)


def take_samples(data: Pose3DSet, idx, have: tuple[str, ...], want: tuple[str, ...]) -> Pose3DSet:
    """Samples ``idx`` of ``data`` with their joints in the order ``want``."""
    idx = np.asarray(idx, dtype=int)
    cam, present = reorder(data.joints_cam[idx], have, want)
    img, _ = reorder(data.joints_img[idx], have, want)
    vis, _ = reorder(data.visible[idx][..., None].astype(float), have, want)
    return Pose3DSet([data.images[k] for k in idx], cam, img, (vis[..., 0] > 0) & present,
                     data.f[idx], data.c[idx], data.boxes[idx], data.subjects[idx],
                     [data.actions[k] for k in idx], [data.image_ids[k] for k in idx],
                     None if data.frames is None else data.frames[idx],
                     [data.sequences[k] for k in idx])


# ---- predictions from a file ---------------------------------------------------------------

def read_predictions(path: Path, own: JointSet, want: tuple[str, ...], gt: Pose3DSet) -> Predictions:
    """``{"predictions": [{"image_id", "keypoints_cam" (J × 3 mm), "keypoints_img" (J × 2 px,
    optional: projected with the image's intrinsics)}]}`` in the set's own joint order ``own``,
    grouped by image key in the order ``want``. An image id may be the source's id or the
    image's file name."""
    from ..formats.base import load_json

    doc = load_json(Path(path))
    entries = doc.get("predictions") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InputError(path, 'expected {"predictions": [...]}')
    keys = image_lookup(gt)
    out: Predictions = {}
    for n, entry in enumerate(entries):
        key, k = entry_image(path, n, entry, keys)
        cam = _joints(path, n, entry, "keypoints_cam", (own.num_joints, 3))
        if entry.get("keypoints_img") is not None:
            img = _joints(path, n, entry, "keypoints_img", (own.num_joints, 2))
        else:
            img = cam[:, :2] / np.where(cam[:, 2:] > 0, cam[:, 2:], 1.0) * gt.f[k] + gt.c[k]
        cam_w, has = reorder(cam, own.canonical, want)
        img_w, _ = reorder(img, own.canonical, want)
        out.setdefault(key, []).append((cam_w, img_w, has))
    return out


def entry_image(path, n: int, entry, keys, what: str = "prediction") -> tuple[str, int]:
    """(image key, a sample of it) of entry ``n`` of a file keyed by ``image_id``."""
    if not isinstance(entry, dict) or "image_id" not in entry:
        raise InputError(path, f"{what} {n} is not an object with an image_id")
    found = keys.get(str(entry["image_id"]))
    if found is None:
        raise InputError(path, f"{what} {n}: image {entry['image_id']!r} is not among the "
                               "evaluated images")
    return found


def _joints(path, n: int, entry: dict, key: str, shape: tuple[int, int]) -> np.ndarray:
    from ..formats.base import finite_array

    return finite_array(path, f"prediction {n} (the set's own joint order)", entry.get(key), key,
                        shape)


# ---- scoring -------------------------------------------------------------------------------

def pose_metrics(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, actions: list[str],
                 root: int) -> dict[str, Any]:
    """The field's numbers of matched poses (N, J, 3): MPJPE (root-aligned), PA-MPJPE in both
    variants, per-axis errors, the paper's Joints Avg, and per-action tables of MPJPE and
    PA-MPJPE with their averages over actions."""
    if len(pred) == 0:
        return {"samples": 0}
    axes = axis_errors(pred, gt, visible, root)
    pa_pose = per_pose_mpjpe(procrustes_align(pred, gt, visible), gt, visible)
    by_action = per_action(per_pose_mpjpe(pred, gt, visible, root), actions)
    by_action_pa = per_action(pa_pose, actions)
    return {"samples": int(len(pred)), "mpjpe": mpjpe(pred, gt, visible, root),
            "pa_mpjpe": pa_mpjpe(pred, gt, visible),
            "pa_mpjpe_rigid": pa_mpjpe_rigid(pred, gt, visible),
            **axes, "joints_avg_paper": joints_avg_paper(axes),
            "action_avg_mpjpe": by_action["average"],
            "action_avg_pa_mpjpe": by_action_pa["average"],
            "by_action": by_action, "by_action_pa_mpjpe": by_action_pa}


def match_single(gt: Pose3DSet, preds: Predictions) -> np.ndarray:
    """(N,) index into its image's predictions of each truth's prediction (nearest in 2D over
    the joints both have), −1 where its image has none."""
    out = np.full(len(gt), -1)
    for k in range(len(gt)):
        cands = preds.get(image_key(gt, k), [])
        dists = [_mean_2d(gt.joints_img[k], img, gt.visible[k] & has) for _, img, has in cands]
        if dists:
            out[k] = int(np.argmin(dists))
    return out


def _mean_2d(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1)[mask].mean()) if mask.any() else np.inf


def match_multi(gt: Pose3DSet, preds: Predictions) -> tuple[np.ndarray, list[Scene]]:
    """MuPoTS's identity matching image by image: (N,) prediction index or −1, and the scenes
    the official 3DPCK scores."""
    out = np.full(len(gt), -1)
    groups: dict[str, list[int]] = {}
    for k in range(len(gt)):
        groups.setdefault(image_key(gt, k), []).append(k)
    scenes = []
    for key, idx in groups.items():
        cands = preds.get(key, [])
        j = gt.joints_cam.shape[1]
        p_cam = np.stack([c for c, _, _ in cands]) if cands else np.zeros((0, j, 3))
        p_img = np.stack([i for _, i, _ in cands]) if cands else np.zeros((0, j, 2))
        p_has = np.stack([h for _, _, h in cands]) if cands else np.zeros((0, j), bool)
        scene = Scene(gt.sequences[idx[0]] or "all", gt.joints_cam[idx], gt.joints_img[idx],
                      gt.visible[idx], p_cam, p_img, p_has)
        scenes.append(scene)
        out[idx] = match_identities(scene.gt_img, scene.gt_vis, p_img, p_has)
    return out, scenes


def score(gt: Pose3DSet, preds: Predictions, root: int,
          multi_person: bool) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Every number eval-3d reports for predictions ``preds`` on the truth ``gt``; and the
    indices of the matched truths with their predictions (M, J, 3)."""
    if multi_person:
        matched, scenes = match_multi(gt, preds)
    else:
        matched, scenes = match_single(gt, preds), []
    ok = np.flatnonzero(matched >= 0)
    pred = np.stack([preds[image_key(gt, k)][matched[k]][0] for k in ok]) if len(ok) else \
        np.zeros((0,) + gt.joints_cam.shape[1:])
    has = np.stack([preds[image_key(gt, k)][matched[k]][2] for k in ok]) if len(ok) else \
        np.zeros((0, gt.joints_cam.shape[1]), bool)
    out = pose_metrics(pred, gt.joints_cam[ok], gt.visible[ok] & has, [gt.actions[k] for k in ok],
                       root)
    out.update({"truths": int(len(gt)), "unmatched_truths": int(len(gt) - len(ok))})
    if multi_person:
        out.update(mupots_pck(scenes))
    return out, ok, pred


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float, however deep in dicts and lists, made None
    (JSON has no NaN: a metric with nothing to average over prints as null)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ---- the per-sample table of the app's 3D tab ----------------------------------------------

def worst_first(gt: Pose3DSet, ok: np.ndarray, pred: np.ndarray, root: int,
                joints: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Root-relative predictions and truths (mm) of the matched samples, per-joint errors and
    MPJPE of each, the worst sample first: what the app's 3D tab browses. ``joints``: the joint
    set's own names (Human3.6M's or MuPoTS's), by which the app finds the bones."""
    g = gt.joints_cam[ok]
    p, g = root_align(pred, root), root_align(g, root)
    vis = gt.visible[ok]
    errors = np.where(vis, np.linalg.norm(p - g, axis=-1), 0.0)
    per_sample = errors.sum(1) / np.maximum(vis.sum(1), 1)
    order = np.argsort(-per_sample, kind="stable")
    return {"pred": p[order], "gt": g[order], "errors": errors[order],
            "mpjpe": per_sample[order],
            "image": np.array([gt.images[ok[k]] for k in order], dtype=str),
            "action": np.array([gt.actions[ok[k]] for k in order], dtype=str),
            "joints": np.array(joints, dtype=str)}


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
    """eval-3d's result as the terminal prints it."""
    r = {k: _f(v) for k, v in result.items()}
    head = (f"checkpoint {result['checkpoint']} (epoch {result['epoch']})"
            if result.get("checkpoint") else f"predictions {result.get('predictions')}")
    lines = [f"{head} on {result['data']}, protocol {result['protocol']}: {result['samples']} "
             f"of {result.get('truths', result['samples'])} truths matched; boxes "
             f"{result.get('boxes', 'ground truth')}, roots {result.get('roots', 'ground truth')}"]
    if result.get("start"):
        lines.append(f"network started from {result['start']}; tested: {result.get('tested')}")
    if not result["samples"]:
        return "\n".join(lines)
    lines += [f"MPJPE {r['mpjpe']} mm   PA-MPJPE {r['pa_mpjpe']} mm (similarity)   "
              f"{r['pa_mpjpe_rigid']} mm (rigid)",
              f"X {r['x']}   Y {r['y']}   Z {r['z']} mm   Joints Avg (paper, √(X²+Y²+Z²)) "
              f"{r['joints_avg_paper']} mm",
              "MPJPE by action (mm): " + _table(result["by_action"]),
              "PA-MPJPE by action (mm): " + _table(result["by_action_pa_mpjpe"])]
    if "pck3d_all" in result:
        for kind in ("all", "matched"):
            lines.append(f"3DPCK {kind.capitalize():<7} " + "  ".join(
                f"@{t} {_f(v)}" for t, v in result[f"pck3d_{kind}"].items()) +
                f"   AUC {r[f'pck3d_auc_{kind}']}")
    return "\n".join(lines)


def _f(value: Any) -> Any:
    """A number to one decimal ("-" for None); anything else as it is."""
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else value


def _table(values: dict[str, Any]) -> str:
    return ", ".join(f"{a} {_f(v)}" for a, v in values.items())
