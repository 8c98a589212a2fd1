"""The report's figures added up by the database (a month of a busy province is ~100,000 calls and
tickets: pages load no rows), with the definitions of ``hotline/domain/reports.py``; tests/unit/test_reports.py
checks on SQLite and PostgreSQL that both give the same figures."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Call, Operator, Ticket, TicketStatus, Transfer
from hotline.domain.reports import (
    ANSWERED_TRANSFER_OUTCOMES,
    OPEN_STATUSES,
    SERVICE_LEVEL_SECONDS,
    SHORT_ABANDON_SECONDS,
    TURNED_AWAY,
    AgencySums,
    CallRow,
    CallSums,
    TicketRow,
    TicketSums,
    TransferRow,
)
from hotline.domain.vocabulary import Direction


def period_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in the hotline's time zone."""
    return (datetime.combine(first, time(0), tz), datetime.combine(last + timedelta(days=1), time(0), tz))


def local_day(s: Session, column: Any, tz: tzinfo, start: datetime) -> Any:
    """SQL for the day (YYYY-MM-DD, hotline time) of ``column``; on SQLite by the zone's UTC offset at
    ``start`` (Vietnam has no daylight saving)."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(str(tz), column), "YYYY-MM-DD")
    offset = int((start.utcoffset() or timedelta(0)).total_seconds())
    return func.date(column, f"{offset:+d} seconds")


def seconds_between(s: Session, a: Any, b: Any) -> Any:
    """SQL for the seconds from instant ``a`` to instant ``b`` (PostgreSQL or SQLite)."""
    if s.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", b - a)
    return (func.julianday(b) - func.julianday(a)) * 86400.0


def day_sums(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo) -> dict[str, CallSums]:
    """``CallSums`` per day (hotline time) between ``first`` and ``last``, added up by the database.

    The same definitions as ``CallSums.of`` (tests/unit/test_reports.py checks they agree on both
    databases), for pages that must not load a month of rows: a day is the call's start in the
    hotline's time zone.
    """
    return _sums_by(sessions, first, last, tz, by_operator=False)


def operator_sums(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo) -> dict[str, CallSums]:
    """``CallSums`` per operator of the calls each answered between ``first`` and ``last`` (the report's
    ``operators``, added up by the database)."""
    return _sums_by(sessions, first, last, tz, by_operator=True)


def operator_transfers(sessions: sessionmaker[Session], first: date, last: date,
                       tz: tzinfo) -> dict[str, tuple[int, int]]:
    """(attempts, answered) of the transfers each operator requested between ``first`` and ``last``."""
    start, end = period_bounds(first, last, tz)
    answered = or_(Transfer.answered_at.is_not(None), Transfer.outcome.in_(sorted(ANSWERED_TRANSFER_OUTCOMES)))
    with sessions() as s:
        rows = s.execute(select(Transfer.requested_by, func.count(Transfer.id),
                                func.sum(case((answered, 1), else_=0)))
                         .where(Transfer.started_at >= start, Transfer.started_at < end,
                                Transfer.requested_by.is_not(None), Transfer.requested_by != "")
                         .group_by(Transfer.requested_by)).all()
    return {str(who): (int(n), int(ok or 0)) for who, n, ok in rows}


def _sums_by(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
             by_operator: bool) -> dict[str, CallSums]:
    start, end = period_bounds(first, last, tz)
    with sessions() as s:
        def seconds(a: Any, b: Any) -> Any:
            return seconds_between(s, a, b)
        key = Call.operator if by_operator else local_day(s, Call.started_at, tz, start)
        queued, answered = Call.queued_at.is_not(None), Call.queue_answered_at.is_not(None)
        abandoned = and_(queued, Call.queue_outcome == "abandoned")
        wait = seconds(Call.queued_at, Call.queue_answered_at)

        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))
        q = (select(key.label("key"), count(queued), count(and_(queued, answered)), count(abandoned),
                    count(and_(abandoned, Call.queue_left_at.is_not(None),
                               seconds(Call.queued_at, Call.queue_left_at) <= SHORT_ABANDON_SECONDS)),
                    count(and_(queued, answered, wait <= SERVICE_LEVEL_SECONDS)), count(and_(queued, answered)),
                    func.coalesce(func.sum(case((and_(queued, answered), wait), else_=0.0)), 0.0),
                    count(and_(queued, answered, Call.talk_seconds.is_not(None))),
                    func.coalesce(func.sum(case((and_(queued, answered), Call.talk_seconds), else_=0.0)), 0.0),
                    count(Call.survey_score == 1), count(Call.survey_score == 2), count(Call.survey_score == 3),
                    func.count(Call.id), count(Call.disposition == TURNED_AWAY))
             .where(Call.started_at >= start, Call.started_at < end, Call.direction == Direction.IN).group_by(key))
        if by_operator:
            q = q.where(Call.operator.is_not(None), Call.operator != "")
        return {str(r[0]): CallSums(int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), float(r[7]),
                                    int(r[8]), float(r[9]), int(r[10]), int(r[11]), int(r[12]), int(r[13]),
                                    int(r[14])) for r in s.execute(q)}


def load_rows(sessions: sessionmaker[Session], first: date, last: date,
              tz: tzinfo) -> tuple[list[CallRow], list[TransferRow]]:
    """Calls and transfers that started between ``first`` and ``last`` (whole days, hotline time)."""
    start, end = period_bounds(first, last, tz)
    # Only the columns the figures use (a month of a busy province is ~100,000 calls: no ORM objects).
    with sessions() as s:
        calls = [CallRow(*tuple(r)) for r in s.execute(
            select(Call.call_id, Call.started_at, Call.queued_at, Call.queue_answered_at, Call.queue_left_at,
                   Call.queue_outcome, Call.operator, Call.talk_seconds, Call.survey_score, Call.disposition)
            .where(Call.started_at >= start, Call.started_at < end, Call.direction == Direction.IN)
            .order_by(Call.started_at))]
        transfers = [TransferRow(*r) for r in s.execute(
            select(Transfer.target, Transfer.started_at, Transfer.answered_at, Transfer.requested_by, Transfer.outcome)
            .where(Transfer.started_at >= start, Transfer.started_at < end).order_by(Transfer.started_at))]
    return calls, transfers


def ticket_day_sums(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
                    now: datetime) -> dict[str, TicketSums]:
    """``TicketSums`` per day received (hotline time) between ``first`` and ``last``, counted by the database."""
    start, end = period_bounds(first, last, tz)
    late_open = and_(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at < now)
    late = or_(late_open, and_(Ticket.answered_at.is_not(None), Ticket.answered_at > Ticket.due_at))
    on_time = and_(Ticket.answered_at.is_not(None), Ticket.answered_at <= Ticket.due_at)

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
    with sessions() as s:
        day = local_day(s, Ticket.received_at, tz, start).label("day")
        period = (Ticket.received_at >= start, Ticket.received_at < end)
        days = {str(d): TicketSums(int(n), int(over)) for d, n, over in s.execute(
            select(day, func.count(Ticket.id), count(late_open)).where(*period).group_by(day))}
        parts: dict[str, dict[str, Any]] = {d: {"by_category": {}, "by_channel": {}, "agencies": {}} for d in days}
        for column, name in ((Ticket.category, "by_category"), (Ticket.channel, "by_channel")):
            for d, key, n in s.execute(select(day, column, func.count(Ticket.id)).where(*period)
                                       .group_by(day, column)):
                parts[str(d)][name][str(key)] = int(n)
        for d, key, n, answered, ok, over in s.execute(
                select(day, Ticket.agency, func.count(Ticket.id), func.count(Ticket.answered_at), count(on_time),
                       count(late)).where(*period, Ticket.agency.is_not(None)).group_by(day, Ticket.agency)):
            parts[str(d)]["agencies"][str(key)] = AgencySums(int(n), int(answered), int(ok), int(over))
    return {d: TicketSums(sums.received, sums.overdue_open, **parts[d]) for d, sums in sorted(days.items())}


def ticket_figures_sql(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
                       now: datetime) -> dict[str, Any]:
    """``ticket_figures`` of the tickets received between ``first`` and ``last``, counted by the database."""
    return sum(ticket_day_sums(sessions, first, last, tz, now).values(), TicketSums()).figures()


def load_ticket_rows(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo) -> list[TicketRow]:
    """Tickets received between ``first`` and ``last`` (whole days, hotline time)."""
    start, end = period_bounds(first, last, tz)
    with sessions() as s:
        q = (select(Ticket.received_at, Ticket.category, Ticket.channel, Ticket.agency, Ticket.status, Ticket.due_at,
                    Ticket.answered_at).where(Ticket.received_at >= start, Ticket.received_at < end))
        return [TicketRow(*r) for r in s.execute(q)]


def overdue_open_tickets(sessions: sessionmaker[Session], now: datetime) -> int:
    """How many tickets are still open after their due time (the wallboard's figure)."""
    with sessions() as s:
        return s.scalar(select(func.count(Ticket.id)).where(Ticket.status.in_(TicketStatus.OPEN),
                                                            Ticket.due_at < now)) or 0


def operator_names(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Each operator's display name by its name (the reports' tables name operators)."""
    with sessions() as s:
        return {str(n): str(d) for n, d in s.execute(select(Operator.name, Operator.display_name))}


def answer_instants(sessions: sessionmaker[Session], first: date, last: date,
                    tz: tzinfo) -> list[tuple[datetime, datetime]]:
    """(received, answered) of the tickets received between ``first`` and ``last`` that have an answer."""
    start, end = period_bounds(first, last, tz)
    with sessions() as s:
        rows = s.execute(select(Ticket.received_at, Ticket.answered_at).where(
            Ticket.received_at >= start, Ticket.received_at < end, Ticket.answered_at.is_not(None))).all()
    return [(r, a) for r, a in rows if a is not None]
