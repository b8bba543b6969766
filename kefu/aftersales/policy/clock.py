"""Counting after-sales periods in the shop's time zone.

A period of N days "from receipt" starts the day after the starting event (办法 10: 签收次日 is
day 1; 民法典 201: the first day is not counted) and ends at 24:00 of its last day in the shop's
local time (民法典 203). So a parcel signed on 3 November may be returned until 10 November
24:00 — the last day is the signing date + 7. Months count to the same date of the due month,
or the month's last day if it has none (民法典 202).

Deadlines are kept as the exclusive instant (the local midnight after the last day) in UTC, plus
the local last day for display. Something is in time if it happens strictly before that instant.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class Period:
    """The end of a period: its last local day and the instant it closes (UTC, exclusive)."""

    last_day: date
    closes_at: datetime

    def contains(self, moment: datetime) -> bool:
        return moment < self.closes_at


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _close(last_day: date, tz: ZoneInfo, holidays: Collection[date]) -> Period:
    if not holidays:
        return _close_plain(last_day, tz)
    while last_day in holidays:
        last_day += timedelta(days=1)
    closes = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return Period(last_day, closes)


@lru_cache(maxsize=4096)
def _close_plain(last_day: date, tz: ZoneInfo) -> Period:
    # Cached: many requests share a last day, and converting zones dominates the cost.
    closes = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return Period(last_day, closes)


def days_after(start: datetime, days: int, tz: ZoneInfo, holidays: Collection[date] = ()) -> Period:
    """A period of `days` days starting the day after `start` (local), closing at 24:00."""
    return _close(local_date(start, tz) + timedelta(days=days), tz, holidays)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_after(
    start: datetime, months: int, tz: ZoneInfo, holidays: Collection[date] = ()
) -> Period:
    return _close(add_months(local_date(start, tz), months), tz, holidays)


def zh_day(day: date, reference_year: int) -> str:
    if day.year != reference_year:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.month}月{day.day}日"


def en_day(day: date, reference_year: int) -> str:
    text = f"{day.day} {_MONTHS_EN[day.month - 1]}"
    return text if day.year == reference_year else f"{text} {day.year}"
