"""Call-backs waiting callers asked for (key 2 in the queue): each a row (CallbackRequest) from the moment it is
asked, so that it outlives the call application; its place in the queue is a placeholder channel the ARI app
puts there (ari_app/call.py), which an operator answers like a caller before the citizen is called."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Call, CallbackRequest
from hotline.domain.vocabulary import CallbackStatus

if TYPE_CHECKING:
    from hotline.config.schema import CallbackSettings
    from hotline.services.tickets import TicketService

#: Dial's DIALSTATUS of a call-back not answered, as a ticket says it.
NOT_REACHED = {"noanswer": "không nhấc máy", "busy": "máy bận", "congestion": "không liên lạc được",
               "chanunavail": "không liên lạc được", "cancel": "cuộc gọi bị hủy", "hangup": "cuộc gọi bị ngắt",
               "closed": "đến lượt gọi lại thì đã hết giờ trực", "no_route": "tổng đài không có đường gọi ra",
               "lost": "cuộc gọi bị ngắt do sự cố tổng đài", "outlimit": "tổng đài đang có quá nhiều cuộc gọi ra",
               "stale": "đến lượt gọi lại thì đã sang ngày khác",
               "replaced": "chỗ chờ gọi lại bị mất nhiều lần do sự cố tổng đài"}
#: DIALSTATUS of a try the citizen did not answer (lost: the call out's channel went without a report, as when
#: Asterisk dies; outlimit: refused by [callback] max_out before any dial): tried again while ``attempts`` are left.
RETRIED = ("noanswer", "busy", "congestion", "chanunavail", "lost", "outlimit")


class Callbacks:
    """The call-backs' rows; a citizen not reached is tried ``attempts`` times, ``retry`` apart."""

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime], attempts: int = 1,
                 retry: timedelta = timedelta(minutes=10)) -> None:
        self.sessions = sessions
        self.now = now
        self.attempts = attempts
        self.retry = retry

    @classmethod
    def configured(cls, sessions: sessionmaker[Session], now: Callable[[], datetime],
                   settings: CallbackSettings) -> Callbacks:
        """With the tries of ``[callback]`` (attempts, retry_minutes)."""
        return cls(sessions, now, settings.attempts, timedelta(minutes=settings.retry_minutes))

    def request(self, call_id: str, number: str, position: int, place: str | None = None) -> int:
        """Keep the call-back the caller of ``call_id`` asked for; its id. ``place``: the id its placeholder is
        about to get, written before it exists, so that a sweep never takes a live placeholder for a lost one
        (the app dying between the two). LookupError: no such call (yet)."""
        with self.sessions.begin() as s:
            call = s.scalar(select(Call).where(Call.call_id == call_id))
            if call is None:
                raise LookupError(f"no call {call_id!r} in the call log")
            now = self.now()
            row = CallbackRequest(call_id=call.id, number=number, position=position, requested_at=now,
                                  status=CallbackStatus.WAITING, attempts=0, place_channel=place,
                                  placed_at=now if place else None)
            s.add(row)
            s.flush()
            return int(row.id)

    def placed(self, callback_id: int, channel: str) -> None:
        """Its placeholder waits in the queue as ``channel``."""
        self._update(callback_id, place_channel=channel, placed_at=self.now())

    def claim(self, callback_id: int, was: str | None, channel: str) -> bool:
        """Take a waiting call-back whose placeholder was ``was`` (None: none) to put ``channel`` in the queue
        for it; False when another sweep, an operator or a report got there first (one atomic UPDATE)."""
        same = CallbackRequest.place_channel.is_(None) if was is None else CallbackRequest.place_channel == was
        with self.sessions.begin() as s:
            done = s.execute(update(CallbackRequest).where(
                CallbackRequest.id == callback_id, CallbackRequest.status == CallbackStatus.WAITING, same)
                .values(place_channel=channel, placed_at=self.now(), next_try_at=None,
                        placements=func.coalesce(CallbackRequest.placements, 0) + 1))
            return bool(getattr(done, "rowcount", 0) == 1)

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """Waiting call-backs whose next try is due: no placeholder holds their place."""
        return self._waiting(CallbackRequest.next_try_at <= now)

    def placed_before(self, before: datetime) -> list[dict[str, Any]]:
        """Waiting call-backs whose placeholder went in the queue (or should have) before ``before``: if it is
        gone (Asterisk restarted, the app died before placing it), nothing else brings them back."""
        return self._waiting(CallbackRequest.next_try_at.is_(None),
                             func.coalesce(CallbackRequest.placed_at, CallbackRequest.requested_at) <= before)

    def calling_before(self, before: datetime) -> list[dict[str, Any]]:
        """Call-backs an operator took before ``before`` whose call out has not reported its end yet."""
        return self._rows(CallbackStatus.CALLING, CallbackRequest.offered_at <= before)

    def _waiting(self, *where: Any) -> list[dict[str, Any]]:
        return self._rows(CallbackStatus.WAITING, *where)

    def _rows(self, status: str, *where: Any) -> list[dict[str, Any]]:
        with self.sessions() as s:
            ids = s.scalars(select(CallbackRequest.id).where(CallbackRequest.status == status, *where)
                            .order_by(CallbackRequest.requested_at)).all()
        return [r for r in (self.get(i) for i in ids) if r is not None]

    def call_lost(self, callback_id: int, tickets: TicketService | None = None) -> str:
        """Its call out's channel (the placeholder's first half, which dialled) is gone without a report of how it
        ended (Asterisk died, the AGI server was down): completed if the call out's row says the citizen answered,
        otherwise a try not answered (``lost``: tried again, or the ticket)."""
        row = self.get(callback_id)
        if row is None or row["status"] != CallbackStatus.CALLING:
            return str(row["status"]) if row else ""
        with self.sessions() as s:
            answered = s.scalar(select(Call.answered_at).where(Call.call_id == row["place_channel"]))
        return self.ended(callback_id, "ANSWER" if answered else "LOST", row["place_channel"] or "", tickets)

    def taken(self, callback_id: int, operator: str, place: str = "") -> bool:
        """An operator answered its placeholder ``place`` (its first half's id; "" for any): the citizen is to be
        called (one more attempt). One atomic UPDATE: only a waiting call-back whose placeholder is ``place`` is
        taken, so that a second placeholder (or one answered after the call-back ended) never calls the citizen
        twice; False: not taken, the citizen must not be called. LookupError: no such call-back."""
        where = [CallbackRequest.id == callback_id, CallbackRequest.status == CallbackStatus.WAITING]
        if place:
            where.append(CallbackRequest.place_channel == place)
        with self.sessions.begin() as s:
            done = s.execute(update(CallbackRequest).where(*where).values(
                status=CallbackStatus.CALLING, offered_at=self.now(), attempts=CallbackRequest.attempts + 1,
                operator=func.coalesce(operator or None, CallbackRequest.operator)))
            if getattr(done, "rowcount", 0) == 1:
                return True
            if s.get(CallbackRequest, callback_id) is None:
                raise LookupError(f"no call-back {callback_id}")
            return False

    def ended(self, callback_id: int, dial_status: str, out_call: str, tickets: TicketService | None = None) -> str:
        """The call out to the citizen ended with Dial's ``dial_status``; the call-back's status. Not answered
        (RETRIED) with tries left: waiting again, its next try ``retry`` from now; otherwise a ticket (with
        ``tickets``), so that an operator calls again. A second report of the same call out changes nothing."""
        row = self.get(callback_id)
        if row is None:
            raise LookupError(f"no call-back {callback_id}")
        if row["status"] in CallbackStatus.ENDED or (
                row["status"] == CallbackStatus.WAITING and out_call and row["out_call"] == out_call):
            return str(row["status"])
        outcome = (dial_status or "hangup").lower()
        row["tries"] = [*row["tries"], {"at": self.now().isoformat(), "outcome": outcome}]
        if dial_status == "ANSWER":
            self._update(callback_id, status=CallbackStatus.COMPLETED, outcome=outcome, out_call=out_call or None,
                         ended_at=self.now(), tries=row["tries"])
            return CallbackStatus.COMPLETED
        if outcome in RETRIED and max(row["attempts"], len(row["tries"])) < self.attempts:
            self._update(callback_id, status=CallbackStatus.WAITING, outcome=outcome, out_call=out_call or None,
                         tries=row["tries"], place_channel=None, next_try_at=self.now() + self.retry)
            return CallbackStatus.WAITING
        self._update(callback_id, out_call=out_call or None, tries=row["tries"])
        self._unreached(row, CallbackStatus.NO_ANSWER, outcome, tickets, "công dân không nghe máy")
        return CallbackStatus.NO_ANSWER

    def give_up(self, callback_id: int, why: str, tickets: TicketService | None = None) -> str:
        """A waiting call-back that cannot be tried now (``why``: closed, no_route) becomes a ticket."""
        row = self.get(callback_id)
        if row is None:
            raise LookupError(f"no call-back {callback_id}")
        if row["status"] != CallbackStatus.WAITING:
            return str(row["status"])
        status = CallbackStatus.NO_ANSWER if row["attempts"] else CallbackStatus.NO_OPERATOR
        self._unreached(row, status, why, tickets, NOT_REACHED.get(why, why))
        return status

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
            tz = tickets.deadlines.tz
            asked = row["requested_at"].astimezone(tz).strftime("%H:%M ngày %d/%m/%Y")
            tried = tries_said(row["tries"], tz)
            said = f"tổng đài đã gọi lại {tried} nhưng {why}" if tried else why
            code = tickets.create(channel="phone", caller=row["number"], call_id=row["call_id"], actor="system",
                                  content=f"Công dân đăng ký được gọi lại lúc {asked} (phím 2 khi chờ máy) nhưng "
                                          f"{said}. Cần gọi lại cho công dân theo số {row['number']}.")["code"]
        self._update(row["id"], status=status, outcome=outcome, ended_at=self.now(), ticket_code=code,
                     next_try_at=None)

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
                    "out_call": row.out_call, "ticket_code": row.ticket_code, "placed_at": row.placed_at,
                    "next_try_at": row.next_try_at, "tries": list(row.tries or []), "placements": row.placements or 0,
                    "node": row.call.asterisk_node if row.call else None}

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


def tries_said(tries: list[dict[str, str]], tz: tzinfo) -> str:
    """The calls out a call-back made, as a ticket says them: "3 lần (10:02 máy bận; 10:12 …)"; "" for none."""
    if not tries:
        return ""
    each = "; ".join(f"{datetime.fromisoformat(t['at']).astimezone(tz):%H:%M} "
                     f"{NOT_REACHED.get(t['outcome'], 'nghe máy' if t['outcome'] == 'answer' else t['outcome'])}"
                     for t in tries)
    return f"{len(tries)} lần ({each})"
