"""What a call-back's channels tell the AGI server ([hotline-callback-connect], [hotline-outbound-call]): an
operator took the call-back (its placeholder answered), and how the call out to the citizen ended."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hotline.services.callbacks import Callbacks
from hotline.services.tickets import TicketService

from .server import Handler

log = logging.getLogger("agi.callbacks")


class CallbackHandlers:
    """The call-backs' rows as their calls go; a call-back unknown here is logged and left alone."""

    def __init__(self, callbacks: Callbacks, tickets: TicketService | None = None,
                 is_open: Callable[[], bool] = lambda: True) -> None:
        self.callbacks = callbacks
        self.tickets = tickets          # a call-back nobody could place becomes a ticket
        self.is_open = is_open          # staffed hours now: no citizen is called back outside them

    def routes(self) -> dict[str, Handler]:
        return {"callback_taken": self.callback_taken, "callback_end": self.callback_end,
                "callback_left": self.callback_left}

    def callback_taken(self, agi: Any, args: list[str]) -> None:
        """Args: the call-back's id, the operator (MEMBERNAME of its placeholder), the placeholder's id (its first
        half's UNIQUEID). Sets CALLBACK_TAKEN to 1 only when this placeholder took the waiting call-back, in
        staffed hours: the dialplan calls the citizen only then (any other answer, or none, calls nobody)."""
        callback_id, operator, place = (args + ["", "", ""])[:3]
        taken = False
        if not callback_id.isdigit():
            log.warning("callback_taken without a call-back id: %r", args)
        elif not self.is_open():
            became = self.callbacks.give_up(int(callback_id), "closed", self.tickets)
            log.info("call-back %s answered by %s after staffed hours: not called -> %s", callback_id,
                     operator or "?", became)
        else:
            taken = self.callbacks.taken(int(callback_id), operator, place)
            log.info("call-back %s %s by %s (placeholder %s)", callback_id, "taken" if taken else "NOT taken",
                     operator or "?", place or "?")
        agi.set_variable("CALLBACK_TAKEN", "1" if taken else "no")

    def callback_end(self, _agi: Any, args: list[str]) -> None:
        """Args: the call-back's id, DIALSTATUS of the call out, the call out's id."""
        callback_id, status, out_call = (args + ["", "", ""])[:3]
        if not callback_id.isdigit():
            log.warning("callback_end without a call-back id: %r", args)
            return
        became = self.callbacks.ended(int(callback_id), status, out_call, self.tickets)
        log.info("call-back %s: the call out %s ended %s -> %s", callback_id, out_call, status or "?", became)

    def callback_left(self, _agi: Any, args: list[str]) -> None:
        """Args: the call-back's id, QUEUESTATUS of its placeholder's Queue() (no operator took it)."""
        callback_id, status = (args + ["", ""])[:2]
        if not callback_id.isdigit():
            log.warning("callback_left without a call-back id: %r", args)
            return
        became = self.callbacks.left(int(callback_id), status, self.tickets)
        log.info("call-back %s: its place left the queue (%s) -> %s", callback_id, status or "?", became)
