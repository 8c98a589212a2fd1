"""Call-back instead of waiting, with real callers (SIPp) through the IVR into app_queue (issue 16).

One operator talks with a first caller; a second caller waits, presses 2, hears the number they call from read
back, confirms it with 1, hears that their place is kept and is hung up on; a third caller waits behind them. When
the operator is free again, the queue offers the second caller's call-back first (its placeholder waited in the
second caller's place), with the citizen's number and their call id for the softphone; only then the third caller.
Answering it calls the citizen's phone (the stack's SIPp "citizen", standing in for the province's trunk) through
the outbound route: the call out is recorded and the call-back row ends completed, with its operator and call out.
The operator phone's SIPp trace is the ground truth of the order; the call and call-back rows say the rest. While the
placeholder waits, the monitor's live picture (the wallboard's) counts it as a waiting caller and as a call-back;
afterwards ``hotline calls --json`` lists the call-back under the second caller's call with the call out's recording.

What goes wrong on the way (issue 16's bad input), in one run of two operators and a citizen whose line is busy:
the call-back's row outlives the ARI app (killed and restarted once it is written) and its placeholder outlives
Asterisk's losing it (hung up: the worker's sweep puts it back at the front); an operator declining it (486 from
the phone) sends it to the next one; the citizen's line busy three times ([callback] attempts, retry_minutes
apart, each try placed again by the sweep) makes a ticket that says each try.
"""
from __future__ import annotations

import contextlib
import json
import re
import signal
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from hotline.domain.vocabulary import live_node_channel, live_snapshot_key
from tests.support.calls import menu_starts, start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.queue import answers, invites, joins_queue
from tests.support.stack import Stack, citizen_port, wait_for
from tooling.sipp.pcap import write_audio_pcap
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, Keys, Wait
from tooling.system.assembly import command

pytestmark = pytest.mark.asterisk

OPERATOR = "op-cb-an"
FIRST, SECOND, THIRD = "0951000201", "0951000202", "0951000203"
TAKER, DECLINER = "op-cb-binh", "op-cb-chi"     # one answers every call, the other declines every one (486)
RETRY_SECONDS = 3.0                             # [callback] retry_minutes, as the test sets it


@pytest.fixture()
def operator(open_hours: Stack, phone_ports: Phones) -> Iterator[str]:
    add_operator(open_hours, phone_ports.phone(OPERATOR), "Tổng đài viên Ân")
    hotline(open_hours, "operators", "login", OPERATOR)
    yield OPERATOR
    hotline(open_hours, "operators", "logout", OPERATOR)
    hotline(open_hours, "operators", "remove", OPERATOR)


@pytest.fixture()
def two_operators(open_hours: Stack, phone_ports: Phones) -> Iterator[tuple[str, str]]:
    """Both added, only TAKER logged in (an operator whose phone declines every call would be offered the same
    call again at once while nobody else is free: app_queue rings a free member again without a pause)."""
    for name, full in ((TAKER, "Tổng đài viên Bình"), (DECLINER, "Tổng đài viên Chi")):
        add_operator(open_hours, phone_ports.phone(name), full)
    hotline(open_hours, "operators", "login", TAKER)
    yield TAKER, DECLINER
    hotline(open_hours, "operators", "logout", TAKER)
    with contextlib.suppress(AssertionError):          # the test logs the declining one out as soon as it declined
        hotline(open_hours, "operators", "logout", DECLINER)
    for name in (TAKER, DECLINER):
        hotline(open_hours, "operators", "remove", name)


@pytest.fixture()
def quick_retries(open_hours: Stack) -> Iterator[Stack]:
    """The AGI server (which decides a try) and the worker (whose sweep places it) with three tries RETRY_SECONDS
    apart; both back as they were afterwards."""
    stack = open_hours
    env = {**stack.app_env, "HOTLINE_CALLBACK_ATTEMPTS": "3", "HOTLINE_CALLBACK_RETRY_MINUTES": str(RETRY_SECONDS / 60)}
    stack.kill("agi", signal.SIGTERM)
    stack.start_proc("agi", env)
    stack.kill("worker", signal.SIGTERM)
    stack.start_proc("worker", env, argv=command("worker", stack.redis_url, stack.ctx.settings.transcription.queue))
    stack.wait_worker_ready()
    yield stack
    stack.kill("worker", signal.SIGTERM)
    stack.kill("agi", signal.SIGTERM)
    stack.start_proc("agi", stack.app_env)


def _invite_from(trace: Path, caller: str) -> tuple[str, str]:
    """(the From display name, the X-Hotline-Call header) of the INVITE from ``caller`` the operator phone got."""
    text = trace.read_text(encoding="utf-8", errors="replace")
    for message in re.split(r"^-{20,} .*$", text, flags=re.M):
        sender = re.search(rf'^From:\s*"([^"]*)"\s*<sip:{caller}@', message, re.M | re.I)
        if "received" in message and re.search(r"^INVITE sip:", message, re.M) and sender:
            found = re.search(r"^X-Hotline-Call:\s*(\S+)", message, re.M | re.I)
            return sender.group(1), found.group(1) if found else ""
    return "", ""


class LiveWatch:
    """Polls the monitor's snapshot in the stack's Redis (the wallboard's picture) in a thread and keeps each
    distinct list of who waits: (the number's last three digits, marked a call-back), in queue order, when the
    snapshot's ``callbacks_waiting`` agrees with the list."""

    def __init__(self, stack: Stack) -> None:
        s = stack.ctx.settings
        self.key = live_snapshot_key(live_node_channel(s.redis.live_channel, s.cluster.node))
        self.client = redis.Redis.from_url(stack.redis_url, socket_timeout=2)
        self.seen: list[list[tuple[str, bool]]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.2):
            raw = self.client.get(self.key)
            snapshot: dict[str, Any] = json.loads(raw) if raw else {}
            waiting = [(str(w.get("caller", ""))[-3:], bool(w.get("callback"))) for w in snapshot.get("waiting", [])]
            if snapshot.get("callbacks_waiting") == sum(c for _n, c in waiting) and waiting not in self.seen[-1:]:
                self.seen.append(waiting)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.client.close()


def test_the_call_back_keeps_the_callers_place_in_the_queue(open_hours: Stack, operator: str, workdir: Path,
                                                            phone_ports: Phones, speech: Path) -> None:
    stack = open_hours
    wrapup = stack.ctx.settings.queue.wrapup_seconds
    phone = start_uas(phone_ports.port(operator), workdir=workdir / operator, ring_seconds=1, talk_seconds=30,
                      hangup="local")
    citizen = start_uas(citizen_port(stack.port_index), workdir=workdir / "citizen", ring_seconds=1, talk_seconds=5,
                        hangup="local", speak=write_audio_pcap(workdir / "citizen.pcap", speech))
    callers = []
    live = LiveWatch(stack)
    try:
        callers.append(start(stack, [Wait(menu_starts(stack)), Keys("0"), AwaitHangup(200)],
                             caller=FIRST, workdir=workdir / "first"))
        phone.wait_for(r"^INVITE ", 30)          # the first caller is with the operator
        # The second caller waits a few seconds, presses 2, hears their number read back and confirms it.
        callers.append(start(stack, [Wait(menu_starts(stack)), Keys("0"), Wait(joins_queue(stack) - menu_starts(stack)
                                                                             + 3), Keys("2"), Wait(3), Keys("1"),
                                     AwaitHangup(60)], caller=SECOND, workdir=workdir / "second"))
        second_in = wait_for(lambda: stack.latest_call(SECOND).get("queued_at"), 40, "the second caller queued")
        assert second_in
        callers.append(start(stack, [Wait(menu_starts(stack)), Keys("0"), AwaitHangup(200)],
                             caller=THIRD, workdir=workdir / "third"))
        left = callers[1].result(90)            # hung up on by the hotline once the call-back was kept
        assert left is not None
        kept = stack.ended_call(SECOND)
        assert kept["disposition"] == "callback" and kept["queue_outcome"] == "callback"
        wait_for(lambda: citizen.answered == 1, 30 + wrapup + 60, "the citizen's phone to ring and answer")
        phone.wait_for(r"^INVITE ", 30 + wrapup + 60, count=3)
    finally:
        live.stop()
        for process in callers:
            process.terminate()
        phone.terminate()
        citizen.terminate()

    # the wallboard's picture while the place waited: a waiting caller marked as a call-back, in the second caller's
    # place (ahead of the third caller whenever both waited); no other caller marked
    shown = "; ".join(map(str, live.seen))
    marked = [w for w in live.seen if (SECOND[-3:], True) in w]
    assert marked and all(w.index((SECOND[-3:], True)) == 0 for w in marked), shown
    assert all(not callback for w in live.seen for number, callback in w if number != SECOND[-3:]), shown
    order = [m.caller for m in invites(phone.messages_path)]
    assert order[:3] == [FIRST, SECOND, THIRD], order        # the call-back before the caller who came after
    # the softphone names it a call-back and shows the caller's history (their call's id)
    assert _invite_from(phone.messages_path, SECOND) == ("Gọi lại", kept["call_id"])
    from hotline.services.callbacks import Callbacks
    callbacks = Callbacks(stack.repo.sessions, stack.ctx.clock.now)
    row = wait_for(lambda: (lambda r: r if r["status"] != "calling" else None)(callbacks.of_call(kept["call_id"])[0]),
                   30, "the call-back to end")
    assert row["number"] == SECOND and row["position"] == 1 and row["place_channel"] == f"{kept['call_id']}-cb"
    assert (row["status"], row["operator"], row["attempts"], row["outcome"]) == ("completed", OPERATOR, 1, "answer")
    assert f"INVITE sip:{SECOND}@" in citizen.messages_path.read_text(errors="replace")    # the number called back
    out = wait_for(lambda: (lambda r: r if r and r["recording"] else None)(stack.repo.get(row["out_call"])), 60,
                   "the call out's row with its recording")
    assert (out["direction"], out["caller"], out["operator"], out["disposition"]) == (
        "out", SECOND, OPERATOR, "out_answered")
    assert 3.5 <= out["recording"]["duration"] <= 7.0, out["recording"]        # the citizen talked 5 s
    # every call of the stack (the suite's earlier tests set the clock later than this one's: "latest" is theirs)
    listed = json.loads(hotline(stack, "calls", "--json", "--direction", "in", "--limit", "100000"))
    [mine] = [c for c in listed if c["call_id"] == kept["call_id"]]
    [back] = mine["callbacks"]
    assert (back["status"], back["out_call"]["call_id"], back["recording"]["path"]) == (
        "completed", row["out_call"], out["recording"]["path"])


def test_a_call_back_survives_the_app_and_a_lost_place_goes_past_a_declining_operator_and_three_busy_tries(
        quick_retries: Stack, two_operators: tuple[str, str], workdir: Path, phone_ports: Phones) -> None:
    from hotline.services.callbacks import Callbacks
    stack = quick_retries
    callbacks = Callbacks(stack.repo.sessions, stack.ctx.clock.now)
    # the first caller's talk outlasts the second caller's way to key 2 (IVR, queue prompt, confirmation)
    taker = start_uas(phone_ports.port(TAKER), workdir=workdir / TAKER, ring_seconds=1, talk_seconds=40,
                      hangup="local")
    decliner = start_uas(phone_ports.port(DECLINER), workdir=workdir / DECLINER, hangup="busy")
    citizen = start_uas(citizen_port(stack.port_index), workdir=workdir / "citizen", hangup="busy")
    callers = []
    try:
        callers.append(start(stack, [Wait(menu_starts(stack)), Keys("0"), AwaitHangup(200)],
                             caller=FIRST, workdir=workdir / "first"))
        taker.wait_for(r"^ANSWERED", 40)            # the first caller talks with the only operator who answers
        callers.append(start(stack, [Wait(menu_starts(stack)), Keys("0"), Wait(joins_queue(stack) - menu_starts(stack)
                                                                             + 3), Keys("2"), Wait(3), Keys("1"),
                                     AwaitHangup(60)], caller=SECOND, workdir=workdir / "second"))
        assert callers[1].result(90) is not None    # hung up on once the call-back was kept
        kept = stack.ended_call(SECOND)
        (row,) = callbacks.of_call(kept["call_id"])
        first_place = row["place_channel"]
        # The ARI app dies and comes back: the call-back is a row, and its place a channel outside the app.
        stack.kill("ari_app")
        stack.start_proc("ari_app")
        assert first_place in {c["id"] for c in stack.channels()}
        # Asterisk loses the place (as a restart would): the worker's sweep puts it back, at the front.
        lost_at = datetime.now()                     # naive local time, as SIPp's traces write it
        stack.ari(f"/channels/{first_place}", "DELETE")
        # The declining operator comes in once the first caller is gone, before the place is back (the sweep
        # waits 30 s from its placing): offered it first (the least recent), they decline; then they leave.
        taker.wait_for(r"^OUTCOME local_bye", 60)
        hotline(stack, "operators", "login", DECLINER)
        decliner.wait_for(r"^OUTCOME busy", 90)
        hotline(stack, "operators", "logout", DECLINER)
        citizen.wait_for(r"OUTCOME busy", 120 + 3 * (stack.ctx.settings.queue.wrapup_seconds + 30), count=3)
        row = wait_for(lambda: (lambda r: r if r["status"] not in ("waiting", "calling") else None)(
            callbacks.get(row["id"])), 60, "the call-back to end after its last try")
    finally:
        for process in callers:
            process.terminate()
        for phone in (taker, decliner, citizen):
            phone.terminate()

    assert [m.caller for m in invites(taker.messages_path)] == [FIRST, SECOND, SECOND, SECOND]
    offered = [m for m in invites(decliner.messages_path) if m.caller == SECOND]
    assert offered and offered[0].at > lost_at and answers(decliner.messages_path) == []   # declined: the next took it
    assert len(re.findall(rf"^INVITE sip:{SECOND}@", citizen.messages_path.read_text(errors="replace"), re.M)) == 3
    assert (row["status"], row["attempts"], row["outcome"]) == ("no_answer", 3, "busy"), row
    assert row["place_channel"].startswith("cb-") and row["place_channel"] != first_place
    tried = [datetime.fromisoformat(t["at"]) for t in row["tries"]]
    assert [t["outcome"] for t in row["tries"]] == ["busy"] * 3
    assert all((b - a).total_seconds() >= RETRY_SECONDS for a, b in zip(tried, tried[1:], strict=False)), tried
    content = stack.ctx.tickets(stack.repo.sessions).get(row["ticket_code"])["content"]
    assert "gọi lại 3 lần (" in content and content.count("máy bận") == 3 and SECOND in content, content
