"""The shell in a real browser: sign in through the form, Chinese navigation, switch to English,
the tablet layout's collapsible sidebar, HTMX carrying the CSRF token. Screenshots of every
page are saved under test-output/screenshots/ for people to look at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


async def _sign_in(page: Any, server: LiveServer, username: str) -> None:
    await page.goto(f"{server.url}/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/")


async def test_shell_in_chinese_then_english(
    live_server: LiveServer, browser: Any, make_user: MakeUser
) -> None:
    admin = await make_user("admin", display_name="张店长")
    await make_user("agent", display_name="小美")
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto(f"{live_server.url}/login")
    await page.screenshot(path=screenshot_path("login-1280"))
    await page.fill("#username", admin.username)
    await page.fill("#password", "wrong-password")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text(".login-card")
    await page.screenshot(path=screenshot_path("login-error-1280"))

    await _sign_in(page, live_server, admin.username)
    nav = await page.inner_text("nav.nav")
    for label in ("概览", "工作台", "工单", "客户", "订单", "知识库", "报表", "设置"):
        assert label in nav
    assert "张店长" in await page.inner_text(".topbar")
    await page.screenshot(path=screenshot_path("home-1280"), full_page=True)

    # The user menu opens (Alpine) and shows the role in Chinese.
    await page.click("[data-testid=user-menu]")
    await page.wait_for_selector(".menu-panel", state="visible")
    assert "管理员" in await page.inner_text(".menu-panel")
    await page.screenshot(path=screenshot_path("user-menu-1280"))
    await page.keyboard.press("Escape")

    for path, name in (
        ("/settings", "settings"),
        ("/settings/users", "users"),
        ("/settings/users/new", "user-new"),
        (f"/settings/users/{admin.id}", "user-edit"),
        ("/settings/groups", "groups-empty"),
        ("/settings/tokens", "tokens"),
        ("/settings/password", "password"),
        ("/tickets", "tickets"),
        ("/knowledge", "knowledge"),
        ("/reports", "reports"),
    ):
        response = await page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        await page.screenshot(path=screenshot_path(f"{name}-1280"), full_page=True)

    # A form post through the browser: the four default groups.
    await page.goto(f"{live_server.url}/settings/groups")
    async with page.expect_response(
        lambda r: r.url.endswith("/settings/groups/defaults") and r.request.method == "POST"
    ) as created:
        await page.click("text=创建这四个分组")
    assert (await created.value).status == 303, await (await created.value).text()
    await page.wait_for_selector("table.table")
    assert "投诉专家组" in await page.inner_text("table.table")
    await page.screenshot(path=screenshot_path("groups-1280"), full_page=True)

    # A token: the secret is shown once, with a copy button.
    await page.goto(f"{live_server.url}/settings/tokens")
    await page.fill("#token-name", "ERP 订单同步")
    await page.check("input[value='orders.read']")
    await page.click("button:has-text('创建令牌')")
    secret = await page.inner_text("[data-testid=new-token]")
    assert secret.startswith("kefu_")
    await page.screenshot(path=screenshot_path("token-created-1280"), full_page=True)

    # HTMX requests carry the CSRF token from the meta tag (kefu.js).
    status = await page.evaluate(
        """() => new Promise((resolve) => {
            document.body.addEventListener('htmx:afterRequest',
                (e) => resolve(e.detail.xhr.status), {once: true});
            htmx.ajax('POST', '/api/v1/tokens/999999', {swap: 'none'});
        })"""
    )
    assert status in (404, 405), status  # reached the route: not refused for CSRF (403)

    # Switch to English from the top bar; the choice sticks across pages.
    await page.goto(f"{live_server.url}/")
    await page.click(".topbar [data-locale=en]")
    await page.wait_for_function("document.documentElement.lang === 'en'")
    nav = await page.inner_text("nav.nav")
    for label in ("Overview", "Inbox", "Tickets", "Customers", "Orders", "Settings"):
        assert label in nav
    await page.screenshot(path=screenshot_path("home-en-1280"), full_page=True)
    await page.goto(f"{live_server.url}/settings/users")
    assert "New user" in await page.inner_text("main")
    await page.screenshot(path=screenshot_path("users-en-1280"), full_page=True)
    assert not errors, errors
    await context.close()


async def test_tablet_layout_collapses_the_sidebar(
    live_server: LiveServer, browser: Any, make_user: MakeUser
) -> None:
    admin = await make_user("admin", display_name="张店长")
    context = await browser.new_context(viewport=TABLET, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/login")
    await page.screenshot(path=screenshot_path("login-768"))
    await _sign_in(page, live_server, admin.username)
    sidebar = page.locator("#sidebar")
    box = await sidebar.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0, "sidebar starts hidden on tablets"
    await page.screenshot(path=screenshot_path("home-768"), full_page=True)
    await page.click(".nav-toggle")
    await page.wait_for_function(
        "document.getElementById('sidebar').getBoundingClientRect().left >= 0"
    )
    await page.screenshot(path=screenshot_path("nav-open-768"))
    await page.click(".backdrop", position={"x": 700, "y": 500})
    await page.wait_for_function(
        "document.getElementById('sidebar').getBoundingClientRect().right <= 0"
    )
    for path, name in (("/settings/users", "users"), ("/settings/tokens", "tokens")):
        await page.goto(f"{live_server.url}{path}")
        await page.screenshot(path=screenshot_path(f"{name}-768"), full_page=True)
    await context.close()


async def test_logout_from_the_user_menu(
    live_server: LiveServer, browser: Any, make_user: MakeUser
) -> None:
    agent = await make_user("agent", display_name="小美")
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    await _sign_in(page, live_server, agent.username)
    nav = await page.inner_text("nav.nav")
    assert "报表" not in nav  # agents have no reports
    refused = await page.goto(f"{live_server.url}/reports")
    assert refused is not None and refused.status == 403
    assert "您没有权限访问此页面" in await page.inner_text("main")
    await page.screenshot(path=screenshot_path("forbidden-1280"))
    await page.click("[data-testid=user-menu]")
    await page.click("text=退出登录")
    await page.wait_for_url(f"{live_server.url}/login")
    assert "您已退出登录" in await page.inner_text("main")
    await page.goto(f"{live_server.url}/settings")
    assert page.url.startswith(f"{live_server.url}/login?next=")
    await context.close()
