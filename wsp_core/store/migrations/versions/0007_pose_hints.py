"""Pose hints per person (``persons.knee_angle``, ``hip_angle``, ``torso_tilt``, ``leg_drop``,
``labelled_share``: wsp_core.perspective.pose), which the learned suspicion reads beside the cue
scores (docs/CURATION.md).

Upgrading computes them for every stored person from its stored keypoints in its source's joint
order, with the function the importer uses, so an upgraded store and one imported anew hold the
same values.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00
"""

import json

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

HINTS = ('knee_angle', 'hip_angle', 'torso_tilt', 'leg_drop', 'labelled_share')


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        for name in HINTS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
    _backfill(op.get_bind())


def _backfill(conn) -> None:
    from wsp_core.perspective.pose import person_pose_hints
    from wsp_core.skeleton import FORMAT_JOINT_SETS

    formats = conn.execute(sa.text("SELECT id, format FROM sources")).all()
    for source_id, fmt in formats:
        joint_set = FORMAT_JOINT_SETS.get(fmt)
        rows = conn.execute(sa.text(
            "SELECT persons.id, persons.keypoints FROM persons JOIN images "
            "ON images.id = persons.image_id WHERE images.source_id = :s ORDER BY persons.id"),
            {"s": source_id}).all()
        if joint_set is None or not rows:
            continue
        keypoints = [json.loads(k) if isinstance(k, str) else k for _, k in rows]
        fits = [k is not None and np.shape(k) == (joint_set.num_joints, 3) for k in keypoints]
        ids = [r[0] for r, ok in zip(rows, fits) if ok]
        if not ids:
            continue
        hints = person_pose_hints(np.array([k for k, ok in zip(keypoints, fits) if ok],
                                           dtype=np.float64), joint_set)
        values = [{"id": pid} | {name: (None if not np.isfinite(v) else float(v))
                                 for name, v in zip(HINTS, column)}
                  for pid, *column in zip(ids, *hints.columns())]
        sql = sa.text(f"UPDATE persons SET {', '.join(f'{h} = :{h}' for h in HINTS)} "
                      "WHERE id = :id")
        for start in range(0, len(values), 10_000):
            conn.execute(sql, values[start:start + 10_000])


def downgrade() -> None:
    # not in batch mode: SQLite (≥ 3.35) drops a column in place, where a batch would copy the
    # persons table and dropping the old one would cascade to every pair and review
    for name in reversed(HINTS):
        op.drop_column('persons', name)
