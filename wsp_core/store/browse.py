"""What the curator's desk asks of a store: filtered review queues, pages of rows, one pair's
details, the random-QA accuracy estimate and the statistics panel's data.

Qt-free (the app in ``wsp_app`` calls it; so can a notebook). A queue over a few hundred
thousand pairs must come back in well under 100 ms, so the hot queries are hand-written SQL run
on the driver connection, and queues are filtered and sorted in numpy from a columnar snapshot
of the pairs table (:class:`PairIndex`; docs/adr/0008-review-queues.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import text

from ..errors import BadValue, StoreError
from ..evaluate.ranking import wilson_interval
from ..skeleton import FORMAT_JOINT_SETS, JointSet, bones
from ..suspect import cue_rank, disagreement, suspicious_first
from .db import Store
from ..verdicts import NOTE, REASONS, STATUSES, UNDO_NOTE, label_for

#: Review queues: the order in which the desk walks through the filtered pairs.
QUEUES: dict[str, str] = {
    "order": "in order",
    "suspicious": "most suspicious first",
    "qa": "random QA sample",
    "learned": "learned suspicion (learns from your verdicts)",
    "disagreements": "curators disagree (double review)",
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
    #: Only pairs this curator gave a verdict (notes aside).
    reviewer: str = ""
    #: Only pairs whose model probability (of the chosen checkpoint) disagrees with the label
    #: training would use.
    disagree: bool = False

    def check(self) -> None:
        """ValueError naming the first thing a filter cannot mean."""
        for value in self.statuses:
            if value not in STATUSES:
                raise BadValue("status", f"unknown status {value!r}; one of: "
                                         f"{', '.join(STATUSES)}")
        for value in self.reasons:
            if value not in REASONS:
                raise BadValue("reason", f"unknown reason {value!r}; one of: "
                                         f"{', '.join(REASONS)}")
        lo, hi = self.delta_s_min, self.delta_s_max
        if lo is not None and hi is not None and lo > hi:
            raise BadValue("ΔS", f"the range is empty: minimum {lo} > maximum {hi}")


@dataclass
class Queue:
    """The pairs of a filter in queue order, with the columns the desk keeps at hand."""

    ids: np.ndarray                  # int64 pair ids, in queue order
    status: np.ndarray               # int8 index into STATUSES
    delta_s: np.ndarray              # float64, NaN where unknown
    disagreement: np.ndarray         # float64 in [0, 1], NaN without a prediction
    kind: str = "order"
    checkpoint: str | None = None
    _sorted: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def empty(cls) -> "Queue":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, pair_id: int) -> int | None:
        """The position of a pair in this queue (None when the filter left it out)."""
        ids, order = self.by_id()
        k = int(np.searchsorted(ids, pair_id))
        return int(order[k]) if k < len(ids) and ids[k] == pair_id else None

    def by_id(self) -> tuple[np.ndarray, np.ndarray]:
        """The queue's ids in ascending order and each one's position (built once: ~15 ms at
        220,000 pairs)."""
        if self._sorted is None:
            order = np.argsort(self.ids, kind="stable")
            self._sorted = (self.ids[order], order)
        return self._sorted

    def values_of(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values`` given for the ascending ``ids`` (a superset of the queue's), in queue
        order: sorted lookups and one scatter, no random search."""
        queued, positions = self.by_id()
        out = np.empty(len(self.ids), dtype=values.dtype)
        out[positions] = values[np.searchsorted(ids, queued)]
        return out

    def permuted(self, order: np.ndarray) -> "Queue":
        """The same pairs in another order (``order[k]``: the position now at k); the position
        lookup is carried over, not rebuilt."""
        out = Queue(self.ids[order], self.status[order], self.delta_s[order],
                    self.disagreement[order], self.kind, self.checkpoint)
        if self._sorted is not None:
            moved_to = np.empty_like(order)
            moved_to[order] = np.arange(len(order))
            ids, positions = self._sorted
            out._sorted = (ids, moved_to[positions])
        return out

    def set_status(self, pair_id: int, status: str) -> None:
        k = self.index_of(pair_id)
        if k is not None:
            self.status[k] = STATUSES.index(status)

    def reviewed(self) -> int:
        return len(self.status) - int(np.count_nonzero(self.status == STATUSES.index("auto")))


def _driver_rows(store: Store, sql: str, params: dict[str, Any]) -> list[tuple]:
    """The rows of one SQL text with ``:name`` parameters (written in SQL that SQLite and
    PostgreSQL both take)."""
    with store.read() as session:
        return session.execute(text(sql), params).fetchall()


def _in_clause(name: str, values: tuple, params: dict[str, Any]) -> str:
    keys = []
    for k, value in enumerate(values):
        params[f"{name}{k}"] = value
        keys.append(f":{name}{k}")
    return ", ".join(keys)


_STATUS_CODE = {s: k for k, s in enumerate(STATUSES)}
_REASON_CODE = {r: k for k, r in enumerate(REASONS)}


class PairIndex:
    """A columnar snapshot of the pairs table (ids, status, reason, ΔS, scores, labels), from
    which queues are filtered and sorted in numpy: a few milliseconds for 220,000 pairs, where
    fetching the rows again would cost a few hundred.

    Reviews this process writes are recorded into it (:meth:`record`); what other processes
    write (an import, a scoring job) shows after :meth:`reload`.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reload()

    def reload(self) -> None:
        rows = _driver_rows(self.store, "SELECT id, source_id, image_id, status, "
                            "COALESCE(reason, ''), delta_s, suspicion, auto_label, "
                            "COALESCE(label, -1), size_conflict FROM pairs ORDER BY id", {})
        n = len(rows)
        cols = list(zip(*rows)) if n else [()] * 10
        self.ids = np.fromiter(cols[0], np.int64, n)
        self.source_id = np.fromiter(cols[1], np.int64, n)
        self.image_id = np.fromiter(cols[2], np.int64, n)
        self.status = np.fromiter((_STATUS_CODE[v] for v in cols[3]), np.int8, n)
        self.reason = np.fromiter((_REASON_CODE.get(v, -1) for v in cols[4]), np.int8, n)
        self.delta_s = np.array(cols[5], dtype=np.float64) if n else np.zeros(0)
        self.suspicion = np.array(cols[6], dtype=np.float64) if n else np.zeros(0)
        self.auto_label = np.fromiter(cols[7], np.int8, n)
        self.label = np.fromiter(cols[8], np.int8, n)
        self.size_conflict = np.array(cols[9], dtype=np.float64) if n else np.zeros(0)
        self._cue_rank: np.ndarray | None = None
        self.sources = dict(_driver_rows(self.store, "SELECT name, id FROM sources ORDER BY id",
                                         {}))  # name -> id, in import order
        images = _driver_rows(self.store, "SELECT i.id, i.file_name, s.images_dir FROM images i "
                                          "JOIN sources s ON s.id = i.source_id", {})
        self._image_ids = np.fromiter((r[0] for r in images), np.int64, len(images))
        self._image_names = [r[1].casefold() for r in images]
        self._image_files = {r[0]: (r[2], r[1]) for r in images}
        self._probs: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, pair_id: int) -> int | None:
        k = int(np.searchsorted(self.ids, pair_id))
        return k if k < len(self.ids) and self.ids[k] == pair_id else None

    def record(self, pair_id: int, status: str, label: int | None, reason: str | None) -> None:
        """A review this process wrote (or is writing)."""
        k = self.position(pair_id)
        if k is not None:
            self.status[k] = _STATUS_CODE[status]
            self.label[k] = -1 if label is None else label
            self.reason[k] = _REASON_CODE.get(reason or "", -1)

    def state(self, pair_id: int) -> tuple[str, str | None] | None:
        """(status, reason) of a pair in the snapshot (None when it is not in it)."""
        k = self.position(pair_id)
        if k is None:
            return None
        reason = int(self.reason[k])
        return STATUSES[self.status[k]], (REASONS[reason] if reason >= 0 else None)

    def image_path(self, pair_id: int) -> str | None:
        """The image file of a pair, from the snapshot (no query: the desk reads ahead with
        it at every step)."""
        k = self.position(pair_id)
        if k is None:
            return None
        folder, name = self._image_files.get(int(self.image_id[k]), (None, None))
        return os.path.join(folder, name) if name is not None else None

    def auto_label_of(self, pair_id: int) -> int | None:
        k = self.position(pair_id)
        return None if k is None else int(self.auto_label[k])

    def probs(self, checkpoint: str | None) -> np.ndarray:
        """The model probability of each pair (NaN where the checkpoint did not score it)."""
        if checkpoint is None:
            return np.full(len(self.ids), np.nan)
        if checkpoint not in self._probs:
            rows = _driver_rows(self.store, "SELECT pair_id, prob FROM predictions "
                                "WHERE checkpoint = :c", {"c": checkpoint})
            out = np.full(len(self.ids), np.nan)
            if rows and len(self.ids):
                pair_ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                k = np.clip(np.searchsorted(self.ids, pair_ids), 0, len(self.ids) - 1)
                found = self.ids[k] == pair_ids
                out[k[found]] = np.fromiter((r[1] for r in rows), np.float64, len(rows))[found]
            self._probs[checkpoint] = out
        return self._probs[checkpoint]

    def _queue_order(self, kind: str, keep: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
        """The order of the pairs at ``keep`` (positions in id order) in a queue of ``kind``;
        the percentile ranks of "most suspicious first" are among all the snapshot's pairs,
        so a filter does not change how two pairs compare."""
        ids = self.ids[keep]
        if kind in ("order", "disagreements"):
            return np.arange(len(ids))
        if kind == "suspicious":  # lexsort: the last key is the primary one
            if not np.isfinite(disagreement[keep]).any():  # no model: the cue scores alone
                return np.lexsort((ids, -np.nan_to_num(self.suspicion[keep])))
            return np.lexsort((ids, -suspicious_first(self.cue_rank(), disagreement)[keep]))
        return np.argsort(qa_key(ids), kind="stable")

    def cue_rank(self) -> np.ndarray:
        """:func:`wsp_core.suspect.cue_rank` of every pair (built once a snapshot: the cue
        scores do not change with verdicts)."""
        if self._cue_rank is None:
            self._cue_rank = cue_rank(np.nan_to_num(self.suspicion),
                                      np.nan_to_num(self.size_conflict))
        return self._cue_rank

    def disagreement(self, checkpoint: str | None) -> np.ndarray:
        """The model's probability of the other label than the one training would use
        (FiftyOne's "mistakenness"); NaN without a prediction."""
        prob = self.probs(checkpoint)
        return disagreement(np.where(self.label >= 0, self.label, self.auto_label), prob)

    def mask(self, flt: PairFilter, checkpoint: str | None = None) -> np.ndarray:
        """Which pairs (in id order) the filter selects."""
        flt.check()
        keep = np.ones(len(self.ids), bool)
        if flt.statuses:
            keep &= np.isin(self.status, [_STATUS_CODE[s] for s in flt.statuses])
        if flt.sources:
            keep &= np.isin(self.source_id, [self.sources.get(s, -1) for s in flt.sources])
        if flt.reasons:
            keep &= np.isin(self.reason, [_REASON_CODE[r] for r in flt.reasons])
        with np.errstate(invalid="ignore"):  # an unknown ΔS (NaN) passes no bound
            if flt.delta_s_min is not None:
                keep &= self.delta_s >= flt.delta_s_min
            if flt.delta_s_max is not None:
                keep &= self.delta_s <= flt.delta_s_max
        text = flt.image.strip().casefold()
        if text:
            hits = [i for i, name in zip(self._image_ids, self._image_names) if text in name]
            keep &= np.isin(self.image_id, hits)
        if flt.reviewer.strip():
            keep &= np.isin(self.ids, self.judged_by(flt.reviewer.strip()))
        if flt.disagree:
            keep &= self.disagreement(checkpoint) > 0.5
        return keep

    def judged_by(self, reviewer: str) -> np.ndarray:
        """The pairs a curator gave a verdict (read from the store: the snapshot keeps no
        curator)."""
        rows = _driver_rows(self.store, "SELECT DISTINCT pair_id FROM reviews WHERE reviewer = "
                                        f":r AND verdict != '{NOTE}'", {"r": reviewer})
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def queue(self, flt: PairFilter = PairFilter(), kind: str = "order",
              checkpoint: str | None = None, learned: np.ndarray | None = None,
              disagreeing: list[int] | None = None) -> Queue:
        """The pairs a filter selects, in the order of queue ``kind`` (see :func:`load_queue`);
        ``learned``: for kind "learned", the learned suspicion of every pair (id order);
        ``disagreeing``: for kind "disagreements", the pairs two curators judged otherwise
        (:func:`wsp_core.store.team.agreement`)."""
        if kind not in QUEUES:
            raise BadValue("queue", f"unknown queue {kind!r}; one of: {', '.join(QUEUES)}")
        mask = self.mask(flt, checkpoint)
        if kind == "disagreements":
            mask &= np.isin(self.ids, np.asarray(disagreeing or [], dtype=np.int64))
        keep = np.flatnonzero(mask)
        disagreement = self.disagreement(checkpoint)
        if kind == "learned":
            if learned is None:
                raise BadValue("queue", "the learned queue needs its scores (the desk makes "
                                        "them: wsp_core.suspect)")
            order = keep[np.lexsort((self.ids[keep], -learned[keep]))]
        else:
            order = keep[self._queue_order(kind, keep, disagreement)]
        return Queue(self.ids[order], self.status[order], self.delta_s[order],
                     disagreement[order], kind, checkpoint)


def load_queue(store: Store, flt: PairFilter = PairFilter(), kind: str = "order",
               checkpoint: str | None = None, index: PairIndex | None = None) -> Queue:
    """The pair ids a filter selects, in the order of queue ``kind`` (see QUEUES).

    - ``order``: by pair id (import order: image by image).
    - ``suspicious``: without a model, by the cue suspicion; with one, by
      :func:`wsp_core.suspect.suspicious_first`: the strongest of the cue suspicion, the size
      conflict and the model's disagreement (FiftyOne's "mistakenness": its probability of the
      other label), each as a percentile rank — the model's disagreement alone ranked wrong
      labels worse than the cues alone (docs/CURATION.md, decisions).
    - ``qa``: a fixed pseudo-random order (a hash of the pair id), so that any prefix of it is
      a simple random sample of the filtered pairs (see :func:`qa_estimate`).
    - ``learned``: by the learned suspicion (``wsp_core.suspect``), which the desk computes and
      re-ranks as verdicts come (pass it to :meth:`PairIndex.queue`).
    - ``disagreements``: the pairs two curators judged otherwise, in id order (the desk reads
      them from the reviews: pass them to :meth:`PairIndex.queue`).

    ``index`` reuses a snapshot (the app keeps one); without it the pairs are read afresh.
    """
    return (index or PairIndex(store)).queue(flt, kind, checkpoint)


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
        raise BadValue("queue", "the QA estimate needs a queue of kind 'qa'")
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


def load_qa(store: Store, flt: PairFilter = PairFilter(), checkpoint: str | None = None,
            index: PairIndex | None = None) -> Queue:
    """The QA queue of a filter, ignoring its status choice (reviewed pairs are the sample)."""
    return load_queue(store, replace(flt, statuses=()), "qa", checkpoint, index)


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


_DETAIL_SQL = """
SELECT p.person_a, p.person_b, p.auto_label, p.label, p.status, p.reason, p.delta_s, p.margin_px,
       p.margin_rel, p.hug, p.size_conflict, p.knee_line, p.raised_ground, p.suspicion,
       p.image_id, s.name,
       s.format, CAST(s.joint_names AS TEXT), s.images_dir, i.file_name, i.width, i.height
FROM pairs p JOIN sources s ON s.id = p.source_id JOIN images i ON i.id = p.image_id
WHERE p.id = :id
"""
_PERSONS_SQL = ("SELECT id, bbox_x, bbox_y, bbox_w, bbox_h, CAST(keypoints AS TEXT), scale, "
                "ankle_y, mcpc "
                "FROM persons WHERE image_id = :image ORDER BY id")


#: A cue score this high is named as evidence in the pair's Labels panel.
EVIDENCE_MIN = 0.3


@dataclass(frozen=True)
class PersonView:
    """One person of a pair's image as the pair view draws it."""

    person_id: int
    bbox: tuple[float, float, float, float] | None   # x, y, w, h (None: no box in the file)
    keypoints: tuple                                 # (J, 3) x, y, visibility
    scale: float | None
    ankle_y: float | None
    mcpc: bool


@dataclass(frozen=True)
class PairDetail:
    """Everything the pair view draws of one pair: the image, both persons, the other persons of
    the image, the labels, ΔS, margin, cue-conflict scores and the model's probability.

    Frozen: a state the desk knows better (a review still on its way to the store) is a new
    detail made with :meth:`with_state`, never an edit of this one."""

    pair_id: int
    source: str
    format: str
    image_id: int
    image: str                       # the image file's path
    file_name: str
    width: int
    height: int
    a: PersonView
    b: PersonView
    others: tuple[PersonView, ...]
    joint_names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    ankles: tuple[int, ...]
    auto_label: int
    label: int | None                # the label training uses (None: excluded, ambiguous)
    status: str
    reason: str | None
    delta_s: float | None
    margin_px: float | None
    margin_rel: float | None
    hug: float | None
    size_conflict: float | None
    knee_line: float | None
    raised_ground: float | None
    suspicion: float | None
    prob: float | None = None        # the chosen checkpoint's P(A closer)
    prob_out_of_sample: bool | None = None
    checkpoint: str | None = None

    def evidence(self) -> list[str]:
        """What makes this pair suspicious, strongest first: each cue score of at least
        EVIDENCE_MIN with what it suggests (docs/CUES.md), and the model's disagreement with
        the label training uses when it is above one half."""
        found = [(value, f"{name} {value:.2f}: {meaning}")
                 for name, value, meaning in (
                     ("hug", self.hug, "the two touch, nearly the same depth"),
                     ("size conflict", self.size_conflict,
                      "the far one has the larger head: sitting, crouching or a stage"),
                     ("knee line", self.knee_line,
                      "the far one's feet are above the near one's knees: a step or stairs"),
                     ("raised ground", self.raised_ground,
                      "the far one looks larger than where its feet are: on a step or a stage"))
                 if value is not None and value >= EVIDENCE_MIN]
        if self.prob is not None and self.label is not None:
            disagree = 1.0 - self.prob if self.label == 1 else self.prob
            if disagree > 0.5:
                found.append((disagree, f"the model disagrees with the label ({disagree:.2f}"
                                        + (", out-of-sample)" if self.prob_out_of_sample
                                           else ")")))
        return [text for _, text in sorted(found, key=lambda f: -f[0])]

    def with_state(self, status: str, reason: str | None) -> "PairDetail":
        """The same pair with another review state, its training label derived by the rule."""
        return replace(self, status=status, reason=reason if status != "auto" else None,
                       label=label_for(status, self.auto_label))


def pair_detail(store: Store, pair_id: int, checkpoint: str | None = None) -> PairDetail:
    """One pair as the store has it now (see :class:`PairDetail`)."""
    with store.read() as session:
        conn = session.connection()
        row = conn.execute(text(_DETAIL_SQL), {"id": int(pair_id)}).fetchone()
        if row is None:
            raise StoreError(store.path, f"pair {pair_id} does not exist")
        (a, b, auto, label, status, reason, delta_s, margin_px, margin_rel, hug, size, knee,
         raised, suspicion, image_id, source, fmt, joint_names, images_dir, file_name, width,
         height) = row
        persons = {r[0]: _person_view(r) for r in
                   conn.execute(text(_PERSONS_SQL), {"image": image_id}).fetchall()}
        prob = out_of_sample = None
        if checkpoint is not None:
            found = conn.execute(text(
                "SELECT prob, out_of_sample FROM predictions WHERE pair_id = :id "
                "AND checkpoint = :c"), {"id": int(pair_id), "c": checkpoint}).fetchone()
            if found:
                prob = found[0]
                out_of_sample = None if found[1] is None else bool(found[1])
    names = tuple(json.loads(joint_names))
    joint_set = _joint_set(fmt, list(names))
    return PairDetail(
        pair_id=int(pair_id), source=source, format=fmt, image_id=int(image_id),
        image=os.path.join(images_dir, file_name), file_name=file_name, width=width,
        height=height, a=persons[a], b=persons[b],
        others=tuple(p for pid, p in persons.items() if pid not in (a, b)),
        joint_names=names, bones=tuple(bones(joint_set)) if joint_set else (),
        ankles=(tuple(k for k, c in enumerate(joint_set.canonical) if c.endswith("_ankle"))
                if joint_set else ()),
        auto_label=auto, label=label, status=status, reason=reason, delta_s=delta_s,
        margin_px=margin_px, margin_rel=margin_rel, hug=hug, size_conflict=size,
        knee_line=knee, raised_ground=raised, suspicion=suspicion, prob=prob,
        prob_out_of_sample=out_of_sample,
        checkpoint=checkpoint)


def pair_truth(store: Store, pair_id: int) -> int | None:
    """The 3D truth of a pair on a source that has it: 1 when A's pelvis is nearer the camera,
    0 when B's is; None without truth."""
    from .queries import depth_truth

    rows = _driver_rows(store, "SELECT s.format, CAST(pa.keypoints_cam AS TEXT), "
                               "CAST(pb.keypoints_cam AS TEXT) FROM pairs p "
                               "JOIN persons pa ON pa.id = p.person_a "
                               "JOIN persons pb ON pb.id = p.person_b "
                               "JOIN sources s ON s.id = p.source_id WHERE p.id = :id",
                        {"id": int(pair_id)})
    if not rows or rows[0][1] is None or rows[0][2] is None:
        return None
    fmt, cam_a, cam_b = rows[0]
    return depth_truth(fmt, json.loads(cam_a), json.loads(cam_b))


def image_pairs(store: Store, image_id: int) -> list[dict[str, Any]]:
    """Every pair of one image: pair_id, person_a, person_b, auto_label, status (id order)."""
    rows = _driver_rows(store, "SELECT id, person_a, person_b, auto_label, status FROM pairs "
                               "WHERE image_id = :image ORDER BY id", {"image": int(image_id)})
    return [dict(zip(("pair_id", "person_a", "person_b", "auto_label", "status"), r))
            for r in rows]


def _joint_set(fmt: str, names: list[str]) -> JointSet | None:
    """The format's joint set when the source lists its joints as that set does, else None
    (then the view draws joints without limbs)."""
    joint_set = FORMAT_JOINT_SETS.get(fmt)
    if joint_set is not None and list(joint_set.joints) == list(names):
        return joint_set
    return None


def _person_view(row: tuple) -> PersonView:
    pid, x, y, w, h, keypoints, scale, ankle_y, mcpc = row
    bbox = None if x is None else (x, y, w, h)
    return PersonView(pid, bbox, tuple(tuple(k) for k in json.loads(keypoints)), scale, ankle_y,
                      bool(mcpc))


#: The desk ranks its "most suspicious first" queue by a model by default only when the model's
#: validation AUC (on held-out pairs' labels) reaches this; below it, a model is close enough to
#: chance that the cue scores rank wrong labels better (docs/CURATION.md, decisions).
DEFAULT_MODEL_MIN_AUC = 0.80


def checkpoints(store: Store) -> list[dict[str, Any]]:
    """Checkpoints that scored the store, the most recent first, with how many of their scores
    are out-of-sample (the model never trained on the pair's image) and in-sample, and the
    model's validation AUC (``val_auc``: its run's last epoch; the mean over the fold runs of a
    ``score --folds`` folder; None when the run folder is not at hand)."""
    rows = _driver_rows(store, "SELECT checkpoint, COUNT(*), MAX(created_at), "
                               "SUM(CASE WHEN out_of_sample THEN 1 ELSE 0 END), "
                               "SUM(CASE WHEN NOT out_of_sample THEN 1 ELSE 0 END) FROM predictions "
                               "GROUP BY checkpoint ORDER BY MAX(created_at) DESC", {})
    return [{"checkpoint": c, "pairs": n, "scored_at": t, "out_of_sample": int(o or 0),
             "in_sample": int(i or 0), "val_auc": validation_auc(c)}
            for c, n, t, o, i in rows]


def validation_auc(checkpoint: str) -> float | None:
    """A scoring model's validation AUC from its run folder's metrics.jsonl (last epoch that
    has one); for a folder of fold runs, the mean of theirs."""
    from ..runs import metrics_rows

    path = Path(checkpoint)
    folders = sorted(path.glob("fold*")) if path.is_dir() else [path.parent]
    values = []
    for folder in folders:
        aucs = [r["val_auc"] for r in metrics_rows(folder / "metrics.jsonl")
                if isinstance(r.get("val_auc"), (int, float))]
        if aucs:
            values.append(float(aucs[-1]))
    return sum(values) / len(values) if values else None


def default_checkpoint(found: list[dict[str, Any]]) -> str | None:
    """The model the queue ranks by when a store opens: the latest whose validation AUC
    reaches DEFAULT_MODEL_MIN_AUC, else none (the cue scores)."""
    return next((c["checkpoint"] for c in found
                 if c.get("val_auc") is not None and c["val_auc"] >= DEFAULT_MODEL_MIN_AUC), None)


def _time_bucket(store: Store, hourly: bool) -> str:
    """SQL of a review's hour ("2026-12-03 14:00") or day, in the store's dialect."""
    if store.server:
        return f"to_char(created_at, '{'YYYY-MM-DD HH24:00' if hourly else 'YYYY-MM-DD'}')"
    return f"strftime('{'%Y-%m-%d %H:00' if hourly else '%Y-%m-%d'}', created_at)"


def review_activity(store: Store) -> dict[str, Any]:
    """Verdicts per hour (or per day over more than three days; notes and the reviews an undo
    writes are not verdicts), and the current verdicts by reason (the pairs' effective state,
    so an undone review no longer counts)."""
    verdicts = f"verdict != '{NOTE}' AND COALESCE(note, '') != '{UNDO_NOTE}'"
    span = _driver_rows(store, "SELECT MIN(created_at), MAX(created_at), COUNT(*) FROM reviews "
                               f"WHERE {verdicts}", {})[0]
    hourly = True
    if span[2]:
        from datetime import datetime

        first, last = (datetime.fromisoformat(str(t)) for t in span[:2])
        hourly = (last - first).total_seconds() <= 3 * 86400
    times = _driver_rows(store, f"SELECT {_time_bucket(store, hourly)}, COUNT(*) FROM reviews "
                                f"WHERE {verdicts} "
                                "GROUP BY 1 ORDER BY 1", {})
    by_reason = _driver_rows(store, "SELECT status, COALESCE(reason, ''), COUNT(*) FROM pairs "
                                    "WHERE status != 'auto' GROUP BY 1, 2", {})
    return {"bucket": "hour" if hourly else "day", "times": [t for t, _ in times],
            "counts": [n for _, n in times],
            "verdicts_by_reason": [{"status": s, "reason": r or None, "pairs": n}
                                   for s, r, n in by_reason]}


def latest_review_id(store: Store) -> int:
    """The id of the store's latest review (0 without one): where :func:`reviews_since`
    starts."""
    return int(_driver_rows(store, "SELECT COALESCE(MAX(id), 0) FROM reviews", {})[0][0])


def reviews_since(store: Store, seen: int, reviewer: str | None
                  ) -> tuple[list[tuple[int, str, int | None, str | None, str]], int]:
    """The pairs other curators reviewed after review ``seen``, each with its state now
    (pair id, status, label, reason, the curator of its latest new review), and the id of the
    latest review: what a desk polls on a store several curators share."""
    rows = _driver_rows(store, "SELECT id, pair_id, reviewer FROM reviews WHERE id > :seen "
                               "ORDER BY id", {"seen": int(seen)})
    if not rows:
        return [], seen
    by = {pid: who for _, pid, who in rows if who != reviewer}
    out = []
    ids = sorted(by)
    for start in range(0, len(ids), 500):
        params: dict[str, Any] = {}
        marks = _in_clause("p", tuple(ids[start:start + 500]), params)
        for pid, status, label, reason in _driver_rows(
                store, f"SELECT id, status, label, reason FROM pairs WHERE id IN ({marks})",
                params):
            out.append((pid, status, label, reason, by[pid]))
    return out, int(rows[-1][0])
