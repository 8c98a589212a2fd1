"""calls.direction: "in" (a citizen called the hotline) or "out" (an operator called a citizen back)

Create Date: 2026-12-07 11:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direction', sa.String(length=3), server_default='in', nullable=False))
        batch_op.create_index(batch_op.f('ix_calls_direction'), ['direction'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_direction'))
        batch_op.drop_column('direction')
