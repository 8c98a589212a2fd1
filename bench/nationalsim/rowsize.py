"""``--measure-rows N``: bytes per row of each growing table, measured on a fresh database of the project's
own schema (its Alembic migrations: indexes, SQLite's FTS5 table, PostgreSQL's tsvector column).

N representative rows per table go in (bench/console_load's calls and tickets, their content padded to
an operator's note and an answer; a 60 s message's transcript and word timings); a table's bytes are its
pages with its indexes (SQLite: dbstat; PostgreSQL: pg_total_relation_size, TOAST included), before and
after, divided by N.
"""
from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from consolebench.cli import calls as console_calls
from consolebench.cli import tickets as console_tickets
from sqlalchemy import Connection, Engine, Table, create_engine, insert, text

from hotline.adapters.db import open_database
from hotline.adapters.db.models import Base

from .storage import TABLE_BYTES

_TABLES = Base.metadata.tables
NOTE_CHARS, ANSWER_CHARS, MESSAGE_WORDS = 400, 300, 150   # a ticket's note and answer; 60 s of speech


def measure(rows: int, url: str | None = None, seed: int = 1022) -> dict[str, float]:
    """Bytes per row of each table of storage.TABLE_BYTES; ``url`` None: a temporary SQLite file."""
    if rows < 1:
        raise ValueError("--measure-rows needs at least one row")
    with tempfile.TemporaryDirectory(prefix="national-sim-") as folder:
        engine = open_database(url or f"sqlite:///{Path(folder) / 'rows.db'}").kw["bind"]
        try:
            return _measure(engine, rows, random.Random(seed))
        finally:
            engine.dispose()


def _measure(engine: Engine, rows: int, rng: random.Random) -> dict[str, float]:
    sizes = _postgres_sizes if engine.dialect.name == "postgresql" else _sqlite_sizes
    with engine.begin() as conn:
        before = sizes(conn)
        for table, batch in _sample(rows, rng):
            conn.execute(insert(table), batch)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
        after = sizes(conn)
    return {name: (after.get(name, 0) - before.get(name, 0)) / rows for name in TABLE_BYTES}


def _sample(rows: int, rng: random.Random) -> list[tuple[Table, list[dict[str, Any]]]]:
    """Rows of every table, in an order their foreign keys accept."""
    calls = [_call(i + 1, row) for i, row in enumerate(console_calls(rows, rng))]
    tickets = [_ticket(i + 1, row, rng) for i, row in enumerate(console_tickets(rows, rng))]
    operator = {"name": "op-lan", "display_name": "Nguyễn Thị Lan", "created_at": calls[0]["started_at"],
                "phone": "web"}
    voicemails = [_voicemail(call, ticket["content"]) for call, ticket in zip(calls, tickets, strict=True)]
    return [(_TABLES["calls"], calls), (_TABLES["operators"], [operator]),
            (_TABLES["recordings"], [_recording(call) for call in calls]),
            (_TABLES["voicemails"], voicemails), (_TABLES["tickets"], tickets),
            *((table, [build(call, ticket, rng) for call, ticket in zip(calls, tickets, strict=True)])
              for table, build in _EACH.items())]


def _recording(call: dict[str, Any]) -> dict[str, Any]:
    return {"call_id": call["id"], "path": f"2026/11/25/{call['call_id']}.wav", "duration": 312.4,
            "sha256": "ab" * 32, "size": 4_998_444, "created_at": call["ended_at"]}


def _transfer(call: dict[str, Any], _ticket: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"call_id": call["id"], "kind": "attended", "target": "department:03", "requested_by": "op-lan",
            "started_at": call["started_at"], "answered_at": call["started_at"], "outcome": "completed",
            "key": f"{rng.getrandbits(128):032x}"}


def _event(_call: dict[str, Any], ticket: dict[str, Any], _rng: random.Random) -> dict[str, Any]:
    return {"ticket_id": ticket["id"], "at": ticket["received_at"], "actor": "op-lan", "action": "assigned",
            "detail": {"agency": "department:03", "note": "Chuyển Sở Xây dựng"}}


def _access(call: dict[str, Any], ticket: dict[str, Any], _rng: random.Random) -> dict[str, Any]:
    return {"at": ticket["received_at"], "username": "gs-hoa", "action": "play",
            "resource": f"recording:2026/11/25/{call['call_id']}.wav", "call_id": call["call_id"],
            "remote_addr": "10.22.0.15", "detail": {"range": "bytes=0-"}}


def _operator_event(call: dict[str, Any], _ticket: dict[str, Any], _rng: random.Random) -> dict[str, Any]:
    return {"operator_id": 1, "at": call["started_at"], "state": "on_call", "call_id": call["call_id"]}


_EACH: dict[Table, Callable[[dict[str, Any], dict[str, Any], random.Random], dict[str, Any]]] = {
    _TABLES["transfers"]: _transfer, _TABLES["ticket_events"]: _event,
    _TABLES["access_log"]: _access, _TABLES["operator_events"]: _operator_event}


def _call(i: int, row: dict[str, Any]) -> dict[str, Any]:
    row = row | {"id": i, "call_id": f"hotline1-17954459{i}.1", "channel_id": f"hotline1-17954459{i}.1",
                 "asterisk_node": "hcm-ast-1", "node": "queue", "ivr_path": ["main", "key:0", "queue"],
                 "recording_file": f"/var/lib/hotline-1022/recordings/2026/11/25/hotline1-17954459{i}.1.wav"}
    return row


def _ticket(i: int, row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    note = _padded(row["content"], NOTE_CHARS)
    return row | {"id": i, "content": note, "answer": _padded("Sở Xây dựng trả lời: " + note, ANSWER_CHARS),
                  "call_id": i, "voicemail_id": i if rng.random() < 0.5 else None}


def _voicemail(call: dict[str, Any], content: str) -> dict[str, Any]:
    words = (content.split() * MESSAGE_WORDS)[:MESSAGE_WORDS]
    timings = [{"word": word, "start": round(k * 0.4, 2), "end": round(k * 0.4 + 0.35, 2), "conf": 0.91}
               for k, word in enumerate(words)]
    transcript = " ".join(words)
    return {"id": call["id"], "call_id": call["id"], "path": f"2026/11/25/{call['call_id']}.voicemail.wav",
            "duration": 60.0,
            "sha256": "cd" * 32, "status": "transcribed", "ended_by": "pound", "transcript": transcript.capitalize(),
            "created_at": call["started_at"], "words": timings, "confidence": 0.91, "model": "viet-asr 0.1.0.dev11",
            "transcript_raw": transcript, "transcribed_at": call["started_at"] + timedelta(minutes=1), "attempts": 1}


def _padded(text_: str, chars: int) -> str:
    return ((text_ + ". ") * (chars // max(1, len(text_)) + 1))[:chars]


def drop_database(url: str) -> None:
    """Drop the database ``url`` names (the one --measure-db postgresql made for itself)."""
    base, _, name = url.rpartition("/")
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def _sqlite_sizes(conn: Connection) -> dict[str, int]:
    """Bytes of each table's pages with its indexes (and the tickets' FTS5 tables)."""
    owner: dict[str, str] = dict(conn.execute(text("SELECT name, tbl_name FROM sqlite_schema")).all())
    sizes: dict[str, int] = {}
    for name, size in conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all():
        table = "tickets" if name.startswith("tickets_fts") else owner.get(name, name)
        sizes[table] = sizes.get(table, 0) + int(size)
    return sizes


def _postgres_sizes(conn: Connection) -> dict[str, int]:
    return {name: int(conn.execute(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name})
                      .scalar_one()) for name in TABLE_BYTES}
