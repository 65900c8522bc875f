"""What the store knows of each pair that bears on whether its automatic label is wrong: the
cue scores, ΔS, the ankle gap, both persons' boxes, ankle heights, S and pose hints, the image's
size, and every model's probability — as plain numpy columns for the learned suspicion
(``wsp_core.suspect``).

Rows come back as columns (no ORM objects leave ``store/``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..perspective.pose import POSE_HINTS
from .db import Store
from .models import Image, Pair, Person, Prediction

#: The per-pair columns of :func:`pair_signals` (persons: ``_a`` and ``_b``).
PAIR_COLUMNS = ("pair_id", "source_id", "auto_label", "status", "hug", "size_conflict",
                "knee_line", "raised_ground", "suspicion", "delta_s", "margin_rel", "height",
                "box_w_a", "box_h_a", "box_w_b", "box_h_b", "box_x_a", "box_x_b", "box_y_a",
                "box_y_b", "ankle_y_a", "ankle_y_b", "scale_a", "scale_b", "width") + tuple(
    f"{hint}_{p}" for hint in POSE_HINTS for p in "ab")


def pair_signals(store: Store, source_id: int | None = None) -> dict[str, np.ndarray]:
    """Every pair (of one source, or all), in pair id order: one array per PAIR_COLUMNS name
    (NaN where a value is unknown; ``status`` as strings)."""
    pa, pb = aliased(Person), aliased(Person)
    query = (select(Pair.id, Pair.source_id, Pair.auto_label, Pair.status, Pair.hug,
                    Pair.size_conflict, Pair.knee_line, Pair.raised_ground, Pair.suspicion,
                    Pair.delta_s, Pair.margin_rel, Image.height, pa.bbox_w, pa.bbox_h,
                    pb.bbox_w, pb.bbox_h, pa.bbox_x, pb.bbox_x, pa.bbox_y, pb.bbox_y,
                    pa.ankle_y, pb.ankle_y, pa.scale, pb.scale, Image.width,
                    *(getattr(p, hint) for hint in POSE_HINTS for p in (pa, pb)))
             .join(pa, pa.id == Pair.person_a).join(pb, pb.id == Pair.person_b)
             .join(Image, Image.id == Pair.image_id).order_by(Pair.id))
    if source_id is not None:
        query = query.where(Pair.source_id == source_id)
    with store.read() as session:
        rows = session.execute(query).all()
    columns = list(zip(*rows)) if rows else [()] * len(PAIR_COLUMNS)
    out: dict[str, np.ndarray] = {}
    for name, values in zip(PAIR_COLUMNS, columns):
        if name == "status":
            out[name] = np.array(values, dtype=object)
        elif name in ("pair_id", "source_id", "auto_label"):
            out[name] = np.array(values, dtype=np.int64)
        else:
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return out


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
