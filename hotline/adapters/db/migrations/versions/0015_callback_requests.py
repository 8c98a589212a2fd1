"""callback_requests: the call-backs waiting callers asked for (key 2 in the queue), each keeping their place

Create Date: 2026-12-07 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0013'


def upgrade() -> None:
    op.create_table('callback_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('place_channel', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('out_call', sa.String(length=64), nullable=True),
    sa.Column('ticket_code', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_requests_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_requests_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_requests_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('callback_requests')
