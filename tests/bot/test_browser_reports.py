"""The bot report in a real browser: the daily chart draws (ECharts) next to the numbers, and
/reports leads to it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.test_reports import seeded  # noqa: F401 - fixture
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_report_page_draws_its_chart(
    live_server: LiveServer,
    browser: Any,
    make_user: MakeUser,
    seeded: dict[str, Any],  # noqa: F811
) -> None:
    boss = await make_user("supervisor", display_name="王主管")
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(f"{live_server.url}/login?next=/reports")
        await page.fill("#username", boss.username)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("[data-testid=report-list]")
        await page.screenshot(path=str(screenshot_path("reports-index")), full_page=True)
        await page.click("a[href='/bot/reports']")
        await page.wait_for_selector("[data-testid=daily-table]")
        await page.goto(f"{live_server.url}/bot/reports?start=2026-11-10&end=2026-11-12")
        await page.wait_for_selector("#bot-report-chart svg")
        assert await page.inner_text("[data-testid=stat-handoff]") == "50.0%"
        bars = await page.locator("#bot-report-chart svg path").count()
        assert bars > 3
        await page.screenshot(path=str(screenshot_path("bot-reports")), full_page=True)
    finally:
        await context.close()
