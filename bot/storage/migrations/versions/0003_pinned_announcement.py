"""the Telegram announcement a live post pinned, to unpin after the event

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pinned_message_id', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.drop_column('pinned_message_id')
