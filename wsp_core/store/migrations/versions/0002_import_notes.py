"""The import report: sources.import_notes holds the last import's decisions by reason.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 08:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_notes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('import_notes')
