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
from ..skeleton import H36M, ROOT, to_canonical
from .h36m import Pose3DSet, read_h36m_json, read_h36m_npz

DATA_FORMATS = ("synth", "h36m-npz", "h36m", "synth-scenes", "muco", "mupots")


def read_3d_source(spec: str) -> tuple[Pose3DSet, Path]:
    """(Pose3DSet, image folder) of ``FORMAT:PATH``."""
    fmt, sep, path = spec.partition(":")
    if not sep or fmt not in DATA_FORMATS:
        raise InputError(spec, f"expected FORMAT:PATH with FORMAT one of {', '.join(DATA_FORMATS)}")
    path = Path(path)
    if fmt == "synth":
        return read_h36m_npz(path / "single" / "annotations.npz"), path / "single" / "images"
    if fmt == "h36m-npz":
        return read_h36m_npz(path), path.parent / "images"
    if fmt == "h36m":
        return read_h36m_json(path), path.parent / "images"
    if fmt == "synth-scenes":
        return multi_person_set("synth", path / "scenes.json", path), path
    return multi_person_set(fmt, path, path.parent), path.parent


def multi_person_set(fmt: str, ann: Path, images: Path) -> Pose3DSet:
    """Every person of a multi-person 3D source (MuCo, MuPoTS, the synthetic scenes) as a
    sample in Human3.6M's joint order; joints the source lacks are marked not visible."""
    from . import read_source

    data = read_source(fmt, ann, images)
    cam = np.concatenate([data.keypoints_cam, np.ones(data.keypoints_cam.shape[:2] + (1,))], -1)
    cam = to_canonical(cam, data.joint_set, names=H36M.canonical)
    img = to_canonical(data.keypoints, data.joint_set, names=H36M.canonical)
    intr = data.image_intrinsics
    f = np.array([intr[i]["f"] for i in data.person_image]).reshape(-1, 2)
    c = np.array([intr[i]["c"] for i in data.person_image]).reshape(-1, 2)
    extra = [e or {} for e in data.person_extra]
    keep = (cam[:, ROOT, 3] > 0) & (cam[:, ROOT, 2] > 0)
    names = [data.image_files[i] for i in data.person_image]
    sel = np.flatnonzero(keep)
    return Pose3DSet([names[k] for k in sel], cam[sel, :, :3], img[sel, :, :2],
                     (img[sel, :, 2] > 0) & (cam[sel, :, 3] > 0), f[sel], c[sel], data.bbox[sel],
                     np.array([int(extra[k].get("subject", 0)) for k in sel], dtype=int),
                     [str(extra[k].get("action", "all")) for k in sel])
