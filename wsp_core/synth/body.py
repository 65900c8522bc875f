"""A parametric 3D body: subjects (size, proportions, clothes), a pose library, forward kinematics.

Body frame (metres): x = the person's right, y = forward (the way the person faces), z = up,
origin on the ground under the pelvis. Every joint of the canonical set is produced
(``wsp_core.skeleton.CANONICAL``), head top and upper neck included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import CANONICAL, CANONICAL_INDEX as C

#: Segment lengths as fractions of body height (adult proportions, Drillis & Contini style).
#: "neck" ends at the upper neck where annotators put it (MPII upper_neck, PoseTrack
#: head_bottom), so the head length head_top − neck is ≈ 0.15 of the height, as in those sets.
SEGMENTS = {
    "ankle_height": 0.039, "shin": 0.246, "thigh": 0.245, "hip_half_width": 0.055,
    "spine": 0.10, "thorax": 0.27, "shoulder_half_width": 0.115, "shoulder_drop": 0.01,
    "neck": 0.04, "head_center": 0.06, "head_top": 0.09, "upper_arm": 0.186,
    "forearm": 0.146, "hand": 0.05, "foot": 0.10,
}

#: The pose classes of the library, with how often a person takes each. A minority sit, crouch
#: or lie: those break the ground-contact assumption in real photos too.
POSE_WEIGHTS = {"standing": 0.28, "walking": 0.26, "arms_raised": 0.12, "turning": 0.14,
                "sitting": 0.09, "crouching": 0.07, "lying": 0.04, "hugging": 0.0}
POSES = tuple(POSE_WEIGHTS)
#: Pose classes that do not stand on their feet. ("hugging" is only given to hugging pairs.)
NOT_STANDING = ("sitting", "crouching", "lying")


@dataclass(frozen=True)
class Subject:
    """One body: height in metres, per-segment proportion factors, clothing colours (BGR)."""

    id: int
    height: float
    proportions: dict[str, float]
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]

    def length(self, segment: str) -> float:
        return SEGMENTS[segment] * self.proportions.get(segment, 1.0) * self.height


_SKINS = [(190, 205, 235), (150, 175, 215), (110, 140, 185), (70, 95, 140), (55, 75, 105)]
_HAIRS = [(20, 20, 25), (35, 50, 80), (60, 90, 140), (150, 160, 170), (30, 30, 60)]


def make_subject(rng: np.random.Generator, subject_id: int) -> Subject:
    """A random adult: height 1.5–1.95 m, each segment ±6 %, random clothes."""
    height = float(rng.uniform(1.5, 1.95))
    proportions = {k: float(rng.uniform(0.94, 1.06)) for k in SEGMENTS}
    colour = lambda: tuple(int(v) for v in rng.integers(25, 230, 3))  # noqa: E731
    return Subject(subject_id, height, proportions, colour(), colour(),
                   _SKINS[int(rng.integers(len(_SKINS)))], _HAIRS[int(rng.integers(len(_HAIRS)))])


@dataclass
class PoseAngles:
    """Joint angles in degrees. Flexion moves a limb forward (+y); abduction moves it outward."""

    hip_flex: tuple[float, float] = (0.0, 0.0)       # right, left
    hip_abd: tuple[float, float] = (3.0, 3.0)
    knee_flex: tuple[float, float] = (0.0, 0.0)
    shoulder_flex: tuple[float, float] = (0.0, 0.0)
    shoulder_abd: tuple[float, float] = (8.0, 8.0)
    elbow_flex: tuple[float, float] = (10.0, 10.0)
    torso_lean: float = 0.0                          # forward, degrees
    head_pitch: float = 0.0                          # nod down, degrees


def sample_pose(rng: np.random.Generator, pose: str) -> PoseAngles:
    """Angles of a pose of the library, with noise."""
    n = lambda s=1.0: float(rng.normal(0, 6 * s))  # noqa: E731
    if pose in ("standing", "turning"):
        return PoseAngles(hip_flex=(n(), n()), knee_flex=(abs(n()), abs(n())),
                          shoulder_flex=(n(2), n(2)), shoulder_abd=(8 + abs(n()), 8 + abs(n())),
                          elbow_flex=(10 + abs(n(3)), 10 + abs(n(3))), head_pitch=n())
    if pose == "walking":
        swing = float(rng.uniform(15, 30))
        side = 1 if rng.random() < 0.5 else -1
        return PoseAngles(hip_flex=(side * swing + n(0.5), -side * swing + n(0.5)),
                          knee_flex=(10 + abs(n(2)) + (side < 0) * 25, 10 + abs(n(2)) + (side > 0) * 25),
                          shoulder_flex=(-side * swing * 0.8 + n(), side * swing * 0.8 + n()),
                          elbow_flex=(20 + abs(n(2)), 20 + abs(n(2))), torso_lean=3 + n(0.3))
    if pose == "hugging":  # arms forward and bent, around the partner (placed by the scene)
        return PoseAngles(hip_flex=(n(0.5), n(0.5)), shoulder_flex=(75 + n(), 75 + n()),
                          shoulder_abd=(25 + abs(n()), 25 + abs(n())),
                          elbow_flex=(70 + n(2), 70 + n(2)), torso_lean=5 + n(0.5))
    if pose == "arms_raised":
        up = float(rng.uniform(120, 175))
        return PoseAngles(hip_flex=(n(), n()), shoulder_flex=(up + n(), up + n()),
                          shoulder_abd=(15 + abs(n(2)), 15 + abs(n(2))),
                          elbow_flex=(abs(n(3)), abs(n(3))), head_pitch=-10 + n())
    if pose == "sitting":
        return PoseAngles(hip_flex=(88 + n(), 88 + n()), hip_abd=(8 + n(), 8 + n()),
                          knee_flex=(88 + n(), 88 + n()), shoulder_flex=(30 + n(2), 30 + n(2)),
                          elbow_flex=(60 + n(2), 60 + n(2)), torso_lean=-5 + n())
    if pose == "crouching":
        return PoseAngles(hip_flex=(105 + n(), 105 + n()), hip_abd=(12 + n(), 12 + n()),
                          knee_flex=(125 + n(), 125 + n()), shoulder_flex=(50 + n(2), 50 + n(2)),
                          elbow_flex=(60 + n(2), 60 + n(2)), torso_lean=40 + n())
    if pose == "lying":
        return PoseAngles(hip_flex=(n(), n()), knee_flex=(abs(n(2)), abs(n(2))),
                          shoulder_flex=(n(2), n(2)), shoulder_abd=(20 + abs(n(3)), 20 + abs(n(3))))
    raise ValueError(f"unknown pose {pose!r}")


def contact_points(joints: np.ndarray, subject: Subject) -> np.ndarray:
    """The points that touch the ground when standing: both soles (under the ankles) and toes."""
    soles = joints[[C["l_ankle"], C["r_ankle"]]] - [0, 0, subject.length("ankle_height")]
    return np.concatenate([soles, joints[[C["l_toe"], C["r_toe"]]]])


def _rot_x(deg: float) -> np.ndarray:
    """Rotation about the body's x axis (right); positive turns −z (down) towards +y (forward)
    and so +z (up) towards −y (backward)."""
    a = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _rot_y(deg: float) -> np.ndarray:
    """Rotation about the body's y axis (forward); positive turns −z (down) towards +x (right)."""
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])


def rot_z(deg: float) -> np.ndarray:
    """Rotation about the vertical axis (yaw), counter-clockwise seen from above."""
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


_DOWN = np.array([0.0, 0.0, -1.0])


def body_joints(subject: Subject, angles: PoseAngles, lying: bool = False) -> np.ndarray:
    """(len(CANONICAL), 3) joint positions in the body frame, the lowest sole point on z = 0.

    Legs and arms hang from hips and shoulders and are rotated by flexion and abduction; the
    upper body leans forward about the pelvis. A lying body is turned onto its back.
    """
    L = subject.length  # noqa: N806 - a length, as the anatomy tables write it
    out = np.zeros((len(CANONICAL), 3))
    pelvis = np.array([0.0, 0.0, L("ankle_height") + L("shin") + L("thigh")])
    out[C["pelvis"]] = pelvis
    for k, side in enumerate(("r", "l")):
        sign = 1.0 if side == "r" else -1.0
        hip = pelvis + [sign * L("hip_half_width"), 0, 0]
        thigh_rot = _rot_x(angles.hip_flex[k]) @ _rot_y(sign * angles.hip_abd[k])
        knee = hip + thigh_rot @ _DOWN * L("thigh")
        shin_rot = thigh_rot @ _rot_x(-angles.knee_flex[k])
        ankle = knee + shin_rot @ _DOWN * L("shin")
        foot_dir = shin_rot @ _rot_x(90) @ _DOWN
        out[C[f"{side}_hip"]], out[C[f"{side}_knee"]], out[C[f"{side}_ankle"]] = hip, knee, ankle
        out[C[f"{side}_toe"]] = ankle + foot_dir * L("foot") + shin_rot @ _DOWN * L("ankle_height")
    lean = _rot_x(-angles.torso_lean)  # a forward lean turns up towards +y
    up = lean @ np.array([0.0, 0.0, 1.0])
    thorax = pelvis + up * L("thorax")
    out[C["spine"]] = pelvis + up * L("spine")
    out[C["thorax"]] = thorax
    neck = thorax + up * L("neck")
    out[C["neck"]] = neck
    head_rot = lean @ _rot_x(-angles.head_pitch)
    head = neck + head_rot @ np.array([0, 0.01, 1.0]) * L("head_center")
    out[C["head"]] = head
    out[C["head_top"]] = head + head_rot @ np.array([0, -0.05, 1.0]) * L("head_top")
    face = head_rot @ np.array([0.0, 1.0, 0.0])
    out[C["nose"]] = head + face * 0.05 * subject.height - head_rot @ [0, 0, 0.012 * subject.height]
    for side, sign in (("r", 1.0), ("l", -1.0)):
        out[C[f"{side}_eye"]] = head + face * 0.045 * subject.height + \
            head_rot @ [sign * 0.018 * subject.height, 0, 0.01 * subject.height]
        out[C[f"{side}_ear"]] = head + head_rot @ [sign * 0.045 * subject.height, -0.005 * subject.height, 0]
    for k, side in enumerate(("r", "l")):
        sign = 1.0 if side == "r" else -1.0
        shoulder = thorax + lean @ np.array([sign * L("shoulder_half_width"), 0, -L("shoulder_drop")])
        arm_rot = lean @ _rot_x(angles.shoulder_flex[k]) @ _rot_y(sign * angles.shoulder_abd[k])
        elbow = shoulder + arm_rot @ _DOWN * L("upper_arm")
        fore_rot = arm_rot @ _rot_x(angles.elbow_flex[k])
        wrist = elbow + fore_rot @ _DOWN * L("forearm")
        out[C[f"{side}_shoulder"]], out[C[f"{side}_elbow"]], out[C[f"{side}_wrist"]] = shoulder, elbow, wrist
        out[C[f"{side}_hand"]] = wrist + fore_rot @ _DOWN * L("hand")
    if lying:  # onto the back: up becomes −y, the face looks at the sky; 10 cm above the ground
        out = (_rot_x(90) @ (out - pelvis).T).T
        out[:, 2] -= out[:, 2].min() - 0.1
    else:  # the lowest contact point (a sole, i.e. an ankle minus its height, or a toe) on z = 0
        out[:, 2] -= min(contact_points(out, subject)[:, 2].min(), out[:, 2].min())
    return out
