"""Two agents on /inbox in two Chromium contexts: a transfer with a note arrives live, each
sees that the other has the chat open (and is typing), and snooze / resolve work from the
keyboard."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kefu.channels import identity
from kefu.store.models import Store
from tests.conversations import chat
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser, sign_in

pytestmark = pytest.mark.browser


async def _sign_in(page: Any, live: LiveServer, username: str, next_url: str) -> None:
    await page.goto(f"{live.url}/login?next={next_url}")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    try:
        await page.wait_for_selector("#inbox", timeout=15000)
    except Exception as exc:
        await page.screenshot(path=str(screenshot_path("workspace_sign_in_failed")))
        raise AssertionError(
            f"not in the inbox: {page.url}\n{(await page.content())[:3000]}"
        ) from exc


async def test_transfer_collision_snooze_and_resolve_between_two_agents(
    live_server: LiveServer,
    browser: Any,
    chat_store: Store,
    make_user: MakeUser,
    make_customer: Any,
) -> None:
    xiaomei = await make_user("agent", display_name="小美")
    xiaowang = await make_user("agent", display_name="小王")
    boss = await make_user("supervisor", display_name="王主管")
    buyer = await make_customer(
        chat_store, external_id="U1001", nickname="丽丽爱逛街", phone="13912345678"
    )
    # Everything goes through the live server (its own event loop), as in production.
    signed = identity.identifier_hash(chat_store.webhook_secret, buyer.external_id)
    shopper = await chat.customer(live_server, uid=buyer.external_id, uid_hash=signed)
    await shopper.send({"type": "resume", "after": 0})
    await shopper.send({"type": "send", "client_id": "1", "body": "裙子小了，想换大一码"})
    ack = await shopper.expect(lambda f: f.get("type") == "ack")
    cid = ack["conversation_id"]
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await sign_in(http, xiaomei.username)
        taken = await http.post(
            f"/api/v1/conversations/{cid}/assign", json={"assignee_id": xiaomei.id}
        )
        assert taken.status_code == 200

    ctx_a = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    ctx_b = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    try:
        a = await ctx_a.new_page()
        b = await ctx_b.new_page()
        await _sign_in(a, live_server, xiaomei.username, f"/inbox?view=mine%26c={cid}")
        await _sign_in(b, live_server, xiaowang.username, "/inbox?view=mine")
        await a.wait_for_selector(".chat-row.in >> text=想换大一码")
        await b.wait_for_selector(".inbox-none")
        assert await b.inner_text("[data-count=mine]") == "0"

        # A hands the chat to B with a note; B's inbox learns of it at once.
        await a.click("[data-action=transfer]")
        await a.wait_for_selector("#transfer-agent option >> text=小王", state="attached")
        await a.select_option("#transfer-agent", str(xiaowang.id))
        await a.fill("#transfer-note", "顾客要换 L 码，订单已核对，请安排换货")
        await a.click("#transfer-form button[type=submit]")
        await a.wait_for_selector("[data-assignee-label] >> text=小王")
        await a.wait_for_selector(".chat-system >> text=小王")
        toast = b.locator(".inbox-toast.transfer")
        await toast.wait_for()
        assert "小美" in await toast.inner_text() and "换 L 码" in await toast.inner_text()
        item = b.locator(".inbox-item", has_text="丽丽爱逛街")
        await item.wait_for()
        await b.wait_for_function("document.querySelector('[data-count=mine]').textContent === '1'")
        await item.click()
        await b.wait_for_selector(".chat-row.note .chat-bubble >> text=请安排换货")

        # Both have it open: each sees the other; typing shows too (notes included).
        await b.wait_for_selector("#chat-collision:not([hidden]) >> text=小美")
        await a.wait_for_selector("#chat-collision:not([hidden]) >> text=小王")
        await b.click(".chat-mode[data-mode=internal]")
        await b.type("#chat-input", "好的我来")
        await a.wait_for_selector("#chat-collision.typing >> text=小王")
        await b.screenshot(path=str(screenshot_path("workspace_transfer_received")))
        await a.screenshot(path=str(screenshot_path("workspace_collision")))
        await b.fill("#chat-input", "")

        # B snoozes from the keyboard (Alt+S, then "in 1 hour"): gone from the open list.
        await b.keyboard.press("Alt+KeyS")
        await b.wait_for_selector("[data-snooze-menu]:not([hidden])")
        await b.screenshot(path=str(screenshot_path("workspace_snooze_menu")))
        await b.click("[data-snooze='1h']")
        await b.wait_for_selector(".chat[data-status=snoozed]")
        await a.wait_for_selector(".chat[data-status=snoozed]")  # A's open pane follows live
        await b.wait_for_selector(".inbox-none")
        await b.click("[data-action=wake]")
        await b.wait_for_selector(".chat[data-status=open]")

        # Alt+R resolves; A sees it without reloading.
        await b.keyboard.press("Alt+KeyR")
        await b.wait_for_selector(".chat[data-status=resolved]")
        await a.wait_for_selector(".chat[data-status=resolved]")
        await b.keyboard.press("?")
        await b.wait_for_selector("#shortcut-dialog[open]")
        await b.screenshot(path=str(screenshot_path("workspace_shortcuts")))

        # The supervisor's board shows both agents as present.
        ctx_boss = await browser.new_context(
            viewport={"width": 1440, "height": 900}, locale="zh-CN"
        )
        boss_page = await ctx_boss.new_page()
        await boss_page.goto(f"{live_server.url}/login?next=/inbox/team")
        await boss_page.fill("#username", boss.username)
        await boss_page.fill("#password", PASSWORD)
        await boss_page.click("button[type=submit]")
        # The board re-reads every 15 s; a socket that reconnected may show offline until its
        # next heartbeat (25 s), so allow for one of each.
        await boss_page.wait_for_selector(
            f"tr[data-agent='{xiaowang.id}'] [data-status=online]", timeout=45000
        )
        await boss_page.screenshot(path=str(screenshot_path("workspace_team_board")))
        await ctx_boss.close()
    finally:
        await ctx_a.close()
        await ctx_b.close()
        await shopper.close()
