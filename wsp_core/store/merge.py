"""Bringing an offline curator's reviews into another store (``wsp-core merge-reviews``).

Reviews are append-only, so a merge is well defined: each review of the other store is found
in this one by what it is (the pair by its natural key, the verdict, reason, note, reviewer
and time) and appended when it is not there yet; merging the same store twice adds nothing.
A pair is matched by its source's name, its image's key and its two persons' annotation keys
(in either order: the closer person is what a verdict is about). A review is skipped, and
counted, when its pair is not in this store, or when this store labels the pair otherwise
(a re-import changed the ankles: "flip" would then say another thing).

The merged reviews arrive now: they are appended in their own time order after this store's,
and the latest arrival is the pair's verdict under the "latest" consensus rule, as if the offline curator
had been on line at the moment of the merge (docs/adr/0021-postgresql-team-store.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text, update

from ..verdicts import NOTE, effective
from .db import Store
from .models import Pair, Review
from .team import apply_consensus, read_settings

_PAIRS_SQL = """
SELECT p.id, s.name, i.key, pa.ann_key, pb.ann_key, p.auto_label
FROM pairs p JOIN sources s ON s.id = p.source_id JOIN images i ON i.id = p.image_id
JOIN persons pa ON pa.id = p.person_a JOIN persons pb ON pb.id = p.person_b
"""
_REVIEWS_SQL = ("SELECT pair_id, verdict, reason, note, reviewer, created_at FROM reviews "
                "ORDER BY created_at, id")


def _closer_keys(store: Store) -> dict[tuple[str, str, frozenset[str]], tuple[int, str]]:
    """(source, image key, the two persons' keys) → (pair id, the key of the person the
    automatic label calls closer)."""
    with store.read() as session:
        rows = session.execute(text(_PAIRS_SQL)).all()
    return {(source, image, frozenset((a, b))): (pid, a if auto == 1 else b)
            for pid, source, image, a, b, auto in rows}


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def merge_reviews(target: Store, other: Store) -> dict[str, Any]:
    """Append the reviews of ``other`` that ``target`` lacks (one transaction); returns the
    counts: ``added``, ``pairs`` (whose state changed), ``present`` (already here),
    ``unmatched`` (pair not in this store; ``first_unmatched`` names one) and ``relabelled``
    (this store's automatic label of the pair differs)."""
    here = _closer_keys(target)
    there = {pid: (key, closer) for key, (pid, closer) in _closer_keys(other).items()}
    with other.read() as session:
        incoming = session.execute(text(_REVIEWS_SQL)).all()
    counts = {"added": 0, "pairs": 0, "present": 0, "unmatched": 0, "relabelled": 0,
              "first_unmatched": None}
    matched: list[tuple[int, tuple]] = []
    for row in incoming:
        key, closer = there[row[0]]
        found = here.get(key)
        if found is None:
            counts["unmatched"] += 1
            counts["first_unmatched"] = counts["first_unmatched"] or \
                f"{key[0]} image {key[1]} persons {'/'.join(sorted(key[2]))}"
        elif found[1] != closer:
            counts["relabelled"] += 1
        else:
            matched.append((found[0], row))
    with target.write() as session:
        pair_ids = sorted({pid for pid, _ in matched})
        known = set()
        for start in range(0, len(pair_ids), 500):
            known.update((r[0], r[1], r[2], r[3], r[4], _time(r[5])) for r in session.execute(
                text("SELECT pair_id, verdict, reason, note, reviewer, created_at FROM reviews "
                     f"WHERE pair_id IN ({', '.join(map(str, pair_ids[start:start + 500]))})")))
        last: dict[int, tuple[str, str | None]] = {}
        autos = dict(session.execute(text(
            "SELECT id, auto_label FROM pairs WHERE id IN "
            f"({', '.join(map(str, pair_ids)) or 'NULL'})")).all())
        for pid, (_, verdict, reason, note, reviewer, created) in matched:
            review_key = (pid, verdict, reason, note, reviewer, _time(created))
            if review_key in known:
                counts["present"] += 1
                continue
            known.add(review_key)
            label = None if verdict == NOTE else effective(verdict, autos[pid])[1]
            session.add(Review(pair_id=pid, verdict=verdict, label=label, reason=reason,
                               note=note, reviewer=reviewer, created_at=_time(created)))
            counts["added"] += 1
            if verdict != NOTE:
                last[pid] = (verdict, reason)
        settings = read_settings(session)
        for pid, (verdict, reason) in last.items():
            if settings.consensus != "latest":
                session.flush()
                apply_consensus(session, session.get(Pair, pid), settings)
                continue
            status, label = effective(verdict, autos[pid])
            session.execute(update(Pair).where(Pair.id == pid).values(
                status=status, label=label, reason=reason if status != "auto" else None))
        counts["pairs"] = len(last)
    return counts


def merge_summary(name: str, counts: dict[str, Any]) -> str:
    """One line of what a merge did."""
    line = (f"{name}: {counts['added']} reviews added ({counts['pairs']} pairs changed), "
            f"{counts['present']} already here")
    if counts["unmatched"]:
        line += (f", {counts['unmatched']} of pairs not in this store (first: "
                 f"{counts['first_unmatched']})")
    if counts["relabelled"]:
        line += f", {counts['relabelled']} of pairs this store labels otherwise (skipped)"
    return line

