"""calls, recordings, voicemails

Create Date: 2026-11-23 14:48:40.194650
"""
from alembic import op  # noqa: I001
import sqlalchemy as sa


revision = '0001'
down_revision = None


def upgrade() -> None:

    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=True),
    sa.Column('caller', sa.String(length=64), nullable=False),
    sa.Column('dialled', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ivr_path', sa.JSON(), nullable=False),
    sa.Column('hours', sa.String(length=16), nullable=True),
    sa.Column('transfer_target', sa.String(length=64), nullable=True),
    sa.Column('transfer_outcome', sa.String(length=32), nullable=True),
    sa.Column('disposition', sa.String(length=32), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=True),
    sa.Column('recording_file', sa.String(length=512), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_call_id'), ['call_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_calls_disposition'), ['disposition'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_started_at'), ['started_at'], unique=False)

    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_id')
    )
    op.create_table('voicemails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ended_by', sa.String(length=16), nullable=True),
    sa.Column('transcript', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('voicemails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voicemails_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voicemails_status'), ['status'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('voicemails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voicemails_status'))
        batch_op.drop_index(batch_op.f('ix_voicemails_call_id'))

    op.drop_table('voicemails')
    op.drop_table('recordings')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_started_at'))
        batch_op.drop_index(batch_op.f('ix_calls_disposition'))
        batch_op.drop_index(batch_op.f('ix_calls_call_id'))

    op.drop_table('calls')

