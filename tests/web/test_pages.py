"""The shell: navigation by role, language switch, overview counts, empty sections, error pages."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select

from kefu.core.db import Database
from kefu.store.models import Store
from tests.fixtures.factories import LoginAs

HTML = {"accept": "text/html"}


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "the page has the main navigation"
    return re.findall(r'<a href="([^"]+)"', nav.group(1))


async def test_navigation_in_chinese_by_default(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    page = await admin.get("/")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    for label in ("工作台", "工单", "客户", "订单", "知识库", "报表", "设置"):
        assert f"<span>{label}</span>" in page.text
    assert nav_links(page.text) == [
        "/",
        "/inbox",
        "/tickets",
        "/aftersales",
        "/customers",
        "/orders",
        "/knowledge",
        "/reports",
        "/settings",
    ]
    # The user menu: name, role in Chinese, change password, sign out as a POST with CSRF.
    assert "管理员" in page.text
    assert 'href="/settings/password"' in page.text
    logout = re.search(r'<form method="post" action="/logout">(.*?)</form>', page.text, re.S)
    assert logout and 'name="csrf_token"' in logout.group(1)


async def test_navigation_hides_what_the_role_cannot_open(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    links = nav_links((await agent.get("/")).text)
    assert "/reports" not in links
    assert "/tickets" in links and "/inbox" in links
    qa = await login_as("qa")
    assert "/reports" in nav_links((await qa.get("/")).text)


async def test_current_section_is_highlighted(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    page = await agent.get("/tickets")
    assert re.search(r'<a href="/tickets" class="active">', page.text)
    assert not re.search(r'<a href="/knowledge" class="active">', page.text)


async def test_english_switch_by_cookie(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    agent.cookies.set("kefu_locale", "en")
    page = await agent.get("/")
    assert '<html lang="en">' in page.text
    for label in ("Inbox", "Tickets", "Customers", "Orders", "Knowledge", "Settings"):
        assert f"<span>{label}</span>" in page.text
    assert "Agent" in page.text  # role label in English
    assert 'data-locale="zh_CN"' in page.text  # the way back


async def test_login_page_speaks_both_languages(client: httpx.AsyncClient) -> None:
    zh = await client.get("/login")
    assert "登录" in zh.text and "用户名" in zh.text
    client.cookies.set("kefu_locale", "en")
    en = await client.get("/login")
    assert "Sign in" in en.text and "Username" in en.text


async def test_overview_shows_real_counts(login_as: LoginAs, db: Database) -> None:
    admin = await login_as("admin")
    page = await admin.get("/")
    assert re.search(r'data-testid="count-stores">0<', page.text)
    assert "开始使用" in page.text  # the checklist while nothing is set up
    async with db.sessionmaker() as s:
        s.add(Store(code="tmall-main", name="天猫旗舰店", platform="tmall", webhook_secret="s"))
        await s.commit()
        stores = await s.scalar(select(func.count()).select_from(Store))
    page = await admin.get("/")
    assert re.search(rf'data-testid="count-stores">{stores}<', page.text)
    assert re.search(r'data-testid="count-users">1<', page.text)


async def test_overview_greets_with_name_and_role(login_as: LoginAs) -> None:
    supervisor = await login_as("supervisor")
    page = await supervisor.get("/")
    name = supervisor.user.display_name  # type: ignore[attr-defined]
    assert f"，{name}</h1>" in page.text
    assert "客服主管" in page.text
    # Agents get no admin checklist.
    agent = await login_as("agent")
    assert "开始使用" not in (await agent.get("/")).text


def _handled_by_shell(app: FastAPI, path: str) -> bool:
    """Whether the shell's placeholder still serves `path` (a feature may have replaced it)."""
    for context in iter_route_contexts(app.routes):
        if context.path == path and context.methods and "GET" in context.methods:
            return bool(context.endpoint.__module__ == "kefu.web.pages")
    return False


@pytest.mark.parametrize(
    ("path", "title"),
    # /reports lists the reports that exist (tests/bot/test_reports.py checks its links).
    [("/tickets", "工单即将上线"), ("/knowledge", "知识库即将上线")],
)
async def test_coming_sections_explain_what_is_coming(
    app: FastAPI, login_as: LoginAs, path: str, title: str
) -> None:
    supervisor = await login_as("supervisor")
    page = await supervisor.get(path)
    assert page.status_code == 200
    if _handled_by_shell(app, path):
        assert title in page.text
        assert 'class="coming-list"' in page.text
    else:  # the real feature has arrived; it must still sit inside the shell
        assert '<nav class="nav"' in page.text


async def test_settings_index_links_by_permission(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    page = (await admin.get("/settings")).text
    for href in (
        "/settings/users",
        "/settings/groups",
        "/settings/tokens",
        "/settings/password",
        "/settings/stores",
        "/settings/import",
    ):
        assert f'href="{href}"' in page
    agent = await login_as("agent")
    page = (await agent.get("/settings")).text
    assert 'href="/settings/password"' in page and 'href="/settings/tokens"' in page
    for href in ("/settings/users", "/settings/groups", "/settings/stores", "/settings/import"):
        assert f'href="{href}"' not in page


async def test_forbidden_page_is_a_page_not_json(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    page = await agent.get("/reports", headers=HTML)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "您没有权限访问此页面" in page.text
    assert 'href="/"' in page.text  # a way back
    api = await agent.get("/api/v1/users")
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_unknown_page_is_a_404_page(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    anonymous = await client.get("/no-such-page", headers=HTML)
    assert anonymous.status_code == 404
    assert "页面不存在" in anonymous.text
    agent = await login_as("agent")
    signed_in = await agent.get("/no-such-page", headers=HTML)
    assert signed_in.status_code == 404
    assert "<nav" in signed_in.text  # inside the shell, with navigation
    api = await client.get("/api/v1/no-such-thing")
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_static_assets_and_vendored_libraries(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    for asset in re.findall(r'(?:src|href)="(/static/[^"?]+)', page.text):
        response = await client.get(asset)
        assert response.status_code == 200, asset
    for path in (
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/alpinejs/alpine.min.js",
        "/static/vendor/echarts/echarts.min.js",
        "/static/vendor/README.md",
    ):
        assert (await client.get(path)).status_code == 200, path
    js = (await client.get("/static/js/kefu.js")).text
    assert "htmx:configRequest" in js and "X-CSRF-Token" in js


async def test_htmx_requests_pass_csrf_with_the_header(login_as: LoginAs) -> None:
    """What kefu.js does for every HTMX request: the header alone satisfies the CSRF check."""
    agent = await login_as("agent")
    response = await agent.post(
        "/api/v1/tokens",
        json={"name": "htmx", "scopes": ["orders.read"]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 201
