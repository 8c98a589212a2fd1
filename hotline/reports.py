"""The call-centre figures (``hotline report``): pure functions over call and transfer rows.

Definitions (the standard contact-centre ones; also in the README):

- **Offered** (cuộc gọi vào hàng đợi): calls that entered the operator queue (``queued_at`` set).
- **Answered** (đã trả lời): offered calls an operator picked up (``queue_answered_at`` set).
- **Abandoned** (bỏ máy khi chờ): the caller hung up while waiting (``queue_outcome`` = abandoned).
  **Short abandons** (bỏ máy trong 5 giây): the abandoned calls that left within 5 s of
  queueing; they are *included* in Abandoned and shown apart, and they are *not* removed
  from any denominator.
- **Abandon rate**: abandoned ÷ offered.
- **Service level** (mức phục vụ 20 giây): calls answered within 20 s of ``queued_at``
  (answer − queued ≤ 20 s) ÷ offered (every offered call, short abandons included).
- **ASA**, average speed of answer (thời gian chờ trung bình): mean of
  ``queue_answered_at − queued_at`` over answered calls.
- **AHT**, average handle time (thời gian xử lý trung bình): mean of ``talk_seconds`` plus the
  configured wrap-up seconds, over answered calls whose talk time is known.
- **Transfers per desk**: Transfer rows grouped by target; answered = the desk picked up
  (``answered_at`` set, or outcome answered/completed); answer rate = answered ÷ attempts.
- **Satisfaction** (hài lòng): surveys answered = calls with a score 1, 2 or 3; the shares of
  1 (satisfied), 2 (normal) and 3 (not satisfied) among them.

A call counts on the day (hotline time zone) it started; a transfer on the day it started.
Per operator: the calls that operator answered, and the transfers that operator requested.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from .db.models import Call, Ticket, Transfer

SERVICE_LEVEL_SECONDS = 20.0
SHORT_ABANDON_SECONDS = 5.0
ANSWERED_TRANSFER_OUTCOMES = frozenset({"answered", "completed"})


@dataclass(frozen=True)
class CallRow:
    """What the figures need of a call."""

    call_id: str
    started_at: datetime
    queued_at: datetime | None = None
    queue_answered_at: datetime | None = None
    queue_left_at: datetime | None = None
    queue_outcome: str | None = None
    operator: str | None = None
    talk_seconds: float | None = None
    survey_score: int | None = None


@dataclass(frozen=True)
class TransferRow:
    """What the figures need of a transfer attempt."""

    target: str
    started_at: datetime
    answered_at: datetime | None = None
    requested_by: str | None = None
    outcome: str | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None or self.outcome in ANSWERED_TRANSFER_OUTCOMES


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


@dataclass(frozen=True)
class CallSums:
    """The counts and sums the call figures are made of: added up per row, per day in SQL, or per
    period from days (``+``); ``figures()`` is the one place the definitions turn them into figures."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    within_sl: int = 0            # answered within SERVICE_LEVEL_SECONDS of queueing
    waits: int = 0                # answered calls with both instants (ASA's denominator)
    wait_seconds: float = 0.0
    talks: int = 0                # answered calls whose talk time is known (AHT's denominator)
    talk_seconds: float = 0.0
    satisfied: int = 0
    normal: int = 0
    not_satisfied: int = 0

    def __add__(self, other: CallSums) -> CallSums:
        return CallSums(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @classmethod
    def of(cls, calls: Iterable[CallRow]) -> CallSums:
        calls = list(calls)
        offered = [c for c in calls if c.queued_at is not None]
        answered = [c for c in offered if c.queue_answered_at is not None]
        abandoned = [c for c in offered if c.queue_outcome == "abandoned"]
        short = [c for c in abandoned if c.queue_left_at is not None and c.queued_at is not None
                 and _seconds(c.queued_at, c.queue_left_at) <= SHORT_ABANDON_SECONDS]
        waits = [_seconds(c.queued_at, c.queue_answered_at) for c in answered
                 if c.queued_at is not None and c.queue_answered_at is not None]
        talks = [c.talk_seconds for c in answered if c.talk_seconds is not None]
        scores = [c.survey_score for c in calls if c.survey_score in (1, 2, 3)]
        return cls(len(offered), len(answered), len(abandoned), len(short),
                   sum(1 for w in waits if w <= SERVICE_LEVEL_SECONDS), len(waits), sum(waits), len(talks),
                   sum(talks), scores.count(1), scores.count(2), scores.count(3))

    def figures(self, wrapup_seconds: float) -> dict[str, Any]:
        surveys = self.satisfied + self.normal + self.not_satisfied
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "abandon_rate": _ratio(self.abandoned, self.offered),
            "answered_within_20s": self.within_sl,
            "service_level": _ratio(self.within_sl, self.offered),
            "asa_seconds": round(self.wait_seconds / self.waits, 1) if self.waits else None,
            "aht_seconds": round(self.talk_seconds / self.talks + wrapup_seconds, 1) if self.talks else None,
            "surveys": surveys,
            "satisfied_share": _ratio(self.satisfied, surveys),
            "normal_share": _ratio(self.normal, surveys),
            "not_satisfied_share": _ratio(self.not_satisfied, surveys),
        }


def call_figures(calls: Iterable[CallRow], wrapup_seconds: float) -> dict[str, Any]:
    """Offered, answered, abandoned, service level, ASA, AHT and satisfaction over ``calls``."""
    return CallSums.of(calls).figures(wrapup_seconds)


def survey_figures(calls: Iterable[CallRow]) -> dict[str, Any]:
    scores = [c.survey_score for c in calls if c.survey_score in (1, 2, 3)]
    return {
        "surveys": len(scores),
        "satisfied_share": _ratio(scores.count(1), len(scores)),
        "normal_share": _ratio(scores.count(2), len(scores)),
        "not_satisfied_share": _ratio(scores.count(3), len(scores)),
    }


def transfer_figures(transfers: Iterable[TransferRow]) -> list[dict[str, Any]]:
    """Attempts, answered and answer rate per desk (target), sorted by target."""
    by_target: dict[str, list[TransferRow]] = defaultdict(list)
    for t in transfers:
        by_target[t.target].append(t)
    out = []
    for target in sorted(by_target):
        rows = by_target[target]
        answered = sum(1 for t in rows if t.answered)
        out.append({"target": target, "attempts": len(rows), "answered": answered,
                    "answer_rate": _ratio(answered, len(rows))})
    return out


def build_report(calls: list[CallRow], transfers: list[TransferRow], tz: tzinfo, wrapup_seconds: float,
                 by: tuple[str, ...] = ("day", "operator")) -> dict[str, Any]:
    """The whole report: totals, per day and/or per operator, transfers per desk."""
    report: dict[str, Any] = {"wrapup_seconds": wrapup_seconds,
                              "total": call_figures(calls, wrapup_seconds),
                              "transfers": transfer_figures(transfers)}
    for period in ("day", "week", "month"):
        if period in by:
            report[f"{period}s"] = _by_period(calls, transfers, period_key(period, tz), period, wrapup_seconds)
    if "operator" in by:
        report["operators"] = _grouped([c for c in calls if c.operator], transfers,
                                       lambda c: c.operator or "", lambda t: t.requested_by, "operator",
                                       wrapup_seconds)
    return report


def _by_period(calls: list[CallRow], transfers: list[TransferRow], key: Callable[[datetime], str], name: str,
               wrapup_seconds: float) -> list[dict[str, Any]]:
    def call_key(c: CallRow) -> str:
        return key(c.started_at)

    def transfer_key(t: TransferRow) -> str | None:
        return key(t.started_at)
    return _grouped(calls, transfers, call_key, transfer_key, name, wrapup_seconds)


def _grouped(calls: list[CallRow], transfers: list[TransferRow], call_key: Callable[[CallRow], str],
             transfer_key: Callable[[TransferRow], str | None], name: str,
             wrapup_seconds: float) -> list[dict[str, Any]]:
    call_groups: dict[str, list[CallRow]] = defaultdict(list)
    transfer_groups: dict[str, list[TransferRow]] = defaultdict(list)
    for c in calls:
        call_groups[call_key(c)].append(c)
    for t in transfers:
        key = transfer_key(t)
        if key:
            transfer_groups[key].append(t)
    rows = []
    for key in sorted(set(call_groups) | set(transfer_groups)):
        group = transfer_groups.get(key, [])
        answered = sum(1 for t in group if t.answered)
        rows.append({name: key, **call_figures(call_groups.get(key, []), wrapup_seconds),
                     "transfers": len(group), "transfers_answered": answered})
    return rows


def period_key(period: str, tz: tzinfo) -> Callable[[datetime], str]:
    """The label of the day (2026-11-25), ISO week (2026-W48) or month (2026-11) of an instant."""
    if period == "day":
        return lambda at: at.astimezone(tz).date().isoformat()
    if period == "week":
        def week(at: datetime) -> str:
            year, number, _ = at.astimezone(tz).isocalendar()
            return f"{year}-W{number:02d}"
        return week
    if period == "month":
        return lambda at: at.astimezone(tz).strftime("%Y-%m")
    raise ValueError(f"period: day, week or month, not {period!r}")


@dataclass(frozen=True)
class TicketRow:
    """What the ticket figures need of a ticket."""

    received_at: datetime
    category: str
    channel: str
    agency: str | None
    status: str
    due_at: datetime
    answered_at: datetime | None = None


OPEN_STATUSES = ("new", "assigned", "in_progress")


def ticket_figures(tickets: Iterable[TicketRow], now: datetime) -> dict[str, Any]:
    """Tickets received per category and per channel; per agency: assigned, answered, answered on time
    (answered at or before the due time), the on-time rate over the answered ones, and overdue (still
    open after the due time, or answered after it)."""
    rows = list(tickets)
    by_category: dict[str, int] = defaultdict(int)
    by_channel: dict[str, int] = defaultdict(int)
    agencies: dict[str, list[TicketRow]] = defaultdict(list)
    for t in rows:
        by_category[t.category] += 1
        by_channel[t.channel] += 1
        if t.agency:
            agencies[t.agency].append(t)
    per_agency = []
    for key in sorted(agencies):
        group = agencies[key]
        answered = [t for t in group if t.answered_at is not None]
        on_time = sum(1 for t in answered if t.answered_at is not None and t.answered_at <= t.due_at)
        overdue = sum(1 for t in group if (t.status in OPEN_STATUSES and t.due_at < now)
                      or (t.answered_at is not None and t.answered_at > t.due_at))
        per_agency.append({"agency": key, "assigned": len(group), "answered": len(answered), "on_time": on_time,
                           "on_time_rate": _ratio(on_time, len(answered)), "overdue": overdue})
    open_overdue = sum(1 for t in rows if t.status in OPEN_STATUSES and t.due_at < now)
    return {"received": len(rows), "by_category": dict(sorted(by_category.items())),
            "by_channel": dict(sorted(by_channel.items())), "agencies": per_agency, "overdue_open": open_overdue}


def ticket_figures_sql(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
                       now: datetime) -> dict[str, Any]:
    """``ticket_figures`` of the tickets received between ``first`` and ``last``, counted by the
    database (a month is ~100,000 tickets: no rows loaded); tests check both give the same."""
    start, end = period_bounds(first, last, tz)
    period = and_(Ticket.received_at >= start, Ticket.received_at < end)
    is_open = and_(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at < now)
    late = and_(Ticket.answered_at.is_not(None), Ticket.answered_at > Ticket.due_at)

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
    with sessions() as s:
        received, overdue_open = s.execute(select(func.count(Ticket.id), count(is_open)).where(period)).one()
        by_category = dict(s.execute(select(Ticket.category, func.count(Ticket.id)).where(period)
                                     .group_by(Ticket.category)).all())
        by_channel = dict(s.execute(select(Ticket.channel, func.count(Ticket.id)).where(period)
                                    .group_by(Ticket.channel)).all())
        agencies = s.execute(select(Ticket.agency, func.count(Ticket.id), func.count(Ticket.answered_at),
                                    count(and_(Ticket.answered_at.is_not(None), Ticket.answered_at <= Ticket.due_at)),
                                    count(or_(is_open, late)))
                             .where(period, Ticket.agency.is_not(None)).group_by(Ticket.agency)
                             .order_by(Ticket.agency)).all()
    return {"received": int(received), "by_category": {k: int(v) for k, v in sorted(by_category.items())},
            "by_channel": {k: int(v) for k, v in sorted(by_channel.items())},
            "agencies": [{"agency": a, "assigned": int(n), "answered": int(ans), "on_time": int(ok),
                          "on_time_rate": _ratio(int(ok), int(ans)), "overdue": int(over)}
                         for a, n, ans, ok, over in agencies],
            "overdue_open": int(overdue_open)}


def load_ticket_rows(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo) -> list[TicketRow]:
    """Tickets received between ``first`` and ``last`` (whole days, hotline time)."""
    start, end = period_bounds(first, last, tz)
    with sessions() as s:
        q = (select(Ticket.received_at, Ticket.category, Ticket.channel, Ticket.agency, Ticket.status, Ticket.due_at,
                    Ticket.answered_at).where(Ticket.received_at >= start, Ticket.received_at < end))
        return [TicketRow(*r) for r in s.execute(q)]


def period_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in the hotline's time zone."""
    return (datetime.combine(first, time(0), tz), datetime.combine(last + timedelta(days=1), time(0), tz))


def day_sums(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo) -> dict[str, CallSums]:
    """``CallSums`` per day (hotline time) between ``first`` and ``last``, added up by the database.

    The same definitions as ``CallSums.of`` (tests/unit/test_reports.py checks they agree on both
    databases), for pages that must not load a month of rows: a day is the call's start in the
    hotline's time zone (its UTC offset at ``first``: Vietnam has no daylight saving).
    """
    start, end = period_bounds(first, last, tz)
    with sessions() as s:
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            day = func.to_char(func.timezone(str(tz), Call.started_at), "YYYY-MM-DD")

            def seconds(a: Any, b: Any) -> Any:
                return func.extract("epoch", b - a)
        else:
            offset = int((start.utcoffset() or timedelta(0)).total_seconds())
            day = func.date(Call.started_at, f"{offset:+d} seconds")

            def seconds(a: Any, b: Any) -> Any:
                return (func.julianday(b) - func.julianday(a)) * 86400.0
        queued, answered = Call.queued_at.is_not(None), Call.queue_answered_at.is_not(None)
        abandoned = and_(queued, Call.queue_outcome == "abandoned")
        wait = seconds(Call.queued_at, Call.queue_answered_at)

        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))
        q = (select(day.label("day"), count(queued), count(and_(queued, answered)), count(abandoned),
                    count(and_(abandoned, Call.queue_left_at.is_not(None),
                               seconds(Call.queued_at, Call.queue_left_at) <= SHORT_ABANDON_SECONDS)),
                    count(and_(queued, answered, wait <= SERVICE_LEVEL_SECONDS)), count(and_(queued, answered)),
                    func.coalesce(func.sum(case((and_(queued, answered), wait), else_=0.0)), 0.0),
                    count(and_(queued, answered, Call.talk_seconds.is_not(None))),
                    func.coalesce(func.sum(case((and_(queued, answered), Call.talk_seconds), else_=0.0)), 0.0),
                    count(Call.survey_score == 1), count(Call.survey_score == 2), count(Call.survey_score == 3))
             .where(Call.started_at >= start, Call.started_at < end).group_by(day))
        return {str(r[0]): CallSums(int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), float(r[7]),
                                    int(r[8]), float(r[9]), int(r[10]), int(r[11]), int(r[12])) for r in s.execute(q)}


def load_rows(sessions: sessionmaker[Session], first: date, last: date,
              tz: tzinfo) -> tuple[list[CallRow], list[TransferRow]]:
    """Calls and transfers that started between ``first`` and ``last`` (whole days, hotline time)."""
    start, end = period_bounds(first, last, tz)
    # Only the columns the figures use (a month of a busy province is ~100,000 calls: no ORM objects).
    with sessions() as s:
        calls = [CallRow(*r) for r in s.execute(
            select(Call.call_id, Call.started_at, Call.queued_at, Call.queue_answered_at, Call.queue_left_at,
                   Call.queue_outcome, Call.operator, Call.talk_seconds, Call.survey_score)
            .where(Call.started_at >= start, Call.started_at < end).order_by(Call.started_at))]
        transfers = [TransferRow(*r) for r in s.execute(
            select(Transfer.target, Transfer.started_at, Transfer.answered_at, Transfer.requested_by, Transfer.outcome)
            .where(Transfer.started_at >= start, Transfer.started_at < end).order_by(Transfer.started_at))]
    return calls, transfers
