"""Retention of each kind of personal data (issue 13, item 8), on SQLite and PostgreSQL with real files:
walking a fake clock past each limit, every kind goes at its limit and not a minute earlier — transcripts,
then messages' audio, callers' numbers in call rows, tickets' content, call recordings — an open ticket's
data is held, what the reports count stays, and the worker's sweep runs the pass."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.adapters.db.models import AccessLog, Call, Recording, Ticket, Voicemail
from hotline.services.retention import EXPIRED, enforce_retention
from hotline.worker.runtime import Runtime
from hotline.worker.sweep import sweep
from tests.support.audio import write_wav

from .test_worker_paths import NOW, make_runtime, recorded_call, voicemail_of

LIMITS = {"transcripts": 5, "messages": 10, "caller_numbers": 15, "ticket_content": 20, "recordings": 30}


def state(rt: Runtime, call_id: str, files: dict[str, Path]) -> dict[str, Any]:
    """What is left of one call: its files, its number, its transcript, its ticket's content."""
    with rt.sessions() as s:
        call = s.scalar(select(Call).where(Call.call_id == call_id))
        assert call is not None
        vm = s.scalar(select(Voicemail).where(Voicemail.call_id == call.id))
        ticket = s.scalar(select(Ticket).where(Ticket.call_id == call.id))
        assert vm is not None and ticket is not None
        return {"recordings": files["recording"].exists(), "messages": files["voicemail"].exists(),
                "caller_numbers": call.caller != "", "transcripts": vm.transcript is not None,
                "ticket_content": ticket.content != EXPIRED and ticket.caller != "",
                "figures": (call.disposition, call.started_at, vm.duration, ticket.category, ticket.status)}


@pytest.fixture()
def rt(tmp_path: Path, database_url: str) -> Runtime:
    runtime = make_runtime(tmp_path, "redis://127.0.0.1:1/0", database_url=database_url)
    r = runtime.ctx.settings.retention
    r.transcripts_days, r.messages_days = LIMITS["transcripts"], LIMITS["messages"]
    r.caller_numbers_days, r.ticket_content_days = LIMITS["caller_numbers"], LIMITS["ticket_content"]
    assert runtime.ctx.settings.recordings.retention_days == LIMITS["recordings"]
    return runtime


def a_message(rt: Runtime, tmp: Path, call_id: str, at: datetime, *, close: bool) -> dict[str, Path]:
    files = recorded_call(rt, call_id, at, voicemail=write_wav(tmp / f"{call_id}.wav", 4.0).read_bytes())
    with rt.sessions.begin() as s:
        vm = s.get(Voicemail, voicemail_of(rt, call_id).id)
        assert vm is not None
        vm.status, vm.transcript, vm.transcript_raw = "transcribed", "Đường Nguyễn Huệ ngập", "đường nguyễn huệ ngập"
    ticket = rt.tickets.for_voicemail(voicemail_of(rt, call_id).id)
    assert ticket is not None
    if close:
        rt.tickets.answer(ticket["code"], "Đã khơi thông cống", actor="xd")
        rt.tickets.close(ticket["code"], actor="op-lan")
    return files


def test_each_kind_goes_at_its_limit_and_not_a_minute_earlier(rt: Runtime, tmp_path: Path) -> None:
    t0 = NOW - timedelta(days=40)
    closed = a_message(rt, tmp_path, "hotline1-600", t0, close=True)
    held = a_message(rt, tmp_path, "hotline1-601", t0, close=False)     # its ticket is still open
    root = Path(rt.ctx.settings.paths.recordings_root)
    first = state(rt, "hotline1-600", closed)
    assert all(first[k] for k in LIMITS)
    gone: set[str] = set()
    for kind, days in sorted(LIMITS.items(), key=lambda kv: kv[1]):
        before = enforce_retention(rt.sessions, root, t0 + timedelta(days=days, minutes=-1), rt.ctx.settings)
        assert not any(before.values()), (kind, before)
        now = state(rt, "hotline1-600", closed)
        assert {k for k in LIMITS if not now[k]} == gone, kind                 # a minute before: still there
        after = enforce_retention(rt.sessions, root, t0 + timedelta(days=days, minutes=2), rt.ctx.settings)
        gone.add(kind)
        now = state(rt, "hotline1-600", closed)
        assert {k for k in LIMITS if not now[k]} == gone, kind                 # just past it: gone
        assert after[kind] == (2 if kind in ("caller_numbers", "recordings") else 1), (kind, after)
        assert now["figures"] == first["figures"]                             # what the reports count stays
    open_ticket = state(rt, "hotline1-601", held)
    assert open_ticket["messages"] and open_ticket["transcripts"] and open_ticket["ticket_content"]
    assert not open_ticket["recordings"] and not open_ticket["caller_numbers"]
    with rt.sessions() as s:
        log = {(a.action, a.resource) for a in s.scalars(select(AccessLog))}
        deleted = {r.call_id for r in s.scalars(select(Recording).where(Recording.deleted_at.isnot(None)))}
    assert {("retention", "voicemails:transcript"), ("retention", "calls:caller"),
            ("retention", "tickets:content")} <= log
    assert ("delete", str(closed["voicemail"].relative_to(root))) in log and len(deleted) == 2


def test_the_worker_sweep_runs_the_retention_pass(rt: Runtime, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    files = a_message(rt, tmp_path, "hotline1-700", NOW - timedelta(days=12), close=True)
    counts = sweep(rt)
    assert (counts["transcripts"], counts["messages"], counts["caller_numbers"]) == (1, 1, 0)
    assert not files["voicemail"].exists() and files["recording"].exists()
    rt.retention_ran_at = None                          # an hour later, with the clock 10 days on
    monkeypatch.setattr(rt.ctx.clock, "now", lambda: NOW + timedelta(days=10))
    assert sweep(rt)["caller_numbers"] == 1


def test_asterisks_log_is_rotated_daily_and_each_copy_deleted_after_its_days(tmp_path: Path) -> None:
    from hotline.services.retention import rotate_asterisk_log
    logs = tmp_path / "log"
    logs.mkdir()
    live = logs / "messages.log"
    asterisk = live.open("ab")                   # Asterisk holds it open to append, across the rotation
    asterisk.write(b"[2027-03-10 09:00:00] VERBOSE: PJSIP/anonymous-0001 <0912345678>\n")
    asterisk.flush()
    day = NOW
    assert rotate_asterisk_log(logs, day, 30) == []
    copy = logs / "messages.log.2027-03-10"
    assert b"0912345678" in copy.read_bytes() and live.read_bytes() == b""
    asterisk.write(b"[2027-03-10 10:05:00] VERBOSE: a later line\n")
    asterisk.flush()
    assert live.read_bytes() == b"[2027-03-10 10:05:00] VERBOSE: a later line\n"     # written at the start
    rotate_asterisk_log(logs, day + timedelta(hours=5), 30)                          # once a day
    assert sorted(p.name for p in logs.iterdir()) == ["messages.log", "messages.log.2027-03-10"]
    assert rotate_asterisk_log(logs, day + timedelta(days=30, hours=13), 30) == []   # its 30th day: kept
    assert copy.exists() and (logs / "messages.log.2027-04-09").exists()
    assert rotate_asterisk_log(logs, day + timedelta(days=31), 30) == ["messages.log.2027-03-10"]
    assert not copy.exists()
    asterisk.close()
    assert rotate_asterisk_log(logs, day + timedelta(days=90), 0) == []              # 0: left alone


def test_the_access_log_goes_at_its_limit_and_not_a_minute_earlier(rt: Runtime) -> None:
    """[retention] access_log_days (1825 by default): older AccessLog rows are deleted by the same pass, which
    is itself one row; 0 keeps them for ever."""
    from hotline.domain.vocabulary import AccessAction
    from hotline.services.access_log import add_access
    days = rt.ctx.settings.retention.access_log_days
    province = (Path(__file__).resolve().parents[2] / "province.toml").read_text(encoding="utf-8")
    assert days == 1825 and "# access_log_days = 1825" in province
    t0, root = NOW - timedelta(days=days + 10), Path(rt.ctx.settings.paths.recordings_root)
    with rt.sessions.begin() as s:
        add_access(s, at=t0, username="lan", action=AccessAction.TICKET_VIEW, resource="ticket:1234567")
        add_access(s, at=t0 + timedelta(days=1), username="binh", action=AccessAction.PLAY, resource="a.wav")

    def log() -> list[tuple[str, str, str, dict[str, Any]]]:
        with rt.sessions() as s:
            return [(a.username, a.action, a.resource, a.detail)
                    for a in s.scalars(select(AccessLog).order_by(AccessLog.id))]
    assert enforce_retention(rt.sessions, root, t0 + timedelta(days=days, minutes=-1), rt.ctx.settings)[
        "access_log"] == 0
    assert [row[:2] for row in log()] == [("lan", "ticket_view"), ("binh", "play")]
    assert enforce_retention(rt.sessions, root, t0 + timedelta(days=days, minutes=1), rt.ctx.settings)[
        "access_log"] == 1
    assert log() == [("binh", "play", "a.wav", {}),
                     ("system", "retention", "access_log", {"retention_days": days, "count": 1})]
    assert enforce_retention(rt.sessions, root, t0 + timedelta(days=days, minutes=2), rt.ctx.settings)[
        "access_log"] == 0
    assert len(log()) == 2                                   # a pass that deletes nothing writes nothing
    rt.ctx.settings.retention.access_log_days = 0
    assert enforce_retention(rt.sessions, root, t0 + timedelta(days=9000), rt.ctx.settings)["access_log"] == 0
    assert len(log()) == 2


def test_each_cluster_node_s_asterisk_log_is_rotated_too(tmp_path: Path) -> None:
    from hotline.services.retention import asterisk_log_dirs, rotate_asterisk_log
    for folder in (tmp_path / "log", tmp_path / "nodes" / "a" / "log", tmp_path / "nodes" / "b" / "log"):
        folder.mkdir(parents=True)
        (folder / "messages.log").write_bytes(b"[2027-03-10 09:00:00] VERBOSE: <0912345678>\n")
    folders = asterisk_log_dirs(tmp_path)
    assert folders == [tmp_path / "log", tmp_path / "nodes" / "a" / "log", tmp_path / "nodes" / "b" / "log"]
    for folder in folders:
        rotate_asterisk_log(folder, NOW, 30)
        assert (folder / "messages.log").read_bytes() == b"" and (folder / "messages.log.2027-03-10").exists()
