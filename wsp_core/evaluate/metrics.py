"""The field's metrics, each a short function of arrays: relative depth, and 3D poses (the
MuPoTS-3D protocol is in :mod:`.mupots`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def rd_scores(y_true, y_prob, threshold: float = 0.5) -> dict[str, Any]:
    """Relative-depth scores of predicted probabilities that A is closer.

    AUC (scikit-learn's ``roc_auc_score``; None when only one class is present), and accuracy,
    precision, recall and F1 of the class "A closer" at ``threshold``; ``macro_precision``,
    ``macro_recall``, ``macro_f1`` average each over both classes ("A closer" and "B closer"),
    so they do not depend on which person of a pair is called A. ``n`` the number of
    predictions. Each (pair, joint) prediction counts once, as in the paper's tables.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(y_prob, dtype=np.float64).ravel()
    if len(y) == 0:
        return {"n": 0, "auc": None, "accuracy": None, "precision": None, "recall": None, "f1": None,
                "macro_precision": None, "macro_recall": None, "macro_f1": None}
    pred = (p >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", zero_division=0)
    macro = precision_recall_fscore_support(y, pred, average="macro", labels=[0, 1],
                                            zero_division=0)
    return {"n": int(len(y)), "auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else None,
            "accuracy": float(accuracy_score(y, pred)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1), "macro_precision": float(macro[0]),
            "macro_recall": float(macro[1]), "macro_f1": float(macro[2])}


# ---- 3D pose: arrays (N, J, 3) in millimetres, an optional (N, J) boolean mask -------------
#
# ``visible`` marks the joints the ground truth has; a joint it lacks (False) never counts in an
# error or an alignment. None means every joint counts.

def joint_mask(visible, shape: tuple[int, ...]) -> np.ndarray:
    """The (N, J) boolean mask of ``visible`` (all True when None), checked against ``shape``."""
    if visible is None:
        return np.ones(shape[:2], dtype=bool)
    mask = np.asarray(visible, dtype=bool)
    if mask.shape != tuple(shape[:2]):
        raise ValueError(f"visibility mask {mask.shape} does not fit poses {tuple(shape)}")
    return mask


def root_align(poses: np.ndarray, root: int) -> np.ndarray:
    """Poses (N, J, 3) translated so that joint ``root`` is at the origin."""
    poses = np.asarray(poses, dtype=np.float64)
    return poses - poses[:, root:root + 1]


def joint_errors(pred: np.ndarray, gt: np.ndarray, root: int | None = None) -> np.ndarray:
    """(N, J) Euclidean distances, after root alignment when ``root`` is given."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if root is not None:
        pred, gt = root_align(pred, root), root_align(gt, root)
    return np.linalg.norm(pred - gt, axis=-1)


def masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    """The mean of ``values`` where ``mask`` holds (NaN when nothing is masked in)."""
    count = int(mask.sum())
    return float((values * mask).sum() / count) if count else float("nan")


def mpjpe(pred: np.ndarray, gt: np.ndarray, visible=None, root: int | None = None) -> float:
    """Mean per-joint position error: the mean Euclidean distance over the visible joints of
    all poses. No alignment is applied unless ``root`` is given, in which case both are
    root-aligned first (the field's "MPJPE")."""
    err = joint_errors(pred, gt, root)
    return masked_mean(err, joint_mask(visible, err.shape))


def per_pose_mpjpe(pred: np.ndarray, gt: np.ndarray, visible=None,
                   root: int | None = None) -> np.ndarray:
    """(N,) MPJPE of each pose over its visible joints."""
    err = joint_errors(pred, gt, root)
    mask = joint_mask(visible, err.shape)
    return (err * mask).sum(1) / np.maximum(mask.sum(1), 1)


def procrustes_align(pred: np.ndarray, gt: np.ndarray, visible=None,
                     scale: bool = True) -> np.ndarray:
    """Each predicted pose (N, J, 3) after the transform that best fits its visible joints to
    the ground truth's in the least-squares sense: rotation, translation and (with ``scale``) a
    uniform scale. A reflection is never used: when the best orthogonal map would be one, the
    last singular direction is flipped back (as VideoPose3D's ``p_mpjpe`` and 3DMPPE's
    ``rigid_align`` both do). Joints that are not visible follow the same transform."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    w = joint_mask(visible, pred.shape)[..., None].astype(np.float64)
    count = np.maximum(w.sum(1, keepdims=True), 1)
    mu_p, mu_g = (pred * w).sum(1, keepdims=True) / count, (gt * w).sum(1, keepdims=True) / count
    p, g = (pred - mu_p) * w, (gt - mu_g) * w
    u, s, vt = np.linalg.svd(np.matmul(g.transpose(0, 2, 1), p))   # H = G^T P
    v = vt.transpose(0, 2, 1)
    sign = np.sign(np.linalg.det(np.matmul(v, u.transpose(0, 2, 1))))
    sign[sign == 0] = 1
    v[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    r = np.matmul(v, u.transpose(0, 2, 1))                           # rotation P -> G
    factor = 1.0
    if scale:
        norm_p = (p ** 2).sum((1, 2))
        factor = (s.sum(1) / np.where(norm_p > 0, norm_p, 1))[:, None, None]
    return factor * np.matmul(pred - mu_p, r) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, visible=None) -> float:
    """MPJPE after the similarity alignment (rotation, uniform scale, translation) of each pose
    to its ground truth: VideoPose3D's ``p_mpjpe``, the usual "PA-MPJPE"."""
    return mpjpe(procrustes_align(pred, gt, visible), gt, visible)


def pa_mpjpe_rigid(pred: np.ndarray, gt: np.ndarray, visible=None) -> float:
    """MPJPE after the rigid alignment (rotation and translation, no scale) of each pose to its
    ground truth: 3DMPPE's ``rigid_align``, the reading of "rigid alignment" in the WSP paper."""
    return mpjpe(procrustes_align(pred, gt, visible, scale=False), gt, visible)


def axis_errors(pred: np.ndarray, gt: np.ndarray, visible=None,
                root: int | None = None) -> dict[str, float]:
    """Mean absolute error along X, Y and Z (mm) over the visible joints, after root alignment
    when ``root`` is given."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if root is not None:
        pred, gt = root_align(pred, root), root_align(gt, root)
    mask = joint_mask(visible, pred.shape)
    err = np.abs(pred - gt)[mask].reshape(-1, 3)
    mean = err.mean(0) if len(err) else np.full(3, np.nan)
    return {"x": float(mean[0]), "y": float(mean[1]), "z": float(mean[2])}


def joints_avg_paper(axes: dict[str, float]) -> float:
    """The WSP paper's Table 4 "Joints Avg": the norm √(X² + Y² + Z²) of the per-axis mean
    errors (not the mean Euclidean error, which is never smaller)."""
    return float(np.sqrt(axes["x"] ** 2 + axes["y"] ** 2 + axes["z"] ** 2))


def pck3d(pred: np.ndarray, gt: np.ndarray, threshold_mm: float = 150.0, visible=None) -> float:
    """3DPCK: the fraction of visible joints whose error is below ``threshold_mm`` (no
    alignment)."""
    err = joint_errors(pred, gt)
    return masked_mean(err < threshold_mm, joint_mask(visible, err.shape))


def per_action(errors: np.ndarray, actions: list[str]) -> dict[str, float]:
    """Mean of per-pose errors by action, plus "average" = the mean over actions (the field's
    action-average, which weighs every action alike)."""
    errors = np.asarray(errors, dtype=np.float64)
    table = {a: float(errors[np.array(actions) == a].mean()) for a in sorted(set(actions))}
    table["average"] = float(np.mean(list(table.values()))) if table else float("nan")
    return table
