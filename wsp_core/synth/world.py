"""Writing a synthetic world to disk in the real datasets' formats.

``DIR/scenes.json``: COCO-style, in the MuCo/MuPoTS layout of the 3DMPPE code (images carry the
intrinsics ``f`` and ``c``; annotations carry ``keypoints_cam`` (mm, camera frame),
``keypoints_img`` (px, exact) and COCO ``keypoints`` with visibility (what an annotator would
click: the exact joints plus a small error), all in the canonical joint order named by
``categories[0].keypoints``), plus the truth the noise report needs (subject, action,
elevation, hug group, cut). ``DIR/images/``: the JPEGs.
``DIR/single/``: single-person 3D crops in mmpose's Human3.6M npz layout (``annotations.npz``:
imgname, center, scale, part, S; plus f, c, subject, action) and ``images/``.

Every image is drawn from its own generator seeded by (seed, index), so a world is the same for
a seed whatever the number of worker processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write
from ..skeleton import CANONICAL, CANONICAL_INDEX as C, H36M
from .body import POSES, make_subject
from .render import joint_visibility, render
from .scene import DEFAULTS, Scene, make_scene

#: Subject ids, numbered like Human3.6M's so its protocols' subject lists apply.
SUBJECT_IDS = (1, 5, 6, 7, 8, 9, 11, 2, 3, 4, 10)
SINGLE_SIZE = 256
_SUBJECT_SEED = 1_000_003


def subjects_of_world(seed: int):
    rng = np.random.default_rng([seed, _SUBJECT_SEED])
    return [make_subject(rng, sid) for sid in SUBJECT_IDS]


def _image_record(index: int, scene: Scene, file_name: str) -> dict:
    cam = scene.camera
    return {"id": index + 1, "file_name": file_name, "width": cam.width, "height": cam.height,
            **cam.intrinsics, "camera_height_m": round(float(cam.position[2]), 4)}


def _bbox(img: np.ndarray, vis: np.ndarray, width: int, height: int) -> list[float]:
    """Box around the in-image joints, padded by 10 % of its size (heads and hands stick out)."""
    pts = img[vis > 0]
    if len(pts) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    pad_x, pad_y = 0.1 * (x1 - x0) + 2, 0.1 * (y1 - y0) + 2
    x0, y0 = max(0.0, x0 - pad_x), max(0.0, y0 - pad_y)
    x1, y1 = min(width - 1.0, x1 + pad_x), min(height - 1.0, y1 + pad_y)
    return [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]


#: Annotators' error: Gaussian, σ = this fraction of the person's box height, clipped at 3 σ.
ANNOTATION_NOISE = 0.01


def _annotated(img: np.ndarray, vis: np.ndarray, height_px: float, width: int, height: int,
               rng: np.random.Generator) -> np.ndarray:
    """What an annotator would click: the true 2D joints plus a small error, kept in the image."""
    sigma = ANNOTATION_NOISE * max(height_px, 1.0)
    noise = np.clip(rng.normal(0, sigma, img.shape), -3 * sigma, 3 * sigma)
    return np.clip(img + noise, 0, [width - 1, height - 1])


def _annotations(scene: Scene, ids: np.ndarray, image_id: int,
                 rng: np.random.Generator) -> list[dict]:
    out = []
    cam = scene.camera
    for k, person in enumerate(scene.persons):
        vis = joint_visibility(person, ids, k)
        img = person.joints_img
        box = _bbox(img, vis, cam.width, cam.height)
        clicked = _annotated(img, vis, box[3], cam.width, cam.height, rng)
        flat = []
        for j in range(len(CANONICAL)):
            flat += [round(float(clicked[j, 0]), 2), round(float(clicked[j, 1]), 2), int(vis[j])] \
                if vis[j] > 0 else [0, 0, 0]
        out.append({
            "id": image_id * 100 + k, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "bbox": box, "area": round(box[2] * box[3], 2), "num_keypoints": int((vis > 0).sum()),
            "keypoints": flat,
            "keypoints_img": np.round(img, 2).tolist(),
            "keypoints_cam": np.round(person.joints_cam * 1000.0, 1).tolist(),
            "keypoints_vis": vis.tolist(),
            "subject": person.subject.id, "action": person.pose,
            "action_idx": POSES.index(person.pose), "elevation_m": round(person.elevation, 4),
            "hug_group": person.hug_group, "cut": bool(person.cut),
            "yaw_deg": round(person.yaw_deg % 360, 2),
        })
    return out


def _crop(image: np.ndarray, box: list[float]):
    """A square crop around a box, resized to SINGLE_SIZE; returns it, the scale and the origin."""
    x, y, w, h = box
    side = 1.25 * max(w, h)
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    s = SINGLE_SIZE / side
    affine = np.array([[s, 0, -s * x0], [0, s, -s * y0]])
    crop = cv2.warpAffine(image, affine, (SINGLE_SIZE, SINGLE_SIZE), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, s, (x0, y0), side


def _single_samples(scene: Scene, image: np.ndarray, anns: list[dict], index: int,
                    single_dir: Path) -> list[dict]:
    """Crops of the fully visible people of a scene, with their 3D truth in crop coordinates."""
    out = []
    h36m_idx = [C[c] for c in H36M.canonical]
    for k, (person, ann) in enumerate(zip(scene.persons, anns)):
        vis = np.array(ann["keypoints_vis"])
        if (vis == 0).any() or (vis == 2).mean() < 0.8 or ann["bbox"][3] < 60:
            continue
        crop, s, (x0, y0), side = _crop(image, ann["bbox"])
        action = person.pose.replace("_", "")
        seq = f"S{person.subject.id}_{action.capitalize()}_{index % 2 + 1}.cam{k}"
        name = f"S{person.subject.id}/{seq}/{seq}_{index:06d}.jpg"
        (single_dir / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(single_dir / "images" / name), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        part = (person.joints_img[h36m_idx] - [x0, y0]) * s
        f = np.array(scene.camera.f) * s
        c = (np.array(scene.camera.c) - [x0, y0]) * s
        out.append({"imgname": name, "center": [SINGLE_SIZE / 2] * 2, "scale": SINGLE_SIZE / 200.0,
                    "part": np.concatenate([part, np.ones((17, 1))], 1),
                    "S": np.concatenate([person.joints_cam[h36m_idx], np.ones((17, 1))], 1),
                    "f": f, "c": c, "subject": person.subject.id,
                    "action": person.pose, "source_scale": side / SINGLE_SIZE})
    return out


def make_image(seed: int, index: int, out_dir: str, params: dict | None = None):
    """Generate, render and write image ``index`` of the world; returns its records."""
    out = Path(out_dir)
    rng = np.random.default_rng([seed, index])
    scene = make_scene(rng, subjects_of_world(seed), params)
    image, ids = render(scene, rng)
    file_name = f"images/{index:06d}.jpg"
    cv2.imwrite(str(out / file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    record = _image_record(index, scene, file_name)
    anns = _annotations(scene, ids, record["id"], rng)
    singles = _single_samples(scene, image, anns, index, out / "single")
    return record, anns, singles


def _write_json_atomic(path: Path, data) -> None:
    with atomic_write(path) as f:
        json.dump(data, f, separators=(",", ":"))


def _write_single(single_dir: Path, samples: list[dict]) -> None:
    arrays = {
        "imgname": np.array([s["imgname"] for s in samples], dtype=str),
        "center": np.array([s["center"] for s in samples], dtype=np.float32).reshape(-1, 2),
        "scale": np.array([s["scale"] for s in samples], dtype=np.float32),
        "part": np.array([s["part"] for s in samples], dtype=np.float32).reshape(-1, 17, 3),
        "S": np.array([s["S"] for s in samples], dtype=np.float32).reshape(-1, 17, 4),
        "f": np.array([s["f"] for s in samples], dtype=np.float32).reshape(-1, 2),
        "c": np.array([s["c"] for s in samples], dtype=np.float32).reshape(-1, 2),
        "subject": np.array([s["subject"] for s in samples], dtype=np.int32),
        "action": np.array([s["action"] for s in samples], dtype=str),
    }
    with atomic_write(single_dir / "annotations.npz", "wb") as f:
        np.savez_compressed(f, **arrays)


def generate_world(out_dir: str | os.PathLike[str], n_images: int, seed: int = 0,
                   params: dict | None = None, workers: int | None = None,
                   progress: Callable[[int], None] | None = None) -> dict:
    """Write a world of ``n_images`` scenes to ``out_dir``; returns a summary."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "single" / "images").mkdir(parents=True, exist_ok=True)
    p = {**DEFAULTS, **(params or {})}
    workers = workers or min(os.cpu_count() or 1, 8)
    images, anns, singles = [], [], []

    def collect(result) -> None:
        record, image_anns, image_singles = result
        images.append(record)
        anns.extend(image_anns)
        singles.extend(image_singles)
        if progress:
            progress(1)

    if workers <= 1 or n_images < 8:
        for i in range(n_images):
            collect(make_image(seed, i, str(out), params))
    else:
        with ProcessPoolExecutor(workers) as pool:
            for result in pool.map(make_image, [seed] * n_images, range(n_images),
                                   [str(out)] * n_images, [params] * n_images, chunksize=8):
                collect(result)
    info = {"description": "WSP Studio synthetic world", "seed": seed, "images": n_images,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
            "version": 1}
    _write_json_atomic(out / "scenes.json", {
        "info": info, "categories": [{"id": 1, "name": "person", "keypoints": list(CANONICAL)}],
        "images": images, "annotations": anns})
    _write_single(out / "single", singles)
    return {"out": str(out), "images": len(images), "persons": len(anns),
            "single_samples": len(singles), "seed": seed}
