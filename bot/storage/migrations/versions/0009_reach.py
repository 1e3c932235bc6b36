"""reach: readings of published posts' metrics, the bot's own counters (clicks, page views, calendar downloads);
recording links set outside the event file

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_links', sa.JSON(), nullable=False, server_default='{}'))
    op.create_table('reach_readings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('planned_post_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('slot', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('read_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('cost', sa.String(length=20), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['planned_post_id'], ['planned_posts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('planned_post_id', 'slot', name='uq_reach_reading')
    )
    with op.batch_alter_table('reach_readings', schema=None) as batch_op:
        batch_op.create_index('ix_reach_readings_state_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reach_readings_planned_post_id'), ['planned_post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reach_readings_event_id'), ['event_id'], unique=False)
    op.create_table('reach_counters',
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'name', 'key', 'day')
    )


def downgrade() -> None:
    op.drop_table('reach_counters')
    with op.batch_alter_table('reach_readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reach_readings_event_id'))
        batch_op.drop_index(batch_op.f('ix_reach_readings_planned_post_id'))
        batch_op.drop_index('ix_reach_readings_state_due')
    op.drop_table('reach_readings')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('recording_links')
