"""What an app_queue AMI event says about a call's row (pure: event in, update out).

The row is keyed by the caller channel's ``Uniqueid`` (= ``calls.call_id``); the
operator's leg (``DestUniqueid``, a PJSIP or Local channel) is never a key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.adapters.ami import Event, number
from hotline.adapters.ami import field as header
from hotline.domain.vocabulary import Disposition

#: Dispositions the queue may replace: the call is still in the IVR or waiting.
REPLACEABLE = frozenset({Disposition.IN_PROGRESS, Disposition.TO_QUEUE})

#: AgentComplete's Reason -> Call.hangup_by ("transfer" says nothing about who hung up).
HANGUP_BY = {"caller": "caller", "agent": "operator"}


@dataclass(frozen=True)
class CallUpdate:
    """Columns to write on one call.

    ``first`` columns are written only while still empty (the first queue visit wins,
    so a repeated event changes nothing); ``values`` are written always; the
    disposition only replaces one of ``REPLACEABLE``.
    """

    call_id: str
    event: str
    first: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    disposition: str | None = None


def call_update(event: Event, now: datetime) -> CallUpdate | None:
    """The update an AMI event asks for on its caller's Call row, or None."""
    name = header(event, "Event")
    call_id = header(event, "Uniqueid")
    if not call_id:
        return None
    if name == "QueueCallerJoin":
        return CallUpdate(call_id, name, first={"queued_at": now})
    if name == "QueueEntry":   # a caller already waiting when the monitor (re)connected
        return CallUpdate(call_id, name, first={"queued_at": now - timedelta(seconds=number(event, "Wait"))})
    if name == "AgentConnect":
        return CallUpdate(call_id, name,
                          first={"queue_answered_at": now, "operator": header(event, "MemberName") or None},
                          values={"queue_outcome": "answered"}, disposition=Disposition.ANSWERED)
    if name == "QueueCallerAbandon":
        return CallUpdate(call_id, name, values={"queue_left_at": now, "queue_outcome": "abandoned"},
                          disposition=Disposition.ABANDONED_QUEUE)
    if name == "QueueCallerLeave":
        return CallUpdate(call_id, name, values={"queue_left_at": now})
    if name == "AgentComplete":
        values: dict[str, Any] = {"talk_seconds": float(number(event, "TalkTime"))}
        who = HANGUP_BY.get(header(event, "Reason").lower())
        if who:
            values["hangup_by"] = who
        return CallUpdate(call_id, name, values=values)
    return None
