"""A team of curators on one store: its settings (the consensus rule, the blind double-review
share, the adjudicators, the claim lease), the effective label under the consensus rule,
agreement between curators (Cohen's κ, scikit-learn's), and each curator's counts and speed.

See docs/TEAM.md and docs/adr/0021-postgresql-team-store.md.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update

from ..errors import BadValue
from ..verdicts import NOTE, effective
from .db import Store
from .models import Meta, Pair, Review

#: How the effective label of a pair reviewed by several curators is chosen.
CONSENSUS = {"latest": "the latest verdict stands",
             "majority": "the verdict most curators gave (each curator's latest; a tie goes "
                         "to the latest of the tied)",
             "adjudicator": "an adjudicator's latest verdict stands; without one, the latest"}
#: A gap between two verdicts of one curator longer than this is a pause, not review time.
PAUSE_S = 300.0
_KEYS = {"consensus": "team.consensus", "double_review": "team.double_review",
         "adjudicators": "team.adjudicators", "lease_minutes": "team.lease_minutes"}


@dataclass(frozen=True)
class TeamSettings:
    consensus: str = "latest"
    #: the share of pairs (0–1) a second curator reviews blind (without the first verdict)
    double_review: float = 0.0
    adjudicators: tuple[str, ...] = ()
    #: how long a curator's claim on the pair in front of them holds without a renewal
    lease_minutes: float = 10.0

    def check(self) -> "TeamSettings":
        if self.consensus not in CONSENSUS:
            raise BadValue("consensus", f"unknown rule {self.consensus!r}; one of: "
                                        f"{', '.join(CONSENSUS)}")
        if not 0.0 <= self.double_review <= 1.0:
            raise BadValue("double-review", f"a share between 0 and 1, not {self.double_review}")
        if not self.lease_minutes > 0:
            raise BadValue("lease", f"minutes above 0, not {self.lease_minutes}")
        return self


def read_settings(session) -> TeamSettings:
    """The store's team settings (defaults for those never set)."""
    rows = dict(session.execute(select(Meta.key, Meta.value)
                                .where(Meta.key.in_(list(_KEYS.values())))).all())
    out = TeamSettings()
    if _KEYS["consensus"] in rows:
        out = replace(out, consensus=rows[_KEYS["consensus"]])
    if _KEYS["double_review"] in rows:
        out = replace(out, double_review=float(rows[_KEYS["double_review"]]))
    if _KEYS["adjudicators"] in rows:
        out = replace(out, adjudicators=tuple(a for a in rows[_KEYS["adjudicators"]]
                                              .split(",") if a))
    if _KEYS["lease_minutes"] in rows:
        out = replace(out, lease_minutes=float(rows[_KEYS["lease_minutes"]]))
    return out


def team_settings(store: Store) -> TeamSettings:
    with store.read() as session:
        return read_settings(session)


def set_team_settings(store: Store, **changes: Any) -> dict[str, Any]:
    """Change the team settings (one transaction). A new consensus rule (or new adjudicators)
    recomputes the effective label of every reviewed pair; returns the settings and how many
    pairs changed state."""
    with store.write() as session:
        old = read_settings(session)
        if "adjudicators" in changes:
            changes["adjudicators"] = tuple(a.strip() for a in changes["adjudicators"]
                                            if a.strip())
        new = replace(old, **changes).check()
        values = asdict(new)
        values["adjudicators"] = ",".join(new.adjudicators)
        for name, key in _KEYS.items():
            row = session.get(Meta, key)
            if row is None:
                session.add(Meta(key=key, value=str(values[name])))
            else:
                row.value = str(values[name])
        changed = 0
        if (new.consensus, new.adjudicators) != (old.consensus, old.adjudicators):
            changed = _recompute_all(session, new)
    return {**asdict(new), "pairs_changed": changed}


# -- the consensus rule --------------------------------------------------------------------
def consensus(votes: list[tuple[int, str, str, str | None]], auto_label: int,
              settings: TeamSettings) -> tuple[str, int | None, str | None]:
    """(status, label, reason) of a pair from its verdicts ``(review id, reviewer, verdict,
    reason)`` (notes left out) under the store's consensus rule."""
    if not votes:
        return "auto", auto_label, None
    votes = sorted(votes)
    chosen = votes[-1]
    if settings.consensus != "latest":
        mine: dict[str, tuple] = {}
        for vote in votes:  # each curator's latest; a reset withdraws the curator's vote
            mine[vote[1]] = vote
        standing = sorted(v for v in mine.values() if v[2] != "reset")
        if not standing:
            chosen = votes[-1]
        elif settings.consensus == "majority":
            count = Counter(v[2] for v in standing)
            top = max(count.values())
            chosen = [v for v in standing if count[v[2]] == top][-1]
        else:
            judged = [v for v in standing if v[1] in settings.adjudicators]
            chosen = judged[-1] if judged else votes[-1]
    status, label = effective(chosen[2], auto_label)
    return status, label, chosen[3] if status != "auto" else None


def pair_votes(session, pair_ids: list[int]) -> dict[int, list[tuple]]:
    """The verdicts (not notes) of each pair: (review id, reviewer, verdict, reason)."""
    out: dict[int, list[tuple]] = defaultdict(list)
    for start in range(0, len(pair_ids), 500):
        rows = session.execute(select(Review.pair_id, Review.id, Review.reviewer,
                                      Review.verdict, Review.reason)
                               .where(Review.pair_id.in_(pair_ids[start:start + 500]),
                                      Review.verdict != NOTE))
        for pid, *vote in rows:
            out[pid].append(tuple(vote))
    return out


def apply_consensus(session, pair: Pair, settings: TeamSettings) -> None:
    """Set a pair's cached state from all its verdicts (rules other than "latest")."""
    status, label, reason = consensus(pair_votes(session, [pair.id])[pair.id],
                                      pair.auto_label, settings)
    pair.status, pair.label, pair.reason = status, label, reason


def _recompute_all(session, settings: TeamSettings) -> int:
    reviewed = [pid for (pid,) in session.execute(select(Review.pair_id).distinct())]
    votes = pair_votes(session, reviewed)
    changed = 0
    for start in range(0, len(reviewed), 500):
        chunk = reviewed[start:start + 500]
        for pid, auto, status, label, reason in session.execute(
                select(Pair.id, Pair.auto_label, Pair.status, Pair.label, Pair.reason)
                .where(Pair.id.in_(chunk))).all():
            new = consensus(votes.get(pid, []), auto, settings)
            if new != (status, label, reason):
                session.execute(update(Pair).where(Pair.id == pid).values(
                    status=new[0], label=new[1], reason=new[2]))
                changed += 1
    return changed


# -- blind double review ---------------------------------------------------------------------
def in_double_review(pair_id: int, share: float) -> bool:
    """Whether a pair is in the double-review share: a fixed hash of its id (Knuth's
    multiplicative), so every desk agrees without asking the store."""
    return ((int(pair_id) * 2654435761) % 2 ** 32) / 2 ** 32 < share


# -- agreement ---------------------------------------------------------------------------------
def _first_verdicts(session) -> dict[int, list[tuple[str, str, str | None]]]:
    """Each pair's curators in the order they first judged it, with their latest verdict
    (reason included; resets and undo reversals are a curator's own corrections)."""
    per_pair: dict[int, dict[str, tuple]] = defaultdict(dict)
    rows = session.execute(select(Review.pair_id, Review.reviewer, Review.verdict,
                                  Review.reason)
                           .where(Review.verdict != NOTE).order_by(Review.id))
    for pid, reviewer, verdict, reason in rows:
        first = per_pair[pid].get(reviewer, (None,))[0]
        per_pair[pid][reviewer] = (len(per_pair[pid]) if first is None else first, verdict,
                                   reason)
    out = {}
    for pid, by in per_pair.items():
        judged = sorted((order, who, verdict, reason) for who, (order, verdict, reason)
                        in by.items() if verdict != "reset")
        if len(judged) >= 2:
            out[pid] = [(who, verdict, reason) for _, who, verdict, reason in judged]
    return out


def _kappa(first: list[str], second: list[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if not first:
        return None
    if len(set(first) | set(second)) == 1:
        return 1.0  # one category only: they agree and κ's chance term is undefined
    return float(cohen_kappa_score(first, second))


def agreement(store: Store) -> dict[str, Any]:
    """Cohen's κ between curators on the pairs two of them judged: overall (the first and the
    second curator of each pair), per reason (pairs where either gave that reason) and per
    pair of curators (their common pairs); with the pairs they disagree on."""
    with store.read() as session:
        judged = _first_verdicts(session)
    a = [v[0][1] for v in judged.values()]
    b = [v[1][1] for v in judged.values()]
    reasons = sorted({r for v in judged.values() for _, _, r in v[:2] if r})
    per_reason = {}
    for reason in reasons:
        keep = [pid for pid, v in judged.items() if reason in (v[0][2], v[1][2])]
        per_reason[reason] = {"pairs": len(keep), "kappa": _kappa(
            [judged[p][0][1] for p in keep], [judged[p][1][1] for p in keep])}
    per_pair: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for v in judged.values():
        for x, y in itertools.combinations(sorted(v, key=lambda t: t[0]), 2):
            per_pair[(x[0], y[0])].append((x[1], y[1]))
    disagreements = sorted(pid for pid, v in judged.items() if len({t[1] for t in v}) > 1)
    return {"pairs": len(judged), "kappa": _kappa(a, b),
            "agreement": (sum(x == y for x, y in zip(a, b)) / len(a)) if a else None,
            "per_reason": per_reason,
            "per_curators": [{"curators": list(k), "pairs": len(v),
                              "kappa": _kappa([x for x, _ in v], [y for _, y in v])}
                             for k, v in sorted(per_pair.items())],
            "disagreements": disagreements}


# -- curators --------------------------------------------------------------------------------
def reviewer_stats(store: Store) -> list[dict[str, Any]]:
    """Per curator: verdicts and notes, the verdict mix, the first and last review, and the
    speed (median seconds between two verdicts and verdicts per hour of review time, pauses
    over PAUSE_S left out). Undo reversals are not verdicts."""
    from ..verdicts import UNDO_NOTE

    times: dict[str, list[datetime]] = defaultdict(list)
    mix: dict[str, Counter] = defaultdict(Counter)
    notes: Counter = Counter()
    with store.read() as session:
        rows = session.execute(text("SELECT reviewer, verdict, note, created_at FROM reviews "
                                    "ORDER BY id")).all()
    for reviewer, verdict, note, created in rows:
        if verdict == NOTE:
            notes[reviewer] += 1
            continue
        if note == UNDO_NOTE:
            continue
        mix[reviewer][verdict] += 1
        times[reviewer].append(created if isinstance(created, datetime)
                               else datetime.fromisoformat(str(created)))
    out = []
    for reviewer in sorted(set(mix) | set(notes)):
        stamps = sorted(times[reviewer])
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
        working = [g for g in gaps if g <= PAUSE_S]
        out.append({"reviewer": reviewer, "verdicts": sum(mix[reviewer].values()),
                    "notes": notes[reviewer], "mix": dict(mix[reviewer]),
                    "first": stamps[0].isoformat() + "Z" if stamps else None,
                    "last": stamps[-1].isoformat() + "Z" if stamps else None,
                    "median_s": statistics.median(working) if working else None,
                    "per_hour": (len(working) / sum(working) * 3600.0)
                    if working and sum(working) > 0 else None})
    return out


def _k(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_team(result: dict[str, Any]) -> str:
    """``wsp-core team``'s text: the settings, agreement and the curators."""
    s = result["settings"]
    lines = [f"consensus: {s['consensus']} ({CONSENSUS[s['consensus']]})"
             + (f"; adjudicators: {', '.join(s['adjudicators'])}" if s["adjudicators"] else ""),
             f"blind double review: {100 * s['double_review']:.1f} % of the pairs; claims "
             f"held {s['lease_minutes']:g} min"
             + (f"; {s['pairs_changed']} pairs changed state" if s["pairs_changed"] else "")]
    a = result["agreement"]
    if a["pairs"]:
        lines.append(f"agreement on {a['pairs']} pairs two curators judged: kappa "
                     f"{_k(a['kappa'])}, {100 * a['agreement']:.1f} % the same verdict; "
                     f"{len(a['disagreements'])} disagree")
        lines += [f"  {r}: kappa {_k(v['kappa'])} ({v['pairs']} pairs)"
                  for r, v in a["per_reason"].items()]
        lines += [f"  {' & '.join(c['curators'])}: kappa {_k(c['kappa'])} ({c['pairs']} pairs)"
                  for c in a["per_curators"]]
    else:
        lines.append("agreement: no pair judged by two curators yet")
    header = f"{'curator':<16} {'verdicts':>8} {'notes':>6} {'s/verdict':>9} {'per hour':>8}  mix"
    lines += [header, "-" * len(header)]
    for c in result["curators"]:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(c["mix"].items()))
        med = "-" if c["median_s"] is None else f"{c['median_s']:.1f}"
        rate = "-" if c["per_hour"] is None else f"{c['per_hour']:.0f}"
        lines.append(f"{c['reviewer'][:16]:<16} {c['verdicts']:>8} {c['notes']:>6} {med:>9} "
                     f"{rate:>8}  {mix}")
    return "\n".join(lines)
