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
- **Calls** (tổng cuộc gọi đến): every call row, whatever became of it; **turned away** (từ chối do
  bận): the calls over ``[capacity] max_calls`` that heard "all lines are busy" and were refused
  (disposition ``turned_away``), included in Calls.

- **Tickets** (phiếu): received per category and per channel; per agency: assigned, answered,
  answered on time (at or before the due time), the on-time rate over the answered ones, and overdue
  (still open after the due time, or answered after it); overdue open: still open after the due time.

A call counts on the day (hotline time zone) it started; a transfer on the day it started; a ticket
on the day it was received. Per operator: the calls that operator answered, and the transfers that
operator requested. The database adds the same figures up in ``hotline/services/report_queries.py``.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import astuple, dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from hotline.domain.vocabulary import Disposition, TicketStatus

SERVICE_LEVEL_SECONDS = 20.0
SHORT_ABANDON_SECONDS = 5.0
ANSWERED_TRANSFER_OUTCOMES = frozenset({"answered", "completed"})
TURNED_AWAY = Disposition.TURNED_AWAY


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
    disposition: str | None = None


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
    calls: int = 0                # every call row
    turned_away: int = 0          # refused over [capacity] max_calls

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
                   sum(talks), scores.count(1), scores.count(2), scores.count(3), len(calls),
                   sum(1 for c in calls if c.disposition == TURNED_AWAY))

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
            "calls": self.calls,
            "turned_away": self.turned_away,
        }


def call_figures(calls: Iterable[CallRow], wrapup_seconds: float) -> dict[str, Any]:
    """Offered, answered, abandoned, service level, ASA, AHT and satisfaction over ``calls``."""
    return CallSums.of(calls).figures(wrapup_seconds)


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


def period_label(period: str, key: str) -> str:
    """How a period's key reads for people: "2026-11-25" → "25/11/2026", "2026-W48" → "Tuần 48/2026",
    "2026-11" → "Tháng 11/2026" (the console's tables and exports, and ``hotline report``)."""
    if period == "week" and "-W" in key:
        year, week = key.split("-W")
        return f"Tuần {int(week)}/{year}"
    if period == "month" and len(key) == 7:
        return f"Tháng {key[5:7]}/{key[:4]}"
    if period == "day" and len(key) == 10:
        return date.fromisoformat(key).strftime("%d/%m/%Y")
    return key


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


def operator_rows(sums: dict[str, CallSums], transfers: dict[str, tuple[int, int]],
                  wrapup_seconds: float) -> list[dict[str, Any]]:
    """The report's ``operators`` rows from ``operator_sums`` and ``operator_transfers``."""
    return [{"operator": name, **sums.get(name, CallSums()).figures(wrapup_seconds),
             "transfers": transfers.get(name, (0, 0))[0], "transfers_answered": transfers.get(name, (0, 0))[1]}
            for name in sorted(set(sums) | set(transfers))]


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


OPEN_STATUSES = TicketStatus.OPEN


@dataclass(frozen=True)
class AgencySums:
    """One agency's ticket counts: assigned, answered, answered on time, overdue."""

    assigned: int = 0
    answered: int = 0
    on_time: int = 0
    overdue: int = 0

    def __add__(self, other: AgencySums) -> AgencySums:
        return AgencySums(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    return {k: a[k] + b[k] if k in a and k in b else a.get(k, b.get(k)) for k in {*a, *b}}


@dataclass(frozen=True)
class TicketSums:
    """The ticket counts of a day or a period (``+`` adds days up); ``figures()`` gives the figures."""

    received: int = 0
    overdue_open: int = 0
    by_category: Mapping[str, int] = field(default_factory=dict)
    by_channel: Mapping[str, int] = field(default_factory=dict)
    agencies: Mapping[str, AgencySums] = field(default_factory=dict)

    def __add__(self, other: TicketSums) -> TicketSums:
        return TicketSums(self.received + other.received, self.overdue_open + other.overdue_open,
                          _merge(self.by_category, other.by_category), _merge(self.by_channel, other.by_channel),
                          _merge(self.agencies, other.agencies))

    @classmethod
    def of(cls, tickets: Iterable[TicketRow], now: datetime) -> TicketSums:
        total = cls()
        for t in tickets:
            late_open = t.status in OPEN_STATUSES and t.due_at < now
            on_time = t.answered_at is not None and t.answered_at <= t.due_at
            late = late_open or (t.answered_at is not None and t.answered_at > t.due_at)
            agencies = {t.agency: AgencySums(1, int(t.answered_at is not None), int(on_time), int(late))} \
                if t.agency else {}
            total += cls(1, int(late_open), {t.category: 1}, {t.channel: 1}, agencies)
        return total

    def figures(self) -> dict[str, Any]:
        return {"received": self.received, "by_category": dict(sorted(self.by_category.items())),
                "by_channel": dict(sorted(self.by_channel.items())),
                "agencies": [{"agency": key, "assigned": a.assigned, "answered": a.answered, "on_time": a.on_time,
                              "on_time_rate": _ratio(a.on_time, a.answered), "overdue": a.overdue}
                             for key, a in sorted(self.agencies.items())],
                "overdue_open": self.overdue_open}


def ticket_figures(tickets: Iterable[TicketRow], now: datetime) -> dict[str, Any]:
    """Tickets received per category and per channel, per agency (assigned, answered, on time, on-time
    rate, overdue) and overdue open, over ``tickets``."""
    return TicketSums.of(tickets, now).figures()


def ticket_periods(tickets: Iterable[TicketRow], now: datetime, key: Callable[[datetime], str],
                   name: str) -> list[dict[str, Any]]:
    """``ticket_figures`` per period (``key`` of the received time: ``period_key``), oldest first."""
    groups: dict[str, list[TicketRow]] = defaultdict(list)
    for t in tickets:
        groups[key(t.received_at)].append(t)
    return [{name: k, **ticket_figures(groups[k], now)} for k in sorted(groups)]


def median(values: Iterable[float]) -> float | None:
    """The median of ``values`` rounded to 0.1 (None when there are none): the public page's "median working
    hours to answer"."""
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return round(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2, 1)
