"""Business-hours SLA arithmetic: weekends, the 2026 holidays, 调休 Saturdays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from kefu.tickets.calendar import BusinessCalendar, default_calendar_days

SH = ZoneInfo("Asia/Shanghai")


def cn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def calendar() -> BusinessCalendar:
    days = default_calendar_days()
    return BusinessCalendar(
        holidays=frozenset(d for d, kind, _ in days if kind == "holiday"),
        workdays=frozenset(d for d, kind, _ in days if kind == "workday"),
    )


def test_shipped_2026_calendar_matches_the_state_council_notice() -> None:
    days = {d: kind for d, kind, _ in default_calendar_days()}
    assert sum(1 for k in days.values() if k == "holiday") == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert days[date(2026, 2, 15)] == days[date(2026, 2, 23)] == "holiday"
    assert days[date(2026, 2, 14)] == days[date(2026, 2, 28)] == "workday"
    assert days[date(2026, 10, 10)] == "workday"


def test_within_one_working_day() -> None:
    due = calendar().add(cn(2026, 11, 23, 10), 120)  # Monday 10:00 + 2h
    assert due.astimezone(SH) == cn(2026, 11, 23, 12)
    assert due.tzinfo is not None and due.utcoffset() == UTC.utcoffset(None)


def test_friday_evening_rolls_over_the_weekend() -> None:
    due = calendar().add(cn(2026, 11, 27, 17), 240)  # Friday 17:00 + 4h → Monday 12:00
    assert due.astimezone(SH) == cn(2026, 11, 30, 12)


def test_request_outside_hours_starts_next_morning() -> None:
    due = calendar().add(cn(2026, 11, 23, 22, 30), 30)
    assert due.astimezone(SH) == cn(2026, 11, 24, 9, 30)


def test_spring_festival_counts_for_nothing() -> None:
    # Friday 13 Feb 17:00 + 2h: 1h on Friday, Saturday 14 Feb is a 调休 working day.
    due = calendar().add(cn(2026, 2, 13, 17), 120)
    assert due.astimezone(SH) == cn(2026, 2, 14, 10)
    # From the working Saturday evening, the next working time is Tuesday 24 Feb.
    due = calendar().add(cn(2026, 2, 14, 17, 30), 60)
    assert due.astimezone(SH) == cn(2026, 2, 24, 9, 30)


def test_national_day_and_adjusted_sunday() -> None:
    # Sunday 20 Sep is a working day (调休); Friday 25 Sep is 中秋 holiday.
    cal = calendar()
    assert cal.is_working_day(date(2026, 9, 20))
    assert not cal.is_working_day(date(2026, 9, 25))
    due = cal.add(cn(2026, 9, 30, 17), 120)  # Wed 30 Sep 17:00 → holiday 1–7 Oct → Thu 8 Oct
    assert due.astimezone(SH) == cn(2026, 10, 8, 10)


def test_minutes_between_and_negative_add_are_inverse() -> None:
    cal = calendar()
    start = cn(2026, 11, 27, 16)
    end = cal.add(start, 600)
    assert cal.minutes_between(start, end) == 600
    assert cal.add(end, -600) == start.astimezone(UTC)
    assert cal.minutes_between(cn(2026, 11, 28, 10), cn(2026, 11, 29, 20)) == 0  # weekend


def test_always_open_is_wall_clock() -> None:
    cal = BusinessCalendar(always_open=True)
    assert cal.add(cn(2026, 11, 28, 23), 90).astimezone(SH) == cn(2026, 11, 29, 0, 30)
