"""Supervision that restores service (issue 12, item 1), under a real `hotline up`: Asterisk killed (SIGKILL) with
20 live calls (in the menu, waiting in the queue, talking to a desk, leaving a message) or hung (SIGSTOP) is
restarted on the same configuration, a new caller is answered within 15 s of the crash and served by the IVR
application again, logged-in operators are back in app_queue; the 20 calls' rows are closed with a defined
disposition, their recordings readable (headers repaired to the audio on disk) and every message begun a
ticket; a hung ARI app (its event loop
stopped: SIGSTOP) is restarted on its heartbeat; the Redis `hotline up` started for itself is restarted with its
data (append-only file).

One `hotline up` for the whole file (its own state directory, SQLite database, Redis and ports, never the test
stacks'); the tests run in the order written and each leaves the hotline serving.
"""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.adapters.db.models import Call, Recording, Ticket, Voicemail
from hotline.domain.vocabulary import QUEUE_NAME, Disposition
from tests.support.calls import menu_starts, prompt_seconds
from tests.support.running import Running, clean_env, integration_logs, running
from tests.support.stack import _free_tcp_port, desk_ports, stack_index, wait_for, write_test_directory
from tooling.sipp.process import free_udp_port
from tooling.sipp.runner import CallerProcess, start_caller, start_uas
from tooling.sipp.scenario import AwaitHangup, CallerScript, HangUp, Keys, Speak, Step, Wait
from tooling.system.assembly import PROCESSES
from tooling.system.services import OwnRedis
from tooling.system.shell import is_alive

pytestmark = pytest.mark.asterisk

WEDNESDAY = "2026-12-02T09:30:00+07:00"     # open hours: a caller goes to the IVR's menu
# + 100 per test worker; none is test_hotline_up's or a stack's
PORTS = {"HOTLINE_SIP_PORT": 5480, "HOTLINE_HTTP_PORT": 8478, "HOTLINE_AMI_PORT": 5448, "HOTLINE_AGI_PORT": 4883,
         "HOTLINE_CONSOLE_PORT": 8480, "HOTLINE_PUBLIC_PORT": 8482}
SERVICE_TARGET = 15.0    # seconds from the crash to a new caller answered (issue 12)
OPERATOR = "op-fault"


class Up(Running):
    """`hotline up` of this file, with what the tests look at."""

    def pid(self, path: Path) -> int | None:
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def asterisk_pid(self) -> int | None:
        return self.pid(self.state / "run" / "asterisk.pid")

    def child_pid(self, name: str) -> int | None:
        return self.pid(self.state / "pids" / f"{name}.pid")

    def asterisk(self, command: str) -> str:
        return self.rx(self.state / "asterisk" / "asterisk.conf", command)

    def app_registered(self) -> bool:
        return any(line.strip() == "hotline" for line in self.asterisk("ari show apps").splitlines())


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    base = Path(tempfile.mkdtemp(prefix="hotline-faults-", dir="/var/tmp"))
    base.chmod(0o755)       # Asterisk, as its own user, reaches the state directory
    env = clean_env(base, {
        # the shipped desks, with SIPp desks of the test's own at the district desks' addresses
        "HOTLINE_DIRECTORY": str(write_test_directory(base / "directory")),
        # no [redis] url: `hotline up` starts its own Redis here, locked with the generated password, and
        # supervises it
        "HOTLINE_REDIS_PORT": str(_free_tcp_port()),
        **{k: str(v + 100 * stack_index()) for k, v in PORTS.items()}})
    try:
        with running(base, env, ["up", "--fake-now", WEDNESDAY], log="up.log", ready="đang trả lời", timeout=240,
                     artifacts=integration_logs("hotline-up-faults"), copied={"state/log": "log"}) as hotline:
            yield Up(hotline.env, hotline.base, hotline.process, hotline.log)
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@dataclass
class Answered:
    after: float        # seconds from the fault to the first 200 OK of a new call
    served: float       # seconds from the fault to the first new call the IVR application took
    fallbacks: int      # calls answered meanwhile by the dialplan's fallback (the app not yet back)


def call_rows(up: Up, callers: list[str]) -> dict[str, Call]:
    with up.sessions() as session:
        rows = session.scalars(select(Call).where(Call.caller.in_(callers))).all()
        session.expunge_all()
    return {row.caller: row for row in rows}


def first_answer(up: Up, fault: float, prefix: str, deadline: float = 60.0) -> Answered:
    """Place a new short call every second from ``fault`` on until one is answered by the IVR application;
    return when the first was answered and when the first was served by the app (not the fallback)."""
    s = up.ctx.settings
    script = CallerScript([Wait(3.0), HangUp()])
    running: list[tuple[str, CallerProcess]] = []
    answered: dict[str, float] = {}
    next_start = time.monotonic()
    placed = 0
    try:
        while time.monotonic() - fault < deadline:
            now = time.monotonic()
            if now >= next_start and len(running) < 12:
                placed += 1
                caller = f"{prefix}{placed:02d}"
                running.append((caller, start_caller(s.sip.bind, s.sip.port, "1022", script, caller=caller,
                                                     local_port=free_udp_port(), answer_timeout=6.0)))
                next_start = now + 1.0
            for caller, process in list(running):
                if caller not in answered and process.events("ANSWERED"):
                    answered[caller] = time.monotonic() - fault
                if not process.running:
                    running.remove((caller, process))
            served = _served(up, answered)
            if served is not None:
                rows = call_rows(up, list(answered))
                fallbacks = sum(1 for r in rows.values() if r.disposition == Disposition.APP_FALLBACK)
                return Answered(min(answered.values()), served, fallbacks)
            time.sleep(0.1)
        raise AssertionError(f"no new call served within {deadline:.0f} s of the fault; answered: {answered}")
    finally:
        for _caller, process in running:
            try:
                process.result(15)
            except TimeoutError:
                process.terminate()


def _served(up: Up, answered: dict[str, float]) -> float | None:
    """The moment the first answered call taken by the IVR application was answered (the app made its row;
    the dialplan's fallback has its rows made app_fallback by the AGI server)."""
    if not answered:
        return None
    rows = call_rows(up, list(answered))
    taken = [answered[c] for c, row in rows.items() if row.disposition != Disposition.APP_FALLBACK]
    return min(taken) if taken else None


def queue_members(up: Up) -> str:
    return up.asterisk(f"queue show {QUEUE_NAME}")


LIVE = {"menu": 5, "queue": 5, "desk": 5, "message": 5}    # the 20 calls live when Asterisk is killed
DEFINED = {Disposition.ABANDONED_IVR, Disposition.ABANDONED_QUEUE, Disposition.TO_QUEUE, Disposition.TRANSFERRED,
           Disposition.VOICEMAIL}


def live_scripts(up: Up, speech: Path) -> dict[str, list[Step]]:
    """What each kind of live caller does (and keeps doing when Asterisk dies: nobody hangs up first)."""
    menu = menu_starts(up)      # type: ignore[arg-type]      # Up has the ctx these helpers read
    to_operator = prompt_seconds(up, "to_operator") + 5.0          # type: ignore[arg-type]  # in Queue() by then
    beep = prompt_seconds(up, "leave_message") + 2.0               # type: ignore[arg-type]
    transferring = prompt_seconds(up, "transferring")               # type: ignore[arg-type]
    return {"menu": [AwaitHangup(300)],
            "queue": [Wait(menu), Keys("0"), AwaitHangup(300)],
            "desk": [Wait(menu), Keys("4"), Wait(2), Keys("01"), Wait(transferring), Speak(speech), AwaitHangup(300)],
            "message": [Wait(menu), Keys("0"), Wait(to_operator), Keys("1"), Wait(beep), Speak(speech), Speak(speech),
                        AwaitHangup(300)]}


@dataclass
class LiveCalls:
    callers: dict[str, str]     # number -> what the caller was doing (LIVE's kinds)
    prefix: str


@contextmanager
def live_calls(up: Up, speech: Path, workdir: Path, prefix: str) -> Iterator[LiveCalls]:
    """The 20 calls of LIVE, each one where its kind is (the operator's phone rings and is never picked up,
    so queue callers wait; the district desk talks), until the block is over."""
    operator_phone = free_udp_port()
    if f"PJSIP/{OPERATOR}" in queue_members(up):      # the operator of an earlier test: a phone of this one
        up.hotline("operators", "logout", OPERATOR)
        up.hotline("operators", "remove", OPERATOR)
    up.hotline("operators", "add", OPERATOR, "--name", "Điện thoại viên sự cố",
               "--contact", f"sip:{OPERATOR}@127.0.0.1:{operator_phone}")
    up.hotline("operators", "login", OPERATOR)
    wait_for(lambda: f"PJSIP/{OPERATOR}" in queue_members(up), 10, "the operator in app_queue")
    phone = start_uas(operator_phone, ring_seconds=600, workdir=workdir / "operator")
    desk = start_uas(desk_ports()["desk-h01"], ring_seconds=1, talk_seconds=300, workdir=workdir / "desk")
    s = up.ctx.settings
    scripts = live_scripts(up, speech)
    live = LiveCalls({}, prefix)
    processes: list[CallerProcess] = []
    try:
        for kind, count in LIVE.items():
            for _n in range(count):
                number = f"{prefix}{len(live.callers):03d}"
                live.callers[number] = kind
                processes.append(start_caller(s.sip.bind, s.sip.port, "1022", CallerScript(scripts[kind]),
                                              caller=number, local_port=free_udp_port(), workdir=workdir / number))
        try:
            wait_for(lambda: _messages_growing(up, prefix, LIVE["message"]), 120, "the 5 messages being recorded")
        except AssertionError as exc:       # say where each caller is, for the next reader of a CI log
            with up.sessions() as session:
                where = [(c.caller, live.callers.get(c.caller), c.node, c.disposition, c.recording_file)
                         for c in session.scalars(select(Call).where(Call.caller.startswith(prefix)))]
            raise AssertionError(f"{exc}; the calls: {where}") from None
        wait_for(lambda: desk.answered >= LIVE["desk"], 30, "the 5 desk calls answered")
        yield live
    finally:
        for process in processes:
            process.terminate()
        phone.terminate()
        desk.terminate()


def _messages_growing(up: Up, prefix: str, count: int) -> bool:
    with up.sessions() as session:
        files = [c.recording_file for c in session.scalars(select(Call).where(Call.caller.startswith(prefix)))]
    messages = [m for m in (Path(f).with_suffix(".voicemail.wav") for f in files if f) if m.exists()]
    return len(messages) >= count and all(m.stat().st_size > 44 + 8000 * 2 * 3 for m in messages)   # 3 s each


def _uids(pid: int) -> list[int]:
    """The real, effective, saved and file-system uids of a process."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return [int(x) for x in line.split()[1:]]


def _wav_seconds(path: Path) -> float:
    """The length a player reads from the file's header (a header Asterisk never finished says 0)."""
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def nothing_lost(up: Up, live: LiveCalls, fault: float, what: str) -> None:
    """The live calls of a crash: closed with a defined disposition, their recordings whole and logged (headers
    repaired to the audio on disk), every message begun a ticket."""
    callers = live.callers
    missing: list[str] = []

    def settled() -> dict[str, Any]:      # {}: not yet (``missing`` says what is)
        with up.sessions() as session:
            calls = {c.caller: c for c in session.scalars(select(Call).where(Call.caller.in_(callers)))}
            recordings = {r.call_id: r for r in session.scalars(select(Recording))}
            messages = {v.call_id: v for v in session.scalars(select(Voicemail))}
            tickets = {t.voicemail_id for t in session.scalars(select(Ticket)) if t.voicemail_id}
            session.expunge_all()
        missing[:] = [f"{n} ({kind}): no row" for n, kind in callers.items() if n not in calls]
        for number, c in calls.items():
            kind = callers[number]
            if c.ended_at is None:
                missing.append(f"{number} ({kind}): open, node {c.node}")
            elif c.id not in recordings:
                missing.append(f"{number} ({kind}): no recording row ({c.recording_file})")
            elif kind == "message" and c.id not in messages:
                missing.append(f"{number} (message): no message row, disposition {c.disposition}")
            elif kind == "message" and messages[c.id].id not in tickets:
                missing.append(f"{number} (message): no ticket")
        if missing:
            return {}
        return {"calls": calls, "recordings": recordings, "messages": messages}
    try:
        found = wait_for(settled, 120, f"the {len(callers)} calls closed, their recordings and messages logged")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still missing: {missing}; the app's log:\n{up.text(0)[-6000:]}") from None
    print(f"{what}: every row closed, recording logged and message a ticket {time.monotonic() - fault:.1f} s "
          f"after the fault")
    root = up.base / "recordings"
    for number, call in found["calls"].items():
        assert call.disposition in DEFINED, (number, callers[number], call.disposition)
        recording = found["recordings"][call.id]
        assert recording.duration > 5, (number, callers[number], recording.duration)
        assert abs(_wav_seconds(root / recording.path) - recording.duration) < 0.5
    for number, kind in callers.items():
        if kind == "message":
            message = found["messages"][found["calls"][number].id]
            assert message.duration > 3 and abs(_wav_seconds(root / message.path) - message.duration) < 0.5
            assert found["calls"][number].disposition == Disposition.VOICEMAIL
        if kind == "desk":
            assert found["calls"][number].disposition == Disposition.TRANSFERRED


def test_asterisk_killed_with_20_live_calls_a_new_caller_is_answered_within_15_s_and_nothing_is_lost(
        up: Up, speech: Path, tmp_path: Path) -> None:
    with live_calls(up, speech, tmp_path, "0940002") as live:
        children = {name: up.child_pid(name) for name in ("ari_app", "agi", "monitor", "worker", "console")}
        old = up.asterisk_pid()
        assert old is not None
        mark = up.log.stat().st_size
        os.kill(old, signal.SIGKILL)
        fault = time.monotonic()
        got = first_answer(up, fault, "09400011")
        print(f"\nAsterisk SIGKILL with {len(live.callers)} live calls: a new call answered {got.after:.1f} s after "
              f"the crash, served by the IVR app after {got.served:.1f} s ({got.fallbacks} answered by the "
              f"fallback meanwhile)")
        assert got.after <= SERVICE_TARGET
        assert got.served <= SERVICE_TARGET
        text = up.text(mark)
        assert "Asterisk died (signal 9); restarting" in text and "Asterisk answered again after" in text, text
        wait_for(lambda: f"PJSIP/{OPERATOR}" in queue_members(up), 10, "the operator back in app_queue")
        assert {name: up.child_pid(name) for name in children} == children     # nothing else was restarted
        assert up.process.poll() is None
        nothing_lost(up, live, fault, "Asterisk SIGKILL")


def test_asterisk_stopped_with_20_live_calls_is_detected_killed_and_restarted_and_nothing_is_lost(
        up: Up, speech: Path, tmp_path: Path) -> None:
    with live_calls(up, speech, tmp_path, "0940003") as live:
        old = up.asterisk_pid()
        assert old is not None
        mark = up.log.stat().st_size
        os.kill(old, signal.SIGSTOP)
        fault = time.monotonic()
        try:
            wait_for(lambda: "has not answered for" in up.text(mark), 30, "the hang to be detected")
            detected = time.monotonic() - fault
            got = first_answer(up, fault, "09400012")
        finally:
            if is_alive(old):
                os.kill(old, signal.SIGCONT)
        print(f"\nAsterisk SIGSTOP with {len(live.callers)} live calls: detected after {detected:.1f} s, a new call "
              f"answered {got.after:.1f} s after the stop, served by the IVR app after {got.served:.1f} s")
        assert not is_alive(old)        # killed, not left to wake up beside the new one
        assert up.asterisk_pid() not in (None, old)
        assert detected <= 15.0 and got.served <= detected + SERVICE_TARGET
        wait_for(lambda: f"PJSIP/{OPERATOR}" in queue_members(up), 10, "the operator back in app_queue")
        nothing_lost(up, live, fault, "Asterisk SIGSTOP")


def test_a_hung_ari_app_is_restarted_on_its_heartbeat(up: Up) -> None:
    old = up.child_pid("ari_app")
    assert old is not None
    mark = up.log.stat().st_size
    os.kill(old, signal.SIGSTOP)
    fault = time.monotonic()
    new = wait_for(lambda: up.child_pid("ari_app") not in (None, old) and up.child_pid("ari_app"), 60,
                   "a new ARI app")
    restarted = time.monotonic() - fault
    wait_for(up.app_registered, 30, "the new ARI app connected")
    registered = time.monotonic() - fault
    print(f"\nARI app SIGSTOP: restarted after {restarted:.1f} s (heartbeat deadline 20 s), connected after "
          f"{registered:.1f} s")
    assert "ari_app stopped its heartbeat" in up.text(mark)
    assert not is_alive(old) and new != old
    got = first_answer(up, time.monotonic(), "09400013")
    assert got.fallbacks == 0


def test_our_redis_killed_is_restarted_with_its_data(up: Up) -> None:
    import redis as redis_lib

    own = OwnRedis(up.ctx.redis_url, up.state, "hotline")
    old = own.pid()
    assert old is not None, "hotline up did not start its own Redis"
    assert _uids(old) == [pwd.getpwnam("hotline").pw_uid] * 4     # the processes' user, as under systemd
    password = up.ctx.secrets.redis_password
    children = [pid for pid in (up.child_pid(name) for name in PROCESSES) if pid is not None]
    assert up.child_pid("worker") in children         # the one given the URL, in its environment
    for pid in [old, *children]:            # what `ps` shows anyone: never the password
        assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert password not in up.text()
    with pytest.raises(redis_lib.AuthenticationError):      # locked: the generated password or nothing
        redis_lib.Redis(host="127.0.0.1", port=own.port).ping()
    client = redis_lib.Redis.from_url(own.url)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.set("hotline:test:faults", "kept")
        wait_for(lambda: any(b"hotline:test:faults" in f.read_bytes()
                             for f in (up.state / "redis" / "appendonlydir").glob("*.aof")), 10, "the append-only file")
        mark = up.log.stat().st_size
        os.kill(old, signal.SIGKILL)
        fault = time.monotonic()
        wait_for(lambda: own.pid() not in (None, old) and own.answers(1.0), 30, "our Redis restarted")
        print(f"\nRedis SIGKILL: answering again after {time.monotonic() - fault:.1f} s")
        assert client.get("hotline:test:faults") == b"kept"
        assert "Redis died" in up.text(mark)
        assert _uids(own.pid() or 0) == [pwd.getpwnam("hotline").pw_uid] * 4    # restarted as the same user
    finally:
        client.close()
