"""Scenes of the synthetic world: a camera, 2–6 people on a ground plane, their 3D truth.

World frame (metres): x right, y forward (away from the camera), z up; the ground is z = 0.
Camera frame (OpenCV): x right, y down, z forward. ``world_to_camera`` is a proper rotation, so a
person facing the camera shows its right side on the image's left, as in a photograph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..skeleton import CANONICAL_INDEX as C
from .body import NOT_STANDING, POSE_WEIGHTS, POSES, Subject, body_joints, rot_z, sample_pose

#: Scene parameters and their defaults (docs/SYNTHETIC.md).
DEFAULTS = {
    "width": 640, "height": 480, "persons": (2, 6), "depth_m": (2.0, 20.0),
    "camera_height_m": (1.0, 2.0), "pitch_deg": (0.0, 10.0), "roll_deg": (-3.0, 3.0),
    "hfov_deg": (50.0, 75.0), "p_raised": 0.15, "raised_m": (0.15, 0.9), "p_hug_scene": 0.25,
    "p_cut": 0.07, "min_gap_m": 0.7,
}


@dataclass
class Camera:
    width: int
    height: int
    f: tuple[float, float]
    c: tuple[float, float]
    position: np.ndarray            # (3,) world
    rotation: np.ndarray            # (3, 3) world -> camera

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        return (points_world - self.position) @ self.rotation.T

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) of camera-frame points (..., 3) with z > 0."""
        z = points_cam[..., 2:3]
        return points_cam[..., :2] / z * np.array(self.f) + np.array(self.c)

    def ray(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """World-frame directions (..., 3) of the rays through pixels (u, v)."""
        d = np.stack([(u - self.c[0]) / self.f[0], (v - self.c[1]) / self.f[1], np.ones_like(u)], -1)
        return d @ self.rotation  # camera -> world is the transpose

    @property
    def intrinsics(self) -> dict:
        return {"f": [float(self.f[0]), float(self.f[1])], "c": [float(self.c[0]), float(self.c[1])]}


@dataclass
class Person:
    subject: Subject
    pose: str
    yaw_deg: float
    position: np.ndarray            # (3,) world: ground point under the pelvis (z = elevation)
    joints_world: np.ndarray        # (J, 3)
    elevation: float = 0.0          # height of the ground it stands on (a step, stairs, a stage)
    hug_group: int | None = None
    cut: bool = False               # placed across the image border on purpose
    joints_cam: np.ndarray = field(default_factory=lambda: np.zeros(0))
    joints_img: np.ndarray = field(default_factory=lambda: np.zeros(0))
    visibility: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def depth(self) -> float:
        """Camera-frame z of the pelvis: the person's depth (what "closer" compares)."""
        return float(self.joints_cam[C["pelvis"], 2])


@dataclass
class Scene:
    camera: Camera
    persons: list[Person]
    ground_colour: tuple[int, int, int]
    sky_colour: tuple[int, int, int]
    tile_m: float


def make_camera(rng: np.random.Generator, p: dict) -> Camera:
    w, h = p["width"], p["height"]
    f = w / 2 / np.tan(np.radians(rng.uniform(*p["hfov_deg"])) / 2)
    c = (w / 2 + rng.uniform(-0.01, 0.01) * w, h / 2 + rng.uniform(-0.01, 0.01) * h)
    pitch, roll = np.radians(rng.uniform(*p["pitch_deg"])), np.radians(rng.uniform(*p["roll_deg"]))
    axes = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])           # world -> camera axes
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])       # looking down
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    position = np.array([0.0, 0.0, rng.uniform(*p["camera_height_m"])])
    return Camera(w, h, (float(f), float(f)), (float(c[0]), float(c[1])), position,
                  r_roll @ r_pitch @ axes)


def _ground_point(camera: Camera, u: float, depth: float) -> np.ndarray:
    """World ground point at forward distance ``depth`` seen at image column ``u``."""
    x = (u - camera.c[0]) / camera.f[0] * depth
    return np.array([x, depth, 0.0])


def _place(person_xy: np.ndarray, placed: list[np.ndarray], gap: float) -> bool:
    return all(np.hypot(*(person_xy - q)) >= gap for q in placed)


def make_scene(rng: np.random.Generator, subjects: list[Subject], params: dict | None = None) -> Scene:
    """A random scene: camera, people (some raised, hugging, cut by the border), their 3D truth."""
    p = {**DEFAULTS, **(params or {})}
    camera = make_camera(rng, p)
    n = int(rng.integers(p["persons"][0], p["persons"][1] + 1))
    chosen = rng.choice(len(subjects), size=min(n, len(subjects)), replace=False)
    hug = len(chosen) >= 2 and rng.random() < p["p_hug_scene"]
    persons: list[Person] = []
    placed: list[np.ndarray] = []
    for k, s in enumerate(chosen):
        subject = subjects[int(s)]
        if hug and k == 1:
            person = _hug_partner(rng, subject, persons[0]) if persons else None
        else:
            person = _free_person(rng, camera, subject, p, placed, for_hug=hug and k == 0)
        if person is None:
            continue
        persons.append(person)
        placed.append(person.position[:2])
    for person in persons:
        person.joints_cam = camera.to_camera(person.joints_world)
        person.joints_img = camera.project(person.joints_cam)
    ground = tuple(int(v) for v in rng.integers(60, 170, 3))
    sky = tuple(int(v) for v in (rng.integers(170, 235), rng.integers(150, 215), rng.integers(110, 170)))
    return Scene(camera, persons, ground, sky, float(rng.uniform(0.5, 1.5)))


def _pose_for(rng: np.random.Generator, standing_only: bool = False) -> str:
    poses = [q for q in POSES if not (standing_only and q in NOT_STANDING)]
    weights = np.array([POSE_WEIGHTS[q] for q in poses])
    return str(rng.choice(poses, p=weights / weights.sum()))


def _pose_person(rng, subject: Subject, pose: str, yaw: float, position: np.ndarray, **kw) -> Person:
    joints = body_joints(subject, sample_pose(rng, pose), lying=pose == "lying")
    joints = joints @ rot_z(yaw).T + position
    return Person(subject, pose, yaw, position, joints, **kw)


def _free_person(rng, camera: Camera, subject: Subject, p: dict, placed,
                 for_hug: bool = False) -> Person | None:
    """A person placed on free ground (or, with ``for_hug``, the first of a hugging pair)."""
    for _ in range(30):
        depth = rng.uniform(*p["depth_m"])
        cut = rng.random() < p["p_cut"] and not for_hug
        u = (rng.choice([-0.04, 1.04]) + rng.uniform(-0.03, 0.03)) * camera.width if cut \
            else rng.uniform(0.08, 0.92) * camera.width
        position = _ground_point(camera, u, depth)
        if not _place(position[:2], placed, p["min_gap_m"]):
            continue
        pose = "hugging" if for_hug else _pose_for(rng)
        elevation = float(rng.uniform(*p["raised_m"])) if rng.random() < p["p_raised"] \
            and pose not in ("lying", "hugging") else 0.0
        position[2] = elevation
        yaw = float(rng.uniform(0, 360))
        if pose == "turning":
            yaw = float(rng.choice([90.0, 270.0]) + rng.normal(0, 20))
        if for_hug:
            yaw = float(rng.uniform(0, 360) if rng.random() < 0.5 else 180 + rng.uniform(-40, 40))
        return _pose_person(rng, subject, pose, yaw, position, elevation=elevation, cut=cut)
    return None


def _hug_partner(rng, subject: Subject, first: Person) -> Person:
    """A second person hugging the first: chest to chest (0.25–0.32 m along the first's facing
    direction, turned towards it), or side by side (0.32–0.42 m to its side, both facing the
    camera, arms around each other). Either way the depth gap stays under 0.3 m."""
    facing = rot_z(first.yaw_deg) @ np.array([0.0, 1.0, 0.0])
    side = rot_z(first.yaw_deg) @ np.array([1.0, 0.0, 0.0])
    towards_camera = abs(((first.yaw_deg - 180) + 180) % 360 - 180) < 45
    if towards_camera and rng.random() < 0.5:
        position = first.position + side * rng.uniform(0.32, 0.42) * rng.choice([-1.0, 1.0])
        yaw = first.yaw_deg + rng.normal(0, 10)
    else:
        position = first.position + facing * rng.uniform(0.25, 0.32)
        yaw = first.yaw_deg + 180 + rng.normal(0, 10)
    first.hug_group = 0
    return _pose_person(rng, subject, "hugging", float(yaw), position, hug_group=0)
