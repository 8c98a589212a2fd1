"""Calling a citizen (back): an operator's click-to-call from the console, and what came of the call.

The console cannot place a call from the browser's own audio alone and keep the hotline's rules, so the hotline
places it: AMI Originate rings the operator's own phone (the console's softphone or a desk phone); once they pick
up, that channel dials the number through the dialplan's [hotline-outbound], the one door of every call out (the
same patterns as ``hotline.domain.numbers``, the hotline's number shown, the call recorded, a Call row with
direction "out"). The number is checked here first so the operator reads a refusal in Vietnamese; the dialplan
refuses it again on its own. A call placed from a ticket is on the ticket's timeline; the operator's outcome
(relayed, no answer, wrong number) goes through the ticket service.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hotline.adapters.ami import SyncAmi
from hotline.domain.errors import HotlineError
from hotline.domain.numbers import outbound_number
from hotline.domain.vocabulary import Context
from hotline.services.tickets import TicketService

#: How long the operator's own phone rings before the click-to-call gives up.
OPERATOR_RING_MS = 30_000


class OutboundError(HotlineError):
    """A call out that cannot be placed; the message says what to do instead."""


@dataclass(frozen=True)
class PlacedCall:
    """A call out asked of Asterisk: its call id (the operator's channel's, and the Call row's), the number."""

    call_id: str
    number: str
    operator: str
    ticket: str | None


@dataclass
class OutboundCalls:
    """Click-to-call on ``ami``, with ``dial`` the outbound route (``[callback] dial``; empty: none)."""

    ami: SyncAmi
    tickets: TicketService
    dial: str
    caller_id: str

    def place(self, *, operator: str, number: str, actor: str, ticket: str | None = None) -> PlacedCall:
        """Ring ``operator``'s phone, then call ``number`` from it (NumberRefused, OutboundError, TicketError)."""
        dialled = outbound_number(number).number
        if not self.dial:
            raise OutboundError("no route out: set [callback] dial in province.toml",
                                vi="Tổng đài chưa có đường gọi ra ([callback] dial): hãy báo quản trị hệ thống.")
        if not operator:
            raise OutboundError("this user has no phone (hotline users add … --operator NAME)",
                                vi="Tài khoản của bạn chưa gắn với máy điện thoại nào.")
        if ticket is not None and self.tickets.get(ticket) is None:
            raise OutboundError(f"no ticket {ticket}", vi=f"Không có phiếu mã {ticket}.")
        call_id = f"out-{uuid.uuid4().hex[:24]}"

        async def work(client: Any) -> None:
            await client.originate(f"PJSIP/{operator}", Context.OUTBOUND, exten=dialled, channel_id=call_id,
                                   caller_id=f'"Gọi {dialled}" <{dialled}>', timeout_ms=OPERATOR_RING_MS)
        self.ami.run(work)
        if ticket is not None:
            self.tickets.call_placed(ticket, call_id=call_id, number=dialled, actor=actor)
        return PlacedCall(call_id, dialled, operator, ticket)

    def outcome(self, ticket: str, outcome: str, *, actor: str, call_id: str = "") -> dict[str, Any]:
        """What came of the call (CallOutcome): relayed closes the answered ticket; the others are noted."""
        return self.tickets.call_outcome(ticket, outcome, actor=actor, call_id=call_id)
