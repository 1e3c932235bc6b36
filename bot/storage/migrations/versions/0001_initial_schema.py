"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 17:03:38.827400
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('start_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('subscribers',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('lang', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('all_events', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('planned_posts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('step_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('lang', sa.String(length=3), nullable=False),
    sa.Column('catch_up', sa.String(length=20), nullable=False),
    sa.Column('due_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claimed_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('post_id', sa.Text(), nullable=True),
    sa.Column('link', sa.Text(), nullable=True),
    sa.Column('updated_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'step_id', 'target', name='uq_planned_post')
    )
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_planned_posts_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_planned_posts_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_planned_posts_state'), ['state'], unique=False)

    op.create_table('subscriptions',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['subscribers.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'event_id')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('planned_post_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('post_id', sa.Text(), nullable=True),
    sa.Column('link', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_kind', sa.String(length=40), nullable=True),
    sa.Column('started_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['planned_post_id'], ['planned_posts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_planned_post_id'), ['planned_post_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_planned_post_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_event_id'))

    op.drop_table('deliveries')
    op.drop_table('subscriptions')
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_planned_posts_state'))
        batch_op.drop_index(batch_op.f('ix_planned_posts_event_id'))
        batch_op.drop_index(batch_op.f('ix_planned_posts_due_at'))

    op.drop_table('planned_posts')
    op.drop_table('subscribers')
    op.drop_table('events')
