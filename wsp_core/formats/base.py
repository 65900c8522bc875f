"""What every reader returns: a source's images and persons as flat arrays.

Readers validate as they read and raise :class:`~wsp_core.errors.InputError` naming the file and
the problem; they never decode images. Image files are checked (path inside the image root, file
present, size from the header when the annotation file lacks it) only for the images the import
keeps, by :func:`resolve_images`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import JointSet


@dataclass
class SourceData:
    """A source as read from its files. Keypoints stay in the source's own joint order."""

    format: str
    joint_set: JointSet
    ann_path: Path
    images_dir: Path
    image_keys: list[str]
    image_files: list[str]
    image_size: np.ndarray          # (I, 2) int: width, height; 0 where the file does not say
    person_image: np.ndarray        # (P,) int: index into the image lists
    person_keys: list[str]          # the source's own id of each person (annotation id...)
    keypoints: np.ndarray           # (P, J, 3) float64: x, y, visibility
    bbox: np.ndarray                # (P, 4) float64: x, y, w, h
    person_extra: list[dict[str, Any] | None] = field(default_factory=list)
    keypoints_cam: np.ndarray | None = None    # (P, J, 3) mm, camera frame: 3D truth if known
    image_intrinsics: list[dict[str, Any] | None] | None = None   # {f: [fx, fy], c: [cx, cy]}

    @property
    def num_images(self) -> int:
        return len(self.image_keys)

    @property
    def num_persons(self) -> int:
        return len(self.person_keys)


#: Most distinct number spellings one parse shares (a pixel coordinate recurs thousands of times).
_NUMBER_CACHE = 1 << 18


def _shared_numbers() -> Any:
    """A ``parse_int``/``parse_float`` hook that returns one object per distinct spelling: an
    annotation file's millions of coordinates then cost a list slot each, not a new float
    (docs/BENCHMARKS.md: import memory). Values are exactly those of ``int()``/``float()``."""
    cache: dict[str, Any] = {}

    def number(text: str) -> Any:
        value = cache.get(text)
        if value is None:
            value = int(text) if text.lstrip("-").isdigit() else float(text)
            if len(cache) < _NUMBER_CACHE:
                cache[text] = value
        return value

    return number


def load_json(path: Path) -> Any:
    """Parse a JSON file; a malformed one raises InputError with the line and column.

    The bytes are decoded (UTF-8, -16 or -32, as ``json.load`` detects them) and dropped before
    parsing, and equal numbers share one object: the peak memory is the text plus the objects."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode(json.detect_encoding(raw))
        del raw
        number = _shared_numbers()
        return json.loads(text, parse_int=number, parse_float=number)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a JSON file") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"not a UTF-8 JSON file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply to be an annotation file") from None
    except ValueError as e:  # e.g. an integer of thousands of digits
        raise InputError(path, f"malformed JSON: {str(e).splitlines()[0]}") from None


def check_keypoints(path: Path | list[Path], keypoints: np.ndarray, person_keys: list[str],
                    what: str = "annotation") -> None:
    """Reject labelled joints whose coordinates are NaN, infinite or negative.

    Unlabelled joints (visibility 0) may hold anything: MPII writes -1, COCO writes 0.
    A visibility that is NaN or negative is rejected too. ``path`` may list each person's file.
    """
    vis = keypoints[..., 2]
    bad_vis = ~np.isfinite(vis) | (vis < 0)
    labelled = np.where(np.isfinite(vis), vis, 0) > 0
    coords = keypoints[..., :2]
    bad_xy = labelled & (~np.isfinite(coords).all(-1) | (np.nan_to_num(coords, nan=-1.0) < 0).any(-1))
    bad = bad_vis | bad_xy
    if bad.any():
        p, j = np.argwhere(bad)[0]
        x, y, v = keypoints[p, j]
        raise InputError(path[p] if isinstance(path, list) else path, f"{what} {person_keys[p]}: joint {j} has an invalid value "
                               f"(x={x}, y={y}, v={v}): coordinates of a labelled joint must be "
                               "finite and non-negative")


def bbox_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """Tight x, y, w, h around the labelled joints of each person (zeros when none is labelled)."""
    labelled = keypoints[..., 2] > 0
    big = np.finfo(np.float64).max
    x = keypoints[..., 0]
    y = keypoints[..., 1]
    x0 = np.where(labelled, x, big).min(-1)
    y0 = np.where(labelled, y, big).min(-1)
    x1 = np.where(labelled, x, -big).max(-1)
    y1 = np.where(labelled, y, -big).max(-1)
    any_ = labelled.any(-1)
    out = np.stack([x0, y0, x1 - x0, y1 - y0], -1)
    return np.where(any_[:, None], out, 0.0)


def relative_image_name(ann_path: Path, file_name: Any, root: Any = "folder") -> str:
    """``file_name`` when it is a relative path that stays inside its image folder (checked on
    the text alone: readers that do not know the folder yet use this); else InputError."""
    if not isinstance(file_name, str) or not file_name:
        raise InputError(ann_path, f"image file name {file_name!r} is not a non-empty string")
    norm = os.path.normpath(file_name)
    if os.path.isabs(file_name) or "\x00" in file_name or norm == ".." \
            or norm.startswith(".." + os.sep):
        raise InputError(ann_path, f"image path {file_name!r} escapes the image {root}")
    return file_name


def safe_image_path(ann_path: Path, images_dir: Path, file_name: str) -> Path:
    """The image's path under ``images_dir``; InputError when ``file_name`` escapes that root."""
    relative_image_name(ann_path, file_name, f"root {images_dir}")
    root = os.path.realpath(images_dir)
    full = os.path.realpath(os.path.join(root, file_name))
    if os.path.commonpath([root, full]) != root:
        raise InputError(ann_path, f"image path {file_name!r} escapes the image root {images_dir}")
    return Path(full)


def image_size_from_header(path: Path) -> tuple[int, int]:
    """Width and height read from the image header (the pixels are not decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError) as e:
        raise InputError(path, f"cannot read the image header: {e}") from None


def resolve_images(data: SourceData, keep: np.ndarray) -> None:
    """Check the kept images' files and fill in missing sizes (in place).

    ``keep`` is a boolean mask over images. Every kept image must lie inside the image root and
    exist; an image whose size the annotation file does not give gets it from its header.
    """
    if not data.images_dir.is_dir():
        raise InputError(data.images_dir, "image folder does not exist")
    for i in np.flatnonzero(keep):
        path = safe_image_path(data.ann_path, data.images_dir, data.image_files[i])
        if not path.is_file():
            raise InputError(data.ann_path, f"image {data.image_files[i]!r} not found in "
                                            f"{data.images_dir}")
        if data.image_size[i, 0] <= 0 or data.image_size[i, 1] <= 0:
            data.image_size[i] = image_size_from_header(path)
