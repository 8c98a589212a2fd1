"""A durable, ordered spool of call-log writes the database could not take.

One SQLite file of its own (``spool.sqlite``, never the call log's database), one row per write:
the repository operation's name and its arguments as JSON. Every append is a transaction committed
with ``synchronous=FULL`` (SQLite fsyncs its journal and the file before the commit returns), so a
write is on disk once :meth:`Spool.append` returns, and a crash leaves either the whole row or none.
Rows are kept in the order of the sequence number their writer reserved (:meth:`Spool.reserve`),
which is the order the writes were made in; a replayed row is deleted once the database has it, and
a write the database refuses for good (tried live or replayed) goes to the ``rejected`` table, kept
for a person to read.

Synchronous on purpose, like the repository: asyncio code calls it through ``asyncio.to_thread``.
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.adapters.db.repository import AudioFacts

FILE_NAME = "spool.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY, op TEXT NOT NULL, call_id TEXT, body TEXT NOT NULL, spooled_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER NOT NULL, op TEXT NOT NULL, call_id TEXT, body TEXT NOT NULL, spooled_at TEXT NOT NULL,
    rejected_at TEXT NOT NULL, error TEXT NOT NULL);
"""


@dataclass(frozen=True)
class SpooledWrite:
    """One write waiting for the database: ``op(*args, **kwargs)`` of the call ``call_id``."""

    seq: int
    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    call_id: str | None = None


@dataclass(frozen=True)
class SpoolStatus:
    """What ``hotline status`` shows: writes waiting, since when, and writes refused for good."""

    depth: int
    oldest: datetime | None
    rejected: int


class Spool:
    """The spool file under ``directory`` (created if missing); one per ARI app (one per node)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._db = _connect(self.path)
        with self._lock:
            self._db.executescript(_SCHEMA)
            last = self._db.execute("SELECT max(m) FROM (SELECT max(seq) m FROM writes "
                                    "UNION ALL SELECT max(seq) FROM rejected)").fetchone()[0]
        self._next = (last or 0) + 1

    def reserve(self) -> int:
        """The next write's place in the order (reserved before it is tried on the database)."""
        with self._lock:
            seq, self._next = self._next, self._next + 1
            return seq

    def append(self, write: SpooledWrite) -> None:
        """Keep ``write``: on disk (fsynced) when this returns. Appending a ``seq`` again replaces it."""
        body = _body(write)
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO writes (seq, op, call_id, body, spooled_at) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (write.seq, write.op, write.call_id, body, datetime.now(UTC).isoformat()))

    def first(self) -> SpooledWrite | None:
        """The oldest write waiting (None: the spool is empty)."""
        with self._lock:
            row = self._db.execute("SELECT seq, op, call_id, body FROM writes ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        body = json.loads(row[3], object_hook=_decode)
        return SpooledWrite(row[0], row[1], tuple(body["args"]), body["kwargs"], row[2])

    def remove(self, seq: int) -> None:
        """The database has the write ``seq``: forget it."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM writes WHERE seq = ?", (seq,))

    def reject(self, write: SpooledWrite, error: str) -> None:
        """The database refuses ``write`` for good: keep it aside for a person, out of the others' way."""
        now = datetime.now(UTC).isoformat()
        with self._lock, self._db:
            self._db.execute("INSERT INTO rejected (seq, op, call_id, body, spooled_at, rejected_at, error) "
                             "VALUES (?, ?, ?, ?, coalesce((SELECT spooled_at FROM writes WHERE seq = ?), ?), ?, ?)",
                             (write.seq, write.op, write.call_id, _body(write), write.seq, now, now, error))
            self._db.execute("DELETE FROM writes WHERE seq = ?", (write.seq,))

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM writes").fetchone()[0])

    def call_ids(self) -> Counter[str]:
        """How many writes wait for each call."""
        with self._lock:
            rows = self._db.execute("SELECT call_id, count(*) FROM writes WHERE call_id IS NOT NULL "
                                    "GROUP BY call_id").fetchall()
        return Counter({call_id: count for call_id, count in rows})

    def close(self) -> None:
        with self._lock:
            self._db.close()


def spool_status(directory: Path) -> SpoolStatus:
    """The spool under ``directory`` as another process sees it (no file yet: empty)."""
    path = directory / FILE_NAME
    if not path.exists():
        return SpoolStatus(0, None, 0)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        depth, oldest = db.execute("SELECT count(*), min(spooled_at) FROM writes").fetchone()
        rejected = db.execute("SELECT count(*) FROM rejected").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return SpoolStatus(0, None, 0)      # the app is creating it this instant
    finally:
        db.close()
    return SpoolStatus(int(depth), datetime.fromisoformat(oldest) if oldest else None, int(rejected))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=DELETE")     # a reader (hotline status) needs no write access
    db.execute("PRAGMA synchronous=FULL")        # fsync before a commit returns
    return db


def _body(write: SpooledWrite) -> str:
    return json.dumps({"args": list(write.args), "kwargs": write.kwargs}, default=_encode, ensure_ascii=False)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, AudioFacts):
        return {"$audio": dataclasses.asdict(value)}
    raise TypeError(f"a call-log write cannot carry {type(value).__name__} into the spool")


def _decode(obj: dict[str, Any]) -> Any:
    if "$datetime" in obj:
        return datetime.fromisoformat(obj["$datetime"])
    if "$audio" in obj:
        return AudioFacts(**obj["$audio"])
    return obj
