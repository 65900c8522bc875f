"""A COCO-style file's person annotations as compact rows, taken in while the file is parsed.

:class:`AnnotationRows` receives each annotation as the JSON parser produces it
(:func:`.base.load_json` with ``sinks``), checks what can be checked on the annotation alone and
keeps it as one row of growing arrays (keypoints, box) plus its key and image reference; the
dict is then dropped. What needs the rest of the file, an unknown image (the ``images`` list may
come later) and a repeated id, is decided by :meth:`AnnotationRows.select`, which takes every
decision in the file's order, as a reader holding the whole file would (docs/FORMATS.md).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .base import ReadNotes, all_numbers

#: Formats whose files carry 3D truth (keypoints_cam, intrinsics f and c).
THREE_D_FORMATS = ("muco", "mupots", "synth")
#: Per-person fields kept in ``persons.extra``: PoseTrack's, and the 3D sets' truth.
EXTRA_FIELDS = ("track_id", "bbox_head", "subject", "action", "action_idx", "elevation_m",
                "hug_group", "cut", "yaw_deg")
#: Annotations converted to array rows at once (a list of Python lists is short-lived).
_BLOCK = 4096


class _Growing:
    """An array of rows that grows in place (``ndarray.resize``: realloc, no copy)."""

    def __init__(self, shape: tuple[int, ...], dtype: type = np.float64):
        self.array = np.zeros((_BLOCK, *shape), dtype=dtype)
        self.n = 0

    def extend(self, rows: list[Any]) -> None:
        need = self.n + len(rows)
        if need > len(self.array):
            self.array.resize((max(need, len(self.array) * 3 // 2), *self.array.shape[1:]),
                              refcheck=False)
        if rows:
            self.array[self.n:need] = rows
        self.n = need

    def done(self) -> np.ndarray:
        self.array.resize((self.n, *self.array.shape[1:]), refcheck=False)
        return self.array


class AnnotationRows:
    """The person annotations of one source (all its files), one row each as parsed."""

    def __init__(self, num_joints: int, fmt: str):
        self.num, self.fmt = num_joints, fmt
        self.path: Path | None = None        # the file being parsed
        self.entries = 0                     # entries seen, crowd regions included
        self.count = 0                       # candidates: non-crowd entries with an id
        self.files: list[Path | None] = []   # each candidate's file
        self.problems: dict[int, str] = {}   # candidate -> what makes it unreadable
        self.malformed: list[tuple[int, Path | None, str]] = []  # (candidates before, file, where)
        self.extra: dict[int, dict[str, Any]] = {}
        self.three_d: list[dict] | None = [] if fmt in THREE_D_FORMATS else None
        self.has_box = bytearray()
        # id and image_id: 64-bit integers in arrays (no object per annotation outlives the
        # parse), any other value by candidate
        self._ids, self._refs = _Growing((), np.int64), _Growing((), np.int64)
        self._other_ids: dict[int, Any] = {}
        self._other_refs: dict[int, Any] = {}
        self._kps, self._boxes = _Growing((3 * num_joints,)), _Growing((4,))
        self._block: tuple[list, list, list, list] = ([], [], [], [])
        self._zeros = [0.0] * (3 * num_joints)   # a box-only annotation: no joint labelled

    def append(self, a: Any) -> None:
        """Take in one entry of the ``annotations`` list."""
        k = self.entries
        self.entries += 1
        if not isinstance(a, dict) or not is_id(a.get("id")):
            self.malformed.append((self.count, self.path, f"annotation entry {k} {brief(a)} "
                                                          "is not an object with an 'id'"))
            return
        if is_crowd(a.get("iscrowd")):
            return
        c = self.count
        self.count += 1
        ids, refs, kps, boxes = self._block
        ids.append(_as_int64(a["id"], c, self._other_ids))
        refs.append(_as_int64(a.get("image_id"), c, self._other_refs))
        self.files.append(self.path)
        problem = annotation_problem(a, self.num, self.fmt)
        if problem:
            self.problems[c] = problem
        box = None if problem else a.get("bbox")
        has_box = box not in (None, [])
        self.has_box.append(has_box)
        boxes.append(box if has_box else (0.0, 0.0, 0.0, 0.0))
        kps.append(self._zeros if problem else a.get("keypoints") or self._zeros)
        extra = {f: a[f] for f in EXTRA_FIELDS if f in a}
        if extra:
            self.extra[c] = extra
        if self.three_d is not None:  # their 3D fields are read once the images are known
            self.three_d.append(a)
        if len(kps) >= _BLOCK:
            self._flush()

    def _flush(self) -> None:
        for array, block in zip((self._ids, self._refs, self._kps, self._boxes), self._block):
            array.extend(block)
        self._block = ([], [], [], [])

    def keys(self) -> list[str]:
        """Every candidate's id as text (the store's person key)."""
        return _with_others(self._ids.array[:self._ids.n], self._other_ids, str)

    def select(self, image_pos: dict[str, int], notes: ReadNotes) -> tuple[np.ndarray, np.ndarray]:
        """The readable person annotations, in the file's order, and the position of each one's
        image in the image list; every other one noted, in the file's order: a malformed
        entry, a repeated id, an unknown image, an unreadable annotation."""
        self._flush()
        refs = _with_others(self._refs.array[:self._refs.n], self._other_refs, None)
        accepted, person_image, seen = [], [], set()
        malformed = iter(self.malformed)
        pending = next(malformed, None)
        for c, (key, ref) in enumerate(zip(self.keys(), refs)):
            while pending is not None and pending[0] <= c:
                notes.note(pending[1], "annotation_malformed", pending[2])
                pending = next(malformed, None)
            path = self.files[c]
            pos = image_pos.get(str(ref)) if is_id(ref) else None
            if key in seen:
                notes.note(path, "annotation_duplicate_id", f"annotation id {key} appears twice")
            elif pos is None:
                notes.note(path, "annotation_unknown_image", f"annotation {key} refers to image "
                                                             f"{ref!r}")
            elif c in self.problems:
                notes.note(path, "annotation_malformed", f"annotation {key}: {self.problems[c]}")
            else:
                seen.add(key)
                accepted.append(c)
                person_image.append(pos)
        for _, path, where in ([pending] if pending else []) + list(malformed):
            notes.note(path, "annotation_malformed", where)
        return np.array(accepted, dtype=np.int64), np.array(person_image, dtype=np.int64)

    def arrays(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints (P, J, 3), boxes (P, 4) and whether each had a box, of candidates ``rows``
        (the arrays themselves, not copies, when every candidate is kept)."""
        kps, boxes = self._kps.done(), self._boxes.done()
        has_box = np.frombuffer(bytes(self.has_box), dtype=bool)
        if len(rows) != len(kps):
            kps, boxes, has_box = kps[rows], boxes[rows], has_box[rows]
        return kps.reshape(len(rows), self.num, 3), boxes, has_box.copy()


#: The values an int64 array holds.
_INT64 = (-2 ** 63, 2 ** 63 - 1)


def _as_int64(value: Any, c: int, others: dict[int, Any]) -> int:
    """``value`` when it is an integer an int64 holds; else 0, and ``others[c] = value``."""
    if type(value) is int and _INT64[0] <= value <= _INT64[1]:
        return value
    others[c] = value
    return 0


def _with_others(values: np.ndarray, others: dict[int, Any], convert: Any) -> list[Any]:
    """``values`` as a list (each through ``convert`` when given), with ``others`` in place."""
    out = values.tolist() if convert is None else list(map(convert, values.tolist()))
    for c, value in others.items():
        out[c] = value if convert is None else convert(value)
    return out


def annotation_problem(a: dict, num: int, fmt: str) -> str | None:
    """What makes a person annotation unreadable, or None."""
    kps = a.get("keypoints")
    if kps not in (None, []) and not all_numbers(kps, 3 * num):
        length = len(kps) if isinstance(kps, list) else type(kps).__name__
        if isinstance(kps, list) and length == 3 * num:
            return "keypoints are not all numbers (text or true/false)"
        return f"keypoint list of length {length}, expected {3 * num} ({num} joints × 3)"
    box = a.get("bbox")
    if box not in (None, []) and not (all_numbers(box, 4) and all(map(math.isfinite, box))
                                      and box[2] >= 0 and box[3] >= 0):
        return f"bbox {brief(box)} is not [x, y, w, h] with finite values and non-negative size"
    if fmt in THREE_D_FORMATS:
        from .muco import problem_3d

        return problem_3d(a, num)
    return None


def is_crowd(value: Any) -> bool:
    """COCO's ``iscrowd``: 1 or true is a crowd region; 0, "0", false, null are persons."""
    if value is None or value == 0:  # 0, 0.0, false: the common case first
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no")
    return isinstance(value, (int, float))  # a non-zero number or true; a list is no flag


def is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
