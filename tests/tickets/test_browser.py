"""Tickets in a real browser: the list with live timers and bulk bar, a complaint ticket with
its timeline and panels, replying, changing status; screenshots saved for review."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from kefu.core.audit import Actor
from kefu.core.db import Database, utcnow
from kefu.tickets import complaints, portal, service
from kefu.tickets.enums import CompensationKind, TicketStatus
from kefu.tickets.schemas import CompensationIn, TicketCreate
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser
from tests.tickets.conftest import Shop

pytestmark = pytest.mark.browser


async def _seed(db: Database, shop: Shop, agent: Actor) -> int:
    async with db.sessionmaker() as s:
        now = utcnow()
        complaint = await service.create_ticket(
            s, agent,
            TicketCreate(subject="收到的玻璃杯碎了两个，要求补发", type_code="complaint",
                         description="客户说再不处理就去12315投诉。订单已签收，外包装有明显压痕。",
                         customer_id=shop.customer.id, order_ids=[shop.order.id],
                         assignee_id=agent.id, tags=["破损", "加急"]),
            now=now - timedelta(hours=2),
        )  # fmt: skip
        await service.record_customer_reply(
            s, Actor("customer", None, "张小花"), complaint.id, "照片已经发你们了，快点处理"
        )
        await service.reply_to_customer(s, agent, complaint.id, "非常抱歉！已为您安排补发两个。")
        await service.add_note(s, agent, complaint.id, "仓库确认有货，今天下午发顺丰")
        await complaints.propose_compensation(
            s, agent, "agent", complaint.id,
            CompensationIn(
                kind=CompensationKind.coupon, amount=Decimal("80"), description="无门槛券"
            ),
        )  # fmt: skip
        samples = [
            ("物流三天没有更新", "logistics", "high", now - timedelta(days=6)),
            ("发票抬头需要改成公司名称", "invoice", "normal", now - timedelta(hours=1)),
            ("尺码偏小，想换大一码", "return_exchange", "normal", now - timedelta(minutes=20)),
            ("咨询羽绒服能否机洗", "inquiry", "low", now - timedelta(minutes=5)),
        ]
        for subject, kind, prio, at in samples:
            t = await service.create_ticket(
                s, agent,
                TicketCreate(subject=subject, type_code=kind, priority=prio,
                             customer_id=shop.other_customer.id),
                now=at,
            )  # fmt: skip
            if kind == "invoice":
                await service.transition(
                    s, agent, t.id, TicketStatus.pending_customer, "等客户发税号"
                )
        await s.commit()
        return complaint.id


async def test_tickets_in_the_browser(
    live_server: LiveServer, browser: Any, make_user: MakeUser, db: Database, shop: Shop
) -> None:
    user = await make_user("admin", display_name="王店长")
    tid = await _seed(db, shop, Actor("user", user.id, user.display_name))
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{live_server.url}/login")
    await page.fill("#username", user.username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live_server.url}/")

    await page.goto(f"{live_server.url}/tickets")
    rows = page.locator("tr.tk-row")
    assert await rows.count() == 5
    # Timers tick in the browser: the overdue logistics ticket reads 已超时.
    await page.wait_for_function("document.querySelector('.tk-sla-breached .tk-sla-text')")
    assert "已超时" in await page.inner_text(".tk-row-breached")
    await page.locator("input[name=ticket_ids]").first.check()
    assert "1" in await page.inner_text(".tk-bulk")
    await page.screenshot(path=screenshot_path("tickets-list-1360"), full_page=True)

    await page.click("text=收到的玻璃杯碎了两个，要求补发")
    await page.wait_for_url(f"{live_server.url}/tickets/{tid}")
    body = await page.inner_text("main")
    assert "高风险" in body and "12315" in body
    assert "138****5678" in body and "13812345678" not in body  # masked for admins too
    await page.screenshot(path=screenshot_path("ticket-detail-1360"), full_page=True)

    # Approve the ¥80 coupon the agent could not approve alone.
    await page.click(".tk-comps button[name=approve][value='1']")
    await page.wait_for_url(f"{live_server.url}/tickets/{tid}")
    assert "已批准" in await page.inner_text(".tk-comps")

    # Internal note with the composer's tab, then resolve: a follow-up visit is scheduled.
    await page.click(".tk-tabs button:nth-child(2)")
    await page.fill(".tk-composer textarea", "@王店长 已批准补偿券")
    await page.click(".tk-composer button[type=submit]")
    await page.wait_for_url(f"{live_server.url}/tickets/{tid}")
    await page.click(".tk-transition > button")
    await page.check("input[name=status][value=resolved]")
    await page.fill("#reason", "已补发并发放优惠券")
    await page.click(".tk-transition button[type=submit]")
    await page.wait_for_url(f"{live_server.url}/tickets/{tid}")
    assert "已解决" in await page.inner_text(".tk-head")
    assert "投诉回访" in await page.inner_text(".tk-tasks")
    await page.screenshot(path=screenshot_path("ticket-resolved-1360"), full_page=True)

    # Settings: types, SLA policies and the shipped 2026 holiday calendar.
    await page.goto(f"{live_server.url}/settings/tickets")
    assert "春节" in await page.inner_text("#calendar")
    await page.screenshot(path=screenshot_path("ticket-settings-1360"), full_page=True)
    await page.goto(f"{live_server.url}/tickets/new")
    await page.screenshot(path=screenshot_path("ticket-new-1360"), full_page=True)

    # The customer's signed link on a phone: status, our reply, a four-star rating.
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    customer = await phone.new_page()
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    await customer.goto(f"{live_server.url}/t/{portal.link_token(tid)}")
    assert "已为您安排补发两个" in await customer.inner_text("body")
    assert "仓库确认有货" not in await customer.inner_text("body")  # internal note stays inside
    await customer.click("label[for=s4]")
    await customer.screenshot(path=screenshot_path("ticket-customer-390"), full_page=True)
    await customer.click("button[type=submit]")
    await customer.wait_for_selector(".tk-public-thanks")
    await phone.close()
    assert errors == []
    await context.close()
