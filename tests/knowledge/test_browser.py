"""The knowledge base in a real browser: a supervisor writes an entry with the similar-question
list editor and the Markdown toolbar, previews it, saves it; a shopper on a phone opens the
store's help center, searches, and reads the answer. Screenshots land in test-output/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import expect

from kefu.core.db import Database
from kefu.knowledge import importer
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser
from tests.knowledge.conftest import EDITOR
from tests.store.conftest import MakeStore

pytestmark = pytest.mark.browser


async def _page(browser: Any, width: int, height: int = 900) -> Any:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", device_scale_factor=1
    )
    return await context.new_page()


async def test_editor_and_help_center(
    browser: Any,
    live_server: LiveServer,
    db: Database,
    make_user: MakeUser,
    make_store: MakeStore,
    kb_bytes: bytes,
) -> None:
    store = await make_store(code="camellia", name="山茶花服饰旗舰店", service_phone="400-820-1234")
    async with db.sessionmaker() as s:
        await importer.import_faq_json(s, EDITOR, kb_bytes)
        await s.commit()
    user = await make_user("supervisor", username="wang", display_name="王主管")

    page = await _page(browser, 1440)
    await page.goto(f"{live_server.url}/login")
    await page.fill("input[name=username]", user.username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")

    await page.goto(f"{live_server.url}/knowledge")
    assert await page.locator("[data-testid=faq-table] tbody tr").count() == 20
    await page.screenshot(path=str(screenshot_path("knowledge-list")), full_page=False)

    await page.goto(f"{live_server.url}/knowledge/faqs/new")
    await page.fill("#question", "双十一期间什么时候发货？")
    similar = page.locator("[data-testid=similar-list] input[name=similar]")
    await similar.nth(0).fill("11.11的订单多久发")
    await similar.nth(0).press("Enter")  # Enter adds the next row and moves into it
    await expect(similar.nth(1)).to_be_focused()
    await page.keyboard.type("大促期间发货慢吗")
    await page.click("[data-testid=add-similar]")
    await similar.nth(2).fill("活动订单几天能到")
    assert await similar.count() == 3
    await page.fill("#answer", "亲，大促期间订单量大，")
    await page.locator("#answer").press("End")
    await page.click("[data-testid=md-bold]")
    await page.keyboard.type("付款后72小时内发货")
    await page.locator("#answer").press("End")
    await page.locator("#answer").press("End")
    await page.keyboard.type(
        "。\n\n- 预售商品以商品页时间为准\n- 可在[订单页](https://shop.example.com/orders)查看物流"
    )
    await page.fill("#category", "售中")
    await page.fill("#valid_from", "2026-11-01T00:00")
    await page.fill("#valid_until", "2030-12-31T23:59")
    await page.click("[data-testid=preview-tab]")
    preview = page.locator("[data-testid=md-preview]")
    await preview.locator("strong").wait_for()
    assert await preview.locator("strong").inner_text() == "付款后72小时内发货"
    assert await preview.locator("li").count() == 2
    await page.set_viewport_size({"width": 1440, "height": 1080})
    await page.screenshot(path=str(screenshot_path("knowledge-editor")))

    await page.click("[data-testid=save-faq]")
    await page.wait_for_load_state("networkidle")
    assert "/knowledge/faqs/" in page.url
    assert await page.locator(".alert-success").count() == 1
    await page.goto(f"{live_server.url}/knowledge/faqs/1")
    await page.fill("#question", "客服几点上班？")
    await page.click("[data-testid=save-faq]")
    await page.wait_for_load_state("networkidle")
    await page.goto(f"{live_server.url}/knowledge/faqs/1/history")
    assert await page.locator("[data-testid=history] .timeline-item").count() == 2
    await page.screenshot(path=str(screenshot_path("knowledge-history")), full_page=False)

    # An import with mistakes: nothing is imported, each problem is listed by row.
    await page.goto(f"{live_server.url}/knowledge/import")
    bad = json.dumps(
        [
            {"id": "N1", "question": "支持花呗分期吗？", "answer": "支持3期免息。"},
            {"id": "N2", "question": "", "answer": "没有问题的答案"},
            {"id": "N3", "question": "能送到香港吗？", "answer": "可以", "stores": ["hk-shop"]},
            {"id": "N4", "question": "双十一几号开始？", "answer": "x", "valid_from": "下周"},
        ],
        ensure_ascii=False,
    )
    await page.set_input_files(
        "input[name=file]",
        files=[{"name": "新问答.json", "mimeType": "application/json", "buffer": bad.encode()}],
    )
    await page.click("[data-testid=import-form] button[type=submit]")
    await page.wait_for_load_state("networkidle")
    assert await page.locator("[data-testid=import-errors] tbody tr").count() == 3
    await page.screenshot(path=str(screenshot_path("knowledge-import-errors")))

    # An internal article for agents.
    await page.goto(f"{live_server.url}/knowledge/articles/new")
    await page.fill("#title", "羊绒大衣：面料说明与保养话术")
    await page.fill("#category", "商品知识")
    await page.fill("#tags", "羊绒、保养、大衣")
    await page.fill(
        "#body",
        "### 面料\n\n双面羊绒，**羊绒含量 90%**，其余为羊毛。\n\n"
        "### 顾客问起洗涤时\n\n1. 只能干洗，不可机洗\n2. 起球属正常现象，可用毛球修剪器处理\n\n"
        "> 顾客坚持要求水洗导致变形的，不属于质量问题，按售后规则处理。",
    )
    await page.click("[data-testid=article-form] button[type=submit]")
    await page.wait_for_load_state("networkidle")
    assert await page.locator("[data-testid=article-body] strong").inner_text() == "羊绒含量 90%"
    await page.screenshot(path=str(screenshot_path("knowledge-article")))

    # A shopper on a phone: no sign-in.
    phone = await _page(browser, 390, 844)
    await phone.goto(f"{live_server.url}/help/{store.code}")
    assert await phone.locator("[data-testid=hc-category]").count() == 4
    await phone.screenshot(path=str(screenshot_path("helpcenter-mobile")), full_page=False)
    await phone.fill("[data-testid=hc-search]", "能开专票吗")
    await phone.press("[data-testid=hc-search]", "Enter")
    await phone.wait_for_load_state("networkidle")
    results = phone.locator("[data-testid=hc-results] details")
    assert await results.count() >= 1
    first = results.nth(0)
    assert "发票" in await first.locator("summary").inner_text()
    assert await first.get_attribute("open") is not None
    await phone.screenshot(path=str(screenshot_path("helpcenter-search")), full_page=False)

    desktop = await _page(browser, 1280)
    await desktop.goto(f"{live_server.url}/help/{store.code}")
    await desktop.locator("details.hc-item").nth(1).locator("summary").click()
    await desktop.screenshot(path=str(screenshot_path("helpcenter-desktop")), full_page=False)
