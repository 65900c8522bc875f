"""What the store knows of each pair that bears on whether its automatic label is wrong: the
cue scores, ΔS, the ankle gap, both persons' boxes, ankle heights, S and pose hints, the image's
size, and every model's probability — as plain numpy columns for the learned suspicion
(``wsp_core.suspect``).

Rows come back as columns (no ORM objects leave ``store/``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select, text

from ..perspective.pose import POSE_HINTS
from .db import Store
from .models import Prediction

#: The per-pair columns of :func:`pair_signals` (persons: ``_a`` and ``_b``).
PAIR_COLUMNS = ("pair_id", "source_id", "auto_label", "status", "hug", "size_conflict",
                "knee_line", "raised_ground", "suspicion", "delta_s", "margin_rel", "height",
                "box_w_a", "box_h_a", "box_w_b", "box_h_b", "box_x_a", "box_x_b", "box_y_a",
                "box_y_b", "ankle_y_a", "ankle_y_b", "scale_a", "scale_b", "width") + tuple(
    f"{hint}_{p}" for hint in POSE_HINTS for p in "ab")


#: The pairs' columns: _PAIR_NAMES' values, then the two persons' ids (10, 11), the image's
#: (12) and the status (13).
_PAIR_SQL = ("SELECT p.id, p.source_id, p.auto_label, p.hug, p.size_conflict, p.knee_line, "
             "p.raised_ground, p.suspicion, p.delta_s, p.margin_rel, p.person_a, p.person_b, "
             "p.image_id, p.status FROM pairs p {where} ORDER BY p.id")
_PAIR_NAMES = ("pair_id", "source_id", "auto_label", "hug", "size_conflict", "knee_line",
               "raised_ground", "suspicion", "delta_s", "margin_rel")
#: PAIR_COLUMNS' per-person names (without _a/_b) and their persons columns.
_PERSON_COLUMNS = (("box_w", "bbox_w"), ("box_h", "bbox_h"), ("box_x", "bbox_x"),
                   ("box_y", "bbox_y"), ("ankle_y", "ankle_y"), ("scale", "scale")) + tuple(
    (hint, hint) for hint in POSE_HINTS)
_PERSON_SQL = ("SELECT pe.id, " + ", ".join(f"pe.{c}" for _, c in _PERSON_COLUMNS)
               + " FROM persons pe JOIN images i ON i.id = pe.image_id {where} ORDER BY pe.id")
_IMAGE_SQL = "SELECT i.id, i.height, i.width FROM images i {where} ORDER BY i.id"


def pair_signals(store: Store, source_id: int | None = None) -> dict[str, np.ndarray]:
    """Every pair (of one source, or all), in pair id order: one array per PAIR_COLUMNS name
    (NaN where a value is unknown; ``status`` as strings). The pairs, their persons and their
    images are read once each and joined in numpy (222,000 pairs: about a second)."""
    where, params = ("WHERE {t}.source_id = :source", {"source": int(source_id)}) \
        if source_id is not None else ("", {})
    with store.read() as session:
        pairs = session.execute(text(_PAIR_SQL.format(where=where.format(t="p"))),
                                params).fetchall()
        persons = session.execute(text(_PERSON_SQL.format(where=where.format(t="i"))),
                                  params).fetchall()
        images = session.execute(text(_IMAGE_SQL.format(where=where.format(t="i"))),
                                 params).fetchall()
    pair = _floats(pairs, 13)
    out: dict[str, np.ndarray] = {
        name: pair[:, k].astype(np.int64) if name in ("pair_id", "source_id", "auto_label")
        else pair[:, k] for k, name in enumerate(_PAIR_NAMES)}
    out["status"] = np.array([r[13] for r in pairs], dtype=object)
    person = _floats(persons, 1 + len(_PERSON_COLUMNS))
    for p, column in (("a", 10), ("b", 11)):      # ids ascending; every one there (foreign keys)
        row = np.searchsorted(person[:, 0], pair[:, column])
        for k, (name, _) in enumerate(_PERSON_COLUMNS):
            out[f"{name}_{p}"] = person[row, 1 + k]
    image = _floats(images, 3)
    row = np.searchsorted(image[:, 0], pair[:, 12])
    out["height"], out["width"] = image[row, 1], image[row, 2]
    return {name: out[name] for name in PAIR_COLUMNS}


def _floats(rows: list, width: int) -> np.ndarray:
    """The first ``width`` values of each row as a (N, width) float array (None: NaN)."""
    if not rows:
        return np.zeros((0, width))
    return np.array([r[:width] for r in rows], dtype=np.float64)


def model_probs(store: Store, pair_ids: np.ndarray,
                checkpoint: str | None = None) -> dict[str, dict[str, Any]]:
    """Per checkpoint that scored any of these pairs (or only ``checkpoint``, always present
    then): ``prob`` (P(A closer), NaN where it did not score the pair) and ``out_of_sample``
    (1, 0, or -1 when not known), aligned to ``pair_ids``."""
    position = {int(p): k for k, p in enumerate(pair_ids)}
    out: dict[str, dict[str, Any]] = {}
    query = select(Prediction.checkpoint, Prediction.pair_id, Prediction.prob,
                   Prediction.out_of_sample)
    if checkpoint is not None:
        query = query.where(Prediction.checkpoint == checkpoint)
        out[checkpoint] = {"prob": np.full(len(pair_ids), np.nan),
                           "out_of_sample": np.full(len(pair_ids), -1)}
    with store.read() as session:
        rows = session.execute(query).all()
    for checkpoint, pair_id, prob, oos in rows:
        k = position.get(pair_id)
        if k is None:
            continue
        entry = out.setdefault(checkpoint, {"prob": np.full(len(pair_ids), np.nan),
                                            "out_of_sample": np.full(len(pair_ids), -1)})
        entry["prob"][k] = prob
        entry["out_of_sample"][k] = -1 if oos is None else int(oos)
    return out
