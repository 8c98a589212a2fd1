"""The dialplan's fallback (the ARI app down) through the AGI server: whether a message can be offered,
what a call that comes back into the fallback keeps, and a message Asterisk could not record."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agi.handlers import FallbackHandlers
from hotline.adapters.db.repository import CallRepository
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env
from hotline.domain.vocabulary import Disposition
from hotline.intake.voice import MessageIntake
from hotline.services.alerts import AlertStore, alerts_dir

NOW = datetime.fromisoformat("2026-11-28T10:00:00+07:00")


class Agi:
    """What FallbackHandlers uses of pyst2's AGI: the channel's environment and its variables."""

    def __init__(self, call_id: str) -> None:
        self.env = {"agi_callerid": "0912345678", "agi_uniqueid": call_id}
        self.variables: dict[str, str] = {}

    def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


def handlers(tmp_path: Path, min_free_mb: int) -> tuple[FallbackHandlers, CallRepository]:
    ctx = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"),
                            "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/hotline.db", **fake_clock_env(NOW)})
    repo = CallRepository(ctx.sessions())
    root = tmp_path / "recordings"
    root.mkdir()
    messages = MessageIntake(repo, ctx.tickets(repo.sessions), 2.0, ctx.clock.now)
    return FallbackHandlers(repo, root, ctx.clock.now, messages, tmp_path / "state", file_wait=0.1,
                            min_free_mb=min_free_mb), repo


def test_a_message_is_offered_when_there_is_room(tmp_path: Path) -> None:
    h, repo = handlers(tmp_path, min_free_mb=1)
    agi = Agi("c1")
    h.fallback_start(agi, ["c1", str(NOW.timestamp()), "1022"])
    assert agi.variables == {"MESSAGE_OK": "1"}
    row = repo.get("c1")
    assert row is not None and row["disposition"] == Disposition.APP_FALLBACK


def test_no_message_is_offered_without_room_and_the_call_is_still_logged(tmp_path: Path) -> None:
    h, repo = handlers(tmp_path, min_free_mb=10**9)         # a petabyte: more than any test disk has
    agi = Agi("c2")
    h.fallback_start(agi, ["c2", str(NOW.timestamp()), "1022"])
    assert agi.variables == {"MESSAGE_OK": "0"}
    assert repo.get("c2") is not None


def test_a_caller_answered_by_an_operator_keeps_answered_when_the_fallback_ends_the_call(tmp_path: Path) -> None:
    h, repo = handlers(tmp_path, min_free_mb=1)
    repo.start_call("c3", channel_id="c3", caller="0912345678", dialled="1022", started_at=NOW, answered_at=NOW,
                    recording_file=str(tmp_path / "recordings" / "c3.wav"))
    repo.update("c3", disposition=Disposition.ANSWERED)
    agi: Any = Agi("c3")
    h.fallback_start(agi, ["c3", str(NOW.timestamp()), "1022"])      # back from the queue, the app down
    h.fallback_end(agi, ["c3", ""])
    row = repo.get("c3")
    assert row is not None and row["ended_at"] and row["disposition"] == Disposition.ANSWERED


def _lost(tmp_path: Path) -> list[dict[str, Any]]:
    """The lost messages ``hotline watch`` reads (its alert's file)."""
    path = alerts_dir(tmp_path / "state") / "lost_messages.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_message_asterisk_could_not_record_is_noted_for_the_supervisors_alert(tmp_path: Path) -> None:
    h, repo = handlers(tmp_path, min_free_mb=1)
    agi = Agi("c4")
    h.fallback_start(agi, ["c4", str(NOW.timestamp()), "1022"])
    # Record() failed (RECORD_STATUS ERROR); the caller heard the apology and hung up: the h extension.
    h.fallback_end(agi, ["c4", str(tmp_path / "recordings" / "c4.voicemail"), "ERROR"])
    [lost] = _lost(tmp_path)
    assert lost["call_id"] == "c4" and "record" in lost["reason"]
    assert "0912345678" not in json.dumps(lost)             # the call's id and why, nothing personal
    store = AlertStore(alerts_dir(tmp_path / "state"))
    assert store.lost_messages({})[0] == 1                  # what the watch turns into its e-mail
    row = repo.get("c4")
    assert row is not None and row["ended_at"] and row["disposition"] == Disposition.APP_FALLBACK


def test_the_failure_is_noted_even_when_the_call_has_no_row(tmp_path: Path) -> None:
    h, _repo = handlers(tmp_path, min_free_mb=1)
    h.fallback_end(Agi("c5"), ["c5", "", "ERROR"])        # fallback_start never reached the database
    assert [lost["call_id"] for lost in _lost(tmp_path)] == ["c5"]


@pytest.mark.parametrize("status", ["DTMF", "HANGUP", "TIMEOUT", ""])
def test_a_message_recorded_or_never_started_is_no_lost_message(tmp_path: Path, status: str) -> None:
    h, _repo = handlers(tmp_path, min_free_mb=1)
    agi = Agi("c6")
    h.fallback_start(agi, ["c6", str(NOW.timestamp()), "1022"])
    h.fallback_end(agi, ["c6", "", status])
    h.fallback_end(agi, ["c6", ""])                         # the dialplan of before: two arguments
    assert _lost(tmp_path) == []
