"""tickets: a probable duplicate's flag (the open ticket, why, how alike) and the ticket a duplicate was merged into

Columns are added in place (on SQLite, ALTER TABLE ... ADD COLUMN with the foreign key inline): SQLite never
rebuilds the table (batch mode would), so the full-text index's triggers on it (migration 0004) stay.

Create Date: 2026-12-07 11:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'


LINKS = (('duplicate_of_id', 'fk_tickets_duplicate_of_id_tickets'),
         ('merged_into_id', 'fk_tickets_merged_into_id_tickets'))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for column, fk in LINKS:
        if sqlite:     # inline REFERENCES: SQLite's ALTER TABLE takes it, and the table is not rebuilt
            op.execute(f'ALTER TABLE tickets ADD COLUMN {column} INTEGER '
                       f'CONSTRAINT {fk} REFERENCES tickets (id) ON DELETE SET NULL')
        else:
            op.add_column('tickets', sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(fk, 'tickets', 'tickets', [column], ['id'], ondelete='SET NULL')
        op.create_index(op.f(f'ix_tickets_{column}'), 'tickets', [column], unique=False)
    op.add_column('tickets', sa.Column('duplicate_reason', sa.String(length=16), nullable=True))
    op.add_column('tickets', sa.Column('duplicate_score', sa.Float(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    for column, _fk in LINKS:
        op.drop_index(op.f(f'ix_tickets_{column}'), table_name='tickets')
    names = ('merged_into_id', 'duplicate_score', 'duplicate_reason', 'duplicate_of_id')
    if bind.dialect.name != 'sqlite':
        for _column, fk in LINKS:
            op.drop_constraint(fk, 'tickets', type_='foreignkey')
        for name in names:
            op.drop_column('tickets', name)
        return
    # SQLite drops no column a foreign key names: the table is rebuilt, and its triggers (the full-text
    # index's) made again as they were
    triggers = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tickets'"))
    kept = [row[0] for row in triggers]
    with op.batch_alter_table('tickets', recreate='always') as batch_op:
        for name in names:
            batch_op.drop_column(name)
    for sql in kept:
        op.execute(sql)
