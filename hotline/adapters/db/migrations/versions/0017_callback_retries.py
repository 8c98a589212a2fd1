"""callback_requests: retries ([callback] attempts, retry_minutes) and the sweep that puts a lost placeholder back

Create Date: 2026-12-07 15:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'


def upgrade() -> None:
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('tries', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('placements', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_callback_requests_next_try_at'), ['next_try_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_requests_next_try_at'))
        batch_op.drop_column('placements')
        batch_op.drop_column('tries')
        batch_op.drop_column('next_try_at')
        batch_op.drop_column('placed_at')
