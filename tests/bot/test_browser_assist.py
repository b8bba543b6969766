"""Agent assist in a real browser: the sidebar suggests the bot's FAQ answers and canned replies
for the customer's latest message, follows a new message live, and "插入" fills the composer
without sending. The bot's "您是不是想问…" shows in the log as a list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kefu.channels import identity
from kefu.conversations.models import Message
from kefu.core.db import Database
from kefu.knowledge.canned_models import CannedReply
from kefu.store.models import Store
from tests.conversations import chat
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser, sign_in

pytestmark = pytest.mark.browser
CHANNEL = "assist-shop"


def is_bot_message(frame: dict[str, Any]) -> bool:
    message = frame.get("message") or {}
    return frame.get("type") == "event" and message.get("sender_kind") == "bot"


async def test_agent_inserts_a_suggested_answer_and_it_follows_new_messages(
    live_server: LiveServer,
    browser: Any,
    db: Database,
    make_store: Any,
    make_faq: Any,
    make_customer: Any,
    make_user: MakeUser,
) -> None:
    store: Store = await make_store(
        code=CHANNEL, name="优衣小铺", settings={"bot": {"enabled": True}}
    )
    await make_faq("退货运费谁出", "七天无理由退货的运费由买家承担；质量问题由我们承担运费。")
    await make_faq("退货地址是什么", "请寄到浙江省杭州市余杭区文一西路 969 号。")
    await make_faq("怎么申请退货", "在“我的订单”里点“申请售后”即可。")
    await make_faq("支持开发票吗", "支持开具电子发票，下单时填写抬头即可。", similar=["能开发票吗"])
    async with db.sessionmaker() as s:
        s.add(
            CannedReply(
                title="退货运费说明",
                body="{{customer.name}}您好，七天无理由退货的运费需要您承担哦～",
                shortcut="thyf",
                search_text="thyf 退货运费说明",
            )
        )
        await s.commit()
    buyer = await make_customer(store, external_id="U2001", nickname="丽丽爱逛街")
    xiaomei = await make_user("agent", display_name="小美")

    signed = identity.identifier_hash(store.webhook_secret, buyer.external_id)
    shopper = await chat.customer(live_server, channel=CHANNEL, uid="U2001", uid_hash=signed)
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    try:
        await shopper.send({"type": "resume", "after": 0})
        await shopper.send({"type": "send", "client_id": "1", "body": "关于退货"})
        ack = await shopper.expect(lambda f: f.get("type") == "ack")
        cid = ack["conversation_id"]
        offered = await shopper.expect(is_bot_message, within=20)
        assert offered["message"]["kind"] == "choices"
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            await sign_in(http, xiaomei.username)
            taken = await http.post(
                f"/api/v1/conversations/{cid}/assign", json={"assignee_id": xiaomei.id}
            )
            assert taken.status_code == 200
        await shopper.send({"type": "send", "client_id": "2", "body": "退货的运费谁出呀？"})
        await shopper.expect(lambda f: f.get("type") == "ack" and f.get("client_id") == "2")

        page = await context.new_page()
        await page.goto(f"{live_server.url}/login?next=/inbox?view=mine%26c={cid}")
        await page.fill("#username", xiaomei.username)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector(".chat-row.in >> text=运费谁出")

        # The bot's offer reads as a list of the options the customer saw.
        options = await page.locator(".chat-choices li").all_inner_texts()
        assert "怎么申请退货" in options and options[-1] == "转人工"

        panel = page.locator("#assist-panel")
        answers = panel.locator("[data-assist=answers] .assist-item")
        await answers.first.locator(".assist-title").filter(has_text="退货运费谁出").wait_for()
        canned = panel.locator("[data-assist=canned] .assist-item")
        await canned.first.wait_for()
        assert "丽丽爱逛街您好" in await canned.first.locator(".assist-text").inner_text()
        await page.screenshot(path=str(screenshot_path("assist-panel")))

        # A new customer message: the panel follows without a reload.
        await shopper.send({"type": "send", "client_id": "3", "body": "能开发票吗"})
        first_title = answers.first.locator(".assist-title")
        await first_title.filter(has_text="支持开发票吗").wait_for()
        assert "能开发票吗" in await panel.locator("[data-assist-for]").inner_text()

        # 插入 puts the answer after what the agent already typed; nothing is sent.
        await page.fill("#chat-input", "亲，")
        await answers.first.locator(".assist-insert").click()
        value = await page.input_value("#chat-input")
        assert value == "亲，支持开具电子发票，下单时填写抬头即可。"
        await page.screenshot(path=str(screenshot_path("assist-inserted")))
        async with db.sessionmaker() as s:
            sent_by_agents = await s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == cid, Message.sender_kind == "agent")
            )
        assert sent_by_agents == 0
    finally:
        await context.close()
        await shopper.close()
