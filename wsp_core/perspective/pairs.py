"""MCPC selection, pair enumeration and perspective labels, vectorised over all pairs.

``label = 1`` when person a's mean ankle y is at least b's (a is lower in the image, so closer
to the camera): the paper's eq. 7, whose ≥ gives a tie 1 (docs/FORMATS.md).
Within an image, a is always the person the source lists first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import JointSet
from .cues import ground_line_residual, hug_score, knee_line, raised_ground, size_conflict
from .joints import J, perspective_joints
from .scale import person_scale, scale_gap

_ANKLES = [J["l_ankle"], J["r_ankle"]]
_KNEES = [J["l_knee"], J["r_knee"]]


@dataclass
class PersonMeasures:
    """Per person: MCPC membership, mean ankle y, mean knee y, S and how S was found."""

    mcpc: np.ndarray        # (P,) bool: both ankles labelled
    ankle_y: np.ndarray     # (P,) float: NaN unless both ankles labelled
    knee_y: np.ndarray      # (P,) float: mean of the labelled knees, NaN if none
    scale: np.ndarray       # (P,) float: S in pixels, NaN if unknown
    scale_kind: np.ndarray  # (P,) int8: perspective.scale.SCALE_*


@dataclass
class PairTable:
    """One row per candidate pair; a and b index the persons."""

    a: np.ndarray
    b: np.ndarray
    label: np.ndarray       # int8, 1 = a closer
    margin_px: np.ndarray   # |ankle_y(a) − ankle_y(b)|
    margin_rel: np.ndarray  # margin_px / image height
    delta_s: np.ndarray     # ΔS, NaN where an S is unknown
    hug: np.ndarray
    size_conflict: np.ndarray
    knee_line: np.ndarray
    raised_ground: np.ndarray
    suspicion: np.ndarray   # max of hug, size_conflict and knee_line

    def __len__(self) -> int:
        return len(self.a)


def measure_persons(kp: np.ndarray) -> PersonMeasures:
    """Measures of the persons of a compact (P, K, 3) array (see perspective_joints)."""
    ankles = kp[:, _ANKLES]
    mcpc = (ankles[..., 2] > 0).all(axis=1)
    ankle_y = np.where(mcpc, ankles[..., 1].mean(axis=1), np.nan)
    knees = kp[:, _KNEES]
    knee_ok = knees[..., 2] > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        knee_y = (knees[..., 1] * knee_ok).sum(axis=1) / knee_ok.sum(axis=1)
    scale, kind = person_scale(kp)
    return PersonMeasures(mcpc, ankle_y, knee_y, scale, kind)


def enumerate_pairs(person_image: np.ndarray, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a, b) of selected persons sharing an image, a listed before b.

    Vectorised: persons are grouped by image, and for each group size n the pairs of all groups
    of that size come from one ``triu_indices(n, 1)``. Sorted by (a, b).
    """
    idx = np.flatnonzero(selected)
    idx = idx[np.argsort(person_image[idx], kind="stable")]
    _, starts, counts = np.unique(person_image[idx], return_index=True, return_counts=True)
    a_parts, b_parts = [], []
    for n in np.unique(counts[counts >= 2]):
        first = starts[counts == n][:, None]
        i, j = np.triu_indices(n, 1)
        a_parts.append(idx[(first + i).ravel()])
        b_parts.append(idx[(first + j).ravel()])
    if not a_parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    order = np.lexsort((b, a))
    return a[order], b[order]


def label_pairs(keypoints: np.ndarray, joint_set: JointSet, person_image: np.ndarray,
                bbox: np.ndarray, image_height: np.ndarray,
                measures: PersonMeasures | None = None) -> tuple[PersonMeasures, PairTable]:
    """Measures of every person and the labelled pairs of MCPC persons.

    keypoints: (P, J, 3) in ``joint_set``'s order; person_image: (P,) image index; bbox: (P, 4)
    x, y, w, h; image_height: (I,) pixels; measures: when the caller has them already.
    """
    m = measure_persons(perspective_joints(keypoints, joint_set)) if measures is None else measures
    a, b = enumerate_pairs(person_image, m.mcpc)
    ya, yb = m.ankle_y[a], m.ankle_y[b]
    label = (ya >= yb).astype(np.int8)  # eq. 7: a tie is labelled 1
    gap = np.abs(ya - yb)
    a_near = label == 1
    near, far = np.where(a_near, a, b), np.where(a_near, b, a)
    hug = hug_score(bbox[a], bbox[b], gap)
    size = size_conflict(m.scale[near], m.scale[far])
    knee = knee_line(m.knee_y[near], m.ankle_y[near], m.ankle_y[far], m.scale[near], m.scale[far])
    residual = ground_line_residual(person_image, np.where(m.mcpc, m.ankle_y, np.nan), m.scale)
    height = image_height[person_image[a]].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        margin_rel = np.where(height > 0, gap / height, np.nan)
    table = PairTable(a, b, label, gap, margin_rel, scale_gap(m.scale[a], m.scale[b]),
                      hug, size, knee, raised_ground(residual[far]),
                      np.maximum(np.maximum(hug, size), knee))
    return m, table
