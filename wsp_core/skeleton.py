"""Joint sets of every supported format, one canonical set, and the mappings between them.

Every reader keeps a person's keypoints in the *source's own* joint order (that is what the store
and ``wsp-core export`` hand back), and maps them to the canonical set whenever joints must be
compared across sources (ankles, knees, head top, neck...).

Visibility convention (COCO's): 0 = not labelled, 1 = labelled but occluded, 2 = labelled and
visible. A joint "is labelled" when its visibility is > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The canonical joint set: the union of every joint any supported source labels.
#: ``neck`` is the *upper* neck / head bottom (MPII upper_neck, PoseTrack head_bottom,
#: CrowdPose neck, Human3.6M neck_base); ``thorax`` is the base of the neck between the shoulders.
CANONICAL: tuple[str, ...] = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
    "spine", "thorax", "neck", "head", "head_top",
    "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    "nose", "l_eye", "r_eye", "l_ear", "r_ear",
    "r_hand", "l_hand", "r_toe", "l_toe",
)
CANONICAL_INDEX: dict[str, int] = {name: i for i, name in enumerate(CANONICAL)}


@dataclass(frozen=True)
class JointSet:
    """One dataset's joint list: the names as the dataset spells them, and their canonical names."""

    name: str
    joints: tuple[str, ...]
    canonical: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.canonical):
            raise ValueError(f"joint set {self.name}: {len(self.joints)} names, "
                             f"{len(self.canonical)} canonical names")
        unknown = set(self.canonical) - set(CANONICAL)
        if unknown:
            raise ValueError(f"joint set {self.name}: not canonical: {sorted(unknown)}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def has(self, canonical_name: str) -> bool:
        return canonical_name in self.canonical

    def index(self, canonical_name: str) -> int:
        """This set's index of a canonical joint; KeyError when the set lacks it."""
        try:
            return self.canonical.index(canonical_name)
        except ValueError:
            raise KeyError(f"{self.name} has no joint {canonical_name!r}") from None


_COCO_BODY = ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
              "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
_COCO_BODY_NAMES = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                    "right_knee", "left_ankle", "right_ankle")

COCO = JointSet(
    "coco",
    ("nose", "left_eye", "right_eye", "left_ear", "right_ear") + _COCO_BODY_NAMES,
    ("nose", "l_eye", "r_eye", "l_ear", "r_ear") + _COCO_BODY,
)

CROWDPOSE = JointSet(
    "crowdpose",
    _COCO_BODY_NAMES + ("head", "neck"),
    _COCO_BODY + ("head_top", "neck"),
)

POSETRACK = JointSet(
    "posetrack",
    ("nose", "head_bottom", "head_top", "left_ear", "right_ear") + _COCO_BODY_NAMES,
    ("nose", "neck", "head_top", "l_ear", "r_ear") + _COCO_BODY,
)

MPII = JointSet(
    "mpii",
    ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
     "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
     "l_wrist"),
    ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
     "neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
     "l_wrist"),
)

#: Human3.6M's 17 joints as mmpose names them (3DMPPE calls thorax "Neck" and neck_base "Nose").
H36M = JointSet(
    "h36m",
    ("root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
     "spine", "thorax", "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist",
     "right_shoulder", "right_elbow", "right_wrist"),
    ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
     "spine", "thorax", "neck", "head_top", "l_shoulder", "l_elbow", "l_wrist",
     "r_shoulder", "r_elbow", "r_wrist"),
)
#: The root joint of Human3.6M's order (the pelvis): 3D poses are compared relative to it.
ROOT = H36M.index("pelvis")

_MUCO_NAMES = ("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder",
               "L_Elbow", "L_Wrist", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee",
               "L_Ankle", "Pelvis", "Spine", "Head", "R_Hand", "L_Hand", "R_Toe", "L_Toe")
_MUCO_CANON = ("head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder",
               "l_elbow", "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee",
               "l_ankle", "pelvis", "spine", "head", "r_hand", "l_hand", "r_toe", "l_toe")

#: MuCo-3DHP's 21 joints in the 3DMPPE layout.
MUCO = JointSet("muco", _MUCO_NAMES, _MUCO_CANON)
#: MuPoTS-3D's 17 joints: MuCo's first 17.
MUPOTS = JointSet("mupots", _MUCO_NAMES[:17], _MUCO_CANON[:17])

JOINT_SETS: dict[str, JointSet] = {s.name: s for s in (COCO, CROWDPOSE, POSETRACK, MPII, H36M,
                                                        MUCO, MUPOTS)}

#: The canonical set as a joint set of its own (for data already in canonical order).
CANONICAL_SET = JointSet("canonical", CANONICAL, CANONICAL)
#: The synthetic world writes every canonical joint, in canonical order.
SYNTH = JointSet("synth", CANONICAL, CANONICAL)

#: The joint set of each import format (the order its files list joints in).
FORMAT_JOINT_SETS: dict[str, JointSet] = {
    "coco": COCO, "crowdpose": CROWDPOSE, "posetrack": POSETRACK, "mpii": MPII, "muco": MUCO,
    "mupots": MUPOTS, "synth": SYNTH, "h36m": H36M,
}

#: The limbs drawn between canonical joints (a joint set draws those whose two ends it has).
BONES: tuple[tuple[str, str], ...] = (
    ("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("l_ankle", "l_knee"), ("l_knee", "l_hip"),
    ("r_ankle", "r_toe"), ("l_ankle", "l_toe"), ("r_hip", "l_hip"), ("pelvis", "r_hip"),
    ("pelvis", "l_hip"), ("pelvis", "spine"), ("spine", "thorax"), ("r_hip", "r_shoulder"),
    ("l_hip", "l_shoulder"), ("r_shoulder", "l_shoulder"), ("thorax", "neck"),
    ("neck", "head"), ("head", "head_top"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
    ("r_wrist", "r_hand"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
    ("l_wrist", "l_hand"), ("nose", "r_eye"), ("nose", "l_eye"), ("r_eye", "r_ear"),
    ("l_eye", "l_ear"),
)
#: Bones drawn only when the set lacks the joint between their ends (MPII: neck to head top).
_BRIDGES: tuple[tuple[str, str, str], ...] = (("neck", "head_top", "head"),)


def bones(joint_set: JointSet) -> list[tuple[int, int]]:
    """The limbs of ``joint_set`` as pairs of indices into its own joint order."""
    out = [(joint_set.index(a), joint_set.index(b)) for a, b in BONES
           if joint_set.has(a) and joint_set.has(b)]
    out += [(joint_set.index(a), joint_set.index(b)) for a, b, between in _BRIDGES
            if joint_set.has(a) and joint_set.has(b) and not joint_set.has(between)]
    return out


#: Joints that can be derived when a set lacks them: name -> the two joints it is the middle of.
DERIVED: dict[str, tuple[str, str]] = {
    "pelvis": ("l_hip", "r_hip"),
    "thorax": ("l_shoulder", "r_shoulder"),
}


def to_canonical(keypoints: np.ndarray, joint_set: JointSet, derive: bool = True,
                 names: tuple[str, ...] = CANONICAL) -> np.ndarray:
    """Map keypoints (..., J, C) of ``joint_set`` onto canonical joints (..., len(names), C).

    ``names`` defaults to the whole canonical set; a shorter tuple gathers just those joints
    (cheaper on large arrays). The last channel is the visibility; joints the source lacks get
    zeros (not labelled). With ``derive``, a missing pelvis or thorax is filled from the middle
    of its two joints (see :func:`derive_joint`).
    """
    keypoints = np.asarray(keypoints)
    if keypoints.shape[-2] != joint_set.num_joints:
        raise ValueError(f"{joint_set.name} has {joint_set.num_joints} joints, "
                         f"got {keypoints.shape[-2]}")
    present = [joint_set.has(name) for name in names]
    src = [joint_set.index(name) if ok else 0 for name, ok in zip(names, present)]
    out = np.take(keypoints, src, axis=-2).astype(np.result_type(keypoints.dtype, np.float32),
                                                   copy=False)
    missing = [k for k, ok in enumerate(present) if not ok]
    if missing:
        out[..., missing, :] = 0  # joints the source lacks: not labelled
    if derive:
        for k, name in enumerate(names):
            ends = DERIVED.get(name)
            if ends and not joint_set.has(name) and all(joint_set.has(e) for e in ends):
                out[..., k, :] = derive_joint(keypoints[..., joint_set.index(ends[0]), :],
                                              keypoints[..., joint_set.index(ends[1]), :])
    return out


def derive_joint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The middle of joints ``a`` and ``b`` (..., C, visibility last).

    The derived visibility is the product of the two "labelled" flags, so the middle is labelled
    only when both ends are; where both are labelled it keeps the lower of the two visibilities
    (occluded wins over visible). Coordinates of an unlabelled result are zero.
    """
    labelled = (a[..., -1] > 0) & (b[..., -1] > 0)
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape), dtype=np.result_type(a, b, np.float32))
    out[..., :-1] = np.where(labelled[..., None], (a[..., :-1] + b[..., :-1]) / 2.0, 0.0)
    out[..., -1] = np.where(labelled, np.minimum(a[..., -1], b[..., -1]), 0.0)
    return out
