"""3D data sources named ``FORMAT:PATH``, each read as a :class:`~.h36m.Pose3DSet` (one sample
per person, Human3.6M's joint order) with the folder its image paths are relative to.

FORMAT: ``synth`` (a synthetic world folder: its ``single/`` set), ``h36m-npz`` (mmpose's npz;
images in ``images/`` beside it), ``h36m`` (the 3DMPPE JSON annotation folder; images in
``../images``), or a multi-person 3D set whose every person is a sample: ``synth-scenes`` (a
world's ``scenes.json``), ``muco`` / ``mupots`` (3DMPPE JSON files; images beside them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..skeleton import H36M, MUCO, MUPOTS, SYNTH, to_canonical
from .h36m import Pose3DSet, read_h36m_json, read_h36m_npz

DATA_FORMATS = ("synth", "h36m-npz", "h36m", "synth-scenes", "muco", "mupots")
MULTI_PERSON_FORMATS = ("synth-scenes", "muco", "mupots")
#: The joint order each source's own files (and predictions for it) use.
OWN_JOINTS = {"synth": H36M, "h36m-npz": H36M, "h36m": H36M, "synth-scenes": SYNTH,
              "muco": MUCO, "mupots": MUPOTS}


def parse_spec(spec: str) -> tuple[str, Path]:
    """(FORMAT, PATH) of ``FORMAT:PATH``; InputError for an unknown format."""
    fmt, sep, path = spec.partition(":")
    if not sep or fmt not in DATA_FORMATS:
        raise InputError(spec, f"expected FORMAT:PATH with FORMAT one of {', '.join(DATA_FORMATS)}")
    return fmt, Path(path)


def read_3d_source(spec: str, names: tuple[str, ...] = H36M.canonical,
                   training: bool = True) -> tuple[Pose3DSet, Path]:
    """(Pose3DSet, image folder) of ``FORMAT:PATH``. A multi-person set comes in the joint
    order ``names`` (canonical names; single-person sets are in Human3.6M's order). With
    ``training``, MuCo keeps the persons 3DMPPE trains on (:func:`muco_training_persons`)."""
    fmt, path = parse_spec(spec)
    if fmt == "synth":
        return read_h36m_npz(path / "single" / "annotations.npz"), path / "single" / "images"
    if fmt == "h36m-npz":
        return read_h36m_npz(path), path.parent / "images"
    if fmt == "h36m":
        return read_h36m_json(path), path.parent / "images"
    if fmt == "synth-scenes":
        return multi_person_set("synth", path / "scenes.json", path, names, training), path
    return multi_person_set(fmt, path, path.parent, names, training), path.parent


def multi_person_set(fmt: str, ann: Path, images: Path, names: tuple[str, ...] = H36M.canonical,
                     training: bool = True) -> Pose3DSet:
    """Every person of a multi-person 3D source (MuCo, MuPoTS, the synthetic scenes) with a
    root and a box of some size (the synthetic world writes people wholly outside the picture)
    as a sample in the joint order ``names``. A joint counts as visible when the source has its 3D
    position and, for training, its 2D position lies in the image; the official MuPoTS
    evaluation scores every joint of an annotated person, so for evaluation (``training``
    False) only the 3D position matters, and a joint without a 2D label gets the projection of
    its 3D position (what the 2D identity matching compares)."""
    from . import read_source

    data = read_source(fmt, ann, images)
    cam = np.concatenate([data.keypoints_cam, np.ones(data.keypoints_cam.shape[:2] + (1,))], -1)
    cam = to_canonical(cam, data.joint_set, names=names)
    img = to_canonical(data.keypoints, data.joint_set, names=names)
    intr = data.image_intrinsics
    f = np.array([intr[i]["f"] for i in data.person_image]).reshape(-1, 2)
    c = np.array([intr[i]["c"] for i in data.person_image]).reshape(-1, 2)
    extra = [e or {} for e in data.person_extra]
    root = names.index("pelvis")
    keep = (cam[:, root, 3] > 0) & (cam[:, root, 2] > 0) & (data.bbox[:, 2:] > 0).all(1)
    if fmt == "muco" and training:
        keep &= muco_training_persons(data.person_image, cam[:, root, :3])
    files = [data.image_files[i] for i in data.person_image]
    ids = [data.image_keys[i] for i in data.person_image]
    visible = cam[..., 3] > 0
    if training:
        visible &= img[..., 2] > 0
    else:  # a joint without a 2D label (outside the image) is where its 3D position projects
        proj = cam[..., :2] / np.where(cam[..., 2:3] > 0, cam[..., 2:3], 1.0) * f[:, None] + c[:, None]
        img[..., :2] = np.where(img[..., 2:3] > 0, img[..., :2], proj)
    sel = np.flatnonzero(keep)
    return Pose3DSet([files[k] for k in sel], cam[sel, :, :3], img[sel, :, :2], visible[sel],
                     f[sel], c[sel], data.bbox[sel],
                     np.array([int(extra[k].get("subject", 0)) for k in sel], dtype=int),
                     [str(extra[k].get("action", "all")) for k in sel], [ids[k] for k in sel],
                     None, [_sequence(fmt, files[k]) for k in sel])


def _sequence(fmt: str, file_name: str) -> str:
    """MuPoTS-3D's sequence (``TS1`` … ``TS20``: the first folder of the file name), else ""."""
    parts = Path(file_name).parts
    return parts[0] if fmt == "mupots" and len(parts) > 1 else ""


def muco_training_persons(person_image: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """(P,) bool: the persons 3DMPPE's ``MuCo.py`` trains on. In each image the person whose
    root is nearest the camera, and every other person whose root lies at least 500 mm from
    every other person's root, both in X-Y and in 3D."""
    keep = np.zeros(len(roots), dtype=bool)
    for image in np.unique(person_image):
        idx = np.flatnonzero(person_image == image)
        r = roots[idx]
        keep[idx[np.argmin(r[:, 2])]] = True
        for a in range(len(idx)):
            others = np.delete(np.arange(len(idx)), a)
            d = r[others] - r[a]
            if len(others) == 0 or ((np.linalg.norm(d[:, :2], axis=1) >= 500)
                                    & (np.linalg.norm(d, axis=1) >= 500)).all():
                keep[idx[a]] = True
    return keep


def read_bbox_root(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(image id, box [x, y, w, h], root [X, Y, Z] mm) of each entry of 3DMPPE's
    ``bbox_root_*_output.json``: a list of ``{image_id, bbox, root_cam}``; its boxes are
    already extended to the input's aspect ratio (RootNet does it)."""
    from .base import finite_array, load_json

    entries = load_json(Path(path))
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(path, "expected a list of {image_id, bbox, root_cam} (3DMPPE's "
                               "bbox_root_*_output.json)")
    out = []
    for n, e in enumerate(entries):
        box = finite_array(path, f"box {n}", np.ravel(e.get("bbox", [])), "bbox", (4,))
        root = finite_array(path, f"box {n}", np.ravel(e.get("root_cam", [])), "root_cam", (3,))
        if "image_id" not in e or box[2] <= 0 or box[3] <= 0 or root[2] <= 0:
            raise InputError(path, f"box {n}: needs an image_id, a box of positive size and a "
                                   "root in front of the camera")
        out.append((str(e["image_id"]), box, root))
    return out
