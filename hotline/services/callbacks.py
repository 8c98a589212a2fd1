"""Call-backs waiting callers asked for (key 2 in the queue): each a row (CallbackRequest) from the moment it is
asked, so that it outlives the call application; its place in the queue is a placeholder channel the ARI app
puts there (ari_app/call.py), which an operator answers like a caller before the citizen is called."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Call, CallbackRequest
from hotline.domain.vocabulary import CallbackStatus

if TYPE_CHECKING:
    from hotline.services.tickets import TicketService

#: Dial's DIALSTATUS of a call-back not answered, as a ticket says it.
NOT_REACHED = {"noanswer": "không nhấc máy", "busy": "máy bận", "congestion": "không liên lạc được",
               "chanunavail": "không liên lạc được", "cancel": "cuộc gọi bị hủy", "hangup": "cuộc gọi bị ngắt"}


class Callbacks:
    """The call-backs' rows."""

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.now = now

    def request(self, call_id: str, number: str, position: int) -> int:
        """Keep the call-back the caller of ``call_id`` asked for; its id. LookupError: no such call (yet)."""
        with self.sessions.begin() as s:
            call = s.scalar(select(Call).where(Call.call_id == call_id))
            if call is None:
                raise LookupError(f"no call {call_id!r} in the call log")
            row = CallbackRequest(call_id=call.id, number=number, position=position, requested_at=self.now(),
                                  status=CallbackStatus.WAITING, attempts=0)
            s.add(row)
            s.flush()
            return int(row.id)

    def placed(self, callback_id: int, channel: str) -> None:
        """Its placeholder waits in the queue as ``channel``."""
        self._update(callback_id, place_channel=channel)

    def taken(self, callback_id: int, operator: str) -> None:
        """An operator answered its placeholder: the citizen is being called (one more attempt)."""
        with self.sessions.begin() as s:
            row = s.get(CallbackRequest, callback_id)
            if row is None:
                raise LookupError(f"no call-back {callback_id}")
            row.status, row.operator, row.offered_at = CallbackStatus.CALLING, operator or row.operator, self.now()
            row.attempts += 1

    def ended(self, callback_id: int, dial_status: str, out_call: str, tickets: TicketService | None = None) -> str:
        """The call out to the citizen ended with Dial's ``dial_status``; the call-back's status. Not answered:
        a ticket (with ``tickets``), so that an operator calls again; a second report changes nothing."""
        row = self.get(callback_id)
        if row is None:
            raise LookupError(f"no call-back {callback_id}")
        if row["status"] in CallbackStatus.ENDED:
            return str(row["status"])
        outcome = (dial_status or "hangup").lower()
        if dial_status == "ANSWER":
            self._update(callback_id, status=CallbackStatus.COMPLETED, outcome=outcome, out_call=out_call or None,
                         ended_at=self.now())
            return CallbackStatus.COMPLETED
        self._update(callback_id, out_call=out_call or None)
        self._unreached(row, CallbackStatus.NO_ANSWER, outcome, tickets,
                        f"tổng đài đã gọi lại nhưng công dân không nghe máy ({NOT_REACHED.get(outcome, outcome)})")
        return CallbackStatus.NO_ANSWER

    def left(self, callback_id: int, queue_status: str, tickets: TicketService | None = None) -> str:
        """Its placeholder left the queue unanswered (QUEUESTATUS: LEAVEEMPTY, FULL, TIMEOUT…): a ticket, so that
        an operator calls the citizen back; a call-back already taken or ended is left as it is."""
        row = self.get(callback_id)
        if row is None:
            raise LookupError(f"no call-back {callback_id}")
        if row["status"] != CallbackStatus.WAITING:
            return str(row["status"])
        self._unreached(row, CallbackStatus.NO_OPERATOR, (queue_status or "left").lower(), tickets,
                        "không còn tổng đài viên trực để gọi lại trong ca")
        return CallbackStatus.NO_OPERATOR

    def _unreached(self, row: dict[str, Any], status: str, outcome: str, tickets: TicketService | None,
                   why: str) -> None:
        code = None
        if tickets is not None:
            asked = row["requested_at"].astimezone(tickets.deadlines.tz).strftime("%H:%M ngày %d/%m/%Y")
            code = tickets.create(channel="phone", caller=row["number"], call_id=row["call_id"], actor="system",
                                  content=f"Công dân đăng ký được gọi lại lúc {asked} (phím 2 khi chờ máy) nhưng {why}."
                                          f" Cần gọi lại cho công dân theo số {row['number']}.")["code"]
        self._update(row["id"], status=status, outcome=outcome, ended_at=self.now(), ticket_code=code)

    def failed(self, callback_id: int, why: str) -> None:
        self._update(callback_id, status=CallbackStatus.FAILED, outcome=why, ended_at=self.now())

    def get(self, callback_id: int) -> dict[str, Any] | None:
        with self.sessions() as s:
            row = s.get(CallbackRequest, callback_id)
            if row is None:
                return None
            return {"id": row.id, "call_id": row.call.call_id if row.call else None, "number": row.number,
                    "position": row.position, "status": row.status, "place_channel": row.place_channel,
                    "attempts": row.attempts, "operator": row.operator, "requested_at": row.requested_at,
                    "offered_at": row.offered_at, "ended_at": row.ended_at, "outcome": row.outcome,
                    "out_call": row.out_call, "ticket_code": row.ticket_code}

    def of_call(self, call_id: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            ids = s.scalars(select(CallbackRequest.id).join(Call).where(Call.call_id == call_id)
                            .order_by(CallbackRequest.id)).all()
        return [r for r in (self.get(i) for i in ids) if r is not None]

    def _update(self, callback_id: int, **fields: Any) -> None:
        with self.sessions.begin() as s:
            row = s.get(CallbackRequest, callback_id)
            if row is None:
                raise LookupError(f"no call-back {callback_id}")
            for key, value in fields.items():
                setattr(row, key, value)
