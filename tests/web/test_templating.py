"""Times in lists: short for today, the date for older rows, always in the shop's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from kefu.web.templating import list_time

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


def test_today_shows_the_clock_in_the_shops_time_zone() -> None:
    assert list_time(datetime(2026, 11, 23, 6, 5, tzinfo=UTC), NOW, "Asia/Shanghai") == "14:05"


def test_a_utc_evening_is_already_the_next_day_in_shanghai() -> None:
    late = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on the 23rd in Shanghai
    assert list_time(late, NOW, "Asia/Shanghai") == "00:30"


def test_older_rows_show_the_date() -> None:
    assert list_time(datetime(2026, 11, 20, 2, 0, tzinfo=UTC), NOW, "Asia/Shanghai") == "11-20"
    assert list_time(datetime(2025, 12, 31, 2, 0, tzinfo=UTC), NOW, "Asia/Shanghai") == "2025-12-31"
    assert list_time(None, NOW) == ""
