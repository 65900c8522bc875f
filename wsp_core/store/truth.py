"""What a store knows of the 3D truth, for the noise report: the sources whose persons carry
camera-space joints, their pairs with both persons' truth, and the models' scores of them.

Rows come back as plain column lists (no ORM objects leave ``store/``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..errors import StoreError
from .db import Store
from .models import Image, Pair, Person, Prediction, Source

#: The columns of :func:`truth_pairs`, in order.
TRUTH_COLUMNS = ("pair_id", "auto_label", "label", "delta_s", "hug", "size_conflict",
                 "knee_line", "raised_ground", "suspicion", "cam_a", "cam_b", "extra_a", "extra_b",
                 "keypoints_a", "keypoints_b", "intrinsics", "person_a", "person_b")


def sources(store: Store, name: str | None = None) -> list[dict[str, Any]]:
    """The store's sources in import order (id, name, format); ``name`` picks one, and a name
    the store does not have is an error."""
    with store.read() as session:
        query = select(Source.id, Source.name, Source.format).order_by(Source.id)
        if name is not None:
            query = query.where(Source.name == name)
        rows = session.execute(query).all()
    if name is not None and not rows:
        raise StoreError(store.path, f"no source named {name!r}")
    return [{"id": i, "name": n, "format": f} for i, n, f in rows]


def truth_pairs(store: Store, source_id: int) -> dict[str, list]:
    """The source's pairs whose two persons both have camera-space joints: one list per
    column of TRUTH_COLUMNS (empty lists when there are none)."""
    pa, pb = aliased(Person), aliased(Person)
    query = (select(Pair.id, Pair.auto_label, Pair.label, Pair.delta_s, Pair.hug,
                    Pair.size_conflict, Pair.knee_line, Pair.raised_ground, Pair.suspicion,
                    pa.keypoints_cam,
                    pb.keypoints_cam, pa.extra, pb.extra, pa.keypoints, pb.keypoints,
                    Image.intrinsics, pa.id, pb.id)
             .join(pa, pa.id == Pair.person_a).join(pb, pb.id == Pair.person_b)
             .join(Image, Image.id == Pair.image_id)
             .where(Pair.source_id == source_id, pa.keypoints_cam.is_not(None),
                    pb.keypoints_cam.is_not(None))
             .order_by(Pair.id))
    with store.read() as session:
        rows = session.execute(query).all()
    columns = list(zip(*rows)) if rows else [()] * len(TRUTH_COLUMNS)
    return {name: list(values) for name, values in zip(TRUTH_COLUMNS, columns)}


def scores_of(store: Store, pair_ids) -> list[tuple[str, int, float, bool | None]]:
    """(checkpoint, pair id, P(A closer), out-of-sample) of every model score of these pairs."""
    ids = [int(p) for p in pair_ids]
    out: list[tuple[str, int, float, bool | None]] = []
    with store.read() as session:
        for start in range(0, len(ids), 20000):  # under SQLite's bound-parameter limit
            out += [tuple(r) for r in session.execute(
                select(Prediction.checkpoint, Prediction.pair_id, Prediction.prob,
                       Prediction.out_of_sample)
                .where(Prediction.pair_id.in_(ids[start:start + 20000]))).all()]
    return out

