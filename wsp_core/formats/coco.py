"""COCO-style keypoint files: COCO, CrowdPose and PoseTrack18 (through pycocotools).

All three share the layout ``{images: [{id, file_name, width?, height?}], annotations: [{id,
image_id, keypoints: [x, y, v] * J, bbox: [x, y, w, h], iscrowd}], categories: [{keypoints:
names}]}``. They differ in the joint set, and PoseTrack18 spreads a dataset over one file per
video (``--ann`` may name a folder of them), has relative ``file_name``s like
``images/val/<video>/000000.jpg`` and no image sizes, and adds ``track_id`` and ``bbox_head``.
Crowd regions (``iscrowd`` 1 or true; ``"0"`` is not a crowd) are not persons and are skipped.

A problem of one entry (an annotation that is not an object, keypoints that are not 3·J numbers,
a malformed box, an unknown image, a repeated id; an image entry without id or file name) skips
that entry and is counted in the source's notes; the layout itself (``images`` and
``annotations`` lists, the declared joint names, unique image ids) is checked for the whole file.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import FORMAT_JOINT_SETS, JointSet
from .base import (ReadNotes, SourceData, all_numbers, bbox_from_keypoints, clean_keypoints,
                   declared_size, load_json)

#: The COCO-style formats this module reads.
COCO_STYLE_FORMATS = ("coco", "crowdpose", "posetrack", "muco", "mupots", "synth")
#: Formats whose files carry 3D truth (keypoints_cam, intrinsics f and c).
THREE_D_FORMATS = ("muco", "mupots", "synth")
#: Per-person fields kept in ``persons.extra``: PoseTrack's, and the 3D sets' truth.
_EXTRA_FIELDS = ("track_id", "bbox_head", "subject", "action", "action_idx", "elevation_m",
                 "hug_group", "cut", "yaw_deg")


def read_coco_style(fmt: str, ann: Path, images_dir: Path,
                    notes: ReadNotes | None = None) -> SourceData:
    """Read a COCO, CrowdPose or PoseTrack18 annotation file (or, for PoseTrack, a folder)."""
    notes = notes if notes is not None else ReadNotes()
    joint_set = FORMAT_JOINT_SETS[fmt]
    files = _annotation_files(ann, fmt)
    images: list[tuple[Path, Any]] = []
    anns: list[tuple[Path, Any]] = []
    for path in files:
        dataset = load_json(path)
        _check_layout(path, dataset, joint_set, fmt)
        images += [(path, im) for im in dataset["images"]]
        anns += [(path, a) for a in dataset["annotations"]]
    images = _usable_images(images, notes)
    anns = _usable_annotations(anns, {str(im["id"]) for _, im in images}, joint_set.num_joints,
                               fmt, notes)
    if fmt in THREE_D_FORMATS:
        from .muco import prepare_3d_annotations, valid_annotations

        anns = valid_annotations(anns)
        prepare_3d_annotations(joint_set, images, anns)
    data = _to_source(fmt, joint_set, ann, images_dir, images, anns, notes)
    data.notes = notes
    return data


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


def _usable_images(images: list[tuple[Path, Any]], notes: ReadNotes) -> list[tuple[Path, Any]]:
    """The image entries with an id and a file name; a repeated id refuses the file (the
    annotations of either could be meant)."""
    out, seen = [], set()
    for k, (path, im) in enumerate(images):
        if not isinstance(im, dict) or not _is_id(im.get("id")) \
                or not isinstance(im.get("file_name"), str) or not im["file_name"]:
            notes.note(path, "image_malformed", f"image entry {k} {_brief(im)}")
            continue
        if str(im["id"]) in seen:  # the store keys on the text: 7 and "7" are one id
            raise InputError(path, f"image id {im['id']} appears twice")
        seen.add(str(im["id"]))
        out.append((path, im))
    return out


def _usable_annotations(anns: list[tuple[Path, Any]], image_ids: set[str], num: int, fmt: str,
                        notes: ReadNotes) -> list[tuple[Path, Any]]:
    """The person annotations that can be read: crowd regions left out (they are not persons),
    every malformed, repeated or orphan annotation skipped and noted."""
    out, seen = [], set()
    entries = [a for _, a in anns]
    checked = (_all_numbers(entries, "keypoints", 3 * num), _all_numbers(entries, "bbox", 4))
    for k, (path, a) in enumerate(anns):
        if not isinstance(a, dict) or not _is_id(a.get("id")):
            notes.note(path, "annotation_malformed", f"annotation entry {k} {_brief(a)} is not "
                                                     "an object with an 'id'")
            continue
        if _is_crowd(a.get("iscrowd")):
            continue
        if str(a["id"]) in seen:
            notes.note(path, "annotation_duplicate_id", f"annotation id {a['id']} appears twice")
            continue
        if not _is_id(a.get("image_id")) or str(a["image_id"]) not in image_ids:
            notes.note(path, "annotation_unknown_image", f"annotation {a['id']} refers to image "
                                                         f"{a.get('image_id')!r}")
            continue
        problem = _annotation_problem(a, num, fmt, checked)
        if problem:
            notes.note(path, "annotation_malformed", f"annotation {a['id']}: {problem}")
            continue
        seen.add(str(a["id"]))
        out.append((path, a))
    return out


def _all_numbers(anns: list[Any], key: str, length: int) -> bool:
    """Whether every annotation's ``key`` is absent or ``length`` JSON numbers, finite for a
    box with w, h >= 0: one pass over the whole file (4× faster than a check per annotation),
    so only a file that fails it has its annotations checked one by one."""
    rows = [a.get(key) if isinstance(a, dict) else None for a in anns]
    rows = [r for r in rows if r not in (None, [])]
    if not (all(isinstance(r, list) and len(r) == length for r in rows)
            and set(map(type, itertools.chain.from_iterable(rows))) <= {int, float}):
        return False
    if key != "bbox" or not rows:
        return True
    boxes = np.array(rows, dtype=np.float64)
    return bool(np.isfinite(boxes).all() and (boxes[:, 2:] >= 0).all())


def _annotation_problem(a: dict, num: int, fmt: str, checked: tuple[bool, bool]) -> str | None:
    """What makes a person annotation unreadable, or None. ``checked``: whether the keypoints
    and the boxes of the whole file have passed :func:`_all_numbers` already."""
    kps = a.get("keypoints")
    if not checked[0] and kps not in (None, []) and not all_numbers(kps, 3 * num):
        length = len(kps) if isinstance(kps, list) else type(kps).__name__
        if isinstance(kps, list) and length == 3 * num:
            return "keypoints are not all numbers (text or true/false)"
        return f"keypoint list of length {length}, expected {3 * num} ({num} joints × 3)"
    box = a.get("bbox")
    if not checked[1] and box not in (None, []) and not (all_numbers(box, 4) and all(map(math.isfinite, box))
                                      and box[2] >= 0 and box[3] >= 0):
        return f"bbox {_brief(box)} is not [x, y, w, h] with finite values and non-negative size"
    if fmt in THREE_D_FORMATS:
        from .muco import problem_3d

        return problem_3d(a, num)
    return None


def _is_crowd(value: Any) -> bool:
    """COCO's ``iscrowd``: 1 or true is a crowd region; 0, "0", false, null are persons."""
    if value is None or value == 0:  # 0, 0.0, false: the common case first
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no")
    return isinstance(value, (int, float))  # a non-zero number or true; a list is no flag


def _index(images: list[tuple[Path, Any]], anns: list[tuple[Path, Any]]):
    """pycocotools' index over the merged, checked entries."""
    from pycocotools.coco import COCO

    coco = COCO()
    # no categories: pycocotools would then require a category_id on every annotation, which
    # keypoint files of one category (person) need not carry
    coco.dataset = {"images": [im for _, im in images], "annotations": [a for _, a in anns]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def _to_source(fmt: str, joint_set: JointSet, ann: Path, images_dir: Path,
               images: list[tuple[Path, Any]], anns: list[tuple[Path, Any]],
               notes: ReadNotes) -> SourceData:
    coco = _index(images, anns)
    file_of_ann = {a["id"]: path for path, a in anns}
    file_of_image = {str(im["id"]): path for path, im in images}
    image_pos = {str(image_id): i for i, image_id in enumerate(coco.imgs)}
    images_ = list(coco.imgs.values())
    sizes = [_sizes(file_of_image[str(im["id"])], im, notes) for im in images_]
    persons = list(coco.anns.values())
    num = joint_set.num_joints
    person_image = np.array([image_pos[str(a["image_id"])] for a in persons], dtype=np.int64)
    person_keys = [str(a["id"]) for a in persons]
    files = [file_of_ann[a["id"]] for a in persons]
    zeros = [0.0] * (3 * num)  # a box-only annotation: no joint labelled
    kps = np.array([a.get("keypoints") or zeros for a in persons],
                   dtype=np.float64).reshape(len(persons), num, 3)
    has_box = np.array([a.get("bbox") not in (None, []) for a in persons], dtype=bool)
    bbox = np.array([a["bbox"] if has_box[p] else [0.0] * 4 for p, a in enumerate(persons)],
                    dtype=np.float64).reshape(len(persons), 4)
    extra = [{f: a[f] for f in _EXTRA_FIELDS if f in a} or None for a in persons]
    clean_keypoints(files, kps, person_keys, notes, joint_set.joints)
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


def _sizes(path: Path, im: dict, notes: ReadNotes) -> tuple[int, int]:
    """The image size the file declares, (0, 0) when it gives none or not a size (noted)."""
    width, height = declared_size(im.get("width")), declared_size(im.get("height"))
    if width is None or height is None:
        notes.note(path, "image_size_invalid", f"image {im['id']} declares width "
                                               f"{_brief(im.get('width'))}, height "
                                               f"{_brief(im.get('height'))}")
        return 0, 0
    return width, height


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
        if isinstance(a, dict) and a.get("image_id") in ids and not _is_crowd(a.get("iscrowd")):
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
