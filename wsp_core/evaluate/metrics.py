"""The field's metrics, each a short function of arrays. Relative depth now; 3D with fine-tuning."""

from __future__ import annotations

from typing import Any

import numpy as np


def rd_scores(y_true, y_prob, threshold: float = 0.5) -> dict[str, Any]:
    """Relative-depth scores of predicted probabilities that A is closer.

    AUC (scikit-learn's ``roc_auc_score``; None when only one class is present), and accuracy,
    precision, recall and F1 of the class "A closer" at ``threshold``; ``n`` the number of
    predictions. Each (pair, joint) prediction counts once, as in the paper's tables.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(y_prob, dtype=np.float64).ravel()
    if len(y) == 0:
        return {"n": 0, "auc": None, "accuracy": None, "precision": None, "recall": None, "f1": None}
    pred = (p >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", zero_division=0)
    return {"n": int(len(y)), "auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else None,
            "accuracy": float(accuracy_score(y, pred)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}


# ---- 3D pose: arrays (N, J, 3) in millimetres ----------------------------------------------

def root_align(poses: np.ndarray, root: int) -> np.ndarray:
    """Poses (N, J, 3) translated so that joint ``root`` is at the origin."""
    poses = np.asarray(poses, dtype=np.float64)
    return poses - poses[:, root:root + 1]


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> float:
    """Mean per-joint position error: the mean Euclidean distance over all joints and poses.

    No alignment is applied unless ``root`` is given, in which case both are root-aligned first
    (the field's "MPJPE", protocol 1).
    """
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if root is not None:
        pred, gt = root_align(pred, root), root_align(gt, root)
    return float(np.linalg.norm(pred - gt, axis=-1).mean())


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Each predicted pose (N, J, 3) after the similarity transform (rotation, uniform scale,
    translation) that best fits it to the ground truth in the least-squares sense. A reflection
    is never used: when the best orthogonal map would be one, the last axis is flipped back
    (as VideoPose3D's ``p_mpjpe`` does)."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    mu_p, mu_g = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    norm_p = np.sqrt((p ** 2).sum((1, 2), keepdims=True))
    norm_g = np.sqrt((g ** 2).sum((1, 2), keepdims=True))
    p, g = p / norm_p, g / norm_g
    u, s, vt = np.linalg.svd(np.matmul(g.transpose(0, 2, 1), p))   # H = G^T P
    v = vt.transpose(0, 2, 1)
    sign = np.sign(np.linalg.det(np.matmul(v, u.transpose(0, 2, 1))))
    v[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    r = np.matmul(v, u.transpose(0, 2, 1))                           # rotation P -> G
    scale = s.sum(1)[:, None, None] * norm_g / norm_p
    return scale * np.matmul(pred - mu_p, r) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after Procrustes alignment with scale (PA-MPJPE, protocol 2)."""
    return mpjpe(procrustes_align(pred, gt), gt)


def axis_errors(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> dict[str, float]:
    """Mean absolute error along X, Y and Z (mm), after root alignment when ``root`` is given."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if root is not None:
        pred, gt = root_align(pred, root), root_align(gt, root)
    err = np.abs(pred - gt).reshape(-1, 3).mean(0)
    return {"x": float(err[0]), "y": float(err[1]), "z": float(err[2])}


def pck3d(pred: np.ndarray, gt: np.ndarray, threshold_mm: float = 150.0) -> float:
    """3DPCK: the fraction of joints whose error is below ``threshold_mm`` (no alignment)."""
    err = np.linalg.norm(np.asarray(pred, dtype=np.float64) - np.asarray(gt, dtype=np.float64),
                         axis=-1)
    return float((err < threshold_mm).mean())


def pck3d_curve(pred: np.ndarray, gt: np.ndarray,
                thresholds=tuple(range(100, 151, 5))) -> dict[int, float]:
    """3DPCK at each threshold (default 100, 105, …, 150 mm)."""
    return {int(t): pck3d(pred, gt, t) for t in thresholds}


def match_persons(pred_roots: np.ndarray, gt_roots: np.ndarray,
                  max_distance: float = 500.0) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of predicted to ground-truth persons of one image by the
    distance of their roots (mm), closest first; pairs farther than ``max_distance`` stay apart."""
    pred_roots, gt_roots = np.asarray(pred_roots, float), np.asarray(gt_roots, float)
    if len(pred_roots) == 0 or len(gt_roots) == 0:
        return []
    dist = np.linalg.norm(pred_roots[:, None] - gt_roots[None], axis=-1)
    pairs, used_p, used_g = [], set(), set()
    for flat in np.argsort(dist, axis=None):
        i, j = np.unravel_index(flat, dist.shape)
        if dist[i, j] > max_distance:
            break
        if i not in used_p and j not in used_g:
            pairs.append((int(i), int(j)))
            used_p.add(i)
            used_g.add(j)
    return pairs


def pck3d_multi(images: list[tuple[np.ndarray, np.ndarray]], root: int,
                threshold_mm: float = 150.0, max_distance: float = 500.0) -> dict[str, float]:
    """3DPCK over multi-person images, MuPoTS style, root-relative poses.

    ``images``: (pred (P, J, 3), gt (G, J, 3)) per image, camera frame, mm. Persons are matched
    by :func:`match_persons` on their roots; joints are compared root-aligned. "All" counts every
    ground-truth person, an unmatched one with all joints wrong; "Matched" counts matched ones.
    """
    hits_all = total_all = hits_matched = total_matched = 0
    for pred, gt in images:
        pred, gt = np.asarray(pred, float).reshape(-1, *np.shape(gt)[1:]), np.asarray(gt, float)
        matched = match_persons(pred[:, root] if len(pred) else pred, gt[:, root])
        for i, j in matched:
            err = np.linalg.norm(root_align(pred[i:i + 1], root) - root_align(gt[j:j + 1], root),
                                 axis=-1)
            hits = int((err < threshold_mm).sum())
            hits_all += hits
            hits_matched += hits
            total_matched += err.size
        total_all += gt.shape[0] * gt.shape[1]
    return {"all": hits_all / total_all if total_all else float("nan"),
            "matched": hits_matched / total_matched if total_matched else float("nan")}


def per_action(errors: np.ndarray, actions: list[str]) -> dict[str, float]:
    """Mean of per-pose errors by action, plus "average" = the mean over actions (the field's
    action-average, which weighs every action alike)."""
    errors = np.asarray(errors, dtype=np.float64)
    table = {a: float(errors[np.array(actions) == a].mean()) for a in sorted(set(actions))}
    table["average"] = float(np.mean(list(table.values()))) if table else float("nan")
    return table
