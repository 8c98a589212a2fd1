"""operator queue, transfers, operators

Create Date: 2026-11-23 15:40:53.681421
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'


def upgrade() -> None:

    op.create_table('operators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('contact', sa.String(length=256), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('operator_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('operator_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_operator_events_operator_id'), ['operator_id'], unique=False)

    op.create_table('transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfers_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_target'), ['target'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queue_answered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queue_left_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queue_outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('operator', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('talk_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('hangup_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('survey_score', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_operator'), ['operator'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_operator'))
        batch_op.drop_column('survey_score')
        batch_op.drop_column('hangup_by')
        batch_op.drop_column('talk_seconds')
        batch_op.drop_column('operator')
        batch_op.drop_column('queue_outcome')
        batch_op.drop_column('queue_left_at')
        batch_op.drop_column('queue_answered_at')
        batch_op.drop_column('queued_at')

    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_target'))
        batch_op.drop_index(batch_op.f('ix_transfers_call_id'))

    op.drop_table('transfers')
    with op.batch_alter_table('operator_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_events_operator_id'))
        batch_op.drop_index(batch_op.f('ix_operator_events_at'))

    op.drop_table('operator_events')
    op.drop_table('operators')

