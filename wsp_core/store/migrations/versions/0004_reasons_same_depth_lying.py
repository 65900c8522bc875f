"""Two reasons curators need: "same_depth" (the two persons stand at the same depth, too close to
call; the depth-order mode's ties) and "lying" (a person lies on the ground, so the ankles say
nothing of depth).

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


def _check(reasons: tuple[str, ...]) -> str:
    return "reason IS NULL OR reason IN (" + ", ".join(f"'{r}'" for r in reasons) + ")"


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_constraint('ck_reviews_reason', type_='check')
        batch_op.create_check_constraint('ck_reviews_reason', _check(AFTER))


def downgrade() -> None:
    op.execute("UPDATE reviews SET reason = 'other' WHERE reason IN ('same_depth', 'lying')")
    op.execute("UPDATE pairs SET reason = 'other' WHERE reason IN ('same_depth', 'lying')")
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_constraint('ck_reviews_reason', type_='check')
        batch_op.create_check_constraint('ck_reviews_reason', _check(BEFORE))
