"""Pose hints from a person's 2D keypoints: how bent the legs and hips are, how tilted the torso,
how far the feet reach below the hips — what tells sitting, crouching and lying apart from
standing, the poses whose ankles do not mark where the person stands on the ground.

Measured in the image plane, per person, vectorised (P persons), from the compact joints of
:func:`wsp_core.perspective.joints.perspective_joints`. A hint whose joints are not labelled is
NaN. Angles are in degrees.

- ``knee_angle``: the angle at the knee between thigh and shin, of the straighter labelled leg
  (180 = a straight leg; a seated person's knees are near 90).
- ``hip_angle``: the angle at the hip between the torso (hip to the shoulder of its side) and
  the thigh, of the straighter side (180 standing; near 90 sitting; small when crouching).
- ``torso_tilt``: the angle between the torso (hip middle to shoulder middle) and the image's
  up direction (0 upright, 90 lying, 180 upside down).
- ``leg_drop``: how far below the hip middle the ankle middle lies, over the torso's length
  (about 1.5–2 standing, below 1 sitting or crouching, near 0 lying).
- ``labelled_share``: the share of the joint set's joints that are labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import JointSet
from .joints import J, perspective_joints

#: The pose hints, in the order of :meth:`PoseHints.columns`.
POSE_HINTS = ("knee_angle", "hip_angle", "torso_tilt", "leg_drop", "labelled_share")


@dataclass
class PoseHints:
    """Per person (P,) arrays, NaN where unknown (see the module's docstring)."""

    knee_angle: np.ndarray
    hip_angle: np.ndarray
    torso_tilt: np.ndarray
    leg_drop: np.ndarray
    labelled_share: np.ndarray

    def columns(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in POSE_HINTS]


def _angle(at: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The angle (degrees) at joint ``at`` between the segments to ``a`` and ``b``, (P, 3) arrays
    with visibility last; NaN unless all three are labelled or a segment has no length."""
    u, w = a[:, :2] - at[:, :2], b[:, :2] - at[:, :2]
    nu, nw = np.linalg.norm(u, axis=1), np.linalg.norm(w, axis=1)
    ok = (at[:, 2] > 0) & (a[:, 2] > 0) & (b[:, 2] > 0) & (nu > 0) & (nw > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip((u * w).sum(axis=1) / (nu * nw), -1.0, 1.0)
    return np.where(ok, np.degrees(np.arccos(cos)), np.nan)


def _middle(kp: np.ndarray, left: str, right: str) -> tuple[np.ndarray, np.ndarray]:
    """The middle of two joints where both are labelled, else the labelled one: (P, 2) points
    and a (P,) flag of whether there is one."""
    one, other = kp[:, J[left]], kp[:, J[right]]
    ov, tv = one[:, 2] > 0, other[:, 2] > 0
    point = np.where((ov & tv)[:, None], (one[:, :2] + other[:, :2]) / 2.0,
                     np.where(ov[:, None], one[:, :2], other[:, :2]))
    return point, ov | tv


def _straighter(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per person the larger of two angles, either where only one is known."""
    out = np.max(np.where(np.isnan([left, right]), -np.inf, [left, right]), axis=0)
    return np.where(np.isinf(out), np.nan, out)


def pose_hints(kp: np.ndarray, labelled_share: np.ndarray) -> PoseHints:
    """The hints of persons whose compact (P, K, 3) joints are ``kp``; ``labelled_share`` (P,)
    comes from the full keypoints (:func:`labelled_share`)."""
    kp = np.asarray(kp, dtype=np.float64)
    side = {s: {j: kp[:, J[f"{s}_{j}"]] for j in ("ankle", "knee", "hip", "shoulder")}
            for s in ("l", "r")}
    knee = _straighter(*(_angle(side[s]["knee"], side[s]["hip"], side[s]["ankle"]) for s in "lr"))
    hip = _straighter(*(_angle(side[s]["hip"], side[s]["shoulder"], side[s]["knee"])
                        for s in "lr"))
    hips, has_hips = _middle(kp, "l_hip", "r_hip")
    shoulders, has_shoulders = _middle(kp, "l_shoulder", "r_shoulder")
    ankles, has_ankles = _middle(kp, "l_ankle", "r_ankle")
    torso = shoulders - hips
    length = np.linalg.norm(torso, axis=1)
    has_torso = has_hips & has_shoulders & (length > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = np.clip(-torso[:, 1] / length, -1.0, 1.0)      # image y grows downwards
        tilt = np.where(has_torso, np.degrees(np.arccos(up)), np.nan)
        drop = np.where(has_torso & has_ankles, (ankles[:, 1] - hips[:, 1]) / length, np.nan)
    return PoseHints(knee, hip, tilt, drop, np.asarray(labelled_share, dtype=np.float64))


def labelled_share(keypoints: np.ndarray) -> np.ndarray:
    """Per person, the share of the (P, J, 3) keypoints' joints that are labelled (v > 0)."""
    return (np.asarray(keypoints)[..., 2] > 0).mean(axis=1)


def person_pose_hints(keypoints: np.ndarray, joint_set: JointSet) -> PoseHints:
    """The hints of persons whose (P, J, 3) keypoints are in ``joint_set``'s order (what an
    import stores in the persons table)."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    return pose_hints(perspective_joints(keypoints, joint_set), labelled_share(keypoints))
