"""What the call log's spool (hotline/adapters/db/spool.py) holds, read the way a person would read it."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from hotline.adapters.db.spool import FILE_NAME


def _query(spool: Path, sql: str) -> list[Any]:
    db = sqlite3.connect(f"file:{spool / FILE_NAME}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def spooled(spool: Path) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The writes waiting in the spool, oldest first: (operation, call, keyword arguments)."""
    rows = _query(spool, "SELECT op, call_id, body FROM writes ORDER BY seq")
    return [(op, call_id, json.loads(body)["kwargs"]) for op, call_id, body in rows]


def rejected(spool: Path) -> list[tuple[str, str, str]]:
    """The writes the database refused for good: (operation, call, error)."""
    return _query(spool, "SELECT op, call_id, error FROM rejected ORDER BY seq")
