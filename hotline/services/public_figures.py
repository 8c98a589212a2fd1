"""The figures of a month on the public transparency page (public_site/figures.py), and its open data.

Each figure is the one ``hotline report`` and the console's reports compute for that month, from the same
functions (hotline/services/report_queries.py, definitions in hotline/domain/reports.py): requests received per
channel and per category, answered on time per agency, overdue, satisfaction from the post-call survey. The one
figure of its own is the median working hours to answer, counted on the clock the tickets' deadlines are counted
on (hotline/domain/tickets/deadlines.py). A month is computed once and kept in this process for ``ttl`` seconds.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.domain.errors import HotlineError
from hotline.domain.reports import CallSums, median
from hotline.domain.tickets.deadlines import DeadlineClock
from hotline.services.report_queries import answer_instants, day_sums, ticket_figures_sql

#: The call figures the page shows (the survey's and how many calls came): the report's keys.
CALL_KEYS = ("calls", "surveys", "satisfied_share", "normal_share", "not_satisfied_share")
FIRST_MONTH = "2000-01"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthError(HotlineError, ValueError):
    """A month the page cannot show; ``vi`` says why and what to write."""


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of ``month`` ("2026-11")."""
    found = _MONTH.match(month)
    if not found or not 1 <= int(found[2]) <= 12:
        raise MonthError(f"{month[:20]!r} is not a month; write YYYY-MM",
                         vi=f"Tháng «{month[:20]}» không hợp lệ: hãy viết năm-tháng, ví dụ 2026-11.")
    first = date(int(found[1]), int(found[2]), 1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def last_complete_month(today: date) -> str:
    """The month before ``today``'s."""
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def checked_month(value: str | None, today: date) -> str:
    """``value`` if it is a complete month the page may show (default: the last complete one)."""
    if not value:
        return last_complete_month(today)
    month_days(value)
    if value > last_complete_month(today) or value < FIRST_MONTH:
        raise MonthError(f"{value} is not a complete month",
                         vi=f"Chưa có số liệu tháng {value[5:]}/{value[:4]}: trang chỉ công bố các tháng đã kết "
                            f"thúc (gần nhất là {last_complete_month(today)}).")
    return value


@dataclass
class PublicFigures:
    """A month's figures on ``sessions``, each month kept ``ttl`` seconds in this process."""

    sessions: sessionmaker[Session]
    deadlines: DeadlineClock
    tz: tzinfo
    now: Callable[[], datetime]
    ttl: float = 300.0
    monotonic: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def month(self, month: str) -> dict[str, Any]:
        """The figures of ``month`` (checked by ``checked_month``), from the cache while they are fresh."""
        with self._lock:
            kept = self._cache.get(month)
            if kept and kept[0] > self.monotonic():
                return kept[1]
            figures = self._compute(month)
            self._cache = {k: v for k, v in self._cache.items() if v[0] > self.monotonic()}
            self._cache[month] = (self.monotonic() + self.ttl, figures)
            return figures

    def _compute(self, month: str) -> dict[str, Any]:
        first, last = month_days(month)
        now = self.now()
        calls = sum(day_sums(self.sessions, first, last, self.tz).values(), CallSums()).figures(0.0)
        hours = [self.deadlines.working_hours(r, a) for r, a in answer_instants(self.sessions, first, last, self.tz)]
        return {"month": month, "from": first.isoformat(), "to": last.isoformat(), "timezone": str(self.tz),
                "computed_at": now.astimezone(self.tz).isoformat(timespec="seconds"),
                "calls": {k: calls[k] for k in CALL_KEYS},
                "tickets": ticket_figures_sql(self.sessions, first, last, self.tz, now),
                "answered": len(hours), "median_answer_hours": median(hours)}
