"""Initial schema: sources, images, persons, pairs, append-only reviews, predictions, jobs.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 21:54:48.965151
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_dir', sa.Text(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'finished', 'failed', 'stopped')", name='ck_jobs_status'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status', ['status'], unique=False)

    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('ann_path', sa.Text(), nullable=False),
    sa.Column('images_dir', sa.Text(), nullable=False),
    sa.Column('ann_sha256', sa.String(length=64), nullable=False),
    sa.Column('joint_names', sa.JSON(), nullable=False),
    sa.Column('images_read', sa.Integer(), nullable=False),
    sa.Column('persons_read', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('wsp_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('intrinsics', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'key', name='uq_images_source_key')
    )
    op.create_table('persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('ann_key', sa.String(length=200), nullable=False),
    sa.Column('bbox_x', sa.Float(), nullable=False),
    sa.Column('bbox_y', sa.Float(), nullable=False),
    sa.Column('bbox_w', sa.Float(), nullable=False),
    sa.Column('bbox_h', sa.Float(), nullable=False),
    sa.Column('keypoints', sa.JSON(), nullable=False),
    sa.Column('mcpc', sa.SmallInteger(), nullable=False),
    sa.Column('ankle_y', sa.Float(), nullable=True),
    sa.Column('scale', sa.Float(), nullable=True),
    sa.Column('scale_kind', sa.SmallInteger(), nullable=False),
    sa.Column('keypoints_cam', sa.JSON(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'ann_key', name='uq_persons_image_ann')
    )
    op.create_table('pairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('person_a', sa.Integer(), nullable=False),
    sa.Column('person_b', sa.Integer(), nullable=False),
    sa.Column('auto_label', sa.SmallInteger(), nullable=False),
    sa.Column('margin_px', sa.Float(), nullable=False),
    sa.Column('margin_rel', sa.Float(), nullable=True),
    sa.Column('delta_s', sa.Float(), nullable=True),
    sa.Column('hug', sa.Float(), nullable=False),
    sa.Column('size_conflict', sa.Float(), nullable=False),
    sa.Column('knee_line', sa.Float(), nullable=False),
    sa.Column('suspicion', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('label', sa.SmallInteger(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.CheckConstraint("status IN ('auto', 'accept', 'flip', 'ambiguous', 'exclude')", name='ck_pairs_status'),
    sa.CheckConstraint('auto_label IN (0, 1)', name='ck_pairs_auto_label'),
    sa.CheckConstraint('label IS NULL OR label IN (0, 1)', name='ck_pairs_label'),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_a'], ['persons.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_b'], ['persons.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_a', 'person_b', name='uq_pairs_persons')
    )
    with op.batch_alter_table('pairs', schema=None) as batch_op:
        batch_op.create_index('ix_pairs_delta_s', ['delta_s'], unique=False)
        batch_op.create_index('ix_pairs_image', ['image_id'], unique=False)
        batch_op.create_index('ix_pairs_source_status', ['source_id', 'status'], unique=False)
        batch_op.create_index('ix_pairs_status', ['status'], unique=False)
        batch_op.create_index('ix_pairs_suspicion', ['suspicion'], unique=False)

    op.create_table('predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint', sa.Text(), nullable=False),
    sa.Column('prob', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['pairs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair_id', 'checkpoint', name='uq_predictions_pair_ckpt')
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_checkpoint', ['checkpoint'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('label', sa.SmallInteger(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("reason IS NULL OR reason IN ('hugging', 'sitting', 'stairs', 'occlusion', 'annotation_error', 'other')", name='ck_reviews_reason'),
    sa.CheckConstraint("verdict IN ('accept', 'flip', 'ambiguous', 'exclude', 'reset')", name='ck_reviews_verdict'),
    sa.CheckConstraint('label IS NULL OR label IN (0, 1)', name='ck_reviews_label'),
    sa.ForeignKeyConstraint(['pair_id'], ['pairs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index('ix_reviews_created', ['created_at'], unique=False)
        batch_op.create_index('ix_reviews_pair', ['pair_id', 'id'], unique=False)

    op.execute("INSERT INTO wsp_meta (key, value) VALUES ('app', 'wsp-studio')")


def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_pair')
        batch_op.drop_index('ix_reviews_created')

    op.drop_table('reviews')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_checkpoint')

    op.drop_table('predictions')
    with op.batch_alter_table('pairs', schema=None) as batch_op:
        batch_op.drop_index('ix_pairs_suspicion')
        batch_op.drop_index('ix_pairs_status')
        batch_op.drop_index('ix_pairs_source_status')
        batch_op.drop_index('ix_pairs_image')
        batch_op.drop_index('ix_pairs_delta_s')

    op.drop_table('pairs')
    op.drop_table('persons')
    op.drop_table('images')
    op.drop_table('wsp_meta')
    op.drop_table('sources')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status')

    op.drop_table('jobs')
