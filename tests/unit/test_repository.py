"""The call log on SQLite and PostgreSQL: migrations, idempotent writes, what `hotline calls` shows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import inspect

from hotline.adapters.db import open_database
from hotline.adapters.db.repository import AudioFacts, AudioFile, CallRepository, RecordingSearch

T0 = datetime(2027, 2, 8, 3, 0, tzinfo=UTC)


def test_migration_creates_the_schema_and_is_idempotent(database_url: str) -> None:
    sessions = open_database(database_url)
    open_database(database_url)  # a second start migrates nothing and fails nothing
    tables = set(inspect(sessions.kw["bind"]).get_table_names())
    assert {"calls", "recordings", "voicemails", "alembic_version"} <= tables


def test_a_call_is_logged_once_with_its_path_recording_and_message(database_url: str) -> None:
    repo = CallRepository(open_database(database_url))
    assert repo.start_call("c1", channel_id="c1", caller="0912345678", dialled="1022", started_at=T0,
                           answered_at=T0, recording_file="/r/2027/02/08/c1.wav")
    assert not repo.start_call("c1", channel_id="c1", caller="0912345678", dialled="1022", started_at=T0)
    repo.update("c1", hours="holiday", node="voicemail")
    repo.add_step("c1", "main", "3")
    repo.add_step("c1", "department", "01")
    audio = AudioFacts("2027/02/08/c1.wav", 12.5, "ab" * 32, 200_044)
    repo.add_recording("c1", audio, T0)
    repo.add_recording("c1", audio, T0)           # a retried write replaces, never duplicates
    message = AudioFacts("2027/02/08/c1.voicemail.wav", 1.2, "cd" * 32, 19_244)
    repo.add_voicemail("c1", message, status="too_short", ended_by="hangup", created_at=T0)
    repo.add_voicemail("c1", message, status="too_short", ended_by="hangup", created_at=T0)
    assert repo.open_call_ids() == ["c1"]
    assert repo.end_call("c1", ended_at=T0 + timedelta(seconds=13), disposition="voicemail")
    assert not repo.end_call("c1", ended_at=T0 + timedelta(seconds=99), disposition="abandoned_ivr")
    [row] = repo.latest()
    assert row["ivr_path"] == [{"node": "main", "keys": "3"}, {"node": "department", "keys": "01"}]
    assert row["disposition"] == "voicemail" and row["hours"] == "holiday"
    assert row["ended_at"] == (T0 + timedelta(seconds=13)).isoformat()
    assert row["recording"] == {"path": "2027/02/08/c1.wav", "duration": 12.5, "sha256": "ab" * 32,
                                "size": 200_044}
    assert row["voicemails"] == [{"path": "2027/02/08/c1.voicemail.wav", "duration": 1.2,
                                  "status": "too_short", "ended_by": "hangup", "ticket": None}]
    assert repo.open_call_ids() == []


def test_sweep_queries(database_url: str) -> None:
    repo = CallRepository(open_database(database_url))
    for n in range(3):
        repo.start_call(f"c{n}", channel_id=f"c{n}", caller="", dialled="1022", started_at=T0,
                        recording_file=f"/r/c{n}.wav")
    repo.end_call("c0", ended_at=T0, disposition="abandoned_ivr")
    repo.end_call("c1", ended_at=T0, disposition="abandoned_ivr")
    repo.add_recording("c1", AudioFacts("c1.wav", 1.0, "0" * 64, 10), T0)
    # A caller turned away (every line busy) was never recorded: nothing to wait for.
    repo.start_call("busy", channel_id="busy", caller="", dialled="1022", started_at=T0, disposition="turned_away")
    repo.end_call("busy", ended_at=T0, disposition="turned_away")
    assert repo.ended_without_recording() == [("c0", "/r/c0.wav")]
    assert repo.known_call_ids(["c0", "c2", "zz"]) == {"c0", "c2"}


def test_times_come_back_aware_and_in_utc(database_url: str) -> None:
    repo = CallRepository(open_database(database_url))
    local = T0.astimezone(timezone(timedelta(hours=7)))
    repo.start_call("c9", channel_id="c9", caller="", dialled="1022", started_at=local)
    assert repo.get("c9")["started_at"] == T0.isoformat()  # type: ignore[index]


def test_the_console_reads_calls_recordings_and_files_through_the_repository(database_url: str) -> None:
    repo = CallRepository(open_database(database_url))
    for i, caller in enumerate(("0912000001", "0912000002", "0912000001")):
        repo.start_call(f"c{i}", channel_id=f"c{i}", caller=caller, dialled="1022",
                        started_at=T0 + timedelta(minutes=i))
        repo.add_recording(f"c{i}", AudioFacts(f"2027/02/08/c{i}.wav", 3.0, "ab" * 32, 48_044), T0)
    repo.update("c1", operator="op-lan", transfer_target="department:03")
    repo.add_voicemail("c2", AudioFacts("2027/02/08/c2.voicemail.wav", 4.0, "cd" * 32, 64_044),
                       status="pending", ended_by="hangup", created_at=T0)
    assert [c["call_id"] for c in repo.latest(caller="0912000001")] == ["c2", "c0"]
    assert [c["call_id"] for c in repo.latest(caller="0912000001", leave_out="c2")] == ["c0"]
    assert [r["call_id"] for r in repo.recordings(RecordingSearch(), 10)] == ["c2", "c1", "c0"]
    assert [r["call_id"] for r in repo.recordings(RecordingSearch(since=T0 + timedelta(minutes=1),
                                                                  before=T0 + timedelta(minutes=2)), 10)] == ["c1"]
    [found] = repo.recordings(RecordingSearch(operator="op-lan", desk="department:03"), 10)
    assert found["path"] == "2027/02/08/c1.wav" and found["caller"] == "0912000002"
    assert repo.recordings(RecordingSearch(caller=""), 10) == []         # an empty filter still filters
    assert repo.audio_file("2027/02/08/c0.wav") == AudioFile("c0", deleted=False)
    assert repo.audio_file("2027/02/08/c2.voicemail.wav") == AudioFile("c2", deleted=False)
    assert repo.audio_file("2027/02/08/nothing.wav") is None
