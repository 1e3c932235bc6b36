"""approval of posts before they go out (who approved and when, when the approvers were asked); corrections

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval', sa.String(length=20), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('approved_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('approval_asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('edits', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('planned_posts', schema=None) as batch_op:
        batch_op.drop_column('edits')
        batch_op.drop_column('approval_asked_at')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approved_by')
        batch_op.drop_column('approval')
