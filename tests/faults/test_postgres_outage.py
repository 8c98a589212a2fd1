"""PostgreSQL stopped for a minute during ten calls (issue 12, item 5, on the production database).

A stack of this file's own whose call log is a PostgreSQL server of the test's own (OwnPostgres: never
the machine's, which others use), stopped with ``pg_ctl stop -m fast`` while a closed-hours caller is at
the beep of the message prompt. The caller leaves the message and hears "saved"; the ARI app, the AGI
server and the monitor are then restarted onto a weekday clock with the database still down (the spool
the old app leaves is the new one's); four callers key 4 then 01 and talk to the district desk (a SIPp
desk), five hang up in the main menu. No caller is hung up by the app; while the database is away every
call's writes wait in the spool; once it is back every row arrives as the calls made it, and the
message is a ticket within 30 s.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hotline.adapters.db.spool import spool_status
from tests.support import spool as call_log_spool
from tests.support.ari_events import AriEvents
from tests.support.calls import menu_starts, prompt_seconds, recording_starts, start
from tests.support.own_postgres import OwnPostgres
from tests.support.stack import Stack, desk_ports, log_since, stack_index, wait_for
from tooling.sipp.runner import CallerProcess, start_uas
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

OPEN = datetime.fromisoformat("2026-11-25T10:00:00+07:00")        # a Wednesday: staffed
SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
OUTAGE_SECONDS = 60.0
TICKET_WITHIN = 30.0
#: The fixed ports of this file's stack: out of the way of the test workers' own stacks (0, 1, … per
#: pytest-xdist worker) and of their phones.
PORT_INDEX = 15 + stack_index()
MESSAGE = "0950000200"
DESK_CALLERS = [f"095000021{n}" for n in range(4)]
MENU_CALLERS = [f"095000022{n}" for n in range(5)]


@pytest.fixture(scope="module")
def pg() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def pg_stack(pg: OwnPostgres) -> Iterator[Stack]:
    """Asterisk, Redis and the app processes of this file alone, their call log in ``pg``."""
    if os.geteuid() != 0:
        pytest.fail("integration tests run Asterisk in a chroot with bind mounts: run them as root")
    base = Path(tempfile.mkdtemp(prefix="hotline-pg-it-", dir="/var/tmp"))
    base.chmod(0o755)       # Asterisk, as its own user, reaches the state directory
    stack = Stack(base, database_url=pg.url, port_index=PORT_INDEX)
    try:
        stack.start()
        # The harness renders the operators' endpoints at every clock change, from the database: while it
        # is down, the ones read at start.
        known = stack.operators.endpoints()
        stack.operators.endpoints = lambda: known      # type: ignore[method-assign]
        yield stack
    finally:
        stack.stop()
        artifacts = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "integration-logs" / \
            f"postgres-outage{stack_index() or ''}"
        artifacts.mkdir(parents=True, exist_ok=True)
        for log in [*stack.logs.glob("*.log"), *(stack.state / "log").glob("*.log"), pg.base / "log"]:
            if log.exists():
                shutil.copy(log, artifacts / (log.name if log.suffix else "postgresql.log"))
        shutil.rmtree(base, ignore_errors=True)


def test_ten_calls_ride_through_a_minute_without_postgresql(pg_stack: Stack, pg: OwnPostgres, workdir: Path,
                                                            speech: Path) -> None:
    stack, spool = pg_stack, pg_stack.ctx.settings.call_log_spool
    app_log = stack.logs / "ari_app.log"
    stack.set_clock(SATURDAY)
    mark = app_log.stat().st_size

    def settled(calls: int) -> bool:
        """As many calls closed by the app (their recordings logged; their rows' last writes made)."""
        return log_since(app_log, mark).count(" sha256=") >= calls

    desk = start_uas(desk_ports(stack.port_index)["desk-h01"], ring_seconds=1, talk_seconds=4, hangup="local",
                     workdir=workdir / "desk")
    try:
        with AriEvents(stack) as events:
            readback = prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "message_saved") + 20
            message = start(stack, [Wait(recording_starts(stack)), Speak(speech), Wait(1), Keys("#"),
                                    AwaitHangup(readback + 15)], caller=MESSAGE, workdir=workdir / "vm")
            placed = time.monotonic()
            before = wait_for(lambda: stack.latest_call(MESSAGE), 15, "the message caller's row before the outage")
            wait_for(lambda: time.monotonic() - placed >= recording_starts(stack) - 1, 60, "the beep")
            pg.stop()
            stopped = time.monotonic()
            message_result = message.result(150)
            wait_for(lambda: settled(1), 30, "the message call settled by the app")
            # The app restarted with the database away: the next one finds the spool and keeps it.
            stack.set_clock(OPEN)
            to_desk = {caller: start(stack, [Wait(menu_starts(stack)), Keys("4"), Wait(2), Keys("01"),
                                             Wait(prompt_seconds(stack, "transferring")), AwaitHangup(60)],
                                     caller=caller, workdir=workdir / caller) for caller in DESK_CALLERS}
            in_menu = {caller: start(stack, [Wait(menu_starts(stack) + 1 + n), HangUp()], caller=caller,
                                     workdir=workdir / caller) for n, caller in enumerate(MENU_CALLERS)}
            results = {caller: p.result(120) for caller, p in _both(to_desk, in_menu).items()}
            wait_for(lambda: settled(10), 30, "every call settled by the app")
            spooled = call_log_spool.spooled(spool)
            peak = len(spooled)
            # The fault lasts its minute, however quickly the calls went.
            wait_for(lambda: time.monotonic() - stopped >= OUTAGE_SECONDS, OUTAGE_SECONDS + 5, "the outage's minute")
            pg.start()
            back = time.monotonic()
            outage = back - stopped
            [vm] = wait_for(lambda: [v for v in stack.latest_call(MESSAGE).get("voicemails", []) if v["ticket"]],
                            TICKET_WITHIN, "the message's ticket after PostgreSQL's return")
            ticket_after = time.monotonic() - back
            rows = {caller: stack.ended_call(caller, timeout=30) for caller in [MESSAGE, *DESK_CALLERS,
                                                                                 *MENU_CALLERS]}
            wait_for(lambda: spool_status(spool).depth == 0, 30, "the spool replayed")
            rows_after = time.monotonic() - back
        assert desk.answered == len(DESK_CALLERS)
    finally:
        desk.terminate()
    print(f"\nPostgreSQL down {outage:.0f} s; spool peak {peak} writes; ticket {ticket_after:.1f} s and every row "
          f"{rows_after:.1f} s after its return")

    # No caller was hung up by the app: the desks talked, the menu callers left, the message was taken.
    assert message_result.ok and message_result.ended_by_remote, message_result.problems
    assert "message_saved" in events.heard(rows[MESSAGE]["call_id"])
    for caller in DESK_CALLERS:
        assert results[caller].ok and results[caller].ended_by_remote, (caller, results[caller].problems)
    for caller in MENU_CALLERS:
        assert results[caller].ok and results[caller].outcome == "local_bye", (caller, results[caller].problems)
    log = log_since(app_log, mark)
    assert "flow failed" not in log
    assert "the call log goes to the spool" in log and "writes replayed from the spool" in log

    # Nothing reached the database while it was away: the message caller's row was open, without a message;
    # every write of the outage's calls waited in the spool, from each new caller's row to its recording's.
    assert before["ended_at"] is None and before["voicemails"] == []
    ops = {caller: {op for op, call, _kw in spooled if call == row["call_id"]} for caller, row in rows.items()}
    assert ops[MESSAGE] >= {"save_message", "end_call", "add_recording"}
    for caller in DESK_CALLERS:
        assert ops[caller] >= {"start_call", "start_transfer", "finish_transfer", "end_call", "add_recording"}, caller
    for caller in MENU_CALLERS:
        assert ops[caller] >= {"start_call", "end_call", "add_recording"}, caller

    # Every row, as the calls made it.
    assert rows[MESSAGE]["disposition"] == "voicemail" and rows[MESSAGE]["hours"] == "weekend"
    assert vm["status"] == "pending" and vm["ended_by"] == "pound" and vm["duration"] > 5
    for caller in DESK_CALLERS:
        row = rows[caller]
        assert row["disposition"] == "transferred" and row["hours"] == "open", caller
        assert [s["keys"] for s in row["ivr_path"]] == ["4", "01"], caller
        [transfer] = row["transfers"]
        assert (transfer["kind"], transfer["target"], transfer["outcome"]) == ("ivr", "district:01", "answered")
        assert transfer["answered_at"] is not None and transfer["ended_at"] is not None
    for caller in MENU_CALLERS:
        assert rows[caller]["disposition"] == "abandoned_ivr", caller
        assert not [s["keys"] for s in rows[caller]["ivr_path"] if s["keys"]], caller
    for row in rows.values():
        assert row["recording"] is not None and row["recording"]["duration"] > 5
    assert ticket_after <= TICKET_WITHIN
    assert spool_status(spool).rejected == 0, call_log_spool.rejected(spool)


def _both(*groups: dict[str, CallerProcess]) -> dict[str, CallerProcess]:
    return {caller: p for group in groups for caller, p in group.items()}
