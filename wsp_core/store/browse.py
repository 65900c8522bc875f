"""What the curator's desk asks of a store: filtered review queues, pages of rows, one pair's
details, the random-QA accuracy estimate and the statistics panel's data.

Qt-free (the app in ``wsp_app`` calls it; so can a notebook). A queue over a few hundred
thousand pairs must come back in well under 100 ms, so the hot queries are hand-written SQL run
on the driver connection, returning numpy columns (docs/adr/0008-review-queues.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import StoreError
from ..evaluate.ranking import wilson_interval
from ..skeleton import FORMAT_JOINT_SETS, JointSet, bones
from .db import Store
from .models import REASONS, STATUSES

#: Review queues: the order in which the desk walks through the filtered pairs.
QUEUES: dict[str, str] = {
    "order": "in order",
    "suspicious": "most suspicious first",
    "qa": "random QA sample",
}
#: The seed of the QA order. Fixed, so every curator and every session walks the same sample.
QA_SEED = 20241124


@dataclass(frozen=True)
class PairFilter:
    """Which pairs a queue holds. Empty tuples and None mean "any"."""

    statuses: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    delta_s_min: float | None = None
    delta_s_max: float | None = None
    image: str = ""
    #: Only pairs whose model probability (of the chosen checkpoint) disagrees with the label
    #: training would use.
    disagree: bool = False

    def check(self) -> None:
        """ValueError naming the first thing a filter cannot mean."""
        for value in self.statuses:
            if value not in STATUSES:
                raise ValueError(f"unknown status {value!r}; one of: {', '.join(STATUSES)}")
        for value in self.reasons:
            if value not in REASONS:
                raise ValueError(f"unknown reason {value!r}; one of: {', '.join(REASONS)}")
        lo, hi = self.delta_s_min, self.delta_s_max
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"ΔS range is empty: minimum {lo} > maximum {hi}")


@dataclass
class Queue:
    """The pairs of a filter in queue order, with the columns the desk keeps at hand."""

    ids: np.ndarray                  # int64 pair ids, in queue order
    status: np.ndarray               # int8 index into STATUSES
    delta_s: np.ndarray              # float64, NaN where unknown
    disagreement: np.ndarray         # float64 in [0, 1], NaN without a prediction
    kind: str = "order"
    checkpoint: str | None = None
    _position: dict[int, int] | None = field(default=None, repr=False)

    @classmethod
    def empty(cls) -> "Queue":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, pair_id: int) -> int | None:
        """The position of a pair in this queue (None when the filter left it out)."""
        if self._position is None:
            self._position = {int(p): k for k, p in enumerate(self.ids)}
        return self._position.get(int(pair_id))

    def set_status(self, pair_id: int, status: str) -> None:
        k = self.index_of(pair_id)
        if k is not None:
            self.status[k] = STATUSES.index(status)

    def reviewed(self) -> int:
        return int((self.status != STATUSES.index("auto")).sum())


def _driver_rows(store: Store, sql: str, params: dict[str, Any]) -> list[tuple]:
    with store.read() as session:
        return session.connection().exec_driver_sql(sql, params).fetchall()


def _in_clause(name: str, values: tuple, params: dict[str, Any]) -> str:
    keys = []
    for k, value in enumerate(values):
        params[f"{name}{k}"] = value
        keys.append(f":{name}{k}")
    return ", ".join(keys)


def _where(flt: PairFilter, checkpoint: str | None, params: dict[str, Any]) -> list[str]:
    clauses = []
    if flt.statuses:
        clauses.append(f"p.status IN ({_in_clause('st', flt.statuses, params)})")
    if flt.sources:
        names = _in_clause("src", flt.sources, params)
        clauses.append(f"p.source_id IN (SELECT id FROM sources WHERE name IN ({names}))")
    if flt.reasons:
        clauses.append(f"p.reason IN ({_in_clause('rs', flt.reasons, params)})")
    if flt.delta_s_min is not None:
        params["ds_min"] = float(flt.delta_s_min)
        clauses.append("p.delta_s >= :ds_min")
    if flt.delta_s_max is not None:
        params["ds_max"] = float(flt.delta_s_max)
        clauses.append("p.delta_s <= :ds_max")
    if flt.image.strip():
        text = flt.image.strip()
        params["img"] = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("p.image_id IN (SELECT id FROM images WHERE file_name LIKE :img ESCAPE '\\')")
    if flt.disagree:
        if checkpoint is None:
            clauses.append("0")  # no model has scored the store: nothing can disagree
        else:
            clauses.append("pr.prob IS NOT NULL AND "
                           "(COALESCE(p.label, p.auto_label) = 1) != (pr.prob >= 0.5)")
    return clauses


def load_queue(store: Store, flt: PairFilter = PairFilter(), kind: str = "order",
               checkpoint: str | None = None) -> Queue:
    """The pair ids a filter selects, in the order of queue ``kind`` (see QUEUES).

    - ``order``: by pair id (import order: image by image).
    - ``suspicious``: pairs the model disagrees with most first (FiftyOne's "mistakenness":
      the model's probability of the other label), then the others by cue-conflict suspicion.
    - ``qa``: a fixed pseudo-random order (a hash of the pair id), so that any prefix of it is
      a simple random sample of the filtered pairs (see :func:`qa_estimate`).
    """
    if kind not in QUEUES:
        raise ValueError(f"unknown queue {kind!r}; one of: {', '.join(QUEUES)}")
    flt.check()
    params: dict[str, Any] = {}
    clauses = _where(flt, checkpoint, params)
    join = ""
    if checkpoint is not None:
        params["ckpt"] = checkpoint
        join = "LEFT JOIN predictions pr ON pr.pair_id = p.id AND pr.checkpoint = :ckpt"
    prob = "pr.prob" if checkpoint is not None else "NULL"
    sql = (f"SELECT p.id, p.status, p.delta_s, p.suspicion, COALESCE(p.label, p.auto_label), "
           f"{prob} FROM pairs p {join}"
           + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY p.id")
    rows = _driver_rows(store, sql, params)
    return _queue_from_rows(rows, kind, checkpoint)


def _queue_from_rows(rows: list[tuple], kind: str, checkpoint: str | None) -> Queue:
    n = len(rows)
    cols = list(zip(*rows)) if n else [()] * 6
    ids = np.fromiter(cols[0], dtype=np.int64, count=n)
    code = {s: k for k, s in enumerate(STATUSES)}
    status = np.fromiter((code[s] for s in cols[1]), dtype=np.int8, count=n)
    delta_s = np.array(cols[2], dtype=np.float64) if n else np.zeros(0)
    suspicion = np.array(cols[3], dtype=np.float64) if n else np.zeros(0)
    label = np.array(cols[4], dtype=np.float64) if n else np.zeros(0)
    prob = np.array(cols[5], dtype=np.float64) if n else np.zeros(0)  # None -> NaN
    disagreement = np.where(label == 1, 1.0 - prob, prob)
    order = _queue_order(kind, ids, suspicion, disagreement)
    return Queue(ids[order], status[order], delta_s[order], disagreement[order], kind, checkpoint)


def _queue_order(kind: str, ids: np.ndarray, suspicion: np.ndarray,
                 disagreement: np.ndarray) -> np.ndarray:
    if kind == "order":
        return np.arange(len(ids))
    if kind == "suspicious":
        scored = ~np.isnan(disagreement)
        # lexsort: the last key is the primary one
        return np.lexsort((ids, -np.nan_to_num(suspicion), -np.nan_to_num(disagreement), ~scored))
    return np.argsort(qa_key(ids), kind="stable")


def qa_key(ids: np.ndarray, seed: int = QA_SEED) -> np.ndarray:
    """A fixed pseudo-random key per pair id (SplitMix64): the QA queue sorts by it.

    A pair's place depends on its id alone, so a new import interleaves its pairs with the old
    ones and the reviewed prefix stays a random sample of whatever the filter selects.
    """
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def qa_estimate(queue: Queue) -> dict[str, Any]:
    """The accuracy of the automatic labels, estimated from a QA queue's reviewed prefix.

    The sample is the longest prefix of the QA order whose pairs all have a verdict (a prefix of
    a random order is a simple random sample; skipping a pair stops the sample there until it is
    reviewed). Accepted pairs count as right, flipped ones as wrong; ambiguous and excluded ones
    have no right label and are counted apart, outside the accuracy. The interval is Wilson's
    95 % score interval.
    """
    if queue.kind != "qa":
        raise ValueError("the QA estimate needs a queue of kind 'qa'")
    unreviewed = np.flatnonzero(queue.status == STATUSES.index("auto"))
    n = int(unreviewed[0]) if len(unreviewed) else len(queue)
    counts = np.bincount(queue.status[:n], minlength=len(STATUSES))
    right, wrong = int(counts[STATUSES.index("accept")]), int(counts[STATUSES.index("flip")])
    judged = right + wrong
    interval = wilson_interval(right, judged)
    return {"sample": n, "population": len(queue), "right": right, "wrong": wrong,
            "ambiguous": int(counts[STATUSES.index("ambiguous")]),
            "excluded": int(counts[STATUSES.index("exclude")]),
            "accuracy": right / judged if judged else None,
            "ci95": list(interval) if interval else None,
            "next_position": n if n < len(queue) else None}


def load_qa(store: Store, flt: PairFilter = PairFilter(), checkpoint: str | None = None) -> Queue:
    """The QA queue of a filter, ignoring its status choice (reviewed pairs are the sample)."""
    return load_queue(store, replace(flt, statuses=()), "qa", checkpoint)


_ROW_SQL = """
SELECT p.id, s.name, i.file_name, p.status, p.auto_label, p.label, p.reason, p.delta_s,
       p.suspicion, {prob}
FROM pairs p JOIN sources s ON s.id = p.source_id JOIN images i ON i.id = p.image_id
{join}
WHERE p.id IN ({ids})
"""
ROW_FIELDS = ("pair_id", "source", "image", "status", "auto_label", "label", "reason", "delta_s",
              "suspicion", "prob")


def pair_rows(store: Store, ids, checkpoint: str | None = None) -> list[dict[str, Any]]:
    """The list's columns for the given pair ids, in the given order (a page of a queue)."""
    ids = [int(i) for i in ids]
    if not ids:
        return []
    params: dict[str, Any] = {}
    placeholders = _in_clause("id", tuple(ids), params)
    join, prob = "", "NULL"
    if checkpoint is not None:
        params["ckpt"] = checkpoint
        join, prob = ("LEFT JOIN predictions pr ON pr.pair_id = p.id AND pr.checkpoint = :ckpt",
                      "pr.prob")
    rows = _driver_rows(store, _ROW_SQL.format(prob=prob, join=join, ids=placeholders), params)
    by_id = {r[0]: dict(zip(ROW_FIELDS, r)) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def pair_detail(store: Store, pair_id: int, checkpoint: str | None = None) -> dict[str, Any]:
    """Everything the pair view draws: the image, both persons, the other persons of the image,
    the labels, ΔS, margin, cue-conflict scores and the model's probability."""
    from .models import Image, Pair, Person, Prediction, Source

    with store.read() as session:
        pair = session.get(Pair, int(pair_id))
        if pair is None:
            raise StoreError(store.path, f"pair {pair_id} does not exist")
        image = session.get(Image, pair.image_id)
        source = session.get(Source, pair.source_id)
        persons = {p.id: p for p in session.query(Person).filter(Person.image_id == image.id)}
        prob = None
        if checkpoint is not None:
            prob = session.query(Prediction.prob).filter(
                Prediction.pair_id == pair.id, Prediction.checkpoint == checkpoint).scalar()
        joint_set = _joint_set(source.format, source.joint_names)
        return {
            "pair_id": pair.id, "source": source.name, "format": source.format,
            "image": os.path.join(source.images_dir, image.file_name),
            "file_name": image.file_name, "width": image.width, "height": image.height,
            "a": _person_view(persons[pair.person_a]), "b": _person_view(persons[pair.person_b]),
            "others": [_person_view(p) for pid, p in sorted(persons.items())
                       if pid not in (pair.person_a, pair.person_b)],
            "joint_names": list(source.joint_names),
            "bones": bones(joint_set) if joint_set else [],
            "ankles": ([k for k, c in enumerate(joint_set.canonical) if c.endswith("_ankle")]
                       if joint_set else []),
            "auto_label": pair.auto_label, "label": pair.label, "status": pair.status,
            "reason": pair.reason, "delta_s": pair.delta_s, "margin_px": pair.margin_px,
            "margin_rel": pair.margin_rel, "hug": pair.hug, "size_conflict": pair.size_conflict,
            "knee_line": pair.knee_line, "suspicion": pair.suspicion, "prob": prob,
            "checkpoint": checkpoint,
        }


def _joint_set(fmt: str, names: list[str]) -> JointSet | None:
    """The format's joint set when the source lists its joints as that set does, else None
    (then the view draws joints without limbs)."""
    joint_set = FORMAT_JOINT_SETS.get(fmt)
    if joint_set is not None and list(joint_set.joints) == list(names):
        return joint_set
    return None


def _person_view(p) -> dict[str, Any]:
    return {"person_id": p.id, "bbox": [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h],
            "keypoints": p.keypoints, "scale": p.scale, "ankle_y": p.ankle_y,
            "mcpc": bool(p.mcpc)}


def image_paths(store: Store, ids) -> dict[int, str]:
    """The image file of each pair (for prefetching), keyed by pair id."""
    ids = tuple(int(i) for i in ids)
    if not ids:
        return {}
    params: dict[str, Any] = {}
    sql = ("SELECT p.id, s.images_dir, i.file_name FROM pairs p "
           "JOIN sources s ON s.id = p.source_id JOIN images i ON i.id = p.image_id "
           f"WHERE p.id IN ({_in_clause('id', ids, params)})")
    return {pid: os.path.join(folder, name) for pid, folder, name in _driver_rows(store, sql, params)}


def source_names(store: Store) -> list[str]:
    return [r[0] for r in _driver_rows(store, "SELECT name FROM sources ORDER BY id", {})]


def checkpoints(store: Store) -> list[dict[str, Any]]:
    """Checkpoints that scored the store, the most recent first."""
    rows = _driver_rows(store, "SELECT checkpoint, COUNT(*), MAX(created_at) FROM predictions "
                               "GROUP BY checkpoint ORDER BY MAX(created_at) DESC", {})
    return [{"checkpoint": c, "pairs": n, "scored_at": t} for c, n, t in rows]


def review_activity(store: Store) -> dict[str, Any]:
    """Reviews per hour (or per day over more than three days), and the current verdicts by
    reason (the pairs' effective state, so an undone review no longer counts)."""
    span = _driver_rows(store, "SELECT MIN(created_at), MAX(created_at), COUNT(*) FROM reviews",
                        {})[0]
    hourly = True
    if span[2]:
        from datetime import datetime

        first, last = (datetime.fromisoformat(str(t)) for t in span[:2])
        hourly = (last - first).total_seconds() <= 3 * 86400
    bucket = "%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"
    times = _driver_rows(store, f"SELECT strftime('{bucket}', created_at), COUNT(*) FROM reviews "
                                "GROUP BY 1 ORDER BY 1", {})
    by_reason = _driver_rows(store, "SELECT status, COALESCE(reason, ''), COUNT(*) FROM pairs "
                                    "WHERE status != 'auto' GROUP BY 1, 2", {})
    return {"bucket": "hour" if hourly else "day", "times": [t for t, _ in times],
            "counts": [n for _, n in times],
            "verdicts_by_reason": [{"status": s, "reason": r or None, "pairs": n}
                                   for s, r, n in by_reason]}
