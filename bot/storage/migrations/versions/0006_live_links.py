"""stream links set at go-live, laid over the event's own; the scheduler's indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('live_links', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.create_index('ix_planned_posts_state_due', ['state', 'due_at'], unique=False)
        batch_op.create_index('ix_planned_posts_state_next', ['state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_planned_posts_state_next')
        batch_op.drop_index('ix_planned_posts_state_due')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('live_links')
