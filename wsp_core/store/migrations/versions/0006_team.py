"""A team on one store: ``claims`` (the pair in front of each curator, held for a lease) and
``reviews.client_key`` (a key the curator's desk gives each review before it is written, so a
review replayed from the desk's journal after a lost connection or a killed app is stored once).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'claims',
        sa.Column('pair_id', sa.Integer(), nullable=False),
        sa.Column('reviewer', sa.String(length=100), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['pair_id'], ['pairs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('pair_id'))
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claims_reviewer', ['reviewer'], unique=False)
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=36), nullable=True))
        batch_op.create_index('ix_reviews_client_key', ['client_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_client_key')
        batch_op.drop_column('client_key')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_reviewer')
    op.drop_table('claims')
