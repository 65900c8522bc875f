"""Import a source into the store: MCPC selection, pairs, auto labels, in one transaction.

Re-importing is idempotent: images, persons and pairs are keyed by the source's own ids
(``(source, image key)``, ``(image, annotation key)``, ``(person a, person b)``) and inserted with
``ON CONFLICT DO NOTHING``; rows already stored, and every review of them, stay as they are
(docs/adr/0002-reimport.md). Everything is read and checked before the first write, and the
writes share one transaction, so a failed import leaves the store as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.sqlite import insert

from ..errors import InputError
from ..formats import SourceData, resolve_images
from ..perspective import PairTable, PersonMeasures, label_pairs, measure_persons
from ..skeleton import to_canonical
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

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
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
    """MCPC selection and perspective labels of a source; checks the kept images' files."""
    kp = to_canonical(data.keypoints, data.joint_set)
    measures = measure_persons(kp)
    keep_image = np.bincount(data.person_image[measures.mcpc], minlength=data.num_images) >= 2
    if keep_image.any():
        resolve_images(data, keep_image)  # fills sizes that the file lacks: needed below
    measures, pairs = label_pairs(kp, data.person_image, data.bbox,
                                  data.image_size[:, 1].astype(np.float64), measures)
    return Labelled(data, keep_image, keep_image[data.person_image], measures, pairs)


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
    report = ImportReport(name, data.format, data.num_images, data.num_persons,
                          int(labelled.keep_image.sum()), int(labelled.measures.mcpc[
                              labelled.keep_person].sum()), len(labelled.pairs), 0, 0, 0)
    if report.pairs == 0:
        return report
    step = progress or (lambda _what, _n: None)
    with store.write() as session:
        source_id = _upsert_source(session, data, name)
        image_ids = _insert_images(session, labelled, source_id, report)
        step("images", report.mcpc_images)
        person_ids = _insert_persons(session, labelled, source_id, image_ids, report)
        step("persons", int(labelled.keep_person.sum()))
        _insert_pairs(session, labelled, source_id, image_ids, person_ids, report, step)
    return report


def _upsert_source(session, data: SourceData, name: str) -> int:
    existing = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    digest = file_sha256(data.ann_path)
    if existing is not None:
        if existing.format != data.format:
            raise InputError(data.ann_path, f"source {name!r} is already in the store as format "
                                            f"{existing.format}; import under another --name")
        existing.ann_sha256 = digest
        existing.images_read = max(existing.images_read, data.num_images)
        existing.persons_read = max(existing.persons_read, data.num_persons)
        return existing.id
    source = Source(name=name, format=data.format, ann_path=str(data.ann_path.resolve()),
                    images_dir=str(data.images_dir.resolve()), ann_sha256=digest,
                    joint_names=list(data.joint_set.joints), images_read=data.num_images,
                    persons_read=data.num_persons)
    session.add(source)
    session.flush()
    return source.id


def _insert_ignore(session, table, rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING in chunks; returns how many rows were new."""
    before = session.scalar(select(func.count()).select_from(table))
    stmt = insert(table).on_conflict_do_nothing()
    for start in range(0, len(rows), _CHUNK):
        session.execute(stmt, rows[start:start + _CHUNK])
    return session.scalar(select(func.count()).select_from(table)) - before


def _insert_images(session, labelled: Labelled, source_id: int, report: ImportReport) -> dict:
    data = labelled.data
    kept = np.flatnonzero(labelled.keep_image)
    rows = [{"source_id": source_id, "key": data.image_keys[i], "file_name": data.image_files[i],
             "width": int(data.image_size[i, 0]), "height": int(data.image_size[i, 1])}
            for i in kept]
    report.new_images = _insert_ignore(session, Image.__table__, rows)
    stored = dict(session.execute(select(Image.key, Image.id).where(Image.source_id == source_id)).all())
    return {int(i): stored[data.image_keys[i]] for i in kept}


def _insert_persons(session, labelled: Labelled, source_id: int, image_ids: dict,
                    report: ImportReport) -> dict:
    data, m = labelled.data, labelled.measures
    kept = np.flatnonzero(labelled.keep_person)
    kp_lists = np.round(data.keypoints[kept], 3).tolist()
    rows = []
    for k, p in enumerate(kept):
        x, y, w, h = (float(v) for v in data.bbox[p])
        rows.append({
            "image_id": image_ids[int(data.person_image[p])], "ann_key": data.person_keys[p],
            "bbox_x": x, "bbox_y": y, "bbox_w": w, "bbox_h": h, "keypoints": kp_lists[k],
            "mcpc": int(m.mcpc[p]), "ankle_y": _num(m.ankle_y[p]), "scale": _num(m.scale[p]),
            "scale_kind": int(m.scale_kind[p]), "extra": data.person_extra[p]
            if data.person_extra else None,
        })
    report.new_persons = _insert_ignore(session, Person.__table__, rows)
    stored = {(img, key): pid for pid, img, key in session.execute(
        select(Person.id, Person.image_id, Person.ann_key)
        .join(Image, Image.id == Person.image_id).where(Image.source_id == source_id)).all()}
    return {int(p): stored[(image_ids[int(data.person_image[p])], data.person_keys[p])]
            for p in kept}


def _insert_pairs(session, labelled: Labelled, source_id: int, image_ids: dict,
                  person_ids: dict, report: ImportReport, step: Progress) -> None:
    t, data = labelled.pairs, labelled.data
    columns = {name: getattr(t, name).tolist() for name in
               ("label", "margin_px", "margin_rel", "delta_s", "hug", "size_conflict",
                "knee_line", "suspicion")}
    rows = []
    for k in range(len(t)):
        a, b = int(t.a[k]), int(t.b[k])
        label = columns["label"][k]
        rows.append({
            "source_id": source_id, "image_id": image_ids[int(data.person_image[a])],
            "person_a": person_ids[a], "person_b": person_ids[b], "auto_label": label,
            "margin_px": columns["margin_px"][k], "margin_rel": _num(columns["margin_rel"][k]),
            "delta_s": _num(columns["delta_s"][k]), "hug": columns["hug"][k],
            "size_conflict": columns["size_conflict"][k], "knee_line": columns["knee_line"][k],
            "suspicion": columns["suspicion"][k], "status": "auto", "label": label,
        })
    report.new_pairs = _insert_ignore(session, Pair.__table__, rows)
    step("pairs", len(rows))


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)

