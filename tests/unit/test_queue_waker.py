"""The queue waker: whom it wakes when an operator becomes free, and when it looks again."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from monitor.state import LivePicture
from monitor.waker import WAKE_DIGIT, QueueWaker, Wake, wake_action

from .test_monitor import T0, ami, caller_headers, dest_headers, member_headers


class Harness:
    """A waker on a fake real-time clock that records its wakes and its armed timer."""

    def __init__(self, wrapup: int = 0) -> None:
        self.picture = LivePicture(default_wrapup_seconds=wrapup)
        self.t = 1_795_445_000.25            # real time: a quarter past a whole second
        self.sent: list[Wake] = []
        self.timer: tuple[float, Callable[[], None]] | None = None
        self.waker = QueueWaker(self.picture, send=self.sent.append, schedule=self._schedule,
                                clock=lambda: self.t)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        self.timer = (self.t + delay, callback)

    def event(self, text: str) -> list[Wake]:
        e = ami(text)
        self.picture.apply(e, T0)
        if e.get("Event") == "AgentComplete":
            self.waker.call_ended(str(e["MemberName"]))
        return self.waker.look()

    def run_timer(self) -> list[Wake]:
        assert self.timer is not None, "no look armed"
        at, callback = self.timer
        self.t, self.timer = at, None
        before = len(self.sent)
        callback()
        return self.sent[before:]


def member(name: str, **kw: int) -> str:
    return "Event: QueueMemberAdded\n" + member_headers(name, **kw).replace("Wrapuptime: 10", "Wrapuptime: 0")


def status(name: str, **kw: int) -> str:
    return "Event: QueueMemberStatus\n" + member_headers(name, **kw).replace("Wrapuptime: 10", "Wrapuptime: 0")


def join(call_id: str, position: int, channel: str = "") -> str:
    headers = caller_headers(call_id).replace("PJSIP/anonymous-00000003", channel or f"PJSIP/caller-{call_id}")
    return f"Event: QueueCallerJoin\n{headers}Queue: hotline\nPosition: {position}\nCount: {position}"


def called(call_id: str, op: str) -> str:
    return "Event: AgentCalled\n" + caller_headers(call_id) + dest_headers(op)


def connect(call_id: str, op: str) -> str:
    return "Event: AgentConnect\n" + caller_headers(call_id) + dest_headers(op) + "HoldTime: 5\nRingTime: 1"


def leave(call_id: str) -> str:
    return "Event: QueueCallerLeave\n" + caller_headers(call_id) + "Queue: hotline\nCount: 0\nPosition: 1"


def complete(call_id: str, op: str) -> str:
    return ("Event: AgentComplete\n" + caller_headers(call_id) + dest_headers(op)
            + "HoldTime: 5\nTalkTime: 30\nReason: agent")


def busy_floor(h: Harness, callers: int) -> None:
    """Two operators on calls c0 and c0b, ``callers`` more waiting behind them."""
    for op, call in (("op-a", "c0"), ("op-b", "c0b")):
        h.event(member(op))
        h.event(join(call, 1))
        h.event(called(call, op))
        h.event(connect(call, op))
        h.event(leave(call))
        h.event(status(op, status=2, in_call=1))
    for i in range(1, callers + 1):
        assert h.event(join(f"c{i}", i)) == []      # nobody free: nobody is woken


def test_an_operator_hanging_up_wakes_the_caller_at_the_head_and_only_that_caller() -> None:
    h = Harness()
    busy_floor(h, 3)
    assert h.event(status("op-a", status=1, in_call=0)) == []    # still in the call for app_queue
    woken = h.event(complete("c0", "op-a"))
    assert [(w.call_id, w.position, w.operators_free) for w in woken] == [("c1", 1, 1)]
    assert woken[0].channel == "PJSIP/caller-c1"
    assert wake_action(woken[0]) == {"Action": "PlayDTMF", "Channel": "PJSIP/caller-c1", "Digit": WAKE_DIGIT,
                                     "Duration": "100", "Receive": "yes", "Async": "false"}
    # app_queue rings op-a for c1: the caller is ringing, op-a is not free, nobody else is woken
    assert h.event(called("c1", "op-a")) == []
    assert h.run_timer() == []                 # the look after the wake finds nothing to do


def test_two_free_operators_wake_the_first_two_callers_not_already_ringing() -> None:
    h = Harness()
    busy_floor(h, 3)
    h.event(status("op-a", status=1))
    h.event(complete("c0", "op-a"))            # wakes c1
    h.event(called("c1", "op-a"))              # c1 rings op-a
    h.event(status("op-b", status=1))
    woken = h.event(complete("c0b", "op-b"))
    assert [w.call_id for w in woken] == ["c2"]   # c1 is ringing: c2 is next


def test_a_wake_that_changed_nothing_is_repeated_once_at_once_then_once_a_second() -> None:
    h = Harness()
    busy_floor(h, 1)
    h.event(status("op-a", status=1))
    t0 = h.t
    assert [w.call_id for w in h.event(complete("c0", "op-a"))] == ["c1"]
    h.t += 0.01
    assert h.event(status("op-a", status=1)) == []     # too soon: the first key may still be working
    # the key ended an announcement, and app_queue went on to its one-second wait: a second key
    assert [w.call_id for w in h.run_timer()] == ["c1"]
    assert abs(h.t - (t0 + 0.035)) < 1e-6
    assert [w.call_id for w in h.run_timer()] == ["c1"]
    assert abs(h.t - (t0 + 0.035 + 1.005)) < 1e-6
    # once rung, the count starts again: after a ring nobody answered the next wake is prompt
    h.event(called("c1", "op-a"))
    assert "c1" not in h.waker.woken


def test_wrap_up_holds_the_wake_until_app_queue_would_ring_again() -> None:
    h = Harness(wrapup=15)
    busy_floor(h, 2)
    h.event(status("op-a", status=1))
    assert h.event(complete("c0", "op-a")) == []       # wrap-up: nobody woken now
    assert h.timer is not None
    # app_queue's lastcall is whole seconds: ringable again from floor(end) + 15 s
    assert abs(h.timer[0] - (int(1_795_445_000.25) + 15 + 0.005)) < 1e-6
    assert [w.call_id for w in h.run_timer()] == ["c1"]


def test_paused_unavailable_and_logged_out_operators_wake_nobody() -> None:
    h = Harness()
    h.event(member("op-a", paused=1))
    h.event(member("op-b", status=5))
    h.event(member("op-c"))
    h.event("Event: QueueMemberRemoved\n" + member_headers("op-c"))
    assert h.event(join("c1", 1)) == []
    assert h.event(status("op-b", status=5)) == []
    woken = h.event("Event: QueueMemberPause\n" + member_headers("op-a", paused=0))
    assert [w.call_id for w in woken] == ["c1"]        # resuming from a pause is a free operator too


def test_a_caller_who_hangs_up_while_ringing_frees_the_operator_for_the_next() -> None:
    h = Harness()
    h.event(member("op-a"))
    h.event(join("c1", 1))
    h.event(join("c2", 2))
    h.event(called("c1", "op-a"))
    woken = h.event("Event: QueueCallerAbandon\n" + caller_headers("c1")
                    + "Queue: hotline\nPosition: 1\nOriginalPosition: 1\nHoldTime: 3")
    assert h.picture.members["op-a"].ringing_call is None
    assert [(w.call_id, w.position) for w in woken] == [("c2", 1)]


def test_a_caller_back_from_a_desk_joins_ahead_and_is_woken_first() -> None:
    h = Harness()
    busy_floor(h, 2)
    h.event(join("back", 1))                   # QUEUE_PRIO=10: app_queue puts them first
    assert [(w.call_id, w.position) for w in sorted(h.picture.waiting.values(), key=lambda w: w.position)] \
        == [("back", 1), ("c1", 2), ("c2", 3)]
    h.event(status("op-b", status=1))
    assert [w.call_id for w in h.event(complete("c0b", "op-b"))] == ["back"]


def test_picture_positions_survive_a_repeated_join_event() -> None:
    h = Harness()
    h.event(join("c1", 1))
    h.event(join("c2", 2))
    h.picture.apply(ami(join("c2", 2)), T0 + timedelta(seconds=1))   # the same caller again: no shift
    assert sorted((w.call_id, w.position) for w in h.picture.waiting.values()) == [("c1", 1), ("c2", 2)]


def test_panoramisk_takes_the_answer_to_the_wake_action() -> None:
    """PlayDTMF answers "DTMF successfully queued"; without ``Async`` panoramisk 1.4 fails on it."""
    import asyncio

    from panoramisk.actions import Action
    from panoramisk.message import Message

    answer = Message.from_line("Response: Success\r\nActionID: x\r\nMessage: DTMF successfully queued")
    assert answer is not None

    async def answered(fields: dict[str, str]) -> object:
        action = Action(fields)
        action.add_message(answer)
        return await asyncio.wait_for(action.future, 1)

    fields = wake_action(Wake("c1", "PJSIP/caller-00000001", 1, 1))
    assert asyncio.run(answered(fields)) is answer
    del fields["Async"]
    try:
        asyncio.run(answered(fields))
    except KeyError:
        pass             # the panoramisk bug the header works around; fixed upstream: drop the header
    else:
        raise AssertionError("panoramisk reads PlayDTMF's answer without Async now: the work-around can go")
