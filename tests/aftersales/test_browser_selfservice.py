"""The buyer's self-service return in a real phone-sized browser — identify, pick the order and
item, see the policy decision, upload a photo, submit, enter the return tracking number — and a
supervisor approving it on the agents' page."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from kefu.channels.identity import identifier_hash
from kefu.core.db import Database, utcnow
from kefu.store.enums import OrderStatus
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser

# A 1×1 PNG: enough for the magic-byte check and for the browser to show a thumbnail.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def test_buyer_returns_an_item_and_a_supervisor_approves(
    db: Database,
    live_server: LiveServer,
    browser: Any,
    make_user: MakeUser,
    make_store: Any,
    make_customer: Any,
    make_order: Any,
    tmp_path: Any,
) -> None:
    store = await make_store(name="栖木生活旗舰店")
    customer = await make_customer(store, nickname="晓雨爱穿搭", phone="13812345678")
    signed = utcnow() - timedelta(days=2)
    order = await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_BUYER_SIGNED,
        items=[
            {"title": "双面羊绒大衣 燕麦色 M", "quantity": 1, "unit_price": "899.00"},
            {"title": "纯棉圆领T恤 白色 L", "quantity": 2, "unit_price": "79.00"},
        ],
        placed_at=signed - timedelta(days=3),
        signed_at=signed,
    )
    photo = tmp_path / "tag.png"
    photo.write_bytes(PNG)

    phone = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=1
    )
    page = await phone.new_page()
    uid_hash = identifier_hash(store.webhook_secret, customer.external_id)
    await page.goto(
        f"{live_server.url}/chat/{store.code}/aftersales?uid={customer.external_id}&uid_hash={uid_hash}"
    )
    assert order.order_no in await page.inner_text("body")
    await page.screenshot(path=str(screenshot_path("aftersales_h5_start")), full_page=True)

    await page.click(f"a[href$='/orders/{order.id}']")
    await page.check(f"input[name=item][value='{order.items[1].id}']")
    await page.check("input[name=kind][value=return_refund]")
    await page.select_option("#reason", "no_reason")
    await page.fill("#description", "尺码偏大，想退一件")
    await page.set_input_files("#photos", str(photo))
    await page.click("#preview-btn")
    await page.wait_for_selector(".as-decision-ok")
    decision = await page.inner_text("#decision")
    assert "可以申请" in decision and "¥79.00" in decision and "七天无理由" in decision
    await page.screenshot(path=str(screenshot_path("aftersales_h5_request")), full_page=True)

    await page.click("#submit-btn")
    await page.wait_for_url("**/aftersales/cases/*")
    body = await page.inner_text("body")
    assert "待审核" in body and "纯棉圆领T恤" in body
    case_url = page.url
    case_id = int(case_url.rstrip("/").rsplit("/", 1)[1])
    assert await page.locator(".as-thumbs img").count() == 1
    await page.screenshot(path=str(screenshot_path("aftersales_h5_case")), full_page=True)

    boss = await make_user("supervisor", display_name="林雪")
    desk = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    agent_page = await desk.new_page()
    await agent_page.goto(f"{live_server.url}/login")
    await agent_page.fill("input[name=username]", boss.username)
    await agent_page.fill("input[name=password]", PASSWORD)
    await agent_page.click("button[type=submit]")
    await agent_page.wait_for_load_state("networkidle")
    await agent_page.goto(f"{live_server.url}/aftersales")
    await agent_page.click(f"a[href='/aftersales/{case_id}']")
    assert "七天无理由" in await agent_page.inner_text("body")
    assert await agent_page.locator(".as-photos img").count() == 1
    await agent_page.click("form[action$='/approve'] button[type=submit]")
    await agent_page.wait_for_load_state("networkidle")
    assert "待买家退货" in await agent_page.inner_text("body")
    await agent_page.screenshot(
        path=str(screenshot_path("aftersales_agent_detail")), full_page=True
    )

    await page.goto(case_url)
    assert "文一西路" in await page.inner_text("body")
    await page.fill("#carrier", "顺丰速运")
    await page.fill("#tracking_no", "SF1402233445566")
    await page.click("form[action$='/tracking'] button[type=submit]")
    await page.wait_for_load_state("networkidle")
    body = await page.inner_text("body")
    assert "买家已寄回" in body
    await page.screenshot(path=str(screenshot_path("aftersales_h5_shipped")), full_page=True)

    await agent_page.goto(f"{live_server.url}/aftersales/warehouse")
    assert "SF1402233445566" in await agent_page.inner_text("body")
    await agent_page.screenshot(path=str(screenshot_path("aftersales_warehouse")), full_page=True)
    await phone.close()
    await desk.close()
