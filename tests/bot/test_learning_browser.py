"""In a real browser: a customer rates a bot answer 没帮助 in the H5 chat; a supervisor finds
it, with a question the bot missed, on the learning page and teaches the bot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from kefu.bot.models import BotTurn
from kefu.core.db import Database
from kefu.knowledge.models import Faq
from kefu.store.models import Store
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser
GROUP = "[data-testid=learning-group]"


async def _until(check: Any, within: float = 10.0) -> None:
    """Poll the database: the rating is written by the live server's own request."""
    for _ in range(int(within * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_rate_in_the_widget_then_review_on_the_learning_page(
    live_server: LiveServer,
    db: Database,
    browser: Any,
    make_store: Any,
    make_faq: Any,
    make_user: MakeUser,
) -> None:
    store: Store = await make_store(
        code="learn-h5", name="优衣小铺", settings={"bot": {"enabled": True}}
    )
    await make_faq("退货运费谁出", "七天无理由退货的运费由买家承担；质量问题由我们承担运费。")
    shipping = await make_faq("多久发货", "付款后 48 小时内发货。", similar=["什么时候发货"])
    await make_faq("怎么申请退货", "在“我的订单”里点“申请售后”即可。")

    chat = await browser.new_context(
        viewport={"width": 390, "height": 760}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    try:
        page = await chat.new_page()
        await page.goto(f"{live_server.url}/chat/{store.code}")
        await page.wait_for_selector("#kf-input")
        for text in ("积分可以抵现吗", "拍下的东西哪天寄出", "退货运费谁出"):
            await page.fill("#kf-input", text)
            await page.click("#kf-send")
            await page.wait_for_selector(f".kf-me .kf-bubble >> text={text}")
        rate = page.locator(".kf-them .kf-rate")
        await rate.wait_for()
        assert await rate.count() == 1  # only the FAQ answer, not the suggestions or fallback
        await rate.locator("button >> text=没帮助").click()
        await page.wait_for_selector(".kf-rate-btn.on >> text=没帮助")
        await page.screenshot(path=str(screenshot_path("bot-rating")))
    finally:
        await chat.close()

    async def rated() -> bool:
        async with db.sessionmaker() as s:
            return await s.scalar(select(BotTurn.rating).where(BotTurn.rating.is_not(None))) == -1

    await _until(rated)

    supervisor = await make_user("supervisor")
    desk = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = await desk.new_page()
        await page.goto(f"{live_server.url}/login?next=/bot/learning")
        await page.fill("#username", supervisor.username)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{live_server.url}/bot/learning")
        groups = page.locator(GROUP)
        await groups.first.wait_for()
        assert await groups.count() == 3
        assert await page.locator(".learn-meta >> text=客户评价没帮助").count() == 1
        await page.screenshot(path=str(screenshot_path("bot-learning")), full_page=True)

        group = groups.filter(has_text="拍下的东西哪天寄出")
        await group.locator("input[type=search]").fill("发货")
        await group.locator(".learn-hits button >> text=多久发货").click()
        await group.locator("[data-testid=add-similar]").click()
        await page.wait_for_function(f"document.querySelectorAll('{GROUP}').length === 2")
        assert await groups.count() == 2
        await groups.filter(has_text="积分可以抵现吗").locator("[data-testid=ignore]").click()
        await page.wait_for_function(f"document.querySelectorAll('{GROUP}').length === 1")
        assert await groups.count() == 1
    finally:
        await desk.close()
    async with db.sessionmaker() as s:
        faq = await s.get(Faq, shipping)
        assert faq is not None and "拍下的东西哪天寄出" in faq.similar
