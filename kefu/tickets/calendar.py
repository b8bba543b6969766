"""Business-hours arithmetic with a holiday calendar (节假日 and 调休 working days).

A working day is a weekday in `weekdays` unless it is a holiday, or any day the calendar lists
as an adjusted working day (调休上班, e.g. Saturday 2026-02-14). Working time is
[day_start, day_end) in the shop's time zone on working days. SLA targets are counted in this
time, so "4 working hours" asked on Friday 17:00 falls due on Monday 12:00 (9:00–18:00), and
the Spring Festival week counts for nothing.

All functions take and return timezone-aware UTC datetimes; the zone is applied inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕, published 2025-11-04).
HOLIDAYS_2026: list[tuple[str, str, str]] = [
    ("2026-01-01", "2026-01-03", "元旦"),
    ("2026-02-15", "2026-02-23", "春节"),
    ("2026-04-04", "2026-04-06", "清明节"),
    ("2026-05-01", "2026-05-05", "劳动节"),
    ("2026-06-19", "2026-06-21", "端午节"),
    ("2026-09-25", "2026-09-27", "中秋节"),
    ("2026-10-01", "2026-10-07", "国庆节"),
]
WORKDAYS_2026: list[tuple[str, str]] = [
    ("2026-01-04", "元旦调休上班"),
    ("2026-02-14", "春节调休上班"),
    ("2026-02-28", "春节调休上班"),
    ("2026-05-09", "劳动节调休上班"),
    ("2026-09-20", "国庆节调休上班"),
    ("2026-10-10", "国庆节调休上班"),
]


def default_calendar_days() -> list[tuple[date, str, str]]:
    """(day, kind, name) rows for the shipped 2026 calendar; kind is holiday or workday."""
    rows: list[tuple[date, str, str]] = []
    for first, last, name in HOLIDAYS_2026:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            rows.append((day, "holiday", name))
            day += timedelta(days=1)
    rows.extend((date.fromisoformat(d), "workday", name) for d, name in WORKDAYS_2026)
    return rows


# Longest search for working time; a calendar with no working day at all must not hang.
_MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "Asia/Shanghai"
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    always_open: bool = False  # 24×7: business time equals wall-clock time

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_working_day(day) or self.day_end <= self.day_start:
            return None
        zone = self.zone
        return (
            datetime.combine(day, self.day_start, zone),
            datetime.combine(day, self.day_end, zone),
        )

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of working time after `start` (before it, if negative)."""
        if self.always_open:
            return start + timedelta(minutes=minutes)
        if minutes < 0:
            return self._subtract(start, -minutes)
        remaining = timedelta(minutes=minutes)
        cursor = start.astimezone(self.zone)
        day = cursor.date()
        for _ in range(_MAX_DAYS):
            window = self._window(day)
            if window is not None:
                begin = max(cursor, window[0])
                if begin < window[1]:
                    available = window[1] - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
        return (cursor + remaining).astimezone(UTC)

    def _subtract(self, end: datetime, minutes: float) -> datetime:
        remaining = timedelta(minutes=minutes)
        cursor = end.astimezone(self.zone)
        day = cursor.date()
        for _ in range(_MAX_DAYS):
            window = self._window(day)
            if window is not None:
                finish = min(cursor, window[1])
                if finish > window[0]:
                    available = finish - window[0]
                    if remaining <= available:
                        return (finish - remaining).astimezone(UTC)
                    remaining -= available
            day -= timedelta(days=1)
        return (cursor - remaining).astimezone(UTC)

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes from `start` to `end` (negative when end is earlier)."""
        if end < start:
            return -self.minutes_between(end, start)
        if self.always_open:
            return (end - start).total_seconds() / 60
        a, b = start.astimezone(self.zone), end.astimezone(self.zone)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            window = self._window(day)
            if window is not None:
                lo, hi = max(a, window[0]), min(b, window[1])
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 60
