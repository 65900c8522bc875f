"""Whether a model's probability for a pair is out-of-sample: predictions.out_of_sample is 1 when
the model never trained on the pair's image, 0 when it did, NULL when not known (older scores,
a checkpoint from another store).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('out_of_sample', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('out_of_sample')
