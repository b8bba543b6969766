"""The order-service pages in a real browser: an agent works the daily checks, asks a buyer
to confirm the address (the message lands in the buyer's chat), sees duplicates, stock-outs
and the order page's panel (loaded by htmx). Screenshots go to test-output/screenshots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kefu.conversations.models import Conversation, Message
from kefu.core.db import Database, utcnow
from kefu.store.enums import OrderStatus
from kefu.store.models import Sku
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser
from tests.orderservice.conftest import UNPAID, Shop, run_sweep

pytestmark = pytest.mark.browser


async def _sign_in(browser: Any, live_server: LiveServer, username: str) -> Any:
    context = await browser.new_context(
        viewport={"width": 1360, "height": 900}, locale="zh-CN", device_scale_factor=1
    )
    page = await context.new_page()
    await page.goto(f"{live_server.url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page


async def test_agent_works_the_order_service_lists(
    db: Database,
    shop: Shop,
    buy: Any,
    make_customer: Any,
    make_user: MakeUser,
    live_server: LiveServer,
    browser: Any,
) -> None:
    vip = await make_customer(shop.store, name="李娜", nickname="娜娜_tb", tier="vip")
    first = await buy(days_ago=2.2)
    await buy(days_ago=0.6)
    await buy(days_ago=3.1, status=UNPAID, customer=vip)
    await buy(days_ago=0.3, status=UNPAID)
    waiting = await buy(days_ago=1.4, customer=vip)
    await buy(days_ago=9, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    async with db.sessionmaker() as s:
        s.add(
            Conversation(
                store_id=shop.store.id,
                customer_id=vip.id,
                visitor_hash="v" * 64,
                last_message_at=utcnow() - timedelta(minutes=3),
            )
        )
        await s.commit()
    await run_sweep(db)
    async with db.sessionmaker() as s:
        sku = await s.get(Sku, shop.sku.id)
        assert sku is not None
        sku.stock = 0
        await s.commit()
    await run_sweep(db)
    agent = await make_user("agent", username="xiaomei", display_name="小美")
    page = await _sign_in(browser, live_server, agent.username)

    await page.goto(f"{live_server.url}/orders/checks")
    assert await page.locator("table.os-table tbody tr").count() == 3
    await page.screenshot(path=str(screenshot_path("orderservice-checks")), full_page=True)
    await page.goto(f"{live_server.url}/orders/checks?tab=unpaid")
    await page.screenshot(path=str(screenshot_path("orderservice-checks-unpaid")), full_page=True)

    await page.goto(f"{live_server.url}/orders/address-checks")
    row = page.locator("tr", has_text=waiting.order_no)
    await row.locator("form[action^='/orders/ask/'] button").click()
    await page.wait_for_load_state("networkidle")
    assert await page.locator(".alert-success").count() == 1
    await page.screenshot(path=str(screenshot_path("orderservice-addresses")), full_page=True)
    async with db.sessionmaker() as s:
        bodies = (await s.scalars(select(Message.body))).all()
    assert len(bodies) == 1 and waiting.order_no in bodies[0]

    await page.goto(f"{live_server.url}/orders/flags")
    card = page.locator("article.os-item").first
    await card.locator("form[action^='/orders/ask/'] button").click()
    await page.wait_for_load_state("networkidle")
    assert await page.locator("#os-copy-text").count() == 1  # no chat with this buyer
    await page.screenshot(path=str(screenshot_path("orderservice-flags")), full_page=True)

    await page.goto(f"{live_server.url}/orders/stockouts")
    assert await page.locator("section.os-group tbody tr").count() == 3
    await page.screenshot(path=str(screenshot_path("orderservice-stockouts")), full_page=True)

    await page.goto(f"{live_server.url}/orders/{first.id}")
    await page.wait_for_selector("#order-service")
    assert "重复购买" in await page.locator("#order-service").inner_text()
    await page.screenshot(path=str(screenshot_path("orderservice-order-panel")), full_page=True)
    await page.locator("#order-service .os-change > button").click()
    await page.wait_for_selector(".os-address-form", state="visible", timeout=5000)
    await page.locator("#order-service").screenshot(
        path=str(screenshot_path("orderservice-order-panel-address"))
    )

    admin = await make_user("admin", username="boss", display_name="管理员")
    admin_page = await _sign_in(browser, live_server, admin.username)
    await admin_page.goto(f"{live_server.url}/orders/service-settings")
    await admin_page.fill("input[name=duplicate_window_days]", "5")
    await admin_page.click("form.os-settings button[type=submit]")
    await admin_page.wait_for_load_state("networkidle")
    assert await admin_page.locator(".alert-success").count() == 1
    await admin_page.screenshot(path=str(screenshot_path("orderservice-settings")), full_page=True)
