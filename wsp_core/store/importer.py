"""Import a source into the store: MCPC selection, pairs, auto labels, in one transaction.

Re-importing is idempotent: images, persons and pairs are keyed by the source's own ids
(``(source, image key)``, ``(image, annotation key)``, ``(person a, person b)``) and inserted with
``ON CONFLICT DO NOTHING``; rows already stored, and every review of them, stay as they are
(docs/adr/0002-reimport.md). Everything is read and checked before the first write, and the
writes share one transaction, so a failed import leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ..errors import InputError
from ..formats import NOTE_REASONS, SourceData, apply_margins, resolve_images
from ..perspective import (PairTable, PersonMeasures, label_pairs, measure_persons,
                           person_pose_hints, perspective_joints)
from .db import Store, param_marker
from .models import PERSON_IMPORT_COLUMNS, Image, Pair, Person, Source
from .provenance import SourceChanges, apply_update, source_changes

Progress = Callable[[str, int], None]
_CHUNK = 20_000


@dataclass
class ImportReport:
    source: str
    format: str
    images_read: int
    persons_read: int
    mcpc_images: int
    mcpc_persons: int
    pairs: int
    new_images: int
    new_persons: int
    new_pairs: int
    #: what the reader and the import decided instead of refusing, by reason (ReadNotes.as_dict)
    notes: dict = field(default_factory=dict)
    updated: dict | None = None     # what ``--update`` changed (store/provenance.py)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """The report: what was read and stored, then one line per kind of decision taken."""
        lines = [self._counts()]
        if self.notes:
            lines.append("decisions taken instead of refusing the file (--strict refuses):")
            lines += [f"  {n['count']} {NOTE_REASONS[r]} (first: {n['example']})"
                      for r, n in self.notes.items()]
        return "\n".join(lines)

    def _counts(self) -> str:
        if self.pairs == 0:
            return (f"{self.source}: no MCPC pair: no image has two or more persons with both "
                    f"ankles labelled ({self.images_read} images, {self.persons_read} persons "
                    "read); nothing stored")
        again = "" if self.new_pairs == self.pairs else \
            f" ({self.pairs - self.new_pairs} pairs were already in the store)"
        if self.updated:
            u = self.updated
            again += (f"; updated {u['persons_changed']} changed persons: "
                      f"{u['pairs_relabelled']} pairs re-labelled ({u['reviews_reset']} reviews "
                      f"reset), {u['pairs_excluded']} pairs excluded as no longer pairs")
        return (f"{self.source}: {self.images_read} images and {self.persons_read} persons read; "
                f"{self.mcpc_images} MCPC images, {self.mcpc_persons} MCPC persons, "
                f"{self.pairs} pairs; added {self.new_images} images, {self.new_persons} persons, "
                f"{self.new_pairs} pairs{again}")


@dataclass
class Labelled:
    """A source read and labelled, restricted to its MCPC images, ready to be written."""

    data: SourceData
    keep_image: np.ndarray      # (I,) bool: images with >= 2 MCPC persons
    keep_person: np.ndarray     # (P,) bool: all persons of kept images
    measures: PersonMeasures
    pairs: PairTable


def label_source(data: SourceData) -> Labelled:
    """MCPC selection and perspective labels of a source; checks the kept images' files.

    The candidates (images with two persons whose ankles are labelled) get their size from the
    image header, dropping images that are not readable; then labelled joints far outside their
    image count as unlabelled (formats.apply_margins), which can only shrink the selection.
    """
    measures = measure_persons(perspective_joints(data.keypoints, data.joint_set))
    candidates = _mcpc_images(data, measures.mcpc)
    keep_image = resolve_images(data, candidates) if candidates.any() else candidates
    # header sizes; unreadable images dropped (their joints are not checked)
    if apply_margins(data, ~(candidates & ~keep_image)):
        measures = measure_persons(perspective_joints(data.keypoints, data.joint_set))
    keep_image &= _mcpc_images(data, measures.mcpc)
    # persons of a dropped image make no pair
    measures = replace(measures, mcpc=measures.mcpc & keep_image[data.person_image])
    measures, pairs = label_pairs(data.keypoints, data.joint_set, data.person_image, data.bbox,
                                  data.image_size[:, 1].astype(np.float64), measures)
    return Labelled(data, keep_image, keep_image[data.person_image], measures, pairs)


def _mcpc_images(data: SourceData, mcpc: np.ndarray) -> np.ndarray:
    """Images with at least two MCPC persons."""
    return np.bincount(data.person_image[mcpc], minlength=data.num_images) >= 2


def empty_report(labelled: Labelled, name: str) -> ImportReport:
    """What a source holds, before anything is written (the "new" counts are 0)."""
    data = labelled.data
    return ImportReport(name, data.format, data.num_images, data.num_persons,
                        int(labelled.keep_image.sum()),
                        int(labelled.measures.mcpc[labelled.keep_person].sum()),
                        len(labelled.pairs), 0, 0, 0, data.notes.as_dict())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def import_source(store: Store, labelled: Labelled, name: str,
                  progress: Progress | None = None, update: bool = False) -> ImportReport:
    """Write a labelled source into the store in one transaction; returns what was added.

    Importing again from a changed file refuses, leaving the store as it was, when the file
    changes or drops stored persons, unless ``update`` (``import --update``) re-labels them
    (store/provenance.py)."""
    data = labelled.data
    report = empty_report(labelled, name)
    if report.pairs == 0:
        return report
    step = progress or (lambda _what, _n: None)
    digest = file_sha256(data.ann_path)  # before the write lock: reading may take a while
    with store.write() as session:
        source_id, previous = _upsert_source(session, data, name, digest, report.notes)
        changes = _check_changes(session, labelled, name, source_id, previous, digest, update)
        image_ids = _insert_images(session, labelled, source_id, report)
        step("images", report.mcpc_images)
        person_ids = _insert_persons(session, labelled, source_id, image_ids, report)
        step("persons", int(labelled.keep_person.sum()))
        _insert_pairs(session, labelled, source_id, image_ids, person_ids, report, step)
        if changes:
            report.updated = apply_update(session, changes, _rows_of(labelled),
                                          _changed_pairs(labelled, changes, person_ids),
                                          data.ann_path.name)
    return report


def _rows_of(labelled: Labelled) -> Callable[[np.ndarray], list[tuple]]:
    """The persons table's rows of some persons of the source (image ids left out: 0)."""
    keys = labelled.data.person_keys
    return lambda idx: _person_rows(labelled, idx, [0] * len(idx), [keys[p] for p in idx])


def _check_changes(session, labelled: Labelled, name: str, source_id: int,
                   previous: str | None, digest: str, update: bool) -> SourceChanges | None:
    """The stored persons a changed file changes or drops; InputError without ``update``."""
    if previous is None or previous == digest:
        return None
    changes = source_changes(session, source_id, labelled.data, _rows_of(labelled))
    if changes and not update:
        raise InputError(labelled.data.ann_path, f"differs from the file source {name!r} was "
                         f"imported from: {changes.summary()}; nothing was imported (import "
                         "with --update to re-label them, or under another --name)")
    return changes or None


def _changed_pairs(labelled: Labelled, changes: SourceChanges,
                   person_ids: np.ndarray) -> dict[tuple[int, int], tuple]:
    """New pair columns of the new file's pairs that involve a changed person, by store ids."""
    t = labelled.pairs
    idx = np.flatnonzero(np.isin(t.a, changes.changed_index) | np.isin(t.b, changes.changed_index))
    rows = _pair_rows(labelled, idx, 0, np.zeros(labelled.data.num_images, np.int64), person_ids)
    return {(r[2], r[3]): dict(zip(_PAIR_VALUES, r[4:4 + len(_PAIR_VALUES)])) for r in rows}


def _upsert_source(session, data: SourceData, name: str, digest: str,
                   notes: dict) -> tuple[int, str | None]:
    """The source's id, and the hash of the file it was last imported from (None: new)."""
    existing = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if existing is not None:
        if existing.format != data.format:
            raise InputError(data.ann_path, f"source {name!r} is already in the store as format "
                                            f"{existing.format}; import under another --name")
        previous = existing.ann_sha256
        existing.ann_sha256 = digest  # the file last imported (refused changes roll back)
        existing.images_read, existing.persons_read = data.num_images, data.num_persons
        existing.import_notes = notes  # the last import's decisions
        return existing.id, previous
    source = Source(name=name, format=data.format, ann_path=str(data.ann_path.resolve()),
                    images_dir=str(data.images_dir.resolve()), ann_sha256=digest,
                    joint_names=list(data.joint_set.joints), images_read=data.num_images,
                    persons_read=data.num_persons, import_notes=notes)
    session.add(source)
    session.flush()
    return source.id, None


def _insert_ignore(session, table, columns: tuple[str, ...], chunks: Iterable[list[tuple]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING of tuples straight through the driver's executemany
    (SQLAlchemy's per-row parameter processing would cost more than SQLite itself); JSON
    columns arrive already serialised. ``chunks`` yields lists of at most ``_CHUNK`` rows, built
    as they are written, so the rows of a whole source never sit in memory at once. Returns how
    many rows were new."""
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([param_marker(session)] * len(columns))}) ON CONFLICT DO NOTHING")
    conn = session.connection()
    return sum(conn.exec_driver_sql(sql, rows).rowcount for rows in chunks)


def _slices(n: int) -> Iterator[slice]:
    return (slice(start, min(start + _CHUNK, n)) for start in range(0, n, _CHUNK))


def _insert_images(session, labelled: Labelled, source_id: int, report: ImportReport) -> np.ndarray:
    """Insert the kept images; returns the store id of every image of the source (-1: not kept)."""
    data = labelled.data
    kept = np.flatnonzero(labelled.keep_image)
    sizes = data.image_size.tolist()
    intrinsics = data.image_intrinsics or [None] * data.num_images
    rows = [(source_id, data.image_keys[i], data.image_files[i], sizes[i][0], sizes[i][1],
             None if intrinsics[i] is None else json.dumps(intrinsics[i])) for i in kept]
    report.new_images = _insert_ignore(
        session, Image.__table__, ("source_id", "key", "file_name", "width", "height",
                                   "intrinsics"), (rows[part] for part in _slices(len(rows))))
    stored = dict(session.execute(select(Image.key, Image.id)
                                  .where(Image.source_id == source_id)).all())
    ids = np.full(data.num_images, -1, dtype=np.int64)
    ids[kept] = [stored[data.image_keys[i]] for i in kept]
    return ids


def _insert_persons(session, labelled: Labelled, source_id: int, image_ids: np.ndarray,
                    report: ImportReport) -> np.ndarray:
    """Insert all persons of the kept images; returns each person's store id (-1: not kept)."""
    data = labelled.data
    kept = np.flatnonzero(labelled.keep_person)
    image = image_ids[data.person_image[kept]].tolist()
    keys = [data.person_keys[p] for p in kept]
    chunks = (_person_rows(labelled, kept[part], image[part], keys[part])
              for part in _slices(len(kept)))
    report.new_persons = _insert_ignore(session, Person.__table__, PERSON_IMPORT_COLUMNS, chunks)
    stored = {(img, key): pid for pid, img, key in session.execute(
        select(Person.id, Person.image_id, Person.ann_key)
        .join(Image, Image.id == Person.image_id).where(Image.source_id == source_id)).all()}
    ids = np.full(data.num_persons, -1, dtype=np.int64)
    ids[kept] = [stored[key] for key in zip(image, keys)]
    return ids


def _person_rows(labelled: Labelled, kept: np.ndarray, image: list[int],
                 keys: list[str]) -> list[tuple]:
    """The persons table's rows (PERSON_IMPORT_COLUMNS) of the persons ``kept`` (indexes into
    the source)."""
    data, m = labelled.data, labelled.measures
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    # one person's lists at a time: the nested lists of a whole chunk would cost ~50 MB
    stored = np.round(data.keypoints[kept], 3)   # the pose hints from these, as an upgrade does
    keypoints = [dumps(kp.tolist()) for kp in stored]
    extra = [None if e is None else dumps(e) for e in
             (data.person_extra[p] for p in kept)] if data.person_extra else [None] * len(kept)
    cam = [None] * len(kept) if data.keypoints_cam is None else \
        [dumps(kp.tolist()) for kp in np.round(data.keypoints_cam[kept], 1)]
    return list(zip(image, keys, *data.bbox[kept].T.tolist(), keypoints,
                    m.mcpc[kept].astype(int).tolist(), _nullable(m.ankle_y[kept]),
                    _nullable(m.scale[kept]), m.scale_kind[kept].astype(int).tolist(), extra,
                    cam, *(_nullable(h) for h in person_pose_hints(stored,
                                                                    data.joint_set).columns())))


#: The pair columns an import computes (_pair_rows' columns after the two person ids).
_PAIR_VALUES = ("auto_label", "margin_px", "margin_rel", "delta_s", "hug", "size_conflict",
                "knee_line", "raised_ground", "suspicion")


def _insert_pairs(session, labelled: Labelled, source_id: int, image_ids: np.ndarray,
                  person_ids: np.ndarray, report: ImportReport, step: Progress) -> None:
    columns = ("source_id", "image_id", "person_a", "person_b", "auto_label", "margin_px",
               "margin_rel", "delta_s", "hug", "size_conflict", "knee_line", "raised_ground",
               "suspicion", "status", "label")
    chunks = (_pair_rows(labelled, part, source_id, image_ids, person_ids)
              for part in _slices(len(labelled.pairs)))
    report.new_pairs = _insert_ignore(session, Pair.__table__, columns, chunks)
    step("pairs", len(labelled.pairs))


def _pair_rows(labelled: Labelled, part: slice | np.ndarray, source_id: int,
               image_ids: np.ndarray, person_ids: np.ndarray) -> list[tuple]:
    """The pairs table's rows of the pairs in ``part`` (a slice or indexes of the PairTable)."""
    t, data = labelled.pairs, labelled.data
    a, b = t.a[part], t.b[part]
    label = t.label[part].astype(int).tolist()
    return list(zip([source_id] * len(label), image_ids[data.person_image[a]].tolist(),
                    person_ids[a].tolist(), person_ids[b].tolist(), label,
                    t.margin_px[part].tolist(), _nullable(t.margin_rel[part]),
                    _nullable(t.delta_s[part]), t.hug[part].tolist(),
                    t.size_conflict[part].tolist(), t.knee_line[part].tolist(),
                    t.raised_ground[part].tolist(), t.suspicion[part].tolist(),
                    ["auto"] * len(label), label))


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats as a list, NaN and infinities as None (SQL NULL)."""
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).tolist()]
