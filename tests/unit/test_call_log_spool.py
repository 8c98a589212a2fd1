"""The call log's durable spool: writes the database cannot take are kept on disk (fsynced), replayed
in their order once it is back, once each (a replay after a crash half-way adds nothing twice), also
after a restart; a transfer and a message never wait on the database. Real SQLite call logs, held
locked by another writer (``BEGIN EXCLUSIVE``), as in tests/faults/test_db_outage.py."""
from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from ari_app.call_log import PENDING, CallLog
from hotline.adapters.db import open_database
from hotline.adapters.db.repository import AudioFacts, CallRepository
from hotline.adapters.db.spool import Spool, SpooledWrite, spool_status
from tests.support.ari_app import AppUnderTest, run_app
from tests.support.fake_ari import stasis_channel
from tests.support.own_postgres import OwnPostgres

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2027, 2, 8, 3, 0, tzinfo=UTC)
AUDIO = AudioFacts("2027/02/08/c1.wav", 12.5, "ab" * 32, 200_044)


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another writer holds the SQLite call log (readers still read: WAL)."""
    conn = sqlite3.connect(db, timeout=5, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "hotline.db"


@pytest.fixture
def repo(db: Path) -> CallRepository:
    """The SQLite call log as the app opens it: a write waits up to 30 s on a lock."""
    return CallRepository(open_database(f"sqlite:///{db}"))


def impatient_log(db: Path, spool_dir: Path) -> CallLog:
    """A call log whose sessions on ``db`` give up on a lock at once, as a stopped PostgreSQL refuses at once;
    what it cannot write waits in ``spool_dir``, retried within 0.2 s."""
    sessions = sessionmaker(create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.05}), expire_on_commit=False)
    return CallLog(CallRepository(sessions), Spool(spool_dir), retry_max=0.2)


async def settle(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _start_call(log: CallLog, call_id: str = "c1") -> None:
    log.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=T0, answered_at=T0)


def test_the_spool_keeps_writes_in_their_order_with_their_values(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first, second, third = spool.reserve(), spool.reserve(), spool.reserve()
    assert first < second < third
    spool.append(SpooledWrite(third, "end_call", ("c1",), {"ended_at": T0, "disposition": "voicemail"}, "c1"))
    spool.append(SpooledWrite(first, "add_recording", ("c1", AUDIO, T0), {}, "c1"))
    spool.append(SpooledWrite(second, "update", ("c2",), {"node": "thủ tục"}, "c2"))
    assert spool.depth() == 3 and spool.call_ids() == {"c1": 2, "c2": 1}
    assert spool.first() == SpooledWrite(first, "add_recording", ("c1", AUDIO, T0), {}, "c1")
    spool.remove(first)
    spool.reject(SpooledWrite(second, "update", ("c2",), {"node": "thủ tục"}, "c2"), "LookupError('no call')")
    assert spool.first() == SpooledWrite(third, "end_call", ("c1",), {"ended_at": T0, "disposition": "voicemail"},
                                         "c1")
    status = spool_status(tmp_path / "spool")       # as hotline status, another process, sees it
    assert status.depth == 1 and status.rejected == 1 and status.oldest is not None
    assert spool_status(tmp_path / "nothing").depth == 0
    with pytest.raises(TypeError):
        spool.append(SpooledWrite(spool.reserve(), "update", ("c1",), {"node": object()}, "c1"))


_APPEND = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from hotline.adapters.db.spool import Spool, SpooledWrite
spool = Spool(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    spool.append(SpooledWrite(spool.reserve(), "update", ("c1",), {"at": datetime.now(UTC)}, "c1"))
if sys.argv[3] == "kill":
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _append_in_process(spool_dir: Path, count: int, then: str = "exit", strace_out: Path | None = None) -> int:
    argv = [sys.executable, "-c", _APPEND, str(spool_dir), str(count), then]
    if strace_out is not None:
        argv = ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(strace_out), *argv]
    return subprocess.run(argv, cwd=ROOT, timeout=60).returncode


def test_every_append_is_fsynced_before_it_returns(tmp_path: Path) -> None:
    def syncs(count: int) -> int:
        out = tmp_path / f"strace-{count}"
        assert _append_in_process(tmp_path / f"spool-{count}", count, strace_out=out) == 0
        return sum(1 for line in out.read_text().splitlines() if "sync(" in line)
    assert syncs(10) - syncs(0) >= 10


def test_the_spool_outlives_a_killed_process(tmp_path: Path) -> None:
    assert _append_in_process(tmp_path / "spool", 3, then="kill") == -signal.SIGKILL
    spool = Spool(tmp_path / "spool")
    assert spool.depth() == 3
    first = spool.first()
    assert first is not None and first.op == "update" and isinstance(first.kwargs["at"], datetime)
    assert spool.reserve() > 3      # after the writes already kept


def test_writes_the_database_cannot_take_wait_in_the_spool_and_arrive_in_order(tmp_path: Path, db: Path,
                                                                               repo: CallRepository) -> None:
    async def main() -> None:
        log = impatient_log(db, tmp_path / "spool")
        log.start()
        _start_call(log)
        log.add_step("c1", "main", "3")
        await log.flush()
        assert log.depth() == 0 and repo.get("c1") is not None
        with locked(db):
            log.update("c1", node="department")
            log.add_step("c1", "department", "02")
            log.start_transfer("c1", "t-1", kind="ivr", target="department:02", started_at=T0)
            log.finish_transfer("c1", "t-1", outcome="answered", answered_at=T0)
            assert await log.call("end_call", "c1", ended_at=T0 + timedelta(seconds=30),
                                  disposition="transferred") is PENDING
            assert log.depth() == 5 and log.pending_calls() == {"c1"}
            assert spool_status(tmp_path / "spool").depth == 5
        await settle(lambda: log.depth() == 0, "the spool replayed")
        assert log.pending_calls() == set()
        await log.close()

    asyncio.run(main())
    row = repo.get("c1")
    assert row is not None and row["ended_at"] is not None and row["disposition"] == "transferred"
    assert [(s["node"], s["keys"]) for s in row["ivr_path"]] == [("main", "3"), ("department", "02")]
    assert [(t["target"], t["outcome"]) for t in row["transfers"]] == [("department:02", "answered")]


def test_a_write_slower_than_its_deadline_goes_to_the_spool_and_so_do_the_next(tmp_path: Path, db: Path,
                                                                               repo: CallRepository) -> None:
    async def main() -> None:
        log = CallLog(repo, Spool(tmp_path / "spool"), deadline=0.3, retry_max=0.2)
        log.start()
        _start_call(log)
        await log.flush()
        with locked(db):
            began = time.monotonic()
            log.update("c1", node="a")          # runs into the lock and waits
            log.update("c1", node="b")
            assert await log.call("add_recording", "c1", AUDIO, T0) is PENDING
            assert time.monotonic() - began < 2.0       # a deadline, not SQLite's 30 s
            assert log.depth() == 3
        await settle(lambda: log.depth() == 0, "the spool replayed")
        await log.close()

    asyncio.run(main())
    row = repo.get("c1")
    assert row is not None and row["node"] == "b" and row["recording"] is not None


@pytest.mark.postgres
def test_a_stopped_postgresql_is_ridden_through_and_caught_up_once_it_is_back(tmp_path: Path) -> None:
    """A PostgreSQL of the test's own, stopped between writes (connection refused) and started again."""
    pg = OwnPostgres()
    try:
        pg.start()
        repo = CallRepository(open_database(pg.url))

        async def main() -> float:
            log = CallLog(repo, Spool(tmp_path / "spool"), deadline=2.0, retry_max=0.5)
            log.start()
            _start_call(log)
            log.add_step("c1", "main", "4")
            await log.flush()
            assert log.depth() == 0
            await asyncio.to_thread(pg.stop)
            began = time.monotonic()
            log.add_step("c1", "district", "01")
            log.start_transfer("c1", "t-1", kind="ivr", target="district:01", started_at=T0)
            log.finish_transfer("c1", "t-1", outcome="answered", answered_at=T0)
            assert await log.call("end_call", "c1", ended_at=T0 + timedelta(seconds=30),
                                  disposition="transferred") is PENDING
            assert time.monotonic() - began < 2.0 and log.depth() == 4
            await asyncio.to_thread(pg.start)
            back = time.monotonic()
            await settle(lambda: log.depth() == 0, "the spool replayed", timeout=20)
            await log.close()
            return time.monotonic() - back

        caught_up = asyncio.run(main())
        row = repo.get("c1")
    finally:
        pg.remove()
    print(f"\nPostgreSQL stopped and started: the spool caught up {caught_up:.2f} s after it was back")
    assert caught_up < 2.0          # the first retries are 0.5 s apart
    assert row is not None and row["disposition"] == "transferred"
    assert [s["keys"] for s in row["ivr_path"]] == ["4", "01"]
    assert [(t["target"], t["outcome"]) for t in row["transfers"]] == [("district:01", "answered")]


def test_a_replay_after_a_crash_half_way_adds_nothing_twice(tmp_path: Path, repo: CallRepository) -> None:
    """Every write was applied, but the crash came before the spool forgot them: all replayed again."""
    spool = Spool(tmp_path / "spool")
    writes = [("start_call", ("c1",), {"channel_id": "c1", "caller": "0912345678", "dialled": "1022",
                                       "started_at": T0}),
              ("add_step", ("c1", "main", "3", "s1"), {}),
              ("add_step", ("c1", "department", "02", "s2"), {}),
              ("start_transfer", ("c1",), {"kind": "ivr", "target": "department:02", "started_at": T0, "key": "t-1"}),
              ("finish_transfer", ("t-1",), {"outcome": "answered", "answered_at": T0}),
              ("add_recording", ("c1", AUDIO, T0), {}),
              ("end_call", ("c1",), {"ended_at": T0 + timedelta(seconds=40), "disposition": "transferred"})]
    for op, args, kwargs in writes:
        getattr(repo, op)(*args, **kwargs)
        spool.append(SpooledWrite(spool.reserve(), op, args, kwargs, "c1"))
    spool.close()

    async def main() -> None:
        log = CallLog(repo, Spool(tmp_path / "spool"))
        log.start()
        await settle(lambda: log.depth() == 0, "the spool replayed")
        await log.close()

    asyncio.run(main())
    row = repo.get("c1")
    assert row is not None and row["ivr_path"] == [{"node": "main", "keys": "3"}, {"node": "department", "keys": "02"}]
    assert len(row["transfers"]) == 1 and row["disposition"] == "transferred"
    assert len(repo.latest()) == 1


def test_the_spool_left_by_a_stopped_app_is_replayed_at_start(tmp_path: Path, db: Path,
                                                              repo: CallRepository) -> None:
    async def before_restart() -> None:
        log = impatient_log(db, tmp_path / "spool")
        log.start()
        _start_call(log)
        log.add_step("c1", "main", "0")
        await log.close()           # stopped: what the database did not take stays on disk

    async def after_restart() -> None:
        log = CallLog(repo, Spool(tmp_path / "spool"))
        assert log.depth() == 2 and log.pending_calls() == {"c1"}
        log.start()
        await settle(lambda: log.depth() == 0, "the spool replayed at start")
        await log.close()

    with locked(db):
        asyncio.run(before_restart())
    assert spool_status(tmp_path / "spool").depth == 2 and repo.get("c1") is None
    asyncio.run(after_restart())
    row = repo.get("c1")
    assert row is not None and [s["keys"] for s in row["ivr_path"]] == ["0"]


def test_a_write_the_database_refuses_is_kept_aside_and_the_rest_arrive(tmp_path: Path, db: Path,
                                                                        repo: CallRepository) -> None:
    async def main() -> None:
        log = impatient_log(db, tmp_path / "spool")
        log.start()
        log.update("nobody", node="main")       # no such call: refused at once
        with locked(db):
            _start_call(log)
            log.update("no one", node="main")   # refused once the database answers again
            log.update("c1", node="main")
            await log.flush()
        await settle(lambda: log.depth() == 0, "the spool replayed")
        await log.close()

    asyncio.run(main())
    row = repo.get("c1")
    assert row is not None and row["node"] == "main"
    status = spool_status(tmp_path / "spool")
    assert status.depth == 0 and status.rejected == 2
    kept = sqlite3.connect(tmp_path / "spool" / "spool.sqlite").execute(
        "SELECT op, body, error FROM rejected ORDER BY seq").fetchall()
    assert [(op, json.loads(body)["args"]) for op, body, _ in kept] == [("update", ["nobody"]), ("update", ["no one"])]
    assert "no call 'nobody'" in kept[0][2]


def test_a_transfer_and_a_message_never_wait_on_the_database(tmp_path: Path) -> None:
    """The caller keys 3 then 02 with the call log locked: the desk is dialled and bridged at once;
    a message kept meanwhile is a ticket once the database is back."""
    async def scenario(t: AppUnderTest) -> None:
        t.services.log.deadline = 0.3
        t.services.log.retry_max = 0.2
        rec = tmp_path / "recordings" / "2026" / "11" / "25" / "c1.wav"
        t.app.handle({"type": "StasisStart", "channel": stasis_channel("c1", str(rec)),
                      "args": [str(rec), "1764900000", "1022"]})
        call = t.app.calls["c1"]
        await t.settle(lambda: call.playback_id, "the welcome")
        with locked(tmp_path / "hotline.db"):
            await _prompt_done(t, call)
            await t.settle(lambda: call.state is not None and call.state.node == "main", "the main menu")
            for key in "302":
                t.app.handle({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}, "digit": key})
            await _prompt_done(t, call)      # transferring
            [dial] = await t.settle(lambda: t.ari.asked("originate"), "the desk dialled", timeout=2)
            desk = dial.kwargs["channel_id"]
            t.app.handle({"type": "StasisStart", "channel": {"id": desk}, "args": ["desk", "c1"]})
            await t.settle(lambda: call.state is not None and call.state.phase == "bridged", "the call bridged", 2)
            message = AudioFacts("2026/11/25/c1.voicemail.wav", 9.0, "cd" * 32, 144_044)
            began = time.monotonic()
            saved = await t.services.keep_message("c1", message, "pound")
            assert saved.voicemail_id is None and time.monotonic() - began < 2.0
            assert t.services.log.depth() > 0
            t.app.handle({"type": "ChannelDestroyed", "channel": {"id": "c1"}, "cause": 16})
            await asyncio.wait_for(call.done.wait(), 5)
        await t.settle(lambda: t.services.log.depth() == 0, "the spool replayed", timeout=15)
        row = t.repo.get("c1")
        assert row is not None and row["ended_at"] is not None and row["disposition"] == "transferred"
        assert [(x["target"], x["outcome"]) for x in row["transfers"]] == [("department:02", "answered")]
        assert [v["ticket"] is not None for v in row["voicemails"]] == [True]
    run_app(tmp_path, scenario)


async def _prompt_done(t: AppUnderTest, call: Any) -> None:
    playback = await t.settle(lambda: call.playback_id, "a prompt to play")
    t.app.handle({"type": "PlaybackFinished", "playback": {"id": playback, "target_uri": f"channel:{call.channel_id}"}})
    await t.settle(lambda: call.playback_id != playback, "the prompt to end")
