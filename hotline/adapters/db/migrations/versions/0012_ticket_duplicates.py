"""tickets: a probable duplicate's flag (the open ticket, why, how alike) and the ticket a duplicate was merged into

Create Date: 2026-12-07 11:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('duplicate_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tickets_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_foreign_key('fk_tickets_duplicate_of_id_tickets', 'tickets', ['duplicate_of_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key('fk_tickets_merged_into_id_tickets', 'tickets', ['merged_into_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tickets_merged_into_id_tickets', type_='foreignkey')
        batch_op.drop_constraint('fk_tickets_duplicate_of_id_tickets', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tickets_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_duplicate_of_id'))
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('duplicate_score')
        batch_op.drop_column('duplicate_reason')
        batch_op.drop_column('duplicate_of_id')
