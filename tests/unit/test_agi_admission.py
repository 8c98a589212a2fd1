"""The AGI route [hotline-busy] calls: a caller turned away is one closed, unanswered call row."""
from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from agi.admission import AdmissionHandlers
from hotline.adapters.db import open_database
from hotline.adapters.db.repository import CallRepository

NOW = datetime(2026, 11, 25, 3, 0, 7, tzinfo=UTC)


def test_a_caller_turned_away_is_a_closed_unanswered_row_once(database_url: str) -> None:
    repo = CallRepository(open_database(database_url))
    handlers = AdmissionHandlers(repo, lambda: NOW)
    agi = SimpleNamespace(env={"agi_uniqueid": "hotline1-1.7", "agi_callerid": "0912345678"})
    started = NOW.timestamp() - 7
    for _ in range(2):      # the route may run twice (a retry): still one row, closed once
        handlers.routes()["turned_away"](agi, ["hotline1-1.7", f"{started:.0f}", "1022"])
    row = repo.get("hotline1-1.7")
    assert row is not None
    assert (row["disposition"], row["caller"], row["dialled"]) == ("turned_away", "0912345678", "1022")
    assert row["started_at"] == datetime.fromtimestamp(round(started), UTC).isoformat()
    assert row["ended_at"] == NOW.isoformat() and row["answered_at"] is None and row["recording"] is None
    assert repo.open_call_ids() == [] and repo.ended_without_recording() == []
