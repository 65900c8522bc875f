"""The fourth cue score, ``pairs.raised_ground`` (the far person looks larger than its image's
ground line predicts: it stands on a step, stairs or a stage; docs/CUES.md).

Upgrading computes it for every stored pair from what the persons table already holds (each
MCPC person's mean ankle y and S), with the same function the importer uses, so an upgraded store
and a store imported anew hold the same values. ``suspicion`` is unchanged (the new score is not
part of its maximum).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 22:40:00
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pairs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raised_ground', sa.Float(), nullable=False,
                                      server_default='0'))
    _backfill(op.get_bind())


def _backfill(conn) -> None:
    from wsp_core.perspective.cues import ground_line_residual, raised_ground

    persons = conn.execute(sa.text(
        "SELECT id, image_id, ankle_y, scale FROM persons WHERE mcpc = 1 ORDER BY id")).all()
    pairs = conn.execute(sa.text(
        "SELECT id, person_a, person_b, auto_label FROM pairs ORDER BY id")).all()
    if not persons or not pairs:
        return
    ids, image, ankle, scale = (np.array(c, dtype=np.float64) for c in zip(
        *[(p[0], p[1], np.nan if p[2] is None else p[2], np.nan if p[3] is None else p[3])
          for p in persons]))
    residual = dict(zip(ids.astype(np.int64).tolist(),
                        ground_line_residual(image.astype(np.int64), ankle, scale).tolist()))
    far = [b if label == 1 else a for _, a, b, label in pairs]
    score = raised_ground(np.array([residual.get(p, np.nan) for p in far], dtype=np.float64))
    rows = [{"id": pair[0], "v": v} for pair, v in zip(pairs, score.tolist()) if v != 0.0]
    for start in range(0, len(rows), 10_000):
        conn.execute(sa.text("UPDATE pairs SET raised_ground = :v WHERE id = :id"),
                     rows[start:start + 10_000])


def downgrade() -> None:
    # not in batch mode: SQLite (≥ 3.35) drops a column in place, where a batch would copy the
    # pairs table and dropping the old one would cascade to every review, claim and score
    op.drop_column('pairs', 'raised_ground')
