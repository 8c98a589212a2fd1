"""A caller's call and the call-backs it asked for, joined (read only): each CallbackRequest of the caller's call
(``callback_requests.call_id``), with its call out (``out_call`` → that Call row) and the call out's recording, so that
the recording of the call-back is listed beside the caller's call (``hotline calls --json``, the console's recordings
and ticket pages). The call-backs' own writes stay in hotline/services/callbacks.py."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, sessionmaker

from hotline.adapters.db.models import Call, CallbackRequest, Recording


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def callbacks_of_calls(sessions: sessionmaker[Session], call_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The call-backs each of ``call_ids`` asked for (oldest first), by the caller's call id; calls that asked none
    are left out. Each: its id, number, status, attempts, operator, times (ISO), ticket code, and its call out
    (``out_call``: id, disposition, answered, talk seconds) with its ``recording`` (path under the recordings root,
    duration; None when there is none or the retention job deleted it)."""
    wanted = sorted(set(call_ids))
    if not wanted:
        return {}
    caller, out = aliased(Call), aliased(Call)
    q = (select(caller.call_id, CallbackRequest, out, Recording)
         .join(caller, caller.id == CallbackRequest.call_id)
         .outerjoin(out, out.call_id == CallbackRequest.out_call)
         .outerjoin(Recording, Recording.call_id == out.id)
         .where(caller.call_id.in_(wanted)).order_by(CallbackRequest.requested_at, CallbackRequest.id))
    found: dict[str, list[dict[str, Any]]] = {}
    with sessions() as s:
        for call_id, cb, out_row, rec in s.execute(q):
            found.setdefault(call_id, []).append({
                "id": cb.id, "number": cb.number, "status": cb.status, "attempts": cb.attempts,
                "operator": cb.operator, "requested_at": _iso(cb.requested_at), "offered_at": _iso(cb.offered_at),
                "ended_at": _iso(cb.ended_at), "outcome": cb.outcome, "ticket_code": cb.ticket_code,
                "out_call": None if out_row is None else {
                    "call_id": out_row.call_id, "disposition": out_row.disposition,
                    "started_at": _iso(out_row.started_at), "answered_at": _iso(out_row.answered_at),
                    "talk_seconds": out_row.talk_seconds},
                "recording": None if rec is None or rec.deleted_at is not None else {
                    "path": rec.path, "duration": rec.duration}})
    return found


def callback_origins(sessions: sessionmaker[Session], out_call_ids: Iterable[str]) -> dict[str, str]:
    """For calls out that were call-backs: the caller's call id each called back, by the call out's id."""
    wanted = sorted(set(out_call_ids))
    if not wanted:
        return {}
    with sessions() as s:
        return {str(o): str(c) for o, c in s.execute(
            select(CallbackRequest.out_call, Call.call_id).join(Call, Call.id == CallbackRequest.call_id)
            .where(CallbackRequest.out_call.in_(wanted)))}
