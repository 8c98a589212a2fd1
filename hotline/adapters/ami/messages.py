"""AMI messages without a connection: reading events and answers, building actions (pure).

An event is a mapping of header -> value as panoramisk delivers it (``Message``) or as a test
writes it. Headers are read case-insensitively; numbers that are not numbers read as 0.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline.domain.vocabulary import DeviceState

Event = Mapping[str, Any]

#: app_queue's member Status (AST_DEVICE_* 0..8) -> a DeviceState word.
DEVICE_STATES = (DeviceState.UNKNOWN, DeviceState.NOT_IN_USE, DeviceState.IN_USE, DeviceState.BUSY,
                 DeviceState.INVALID, DeviceState.UNAVAILABLE, DeviceState.RINGING, DeviceState.RING_IN_USE,
                 DeviceState.ON_HOLD)


def field(event: Event, name: str, default: str = "") -> str:
    """A header of an AMI event, case-insensitively (panoramisk's Message already is)."""
    value = event.get(name)
    if value is None:
        for key, val in event.items():
            if key.lower() == name.lower():
                value = val
                break
    if isinstance(value, list):
        value = value[-1] if value else None
    return default if value is None else str(value)


def number(event: Event, name: str, default: int = 0) -> int:
    """A numeric header of an AMI event; ``default`` when absent or not a number."""
    try:
        return int(float(field(event, name)))
    except ValueError:
        return default


def device_state(status: int | str) -> str:
    """app_queue's numeric device state (a member's ``Status``) as a DeviceState word."""
    try:
        code = int(float(status))
    except ValueError:
        return DeviceState.UNKNOWN
    return DEVICE_STATES[code] if 0 <= code < len(DEVICE_STATES) else DeviceState.UNKNOWN


@dataclass(frozen=True)
class QueueMember:
    """One member of a queue as QueueStatus reports it."""

    name: str
    interface: str
    state_interface: str
    status: str            # a DeviceState word: not_in_use, in_use, ringing, unavailable...
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int
    last_call: int         # epoch seconds of the end of the member's last call (0: none)
    last_pause: int        # epoch seconds
    wrapup_seconds: int = 0

    @classmethod
    def from_event(cls, event: Event) -> QueueMember:
        return cls(name=field(event, "Name") or field(event, "MemberName"),
                   interface=field(event, "Location") or field(event, "Interface"),
                   state_interface=field(event, "StateInterface"),
                   status=device_state(number(event, "Status")),
                   paused=field(event, "Paused") == "1", paused_reason=field(event, "PausedReason"),
                   in_call=field(event, "InCall") == "1", calls_taken=number(event, "CallsTaken"),
                   last_call=number(event, "LastCall"), last_pause=number(event, "LastPause"),
                   wrapup_seconds=number(event, "Wrapuptime"))


def events_named(messages: Iterable[Event], name: str) -> list[Event]:
    """The events called ``name`` in a list answer (QueueStatus, CoreShowChannels)."""
    return [m for m in messages if field(m, "Event") == name]


# -- Asterisk's start (CoreStatus) --------------------------------------------------------------
#: How CoreStatus writes when Asterisk started: CoreStartupDate and CoreStartupTime (manager.c's strftime).
STARTUP_FORMAT = "%Y-%m-%d %H:%M:%S"
_STARTUP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def startup_epoch_function(status: Event) -> str | None:
    """The Getvar variable that turns a CoreStatus answer's start back into a Unix time: ``STRPTIME(...)`` with no
    zone, so Asterisk reads it in the zone it wrote it in (its root's ``/etc/localtime``, which need not be this
    machine's or the province's), DST included. None when the answer has no start of that shape (nothing else
    ever goes into the function)."""
    local = f"{field(status, 'CoreStartupDate')} {field(status, 'CoreStartupTime')}"
    return f"STRPTIME({local},,{STARTUP_FORMAT})" if _STARTUP.fullmatch(local) else None


def uptime_seconds(started: str, now: str) -> int | None:
    """Seconds Asterisk has run, from the Getvar values of its start and of ``EPOCH`` (both its clock's Unix
    times, as ``core show uptime seconds`` counts); None when either is not a number or the start is later."""
    try:
        seconds = int(now.strip()) - int(started.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


# -- channel lists (CoreShowChannel rows) -----------------------------------------------------
def channel_with_id(rows: Iterable[Event], uniqueid: str) -> Event | None:
    """The row of the channel whose Uniqueid is ``uniqueid``."""
    return next((row for row in rows if field(row, "Uniqueid") == uniqueid), None)


def bridge_id(row: Event) -> str:
    """The bridge a channel is in ('' when none)."""
    return field(row, "BridgeId")


def is_endpoint_channel(name: str, endpoint: str) -> bool:
    """Whether channel ``name`` is PJSIP ``endpoint``'s own (``PJSIP/op-lan-0000001a``): the name, then Asterisk's
    8 hex digits, so that op-lan's check never takes op-lan-2's channel."""
    return re.fullmatch(rf"PJSIP/{re.escape(endpoint)}-[0-9a-f]{{8}}", name) is not None


def endpoint_channel(rows: Iterable[Event], endpoint: str, *, bridge: str = "", linkedid: str = "") -> str | None:
    """The channel name of PJSIP ``endpoint`` in ``bridge``, or in the call ``linkedid``; None if none."""
    for row in rows:
        if not is_endpoint_channel(field(row, "Channel"), endpoint):
            continue
        if (bridge and bridge_id(row) == bridge) or (linkedid and field(row, "Linkedid") == linkedid):
            return field(row, "Channel")
    return None


# -- actions built for a fire-and-forget sender (AmiListener.send) ----------------------------
def play_dtmf(channel: str, digit: str, duration_ms: int) -> dict[str, str]:
    """The action that "presses" ``digit`` on ``channel``, as if the caller had keyed it.

    ``Async: false`` is for panoramisk 1.4, not Asterisk (which ignores it): PlayDTMF answers
    "DTMF successfully queued", and panoramisk reads the action's ``Async`` header for any answer
    ending so (Originate's), failing with a KeyError that drops the connection when it is absent.
    """
    return {"Action": "PlayDTMF", "Channel": channel, "Digit": digit, "Duration": str(duration_ms),
            "Receive": "yes", "Async": "false"}


def queue_penalty(queue: str, interface: str, penalty: int) -> dict[str, str]:
    """The action that sets the penalty of the member ``interface`` (``PJSIP/op-a``) in ``queue``."""
    return {"Action": "QueuePenalty", "Interface": interface, "Penalty": str(penalty), "Queue": queue}
