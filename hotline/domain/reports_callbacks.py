"""The report's call-back and calls-out figures (``hotline report``, the console's report page and its downloads):
what they mean, and the counts they are made of. The database adds the counts up
(hotline/services/report_callbacks.py); ``callback_sums``/``outbound_sums`` below say the same over rows, and
tests/unit/test_report_callbacks.py checks on SQLite and PostgreSQL that both agree.

- **Call-backs asked** (đăng ký gọi lại): CallbackRequest rows, counted on the day (hotline time) the caller asked
  (``requested_at``), whatever became of them.
- **Called back** (đã gọi lại được): status ``completed`` (the citizen answered the call out).
- **Not reached → ticket** (không liên lạc được, thành phiếu): status ``no_answer`` (the citizen did not answer,
  was busy or unreachable) or ``no_operator`` (the place left the queue unanswered); each became a ticket for an
  operator to follow up (``tickets`` counts those that carry its code).
- **Failed** (không giữ được): status ``failed`` (no placeholder, no outbound route); **open** (đang chờ, đang gọi):
  ``waiting`` or ``calling`` when the report is made.
- **Time to call back** (thời gian đến khi gọi lại được): from ``requested_at`` to the moment the citizen answered:
  the call out's own ``answered_at`` (written when the citizen picked up); when that call out has none (a row
  written before answers were recorded), the call-back's ``offered_at`` (the operator took it: the citizen's phone
  rang at once). Over called-back rows only; its mean and its median, in seconds.
- **Calls out** (cuộc gọi ra): Call rows with direction ``out`` (an operator calling a citizen from the console, or a
  call-back), counted on the day they started; **answered**: the citizen picked up (``answered_at`` set, or the
  disposition ``out_answered``); **per outcome**: by disposition (out_answered, out_no_answer, out_busy,
  out_failed, out_cancelled, out_refused; in_progress while it lasts).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any

from hotline.domain.reports import median
from hotline.domain.vocabulary import CallbackStatus, Disposition

NOT_REACHED = (CallbackStatus.NO_ANSWER, CallbackStatus.NO_OPERATOR)
#: The tables' columns (``hotline report``, the console's page and downloads): key, Vietnamese heading.
CALLBACK_COLUMNS = [("callbacks", "Đăng ký gọi lại"), ("callbacks_completed", "Đã gọi lại được"),
                    ("callback_completion_rate", "Tỉ lệ gọi lại được"),
                    ("callbacks_not_reached", "Không liên lạc được (thành phiếu)"),
                    ("callbacks_failed", "Không giữ được"), ("callbacks_open", "Đang chờ, đang gọi"),
                    ("callback_mean_seconds", "Thời gian đến khi gọi lại TB (giây)"),
                    ("callback_median_seconds", "Trung vị (giây)")]
CALL_OUT_COLUMNS = [("calls_out", "Cuộc gọi ra"), ("calls_out_answered", "Công dân nghe máy"),
                    ("calls_out_answer_rate", "Tỉ lệ nghe máy")]


@dataclass(frozen=True)
class CallbackRow:
    """What the figures need of a call-back: its status, when asked, and when the citizen answered (if known)."""

    requested_at: datetime
    status: str
    answered_at: datetime | None = None
    ticket_code: str | None = None


@dataclass(frozen=True)
class CallbackSums:
    """The counts of a period's call-backs; ``figures()`` turns them (and the median, which does not add up) into
    the report's figures."""

    asked: int = 0
    completed: int = 0
    not_reached: int = 0
    tickets: int = 0
    failed: int = 0
    open: int = 0
    timed: int = 0                  # called back with a known answer instant (the mean's denominator)
    wait_seconds: float = 0.0

    def __add__(self, other: CallbackSums) -> CallbackSums:
        return CallbackSums(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def figures(self, median_seconds: float | None) -> dict[str, Any]:
        return {"callbacks": self.asked, "callbacks_completed": self.completed,
                "callbacks_not_reached": self.not_reached, "callbacks_tickets": self.tickets,
                "callbacks_failed": self.failed, "callbacks_open": self.open,
                "callback_completion_rate": round(self.completed / self.asked, 4) if self.asked else None,
                "callback_mean_seconds": round(self.wait_seconds / self.timed, 1) if self.timed else None,
                "callback_median_seconds": median_seconds}


def callback_sums(rows: Iterable[CallbackRow]) -> tuple[CallbackSums, float | None]:
    """The counts and the median time to call back over ``rows`` (the definitions above)."""
    rows = list(rows)
    waits = [(r.answered_at - r.requested_at).total_seconds() for r in rows
             if r.status == CallbackStatus.COMPLETED and r.answered_at is not None]
    sums = CallbackSums(len(rows), sum(r.status == CallbackStatus.COMPLETED for r in rows),
                        sum(r.status in NOT_REACHED for r in rows),
                        sum(r.status in NOT_REACHED and bool(r.ticket_code) for r in rows),
                        sum(r.status == CallbackStatus.FAILED for r in rows),
                        sum(r.status in CallbackStatus.OPEN for r in rows), len(waits), sum(waits))
    return sums, median(waits)


@dataclass(frozen=True)
class OutboundSums:
    """A period's calls out: how many, answered, and how many per disposition (``+`` adds periods up)."""

    calls: int = 0
    answered: int = 0
    by_outcome: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: OutboundSums) -> OutboundSums:
        keys = {*self.by_outcome, *other.by_outcome}
        return OutboundSums(self.calls + other.calls, self.answered + other.answered,
                            {k: self.by_outcome.get(k, 0) + other.by_outcome.get(k, 0) for k in keys})

    def figures(self) -> dict[str, Any]:
        return {"calls_out": self.calls, "calls_out_answered": self.answered,
                "calls_out_answer_rate": round(self.answered / self.calls, 4) if self.calls else None,
                "calls_out_by_outcome": dict(sorted(self.by_outcome.items()))}


def outbound_sums(rows: Iterable[tuple[str, datetime | None]]) -> OutboundSums:
    """``rows``: (disposition, answered_at) of calls out."""
    total = OutboundSums()
    for disposition, answered_at in rows:
        answered = answered_at is not None or disposition == Disposition.OUT_ANSWERED
        total += OutboundSums(1, int(answered), {disposition: 1})
    return total


#: The outcomes of calls out in the order tables show them, Vietnamese (hotline/domain/labels.py has the rest).
OUTCOME_ORDER = (*Disposition.OUT, Disposition.IN_PROGRESS)
