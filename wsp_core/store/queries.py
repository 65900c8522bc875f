"""What the CLI and the app ask of a store: reviews, statistics, the export.

A review is appended and the pair's cached ``status``/``label``/``reason`` updated in the same
short transaction, so the cache always equals "the latest review, else the auto label"
(``check_effective_labels`` verifies it from the reviews alone).
"""

from __future__ import annotations

import getpass
import json
import math
import os
from pathlib import Path
from json.encoder import encode_basestring_ascii
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Text, case, cast, delete, func, select
from sqlalchemy.orm import aliased

from ..atomic import atomic_write, check_target
from ..errors import BadValue, InputError, ReviewConflict, StoreError
from .db import Store, store_files
from .server import notify_reviews
from .team import apply_consensus, consensus, pair_votes, read_settings
from ..verdicts import NOTE, UNDO_NOTE, check_verdict, effective, normalise_reason
from .models import Claim, Image, Pair, Person, Review, Source


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


#: The fields of a review that say what it did and who did it (what an undo expects to find).
REVIEW_KEY = ("verdict", "reason", "note", "reviewer")


def add_review(store: Store, pair_id: int, verdict: str, reason: str | None = None,
               note: str | None = None, reviewer: str | None = None,
               expect: dict[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
    """Append one review and update the pair's effective label, in one transaction.

    ``expect`` (an undo or redo): the :data:`REVIEW_KEY` fields the pair's latest review must
    have; when another review came after it, :class:`ReviewConflict` names it and nothing is
    written (checked inside the write transaction, so no other writer slips in between).
    ``key``: the review's client key (a desk's journal): a review with this key already in the
    store is returned as it is, not written again. Returns the review as a dict (with the
    pair's new status and label). When this returns, the review is durable.
    """
    reason = normalise_reason(reason)
    check_verdict(verdict)  # before the transaction
    with store.write() as session:
        return _append_review(store, session, pair_id, verdict, reason, note, reviewer, expect,
                              key)


def add_reviews(store: Store, reviews: list[dict[str, Any]], where: str = "review") -> list[dict]:
    """Append many reviews (dicts with ``pair_id``, ``verdict``, optional ``reason``, ``note``,
    ``reviewer``) in one transaction, in order: all of them, or, when one is bad (an unknown
    verdict, reason or pair), none; the error names ``where`` and the review's ``line`` (or its
    position from 1). A review with ``expect`` is written only while the pair's latest review
    is that one (as :func:`add_review`'s): else :class:`ReviewConflict`, and none is written."""
    checked = []
    for k, r in enumerate(reviews, start=1):
        line = r.get("line", k)
        try:
            check_verdict(r["verdict"])
            checked.append((line, int(r["pair_id"]), r["verdict"],
                            normalise_reason(r.get("reason")), r.get("note"), r.get("reviewer"),
                            r.get("expect"), r.get("key")))
        except KeyError as e:
            raise InputError(where, f"line {line}: no {e.args[0]!r}") from None
        except BadValue as e:
            raise InputError(where, f"line {line}: {e.problem}") from None
        except (TypeError, ValueError) as e:
            raise InputError(where, f"line {line}: {e}") from None
    with store.write() as session:
        out = []
        for line, pair_id, verdict, reason, note, reviewer, expect, key in checked:
            try:
                out.append(_append_review(store, session, pair_id, verdict, reason, note,
                                          reviewer, expect, key))
            except ReviewConflict:
                raise
            except (StoreError, BadValue) as e:  # a pair gone, a note without its text
                raise InputError(where, f"line {line}: {e.problem}") from None
        return out


def _append_review(store: Store, session, pair_id: int, verdict: str, reason: str | None,
                   note: str | None, reviewer: str | None,
                   expect: dict[str, Any] | None = None,
                   key: str | None = None) -> dict[str, Any]:
    pair = session.get(Pair, pair_id)
    if pair is None:
        raise StoreError(store.path, f"pair {pair_id} does not exist")
    if key is not None:
        stored = session.scalars(select(Review).where(Review.client_key == key)).first()
        if stored is not None:  # written before (a journal replayed): not again
            return _review_dict(stored, pair)
    if expect is not None:
        _check_latest(store, session, pair_id, expect)
    if verdict == NOTE:  # the pair stays as it is
        if not (note or "").strip():
            raise BadValue("note", "a note needs its text (--note)")
        review = Review(pair_id=pair_id, verdict=NOTE, label=None, reason=None, note=note,
                        reviewer=reviewer or default_reviewer(), client_key=key)
    else:
        status, label = effective(verdict, pair.auto_label)
        review = Review(pair_id=pair_id, verdict=verdict, label=label, reason=reason,
                        note=note or None, reviewer=reviewer or default_reviewer(),
                        client_key=key)
        pair.status, pair.label = status, label
        pair.reason = reason if status != "auto" else None
    session.add(review)
    session.flush()
    if store.server:  # the desks listening hear it at the commit (server.ReviewListener)
        notify_reviews(session)
    if verdict != NOTE:  # a verdict ends its curator's claim on the pair (claims.py)
        session.execute(delete(Claim).where(Claim.pair_id == pair_id,
                                            Claim.reviewer == review.reviewer))
        settings = read_settings(session)
        if settings.consensus != "latest":  # the pair's state is its curators' consensus
            apply_consensus(session, pair, settings)
    return _review_dict(review, pair)


def _review_dict(review: Review, pair: Pair) -> dict[str, Any]:
    return {"review_id": review.id, "pair_id": pair.id, "verdict": review.verdict,
            "reason": review.reason,
            "note": review.note, "reviewer": review.reviewer, "status": pair.status,
            "label": pair.label, "auto_label": pair.auto_label,
            "created_at": review.created_at.isoformat() + "Z", "key": review.client_key}


def _check_latest(store: Store, session, pair_id: int, expect: dict[str, Any]) -> None:
    """The pair's latest verdict (notes aside: they change nothing) must be ``expect``."""
    latest = session.scalars(select(Review).where(Review.pair_id == pair_id,
                                                  Review.verdict != NOTE)
                             .order_by(Review.id.desc()).limit(1)).first()
    found = {k: getattr(latest, k) for k in REVIEW_KEY} if latest is not None else None
    wanted = {k: expect.get(k) or None for k in REVIEW_KEY}
    if found != wanted:
        what = "no review" if latest is None else \
            f"{latest.reviewer}'s {latest.verdict} of {latest.created_at:%Y-%m-%d %H:%M:%S}"
        raise ReviewConflict(store.path, f"pair {pair_id} changed since: its latest review is "
                                         f"{what}, which stands")


def pair_history(store: Store, pair_id: int) -> list[dict[str, Any]]:
    """Every review of a pair, oldest first."""
    with store.read() as session:
        rows = session.scalars(select(Review).where(Review.pair_id == pair_id)
                               .order_by(Review.id)).all()
        return [{"review_id": r.id, "verdict": r.verdict, "label": r.label, "reason": r.reason,
                 "note": r.note, "reviewer": r.reviewer,
                 "created_at": r.created_at.isoformat() + "Z"} for r in rows]


def check_effective_labels(store: Store) -> list[int]:
    """Ids of pairs whose cached status/label disagree with their reviews under the store's
    consensus rule (should be empty)."""
    with store.read() as session:
        settings = read_settings(session)
        if settings.consensus != "latest":
            rows = session.execute(select(Pair.id, Pair.auto_label, Pair.status, Pair.label,
                                          Pair.reason)).all()
            votes = pair_votes(session, [r[0] for r in rows])
            return [pid for pid, auto, status, label, reason in rows
                    if consensus(votes.get(pid, []), auto, settings)[:2] != (status, label)]
    latest = (select(Review.pair_id, func.max(Review.id).label("rid"))
              .where(Review.verdict != NOTE).group_by(Review.pair_id).subquery())
    bad: list[int] = []
    with store.read() as session:
        rows = session.execute(
            select(Pair.id, Pair.auto_label, Pair.status, Pair.label, Review.verdict)
            .outerjoin(latest, latest.c.pair_id == Pair.id)
            .outerjoin(Review, Review.id == latest.c.rid)).all()
    for pid, auto, status, label, verdict in rows:
        expected = effective(verdict, auto) if verdict else ("auto", auto)
        if (status, label) != expected:
            bad.append(pid)
    return bad


#: How many of a source's images relinking checks in the new folder (spread over the source).
RELINK_SAMPLE = 200


def relink_images(store: Store, source: str, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Point a source at the folder its images moved to. The folder must hold the source's
    image files: of up to RELINK_SAMPLE of them (spread over the source) at least half must be
    there, else nothing changes and the error says how many were found. Returns the source, its
    old and new folder, and how many of the checked files were found."""
    new = Path(folder).expanduser().resolve()
    if not new.is_dir():
        raise InputError(new, "not a folder")
    with store.read() as session:
        src = session.scalars(select(Source).where(Source.name == source)).one_or_none()
        if src is None:
            names = ", ".join(session.scalars(select(Source.name))) or "none"
            raise StoreError(store.path, f"no source named {source!r} (sources: {names})")
        names = session.scalars(select(Image.file_name).where(Image.source_id == src.id)
                                .order_by(Image.id)).all()
        old = src.images_dir
    step = max(1, len(names) // RELINK_SAMPLE)
    sample = names[::step][:RELINK_SAMPLE]
    found = sum((new / name).is_file() for name in sample)
    if not sample or 2 * found < len(sample):
        raise InputError(new, f"does not hold the images of source {source!r}: {found} of "
                              f"{len(sample)} checked files are there (first missing: "
                              f"{next((n for n in sample if not (new / n).is_file()), '-')})")
    with store.write() as session:
        session.scalars(select(Source).where(Source.name == source)).one().images_dir = str(new)
    return {"source": source, "old": old, "new": str(new), "checked": len(sample),
            "found": found}


def stats(store: Store) -> dict[str, Any]:
    """Counts per source and of reviews, for ``wsp-core stats``."""
    with store.read() as session:
        sources = []
        for src in session.scalars(select(Source).order_by(Source.id)):
            sources.append(_source_stats(session, src))
        verdicts = dict(session.execute(select(Review.verdict, func.count())
                                        .group_by(Review.verdict)).all())
        reasons = dict(session.execute(select(Pair.reason, func.count())
                                       .where(Pair.reason.is_not(None))
                                       .group_by(Pair.reason)).all())
    keys = ("images", "persons", "mcpc_persons", "pairs", "reviewed", "usable")
    totals = {k: sum(s[k] for s in sources) for k in keys}
    return {"store": str(store.path), "sources": sources, "totals": totals,
            "reviews": {"total": sum(verdicts.values()), "by_verdict": verdicts,
                        "pairs_by_reason": reasons}}


def _source_stats(session, src: Source) -> dict[str, Any]:
    images = session.scalar(select(func.count()).select_from(Image)
                            .where(Image.source_id == src.id))
    persons, mcpc = session.execute(
        select(func.count(), func.coalesce(func.sum(Person.mcpc), 0))
        .join(Image, Image.id == Person.image_id).where(Image.source_id == src.id)).one()
    n, closer, usable, mean_ds = session.execute(
        select(func.count(), func.coalesce(func.sum(Pair.auto_label), 0),
               func.coalesce(func.sum(case((Pair.label.is_not(None), 1), else_=0)), 0),
               func.avg(Pair.delta_s))
        .where(Pair.source_id == src.id)).one()
    status = dict(session.execute(select(Pair.status, func.count())
                                  .where(Pair.source_id == src.id)
                                  .group_by(Pair.status)).all())
    bins = _delta_s_bins(session, src.id)
    return {"name": src.name, "format": src.format, "images_read": src.images_read,
            "persons_read": src.persons_read, "images": images, "persons": persons,
            "mcpc_persons": int(mcpc), "pairs": n,
            "a_closer_fraction": (closer / n) if n else None,
            "reviewed": n - status.get("auto", 0), "usable": int(usable), "status": status,
            "delta_s_mean": mean_ds, "delta_s_bins": bins}


#: ΔS bins of the paper's RD protocol 1 (cumulative subsets ΔS ≤ 0.1, 0.3, 0.5, 1.0).
DELTA_S_LIMITS = (0.1, 0.3, 0.5, 1.0)


def _delta_s_bins(session, source_id: int) -> dict[str, int]:
    cols = [func.coalesce(func.sum(case((Pair.delta_s <= t, 1), else_=0)), 0)
            for t in DELTA_S_LIMITS]
    values = session.execute(select(*cols).where(Pair.source_id == source_id)).one()
    return {f"<= {t}": int(v) for t, v in zip(DELTA_S_LIMITS, values)}


def _export_query(with_truth: bool):
    """The export's columns as plain SQL rows, in pair id order: no ORM object per row, and the
    keypoints as their stored JSON text (a CAST: PostgreSQL's driver would decode a json
    column), decoded only where needed."""
    pa, pb = aliased(Person), aliased(Person)

    def raw(column, name: str):
        return cast(column, Text).label(name)

    columns = [Pair.id, Pair.source_id, Image.file_name, Image.width, Image.height,
               pa.id, pa.bbox_x, pa.bbox_y, pa.bbox_w, pa.bbox_h, raw(pa.keypoints, "a_keypoints"), pa.scale,
               pb.id, pb.bbox_x, pb.bbox_y, pb.bbox_w, pb.bbox_h, raw(pb.keypoints, "b_keypoints"), pb.scale,
               Pair.delta_s, Pair.auto_label, Pair.label, Pair.status, Pair.reason]
    if with_truth:
        columns += [raw(pa.keypoints_cam, "a_cam"), raw(pb.keypoints_cam, "b_cam"), Pair.image_id]
    return (select(*columns).join(Image, Image.id == Pair.image_id)
            .join(pa, pa.id == Pair.person_a).join(pb, pb.id == Pair.person_b)
            .order_by(Pair.id))


def _export_rows(store: Store, source: str | None, with_truth: bool,
                 batch: int) -> Iterator[tuple[dict[int, tuple[str, str, str]], tuple]]:
    """(sources by id: name, images_dir, format; one row of ``_export_query``) per pair."""
    with store.read() as session:
        sources = {sid: (name, images_dir, fmt) for sid, name, images_dir, fmt in session.execute(
            select(Source.id, Source.name, Source.images_dir, Source.format))}
        query = _export_query(with_truth)
        if source is not None:
            ids = [sid for sid, (name, _, _) in sources.items() if name == source]
            if not ids:
                raise StoreError(store.path, f"no source named {source!r}")
            query = query.where(Pair.source_id == ids[0])
        result = session.connection().execute(query.execution_options(yield_per=batch))
        for rows in result.partitions():
            for row in rows:
                yield sources, row


def iter_export(store: Store, source: str | None = None, batch: int = 5000,
                with_truth: bool = False,
                suspicion: Mapping[int, float] | None = None) -> Iterator[dict[str, Any]]:
    """One dict per pair, in pair id order, in the layout of DESIGN.md §4 (wsp-core export).

    ``suspicion`` (pair id → score; ``wsp_core.suspect.store_suspicion``) adds each pair's
    ``suspicion`` (null for a pair it lacks).

    ``with_truth`` adds what training needs beyond the export: the source's ``format``, the
    image's ``file_name`` relative to the source's image folder, its ``image_id`` and,
    where the source has 3D truth, ``truth`` (1 when a's pelvis is closer than b's, else 0).
    """
    loads = json.loads
    notes = pair_notes(store)
    for sources, r in _export_rows(store, source, with_truth, batch):
        name, images_dir, fmt = sources[r[1]]
        out = {"pair_id": r[0], "source": name, "image": os.path.join(images_dir, r[2]),
               "width": r[3], "height": r[4],
               "a": {"person_id": r[5], "bbox": list(r[6:10]), "keypoints": loads(r[10]),
                     "scale": r[11]},
               "b": {"person_id": r[12], "bbox": list(r[13:17]), "keypoints": loads(r[17]),
                     "scale": r[18]},
               "delta_s": r[19], "auto_label": r[20], "label": r[21], "status": r[22],
               "reason": r[23], "notes": notes.get(r[0], [])}
        if suspicion is not None:
            out["suspicion"] = suspicion.get(r[0])
        if with_truth:
            out["format"] = fmt
            out["file_name"] = r[2]
            out["truth"] = depth_truth(fmt, r[24] and loads(r[24]), r[25] and loads(r[25]))
            out["image_id"] = r[26]
        yield out


def image_persons(store: Store, image_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every stored person of each image (``person_id`` and ``keypoints``), MCPC or not: what a
    crop of the image shows besides the pair (training's heatmap targets)."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in image_ids}
    with store.read() as session:
        for start in range(0, len(image_ids), 500):
            chunk = image_ids[start:start + 500]
            rows = session.execute(
                select(Person.image_id, Person.id, cast(Person.keypoints, Text))
                .where(Person.image_id.in_(chunk)).order_by(Person.image_id, Person.id))
            for image_id, person_id, keypoints in rows:
                out[image_id].append({"person_id": person_id, "keypoints": json.loads(keypoints)})
    return out


_PERSON = '{"person_id":%d,"bbox":[%r,%r,%r,%r],"keypoints":%s,"scale":%s}'
_LINE = ('{"pair_id":%d,"source":%s,"image":%s,"width":%d,"height":%d,"a":%s,"b":%s,'
         '"delta_s":%s,"auto_label":%d,"label":%s,"status":%s,"reason":%s,"notes":%s%s}\n')


def pair_notes(store: Store) -> dict[int, list[dict[str, Any]]]:
    """The curators' notes of each pair that has some, oldest first: note, reviewer, time (UTC,
    ISO 8601). A note is a "note" review's text or one written with a verdict; the marker an
    undo writes is not a note."""
    out: dict[int, list[dict[str, Any]]] = {}
    with store.read() as session:
        rows = session.execute(select(Review.pair_id, Review.note, Review.reviewer,
                                      Review.created_at)
                               .where(Review.note.is_not(None), Review.note != UNDO_NOTE)
                               .order_by(Review.id))
        for pair_id, note, reviewer, created_at in rows:
            out.setdefault(pair_id, []).append({"note": note, "reviewer": reviewer,
                                                "time": created_at.isoformat() + "Z"})
    return out


def mcpc_persons(store: Store) -> Iterator[dict[str, Any]]:
    """Every MCPC person, in id order, with its image and source format (fine-tuning's MTS
    rows): person_id, keypoints, bbox [x, y, w, h], images_dir, file_name, format."""
    query = (select(Person.id, Person.keypoints, Person.bbox_x, Person.bbox_y, Person.bbox_w,
                    Person.bbox_h, Image.file_name, Source.images_dir, Source.format)
             .join(Image, Image.id == Person.image_id)
             .join(Source, Source.id == Image.source_id).where(Person.mcpc == 1)
             .order_by(Person.id))
    with store.read() as session:
        for pid, kp, x, y, w, h, file_name, images_dir, fmt in session.execute(query):
            yield {"person_id": pid, "keypoints": kp, "bbox": [x, y, w, h],
                   "images_dir": images_dir, "file_name": file_name, "format": fmt}


def _export_lines(store: Store, source: str | None, batch: int = 5000,
                  suspicion: Mapping[int, float] | None = None) -> Iterator[str]:
    """The export's JSON lines, built from plain rows without decoding the stored keypoints
    (the same objects as ``iter_export``'s, compactly written; a test checks they agree).
    Columns that cannot be NULL are formatted by ``%r``/``%d`` (a float's repr is its JSON)."""
    string = encode_basestring_ascii  # what json.dumps does to a str, without its layers
    names: dict[int, tuple[str, str]] = {}
    words: dict[str | None, str] = {None: "null"}
    notes = pair_notes(store)
    for sources, r in _export_rows(store, source, False, batch):
        if r[1] not in names:
            name, images_dir, _ = sources[r[1]]
            names[r[1]] = (string(name), images_dir)
        name, images_dir = names[r[1]]
        a = _PERSON % (r[5], r[6], r[7], r[8], r[9], r[10], "null" if r[11] is None else r[11])
        b = _PERSON % (r[12], r[13], r[14], r[15], r[16], r[17],
                       "null" if r[18] is None else r[18])
        status, reason = r[22], r[23]
        if status not in words:
            words[status] = string(status)
        if reason not in words:
            words[reason] = string(reason)
        yield _LINE % (r[0], name, string(os.path.join(images_dir, r[2])), r[3], r[4], a, b,
                       "null" if r[19] is None else repr(r[19]), r[20],
                       "null" if r[21] is None else r[21], words[status], words[reason],
                       json.dumps(notes[r[0]], separators=(",", ":")) if r[0] in notes else "[]",
                       "" if suspicion is None else
                       ',"suspicion":' + _json_number(suspicion.get(r[0])))


def _json_number(value: float | None) -> str:
    return "null" if value is None or not math.isfinite(value) else repr(float(value))


def depth_truth(fmt: str, cam_a: list | None, cam_b: list | None) -> int | None:
    """1 when a's pelvis is closer to the camera than b's (3D truth), None without truth."""
    from ..skeleton import FORMAT_JOINT_SETS

    joint_set = FORMAT_JOINT_SETS.get(fmt)
    if cam_a is None or cam_b is None or joint_set is None or not joint_set.has("pelvis"):
        return None
    k = joint_set.index("pelvis")
    return int(cam_a[k][2] < cam_b[k][2])


def export_jsonl(store: Store, out: str | os.PathLike[str], source: str | None = None,
                 progress: Callable[[int], None] | None = None,
                 suspicion: Mapping[int, float] | None = None) -> int:
    """Write the export atomically (temp file, then os.replace); returns the number of pairs.
    ``suspicion``: as for :func:`iter_export`.

    The output may be none of the store's files (the store, its -wal, -shm or -journal)."""
    out = check_target(out, "pairs.jsonl", store_files(store.path))
    count = 0
    with atomic_write(out) as f:
        for line in _export_lines(store, source, suspicion=suspicion):
            f.write(line)
            count += 1
            if progress and count % 1000 == 0:
                progress(1000)
    if progress:
        progress(count % 1000)
    return count
