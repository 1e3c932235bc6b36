"""the plan rendered when it is made: each planned post's text (or why it cannot be rendered) and the inputs it was
rendered from; the configuration each event was planned with

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rendered', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('render_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rendered_for', sa.String(length=100), nullable=True))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_with', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('planned_with')
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.drop_column('rendered_for')
        batch_op.drop_column('render_error')
        batch_op.drop_column('rendered')
