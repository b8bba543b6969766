"""The Customer 360 in a real browser: an agent sees only masked data; a supervisor reveals
one field with the 显示 button (htmx) and the reveal is audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from kefu.core.audit import AuditEntry
from kefu.core.db import Database, utcnow
from kefu.store.enums import OrderStatus
from kefu.store.models import Address, Customer, CustomerIdentity, LogisticsEvent, Shipment, Store
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser
from tests.store.conftest import MakeCustomer, MakeOrder, MakeStore

pytestmark = pytest.mark.browser

PHONE = "13812345678"


async def _customer_with_orders(
    db: Database, make_store: MakeStore, make_customer: MakeCustomer, make_order: MakeOrder
) -> tuple[Store, Customer]:
    store = await make_store(name="山茶花服饰旗舰店")
    customer = await make_customer(
        store,
        name="陈晓雨",
        nickname="晓雨爱穿搭",
        phone=PHONE,
        email="xiaoyu@example.com",
        tier="vip",
        tags=["回头客", "偏好宽松", "大促敏感"],
        city="杭州市",
    )
    now = utcnow()
    shipped = await make_order(
        store,
        customer,
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        items=[
            {"title": "双面羊绒大衣", "unit_price": "1299.00", "sku_desc": "燕麦色 / M"},
            {"title": "真丝围巾", "unit_price": "259.00", "sku_desc": "雾蓝"},
        ],
        placed_at=now - timedelta(days=2),
        address_detail="文三路 478 号华星时代广场 A 座 1203",
        buyer_message="麻烦发顺丰，谢谢",
    )
    await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_FINISHED,
        items=[{"title": "高腰阔腿裤", "unit_price": "329.00", "sku_desc": "黑色 / 27"}],
        placed_at=now - timedelta(days=40),
    )
    await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_CLOSED,
        items=[{"title": "法式碎花连衣裙", "unit_price": "459.00", "sku_desc": "S"}],
        placed_at=now - timedelta(days=75),
        refunded_amount=Decimal("459.00"),
    )
    async with db.sessionmaker() as s:
        s.add(
            Address(
                customer_id=customer.id,
                receiver_name="陈晓雨",
                phone=PHONE,
                province="浙江省",
                city="杭州市",
                district="西湖区",
                detail="文三路 478 号华星时代广场 A 座 1203",
                is_default=True,
            )
        )
        s.add_all(
            [
                CustomerIdentity(
                    store_id=store.id,
                    customer_id=customer.id,
                    channel="tmall",
                    external_user_id="xiaoyu_tm",
                    display="晓雨爱穿搭",
                ),
                CustomerIdentity(
                    store_id=store.id,
                    customer_id=customer.id,
                    channel="wechat",
                    external_user_id="wx_o6_abc123",
                    display="小雨",
                ),
            ]
        )
        shipment = Shipment(
            order_id=shipped.id,
            carrier="顺丰速运",
            tracking_no="SF1402938475612",
            status="out_for_delivery",
            shipped_at=now - timedelta(days=1, hours=12),
        )
        s.add(shipment)
        await s.flush()
        steps = [
            (36, "杭州", "顺丰速运 已收取快件", "in_transit"),
            (30, "杭州转运中心", "快件已到达【杭州转运中心】", "in_transit"),
            (12, "杭州西湖营业部", "快件已到达【杭州西湖营业部】", "in_transit"),
            (2, "杭州西湖营业部", "快递员正在派送，请保持电话畅通", "out_for_delivery"),
        ]
        s.add_all(
            LogisticsEvent(
                shipment_id=shipment.id,
                occurred_at=now - timedelta(hours=hours),
                location=where,
                description=text,
                status=status,
            )
            for hours, where, text, status in steps
        )
        await s.commit()
    return store, customer


async def _sign_in(browser: Any, live_server: LiveServer, username: str, width: int) -> Any:
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, locale="zh-CN", device_scale_factor=1
    )
    page = await context.new_page()
    await page.goto(f"{live_server.url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page


async def test_agent_sees_masked_customer_360(
    db: Database,
    live_server: LiveServer,
    browser: Any,
    make_user: MakeUser,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _customer_with_orders(db, make_store, make_customer, make_order)
    agent = await make_user("agent", display_name="客服小王")
    page = await _sign_in(browser, live_server, agent.username, 1280)

    await page.goto(f"{live_server.url}/customers/{customer.id}")

    body = await page.inner_text("body")
    assert "138****5678" in body
    assert PHONE not in await page.content()
    assert "陈晓雨" not in await page.content()
    assert "晓雨爱穿搭" in body and "双面羊绒大衣" in body
    assert "快递员正在派送" in body
    assert await page.locator(".pii-reveal").count() == 0  # agents get no reveal button
    await page.screenshot(path=str(screenshot_path("customer360_agent")), full_page=True)

    await page.set_viewport_size({"width": 768, "height": 1024})
    await page.reload()
    assert "138****5678" in await page.inner_text("body")
    await page.screenshot(path=str(screenshot_path("customer360_agent_tablet")), full_page=True)

    await page.goto(f"{live_server.url}/customers?q=5678")
    assert "晓雨爱穿搭" in await page.inner_text("body")
    assert PHONE not in await page.content()
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=str(screenshot_path("customers_list_agent")), full_page=True)
    await page.context.close()


async def test_supervisor_reveals_phone_with_htmx(
    db: Database,
    live_server: LiveServer,
    browser: Any,
    make_user: MakeUser,
    make_store: MakeStore,
    make_customer: MakeCustomer,
    make_order: MakeOrder,
) -> None:
    _, customer = await _customer_with_orders(db, make_store, make_customer, make_order)
    supervisor = await make_user("supervisor", display_name="主管老李")
    page = await _sign_in(browser, live_server, supervisor.username, 1280)
    await page.goto(f"{live_server.url}/customers/{customer.id}")
    assert PHONE not in await page.content()

    phone = page.locator('#contact .pii[data-field="phone"]')
    await phone.locator(".pii-reveal button").click()
    await page.locator('#contact .pii-revealed[data-field="phone"]').wait_for()

    assert PHONE in await page.locator("#contact").inner_text()
    assert page.url.endswith(f"/customers/{customer.id}")  # swapped in place, no navigation
    async with db.sessionmaker() as s:
        entries = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.pii_revealed"))
        )
    assert [(e.actor_id, e.after) for e in entries] == [(supervisor.id, {"field": "phone"})]
    await page.screenshot(path=str(screenshot_path("customer360_supervisor_revealed")))

    await page.locator(".order-card a.mono").first.click()
    await page.wait_for_load_state("networkidle")
    assert "SF1402938475612" in await page.inner_text("#shipments")
    assert PHONE not in await page.content()
    await page.screenshot(path=str(screenshot_path("order_detail_supervisor")), full_page=True)

    await page.goto(f"{live_server.url}/orders")
    assert "双面羊绒大衣" in await page.inner_text("table")
    assert PHONE not in await page.content()
    await page.screenshot(path=str(screenshot_path("orders_list_supervisor")), full_page=True)
    await page.context.close()
