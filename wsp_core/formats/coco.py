"""COCO-style keypoint files: COCO, CrowdPose and PoseTrack18.

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
Annotations become array rows as the file is parsed (:mod:`.coco_rows`): the parsed file is never
whole in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import FORMAT_JOINT_SETS, JointSet
from .base import (ReadNotes, SourceData, bbox_from_keypoints, clean_keypoints, declared_size,
                   load_json)
from .coco_rows import THREE_D_FORMATS, AnnotationRows, brief, is_crowd, is_id
from .jsonstream import Streamed

#: The COCO-style formats this module reads.
COCO_STYLE_FORMATS = ("coco", "crowdpose", "posetrack", "muco", "mupots", "synth")


def read_coco_style(fmt: str, ann: Path, images_dir: Path,
                    notes: ReadNotes | None = None) -> SourceData:
    """Read a COCO, CrowdPose or PoseTrack18 annotation file (or, for PoseTrack, a folder)."""
    notes = notes if notes is not None else ReadNotes()
    joint_set = FORMAT_JOINT_SETS[fmt]
    images: list[tuple[Path, Any]] = []
    rows = AnnotationRows(joint_set.num_joints, fmt)
    for path in _annotation_files(ann, fmt):
        rows.path = path
        dataset = load_json(path, {"images": lambda im, path=path: images.append((path, im)),
                                   "annotations": rows.append})
        _check_layout(path, dataset, joint_set, fmt)
    images = _usable_images(images, notes)
    image_pos = {str(im["id"]): i for i, (_, im) in enumerate(images)}
    persons, person_image = rows.select(image_pos, notes)
    if fmt in THREE_D_FORMATS:
        from .muco import valid_annotations

        valid = valid_annotations(rows.three_d, persons)
        persons, person_image = persons[valid], person_image[valid]
    data = _to_source(fmt, joint_set, ann, images_dir, images, rows, persons, person_image, notes)
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
        if not isinstance(dataset.get(key), Streamed):  # a list, handed over as parsed
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
        if not isinstance(im, dict) or not is_id(im.get("id")) \
                or not isinstance(im.get("file_name"), str) or not im["file_name"]:
            notes.note(path, "image_malformed", f"image entry {k} {brief(im)}")
            continue
        if str(im["id"]) in seen:  # the store keys on the text: 7 and "7" are one id
            raise InputError(path, f"image id {im['id']} appears twice")
        seen.add(str(im["id"]))
        out.append((path, im))
    return out


def _to_source(fmt: str, joint_set: JointSet, ann: Path, images_dir: Path,
               images: list[tuple[Path, Any]], rows: AnnotationRows, persons: np.ndarray,
               person_image: np.ndarray, notes: ReadNotes) -> SourceData:
    """The source's arrays from the readable annotations ``persons`` (candidate indices)."""
    images_ = [im for _, im in images]
    sizes = [_sizes(path, im, notes) for path, im in images]
    chosen, keys = persons.tolist(), rows.keys()
    person_keys = [keys[c] for c in chosen]
    files = [rows.files[c] for c in chosen]
    kps, bbox, has_box = rows.arrays(persons)
    extra = [rows.extra.get(c) for c in chosen]
    if fmt in THREE_D_FORMATS:
        from .muco import prepare_3d_annotations

        anns = [rows.three_d[c] for c in chosen]
        prepare_3d_annotations(joint_set, images, kps, anns, files)
    clean_keypoints(files, kps, person_keys, notes, joint_set.joints)
    if (~has_box).any():
        bbox[~has_box] = bbox_from_keypoints(kps[~has_box])
    data = SourceData(fmt, joint_set, ann, images_dir, [str(im["id"]) for im in images_],
                      [im["file_name"] for im in images_],
                      np.array(sizes, dtype=np.int64).reshape(-1, 2), person_image,
                      person_keys, kps, bbox, extra)
    if fmt in THREE_D_FORMATS:
        from .muco import attach_3d

        attach_3d(data, images_, anns)
    return data


def _sizes(path: Path, im: dict, notes: ReadNotes) -> tuple[int, int]:
    """The image size the file declares, (0, 0) when it gives none or not a size (noted)."""
    width, height = declared_size(im.get("width")), declared_size(im.get("height"))
    if width is None or height is None:
        notes.note(path, "image_size_invalid", f"image {im['id']} declares width "
                                               f"{brief(im.get('width'))}, height "
                                               f"{brief(im.get('height'))}")
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


def person_boxes(ann: Path, image_name: str) -> list[list[float]]:
    """The person boxes [x, y, w, h] that a COCO-style file gives one image (matched by file
    name, folders ignored), for predicting on a photo (:func:`boxes_by_image`)."""
    ann = Path(ann)
    boxes = boxes_by_image(ann, load_json(ann)).get(Path(image_name).name)
    if boxes is None:
        raise InputError(ann, f"lists no image named {Path(image_name).name}")
    return boxes


def boxes_by_image(ann: Path, data: Any) -> dict[str, list[list[float]]]:
    """Each image's person boxes [x, y, w, h] in a COCO-style file, under its file name
    (folders ignored), its stem, and the number of its video frame (PoseTrack's ``frame_id``,
    else a file name whose stem is a number); one list per image, shared by its keys. An
    annotation without a box gets the box of its labelled keypoints, grown by 20 % (a tight box
    cuts off hands and head). Crowd regions are left out."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(ann, "not a COCO-style file (needs 'images' and 'annotations' lists)")
    by_id: dict[Any, list[list[float]]] = {}
    keys: dict[str, list[list[float]]] = {}
    for img in data["images"]:
        if not isinstance(img, dict) or not is_id(img.get("id")):
            continue
        boxes = by_id.setdefault(img["id"], [])
        name = Path(str(img.get("file_name", ""))).name
        frame = img.get("frame_id")
        for key in (name, Path(name).stem,
                    str(frame) if isinstance(frame, int) and not isinstance(frame, bool)
                    else str(int(Path(name).stem)) if Path(name).stem.isdigit() else None):
            if key:
                keys.setdefault(key, boxes)
    for k, a in enumerate(data["annotations"]):
        if isinstance(a, dict) and is_id(a.get("image_id")) and a["image_id"] in by_id \
                and not is_crowd(a.get("iscrowd")):
            key = str(a.get("id", k))
            if a.get("bbox") is None and a.get("keypoints") is not None:
                box = _keypoint_box(ann, key, a["keypoints"])
            else:
                box = _bbox(ann, key, a.get("bbox"))
            if box[2] > 0 and box[3] > 0:
                by_id[a["image_id"]].append([round(float(v), 2) for v in box])
    return keys


def _keypoint_box(path: Path, key: str, keypoints: Any, grow: float = 0.2) -> np.ndarray:
    values = np.asarray(keypoints, dtype=np.float64) if isinstance(keypoints, list) else None
    if values is None or values.ndim != 1 or len(values) % 3 or not np.isfinite(values).all():
        raise InputError(path, f"annotation {key}: keypoints are not a flat x, y, v list")
    x, y, w, h = bbox_from_keypoints(values.reshape(1, -1, 3))[0]
    return np.array([x - grow / 2 * w, y - grow / 2 * h, (1 + grow) * w, (1 + grow) * h])
