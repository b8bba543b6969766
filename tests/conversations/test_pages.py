"""The agent workspace pages and the agent JSON API."""

from __future__ import annotations

from typing import Any

import httpx

from kefu.channels import identity
from kefu.conversations import service
from kefu.core.db import Database
from kefu.store.enums import OrderStatus
from kefu.store.models import Store
from tests.fixtures.factories import LoginAs


async def _chat(
    db: Database, store: Store, customer_id: int | None = None, text: str = "你好"
) -> int:
    vid = identity.visitor_id_from(identity.new_visitor_token()) or ""
    contact = service.Contact(store.id, identity.visitor_hash(vid), customer_id, "")
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, contact, client_msg_id="1", body=text)
        await s.commit()
    return posted.conversation.id


async def test_inbox_needs_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/inbox", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert (await client.get("/api/v1/conversations")).status_code == 401


async def test_inbox_lists_and_opens_a_conversation_with_masked_customer(
    db: Database, login_as: LoginAs, chat_store: Store, make_customer: Any, make_order: Any
) -> None:
    buyer = await make_customer(
        chat_store, name="张三丰", nickname="三丰爱购物", phone="13812345678", tier="vip"
    )
    await make_order(chat_store, buyer, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    cid = await _chat(db, chat_store, buyer.id, "我的快递到哪了？")
    agent = await login_as("agent")
    page = await agent.get("/inbox")
    assert page.status_code == 200
    assert "三丰爱购物" in page.text and "我的快递到哪了？" in page.text
    opened = await agent.get(f"/inbox?c={cid}")
    assert "138****5678" in opened.text and "13812345678" not in opened.text
    assert "张**" in opened.text
    assert "卖家已发货" in opened.text or "Shipped" in opened.text
    pane = await agent.get(f"/inbox/_pane/{cid}")
    assert pane.status_code == 200 and 'id="chat-events"' in pane.text

    supervisor = await login_as("supervisor")
    revealed = await supervisor.get(f"/inbox/_pane/{cid}")
    assert "13812345678" in revealed.text and "张三丰" in revealed.text
    assert (await agent.get("/inbox/_pane/99999")).status_code == 404


async def test_agent_api_reply_assign_resolve_reopen(
    db: Database, login_as: LoginAs, chat_store: Store
) -> None:
    cid = await _chat(db, chat_store)
    agent = await login_as("agent")
    me = agent.user  # type: ignore[attr-defined]
    listed = (await agent.get("/api/v1/conversations?view=unassigned")).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    assert {k: listed["counts"][k] for k in ("mine", "unassigned", "all")} == {
        "mine": 0,
        "unassigned": 1,
        "all": 1,
    }

    sent = await agent.post(
        f"/api/v1/conversations/{cid}/messages", json={"client_id": "x1", "body": "您好，请讲"}
    )
    assert sent.status_code == 201 and sent.json()["duplicate"] is False
    again = await agent.post(
        f"/api/v1/conversations/{cid}/messages", json={"client_id": "x1", "body": "您好，请讲"}
    )
    assert again.json()["message_id"] == sent.json()["message_id"] and again.json()["duplicate"]
    empty = await agent.post(
        f"/api/v1/conversations/{cid}/messages", json={"client_id": "x2", "body": ""}
    )
    assert empty.status_code == 422 and empty.json()["title_zh"]

    mine = (await agent.get("/api/v1/conversations?view=mine")).json()["items"]
    assert mine[0]["assignee_id"] == me.id
    resolved = await agent.post(f"/api/v1/conversations/{cid}/resolve")
    assert resolved.json()["status"] == "resolved"
    assert (await agent.get("/api/v1/conversations?status=resolved")).json()["items"][0][
        "id"
    ] == cid
    reopened = await agent.post(f"/api/v1/conversations/{cid}/reopen")
    assert reopened.json()["status"] == "open"
    released = await agent.post(f"/api/v1/conversations/{cid}/assign", json={"assignee_id": None})
    assert released.json()["assignee_id"] is None
    detail = (await agent.get(f"/api/v1/conversations/{cid}")).json()
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds == [
        "opened",
        "message",
        "assigned",
        "read",
        "message",
        "resolved",
        "message",  # the satisfaction survey the customer gets when a served chat ends
        "reopened",
        "unassigned",
    ]
    after = detail["events"][3]["id"]
    tail = (await agent.get(f"/api/v1/conversations/{cid}/events?after={after}")).json()
    assert [e["kind"] for e in tail] == ["message", "resolved", "message", "reopened", "unassigned"]
    missing = await agent.post("/api/v1/conversations/4242/resolve")
    assert missing.status_code == 404 and missing.json()["code"] == "conversation_not_found"


async def test_agent_writes_need_csrf(login_as: LoginAs, db: Database, chat_store: Store) -> None:
    cid = await _chat(db, chat_store)
    agent = await login_as("agent")
    del agent.headers["X-CSRF-Token"]
    response = await agent.post(f"/api/v1/conversations/{cid}/resolve")
    assert response.status_code == 403
