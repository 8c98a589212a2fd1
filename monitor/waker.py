"""Wakes callers waiting in app_queue the moment an operator can take them (pure decisions, no I/O).

app_queue does not react to an operator becoming free: a waiting caller looks again only once
a second (RECHECK), after a ring round nobody answered only after ``retry`` seconds, and not at
all while it hears a position or periodic announcement (several seconds). A DTMF key the caller
"presses" ends each of those waits at once: app_queue reads it, finds it is no exit key of the
queue's ``context`` (``[hotline-queue-keys]`` has no ``D``), and looks again. So when an operator
becomes free, the monitor emulates the key ``D`` on the channels of the callers whose turn it is
(AMI ``PlayDTMF`` with ``Receive: yes``): the first *n* callers not already ringing someone, *n*
free operators. app_queue still decides who is rung (longest idle first, no paused, busy or
wrapping-up operator); the waker only removes the waiting.

An operator is free here when logged in, not paused, not on a call, not ringing, the phone idle
(device state not in use or unknown) and after-call work over. app_queue ends wrap-up when
``time(NULL) - lastcall >= wrapuptime`` with ``lastcall`` in whole seconds, so the waker counts
it from the start of the second the call ended.

A key that ends an announcement is not enough: app_queue then goes on to its one-second wait
before it looks again. So a caller woken but not ringing 30 ms later is woken a second time
(only then: a second key sent at once could reach the operator of a call answered meanwhile).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.adapters.ami import play_dtmf
from hotline.domain.vocabulary import DeviceState

from .state import LivePicture, Member

log = logging.getLogger("monitor.waker")

WAKE_DIGIT = "D"              # not an extension of [hotline-queue-keys]: app_queue ignores it and looks again
WAKE_DURATION_MS = 100        # >= Asterisk's 80 ms minimum: a shorter key is held back until 80 ms
AGAIN_AFTER = 0.03            # a woken caller not ringing by then is woken once more (see below)
RETRY_AFTER = 1.0             # then at most once a second, as app_queue itself looks


@dataclass(frozen=True)
class Wake:
    call_id: str
    channel: str
    position: int
    operators_free: int


@dataclass
class QueueWaker:
    """Decides whom to wake; ``send`` does it (the AMI action), ``schedule`` arms the next look.

    Args:
        picture: the monitor's live picture (callers waiting, operators).
        send: called with each ``Wake``.
        schedule: ``schedule(delay_seconds, callback)``; a later call replaces the earlier one.
        clock: real time in seconds (app_queue's wrap-up counts on it, not on the hotline clock).
    """

    picture: LivePicture
    send: Callable[[Wake], None]
    schedule: Callable[[float, Callable[[], None]], None]
    clock: Callable[[], float]
    again_after: float = AGAIN_AFTER
    retry_after: float = RETRY_AFTER
    ready_at: dict[str, float] = field(default_factory=dict)             # operator -> end of wrap-up (real)
    woken: dict[str, tuple[float, int]] = field(default_factory=dict)    # call id -> last wake, wakes so far

    def call_ended(self, operator: str) -> None:
        """An operator's queue call ended (AgentComplete): wrap-up from the start of this second."""
        member = self.picture.members.get(operator)
        wrapup = (member.wrapup_seconds if member else 0) or self.picture.default_wrapup_seconds
        if wrapup > 0:
            self.ready_at[operator] = math.floor(self.clock()) + wrapup

    def free_operators(self, now: float) -> list[Member]:
        return [m for m in self.picture.members.values()
                if m.logged_in and not m.paused and not m.in_call and not m.call_id and not m.ringing_call
                and m.status in DeviceState.IDLE and self.ready_at.get(m.name, 0.0) <= now]

    def look(self) -> list[Wake]:
        """Wake whoever can be served now; arm the next look. Returns the wakes sent."""
        now = self.clock()
        for name in [n for n, t in self.ready_at.items() if t <= now]:
            del self.ready_at[name]
        ringing = {m.ringing_call for m in self.picture.members.values() if m.ringing_call}
        for call_id in [c for c in self.woken if c not in self.picture.waiting or c in ringing]:
            del self.woken[call_id]        # gone, or rung: a later wake starts afresh
        free = self.free_operators(now)
        waiting = sorted((w for w in self.picture.waiting.values() if w.call_id not in ringing),
                         key=lambda w: (w.position, w.since))
        wakes: list[Wake] = []
        due: list[float] = [t for t in self.ready_at.values() if waiting]
        for entry in waiting[:len(free)]:
            at, count = self.woken.get(entry.call_id, (-math.inf, 0))
            next_at = at + (self.again_after if count == 1 else self.retry_after)
            if now < next_at:
                due.append(next_at)
                continue
            self.woken[entry.call_id] = (now, count + 1)
            wake = Wake(entry.call_id, entry.channel, entry.position, len(free))
            wakes.append(wake)
            log.info("wake call=%s position %d: %d operator(s) free%s", entry.call_id, entry.position, len(free),
                     f" (again, {count + 1})" if count else "")
            self.send(wake)
            due.append(now + (self.again_after if count == 0 else self.retry_after))
        if due:
            self.schedule(max(min(due) - now, 0.0) + 0.005, self._look_again)
        return wakes

    def _look_again(self) -> None:
        self.look()


def wake_action(wake: Wake) -> dict[str, str]:
    """The AMI action that "presses" the wake key on a waiting caller's channel."""
    return play_dtmf(wake.channel, WAKE_DIGIT, WAKE_DURATION_MS)
