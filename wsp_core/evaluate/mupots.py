"""MuPoTS-3D's 3DPCK as its official evaluation computes it (``mpii_mupots_multiperson_eval.m``,
shipped with 3DMPPE, and the MPI toolkit's helpers it calls), in MuPoTS's own 17-joint order.

Per image: ground-truth persons are matched to predictions on their **2D poses** (greedily, in
the ground truth's order; a prediction scores the number of joints 1…13, thorax to left ankle,
within 40 px of the ground truth in both x and y among those both have; the unmatched
prediction with the highest score > 0 is taken). Each matched prediction is made root-relative
(pelvis) and its **bones are rescaled to the ground truth's lengths** along the kinematic tree in
the official safe traversal order (each bone keeps its predicted direction, starts at its
already rescaled parent). Errors are counted over the **14 joints** head top … left ankle.
"All" counts every annotated person, an unmatched one with every joint wrong; "Matched" counts
matched persons only. PCK at 100, 110, …, 150 mm (the paper's Table 7; 150 mm is the official
number), AUC = the mean PCK over 0, 5, …, 150 mm; per sequence, and overall as the mean over
sequences. A joint the ground truth lacks never counts. docs/EVALUATION.md says more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..skeleton import MUPOTS

PELVIS = MUPOTS.index("pelvis")
#: Each joint's parent in MuPoTS's order (the toolkit's ``o1`` of its "relevant" joints).
PARENTS = (1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1)
#: The official safe traversal order without its first entry (the pelvis, which stays put).
TRAVERSAL = (15, 1, 0, 16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
PCK_JOINTS = tuple(range(14))
MATCH_JOINTS = tuple(range(1, 14))
MATCH_PX = 40.0
THRESHOLDS_MM = (100, 110, 120, 130, 140, 150)
AUC_THRESHOLDS_MM = tuple(range(0, 151, 5))


def rescale_bones(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """A root-relative predicted pose (17, 3) with every bone rescaled to the ground truth's
    length; a bone whose ends the ground truth lacks, or that has no length, keeps its own."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    vis = np.ones(len(gt), bool) if visible is None else np.asarray(visible, bool)
    out = pred.copy()
    for joint in TRAVERSAL:
        parent = PARENTS[joint]
        bone = pred[joint] - pred[parent]
        length = np.linalg.norm(bone)
        if vis[joint] and vis[parent] and length > 0:
            bone = bone * (np.linalg.norm(gt[joint] - gt[parent]) / length)
        out[joint] = out[parent] + bone
    return out


def match_identities(gt_2d: np.ndarray, gt_vis: np.ndarray, pred_2d: np.ndarray,
                     pred_vis: np.ndarray, threshold: float = MATCH_PX) -> list[int]:
    """For each ground-truth person (G, 17, 2), the index of its prediction (P, 17, 2), or −1."""
    taken = np.zeros(len(pred_2d), dtype=bool)
    out = []
    cols = list(MATCH_JOINTS)
    for g in range(len(gt_2d)):
        best, best_score = -1, 0
        for p in range(len(pred_2d)):
            if taken[p]:
                continue
            close = (np.abs(gt_2d[g, cols] - pred_2d[p, cols]) < threshold).all(-1)
            score = int((close & gt_vis[g, cols] & pred_vis[p, cols]).sum())
            if score > best_score:
                best, best_score = p, score
        if best >= 0:
            taken[best] = True
        out.append(best)
    return out


@dataclass
class Scene:
    """One image: its ground-truth persons and the predictions, MuPoTS's joint order, camera mm
    and image px; ``*_vis`` mark the joints each has."""

    sequence: str
    gt_cam: np.ndarray
    gt_img: np.ndarray
    gt_vis: np.ndarray
    pred_cam: np.ndarray
    pred_img: np.ndarray
    pred_vis: np.ndarray


@dataclass
class _Tally:
    errors: list[np.ndarray] = field(default_factory=list)   # (14,) per counted person
    masks: list[np.ndarray] = field(default_factory=list)
    persons: int = 0
    matched: int = 0


def person_errors(scene: Scene) -> list[np.ndarray | None]:
    """Per ground-truth person of a scene: its 17 joint errors (mm) after matching, root
    alignment and bone rescaling, or None when no prediction matched it."""
    matching = match_identities(scene.gt_img, scene.gt_vis, scene.pred_img, scene.pred_vis)
    out: list[np.ndarray | None] = []
    for g, p in enumerate(matching):
        if p < 0:
            out.append(None)
            continue
        gt = scene.gt_cam[g] - scene.gt_cam[g, PELVIS]
        pred = rescale_bones(scene.pred_cam[p] - scene.pred_cam[p, PELVIS], gt, scene.gt_vis[g])
        out.append(np.linalg.norm(pred - gt, axis=-1))
    return out


def _pck(errors: list[np.ndarray], masks: list[np.ndarray], threshold: float) -> float:
    if not errors:
        return float("nan")
    err, mask = np.stack(errors), np.stack(masks)
    return float(100.0 * ((err < threshold) & mask).sum() / max(mask.sum(), 1))


def _scores(tally_errors, tally_masks) -> dict[str, Any]:
    return {"pck": {str(t): _pck(tally_errors, tally_masks, t) for t in THRESHOLDS_MM},
            "auc": float(np.mean([_pck(tally_errors, tally_masks, t) for t in AUC_THRESHOLDS_MM]))}


def mupots_pck(scenes: list[Scene]) -> dict[str, Any]:
    """3DPCK All and Matched (percentages by threshold in mm), their AUCs, per sequence and
    overall (the mean over sequences), and how many persons were matched."""
    tallies: dict[str, tuple[_Tally, _Tally]] = {}
    for scene in scenes:
        every, matched = tallies.setdefault(scene.sequence, (_Tally(), _Tally()))
        for g, err in enumerate(person_errors(scene)):
            mask = np.asarray(scene.gt_vis[g], bool)[list(PCK_JOINTS)]
            every.persons += 1
            if err is None:
                every.errors.append(np.full(len(PCK_JOINTS), np.inf))
                every.masks.append(mask)
                continue
            every.matched += 1
            for tally in (every, matched):
                tally.errors.append(err[list(PCK_JOINTS)])
                tally.masks.append(mask)
    by_sequence = {}
    for name, (every, matched) in sorted(tallies.items()):
        a, m = _scores(every.errors, every.masks), _scores(matched.errors, matched.masks)
        by_sequence[name] = {"pck3d_all": a["pck"], "pck3d_matched": m["pck"],
                             "pck3d_auc_all": a["auc"], "pck3d_auc_matched": m["auc"],
                             "persons": every.persons, "matched_persons": every.matched}
    return {**_mean_over(by_sequence), "by_sequence": by_sequence,
            "persons": sum(s["persons"] for s in by_sequence.values()),
            "matched_persons": sum(s["matched_persons"] for s in by_sequence.values())}


def _mean_over(by_sequence: dict[str, dict[str, Any]]) -> dict[str, Any]:
    seqs = list(by_sequence.values())
    out: dict[str, Any] = {}
    for key in ("pck3d_all", "pck3d_matched"):
        out[key] = {t: _nanmean([s[key][t] for s in seqs]) for t in map(str, THRESHOLDS_MM)}
    for key in ("pck3d_auc_all", "pck3d_auc_matched"):
        out[key] = _nanmean([s[key] for s in seqs])
    return out


def _nanmean(values: list[float]) -> float:
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")
