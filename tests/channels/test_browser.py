"""A customer on the H5 chat and an agent on /inbox, in two real Chromium contexts."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kefu.conversations.models import ConversationRating
from kefu.core.db import Database
from kefu.store.enums import OrderStatus
from kefu.store.models import Store
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def _serve(html: bytes) -> Iterator[str]:
    """A stand-in for the shop's site: another origin on the loopback interface."""

    class Shop(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()


async def _sign_in(page: Any, live: LiveServer, username: str) -> None:
    await page.goto(f"{live.url}/login?next=/inbox")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live.url}/inbox")


async def test_customer_and_agent_chat_both_ways_and_resolve(
    live_server: LiveServer,
    browser: Any,
    chat_store: Store,
    make_user: MakeUser,
    make_customer: Any,
    make_order: Any,
    db: Database,
) -> None:
    from kefu.channels import identity

    agent_user = await make_user("agent", display_name="小美")
    buyer = await make_customer(
        chat_store, external_id="U1001", name="王丽", nickname="丽丽爱逛街", phone="13912345678"
    )
    await make_order(
        chat_store,
        buyer,
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        items=[{"title": "法式碎花连衣裙 M码", "unit_price": "259.00"}],
    )
    await make_order(chat_store, buyer, status=OrderStatus.TRADE_FINISHED)

    agent_ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    shopper_ctx = await browser.new_context(
        viewport={"width": 390, "height": 760}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    try:
        agent = await agent_ctx.new_page()
        await _sign_in(agent, live_server, agent_user.username)
        await agent.wait_for_selector(".inbox-none")

        shopper = await shopper_ctx.new_page()
        signed = identity.identifier_hash(chat_store.webhook_secret, "U1001")
        await shopper.goto(
            f"{live_server.url}/chat/{chat_store.code}?uid=U1001&uid_hash={signed}&name=丽丽爱逛街"
        )
        await shopper.wait_for_selector(".kf-online")
        await shopper.fill("#kf-input", "你好，我的连衣裙发货了吗？😊")
        await shopper.click("#kf-send")
        await shopper.wait_for_selector(".kf-me .kf-status.kf-unread")

        # The agent's list updates live; opening the chat shows history and the customer.
        item = agent.locator(".inbox-item", has_text="丽丽爱逛街")
        await item.wait_for()
        await item.click()
        await agent.wait_for_selector(".chat-row.in .chat-bubble >> text=我的连衣裙发货了吗")
        sidebar = agent.locator(".chat-side")
        assert "139****5678" in await sidebar.inner_text()
        assert "13912345678" not in await sidebar.inner_text()

        # Reading marks the customer's message 已读 on their phone.
        await shopper.wait_for_selector(".kf-me .kf-status.kf-read")

        await agent.fill("#chat-input", "亲，您的包裹已经发出，预计明天送达~")
        await agent.press("#chat-input", "Enter")
        await shopper.wait_for_selector(".kf-them .kf-bubble >> text=预计明天送达")
        await agent.wait_for_selector(".chat-row.out .chat-state.read")

        await agent.click(".chat-mode[data-mode=internal]")
        await agent.fill("#chat-input", "老客户，已催仓库加急")
        await agent.press("#chat-input", "Enter")
        await agent.wait_for_selector(".chat-row.note .chat-bubble >> text=已催仓库加急")

        await shopper.fill("#kf-input", "好的，谢谢！")
        await shopper.press("#kf-input", "Enter")
        await agent.wait_for_selector(".chat-row.in .chat-bubble >> text=好的，谢谢")
        # The agent has the chat open, so it is read at once: no unread badge, 已读 for them.
        await shopper.wait_for_selector(".kf-me:last-child .kf-status.kf-read")
        await agent.wait_for_selector(".inbox-item.active:not(.unread) >> text=好的，谢谢")
        await agent.screenshot(path=str(screenshot_path("chat_agent_inbox")))
        await shopper.screenshot(path=str(screenshot_path("chat_customer_h5")))

        await agent.click("[data-action=resolve]")
        await shopper.wait_for_selector(".kf-system >> text=本次会话已结束")
        await agent.wait_for_selector("[data-status-badge].badge-grey")
        await agent.wait_for_selector(".inbox-none")  # gone from the open list
        assert "已催仓库加急" not in await shopper.inner_text("#kf-log")
        await agent.screenshot(path=str(screenshot_path("chat_agent_resolved")))

        # The customer is asked to rate the chat; the stars go to 小美.
        await shopper.wait_for_selector(".kf-csat .kf-star")
        await shopper.click(".kf-csat .kf-star:nth-child(4)")
        await shopper.fill(".kf-csat-note", "回复很及时")
        await shopper.screenshot(path=str(screenshot_path("chat_customer_csat")))
        await shopper.click(".kf-csat-send")
        await shopper.wait_for_selector(".kf-csat-msg >> text=感谢您的评价")
        async with db.sessionmaker() as s:
            rating = await s.scalar(select(ConversationRating))
        assert rating is not None
        assert (rating.score, rating.comment, rating.agent_id) == (4, "回复很及时", agent_user.id)
    finally:
        await agent_ctx.close()
        await shopper_ctx.close()


async def test_widget_snippet_on_a_shop_page(
    live_server: LiveServer, browser: Any, chat_store: Store, agent_cookie: Any
) -> None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = await ctx.new_page()
        shop_page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>优衣小铺</title></head>"
            "<body style='font-family:sans-serif;background:#fafafa;margin:40px'>"
            "<h1>优衣小铺 · 新品上市</h1><p>春季连衣裙限时 8 折</p>"
            f"<script src='{live_server.url}/widget.js' data-channel='{chat_store.code}' "
            "data-color='#ff5000'></script></body></html>"
        ).encode()
        # The shop's own site, on another origin than Kefu (as in production).
        with _serve(shop_page) as shop_url:
            await page.goto(shop_url)
            launcher = page.locator("#kefu-widget .btn")  # inside the open shadow root
            await launcher.wait_for()
            await launcher.click()
            chat = page.frame_locator("#kefu-widget iframe")
            await chat.locator(".kf-online").wait_for()
            await chat.locator("#kf-input").fill("请问有没有 S 码？")
            await chat.locator("#kf-input").press("Enter")
            await chat.locator(".kf-me .kf-status.kf-unread").wait_for()
            await page.screenshot(path=str(screenshot_path("chat_widget_open")))

            # Panel closed, the agent answers: the launcher shows an unread badge.
            await launcher.click()
            _, http = await agent_cookie(live_server, display_name="小美")
            listed = (await http.get("/api/v1/conversations")).json()["items"]
            reply = await http.post(
                f"/api/v1/conversations/{listed[0]['id']}/messages",
                json={"client_id": "w-r1", "body": "有的亲，S 码还有库存"},
            )
            assert reply.status_code == 201
            badge = page.locator("#kefu-widget .badge")
            await badge.wait_for()
            assert await badge.inner_text() == "1"
            await page.screenshot(path=str(screenshot_path("chat_widget_badge")))
            await launcher.click()
            await badge.wait_for(state="hidden")
            await chat.locator(".kf-them .kf-bubble", has_text="S 码还有库存").wait_for()
    finally:
        await ctx.close()


async def test_unsent_messages_survive_a_reload_and_are_sent_once(
    live_server: LiveServer, browser: Any, chat_store: Store, db: Any
) -> None:
    from sqlalchemy import select

    from kefu.conversations.models import Message

    ctx = await browser.new_context(viewport={"width": 390, "height": 760}, locale="zh-CN")
    try:
        page = await ctx.new_page()
        url = f"{live_server.url}/chat/{chat_store.code}"
        await page.goto(url)
        await page.wait_for_selector(".kf-online")
        # As if the network dropped right after the customer pressed send: the message is in
        # the outbox but never reached the server.
        outbox = '[{"client_id":"offline-1","body":"断网时写的消息","kind":"text"}]'
        key = f"kefu:{chat_store.code}:outbox"
        await page.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, outbox])
        await page.reload()
        await page.wait_for_selector(".kf-me .kf-status.kf-unread")
        assert await page.evaluate("k => localStorage.getItem(k)", key) == "[]"
        # The same outbox again (an ack lost on the way): the server keeps one copy.
        await page.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, outbox])
        await page.reload()
        await page.wait_for_selector(".kf-me .kf-status.kf-unread")
        await page.wait_for_function("k => localStorage.getItem(k) === '[]'", arg=key)
        assert await page.locator(".kf-me").count() == 1
        async with db.sessionmaker() as s:
            bodies = list(await s.scalars(select(Message.body)))
        assert bodies == ["断网时写的消息"]
    finally:
        await ctx.close()
