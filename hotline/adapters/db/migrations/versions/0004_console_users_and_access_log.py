"""console users, access log, knowledge base; operators' phone kind (desk or the console's softphone)

Create Date: 2026-12-01 21:46:42.565329
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('resource', sa.String(length=512), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_username'), ['username'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=True),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    sa.UniqueConstraint('username')
    )
    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('documents', sa.Text(), nullable=False),
    sa.Column('fees', sa.Text(), nullable=False),
    sa.Column('time_limit', sa.String(length=256), nullable=False),
    sa.Column('desk', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_articles_category'), ['category'], unique=False)
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_recordings_created_at'), ['created_at'], unique=False)
    _ticket_search_index()
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=8), server_default='desk', nullable=False))


def _ticket_search_index() -> None:
    """Full-text search of tickets (content, which holds a voicemail's transcript; number; code).

    PostgreSQL: a stored tsvector column ('simple' configuration: lower-cased words, diacritics kept)
    with a GIN index.
    SQLite: an FTS5 table over the tickets, kept in step by triggers, with the same tokens.
    """
    if op.get_bind().dialect.name == "postgresql":
        # A stored column, not an expression index: ANALYZE gathers its words' frequencies, so the planner
        # knows a rare word from a common one (an expression gets the default 0.5 % and, for a rare word,
        # scans the whole table newest first; 11 s over a million tickets in bench/console_load).
        op.execute("ALTER TABLE tickets ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', "
                   "coalesce(content, '') || ' ' || coalesce(caller, '') || ' ' || code)) STORED")
        op.execute("CREATE INDEX ix_tickets_search ON tickets USING gin (search)")
        return
    op.execute("CREATE VIRTUAL TABLE tickets_fts USING fts5(content, caller, code, content='tickets', "
               "content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
    op.execute("CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN "
               "INSERT INTO tickets_fts(rowid, content, caller, code) "
               "VALUES (new.id, new.content, new.caller, new.code); "
               "END")
    op.execute("CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN "
               "INSERT INTO tickets_fts(tickets_fts, rowid, content, caller, code) "
               "VALUES ('delete', old.id, old.content, old.caller, old.code); END")
    op.execute("CREATE TRIGGER tickets_fts_update AFTER UPDATE OF content, caller, code ON tickets BEGIN "
               "INSERT INTO tickets_fts(tickets_fts, rowid, content, caller, code) "
               "VALUES ('delete', old.id, old.content, old.caller, old.code); "
               "INSERT INTO tickets_fts(rowid, content, caller, code) "
               "VALUES (new.id, new.content, new.caller, new.code); "
               "END")
    op.execute("INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_tickets_search")
        op.execute("ALTER TABLE tickets DROP COLUMN IF EXISTS search")
    else:
        for name in ("tickets_fts_insert", "tickets_fts_delete", "tickets_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS tickets_fts")
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_created_at'))
        batch_op.drop_column('deleted_at')
    op.drop_table('articles')
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('phone')
    op.drop_table('users')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_username'))
        batch_op.drop_index(batch_op.f('ix_access_log_call_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_at'))

    op.drop_table('access_log')
