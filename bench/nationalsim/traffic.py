"""From a population to calls: a year's calls, their split between staffed and closed hours, the
average working day hour by hour, and the busy hour the system is sized for."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from hotline.config.settings import HolidaySettings
from hotline.domain.calendar import HolidayCalendar

from .assumptions import HOURLY_SHARE, Assumptions
from .provinces import Country, Province


@dataclass(frozen=True)
class Demand:
    """One province's calls in a year and at its busy hour."""

    calls_per_year: float
    staffed_calls_per_year: float      # working days, 07:00-23:00: operators answer
    closed_calls_per_year: float       # nights, weekends, holidays: the system takes a message
    messages_per_year: float
    staffed_calls_per_day: float       # the mean working day
    busy_hour_calls: float             # the busiest hour of the busiest ordinary day

    def hour_calls(self, hour: int) -> float:
        """Calls in ``hour`` (7..22) of the mean working day."""
        return self.staffed_calls_per_day * HOURLY_SHARE.get(hour, 0.0)


@lru_cache(maxsize=8)
def working_days(year: int) -> int:
    """Monday-Friday days of ``year`` that are no public holiday, swapped working days included (the
    hotline's own calendar: lunar Tết and Giỗ Tổ Hùng Vương computed)."""
    calendar = HolidayCalendar(HolidaySettings())
    day, count = date(year, 1, 1), 0
    while day.year == year:
        count += calendar.is_working_day(day, [0, 1, 2, 3, 4])
        day += timedelta(days=1)
    return count


def busy_hour_factor() -> float:
    """The busiest hour's calls over the mean staffed hour's (16 hours a day)."""
    return max(HOURLY_SHARE.values()) * len(HOURLY_SHARE)


def rate_per_1000(country: Country, assumptions: Assumptions) -> float:
    """Calls a year per 1,000 residents: the option given, or the high seed's."""
    if assumptions.calls_per_1000_per_year is not None:
        return assumptions.calls_per_1000_per_year
    return country.high.per_1000_per_year


def demand(province: Province, rate: float, assumptions: Assumptions) -> Demand:
    """The calls of ``province`` at ``rate`` calls a year per 1,000 residents."""
    calls = province.population / 1000 * rate
    staffed = calls * assumptions.staffed_share
    closed = calls - staffed
    per_day = staffed / working_days(assumptions.year)
    busy = per_day * assumptions.peak_day_factor * max(HOURLY_SHARE.values())
    return Demand(calls_per_year=calls, staffed_calls_per_year=staffed, closed_calls_per_year=closed,
                  messages_per_year=closed * assumptions.closed_message_share,
                  staffed_calls_per_day=per_day, busy_hour_calls=busy)
