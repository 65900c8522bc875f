"""What every reader returns: a source's images and persons as flat arrays.

Readers validate as they read. A problem of the whole file (malformed JSON, another layout,
missing sections) raises :class:`~wsp_core.errors.InputError` naming the file and the problem;
a problem of one annotation, joint or image is a decision (skip the annotation, count the joint
as unlabelled, correct or drop the image) counted by reason in the source's :class:`ReadNotes`,
which the import report prints and the store keeps. ``--strict`` (``ReadNotes(strict=True)``)
refuses the file at the first such decision instead. Readers never decode images. Image files are
checked (path inside the image root, file present, a readable image header that gives the size)
only for the images the import keeps, by :func:`resolve_images`; labelled joints are then checked
against the image's size by :func:`apply_margins` (docs/FORMATS.md, docs/adr/0013).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..skeleton import JointSet
from .jsonstream import RepeatedKey, parse_streaming

#: A labelled joint this far outside the image (a fraction of the image's width for x, of its
#: height for y) still counts as labelled; farther out it counts as unlabelled (ADR 0013).
OUTSIDE_MARGIN = 0.1
#: Images with more pixels are refused as decompression bombs (twice Pillow's warning limit,
#: where Pillow itself refuses to open them).
MAX_IMAGE_PIXELS = 178_956_970
#: Declared sizes at or above this are not sizes (SQLite and OpenCV hold 32-bit sizes).
MAX_DECLARED_SIZE = 2 ** 31
#: From this many kept images on, their headers are read by a pool of processes.
PARALLEL_HEADERS = 4000
_NUMBER_TYPES = frozenset((int, float))

#: Every decision a reader or the import takes instead of refusing a file, and its report line.
NOTE_REASONS = {
    "joint_outside_kept": "labelled joints a little outside the image, within the margin: kept",
    "joint_far_outside": "labelled joints beyond the margin outside the image: counted as unlabelled",
    "joint_at_origin": "labelled joints at (0, 0): counted as unlabelled",
    "joint_not_finite": "labelled joints with a non-finite coordinate: counted as unlabelled",
    "joint_bad_visibility": "joints whose visibility is not a non-negative number: counted as unlabelled",
    "annotation_malformed": "malformed annotations: skipped",
    "annotation_unknown_image": "annotations of an image the file does not list: skipped",
    "annotation_duplicate_id": "annotations whose id appeared before: skipped",
    "image_malformed": "image entries without an id or a file name: skipped",
    "image_size_invalid": "declared image sizes that are not sizes: ignored, the header's used",
    "image_size_differs": "declared image sizes that differ from the image header: the header's used",
    "image_empty": "zero-byte image files: image skipped",
    "image_unreadable": "files that are not readable images: image skipped",
    "image_too_large": f"images over {MAX_IMAGE_PIXELS:,} pixels (decompression bombs): image skipped",
}


@dataclass
class ReadNotes:
    """The decisions taken while reading a source, counted by reason (keys of NOTE_REASONS),
    with the first case of each as an example. ``strict``: refuse the file instead."""

    strict: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def note(self, path: Path | str, reason: str, where: str, count: int = 1) -> None:
        """Count ``count`` cases of ``reason``; ``where`` says what the first one is."""
        if count <= 0:
            return
        if self.strict:
            raise InputError(path, f"{where}: {NOTE_REASONS[reason].split(':')[0]} "
                                   "(refused: --strict)")
        self.counts[reason] = self.counts.get(reason, 0) + count
        self.examples.setdefault(reason, f"{Path(path).name}: {where}")

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {r: {"count": self.counts[r], "example": self.examples[r]}
                for r in NOTE_REASONS if r in self.counts}

    def lines(self) -> list[str]:
        """One line per reason, in NOTE_REASONS order."""
        return [f"  {self.counts[r]} {NOTE_REASONS[r]} (first: {self.examples[r]})"
                for r in NOTE_REASONS if r in self.counts]


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
    notes: ReadNotes = field(default_factory=ReadNotes)

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


def load_json(path: Path, sinks: dict[str, Callable[[Any], None]] | None = None) -> Any:
    """Parse a JSON file; a malformed one raises InputError with the line and column.

    The bytes are decoded (UTF-8, -16 or -32, as ``json.load`` detects them) and dropped before
    parsing, and equal numbers share one object: the peak memory is the text plus the objects.
    ``sinks``: the top-level lists of an object that are handed over one element at a time
    instead (:mod:`.jsonstream`; a key of them given twice refuses the file)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode(json.detect_encoding(raw))
        del raw
        if sinks is not None:
            return parse_streaming(text, sinks)
        number = _shared_numbers()
        return json.loads(text, parse_int=number, parse_float=number)
    except RepeatedKey as e:
        raise InputError(path, str(e)) from None
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


def is_number(value: Any) -> bool:
    """A JSON number: int or float, never a bool or a string."""
    return type(value) in _NUMBER_TYPES


def all_numbers(values: Any, length: int) -> bool:
    """``values`` is a list of ``length`` JSON numbers (no strings, no booleans)."""
    return isinstance(values, list) and len(values) == length and \
        all(map(_NUMBER_TYPES.__contains__, map(type, values)))


def number_array(value: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Nested lists of JSON numbers of ``shape`` as a float array; None when they are not."""
    if len(shape) == 1:
        return np.array(value, dtype=np.float64) if all_numbers(value, shape[0]) else None
    if not isinstance(value, list) or len(value) != shape[0]:
        return None
    rows = [number_array(v, shape[1:]) for v in value]
    return None if any(r is None for r in rows) else np.stack(rows) if rows else np.zeros(shape)


def clean_keypoints(path: Path | list[Path], keypoints: np.ndarray, person_keys: list[str],
                    notes: ReadNotes, joint_names: tuple[str, ...], what: str = "annotation") -> None:
    """Count as unlabelled (in place) the labelled joints that cannot be positions: a
    non-finite coordinate, exactly (0, 0) (a COCO quirk), a visibility that is NaN or negative.

    Unlabelled joints (visibility 0) may hold anything: MPII writes -1, COCO writes 0; they are
    set to 0 when not finite, so the store holds valid JSON. ``path`` may list each person's file.
    """
    vis = keypoints[..., 2]
    bad_vis = ~np.isfinite(vis) | (vis < 0)
    labelled = ~bad_vis & (vis > 0)
    coords = keypoints[..., :2]
    finite = np.isfinite(coords).all(-1)
    not_finite = labelled & ~finite
    origin = labelled & finite & (coords == 0).all(-1)
    for reason, mask in (("joint_bad_visibility", bad_vis), ("joint_not_finite", not_finite),
                         ("joint_at_origin", origin)):
        if mask.any():
            p, j = np.argwhere(mask)[0]
            x, y, v = keypoints[p, j]
            notes.note(path[p] if isinstance(path, list) else path, reason,
                       f"{what} {person_keys[p]} joint {j} ({joint_names[j]}) at x={x}, y={y}, "
                       f"v={v}", int(mask.sum()))
    keypoints[bad_vis | not_finite | origin, 2] = 0
    keypoints[..., :2] = np.where(finite[..., None], coords, 0.0)
    keypoints[~np.isfinite(keypoints[..., 2]), 2] = 0


def apply_margins(data: SourceData, images: np.ndarray | None = None) -> bool:
    """Check labelled joints against their image's size (in place): within OUTSIDE_MARGIN of
    the image they are kept, beyond it they count as unlabelled. Only persons of ``images``
    (a mask; default all) whose image size is known are checked. Returns whether any joint
    became unlabelled."""
    size = data.image_size[data.person_image].astype(np.float64)          # (P, 2)
    check = (size > 0).all(1)
    if images is not None:
        check &= images[data.person_image]
    labelled = (data.keypoints[..., 2] > 0) & check[:, None]
    xy = data.keypoints[..., :2]
    wh = size[:, None, :]
    inside = ((xy >= 0) & (xy <= wh)).all(-1)
    within = ((xy >= -OUTSIDE_MARGIN * wh) & (xy <= (1 + OUTSIDE_MARGIN) * wh)).all(-1)
    kept, far = labelled & ~inside & within, labelled & ~within
    for reason, mask in (("joint_outside_kept", kept), ("joint_far_outside", far)):
        if mask.any():
            p, j = np.argwhere(mask)[0]
            w, h = data.image_size[data.person_image[p]]
            data.notes.note(data.ann_path, reason,
                            f"image {data.image_files[data.person_image[p]]} ({w}×{h}), "
                            f"person {data.person_keys[p]}, joint {j} "
                            f"({data.joint_set.joints[j]}) at x={xy[p, j, 0]:g}, "
                            f"y={xy[p, j, 1]:g}", int(mask.sum()))
    data.keypoints[far, 2] = 0
    return bool(far.any())


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


def declared_size(value: Any) -> int | None:
    """A size declared in an annotation file: a positive whole number below 2^31; 0 when the
    file gives none; None when what it gives is not a size (text, NaN, 1e300, 2^63...)."""
    if value is None:
        return 0
    if not is_number(value) or not math.isfinite(value) or value != int(value) \
            or not 0 < value < MAX_DECLARED_SIZE:
        return None
    return int(value)


def image_size_from_header(path: Path) -> tuple[int, int] | str:
    """Width and height read from the image header (the pixels are not decoded), or the
    NOTE_REASONS key of why the file is not a usable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            return "image_empty"
        with Image.open(path) as im:
            width, height = int(im.width), int(im.height)
    except Image.DecompressionBombError:
        return "image_too_large"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return "image_unreadable"
    if width <= 0 or height <= 0:
        return "image_unreadable"
    if width * height > MAX_IMAGE_PIXELS:
        return "image_too_large"
    return width, height


#: How far from its end a JPEG's end-of-image marker or a PNG's IEND chunk is looked for
#: (some writers pad a file after it).
_TAIL_BYTES = 64


def truncation(path: str | Path) -> str | None:
    """Why an image file looks cut short (a JPEG without its end-of-image marker, a PNG
    without its IEND chunk, as an interrupted copy leaves them), or None. Decoders show such a
    file with its lower part grey and no error; the curator must be told."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError:
        return None  # unreadable files have their own message
    if head[:2] == b"\xff\xd8" and b"\xff\xd9" not in tail:
        return "the JPEG file is cut short (no end-of-image marker): its lower part is missing"
    if head == b"\x89PNG\r\n\x1a\n" and b"IEND" not in tail:
        return "the PNG file is cut short (no IEND chunk): its lower part is missing"
    return None


def header_sizes(paths: list[Path]) -> list[tuple[int, int] | str]:
    """:func:`image_size_from_header` of every path (Pillow's header parsing is Python: many
    images are read by a pool of processes)."""
    import warnings

    from PIL import Image

    workers = min(8, os.cpu_count() or 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if len(paths) < PARALLEL_HEADERS or workers < 2:
            return [image_size_from_header(p) for p in paths]
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, initializer=_quiet_bomb_warnings) as pool:
            return list(pool.map(image_size_from_header, paths, chunksize=256))


def _quiet_bomb_warnings() -> None:
    import warnings

    from PIL import Image

    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def resolve_images(data: SourceData, keep: np.ndarray) -> np.ndarray:
    """Check the kept images' files and take their sizes from the headers (in place).

    ``keep`` is a boolean mask over images. Every kept image must lie inside the image root and
    exist (else InputError: the image folder is wrong). The header gives the size: a declared
    size that differs is corrected, a file that is empty, not an image or a decompression bomb
    is dropped; each is noted. Returns ``keep`` without the dropped images.
    """
    if not data.images_dir.is_dir():
        raise InputError(data.images_dir, "image folder does not exist")
    usable = keep.copy()
    kept = np.flatnonzero(keep)
    paths = []
    for i in kept:
        path = safe_image_path(data.ann_path, data.images_dir, data.image_files[i])
        if not path.is_file():
            raise InputError(data.ann_path, f"image {data.image_files[i]!r} not found in "
                                            f"{data.images_dir}")
        paths.append(path)
    for i, path, size in zip(kept, paths, header_sizes(paths)):
        if isinstance(size, str):
            data.notes.note(path, size, f"image {data.image_files[i]}")
            usable[i] = False
            continue
        declared = tuple(int(v) for v in data.image_size[i])
        if declared != (0, 0) and declared != size:
            data.notes.note(data.ann_path, "image_size_differs",
                            f"image {data.image_files[i]} declared {declared[0]}×{declared[1]}, "
                            f"header {size[0]}×{size[1]}")
        data.image_size[i] = size
    return usable


def finite_array(path: Path | str, owner: str, value: Any, key: str,
                 shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float array of ``shape`` holding finite numbers only; otherwise an
    InputError naming the file, the owner (e.g. "annotation 7") and the key."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != shape or not np.isfinite(out).all():
        raise InputError(path, f"{owner}: {key} must be {' × '.join(map(str, shape))} "
                               "finite numbers")
    return out
