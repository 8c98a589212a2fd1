"""The recordings' disk full (issue 12, item 6): calls go on, no message is offered, the supervisors are told.

A stack of this file's own whose recordings root is a tmpfs of TMPFS_MB, mounted before Asterisk starts, so
the bind mount into the Asterisk root carries it: Asterisk and the Python processes write to the same small
filesystem. ``[recordings] min_free_mb`` is MIN_FREE_MB. The test fills it to the brim (a file written until
ENOSPC), then, with real SIPp callers: a staffed-hours caller still reaches a district's desk (keys 4 then
01); `hotline status` fails on the disk alone and `hotline watch` sends one alert e-mail; a closed-hours
caller hears that no message can be taken and when to call back (what Asterisk played, from a listening ARI
app), never the beep or "saved", and the call is closed ``closed_hours`` with no message. Once the file is
deleted: one "resolved" e-mail, status all well, and a closed-hours caller's message is a ticket again.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.adapters.disk import MB, free_mb
from hotline.domain.labels import COMPONENT
from hotline.services.alerts import AlertStore, alerts_dir
from tests.support.ari_events import AriEvents
from tests.support.calls import menu_starts, prompt_seconds, recording_starts, start
from tests.support.health import status, watch_settings
from tests.support.smtp import SmtpSink, smtp_sink
from tests.support.stack import Stack, desk_ports, log_since, stack_index, wait_for
from tooling.sipp.runner import CallResult, start_uas
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Step, Wait
from tooling.system.assembly import command
from tooling.system.mounts import unmount
from tooling.system.shell import run

pytestmark = pytest.mark.asterisk
log = logging.getLogger("tests.faults.disk_full")

OPEN = datetime.fromisoformat("2026-11-25T10:00:00+07:00")        # a Wednesday: staffed
CLOSED = datetime.fromisoformat("2026-11-28T10:00:00+07:00")      # a Saturday: closed
TMPFS_MB = 8
MIN_FREE_MB = 2
AFTER_SECONDS = 60.0        # the default: no part other than the disk (alerted at once) is down that long here
CHECK_SECONDS = 1.0
#: The ports of no test worker's stack (gw0… take 0…): this stack runs beside the worker's own.
PORT_INDEX = 10 + stack_index()
CALLERS = {"desk": "0952000101", "closed": "0952000102", "message": "0952000103"}


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def small_disk(mail: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose recordings root is a TMPFS_MB tmpfs, on the staffed clock."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs and runs Asterisk in its root: run it as root (scripts/test does)")
    settings = watch_settings(tmp_path_factory.mktemp("settings"), mail.port, AFTER_SECONDS, CHECK_SECONDS,
                              extra=f"[recordings]\nmin_free_mb = {MIN_FREE_MB}")
    base = Path(tempfile.mkdtemp(prefix="hotline-disk-", dir="/var/tmp"))
    base.chmod(0o755)       # Asterisk, as its own user, reaches the state directory
    stack = Stack(base, port_index=PORT_INDEX, settings=settings)
    with ExitStack() as cleanup:        # undone in reverse, each step even if another failed
        cleanup.callback(shutil.rmtree, base, ignore_errors=True)
        cleanup.callback(_keep_logs, stack)
        run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0755", "tmpfs", stack.recordings],
            f"mount a {TMPFS_MB} MB tmpfs on {stack.recordings}")
        cleanup.callback(unmount, stack.recordings)
        cleanup.callback(stack.stop)    # Asterisk's bind of the tmpfs in its root goes with it
        stack.fake_now = OPEN
        stack.start()                   # binds the recordings root, the tmpfs mounted there, into the root
        yield stack


def _keep_logs(stack: Stack) -> None:
    """The stack's logs beside the integration stacks' (test-artifacts/integration-logs/disk-full)."""
    folder = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "integration-logs" / "disk-full"
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*stack.logs.glob("*.log"), *(stack.state / "log").glob("*.log")]:
        shutil.copy(path, folder / path.name)


class Filler:
    """One file that fills the filesystem of ``root`` to the brim (written until ENOSPC), and frees it."""

    def __init__(self, root: Path) -> None:
        self.path = root / "filler.bin"

    def fill(self) -> int:
        """Bytes written."""
        written, chunk = 0, b"\xff" * MB
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                written += os.write(fd, chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        self.path.unlink(missing_ok=True)


def _closed_row(stack: Stack, caller: str, timeout: float = 30) -> dict[str, Any]:
    """The latest call row of ``caller`` once closed (on a full disk its recording may never be logged)."""
    def closed() -> dict[str, Any] | None:
        rows = stack.call_rows(caller)
        return rows[0] if rows and rows[0]["ended_at"] else None
    return wait_for(closed, timeout, f"the closed call row of {caller}")


def _failing(report: dict[str, Any]) -> set[str]:
    return {name for name, value in report.items() if isinstance(value, dict) and not value["ok"]}


def _status_failing(stack: Stack, parts: set[str], timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """`hotline status` once exactly ``parts`` fail (just restarted parts may need a moment to say so)."""
    def answer() -> tuple[int, dict[str, Any]] | None:
        code, report = status(stack)
        return (code, report) if _failing(report) == parts else None
    return wait_for(answer, timeout, f"hotline status to find exactly {sorted(parts) or 'nothing'} failing",
                    interval=1)


def _ticks(store: AlertStore, count: int) -> None:
    """Until the watch has checked ``count`` more times."""
    mark = time.time()
    wait_for(lambda: float(store.read().get("checked_at") or 0) > mark + count * CHECK_SECONDS, 20 + count * 2,
             f"{count} more ticks of the watch")


def _desk_call(stack: Stack, workdir: Path) -> tuple[CallResult, int]:
    """A staffed-hours caller keys 4 then 01: the district's desk (a SIPp desk) answers, talks, hangs up."""
    desk = start_uas(desk_ports(stack.port_index)["desk-h01"], ring_seconds=1, talk_seconds=4, hangup="local",
                     workdir=workdir / "desk")
    try:
        caller = start(stack, [Wait(menu_starts(stack)), Keys("4"), Wait(2), Keys("01"), AwaitHangup(60)],
                       caller=CALLERS["desk"], workdir=workdir / "desk-caller")
        try:
            return caller.result(120), desk.answered
        finally:
            caller.terminate()
    finally:
        desk.terminate()


def _call(stack: Stack, steps: list[Step], caller: str, workdir: Path,
          timeout: float) -> tuple[CallResult, dict[str, Any], list[str], list[dict[str, Any]]]:
    """A caller's call: how it went, its closed row, what Asterisk played to it and the recordings it started
    on the caller's channel (a message's: the call's own is MixMonitor's)."""
    with AriEvents(stack) as events:
        process = start(stack, steps, caller=caller, workdir=workdir)
        try:
            result = process.result(timeout)
        finally:
            process.terminate()
        row = _closed_row(stack, caller)
        return result, row, events.heard(row["call_id"]), events.of_channel(row["call_id"], "RecordingStarted")


def test_a_full_recordings_disk_takes_no_message_but_calls_go_on_and_supervisors_are_told(
        small_disk: Stack, mail: SmtpSink, workdir: Path, speech: Path) -> None:
    stack, filler = small_disk, Filler(small_disk.recordings)
    store = AlertStore(alerts_dir(stack.ctx.settings.paths.state_dir))
    app_log = stack.logs / "ari_app.log"
    try:
        written = filler.fill()
        full = time.monotonic()
        free = free_mb(stack.recordings)
        log.info("tmpfs of %d MB filled with %.2f MB: %.3f MB free", TMPFS_MB, written / MB, free)
        assert free < MIN_FREE_MB

        # A staffed-hours caller still reaches the district's desk.
        desk_result, answered = _desk_call(stack, workdir)
        assert desk_result.ok and desk_result.ended_by_remote, desk_result.problems       # the desk hung up
        assert answered == 1
        row = _closed_row(stack, CALLERS["desk"])
        assert row["disposition"] == "transferred" and [s["keys"] for s in row["ivr_path"]] == ["4", "01"]
        [transfer] = row["transfers"]
        assert (transfer["target"], transfer["outcome"]) == ("district:01", "answered")
        assert Path(row["recording_file"]).stat().st_size == 0      # Asterisk could write nothing of the call

        # Closed hours: everything is well but the disk, said by status and by one e-mail.
        stack.set_clock(CLOSED)
        stack.start_worker()
        mark = app_log.stat().st_size
        code, report = _status_failing(stack, {"disk"})
        assert code == 1, report
        assert report["disk"]["free_mb"] < MIN_FREE_MB and "min_free_mb" in report["disk"]["problems"][0]
        stack.start_proc("watch", stack.app_env,
                         argv=command("watch", stack.redis_url, stack.ctx.settings.transcription.queue))
        watching = time.monotonic()
        wait_for(lambda: mail.messages, 20, "the disk's alert e-mail")
        alert_after = time.monotonic() - watching
        assert mail.subjects() == [f"[1022] CẢNH BÁO (hotline1): {COMPONENT['disk']}"]
        assert mail.recipients == [["giamsat@example.vn"]]

        # A closed-hours caller is told no message can be taken now, and when to call back; nothing else.
        heard_seconds = prompt_seconds(stack, "welcome", "recording_notice", "closed_hours", "no_message_now",
                                       "call_back_later")
        result, row, heard, recorded = _call(stack, [AwaitHangup(heard_seconds + 20)], CALLERS["closed"],
                                             workdir / "closed", heard_seconds + 40)
        assert result.ok and result.ended_by_remote, result.problems
        assert heard[-3:] == ["closed_hours", "no_message_now", "call_back_later"], heard
        assert not {"leave_message", "message_saved"} & set(heard) and recorded == [], (heard, recorded)
        assert row["disposition"] == "closed_hours" and row["hours"] == "weekend" and row["voicemails"] == []
        assert Path(row["recording_file"]).stat().st_size == 0
        assert "no message can be taken" in log_since(app_log, mark)
        _ticks(store, 3)
        assert len(mail.messages) == 1, mail.subjects()       # one e-mail, however long the disk stays full

        # Space freed: one "resolved", all well, and a closed-hours caller's message is a ticket again.
        filler.free()
        full_for, freed = time.monotonic() - full, time.monotonic()
        wait_for(lambda: len(mail.messages) >= 2, 20, "the resolved e-mail")
        resolved_after = time.monotonic() - freed
        assert mail.subjects()[1:] == [f"[1022] ĐÃ KHẮC PHỤC (hotline1): {COMPONENT['disk']}"]
        code, report = _status_failing(stack, set())
        assert code == 0 and report["ok"] and report["disk"]["free_mb"] > MIN_FREE_MB, report
        readback = prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "message_saved") + 20
        result, row, heard, recorded = _call(
            stack, [Wait(recording_starts(stack)), Speak(speech), Wait(1), Keys("#"), AwaitHangup(readback + 15)],
            CALLERS["message"], workdir / "vm", 150)
        assert result.ok and result.ended_by_remote, result.problems
        assert "leave_message" in heard and heard[-1] == "message_saved" and "no_message_now" not in heard, heard
        assert len(recorded) == 1
        row = stack.ended_call(CALLERS["message"])      # with its recording
        [vm] = row["voicemails"]
        assert row["disposition"] == "voicemail" and vm["ticket"] and vm["duration"] > 5, row
        assert row["recording"]["duration"] > recording_starts(stack)      # the call is recorded again too
        assert len(mail.messages) == 2, mail.subjects()
    finally:
        filler.free()
        stack.kill("watch", signal.SIGTERM)
    print(f"\ndisk full for {full_for:.0f} s: alert e-mail {alert_after:.1f} s after the watch started, "
          f"resolved {resolved_after:.1f} s after freeing; then a message of {vm['duration']:.1f} s, ticket "
          f"{vm['ticket']}")
