"""Cue-conflict scores: evidence, without any model, that a perspective label may be wrong.

Each score is in [0, 1] (0 = no evidence of a problem), vectorised over pairs, and a pure function
of image measurements. "near" is the person the perspective label calls closer (lower ankles),
"far" the other. A score that lacks what it needs (an unknown S, no labelled knee) is 0: no
evidence either way. ``suspicion`` (the review queue's default order) is the largest of
``hug``, ``size_conflict`` and ``knee_line``; ``raised_ground`` is shown beside them but left out
of that maximum (docs/CUES.md: adding it lowered the maximum's AUC on the synthetic world).
"""

from __future__ import annotations

import numpy as np

#: Ankle gap, as a fraction of the persons' mean box height, at which ``hug_score``'s closeness
#: term has fallen to 1/e.
HUG_GAP = 0.05
#: Size ratio far/near at which ``size_conflict`` reaches 1.
SIZE_CONFLICT_RATIO = 1.5
#: Relative shrink of the far person at which ``knee_line`` is fully explained by depth.
KNEE_LINE_SHRINK = 0.5
#: How many times larger than its image's ground line predicts the far person must look for
#: ``raised_ground`` to reach 1.
RAISED_RATIO = 2.0


def box_overlap(box_a: np.ndarray, box_b: np.ndarray) -> np.ndarray:
    """Intersection area over the smaller box's area, boxes (N, 4) as x, y, w, h; 0 for empty boxes."""
    x0 = np.maximum(box_a[:, 0], box_b[:, 0])
    y0 = np.maximum(box_a[:, 1], box_b[:, 1])
    x1 = np.minimum(box_a[:, 0] + box_a[:, 2], box_b[:, 0] + box_b[:, 2])
    y1 = np.minimum(box_a[:, 1] + box_a[:, 3], box_b[:, 1] + box_b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    smaller = np.minimum(box_a[:, 2] * box_a[:, 3], box_b[:, 2] * box_b[:, 3])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(smaller > 0, inter / smaller, 0.0)


def hug_score(box_a: np.ndarray, box_b: np.ndarray, ankle_gap: np.ndarray) -> np.ndarray:
    """Hugging (or standing side by side in contact): heavily overlapping boxes, ankles level.

    ``overlap × exp(−gap / (HUG_GAP · h))`` with ``overlap`` from :func:`box_overlap`, ``gap`` the
    absolute difference of mean ankle y and ``h`` the mean box height. Such persons are at nearly
    the same depth, so the label is decided by a few pixels of annotation noise.
    """
    height = (box_a[:, 3] + box_b[:, 3]) / 2.0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        closeness = np.where(height > 0, np.exp(-np.abs(ankle_gap) / (HUG_GAP * height)), 0.0)
    return box_overlap(box_a, box_b) * closeness


def size_conflict(s_near: np.ndarray, s_far: np.ndarray) -> np.ndarray:
    """The size cue disagrees with the ankle cue: the "far" person has the larger head.

    ``clip(log(S_far / S_near) / log(SIZE_CONFLICT_RATIO), 0, 1)``: 0 while the far person is no
    larger, 1 when it is 1.5 times larger. Typical of a near person sitting or crouching (its
    ankles stay low) beside a far one standing on a step, or of mixed-up annotations.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.log(s_far / s_near) / np.log(SIZE_CONFLICT_RATIO)
    return np.clip(np.nan_to_num(ratio, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def knee_line(near_knee_y: np.ndarray, near_ankle_y: np.ndarray, far_ankle_y: np.ndarray,
              s_near: np.ndarray, s_far: np.ndarray) -> np.ndarray:
    """The far person's ankles lie far above the near person's knee line, yet it is not smaller.

    With ``shin`` the near person's knee-to-ankle height in the image and
    ``t = (near_ankle_y − far_ankle_y) / shin``, ``above = clip(t − 1, 0, 1)`` is 0 at the knee
    line and 1 at twice the shin height. On one ground plane so large a gap means a large depth
    gap, so the far person must look clearly smaller; ``shrink = clip((S_near − S_far) / S_near /
    KNEE_LINE_SHRINK, 0, 1)`` measures that, and the score is ``above × (1 − shrink)``.
    High for a person on stairs, a step or a stage beside one on the floor.
    """
    shin = near_ankle_y - near_knee_y
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (near_ankle_y - far_ankle_y) / shin
        shrink = (s_near - s_far) / s_near / KNEE_LINE_SHRINK
    above = np.where(shin > 0, np.clip(np.nan_to_num(t - 1.0, nan=0.0), 0.0, 1.0), 0.0)
    known = np.isfinite(shrink)
    return np.where(known, above * (1.0 - np.clip(np.where(known, shrink, 0.0), 0.0, 1.0)), 0.0)


def ground_line_residual(image: np.ndarray, ankle_y: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per person, ``log(S / Ŝ)``: how much larger it looks than its image's ground line says a
    person whose feet are at its ankle height should look. NaN where it cannot be told.

    On one ground plane seen by an upright camera, a standing person's image size is
    proportional to its feet's distance below the horizon: ``S = k · (y − y_h)``, linear in the
    ankle height y (Hoiem, Efros & Hebert, "Putting objects in perspective", 2006). The line is
    fitted by least squares to the *other* persons of the same image (leave-one-out), so a person
    needs at least two others with a known S and distinct ankle heights; a fit whose slope is
    not positive (larger further down the image is what perspective requires) or whose
    prediction is not positive gives NaN. A person standing on a step, stairs or a stage has its
    feet higher than the plane at its depth, so it looks larger than the line predicts.
    """
    ok = np.isfinite(ankle_y) & np.isfinite(scale) & (scale > 0)
    y, s, w = np.where(ok, ankle_y, 0.0), np.where(ok, scale, 0.0), ok.astype(np.float64)
    _, group = np.unique(image, return_inverse=True)

    def others(values: np.ndarray) -> np.ndarray:  # the sum over the image, less the person
        return np.bincount(group, weights=values * w)[group] - values * w

    n, sy, ss = others(np.ones_like(y)), others(y), others(s)
    syy, sys = others(y * y), others(y * s)
    spread = n * syy - sy * sy
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sys - sy * ss) / spread
        predicted = (ss - slope * sy) / n + slope * y
        residual = np.log(s / predicted)
    known = ok & (n >= 2) & (spread > 1e-9 * np.maximum(n * syy, 1.0)) & (slope > 0) \
        & (predicted > 0)
    return np.where(known, residual, np.nan)


def raised_ground(far_residual: np.ndarray) -> np.ndarray:
    """The far person stands on something: it looks larger than its image's ground line says.

    ``clip(r / log(RAISED_RATIO), 0, 1)`` with ``r`` the far person's
    :func:`ground_line_residual`: 0 while it is no larger than the line predicts, 1 when it is
    twice as large; 0 where the residual is unknown (fewer than three persons with a known S).
    A raised person's feet are higher in the image than a person at its depth on the floor, so
    the ankle cue calls it farther than it is: the label may be wrong.
    """
    with np.errstate(invalid="ignore"):
        score = far_residual / np.log(RAISED_RATIO)
    return np.clip(np.nan_to_num(score, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
