"""When a ticket is due and when its reminders fire: pure functions of the calendar."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from hotline.config.settings import AgencyHours
from hotline.domain.calendar import HolidayCalendar, add_working_hours

#: Reminders to the agency at these shares of the deadline; escalation at the deadline.
REMINDER_SHARES = (0.5, 0.8)


@dataclass(frozen=True)
class DeadlineClock:
    """Counts the agencies' working hours (province.toml [agency_hours], holidays skipped)."""

    agency_hours: AgencyHours
    calendar: HolidayCalendar
    tz: tzinfo

    def due(self, received_at: datetime, hours: float) -> datetime:
        """``hours`` working hours after ``received_at``."""
        return add_working_hours(received_at, hours, self.agency_hours, self.calendar, self.tz)

    def milestones(self, received_at: datetime, hours: float) -> dict[str, datetime]:
        """The instants of the 50 % and 80 % reminders and of the deadline ("escalate")."""
        out = {f"remind_{int(share * 100)}": self.due(received_at, hours * share) for share in REMINDER_SHARES}
        out["escalate"] = self.due(received_at, hours)
        return out

    def working_hours(self, start: datetime, end: datetime) -> float:
        """The agencies' working hours from ``start`` to ``end`` (0 when ``end`` is not after ``start``): how
        long a ticket took to answer on the clock its deadline is counted on."""
        local, until = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta(0)
        day = local.date()
        while day <= until.date():
            if self.calendar.is_working_day(day, self.agency_hours.days):
                for period_start, period_end in self.agency_hours.periods:
                    begin = max(datetime.combine(day, period_start, tzinfo=self.tz), local)
                    finish = min(datetime.combine(day, period_end, tzinfo=self.tz), until)
                    total += max(finish - begin, timedelta(0))
            day += timedelta(days=1)
        return total.total_seconds() / 3600
