"""A shopper on the H5 chat sends a picture, the product they are looking at and one of their
orders; the agent sees all three in /inbox and answers with a picture and an order card."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from kefu.channels import identity
from kefu.store.enums import OrderStatus
from kefu.store.models import Store
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


def _picture(path: Path, color: tuple[int, int, int], size: tuple[int, int]) -> Path:
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 40):  # stripes, so a thumbnail is visibly the same picture
        image.paste((255, 255, 255), (x, 0, x + 12, size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


async def _loaded(page: Any, selector: str) -> None:
    """The <img> really decoded (an access-checked URL that failed would have width 0)."""
    await page.wait_for_function(
        "s => [...document.querySelectorAll(s)].some(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
    )


async def test_customer_sends_picture_product_and_order_and_agent_sees_them(
    live_server: LiveServer,
    browser: Any,
    chat_store: Store,
    make_user: MakeUser,
    make_customer: Any,
    make_order: Any,
    tmp_path: Path,
) -> None:
    agent_user = await make_user("agent", display_name="小美")
    buyer = await make_customer(chat_store, external_id="U2001", nickname="丽丽爱逛街")
    order = await make_order(
        chat_store,
        buyer,
        status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        items=[{"title": "法式碎花连衣裙 M码", "unit_price": "259.00"}],
    )
    product = {
        "id": "P-8848",
        "title": "法式碎花连衣裙 2026 春季新款",
        "price": "259.00",
        "url": "https://shop.example/item/8848",
    }
    signed = identity.identifier_hash(chat_store.webhook_secret, "U2001")
    shopper_ctx = await browser.new_context(
        viewport={"width": 390, "height": 760}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    agent_ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    try:
        shopper = await shopper_ctx.new_page()
        await shopper.goto(
            f"{live_server.url}/chat/{chat_store.code}?uid=U2001&uid_hash={signed}"
            f"&name=丽丽爱逛街&product={quote(json.dumps(product))}"
        )
        await shopper.wait_for_selector(".kf-online")

        # The picture is the first message: it opens the conversation over HTTP.
        photo = _picture(tmp_path / "裙子.jpg", (220, 80, 120), (1600, 1200))
        await shopper.set_input_files("#kf-file", str(photo))
        await shopper.wait_for_selector(".kf-me .kf-img")
        await shopper.wait_for_selector(".kf-me .kf-status.kf-unread")

        # The product the page shows is offered; one tap sends it as a card.
        await shopper.wait_for_selector("#kf-product >> text=法式碎花连衣裙 2026 春季新款")
        await shopper.click("#kf-product .kf-send")
        await shopper.wait_for_selector(".kf-me .kf-card >> text=¥259.00")

        # 选择订单: the shopper's own orders, from the server.
        await shopper.click("#kf-order-btn")
        await shopper.wait_for_selector(f".kf-order >> text=订单 {order.order_no}")
        await shopper.screenshot(path=str(screenshot_path("chat_media_order_picker")))
        await shopper.click(".kf-order")
        await shopper.wait_for_selector(f".kf-me .kf-card >> text=订单 {order.order_no}")
        await shopper.wait_for_selector(".kf-me:last-child .kf-status.kf-unread")

        agent = await agent_ctx.new_page()
        await agent.goto(f"{live_server.url}/login?next=/inbox")
        await agent.fill("#username", agent_user.username)
        await agent.fill("#password", PASSWORD)
        await agent.click("button[type=submit]")
        await agent.wait_for_url(f"{live_server.url}/inbox")
        item = agent.locator(".inbox-item", has_text="丽丽爱逛街")
        await item.wait_for()
        assert "[订单]" in await item.inner_text()  # the list preview of the last message
        await item.click()
        await _loaded(agent, ".chat-row.in .chat-img")
        await agent.wait_for_selector(".chat-row.in .chat-card >> text=2026 春季新款")
        await agent.wait_for_selector(f".chat-row.in .chat-card >> text=订单 {order.order_no}")
        await agent.wait_for_selector(".chat-row.in .chat-card >> text=法式碎花连衣裙 M码")

        # The agent answers with a picture (size chart) and the order card from the sidebar.
        chart = _picture(tmp_path / "尺码表.jpg", (40, 120, 220), (900, 600))
        await agent.set_input_files("#chat-file", str(chart))
        await _loaded(agent, ".chat-row.out .chat-img")
        await agent.click(f"[data-send-order='{order.order_no}']")
        await agent.wait_for_selector(f".chat-row.out .chat-card >> text=订单 {order.order_no}")
        await agent.screenshot(path=str(screenshot_path("chat_media_agent")))

        await _loaded(shopper, ".kf-them .kf-img")
        await shopper.wait_for_selector(f".kf-them .kf-card >> text=订单 {order.order_no}")
        await shopper.screenshot(path=str(screenshot_path("chat_media_customer")))
        # A tap on a picture shows it full size over the chat.
        await shopper.click(".kf-them .kf-img")
        await _loaded(shopper, ".kf-viewer img")
        full = await shopper.eval_on_selector(".kf-viewer img", "i => i.naturalWidth")
        assert full == 900
        await shopper.screenshot(path=str(screenshot_path("chat_media_viewer")))
    finally:
        await agent_ctx.close()
        await shopper_ctx.close()
