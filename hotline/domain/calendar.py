"""Holidays, staffed hours and working-hour deadlines: pure functions of settings and a time.

The national holidays come from the ``holidays`` library (lunar Tết and Giỗ Tổ
Hùng Vương included, names in Vietnamese); the province adds the days decided
each year in ``[holidays]`` of province.toml. Nothing here reads the clock:
callers pass ``clock.now()``.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

import holidays as holidays_lib

from hotline.config.settings import AgencyHours, HolidaySettings, StaffedHours

ClosedReason = Literal["night", "weekend", "holiday"]
DAY_NAMES_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_SEARCH_DAYS = 800   # how far ahead to look for a working day before giving up


class HolidayCalendar:
    """Public holidays: the computed national ones plus the province's overrides."""

    def __init__(self, settings: HolidaySettings) -> None:
        self.computed = settings.computed
        self.extra = {entry.date: entry.name for entry in settings.extra}
        self.working_days = {entry.date: entry.name for entry in settings.working_days}
        self.removed = set(settings.removed)
        self._national = holidays_lib.Vietnam(language="vi")   # fills in each year on first use

    def _computed_name(self, d: date) -> str | None:
        if not self.computed or d in self.removed:
            return None
        name = self._national.get(d)
        return str(name) if name else None

    def holiday_name(self, d: date) -> str | None:
        """The Vietnamese name of the holiday on ``d``, or None on an ordinary or worked day."""
        if d in self.working_days:
            return None
        return self.extra.get(d) or self._computed_name(d)

    def is_holiday(self, d: date) -> bool:
        return self.holiday_name(d) is not None

    def is_swapped_working_day(self, d: date) -> bool:
        """A day worked in exchange for another day off (listed, or announced in the library)."""
        if d in self.working_days:
            return True
        if not self.computed or d in self.removed or d in self.extra:
            return False
        # the membership test loads d's year, which fills weekend_workdays
        return d not in self._national and d in self._national.weekend_workdays

    def is_working_day(self, d: date, weekdays: list[int]) -> bool:
        """A usual weekday that is no holiday, or a swapped working day."""
        if self.is_swapped_working_day(d):
            return True
        return d.weekday() in weekdays and not self.is_holiday(d)


class HotlineHours:
    """When operators answer: staffed hours on working days."""

    def __init__(self, staffed_hours: StaffedHours, calendar: HolidayCalendar, tz: tzinfo) -> None:
        self.hours = staffed_hours
        self.calendar = calendar
        self.tz = tz

    def _local(self, dt: datetime) -> datetime:
        return dt.replace(tzinfo=self.tz) if dt.tzinfo is None else dt.astimezone(self.tz)

    def is_open(self, dt: datetime) -> bool:
        """Staffed at ``dt`` (open is inclusive, close exclusive: 23:00 is closed)."""
        return self.closed_reason(dt) is None

    def closed_reason(self, dt: datetime) -> ClosedReason | None:
        """Why nobody answers at ``dt``, or None when staffed."""
        local = self._local(dt)
        day = local.date()
        if not self.calendar.is_working_day(day, self.hours.days):
            return "holiday" if self.calendar.is_holiday(day) else "weekend"
        if not self.hours.open <= local.time() < self.hours.close:
            return "night"
        return None

    def next_open(self, dt: datetime) -> datetime:
        """The next moment operators answer; ``dt`` itself when already open."""
        local = self._local(dt)
        if self.is_open(local):
            return local
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            start = datetime.combine(day, self.hours.open, tzinfo=self.tz)
            if start > local and self.calendar.is_working_day(day, self.hours.days):
                return start
        raise ValueError(f"no staffed day within {_SEARCH_DAYS} days of {local:%Y-%m-%d}")


def add_working_hours(start: datetime, hours: float, agency_hours: AgencyHours,
                      calendar: HolidayCalendar, tz: tzinfo) -> datetime:
    """The moment ``hours`` working hours after ``start``, counting only agency periods on working days.

    Args:
        start: when the clock starts (e.g. a ticket was forwarded); any time of day.
        hours: working hours to add, e.g. 8 or 48.
        agency_hours: the agencies' working days and periods.
        calendar: holidays and swapped working days.
        tz: the province's time zone; the result is in it.
    """
    if hours < 0:
        raise ValueError("hours must not be negative")
    local = start.replace(tzinfo=tz) if start.tzinfo is None else start.astimezone(tz)
    remaining = timedelta(hours=hours)
    if not remaining:
        return local
    for offset in range(_SEARCH_DAYS * 5):
        day = local.date() + timedelta(days=offset)
        if not calendar.is_working_day(day, agency_hours.days):
            continue
        for period_start, period_end in agency_hours.periods:
            begin = max(datetime.combine(day, period_start, tzinfo=tz), local)
            end = datetime.combine(day, period_end, tzinfo=tz)
            if end <= begin:
                continue
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
    raise ValueError(f"no working day found to count {hours} working hours from {local:%Y-%m-%d}")


def _clock_time(t: time) -> str:
    return f"{t.hour} giờ" if t.minute == 0 else f"{t.hour} giờ {t.minute} phút"


def describe_days(days: list[int]) -> str:
    """Weekdays in Vietnamese: "từ thứ Hai đến thứ Sáu", "thứ Hai, thứ Tư và thứ Sáu"."""
    days = sorted(set(days))
    if len(days) == 7:
        return "tất cả các ngày trong tuần"
    names = [DAY_NAMES_VI[d] for d in days]
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"từ {names[0]} đến {names[-1]}"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} và {names[-1]}"


def describe_staffed_hours(staffed_hours: StaffedHours) -> str:
    """The sentence read to callers, e.g. "từ 7 giờ đến 23 giờ, từ thứ Hai đến thứ Sáu"."""
    return (f"từ {_clock_time(staffed_hours.open)} đến {_clock_time(staffed_hours.close)}, "
            f"{describe_days(staffed_hours.days)}")
