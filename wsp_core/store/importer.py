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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ..errors import InputError
from ..formats import NOTE_REASONS, SourceData, apply_margins, resolve_images
from ..perspective import (PairTable, PersonMeasures, label_pairs, measure_persons,
                           perspective_joints)
from .db import Store
from .models import Image, Pair, Person, Source

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
                  progress: Progress | None = None) -> ImportReport:
    """Write a labelled source into the store in one transaction; returns what was added."""
    data = labelled.data
    report = empty_report(labelled, name)
    if report.pairs == 0:
        return report
    step = progress or (lambda _what, _n: None)
    digest = file_sha256(data.ann_path)  # before the write lock: reading may take a while
    with store.write() as session:
        source_id = _upsert_source(session, data, name, digest, report.notes)
        image_ids = _insert_images(session, labelled, source_id, report)
        step("images", report.mcpc_images)
        person_ids = _insert_persons(session, labelled, source_id, image_ids, report)
        step("persons", int(labelled.keep_person.sum()))
        _insert_pairs(session, labelled, source_id, image_ids, person_ids, report, step)
    return report


def _upsert_source(session, data: SourceData, name: str, digest: str, notes: dict) -> int:
    existing = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if existing is not None:
        if existing.format != data.format:
            raise InputError(data.ann_path, f"source {name!r} is already in the store as format "
                                            f"{existing.format}; import under another --name")
        existing.ann_sha256 = digest  # the file last imported under this name
        existing.images_read, existing.persons_read = data.num_images, data.num_persons
        existing.import_notes = notes  # the last import's decisions
        return existing.id
    source = Source(name=name, format=data.format, ann_path=str(data.ann_path.resolve()),
                    images_dir=str(data.images_dir.resolve()), ann_sha256=digest,
                    joint_names=list(data.joint_set.joints), images_read=data.num_images,
                    persons_read=data.num_persons, import_notes=notes)
    session.add(source)
    session.flush()
    return source.id


def _insert_ignore(session, table, columns: tuple[str, ...], rows: list[tuple]) -> int:
    """INSERT … ON CONFLICT DO NOTHING of tuples straight through the driver's executemany
    (SQLAlchemy's per-row parameter processing would cost more than SQLite itself); JSON
    columns arrive already serialised. Returns how many rows were new."""
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING")
    conn = session.connection()
    added = 0
    for start in range(0, len(rows), _CHUNK):
        added += conn.exec_driver_sql(sql, rows[start:start + _CHUNK]).rowcount
    return added


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
                                   "intrinsics"), rows)
    stored = dict(session.execute(select(Image.key, Image.id)
                                  .where(Image.source_id == source_id)).all())
    ids = np.full(data.num_images, -1, dtype=np.int64)
    ids[kept] = [stored[data.image_keys[i]] for i in kept]
    return ids


def _insert_persons(session, labelled: Labelled, source_id: int, image_ids: np.ndarray,
                    report: ImportReport) -> np.ndarray:
    """Insert all persons of the kept images; returns each person's store id (-1: not kept)."""
    data, m = labelled.data, labelled.measures
    kept = np.flatnonzero(labelled.keep_person)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    keypoints = [dumps(kp) for kp in np.round(data.keypoints[kept], 3).tolist()]
    extra = [None if e is None else dumps(e) for e in
             (data.person_extra[p] for p in kept)] if data.person_extra else [None] * len(kept)
    cam = [None] * len(kept) if data.keypoints_cam is None else \
        [dumps(kp) for kp in np.round(data.keypoints_cam[kept], 1).tolist()]
    image = image_ids[data.person_image[kept]].tolist()
    keys = [data.person_keys[p] for p in kept]
    columns = ("image_id", "ann_key", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "keypoints", "mcpc",
               "ankle_y", "scale", "scale_kind", "extra", "keypoints_cam")
    rows = list(zip(image, keys, *data.bbox[kept].T.tolist(), keypoints,
                    m.mcpc[kept].astype(int).tolist(), _nullable(m.ankle_y[kept]),
                    _nullable(m.scale[kept]), m.scale_kind[kept].astype(int).tolist(), extra, cam))
    report.new_persons = _insert_ignore(session, Person.__table__, columns, rows)
    stored = {(img, key): pid for pid, img, key in session.execute(
        select(Person.id, Person.image_id, Person.ann_key)
        .join(Image, Image.id == Person.image_id).where(Image.source_id == source_id)).all()}
    ids = np.full(data.num_persons, -1, dtype=np.int64)
    ids[kept] = [stored[key] for key in zip(image, keys)]
    return ids


def _insert_pairs(session, labelled: Labelled, source_id: int, image_ids: np.ndarray,
                  person_ids: np.ndarray, report: ImportReport, step: Progress) -> None:
    t, data = labelled.pairs, labelled.data
    label = t.label.astype(int).tolist()
    columns = ("source_id", "image_id", "person_a", "person_b", "auto_label", "margin_px",
               "margin_rel", "delta_s", "hug", "size_conflict", "knee_line", "suspicion",
               "status", "label")
    rows = list(zip([source_id] * len(t), image_ids[data.person_image[t.a]].tolist(),
                    person_ids[t.a].tolist(), person_ids[t.b].tolist(), label,
                    t.margin_px.tolist(), _nullable(t.margin_rel), _nullable(t.delta_s),
                    t.hug.tolist(), t.size_conflict.tolist(), t.knee_line.tolist(),
                    t.suspicion.tolist(), ["auto"] * len(t), label))
    report.new_pairs = _insert_ignore(session, Pair.__table__, columns, rows)
    step("pairs", len(rows))


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats as a list, NaN and infinities as None (SQL NULL)."""
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).tolist()]
