"""No two curators on the same pair at once: each curator's desk claims the pair in front of
it, and the few after it that it reads ahead, for a lease (the team setting
``lease_minutes``), inside the store's write transaction, so two desks walking the same queue
are handed different pairs. A closed desk releases its claims; a desk that died (a killed app,
a lost connection) loses them when the lease ends.

Which pairs a curator may be handed: those nobody has judged, and those of the blind
double-review share (:func:`~wsp_core.store.team.in_double_review`) that exactly one other
curator has judged and this one has not. A pair a curator goes to on purpose (going back, a
search) is shown whoever holds it: claims steer the walk forward, they lock nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select

from ..verdicts import NOTE
from .db import Store
from .models import Claim, Review, utcnow
from .team import TeamSettings, in_double_review, read_settings

_CHUNK = 500


def _judges(session, pair_ids: Sequence[int]) -> dict[int, set[str]]:
    """The curators who gave each pair a verdict (notes are not verdicts)."""
    out: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(pair_ids), _CHUNK):
        for pid, who in session.execute(
                select(Review.pair_id, Review.reviewer).where(
                    Review.pair_id.in_(pair_ids[start:start + _CHUNK]), Review.verdict != NOTE)):
            out[pid].add(who)
    return out


def _held(session, pair_ids: Sequence[int], reviewer: str) -> dict[int, str]:
    """The pairs another curator holds now (their claim not yet expired)."""
    now = utcnow()
    out = {}
    for start in range(0, len(pair_ids), _CHUNK):
        out.update(session.execute(
            select(Claim.pair_id, Claim.reviewer).where(
                Claim.pair_id.in_(pair_ids[start:start + _CHUNK]), Claim.expires_at > now,
                Claim.reviewer != reviewer)).all())
    return out


def may_take(pair_id: int, judges: set[str], reviewer: str, settings: TeamSettings) -> bool:
    """Whether a curator may be handed a pair judged by ``judges``."""
    if not judges:
        return True
    return (reviewer not in judges and len(judges) == 1
            and in_double_review(pair_id, settings.double_review))


def claim_next(store: Store, reviewer: str, candidates: Sequence[int],
               count: int = 1) -> list[int]:
    """The first ``count`` of ``candidates`` (queue order) this curator may take and nobody
    else holds: they become this curator's claims until the lease ends (their earlier claims
    are released). The first is the pair to show; the others are the next ones, which a desk
    reads ahead and may review while the server is away. Empty when no candidate is free."""
    ids = [int(c) for c in candidates]
    if not ids:
        return []
    with store.write() as session:
        settings = read_settings(session)
        held = _held(session, ids, reviewer)
        judges = _judges(session, [i for i in ids if i not in held])
        chosen = [i for i in ids if i not in held
                  and may_take(i, judges.get(i, set()), reviewer, settings)][:count]
        session.execute(delete(Claim).where(Claim.reviewer == reviewer))
        if chosen:
            session.execute(delete(Claim).where(Claim.pair_id.in_(chosen)))  # expired ones
            until = utcnow() + timedelta(minutes=settings.lease_minutes)
            session.add_all([Claim(pair_id=i, reviewer=reviewer, expires_at=until)
                             for i in chosen])
    return chosen


def release_claims(store: Store, reviewer: str) -> None:
    """A curator leaves: their claim ends now."""
    with store.write() as session:
        session.execute(delete(Claim).where(Claim.reviewer == reviewer))


def blind_pairs(store: Store, reviewer: str, pair_ids: Sequence[int]) -> set[int]:
    """Of ``pair_ids``, the pairs of the double-review share that other curators judged and
    this one has not: this curator sees them without the others' verdicts."""
    with store.read() as session:
        settings = read_settings(session)
        if settings.double_review <= 0:
            return set()
        ids = [int(i) for i in pair_ids if in_double_review(int(i), settings.double_review)]
        judges = _judges(session, ids)
    return {i for i, who in judges.items() if who and reviewer not in who}
