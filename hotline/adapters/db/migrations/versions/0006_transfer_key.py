"""transfers: the writer's own key, so the ARI app logs a transfer without waiting for the database

Create Date: 2026-12-05 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'


def upgrade() -> None:
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_transfers_key'), ['key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_key'))
        batch_op.drop_column('key')
