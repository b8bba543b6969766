"""The bot in a real browser: suggestions render as buttons in the H5 chat, a click asks."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.store.models import Store
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_choices_render_as_buttons_and_a_click_gets_the_answer(
    live_server: LiveServer, browser: Any, make_store: Any, make_faq: Any
) -> None:
    store: Store = await make_store(
        code="bot-h5", name="优衣小铺", settings={"bot": {"enabled": True}}
    )
    await make_faq("退货运费谁出", "七天无理由退货的运费由买家承担；质量问题由我们承担运费。")
    await make_faq("退货地址是什么", "请寄到浙江省杭州市余杭区文一西路 969 号。")
    await make_faq("怎么申请退货", "在“我的订单”里点“申请售后”即可。")
    context = await browser.new_context(
        viewport={"width": 390, "height": 760}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    try:
        page = await context.new_page()
        await page.goto(f"{live_server.url}/chat/{store.code}")
        await page.wait_for_selector("#kf-input")
        await page.fill("#kf-input", "关于退货")
        await page.click("#kf-send")
        choices = page.locator(".kf-them .kf-choice")
        await choices.first.wait_for()
        labels = await choices.all_inner_texts()
        assert "怎么申请退货" in labels and labels[-1] == "转人工"
        assert await page.locator(".kf-them .kf-name >> text=智能助手").count() >= 1
        await page.screenshot(path=str(screenshot_path("bot-choices")))
        await choices.filter(has_text="怎么申请退货").click()
        await page.wait_for_selector(".kf-me .kf-bubble >> text=怎么申请退货")
        await page.wait_for_selector(".kf-them .kf-bubble >> text=申请售后")
        await page.screenshot(path=str(screenshot_path("bot-answer")))
    finally:
        await context.close()


async def test_settings_page_in_the_browser(
    live_server: LiveServer, browser: Any, make_store: Any, make_user: MakeUser
) -> None:
    store: Store = await make_store(name="优衣小铺", settings={"demo": True})
    admin = await make_user("admin")
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(f"{live_server.url}/login?next=/settings/bot")
        await page.fill("#username", admin.username)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{live_server.url}/settings/bot")
        await page.screenshot(path=str(screenshot_path("bot-settings-index")))
        await page.click(f"a[href='/settings/bot/{store.id}']")
        await page.fill("#low_confidence_turns", "3")
        await page.fill("#handoff_keywords", "赔偿 退款失败")
        await page.screenshot(path=str(screenshot_path("bot-settings")), full_page=True)
        await page.click("[data-testid=bot-settings-form] button[type=submit]")
        await page.wait_for_selector("#handoff_keywords[value='赔偿 退款失败']")
        assert await page.input_value("#low_confidence_turns") == "3"
    finally:
        await context.close()
