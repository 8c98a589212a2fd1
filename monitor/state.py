"""The live picture of the operator queue, built from app_queue's AMI events (pure, no I/O).

``LivePicture.apply(event, now)`` takes one AMI event as panoramisk delivers it (a
mapping of header -> string) and returns the live messages to publish; ``snapshot(now)``
is what the wallboard shows: callers waiting since when, operators by state.
``rebuild(messages, now)`` replaces the picture with a QueueStatus answer (after a
(re)connect, when events may have been missed).

Callers are keyed by ``Uniqueid``: for the queue events it is the caller's channel (the
hotline's call id); the operator's leg (a PJSIP or Local channel) is ``DestUniqueid``. A caller's number
is kept masked (last 3 digits): nothing the monitor publishes holds a whole one. A call-back waiting in its
caller's place (key 2: a Local channel of [hotline-callback-place], named "Gọi lại") is a waiting caller like any
other, marked ``callback`` so that the wallboard shows how many of the waiting are call-backs.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hotline.adapters.ami import Event, device_state, field, number
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import Context, DeviceState, OperatorState

log = logging.getLogger("monitor.state")
#: The channel name of a call-back's placeholder in the queue (ari_app/call.py originates Local/s@<context>/n).
CALLBACK_PLACE_CHANNEL = f"Local/s@{Context.CALLBACK_PLACE}-"


def is_callback_place(e: Event) -> bool:
    """Whether a queue event's caller is a call-back's placeholder rather than a citizen on the line."""
    return field(e, "Channel").startswith(CALLBACK_PLACE_CHANNEL) or field(e, "Context") == Context.CALLBACK_PLACE


@dataclass
class Waiting:
    """A caller waiting in a queue; ``caller``: the number masked as an agency sees it (``*******678``), since
    the picture goes to Redis for the wallboard (supervisors open the call in the console for the whole number)."""

    call_id: str
    queue: str
    channel: str
    caller: str
    position: int
    since: datetime
    callback: bool = False      # a call-back's placeholder keeping its caller's place

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {"call_id": self.call_id, "queue": self.queue, "channel": self.channel, "caller": self.caller,
                "position": self.position, "since": self.since.isoformat(),
                "wait": round((now - self.since).total_seconds()), "callback": self.callback}


@dataclass
class Member:
    """An operator as app_queue sees it (one queue member)."""

    name: str
    interface: str = ""
    queue: str = ""
    status: str = DeviceState.UNKNOWN      # app_queue's view of the phone
    paused: bool = False
    reason: str = ""
    in_call: bool = False
    wrapup_seconds: int = 0
    wrap_up_until: datetime | None = None
    ringing_call: str | None = None
    call_id: str | None = None
    logged_in: bool = True
    since: datetime | None = None

    def state(self, now: datetime) -> str:
        if not self.logged_in:
            return OperatorState.LOGGED_OUT
        if self.paused:
            return OperatorState.PAUSED
        if self.in_call or self.call_id or self.status in DeviceState.ON_CALL:
            return OperatorState.ON_CALL
        if self.ringing_call or self.status == DeviceState.RINGING:
            return OperatorState.RINGING
        if self.status in DeviceState.OFFLINE:
            return OperatorState.UNAVAILABLE
        if self.wrap_up_until is not None and now < self.wrap_up_until:
            return OperatorState.WRAP_UP
        return OperatorState.AVAILABLE

    def to_json(self, now: datetime) -> dict[str, Any]:
        state = self.state(now)
        wrap_up = self.wrap_up_until if state == OperatorState.WRAP_UP else None
        return {"operator": self.name, "interface": self.interface, "queue": self.queue, "state": state,
                "reason": self.reason if state == OperatorState.PAUSED else None,
                "call_id": self.call_id or self.ringing_call,
                "since": self.since.isoformat() if self.since else None,
                "wrap_up_until": wrap_up.isoformat() if wrap_up else None}


class LivePicture:
    """Who waits and what each operator does, from AMI events; returns what changed."""

    def __init__(self, default_wrapup_seconds: int = 0) -> None:
        # Members added over AMI carry no wrap-up of their own (Wrapuptime 0): app_queue then
        # applies the queue's wrapuptime, which is this default (province.toml [queue]).
        self.default_wrapup_seconds = default_wrapup_seconds
        self.waiting: dict[str, Waiting] = {}
        self.members: dict[str, Member] = {}
        self._connected_since: dict[str, datetime] = {}   # answered callers until their Leave event

    # -- events -----------------------------------------------------------------
    def apply(self, event: Event, now: datetime) -> list[dict[str, Any]]:
        """Apply one AMI event; returns the live messages it causes (possibly none)."""
        name = field(event, "Event")
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:
            return []
        messages: list[dict[str, Any]] = handler(event, now)
        for message in messages:
            message.setdefault("at", now.isoformat())
            message.setdefault("event", name)
        return messages

    def _on_QueueCallerJoin(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        call_id = field(e, "Uniqueid")
        known = self.waiting.get(call_id)
        entry = Waiting(call_id, field(e, "Queue"), field(e, "Channel"), masked_number(field(e, "CallerIDNum")),
                        number(e, "Position"), known.since if known else now, is_callback_place(e))
        if known is None:      # a caller with priority (back from a desk) goes in ahead of others
            for other in self.waiting.values():
                if other.queue == entry.queue and other.position >= entry.position:
                    other.position += 1
        self.waiting[call_id] = entry
        return [{"type": "caller_joined", "call_id": call_id, "queue": entry.queue, "caller": entry.caller,
                 "position": entry.position, "count": number(e, "Count"), "callback": entry.callback}]

    def _on_QueueCallerLeave(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        call_id = field(e, "Uniqueid")
        entry = self.waiting.pop(call_id, None)
        self._stop_ringing(call_id)
        since = entry.since if entry else self._connected_since.pop(call_id, None)
        self._renumber(field(e, "Queue"))
        wait = round((now - since).total_seconds()) if since else None
        return [{"type": "caller_left", "call_id": call_id, "queue": field(e, "Queue"),
                 "position": number(e, "Position"), "count": number(e, "Count"), "wait": wait}]

    def _on_QueueCallerAbandon(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        call_id = field(e, "Uniqueid")
        self.waiting.pop(call_id, None)
        self._stop_ringing(call_id)
        self._renumber(field(e, "Queue"))
        return [{"type": "caller_abandoned", "call_id": call_id, "queue": field(e, "Queue"),
                 "position": number(e, "Position"), "original_position": number(e, "OriginalPosition"),
                 "wait": number(e, "HoldTime")}]

    def _on_QueueMemberAdded(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        member.logged_in = True
        self._update_member(member, e)
        return [self._operator_message(member, now)]

    def _on_QueueMemberRemoved(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        member.logged_in, member.call_id, member.ringing_call = False, None, None
        return [self._operator_message(member, now)]

    def _on_QueueMemberStatus(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        before = member.state(now), member.reason
        self._update_member(member, e)
        if (member.state(now), member.reason) == before:
            return []
        return [self._operator_message(member, now)]

    _on_QueueMemberPause = _on_QueueMemberStatus

    def _on_AgentCalled(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        member.ringing_call = field(e, "Uniqueid")
        return [self._operator_message(member, now)]

    def _on_AgentRingNoAnswer(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        member.ringing_call = None
        message = self._operator_message(member, now)
        message.update(type="operator_no_answer", ring_time=number(e, "RingTime"))
        return [message]

    def _on_AgentConnect(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        member.ringing_call, member.call_id, member.in_call = None, field(e, "Uniqueid"), True
        entry = self.waiting.pop(field(e, "Uniqueid"), None)
        if entry is not None:
            self._connected_since[entry.call_id] = entry.since
            self._renumber(entry.queue)
        message = self._operator_message(member, now)
        message.update(hold_time=number(e, "HoldTime"), ring_time=number(e, "RingTime"))
        return [message]

    def _on_AgentComplete(self, e: Event, now: datetime) -> list[dict[str, Any]]:
        member = self._member(e, now)
        member.call_id, member.in_call = None, False
        wrapup = member.wrapup_seconds or self.default_wrapup_seconds
        if wrapup > 0:
            member.wrap_up_until = now + timedelta(seconds=wrapup)
        message = self._operator_message(member, now)
        message.update(talk_time=number(e, "TalkTime"), reason_ended=field(e, "Reason"))
        return [message]

    # -- QueueStatus after a (re)connect ----------------------------------------------
    def rebuild(self, messages: Iterable[Event], now: datetime) -> dict[str, Any]:
        """Replace the picture by a QueueStatus answer (QueueMember / QueueEntry events)."""
        waiting: dict[str, Waiting] = {}
        members: dict[str, Member] = {}
        for m in messages:
            kind = field(m, "Event")
            if kind == "QueueEntry":
                call_id = field(m, "Uniqueid")
                old = self.waiting.get(call_id)
                since = old.since if old else now - timedelta(seconds=number(m, "Wait"))
                waiting[call_id] = Waiting(call_id, field(m, "Queue"), field(m, "Channel"),
                                           masked_number(field(m, "CallerIDNum")), number(m, "Position"), since,
                                           is_callback_place(m))
            elif kind == "QueueMember":
                name = field(m, "Name") or field(m, "MemberName") or field(m, "Location")
                old_member = self.members.get(name)
                member = Member(name=name, since=old_member.since if old_member else now,
                                call_id=old_member.call_id if old_member else None,
                                wrap_up_until=old_member.wrap_up_until if old_member else None)
                self._update_member(member, m, interface_key="Location")
                if not member.in_call:
                    member.call_id = None
                members[name] = member
        self.waiting, self.members = waiting, members
        self._connected_since.clear()
        return {"type": "rebuilt", "at": now.isoformat(), "event": "QueueStatus",
                "waiting": len(waiting), "operators": len(members)}

    def expire(self, now: datetime) -> list[dict[str, Any]]:
        """Operators whose wrap-up ended by ``now`` (app_queue sends no event for that)."""
        messages = []
        for member in self.members.values():
            if member.wrap_up_until is not None and now >= member.wrap_up_until:
                member.wrap_up_until = None
                messages.append({**self._operator_message(member, now), "at": now.isoformat(),
                                 "event": "WrapUpEnd"})
        return messages

    # -- the wallboard ---------------------------------------------------------------
    def snapshot(self, now: datetime) -> dict[str, Any]:
        operators = [m.to_json(now) for m in sorted(self.members.values(), key=lambda m: m.name)]
        by_state: dict[str, list[str]] = {}
        for op in operators:
            by_state.setdefault(op["state"], []).append(op["operator"])
        waiting = sorted(self.waiting.values(), key=lambda w: (w.queue, w.position, w.since))
        return {"at": now.isoformat(), "waiting": [w.to_json(now) for w in waiting],
                "callbacks_waiting": sum(1 for w in waiting if w.callback),
                "longest_wait": max((round((now - w.since).total_seconds()) for w in waiting), default=0),
                "operators": operators, "by_state": by_state}

    # -- helpers ---------------------------------------------------------------------
    def _member(self, e: Event, now: datetime) -> Member:
        name = field(e, "MemberName") or field(e, "Interface")
        member = self.members.get(name)
        if member is None:
            member = self.members[name] = Member(name=name, interface=field(e, "Interface"),
                                                 queue=field(e, "Queue"), since=now)
        return member

    @staticmethod
    def _update_member(member: Member, e: Event, interface_key: str = "Interface") -> None:
        member.interface = field(e, interface_key) or member.interface
        member.queue = field(e, "Queue") or member.queue
        if field(e, "Status"):
            member.status = device_state(number(e, "Status"))
        if field(e, "Paused"):
            member.paused = field(e, "Paused") == "1"
            member.reason = field(e, "PausedReason") if member.paused else ""
        if field(e, "InCall"):
            member.in_call = field(e, "InCall") == "1"
        if field(e, "Wrapuptime"):
            member.wrapup_seconds = number(e, "Wrapuptime")

    def _operator_message(self, member: Member, now: datetime) -> dict[str, Any]:
        state = member.state(now)
        member.since = now
        log.info("operator=%s state=%s reason=%s call=%s", member.name, state, member.reason or "-",
                 member.call_id or member.ringing_call or "-")
        return {"type": "operator", **member.to_json(now)}

    def _stop_ringing(self, call_id: str) -> None:
        """A caller who hangs up while an operator's phone rings ends that ring (no RingNoAnswer follows)."""
        for member in self.members.values():
            if member.ringing_call == call_id:
                member.ringing_call = None

    def _renumber(self, queue: str) -> None:
        """app_queue moves everyone behind a leaving caller up one place."""
        ordered = sorted((w for w in self.waiting.values() if w.queue == queue), key=lambda w: w.position)
        for i, entry in enumerate(ordered, start=1):
            entry.position = i
