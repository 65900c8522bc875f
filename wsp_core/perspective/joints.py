"""The few joints the perspective cues look at, gathered once in a compact array."""

from __future__ import annotations

import numpy as np

from ..skeleton import JointSet, to_canonical

#: Canonical names of the joints that labels, S and the cue scores use, in the order of the
#: compact (P, K, 3) arrays that the functions of this package take.
PERSPECTIVE_JOINTS: tuple[str, ...] = (
    "l_ankle", "r_ankle", "l_knee", "r_knee", "l_hip", "r_hip", "l_shoulder", "r_shoulder",
    "nose", "head_top", "neck",
)
J: dict[str, int] = {name: k for k, name in enumerate(PERSPECTIVE_JOINTS)}


def perspective_joints(keypoints: np.ndarray, joint_set: JointSet) -> np.ndarray:
    """(P, K, 3) compact array of PERSPECTIVE_JOINTS from keypoints in ``joint_set``'s order."""
    return to_canonical(keypoints, joint_set, names=PERSPECTIVE_JOINTS)
