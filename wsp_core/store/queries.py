"""What the CLI and the app ask of a store: reviews, statistics, the export.

A review is appended and the pair's cached ``status``/``label``/``reason`` updated in the same
short transaction, so the cache always equals "the latest review, else the auto label"
(``check_effective_labels`` verifies it from the reviews alone).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from ..atomic import atomic_write, check_target
from ..errors import StoreError
from .db import Store
from .models import REASONS, VERDICTS, Image, Pair, Person, Review, Source


def normalise_reason(reason: str | None) -> str | None:
    if reason is None or reason == "":
        return None
    value = reason.strip().lower().replace("-", "_").replace(" ", "_")
    if value not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; one of: {', '.join(REASONS)}")
    return value


def effective(verdict: str, auto_label: int) -> tuple[str, int | None]:
    """(status, label) a pair has after a review with ``verdict``."""
    if verdict == "accept":
        return "accept", auto_label
    if verdict == "flip":
        return "flip", 1 - auto_label
    if verdict in ("ambiguous", "exclude"):
        return verdict, None
    if verdict == "reset":
        return "auto", auto_label
    raise ValueError(f"unknown verdict {verdict!r}; one of: {', '.join(VERDICTS)}")


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def add_review(store: Store, pair_id: int, verdict: str, reason: str | None = None,
               note: str | None = None, reviewer: str | None = None) -> dict[str, Any]:
    """Append one review and update the pair's effective label, in one transaction.

    Returns the review as a dict (with the pair's new status and label). When this returns, the
    review is durable.
    """
    reason = normalise_reason(reason)
    effective(verdict, 0)  # validates the verdict before the transaction
    with store.write() as session:
        pair = session.get(Pair, pair_id)
        if pair is None:
            raise StoreError(store.path, f"pair {pair_id} does not exist")
        status, label = effective(verdict, pair.auto_label)
        review = Review(pair_id=pair_id, verdict=verdict, label=label, reason=reason,
                        note=note or None, reviewer=reviewer or default_reviewer())
        session.add(review)
        pair.status, pair.label = status, label
        pair.reason = reason if status != "auto" else None
        session.flush()
        return {"review_id": review.id, "pair_id": pair_id, "verdict": verdict, "reason": reason,
                "note": review.note, "reviewer": review.reviewer, "status": status,
                "label": label, "auto_label": pair.auto_label,
                "created_at": review.created_at.isoformat() + "Z"}


def pair_history(store: Store, pair_id: int) -> list[dict[str, Any]]:
    """Every review of a pair, oldest first."""
    with store.read() as session:
        rows = session.scalars(select(Review).where(Review.pair_id == pair_id)
                               .order_by(Review.id)).all()
        return [{"review_id": r.id, "verdict": r.verdict, "label": r.label, "reason": r.reason,
                 "note": r.note, "reviewer": r.reviewer,
                 "created_at": r.created_at.isoformat() + "Z"} for r in rows]


def check_effective_labels(store: Store) -> list[int]:
    """Ids of pairs whose cached status/label disagree with their reviews (should be empty)."""
    latest = (select(Review.pair_id, func.max(Review.id).label("rid"))
              .group_by(Review.pair_id).subquery())
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


def iter_export(store: Store, source: str | None = None, batch: int = 5000,
                with_truth: bool = False) -> Iterator[dict[str, Any]]:
    """One dict per pair, in pair id order, in the layout of DESIGN.md §4 (wsp-core export).

    ``with_truth`` adds what training needs beyond the export: the source's ``format``, the
    image's ``file_name`` relative to the source's image folder and,
    where the source has 3D truth, ``truth`` (1 when a's pelvis is closer than b's, else 0).
    """
    pa, pb = aliased(Person), aliased(Person)
    query = (select(Pair, Source.name, Image.file_name, Image.width, Image.height,
                    Source.images_dir, pa, pb, Source.format)
             .join(Source, Source.id == Pair.source_id)
             .join(Image, Image.id == Pair.image_id)
             .join(pa, pa.id == Pair.person_a).join(pb, pb.id == Pair.person_b)
             .order_by(Pair.id))
    with store.read() as session:
        if source is not None:
            if session.scalar(select(Source.id).where(Source.name == source)) is None:
                raise StoreError(store.path, f"no source named {source!r}")
            query = query.where(Source.name == source)
        for row in session.execute(query.execution_options(yield_per=batch)):
            pair, name, file_name, width, height, images_dir, a, b, fmt = row
            out = {"pair_id": pair.id, "source": name,
                   "image": os.path.join(images_dir, file_name), "width": width,
                   "height": height, "a": _person(a), "b": _person(b),
                   "delta_s": pair.delta_s, "auto_label": pair.auto_label, "label": pair.label,
                   "status": pair.status, "reason": pair.reason}
            if with_truth:
                out["format"] = fmt
                out["file_name"] = file_name
                out["truth"] = _truth(fmt, a, b)
            yield out


def _truth(fmt: str, a: Person, b: Person) -> int | None:
    """1 when a's pelvis is closer to the camera than b's (3D truth), None without truth."""
    from ..skeleton import FORMAT_JOINT_SETS

    joint_set = FORMAT_JOINT_SETS.get(fmt)
    if a.keypoints_cam is None or b.keypoints_cam is None or joint_set is None \
            or not joint_set.has("pelvis"):
        return None
    k = joint_set.index("pelvis")
    return int(a.keypoints_cam[k][2] < b.keypoints_cam[k][2])


def _person(p: Person) -> dict[str, Any]:
    return {"person_id": p.id, "bbox": [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h],
            "keypoints": p.keypoints, "scale": p.scale}


def export_jsonl(store: Store, out: str | os.PathLike[str], source: str | None = None,
                 progress: Callable[[int], None] | None = None) -> int:
    """Write the export atomically (temp file, then os.replace); returns the number of pairs."""
    out = check_target(out, "pairs.jsonl")
    count = 0
    with atomic_write(out) as f:
        for row in iter_export(store, source):
            f.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
            if progress and count % 1000 == 0:
                progress(1000)
    if progress:
        progress(count % 1000)
    return count
