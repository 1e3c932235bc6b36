"""personal reminder deliveries and broadcasts, events by time (the chat bot)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:40:00
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reminder_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('step_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('lang', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claimed_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['subscribers.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'event_id', 'step_id', name='uq_reminder_delivery')
    )
    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_deliveries_state_next', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_reminder_deliveries_event_step', ['event_id', 'step_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_when', ['start_at', 'end_at', 'status', 'id', 'content_hash'], unique=False)

    op.create_table('reminder_broadcasts',
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('step_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('due_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'step_id')
    )


def downgrade() -> None:
    op.drop_table('reminder_broadcasts')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_when')
    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_deliveries_event_step')
        batch_op.drop_index('ix_reminder_deliveries_state_next')
    op.drop_table('reminder_deliveries')
