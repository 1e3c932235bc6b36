"""one core: where events come from and their withdrawal, resumable parts, manual posts, who asked

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=20), nullable=False, server_default='file'))
        batch_op.add_column(sa.Column('withdrawn', sa.Text(), nullable=True))
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parts', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('manual', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('actor', sa.String(length=80), nullable=True))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('actor')
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.drop_column('actor')
        batch_op.drop_column('manual')
        batch_op.drop_column('parts')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('withdrawn')
        batch_op.drop_column('origin')
