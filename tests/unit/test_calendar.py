"""Holidays, the hours gate and working-hour deadlines, on real Vietnamese calendar dates."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.config.settings import AgencyHours, HolidayEntry, HolidaySettings, StaffedHours
from hotline.domain.calendar import (
    HolidayCalendar,
    HotlineHours,
    add_working_hours,
    describe_days,
    describe_staffed_hours,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAYS = [0, 1, 2, 3, 4]


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@pytest.fixture
def calendar() -> HolidayCalendar:
    return HolidayCalendar(HolidaySettings())


@pytest.fixture
def hours(calendar: HolidayCalendar) -> HotlineHours:
    return HotlineHours(StaffedHours(), calendar, VN)


def test_tet_2026_is_feb_16_to_20(calendar: HolidayCalendar) -> None:
    tet = [d for d in days(date(2026, 2, 10), date(2026, 2, 25)) if calendar.is_holiday(d)]
    assert tet == days(date(2026, 2, 16), date(2026, 2, 20))
    assert calendar.holiday_name(date(2026, 2, 16)) == "Giao thừa Tết Nguyên Đán"
    assert calendar.holiday_name(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert not calendar.is_working_day(date(2026, 2, 18), WEEKDAYS)
    assert calendar.is_working_day(date(2026, 2, 23), WEEKDAYS)


def test_tet_2027_is_feb_4_to_10(calendar: HolidayCalendar) -> None:
    tet = [d for d in days(date(2027, 1, 30), date(2027, 2, 15)) if calendar.is_holiday(d)]
    assert tet == days(date(2027, 2, 4), date(2027, 2, 10))
    assert calendar.holiday_name(date(2027, 2, 4)) == "29 Tết"
    assert calendar.holiday_name(date(2027, 2, 10)) == "Mùng năm Tết Nguyên Đán"


def test_national_day_and_its_adjacent_day(calendar: HolidayCalendar) -> None:
    assert calendar.holiday_name(date(2026, 9, 2)) == "Quốc khánh"
    assert calendar.holiday_name(date(2026, 9, 1)) == "Quốc khánh"
    assert calendar.holiday_name(date(2027, 9, 2)) == "Quốc khánh"
    assert calendar.holiday_name(date(2027, 9, 3)) == "Quốc khánh"
    assert not calendar.is_holiday(date(2027, 9, 1))


def test_hung_kings_day_is_lunar(calendar: HolidayCalendar) -> None:
    assert calendar.holiday_name(date(2027, 4, 16)) == "Ngày Giỗ Tổ Hùng Vương"


def test_weekends_are_not_working_days_nor_holidays(calendar: HolidayCalendar) -> None:
    saturday, sunday = date(2026, 3, 7), date(2026, 3, 8)
    assert not calendar.is_working_day(saturday, WEEKDAYS)
    assert not calendar.is_working_day(sunday, WEEKDAYS)
    assert not calendar.is_holiday(saturday)
    assert calendar.is_working_day(date(2026, 3, 9), WEEKDAYS)


def test_swapped_saturday_announced_in_the_library_is_worked(calendar: HolidayCalendar) -> None:
    assert calendar.is_working_day(date(2026, 8, 22), WEEKDAYS)      # worked for Monday 31/8
    assert calendar.holiday_name(date(2026, 8, 31)) == "Ngày nghỉ (thay cho ngày 22/08/2026)"


def test_province_overrides() -> None:
    calendar = HolidayCalendar(HolidaySettings(
        extra=[HolidayEntry(date=date(2027, 2, 11), name="Nghỉ Tết bổ sung")],
        working_days=[HolidayEntry(date=date(2027, 2, 20), name="Làm bù cho ngày 11/02"),
                      HolidayEntry(date=date(2027, 2, 10), name="Đi làm mùng năm")],
        removed=[date(2027, 11, 24), date(2026, 8, 22)],
    ))
    assert calendar.holiday_name(date(2027, 2, 11)) == "Nghỉ Tết bổ sung"
    assert not calendar.is_working_day(date(2027, 2, 11), WEEKDAYS)
    assert calendar.is_working_day(date(2027, 2, 20), WEEKDAYS)            # a Saturday
    assert not calendar.is_holiday(date(2027, 2, 10))                      # computed Tết day, worked
    assert calendar.is_working_day(date(2027, 2, 10), WEEKDAYS)
    assert not calendar.is_holiday(date(2027, 11, 24))
    assert calendar.is_working_day(date(2027, 11, 24), WEEKDAYS)
    assert not calendar.is_working_day(date(2026, 8, 22), WEEKDAYS)        # library swap removed


def test_without_computed_holidays_only_extra_days_count() -> None:
    calendar = HolidayCalendar(HolidaySettings(
        computed=False, extra=[HolidayEntry(date=date(2027, 3, 1), name="Ngày nghỉ riêng")]))
    assert not calendar.is_holiday(date(2027, 2, 8))
    assert calendar.is_holiday(date(2027, 3, 1))


@pytest.mark.parametrize(("when", "is_open", "reason"), [
    (at(2026, 3, 9, 6, 59), False, "night"),
    (at(2026, 3, 9, 7, 0), True, None),
    (at(2026, 3, 9, 22, 59), True, None),
    (at(2026, 3, 9, 23, 0), False, "night"),
    (at(2026, 3, 13, 12, 0), True, None),         # Friday
    (at(2026, 3, 14, 10, 0), False, "weekend"),   # Saturday
    (at(2026, 3, 15, 10, 0), False, "weekend"),   # Sunday
    (at(2027, 2, 8, 10, 0), False, "holiday"),    # Monday of Tết 2027
    (at(2027, 2, 6, 10, 0), False, "holiday"),    # Tết falling on a Saturday
    (at(2026, 9, 2, 8, 0), False, "holiday"),
])
def test_hours_gate(hours: HotlineHours, when: datetime, is_open: bool, reason: str | None) -> None:
    assert hours.is_open(when) is is_open
    assert hours.closed_reason(when) == reason


def test_hours_gate_reads_other_zones_in_local_time(hours: HotlineHours) -> None:
    utc = ZoneInfo("UTC")
    assert not hours.is_open(datetime(2026, 3, 9, 23, 59, tzinfo=utc))   # 06:59 Tuesday in Vietnam
    assert hours.is_open(datetime(2026, 3, 10, 0, 0, tzinfo=utc))        # 07:00


def test_next_open(hours: HotlineHours) -> None:
    assert hours.next_open(at(2026, 3, 9, 6, 0)) == at(2026, 3, 9, 7, 0)
    assert hours.next_open(at(2026, 3, 9, 23, 0)) == at(2026, 3, 10, 7, 0)
    assert hours.next_open(at(2026, 3, 13, 23, 30)) == at(2026, 3, 16, 7, 0)   # Friday night -> Monday
    assert hours.next_open(at(2027, 2, 3, 23, 0)) == at(2027, 2, 11, 7, 0)     # over Tết 2027
    assert hours.next_open(at(2026, 3, 9, 9, 0)) == at(2026, 3, 9, 9, 0)       # already open


def test_add_working_hours_friday_afternoon_over_a_monday_holiday() -> None:
    monday_off = HolidayCalendar(HolidaySettings(
        computed=False, extra=[HolidayEntry(date=date(2026, 3, 16), name="Ngày nghỉ")]))
    due = add_working_hours(at(2026, 3, 13, 16, 0), 8, AgencyHours(), monday_off, VN)
    assert due == at(2026, 3, 17, 16, 0)     # Fri 1h + Tue 4.5h + 2.5h


def test_add_working_hours_skips_the_whole_of_tet_2027(calendar: HolidayCalendar) -> None:
    # Wed 3/2 16:00: 1h that day, then Thu 11, Fri 12, Mon 15, Tue 16, Wed 17 (8h each) = 41h,
    # the last 7h on Thu 18: 07:00-11:30 and 13:30-16:00.
    due = add_working_hours(at(2027, 2, 3, 16, 0), 48, AgencyHours(), calendar, VN)
    assert due == at(2027, 2, 18, 16, 0)


def test_add_working_hours_edges(calendar: HolidayCalendar) -> None:
    agency = AgencyHours()
    assert add_working_hours(at(2026, 3, 9, 12, 0), 1, agency, calendar, VN) == at(2026, 3, 9, 14, 30)
    assert add_working_hours(at(2026, 3, 9, 16, 0), 1, agency, calendar, VN) == at(2026, 3, 9, 17, 0)
    assert add_working_hours(at(2026, 3, 8, 20, 0), 0.5, agency, calendar, VN) == at(2026, 3, 9, 7, 30)
    assert add_working_hours(at(2026, 3, 9, 9, 0), 0, agency, calendar, VN) == at(2026, 3, 9, 9, 0)
    with pytest.raises(ValueError):
        add_working_hours(at(2026, 3, 9, 9, 0), -1, agency, calendar, VN)


def test_describe_staffed_hours() -> None:
    assert describe_staffed_hours(StaffedHours()) == "từ 7 giờ đến 23 giờ, từ thứ Hai đến thứ Sáu"
    custom = StaffedHours(days=[0, 1, 2, 3, 4, 5], open=time(7, 30), close=time(17, 0))
    assert describe_staffed_hours(custom) == "từ 7 giờ 30 phút đến 17 giờ, từ thứ Hai đến thứ Bảy"


def test_describe_days() -> None:
    assert describe_days([0, 2, 4]) == "thứ Hai, thứ Tư và thứ Sáu"
    assert describe_days([5, 6]) == "thứ Bảy và Chủ nhật"
    assert describe_days([3]) == "thứ Năm"
    assert describe_days(list(range(7))) == "tất cả các ngày trong tuần"
