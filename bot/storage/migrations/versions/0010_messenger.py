"""the messenger a subscriber talks to the bot on (Telegram or MAX): part of the key of subscribers, subscriptions
and reminder deliveries, since each messenger numbers its people itself; the rows made before are Telegram's

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Primary keys and foreign keys change, which SQLite cannot ALTER: each table is made anew beside the old one, the
# rows copied, the old one dropped and the new one renamed (the same steps on PostgreSQL).
SUBSCRIBER_COLUMNS = ['user_id', 'chat_id', 'lang', 'active', 'all_events', 'created_at']
REMINDER_COLUMNS = ['id', 'user_id', 'chat_id', 'event_id', 'step_id', 'kind', 'lang', 'state', 'attempts',
                    'next_attempt_at', 'claimed_by', 'claimed_at', 'message_id', 'error', 'created_at', 'updated_at']


def _tables(suffix: str, keyed: bool) -> None:
    """subscribers, subscriptions and reminder_deliveries named with `suffix`: with the messenger in their keys
    (`keyed`), or as they were before."""
    def when(*columns: sa.Column) -> list[sa.Column]:
        return list(columns) if keyed else []

    key = ['messenger', 'user_id'] if keyed else ['user_id']
    parent = [f'subscribers{suffix}.{column}' for column in key]
    op.create_table(f'subscribers{suffix}',
    *when(sa.Column('messenger', sa.String(length=10), nullable=False)),
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('lang', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('all_events', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint(*key)
    )
    op.create_table(f'subscriptions{suffix}',
    *when(sa.Column('messenger', sa.String(length=10), nullable=False)),
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(key, parent, ondelete='CASCADE'),
    sa.PrimaryKeyConstraint(*key, 'event_id')
    )
    op.create_table(f'reminder_deliveries{suffix}',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    *when(sa.Column('messenger', sa.String(length=10), nullable=False)),
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
    sa.ForeignKeyConstraint(key, parent, ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    # PostgreSQL names a unique constraint's index in the whole schema: renamed once the old table is gone.
    sa.UniqueConstraint(*key, 'event_id', 'step_id', name='uq_reminder_delivery' + (
        suffix if op.get_bind().dialect.name == 'postgresql' else ''))
    )


def _copy(keyed: bool) -> None:
    """The rows into the `_new` tables: all of them, as Telegram's (`keyed`), or back, Telegram's only."""
    only = "" if keyed else " WHERE messenger = 'telegram'"
    tag = ["'telegram'"] if keyed else []
    mark = ["messenger"] if keyed else []
    for table, columns in (('subscribers', SUBSCRIBER_COLUMNS), ('subscriptions', ['user_id', 'event_id']),
                           ('reminder_deliveries', REMINDER_COLUMNS)):
        into = ", ".join([*mark, *columns])
        values = ", ".join([*tag, *columns])
        op.execute(f"INSERT INTO {table}_new ({into}) SELECT {values} FROM {table}{only}")


def _swap() -> None:
    """Drop the old tables (children first) and give the new ones their names, then their indexes."""
    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_deliveries_event_step')
        batch_op.drop_index('ix_reminder_deliveries_state_next')
    for table in ('reminder_deliveries', 'subscriptions', 'subscribers'):
        op.drop_table(table)
    for table in ('subscribers', 'subscriptions', 'reminder_deliveries'):
        op.rename_table(f'{table}_new', table)
    if op.get_bind().dialect.name == 'postgresql':
        # Constraints keep the names they were made with, and the id sequence must start after the rows copied.
        for table in ('subscribers', 'subscriptions', 'reminder_deliveries'):
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {table}_new_pkey TO {table}_pkey")
        op.execute("ALTER TABLE reminder_deliveries RENAME CONSTRAINT uq_reminder_delivery_new TO uq_reminder_delivery")
        op.execute("SELECT setval(pg_get_serial_sequence('reminder_deliveries', 'id'), "
                   "coalesce((SELECT max(id) FROM reminder_deliveries), 0) + 1, false)")
    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_deliveries_state_next', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_reminder_deliveries_event_step', ['event_id', 'step_id'], unique=False)


def upgrade() -> None:
    _tables('_new', keyed=True)
    _copy(keyed=True)
    _swap()


def downgrade() -> None:
    _tables('_new', keyed=False)
    _copy(keyed=False)
    _swap()
