"""In Chromium: the entry menu, the queue line, and the offline form of the H5 chat."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kefu.core.db import Database
from kefu.tickets.models import Ticket
from tests.fixtures.browser import LiveServer, screenshot_path

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 780}, "locale": "zh-CN"}


async def test_closed_shop_takes_a_message_that_becomes_a_ticket(
    live_server: LiveServer, browser: Any, db: Database, make_store: Any
) -> None:
    await make_store(
        code="night-shop",
        name="小蓝店",
        settings={
            "chat_routing": {
                "hours": {"enabled": True, "weekdays": [], "holidays": False},
            }
        },
    )
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/chat/night-shop")
    form = page.locator("#kf-offline")
    await form.wait_for(state="visible")
    assert await page.locator("#kf-compose").is_hidden()
    assert "非工作时间" in await page.locator("#kf-offline-why").inner_text()

    await form.locator("[name=name]").fill("王女士")
    await form.locator("[name=phone]").fill("12345")
    await form.locator("[name=question]").fill("明天能发货吗？")
    await form.locator("button[type=submit]").click()
    error = page.locator("#kf-offline-err")
    await error.wait_for(state="visible")
    assert "手机号" in await error.inner_text()
    await page.screenshot(path=str(screenshot_path("chat-offline-form")))

    await form.locator("[name=phone]").fill("13812345678")
    await form.locator("button[type=submit]").click()
    done = page.locator("#kf-offline-done")
    await done.wait_for(state="visible")
    async with db.sessionmaker() as s:
        number = await s.scalar(select(Ticket.number).where(Ticket.source == "chat_offline"))
    assert number and number in await done.inner_text()
    await page.screenshot(path=str(screenshot_path("chat-offline-done")))
    await context.close()


async def test_entry_menu_and_queue_position(
    live_server: LiveServer, browser: Any, make_store: Any, make_user: Any, db: Database
) -> None:
    from tests.conversations.test_routing import online

    await make_store(
        code="menu-shop",
        name="小蓝店",
        settings={
            "routing": "auto",
            "chat_routing": {
                "entries": [
                    {"topic": "presales", "label": "售前咨询"},
                    {"topic": "aftersales", "label": "售后服务"},
                ]
            },
        },
    )
    # Someone is at work but busy: the chat is open and the customer waits in line.
    await online(db, await make_user("agent"), "busy")
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/chat/menu-shop")
    await page.locator(".kf-menu button", has_text="售后服务").click()
    line = page.locator("#kf-queue")
    await line.wait_for(state="visible")
    assert "您是下一位" in await line.inner_text() and "预计等待约" in await line.inner_text()
    await page.screenshot(path=str(screenshot_path("chat-queue-position")))
    await context.close()


async def test_routing_settings_page(
    live_server: LiveServer, browser: Any, make_store: Any, make_user: Any
) -> None:
    from tests.fixtures.factories import PASSWORD

    store = await make_store(name="小蓝店")
    admin = await make_user("admin")
    context = await browser.new_context(viewport={"width": 1280, "height": 1400}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/login?next=/settings/stores/{store.id}/chat")
    await page.fill("#username", admin.username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live_server.url}/settings/stores/{store.id}/chat")
    await page.check("input[name=mode][value=auto]")
    await page.fill("[name=topic_0]", "aftersales")
    await page.fill("[name=label_0]", "售后服务")
    await page.click("button[type=submit].btn-primary")
    await page.wait_for_url(f"{live_server.url}/settings/stores/{store.id}/chat")
    assert await page.input_value("[name=label_0]") == "售后服务"
    await page.screenshot(path=str(screenshot_path("chat-routing-settings")), full_page=True)
    await context.close()
