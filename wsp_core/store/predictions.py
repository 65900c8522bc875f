"""Model probabilities per pair and checkpoint (``wsp-core score``)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from .db import Store
from .models import Prediction, utcnow


def write_predictions(store: Store, checkpoint: str, pair_ids: list[int], probs: list[float],
                      out_of_sample: list[bool | None] | None = None) -> None:
    """Insert or replace one probability per pair for this checkpoint, in one transaction, with
    whether each is out-of-sample (the model never trained on the pair's image; None: not
    known)."""
    now = utcnow()
    oos = out_of_sample if out_of_sample is not None else [None] * len(pair_ids)
    rows = [{"pair_id": p, "checkpoint": checkpoint, "prob": float(q), "created_at": now,
             "out_of_sample": None if o is None else bool(o)}
            for p, q, o in zip(pair_ids, probs, oos)]
    stmt = (postgresql if store.server else sqlite).insert(Prediction)
    stmt = stmt.on_conflict_do_update(index_elements=["pair_id", "checkpoint"],
                                      set_={"prob": stmt.excluded.prob,
                                            "out_of_sample": stmt.excluded.out_of_sample,
                                            "created_at": stmt.excluded.created_at})
    with store.write() as session:
        for start in range(0, len(rows), 5000):
            session.execute(stmt, rows[start:start + 5000])
