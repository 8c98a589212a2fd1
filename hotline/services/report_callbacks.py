"""The report's call-back and calls-out figures added up by the database, per day, ISO week or month (hotline time)
and for the whole period, with the definitions of ``hotline/domain/reports_callbacks.py``; the median time to call
back is the database's too (window functions, the same SQL on SQLite and PostgreSQL)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from hotline.adapters.db.models import Call, CallbackRequest
from hotline.domain.reports_callbacks import NOT_REACHED, CallbackSums, OutboundSums
from hotline.domain.vocabulary import CallbackStatus, Direction, Disposition
from hotline.services.report_queries import local_day, period_bounds, seconds_between

TOTAL = "total"


def period_sql(s: Session, period: str | None, column: Any, tz: tzinfo, start: datetime) -> Any:
    """SQL for the key ``hotline.domain.reports.period_key`` gives ``column``'s instant: 2026-11-25, 2026-W48 or
    2026-11; ``None``: one key for the whole period."""
    if period is None:
        return literal_column(f"'{TOTAL}'")
    day = local_day(s, column, tz, start)
    if period == "day":
        return day
    if period == "month":
        return func.substr(day, 1, 7)
    if period != "week":
        raise ValueError(f"period: day, week or month, not {period!r}")
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(str(tz), column), 'IYYY-"W"IW')
    thursday = func.date(day, "-3 days", "weekday 4")     # the ISO week's Thursday: its year is the week's year
    return func.printf("%s-W%02d", func.strftime("%Y", thursday),
                       (cast(func.strftime("%j", thursday), Integer) - 1) // 7 + 1)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def callback_figures(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
                     period: str | None = None) -> dict[str, dict[str, Any]]:
    """The call-back figures of the call-backs asked between ``first`` and ``last``, by period key (``period``
    None: one row, ``"total"``)."""
    start, end = period_bounds(first, last, tz)
    out_call = aliased(Call)
    cb = CallbackRequest
    with sessions() as s:
        key = period_sql(s, period, cb.requested_at, tz, start).label("period_key")
        answered = func.coalesce(out_call.answered_at, cb.offered_at)
        timed = and_(cb.status == CallbackStatus.COMPLETED, answered.is_not(None))
        wait = seconds_between(s, cb.requested_at, answered)

        def scoped(*columns: Any) -> Any:
            return (select(*columns).select_from(cb).outerjoin(out_call, out_call.call_id == cb.out_call)
                    .where(cb.requested_at >= start, cb.requested_at < end))
        not_reached = cb.status.in_(NOT_REACHED)
        rows = s.execute(scoped(
            key, func.count(cb.id), _count(cb.status == CallbackStatus.COMPLETED), _count(not_reached),
            _count(and_(not_reached, cb.ticket_code.is_not(None), cb.ticket_code != "")),
            _count(cb.status == CallbackStatus.FAILED), _count(cb.status.in_(CallbackStatus.OPEN)), _count(timed),
            func.coalesce(func.sum(case((timed, wait), else_=0.0)), 0.0)).group_by(literal_column("period_key"))).all()
        sums = {str(r[0]): CallbackSums(int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]),
                                        float(r[8])) for r in rows}
        # the median per key: each timed wait numbered in its key's order; the middle one, or the two middle ones
        waits = scoped(key, wait.label("wait")).where(timed).subquery()
        ranked = select(waits.c.period_key, waits.c.wait,
                        func.row_number().over(partition_by=waits.c.period_key, order_by=waits.c.wait).label("n"),
                        func.count().over(partition_by=waits.c.period_key).label("of")).subquery()
        medians = {str(k): round(float(m), 1) for k, m in s.execute(
            select(ranked.c.period_key, func.avg(ranked.c.wait))
            .where(or_(ranked.c.n == (ranked.c.of + 1) // 2, ranked.c.n == (ranked.c.of + 2) // 2))
            .group_by(ranked.c.period_key))}
    return {k: sums[k].figures(medians.get(k)) for k in sorted(sums)}


def outbound_figures(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
                     period: str | None = None) -> dict[str, dict[str, Any]]:
    """Calls out that started between ``first`` and ``last``, by period key (None: ``"total"``): how many,
    answered, and how many per disposition."""
    start, end = period_bounds(first, last, tz)
    with sessions() as s:
        key = period_sql(s, period, Call.started_at, tz, start).label("period_key")
        answered = or_(Call.answered_at.is_not(None), Call.disposition == Disposition.OUT_ANSWERED)
        rows = s.execute(select(key, Call.disposition, func.count(Call.id), _count(answered))
                         .where(Call.direction == Direction.OUT, Call.started_at >= start, Call.started_at < end)
                         .group_by(literal_column("period_key"), Call.disposition)).all()
    sums: dict[str, OutboundSums] = {}
    for k, disposition, n, ok in rows:
        sums[str(k)] = sums.get(str(k), OutboundSums()) + OutboundSums(int(n), int(ok), {str(disposition): int(n)})
    return {k: sums[k].figures() for k in sorted(sums)}


def calls_out_now(sessions: sessionmaker[Session], now: datetime, within_hours: float = 4.0) -> int:
    """Calls out in progress (the wallboard's "Đang gọi ra"): rows of calls out not yet ended, started within
    ``within_hours`` (a row whose end never came is closed by the ARI app's reconciler within a minute or so)."""
    with sessions() as s:
        return s.scalar(select(func.count(Call.id)).where(
            Call.direction == Direction.OUT, Call.ended_at.is_(None),
            Call.started_at >= now - timedelta(hours=within_hours), Call.started_at <= now)) or 0


def callback_report(sessions: sessionmaker[Session], first: date, last: date, tz: tzinfo,
                    by: Iterable[str] = ()) -> dict[str, Any]:
    """The report's ``callbacks`` and ``calls_out``: each its ``total`` (zeros when there were none) and, for each
    of ``by``'s periods (day, week, month), ``days``/``weeks``/``months``: rows with the period's key."""
    out: dict[str, Any] = {}
    for name, figures, empty in (("callbacks", callback_figures, CallbackSums().figures(None)),
                                 ("calls_out", outbound_figures, OutboundSums().figures())):
        section: dict[str, Any] = {"total": figures(sessions, first, last, tz).get(TOTAL, empty)}
        for period in ("day", "week", "month"):
            if period in by:
                rows = figures(sessions, first, last, tz, period)
                section[f"{period}s"] = [{period: k, **v} for k, v in rows.items()]
        out[name] = section
    return out
