"""The AGI routes of [hotline-outbound-call]: a call out is one row (direction out), closed once, with its recording."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from agi.outbound import OutboundHandlers, out_disposition
from hotline.adapters.db import open_database
from hotline.adapters.db.repository import CallRepository
from tests.support.audio import write_wav
from tests.support.stack import wait_for

NOW = datetime(2026, 11, 25, 3, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_an_answered_call_out_is_an_outbound_row_with_its_talk_time_and_recording(database_url: str,
                                                                                  tmp_path: Path) -> None:
    repo, clock = CallRepository(open_database(database_url)), Clock()
    handlers = OutboundHandlers(repo, tmp_path, clock, file_wait=5).routes()
    agi = SimpleNamespace(env={"agi_uniqueid": "out-1"})
    rec = tmp_path / "2026/11/25/out-1.wav"
    for _ in range(2):      # a retried route: still one row
        handlers["outbound_start"](agi, ["out-1", f"{NOW.timestamp():.0f}", "0912345678", "op-lan", str(rec)])
    clock.now = NOW + timedelta(seconds=4)
    handlers["outbound_answered"](agi, ["out-1"])
    write_wav(rec, 6.0)
    clock.now = NOW + timedelta(seconds=10)
    for _ in range(2):
        handlers["outbound_end"](agi, ["out-1", "ANSWER"])
    row = repo.get("out-1")
    assert row is not None
    assert (row["direction"], row["caller"], row["operator"], row["disposition"]) == (
        "out", "0912345678", "op-lan", "out_answered")
    assert row["talk_seconds"] == 6.0 and row["ended_at"] == clock.now.isoformat()
    row = wait_for(lambda: (lambda r: r if r and r["recording"] else None)(repo.get("out-1")), 10,
                   "the recording logged by the AGI's thread")
    assert row["recording"]["path"] == "2026/11/25/out-1.wav" and abs(row["recording"]["duration"] - 6.0) < 0.01


def test_an_unanswered_call_out_waits_for_no_file_and_a_refused_number_is_a_closed_row(database_url: str,
                                                                                       tmp_path: Path) -> None:
    repo = CallRepository(open_database(database_url))
    handlers = OutboundHandlers(repo, tmp_path, lambda: NOW, file_wait=1).routes()
    agi = SimpleNamespace(env={"agi_uniqueid": "out-2"})
    handlers["outbound_start"](agi, ["out-2", "", "0277385123", "op-lan", str(tmp_path / "x.wav")])
    handlers["outbound_end"](agi, ["out-2", "NOANSWER"])
    handlers["outbound_refused"](agi, ["out-3", "", "0012025550123", "op-lan"])
    two, three = repo.get("out-2"), repo.get("out-3")
    assert two is not None and three is not None
    assert (two["disposition"], two["recording_file"]) == ("out_no_answer", None)
    assert (three["direction"], three["disposition"], three["caller"]) == ("out", "out_refused", "0012025550123")
    assert three["ended_at"] is not None
    # refused for too many calls out at once ([callback] max_out_per_operator): the same closed row, and the
    # hangup that follows (h runs outbound_end) changes nothing
    handlers["outbound_refused"](agi, ["out-4", "", "0912345678", "op-lan", "busy"])
    handlers["outbound_end"](agi, ["out-4", ""])
    four = repo.get("out-4")
    assert four is not None and (four["disposition"], four["operator"], four["caller"]) == (
        "out_refused", "op-lan", "0912345678")
    assert repo.open_call_ids() == [] and repo.ended_without_recording() == []


def test_dial_statuses_become_dispositions() -> None:
    assert [out_disposition(s, False) for s in ("NOANSWER", "BUSY", "CANCEL", "CONGESTION", "CHANUNAVAIL", "")] == [
        "out_no_answer", "out_busy", "out_cancelled", "out_failed", "out_failed", "out_cancelled"]
    assert out_disposition("CANCEL", True) == "out_answered"
