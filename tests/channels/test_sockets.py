"""Both WebSockets against a live server: send both ways, acknowledgement after commit,
resume after a reconnect, deduplicated resends, refused identities and strangers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from kefu.channels import identity
from kefu.conversations.models import Message
from kefu.core.db import Database
from kefu.store.models import Store
from tests.conversations.chat import CHANNEL, Peer, agent, customer
from tests.fixtures.browser import LiveServer


def is_type(kind: str) -> Any:
    return lambda f: f.get("type") == kind


async def messages_in_db(db: Database) -> list[str]:
    async with db.sessionmaker() as s:
        return list(await s.scalars(select(Message.body).order_by(Message.id)))


async def test_chat_both_ways_with_acks_after_commit(
    live_server: LiveServer, db: Database, chat_store: Store, agent_cookie: Any
) -> None:
    cookie, _ = await agent_cookie(live_server, display_name="小美")
    staff = await agent(live_server, cookie)
    await staff.expect(is_type("hello"))
    await staff.send({"type": "resume", "after": 0})

    shopper = await customer(live_server)
    hello = await shopper.expect(is_type("hello"))
    assert hello["conversation_id"] is None and hello["visitor_token"]
    await shopper.send({"type": "resume", "after": 0})
    await shopper.send({"type": "send", "client_id": "c1", "body": "这件衣服有 M 码吗？"})
    ack = await shopper.expect(is_type("ack"))
    assert ack["client_id"] == "c1" and ack["message_id"] > 0 and not ack["duplicate"]
    # The acknowledgement promises the message is stored: another connection can read it.
    assert await messages_in_db(db) == ["这件衣服有 M 码吗？"]
    own = await shopper.event("message", client_id="c1")
    assert own["id"] == ack["event_id"]

    seen = await staff.event("message", client_id="c1")
    assert seen["conversation"]["contact_name"].startswith("访客")
    conversation_id = seen["conversation_id"]

    await shopper.send({"type": "typing", "on": True})
    typing = await staff.expect(is_type("typing"))
    assert typing["who"] == "customer" and typing["conversation_id"] == conversation_id

    await staff.send(
        {"type": "send", "conversation_id": conversation_id, "client_id": "a1", "body": "有的亲"}
    )
    agent_ack = await staff.expect(is_type("ack"))
    assert agent_ack["client_id"] == "a1"
    reply = await shopper.event("message", client_id="a1")
    assert reply["message"]["body"] == "有的亲"
    assert reply["message"]["sender_name"] == "小美"
    assert reply["message"]["sender_id"] is None  # staff ids stay internal
    assigned = await shopper.event("assigned")
    assert assigned["data"] == {"assignee_name": "小美", "previous_assignee_id": None}
    receipt = await shopper.event("read")
    assert receipt["data"] == {"by": "agent", "up_to": ack["message_id"]}

    # Internal notes reach colleagues, never the customer.
    await staff.send(
        {
            "type": "send",
            "conversation_id": conversation_id,
            "client_id": "n1",
            "body": "内部备注：老客户",
            "audience": "internal",
        }
    )
    await staff.event("note", client_id="n1")
    await shopper.send({"type": "read"})
    customer_read = await staff.expect(
        lambda f: f.get("kind") == "read" and f["data"]["by"] == "customer"
    )
    assert customer_read["data"]["up_to"] == agent_ack["message_id"]
    assert not [f for f in shopper.frames if (f.get("message") or {}).get("client_id") == "n1"]
    await shopper.close()
    await staff.close()


async def test_reconnect_resumes_missed_events_and_resend_is_deduplicated(
    live_server: LiveServer, db: Database, chat_store: Store, agent_cookie: Any
) -> None:
    _, http = await agent_cookie(live_server)
    shopper = await customer(live_server)
    token = (await shopper.expect(is_type("hello")))["visitor_token"]
    await shopper.send({"type": "resume", "after": 0})
    await shopper.send({"type": "send", "client_id": "k1", "body": "发货了吗"})
    ack = await shopper.expect(is_type("ack"))
    event = await shopper.event("message", client_id="k1")
    cursor = event["id"]
    await shopper.close()

    # While the customer is away, the agent answers twice.
    cid = ack["conversation_id"]
    for n, text in enumerate(["今天下午发", "单号稍后同步给您"]):
        response = await http.post(
            f"/api/v1/conversations/{cid}/messages", json={"client_id": f"r{n}", "body": text}
        )
        assert response.status_code == 201, response.text

    back = await customer(live_server, visitor=token)
    hello = await back.expect(is_type("hello"))
    assert hello["conversation_id"] == cid
    await back.send({"type": "resume", "after": cursor})
    first = await back.event("message", client_id="r0")
    second = await back.event("message", client_id="r1")
    assert cursor < first["id"] < second["id"]

    # The ack for k1 was "lost": the page resends it after reconnecting.
    await back.send({"type": "send", "client_id": "k1", "body": "发货了吗"})
    again = await back.expect(is_type("ack"))
    assert again["duplicate"] is True
    assert again["message_id"] == ack["message_id"]
    assert await messages_in_db(db) == ["发货了吗", "今天下午发", "单号稍后同步给您"]
    await back.close()


async def test_validation_errors_are_reported_not_dropped(
    live_server: LiveServer, chat_store: Store
) -> None:
    shopper = await customer(live_server)
    await shopper.expect(is_type("hello"))
    await shopper.send({"type": "resume", "after": 0})
    await shopper.send({"type": "send", "client_id": "e1", "body": "   "})
    error = await shopper.expect(is_type("error"))
    assert error == {
        "type": "error",
        "code": "empty_message",
        "message": "消息不能为空",
        "message_en": "The message is empty",
        "client_id": "e1",
    }
    await shopper.conn.send("not json")
    assert (await shopper.expect(is_type("error")))["code"] == "bad_frame"
    await shopper.send({"type": "send", "client_id": "e2", "body": "正常消息"})
    assert (await shopper.expect(is_type("ack")))["client_id"] == "e2"
    await shopper.close()


async def test_forged_identity_is_refused_with_a_chinese_reason(
    live_server: LiveServer, chat_store: Store
) -> None:
    shopper = await customer(live_server, uid="U1001", uid_hash="0" * 64)
    error = await shopper.expect(is_type("error"))
    assert error["code"] == "identity_invalid"
    assert "身份校验失败" in error["message"]
    with pytest.raises(ConnectionClosed) as closed:
        await shopper.conn.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_signed_identity_is_accepted(live_server: LiveServer, chat_store: Store) -> None:
    signed = identity.identifier_hash(chat_store.webhook_secret, "U1001")
    shopper = await customer(live_server, uid="U1001", uid_hash=signed, name="王女士")
    hello = await shopper.expect(is_type("hello"))
    assert hello["identified"] is True and hello["name"] == "王女士"
    await shopper.close()


async def test_unknown_channel_and_strangers_are_turned_away(
    live_server: LiveServer, chat_store: Store
) -> None:
    lost = await customer(live_server, channel="no-such-shop")
    assert (await lost.expect(is_type("error")))["code"] == "channel_not_found"
    stranger = await agent(live_server, cookie="")
    assert (await stranger.expect(is_type("error")))["code"] == "unauthorized"
    with pytest.raises(ConnectionClosed) as closed:
        await stranger.conn.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_agent_socket_refuses_other_sites(
    live_server: LiveServer, chat_store: Store, agent_cookie: Any
) -> None:
    from websockets.asyncio.client import connect

    from tests.conversations.chat import ws_url

    cookie, _ = await agent_cookie(live_server)
    conn = await connect(
        ws_url(live_server, "/api/v1/agent/ws"),
        additional_headers={"Cookie": cookie, "Origin": "https://evil.example"},
    )
    peer = Peer(conn)
    assert (await peer.expect(is_type("error")))["code"] == "unauthorized"


async def test_agent_resume_delivers_what_happened_while_away(
    live_server: LiveServer, chat_store: Store, agent_cookie: Any
) -> None:
    cookie, _ = await agent_cookie(live_server)
    staff = await agent(live_server, cookie)
    cursor = (await staff.expect(is_type("hello")))["last_event_id"]
    await staff.close()

    shopper = await customer(live_server, channel=CHANNEL)
    await shopper.expect(is_type("hello"))
    await shopper.send({"type": "resume", "after": 0})
    await shopper.send({"type": "send", "client_id": "w1", "body": "有人吗"})
    await shopper.expect(is_type("ack"))

    staff = await agent(live_server, cookie)
    await staff.expect(is_type("hello"))
    await staff.send({"type": "resume", "after": cursor})
    opened = await staff.event("opened")
    message = await staff.event("message", client_id="w1")
    assert opened["id"] < message["id"]
    assert message["conversation"]["unread_by_agent"] == 1
    await staff.close()
    await shopper.close()


async def test_a_flood_of_messages_is_slowed_down(
    live_server: LiveServer, db: Database, chat_store: Store
) -> None:
    from kefu.channels.api import SEND_BURST

    shopper = await customer(live_server)
    await shopper.expect(is_type("hello"))
    await shopper.send({"type": "resume", "after": 0})
    for n in range(SEND_BURST + 1):
        await shopper.send({"type": "send", "client_id": f"f{n}", "body": f"刷屏 {n}"})
    for _ in range(SEND_BURST):
        await shopper.expect(is_type("ack"))
    refused = await shopper.expect(is_type("error"))
    assert refused["code"] == "rate_limited" and refused["client_id"] == f"f{SEND_BURST}"
    assert len(await messages_in_db(db)) == SEND_BURST
    await shopper.close()


async def test_customers_see_whether_an_agent_is_online(
    live_server: LiveServer, chat_store: Store, agent_cookie: Any
) -> None:
    nobody = await customer(live_server)
    assert (await nobody.expect(is_type("hello")))["agents_online"] is False
    await nobody.close()

    cookie, http = await agent_cookie(live_server)
    staff = await agent(live_server, cookie)
    await staff.expect(is_type("hello"))
    someone = await customer(live_server)
    assert (await someone.expect(is_type("hello")))["agents_online"] is True
    await someone.close()

    assert (await http.post("/api/v1/agent/presence", json={"status": "away"})).json() == {
        "status": "away"
    }
    away = await customer(live_server)
    assert (await away.expect(is_type("hello")))["agents_online"] is False
    await away.close()
    bad = await http.post("/api/v1/agent/presence", json={"status": "asleep"})
    assert bad.status_code == 422
    await staff.close()


async def test_agent_socket_refuses_a_cookie_after_sign_out(
    live_server: LiveServer, chat_store: Store, agent_cookie: Any
) -> None:
    cookie, client = await agent_cookie(live_server)
    staff = await agent(live_server, cookie)
    await staff.expect(is_type("hello"))
    await staff.close()

    signed_out = await client.post("/logout")
    assert signed_out.status_code == 303

    replayed = await agent(live_server, cookie)  # a copy of the cookie taken before logout
    assert (await replayed.expect(is_type("error")))["code"] == "unauthorized"
