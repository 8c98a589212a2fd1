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
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from hotline.domain.vocabulary import live_node_channel, live_snapshot_key
from tests.support.calls import menu_starts, start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.queue import invites, joins_queue
from tests.support.stack import Stack, citizen_port, wait_for
from tooling.sipp.pcap import write_audio_pcap
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, Keys, Wait

pytestmark = pytest.mark.asterisk

OPERATOR = "op-cb-an"
FIRST, SECOND, THIRD = "0951000201", "0951000202", "0951000203"


@pytest.fixture()
def operator(open_hours: Stack, phone_ports: Phones) -> Iterator[str]:
    add_operator(open_hours, phone_ports.phone(OPERATOR), "Tổng đài viên Ân")
    hotline(open_hours, "operators", "login", OPERATOR)
    yield OPERATOR
    hotline(open_hours, "operators", "logout", OPERATOR)
    hotline(open_hours, "operators", "remove", OPERATOR)


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
    listed = json.loads(hotline(stack, "calls", "--json", "--direction", "in", "--limit", "10"))
    [mine] = [c for c in listed if c["call_id"] == kept["call_id"]]
    [back] = mine["callbacks"]
    assert (back["status"], back["out_call"]["call_id"], back["recording"]["path"]) == (
        "completed", row["out_call"], out["recording"]["path"])
