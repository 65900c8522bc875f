"""What changed when a source is imported again from a different file, and the explicit update.

A re-import under an existing source name from a file whose hash differs from the stored one is
compared, person by person (keyed by image id and annotation id), with what the store holds.
Persons only added are imported as before (ADR 0002). Persons whose box, keypoints or 3D truth
changed, or that the file no longer lists, make the import refuse — the store keeps the old
file's hash and data — unless ``--update`` is given; the update then re-labels the pairs of the
changed persons and keeps every review of pairs whose persons did not change
(docs/adr/0016-provenance.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Text, cast, select, update

from ..formats import SourceData
from .db import param_marker
from .models import PERSON_IMPORT_COLUMNS, Image, Pair, Person, Review

#: Who the reviews written by an update are from.
UPDATE_REVIEWER = "wsp-core import --update"
#: (stored person id, image key, annotation key)
PersonRef = tuple[int, str, str]


@dataclass
class SourceChanges:
    """Stored persons of a source that the new file changes or no longer lists."""

    changed: list[PersonRef] = field(default_factory=list)
    removed: list[PersonRef] = field(default_factory=list)
    changed_index: list[int] = field(default_factory=list)  # their index in the new SourceData

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)

    def summary(self) -> str:
        parts = []
        for refs, what in ((self.changed, "changed (box, keypoints or 3D truth)"),
                           (self.removed, "no longer in the file")):
            if refs:
                _, image, ann = refs[0]
                parts.append(f"{len(refs)} stored person{'s' * (len(refs) > 1)} {what}, e.g. "
                             f"annotation {ann} of image {image}")
        return "; ".join(parts)


def source_changes(session, source_id: int, data: SourceData,
                   new_rows: Callable[[np.ndarray], list[tuple]]) -> SourceChanges:
    """Compare the stored persons of ``source_id`` with ``data``. ``new_rows(indexes)`` gives
    the persons table's rows (importer._person_rows layout) of persons of ``data``."""
    stored = session.execute(
        select(Person.id, Image.key, Person.ann_key, Person.bbox_x, Person.bbox_y,
               Person.bbox_w, Person.bbox_h, cast(Person.keypoints, Text),
               cast(Person.keypoints_cam, Text))
        .join(Image, Image.id == Person.image_id).where(Image.source_id == source_id)
        .order_by(Person.id)).all()
    where = {(data.image_keys[i], key): p
             for p, (i, key) in enumerate(zip(data.person_image.tolist(), data.person_keys))}
    changes = SourceChanges()
    present = []
    for row in stored:
        p = where.get((row[1], row[2]))
        if p is None:
            changes.removed.append((row[0], row[1], row[2]))
        else:
            present.append((p, row))
    if present:
        rows = new_rows(np.array([p for p, _ in present], dtype=np.int64))
        for (p, old), new in zip(present, rows):
            if _differs(old, new):
                changes.changed.append((old[0], old[1], old[2]))
                changes.changed_index.append(p)
    return changes


def _differs(old: tuple, new: tuple) -> bool:
    """Whether a stored person (box, keypoints, 3D truth) differs from its new row."""
    if tuple(old[3:7]) != tuple(new[2:6]):
        return True
    return _json_differs(old[7], new[6]) or _json_differs(old[8], new[12])


def _json_differs(old: str | None, new: str | None) -> bool:
    if old == new:
        return False
    if old is None or new is None:
        return True
    return json.loads(old) != json.loads(new)


def apply_update(session, changes: SourceChanges, new_rows: Callable[[np.ndarray], list[tuple]],
                 pair_values: dict[tuple[int, int], dict], ann: str) -> dict[str, int]:
    """Re-label after an import with ``--update`` (inside the import's transaction, after the
    new rows were inserted). ``pair_values`` maps (person a id, person b id) to the new pair
    columns by name (auto_label, margin_px, … the cue scores, suspicion) of every pair of the
    new file that involves a changed person.

    - changed persons get their new box, keypoints, measures and 3D truth;
    - a stored pair with a changed person gets its new auto label and scores; if it had been
      reviewed, a ``reset`` review is appended (its history stays; the verdict was given on
      other keypoints), so its effective label is the new auto label;
    - a stored pair that the new file no longer makes (a person removed or no longer with both
      ankles) gets an ``exclude`` review (reason annotation_error): kept, not trained on.
    Pairs whose persons did not change keep their reviews untouched."""
    _update_persons(session, changes, new_rows)
    touched = [ref[0] for ref in changes.changed + changes.removed]
    pairs = session.execute(
        select(Pair.id, Pair.person_a, Pair.person_b, Pair.status)
        .where(Pair.person_a.in_(touched) | Pair.person_b.in_(touched))).all() if touched else []
    relabelled = excluded = reset = 0
    for pair_id, a, b, status in pairs:
        values = pair_values.get((a, b))
        if values is None:
            if status != "exclude":
                _review(session, pair_id, "exclude", None, "annotation_error",
                        f"no longer a pair in {ann}")
                excluded += 1
            continue
        session.execute(update(Pair).where(Pair.id == pair_id).values(**values))
        if status != "auto":
            _review(session, pair_id, "reset", values["auto_label"], None,
                    f"a person changed in {ann}; the earlier verdict was on other keypoints")
            reset += 1
        session.execute(update(Pair).where(Pair.id == pair_id).values(
            status="auto", label=values["auto_label"], reason=None))
        relabelled += 1
    return {"persons_changed": len(changes.changed), "persons_removed": len(changes.removed),
            "pairs_relabelled": relabelled, "reviews_reset": reset, "pairs_excluded": excluded}


def _update_persons(session, changes: SourceChanges,
                    new_rows: Callable[[np.ndarray], list[tuple]]) -> None:
    if not changes.changed:
        return
    rows = new_rows(np.array(changes.changed_index, dtype=np.int64))
    columns = PERSON_IMPORT_COLUMNS[2:]
    mark = param_marker(session)
    sql = (f"UPDATE {Person.__table__.name} SET {', '.join(f'{c} = {mark}' for c in columns)} "
           f"WHERE id = {mark}")
    session.connection().exec_driver_sql(
        sql, [(*row[2:], ref[0]) for ref, row in zip(changes.changed, rows)])


def _review(session, pair_id: int, verdict: str, label: int | None, reason: str | None,
            note: str) -> None:
    session.add(Review(pair_id=pair_id, verdict=verdict, label=label, reason=reason, note=note,
                       reviewer=UPDATE_REVIEWER))
    if verdict == "exclude":
        session.execute(update(Pair).where(Pair.id == pair_id).values(
            status="exclude", label=None, reason=reason))
