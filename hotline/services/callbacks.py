"""Call-backs waiting callers asked for (key 2 in the queue): each a row (CallbackRequest) from the moment it is
asked, so that it outlives the call application; its place in the queue is a placeholder channel the ARI app
puts there (ari_app/call.py), which an operator answers like a caller before the citizen is called."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Call, CallbackRequest
from hotline.domain.vocabulary import CallbackStatus


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

    def ended(self, callback_id: int, dial_status: str, out_call: str) -> str:
        """The call out to the citizen ended with Dial's ``dial_status``; the call-back's status."""
        answered = dial_status == "ANSWER"
        status = CallbackStatus.COMPLETED if answered else CallbackStatus.NO_ANSWER
        self._update(callback_id, status=status, outcome=(dial_status or "hangup").lower(), out_call=out_call or None,
                     ended_at=self.now())
        return status

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
                    "out_call": row.out_call}

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
