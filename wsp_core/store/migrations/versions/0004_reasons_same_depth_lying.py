"""Two reasons curators need: "same_depth" (the two persons stand at the same depth, too close to
call; the depth-order mode's ties) and "lying" (a person lies on the ground, so the ankles say
nothing of depth); and the verdict "note": a note recorded as a note, which leaves the pair's
state as its latest other review made it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:30:00
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BEFORE = ('hugging', 'sitting', 'stairs', 'occlusion', 'annotation_error', 'other')
AFTER = BEFORE + ('same_depth', 'lying')
VERDICTS_BEFORE = ('accept', 'flip', 'ambiguous', 'exclude', 'reset')
VERDICTS_AFTER = VERDICTS_BEFORE + ('note',)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _constraints(batch_op, reasons: tuple[str, ...], verdicts: tuple[str, ...]) -> None:
    batch_op.drop_constraint('ck_reviews_reason', type_='check')
    batch_op.drop_constraint('ck_reviews_verdict', type_='check')
    batch_op.create_check_constraint('ck_reviews_reason', "reason IS NULL OR "
                                     + _in("reason", reasons))
    batch_op.create_check_constraint('ck_reviews_verdict', _in("verdict", verdicts))


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        _constraints(batch_op, AFTER, VERDICTS_AFTER)


def downgrade() -> None:
    op.execute("UPDATE reviews SET reason = 'other' WHERE reason IN ('same_depth', 'lying')")
    op.execute("UPDATE pairs SET reason = 'other' WHERE reason IN ('same_depth', 'lying')")
    op.execute("DELETE FROM reviews WHERE verdict = 'note'")
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        _constraints(batch_op, BEFORE, VERDICTS_BEFORE)
