"""Canned replies (快捷回复): management, who may see and change which reply, variables, and
the search the inbox picker calls."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kefu.conversations.models import Conversation
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.knowledge.canned_models import CannedReply
from kefu.knowledge.canned_service import render_canned
from kefu.store.models import Shipment, Store
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, LoginAs, MakeUser
from tests.store.conftest import MakeCustomer, MakeOrder, MakeStore
from tests.store.conftest import make_customer as store_customer  # noqa: F401  (fixture)
from tests.store.conftest import make_order as store_order  # noqa: F401  (fixture)

API = "/api/v1/canned-replies"


@pytest.fixture
def new_customer(request: pytest.FixtureRequest) -> MakeCustomer:
    factory: MakeCustomer = request.getfixturevalue("store_customer")
    return factory


@pytest.fixture
def new_order(request: pytest.FixtureRequest) -> MakeOrder:
    factory: MakeOrder = request.getfixturevalue("store_order")
    return factory


async def _me(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/v1/me")
    assert response.status_code == 200
    return dict(response.json())


async def _create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    payload = {"title": "发货时间", "body": "亲，48 小时内发货哦", "shortcut": "fh"} | fields
    response = await client.post(API, json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _audit(db: Database, entity_id: int) -> list[AuditEntry]:
    async with db.sessionmaker() as s:
        rows = await s.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "canned_reply", AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def _conversation(db: Database, store: Store, customer_id: int | None) -> int:
    async with db.sessionmaker() as s:
        conversation = Conversation(
            store_id=store.id, customer_id=customer_id, visitor_hash="f" * 64
        )
        s.add(conversation)
        await s.commit()
        return conversation.id


# ------------------------------------------------------------------------------ rendering


def test_render_fills_known_variables_and_blanks_unknown_ones() -> None:
    context = {"customer.name": "小美", "order.no": "T1001", "agent.name": "阿杰"}
    body = (
        "{{customer.name}}您好，订单 {{ order.no }} 已发货，"
        "单号{{order.tracking_no}}。{{nope.x}}—{{agent.name}}"
    )
    assert render_canned(body, context) == "小美您好，订单 T1001 已发货，单号。—阿杰"


def test_render_never_executes_template_code() -> None:
    body = "{{ 7*7 }} {% for x in y %}{{ ''.__class__ }}{% endfor %} {{customer.name}}"
    assert render_canned(body, {"customer.name": "A"}) == body.replace("{{customer.name}}", "A")


# ------------------------------------------------------------------------------ CRUD + audit


async def test_personal_reply_crud_is_audited(login_as: LoginAs, db: Database) -> None:
    agent = await login_as("agent")
    me = await _me(agent)
    created = await _create(agent, shortcut="/FH", category="物流")
    assert created["shortcut"] == "fh"
    assert created["shared"] is False and created["editable"] is True

    async with db.sessionmaker() as s:
        row = await s.get(CannedReply, created["id"])
        assert row is not None and row.owner_id == me["id"]

    update = {"title": "发货说明", "body": "亲，今天发货", "shortcut": "fh", "category": "物流"}
    response = await agent.put(f"{API}/{created['id']}", json=update)
    assert response.status_code == 200
    assert response.json()["body"] == "亲，今天发货"

    response = await agent.delete(f"{API}/{created['id']}")
    assert response.status_code == 204
    assert (await agent.get(f"{API}/{created['id']}")).status_code == 404

    entries = await _audit(db, created["id"])
    assert [e.action for e in entries] == [
        "canned_reply.create",
        "canned_reply.update",
        "canned_reply.delete",
    ]
    assert all(e.actor_id == me["id"] for e in entries)
    assert entries[1].before == {"title": "发货时间", "body": "亲，48 小时内发货哦"}
    assert entries[1].after == {"title": "发货说明", "body": "亲，今天发货"}
    assert entries[2].before is not None and entries[2].before["title"] == "发货说明"


async def test_bad_input_is_refused_with_a_chinese_message(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    response = await agent.post(API, json={"title": "", "body": "x", "shortcut": "发货"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


# ------------------------------------------------------------------------------ visibility


async def test_personal_replies_are_private_and_shared_ones_need_knowledge_write(
    login_as: LoginAs,
) -> None:
    agent, other, supervisor = (
        await login_as("agent"),
        await login_as("agent"),
        await login_as("supervisor"),
    )
    mine = await _create(agent, title="我的", shortcut="wd")

    # An agent cannot create a shared reply.
    response = await agent.post(API, json={"title": "共享", "body": "x", "shared": True})
    assert response.status_code == 403
    assert "knowledge.write" in response.text

    shared = await _create(supervisor, title="共享回复", shortcut="gx", shared=True)
    assert shared["shared"] is True

    # The other agent sees the shared reply but not the first agent's personal one.
    titles = {r["title"] for r in (await other.get(API)).json()}
    assert titles == {"共享回复"}
    assert (await other.get(f"{API}/{mine['id']}")).status_code == 404
    edit = {"title": "改", "body": "改"}
    assert (await other.put(f"{API}/{mine['id']}", json=edit)).status_code == 404

    # The agent sees shared replies, but cannot change them.
    listed = {r["title"]: r for r in (await agent.get(API)).json()}
    assert set(listed) == {"我的", "共享回复"}
    assert listed["共享回复"]["editable"] is False
    assert (await agent.put(f"{API}/{shared['id']}", json=edit)).status_code == 403
    assert (await agent.delete(f"{API}/{shared['id']}")).status_code == 403
    page = await agent.post(f"/knowledge/canned/{shared['id']}/delete")
    assert page.status_code == 403

    # A supervisor may; scope filters separate the two kinds.
    assert (await supervisor.put(f"{API}/{shared['id']}", json=edit)).status_code == 200
    personal = (await agent.get(API, params={"scope": "personal"})).json()
    assert [r["title"] for r in personal] == ["我的"]


# ------------------------------------------------------------------------------ API search


async def test_search_renders_bodies_for_the_conversation(
    login_as: LoginAs,
    db: Database,
    make_store: MakeStore,
    new_customer: MakeCustomer,
    new_order: MakeOrder,
) -> None:
    store, other_store = await make_store(), await make_store()
    customer = await new_customer(store, nickname="", name="王小美", phone="13812345678")
    old = await new_order(store, customer, order_no="T-OLD")
    latest = await new_order(store, customer, order_no="T-NEW", placed_at=old.placed_at)
    async with db.sessionmaker() as s:
        s.add(Shipment(order_id=latest.id, carrier="SF", tracking_no="SF1234567890"))
        await s.commit()
    conversation_id = await _conversation(db, store, customer.id)

    agent = await login_as("agent")
    me = await _me(agent)
    body = (
        "{{customer.name}}您好，订单{{order.no}}已发出，单号{{order.tracking_no}}，{{agent.name}}"
    )
    await _create(agent, title="已发货", shortcut="fh", body=body, category="物流")
    await _create(agent, title="退货地址", shortcut="th", body="退货请寄回")
    await _create(agent, title="别的店铺", shortcut="fhx", body="x", store_id=other_store.id)
    await _create(agent, title="停用的", shortcut="fhy", body="x", is_active=False)

    response = await agent.get(API, params={"q": "fh", "conversation_id": conversation_id})
    assert response.status_code == 200
    found = response.json()
    # Only the active reply for this conversation's store.
    assert [r["title"] for r in found] == ["已发货"]
    rendered = found[0]["rendered"]
    assert rendered == f"王**您好，订单T-NEW已发出，单号SF1234567890，{me['display_name']}"
    assert "13812345678" not in rendered

    by_title = await agent.get(API, params={"q": "退货", "conversation_id": conversation_id})
    assert [r["title"] for r in by_title.json()] == ["退货地址"]

    unknown = await agent.get(API, params={"conversation_id": 999999})
    assert unknown.status_code == 404


async def test_missing_order_and_anonymous_visitor_render_blank(
    login_as: LoginAs, db: Database, make_store: MakeStore, new_customer: MakeCustomer
) -> None:
    store = await make_store()
    customer = await new_customer(store, nickname="tb_小鱼")
    with_customer = await _conversation(db, store, customer.id)
    anonymous = await _conversation(db, store, None)
    agent = await login_as("agent")
    await _create(agent, body="{{customer.name}}|{{order.no}}|{{order.tracking_no}}")

    first = (await agent.get(API, params={"conversation_id": with_customer})).json()
    assert first[0]["rendered"] == "tb_小鱼||"
    second = (await agent.get(API, params={"conversation_id": anonymous})).json()
    assert second[0]["rendered"] == "||"


# ------------------------------------------------------------------------------ pages


async def test_management_page_lists_creates_and_edits(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    response = await agent.post(
        "/knowledge/canned/new",
        data={
            "title": "发货时间",
            "body": "48 小时内发货",
            "shortcut": "fh",
            "category": "物流",
            "is_active": "1",
        },
    )
    assert response.status_code == 303
    page = await agent.get("/knowledge/canned?tab=personal")
    assert page.status_code == 200
    assert "发货时间" in page.text and "/fh" in page.text and "物流" in page.text

    reply_id = (await agent.get(API)).json()[0]["id"]
    form = await agent.get(f"/knowledge/canned/{reply_id}")
    assert form.status_code == 200 and "48 小时内发货" in form.text
    edited = await agent.post(
        f"/knowledge/canned/{reply_id}",
        data={"title": "发货时间", "body": "今天发货", "shortcut": "fh", "is_active": "1"},
    )
    assert edited.status_code == 303
    assert (await agent.get(f"{API}/{reply_id}")).json()["body"] == "今天发货"

    missing = await agent.post("/knowledge/canned/new", data={"title": "", "body": ""})
    assert missing.status_code == 422

    found = await agent.get("/knowledge/canned", params={"tab": "personal", "q": "不存在"})
    assert 'data-testid="canned-row"' not in found.text
    assert "没有匹配的快捷回复" in found.text

    knowledge = await agent.get("/knowledge")
    assert 'href="/knowledge/canned"' in knowledge.text


# ------------------------------------------------------------------------------ browser


@pytest.mark.browser
async def test_slash_in_the_inbox_composer_inserts_a_rendered_reply(
    live_server: LiveServer,
    browser: Any,
    db: Database,
    make_user: MakeUser,
    make_store: MakeStore,
    new_customer: MakeCustomer,
    new_order: MakeOrder,
) -> None:
    store = await make_store()
    customer = await new_customer(store, nickname="小鱼儿")
    await new_order(store, customer, order_no="T20261123001")
    conversation_id = await _conversation(db, store, customer.id)
    agent = await make_user("agent", display_name="阿杰")
    async with db.sessionmaker() as s:
        for shortcut, title, body in (
            ("fh", "发货时间", "{{customer.name}}您好，订单{{order.no}}今天发货～{{agent.name}}"),
            ("th", "退货地址", "退货请寄回：杭州市余杭区"),
        ):
            s.add(
                CannedReply(
                    owner_id=agent.id,
                    shortcut=shortcut,
                    title=title,
                    body=body,
                    search_text=f"{shortcut} {title} {body}".lower(),
                )
            )
        await s.commit()

    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{live_server.url}/login")
    await page.fill("#username", agent.username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live_server.url}/")

    await page.goto(f"{live_server.url}/inbox?view=all&c={conversation_id}")
    await page.wait_for_selector("#chat-input")
    await page.click("#chat-input")
    await page.keyboard.type("/")
    await page.wait_for_selector(".canned-item")
    assert await page.locator(".canned-item").count() == 2
    await page.keyboard.type("fh")
    await page.wait_for_function("document.querySelectorAll('.canned-item').length === 1")
    await page.screenshot(path=screenshot_path("inbox-canned-picker-1280"))
    await page.keyboard.press("Enter")
    value = await page.input_value("#chat-input")
    assert value == "小鱼儿您好，订单T20261123001今天发货～阿杰"
    assert await page.locator("#canned-picker").is_hidden()
    # Enter picked the reply; it did not send anything yet.
    assert await page.locator(".chat-row.out").count() == 0

    await page.goto(f"{live_server.url}/knowledge/canned")
    assert "发货时间" in await page.inner_text("main")
    await page.screenshot(path=screenshot_path("knowledge-canned-1280"), full_page=True)
    assert errors == []
    await context.close()
