"""calls: the Asterisk node each call is on; cluster_nodes: each node's last sign of life

Create Date: 2026-12-06 12:00:00

Rows written before this revision keep no node (NULL): the local node's for its reconciler, so a
single-server install goes on as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asterisk_node', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_asterisk_node'), ['asterisk_node'], unique=False)
    op.create_table('cluster_nodes',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dead_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dead_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('cluster_nodes')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_asterisk_node'))
        batch_op.drop_column('asterisk_node')
