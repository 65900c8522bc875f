"""Single-person 3D sets in mmpose's Human3.6M npz layout (and the synthetic world's crops).

``annotations.npz``: ``imgname (N,)`` like ``S1/S1_Directions_1.54138969/…_000001.jpg``,
``center (N, 2)``, ``scale (N,)`` (box side / 200), ``part (N, 17, 3)`` pixels + visibility,
``S (N, 17, 4)`` camera-frame metres + visibility, in Human3.6M's 17-joint order (root, r_hip,
r_knee, r_foot, l_hip, …; see wsp_core.skeleton.H36M). Intrinsics come from per-sample ``f`` and
``c`` arrays when the file has them (the synthetic world's), else from ``cameras.pkl``
({(subject, camera id): {R, T, c, f, k, p, w, h, name, id}}), read with a numpy-only unpickler,
by the subject and camera id in ``imgname``. ``subject`` and ``action`` come from arrays when
present, else from ``imgname``.

Note: mmpose's ``h36m_coco.json`` names the left leg's joints first, but its data put the right
leg there, as the npz's order says; this reader follows the data (tests pin it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import relative_image_name
from .safe_pickle import load_numpy_pickle

_NAME = re.compile(r"S(?P<subject>\d+)_(?P<action>[A-Za-z]+)(?:[ _]\d+)?\.(?P<camera>\w+?)_\d+")


@dataclass
class Pose3DSet:
    """Single-person samples with 3D truth: camera-frame mm, image pixels, intrinsics."""

    images: list[str]
    joints_cam: np.ndarray        # (N, 17, 3) mm
    joints_img: np.ndarray        # (N, 17, 2) px
    visible: np.ndarray           # (N, 17) bool
    f: np.ndarray                 # (N, 2)
    c: np.ndarray                 # (N, 2)
    boxes: np.ndarray             # (N, 4) x, y, w, h
    subjects: np.ndarray          # (N,) int
    actions: list[str]
    image_ids: list[str] = field(default_factory=list)   # the source's image id ("" unknown)
    frames: np.ndarray | None = None                      # (N,) frame index, where known
    sequences: list[str] = field(default_factory=list)   # MuPoTS's TS1 … TS20, else ""

    def __post_init__(self) -> None:
        n = len(self.images)
        self.image_ids = self.image_ids or [""] * n
        self.sequences = self.sequences or [""] * n

    def __len__(self) -> int:
        return len(self.images)


#: Human3.6M's own file names spell two actions differently for some subjects (S1's
#: "TakingPhoto", "WalkingDog"); every name is made the one 3DMPPE's action list uses.
ACTION_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


def canonical_action(name: str) -> str:
    """An action's name as 3DMPPE lists it (``H36M_ACTIONS``), whatever the subject's spelling."""
    return ACTION_ALIASES.get(name, name)


def parse_imgname(name: str) -> tuple[int, str, str]:
    """(subject, action, camera id) of an mmpose Human3.6M image name; the action as 3DMPPE
    names it (:func:`canonical_action`)."""
    m = _NAME.search(Path(name).name)
    if not m:
        raise ValueError(name)
    return int(m["subject"]), canonical_action(m["action"]), m["camera"]


def read_h36m_npz(path: str | Path, cameras: str | Path | None = None) -> Pose3DSet:
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(path, f"not a readable npz file ({e})") from None
    with data:
        missing = [k for k in ("imgname", "center", "scale", "part", "S") if k not in data.files]
        if missing:
            raise InputError(path, f"lacks {', '.join(missing)} (mmpose Human3.6M npz layout)")
        names = [relative_image_name(path, str(n)) for n in data["imgname"]]
        part, s = data["part"].astype(np.float64), data["S"].astype(np.float64)
        n = len(names)
        if part.shape != (n, 17, 3) or s.shape != (n, 17, 4):
            raise InputError(path, f"part {part.shape} / S {s.shape}: expected ({n}, 17, 3) and "
                                   f"({n}, 17, 4)")
        if not np.isfinite(s).all() or (s[..., 2] <= 0).any():
            raise InputError(path, "S holds a non-finite value or a joint at or behind the camera")
        centre, scale = data["center"].astype(np.float64), data["scale"].astype(np.float64)
        parsed = [_parse(path, name) for name in names] if "subject" not in data.files else None
        subjects = data["subject"].astype(int) if parsed is None else np.array([p[0] for p in parsed])
        actions = [canonical_action(str(a)) for a in data["action"]] if "action" in data.files \
            else [p[1] for p in parsed or [_parse(path, name) for name in names]]
        if "f" in data.files and "c" in data.files:
            f, c = data["f"].astype(np.float64), data["c"].astype(np.float64)
        else:
            f, c = _intrinsics(path, cameras, parsed or [_parse(path, x) for x in names])
    side = (scale * 200.0)[:, None]
    boxes = np.concatenate([centre - side / 2, np.repeat(side, 2, 1)], 1)
    return Pose3DSet(names, s[..., :3] * 1000.0, part[..., :2], (part[..., 2] > 0) & (s[..., 3] > 0),
                     f, c, boxes, subjects, actions)


def _parse(path: Path, name: str) -> tuple[int, str, str]:
    try:
        return parse_imgname(name)
    except ValueError:
        raise InputError(path, f"image name {name!r} does not say subject, action and camera "
                               "(S<n>_<Action>_<k>.<camera>_<frame>.jpg)") from None


def _intrinsics(path: Path, cameras: str | Path | None, parsed) -> tuple[np.ndarray, np.ndarray]:
    if cameras is None:
        cameras = path.with_name("cameras.pkl")
    table = load_numpy_pickle(cameras)
    if not isinstance(table, dict):
        raise InputError(cameras, "expected a dict keyed (subject, camera id)")
    f, c = [], []
    for subject, _action, camera in parsed:
        entry = table.get((f"S{subject}", camera))
        if entry is None:
            raise InputError(cameras, f"no camera (S{subject}, {camera})")
        f.append(np.asarray(entry["f"], float).ravel())
        c.append(np.asarray(entry["c"], float).ravel())
    return np.array(f), np.array(c)


#: Human3.6M's actions, by the 3DMPPE files' ``action_idx`` (2 … 16).
H36M_ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
                "Sitting", "SittingDown", "Smoking", "Photo", "Waiting", "Walking", "WalkDog",
                "WalkTogether")


def read_h36m_json(annotations: str | Path, subjects: list[int] | None = None) -> Pose3DSet:
    """Human3.6M in the 3DMPPE JSON layout: per subject ``Human36M_subject{S}_data.json``
    (COCO-style images with subject, action_idx, subaction_idx, cam_idx, frame_idx; annotations
    with bbox and keypoints_vis), ``_camera.json`` ({cam_idx: {R, t (mm), f, c}}) and
    ``_joint_3d.json`` ({action: {subaction: {frame: 17 × 3 world mm}}}). Camera frame:
    X_cam = R · X_world + t, as the 3DMPPE code computes it."""
    from .base import load_json

    folder = Path(annotations)
    if subjects is None:
        subjects = sorted(int(p.name[len("Human36M_subject"):-len("_data.json")])
                          for p in folder.glob("Human36M_subject*_data.json"))
    if not subjects:
        raise InputError(folder, "holds no Human36M_subject<S>_data.json file")
    out: dict[str, list] = {k: [] for k in ("images", "cam", "vis", "f", "c", "boxes", "subjects",
                                            "actions", "ids", "frames")}
    for subject in subjects:
        base = folder / f"Human36M_subject{subject}"
        data = load_json(Path(f"{base}_data.json"))
        cameras = load_json(Path(f"{base}_camera.json"))
        joints = load_json(Path(f"{base}_joint_3d.json"))
        images = {im["id"]: im for im in data.get("images", []) if isinstance(im, dict)}
        for ann in data.get("annotations", []):
            im = images.get(ann.get("image_id"))
            path = Path(f"{base}_data.json")
            if im is None:
                raise InputError(path, f"annotation {ann.get('id')} refers to an unknown image")
            try:
                cam = cameras[str(im["cam_idx"])]
                world = np.asarray(joints[str(im["action_idx"])][str(im["subaction_idx"])]
                                   [str(im["frame_idx"])], dtype=np.float64)
                r, t = np.asarray(cam["R"], float), np.asarray(cam["t"], float).reshape(1, 3)
                f, c = np.asarray(cam["f"], float).ravel(), np.asarray(cam["c"], float).ravel()
            except (KeyError, TypeError, ValueError) as e:
                raise InputError(path, f"image {im.get('id')}: no camera or 3D joints for it "
                                       f"({e})") from None
            if world.shape != (17, 3) or r.shape != (3, 3) or f.shape != (2,) or c.shape != (2,):
                raise InputError(path, f"image {im.get('id')}: 3D joints, R, f or c of the wrong "
                                       "shape")
            out["images"].append(relative_image_name(path, im["file_name"]))
            out["ids"].append(str(im["id"]))
            out["frames"].append(int(im.get("frame_idx", 0)))
            out["cam"].append(world @ r.T + t)
            vis = np.asarray(ann.get("keypoints_vis", [True] * 17), dtype=bool).reshape(-1)
            out["vis"].append(vis if vis.shape == (17,) else np.ones(17, bool))
            out["f"].append(f)
            out["c"].append(c)
            out["boxes"].append(np.asarray(ann.get("bbox", [0, 0, 0, 0]), float))
            out["subjects"].append(int(im.get("subject", subject)))
            k = int(im["action_idx"]) - 2
            out["actions"].append(H36M_ACTIONS[k] if 0 <= k < len(H36M_ACTIONS)
                                  else str(im["action_idx"]))
    cam = np.array(out["cam"]).reshape(-1, 17, 3)
    if (cam[..., 2] <= 0).any():
        raise InputError(folder, "a joint lies at or behind its camera (check R and t)")
    f, c = np.array(out["f"]).reshape(-1, 2), np.array(out["c"]).reshape(-1, 2)
    img = cam[..., :2] / cam[..., 2:] * f[:, None] + c[:, None]
    return Pose3DSet(out["images"], cam, img, np.array(out["vis"]).reshape(-1, 17), f, c,
                     np.array(out["boxes"]).reshape(-1, 4), np.array(out["subjects"], dtype=int),
                     out["actions"], out["ids"], np.array(out["frames"], dtype=int))
