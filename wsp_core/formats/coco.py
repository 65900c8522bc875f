"""COCO-style keypoint files: COCO, CrowdPose and PoseTrack18 (through pycocotools).

All three share the layout ``{images: [{id, file_name, width?, height?}], annotations: [{id,
image_id, keypoints: [x, y, v] * J, bbox: [x, y, w, h], iscrowd}], categories: [{keypoints:
names}]}``. They differ in the joint set, and PoseTrack18 spreads a dataset over one file per
video (``--ann`` may name a folder of them), has relative ``file_name``s like
``images/val/<video>/000000.jpg`` and no image sizes, and adds ``track_id`` and ``bbox_head``.
Crowd regions (``iscrowd: 1``) are not persons and are skipped.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import FORMAT_JOINT_SETS, JointSet
from .base import SourceData, bbox_from_keypoints, check_keypoints, load_json

#: The COCO-style formats this module reads.
COCO_STYLE_FORMATS = ("coco", "crowdpose", "posetrack", "muco", "mupots", "synth")
#: Formats whose files carry 3D truth (keypoints_cam, intrinsics f and c).
THREE_D_FORMATS = ("muco", "mupots", "synth")
#: Per-person fields kept in ``persons.extra``: PoseTrack's, and the 3D sets' truth.
_EXTRA_FIELDS = ("track_id", "bbox_head", "subject", "action", "action_idx", "elevation_m",
                 "hug_group", "cut", "yaw_deg")


def read_coco_style(fmt: str, ann: Path, images_dir: Path) -> SourceData:
    """Read a COCO, CrowdPose or PoseTrack18 annotation file (or, for PoseTrack, a folder)."""
    joint_set = FORMAT_JOINT_SETS[fmt]
    files = _annotation_files(ann, fmt)
    images: list[tuple[Path, Any]] = []
    anns: list[tuple[Path, Any]] = []
    for path in files:
        dataset = load_json(path)
        _check_layout(path, dataset, joint_set, fmt)
        images += [(path, im) for im in dataset["images"]]
        anns += [(path, a) for a in dataset["annotations"]]
    if fmt in THREE_D_FORMATS:
        from .muco import prepare_3d_annotations, valid_annotations

        anns = valid_annotations(anns)
        prepare_3d_annotations(joint_set, images, anns)
    return _to_source(fmt, joint_set, ann, images_dir, images, anns)


def _annotation_files(ann: Path, fmt: str) -> list[Path]:
    if ann.is_dir():
        if fmt != "posetrack":
            raise InputError(ann, f"is a folder; format {fmt} reads one JSON file")
        files = sorted(ann.glob("*.json"))
        if not files:
            raise InputError(ann, "folder holds no .json annotation file")
        return files
    return [ann]


def _check_layout(path: Path, dataset: Any, joint_set: JointSet, fmt: str) -> None:
    if not isinstance(dataset, dict):
        raise InputError(path, f"expected a JSON object with 'images' and 'annotations' "
                               f"({fmt} layout), found a {type(dataset).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(dataset.get(key), list):
            raise InputError(path, f"no '{key}' list: not a {fmt} keypoint file")
    names = _declared_joint_names(dataset)
    if names is not None and tuple(names) != joint_set.joints:
        hint = "".join(f" (this looks like a {other} file)" for other in COCO_STYLE_FORMATS
                       if tuple(names) == FORMAT_JOINT_SETS[other].joints)
        raise InputError(path, f"declares {len(names)} joints {_short(names)}; format {fmt} "
                               f"expects {joint_set.num_joints} {_short(joint_set.joints)}{hint}")


def _declared_joint_names(dataset: dict[str, Any]) -> list[str] | None:
    for cat in dataset.get("categories") or []:
        if isinstance(cat, dict) and isinstance(cat.get("keypoints"), list) and cat["keypoints"]:
            return [str(n) for n in cat["keypoints"]]
    return None


def _short(names: Any) -> str:
    names = list(names)
    return "[" + ", ".join(names[:3]) + (", …]" if len(names) > 3 else "]")


def _validated_index(images: list[tuple[Path, Any]], anns: list[tuple[Path, Any]]):
    """pycocotools' index over the merged dataset, after checking what it silently assumes:
    objects with ids, ids unique (it would keep the last of two), images that exist."""
    from pycocotools.coco import COCO

    image_ids: set[Any] = set()
    for path, im in images:
        if not isinstance(im, dict) or not _is_id(im.get("id")) or "file_name" not in im:
            raise InputError(path, f"image entry {_brief(im)} lacks an 'id' or a 'file_name'")
        if str(im["id"]) in image_ids:  # the store keys on the text: 7 and "7" are one id
            raise InputError(path, f"image id {im['id']} appears twice")
        image_ids.add(str(im["id"]))
    ann_ids: set[Any] = set()
    for path, a in anns:
        if not isinstance(a, dict) or not _is_id(a.get("id")):
            raise InputError(path, f"annotation entry {_brief(a)} is not an object with an 'id'")
        if str(a["id"]) in ann_ids:
            raise InputError(path, f"annotation id {a['id']} appears twice")
        ann_ids.add(str(a["id"]))
        if not _is_id(a.get("image_id")) or str(a["image_id"]) not in image_ids:
            raise InputError(path, f"annotation {a['id']} refers to image {a.get('image_id')!r}, "
                                   "which the file does not list")
    coco = COCO()
    # no categories: pycocotools would then require a category_id on every annotation, which
    # keypoint files of one category (person) need not carry
    coco.dataset = {"images": [im for _, im in images], "annotations": [a for _, a in anns]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def _to_source(fmt: str, joint_set: JointSet, ann: Path, images_dir: Path,
               images: list[tuple[Path, Any]], anns: list[tuple[Path, Any]]) -> SourceData:
    coco = _validated_index(images, anns)
    file_of_ann = {a["id"]: path for path, a in anns}
    image_pos = {str(image_id): i for i, image_id in enumerate(coco.imgs)}
    images_ = list(coco.imgs.values())
    sizes = [(_int_or_zero(im.get("width")), _int_or_zero(im.get("height"))) for im in images_]
    persons = [a for a in coco.anns.values() if not a.get("iscrowd")]
    num = joint_set.num_joints
    person_image = np.array([image_pos[str(a["image_id"])] for a in persons], dtype=np.int64)
    person_keys = [str(a["id"]) for a in persons]
    files = [file_of_ann[a["id"]] for a in persons]
    zeros = [0.0] * (3 * num)  # a box-only annotation: no joint labelled
    kps = _stack([a.get("keypoints") or zeros for a in persons], 3 * num,
                 lambda p: _keypoints(files[p], person_keys[p], persons[p].get("keypoints"), num))
    kps = kps.reshape(len(persons), num, 3)
    has_box = np.array([a.get("bbox") not in (None, []) for a in persons], dtype=bool)
    bbox = _stack([a.get("bbox") if has_box[p] else [0.0] * 4 for p, a in enumerate(persons)], 4,
                  lambda p: _bbox(files[p], person_keys[p], persons[p]["bbox"]))
    bad_box = has_box & ~(np.isfinite(bbox).all(axis=1) & (bbox[:, 2:] >= 0).all(axis=1))
    if bad_box.any():
        p = int(np.flatnonzero(bad_box)[0])
        _bbox(files[p], person_keys[p], persons[p]["bbox"])
    extra = [{f: a[f] for f in _EXTRA_FIELDS if f in a} or None for a in persons]
    check_keypoints(files, kps, person_keys)
    if (~has_box).any():
        bbox[~has_box] = bbox_from_keypoints(kps[~has_box])
    data = SourceData(fmt, joint_set, ann, images_dir, [str(i) for i in coco.imgs],
                      [im["file_name"] for im in images_],
                      np.array(sizes, dtype=np.int64).reshape(-1, 2), person_image,
                      person_keys, kps, bbox, extra)
    if fmt in THREE_D_FORMATS:
        from .muco import attach_3d

        attach_3d(data, images_, persons, files)
    return data


def _stack(rows: list[Any], width: int, check_row) -> np.ndarray:
    """``rows`` as an (N, width) float array in one conversion; when that fails, ``check_row(p)``
    on each row raises the InputError that names the first bad one."""
    if not rows:
        return np.zeros((0, width))
    try:
        out = np.array(rows, dtype=np.float64)
        if out.shape == (len(rows), width):
            return out
    except (TypeError, ValueError):
        pass
    for p in range(len(rows)):
        check_row(p)
    raise AssertionError("a row failed to convert but passed its check")  # pragma: no cover


def _keypoints(path: Path, key: str, values: Any, num: int) -> np.ndarray:
    if values is None or (isinstance(values, list) and len(values) == 0):
        return np.zeros((num, 3))  # a box-only annotation: no joint labelled
    if not isinstance(values, list) or len(values) != 3 * num:
        length = len(values) if isinstance(values, list) else type(values).__name__
        raise InputError(path, f"annotation {key}: keypoint list of length {length}, "
                               f"expected {3 * num} ({num} joints × 3)")
    try:
        return np.asarray(values, dtype=np.float64).reshape(num, 3)
    except (TypeError, ValueError):
        raise InputError(path, f"annotation {key}: keypoints are not all numbers") from None


def _bbox(path: Path, key: str, box: Any) -> np.ndarray:
    try:
        out = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(path, f"annotation {key}: bbox {box!r} is not 4 numbers") from None
    if out.shape != (4,) or not np.isfinite(out).all() or (out[2:] < 0).any():
        raise InputError(path, f"annotation {key}: bbox {box!r} is not [x, y, w, h] with "
                               "finite values and non-negative size")
    return out


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _int_or_zero(value: Any) -> int:
    """A size given in the file, or 0 (then read from the image header) when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    try:
        return max(int(value), 0)
    except (OverflowError, ValueError):  # infinity, NaN
        return 0


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def person_boxes(ann: Path, image_name: str) -> list[list[float]]:
    """The person boxes [x, y, w, h] that a COCO-style file gives one image (matched by file
    name, folders ignored), for predicting on a photo. An annotation without a box gets the
    box of its labelled keypoints, grown by 20 % (a tight box cuts off hands and head).
    Crowd regions are left out."""
    ann = Path(ann)
    data = load_json(ann)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(ann, "not a COCO-style file (needs 'images' and 'annotations' lists)")
    wanted = Path(image_name).name
    ids = {img.get("id") for img in data["images"] if isinstance(img, dict)
           and Path(str(img.get("file_name", ""))).name == wanted}
    if not ids:
        raise InputError(ann, f"lists no image named {wanted}")
    boxes = []
    for k, a in enumerate(data["annotations"]):
        if isinstance(a, dict) and a.get("image_id") in ids and not a.get("iscrowd"):
            key = str(a.get("id", k))
            if a.get("bbox") is None and a.get("keypoints") is not None:
                box = _keypoint_box(ann, key, a["keypoints"])
            else:
                box = _bbox(ann, key, a.get("bbox"))
            if box[2] > 0 and box[3] > 0:
                boxes.append([round(float(v), 2) for v in box])
    return boxes


def _keypoint_box(path: Path, key: str, keypoints: Any, grow: float = 0.2) -> np.ndarray:
    values = np.asarray(keypoints, dtype=np.float64) if isinstance(keypoints, list) else None
    if values is None or values.ndim != 1 or len(values) % 3 or not np.isfinite(values).all():
        raise InputError(path, f"annotation {key}: keypoints are not a flat x, y, v list")
    x, y, w, h = bbox_from_keypoints(values.reshape(1, -1, 3))[0]
    return np.array([x - grow / 2 * w, y - grow / 2 * h, (1 + grow) * w, (1 + grow) * h])
