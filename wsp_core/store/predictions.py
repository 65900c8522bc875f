"""Model probabilities per pair and checkpoint (``wsp-core score``)."""

from __future__ import annotations

from sqlalchemy.dialects.sqlite import insert

from .db import Store
from .models import Prediction, utcnow


def write_predictions(store: Store, checkpoint: str, pair_ids: list[int], probs: list[float]) -> None:
    """Insert or replace one probability per pair for this checkpoint, in one transaction."""
    now = utcnow()
    rows = [{"pair_id": p, "checkpoint": checkpoint, "prob": float(q), "created_at": now}
            for p, q in zip(pair_ids, probs)]
    stmt = insert(Prediction)
    stmt = stmt.on_conflict_do_update(index_elements=["pair_id", "checkpoint"],
                                      set_={"prob": stmt.excluded.prob,
                                            "created_at": stmt.excluded.created_at})
    with store.write() as session:
        for start in range(0, len(rows), 5000):
            session.execute(stmt, rows[start:start + 5000])
