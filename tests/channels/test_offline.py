"""Offline messages (留言), business hours and holidays, queue frames on the widget socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from kefu.accounts.models import User
from kefu.channels import identity
from kefu.conversations import queue
from kefu.conversations.models import Conversation, Message
from kefu.core import jobs
from kefu.core.db import Database
from kefu.store.models import Store
from kefu.tickets.models import Ticket, TicketMessage
from tests.conversations.chat import agent, customer
from tests.fixtures.browser import LiveServer
from tests.fixtures.servers import CapturedMail

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALWAYS_CLOSED = {"hours": {"enabled": True, "weekdays": [], "holidays": False}}


@pytest.fixture(autouse=True)
async def _jobs_on_test_db(db: Database) -> AsyncIterator[None]:
    jobs.use_job_sessionmaker(db.sessionmaker)
    yield
    await jobs.drain()
    jobs.use_job_sessionmaker(None)


def form(store: Store, token: str, **fields: Any) -> dict[str, Any]:
    return {
        "channel": store.code,
        "visitor_token": token,
        "client_id": "offline-1",
        "name": "王女士",
        "phone": "13812345678",
        "email": "wang@example.com",
        "question": "晚上到货的快递能改地址吗？",
        "send_transcript": True,
        **fields,
    }


async def wait_for_mail(smtp: CapturedMail, count: int) -> None:
    for _ in range(250):
        await jobs.drain()
        if len(smtp.messages) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} mails, got {len(smtp.messages)}")


async def test_offline_message_becomes_a_ticket_and_mails_the_transcript(
    db: Database, client: httpx.AsyncClient, make_store: Any, smtp: CapturedMail
) -> None:
    store = await make_store(name="小蓝店", settings={"chat_routing": ALWAYS_CLOSED})
    token = identity.new_visitor_token()
    sent = await client.post("/api/v1/widget/offline-messages", json=form(store, token))
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    assert answer["ticket_number"] and answer["transcript_sent"] and not answer["duplicate"]

    async with db.sessionmaker() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.number == answer["ticket_number"]))
        assert ticket is not None
        assert (ticket.type_code, ticket.source, ticket.store_id) == (
            "inquiry",
            "chat_offline",
            store.id,
        )
        assert ticket.conversation_id == answer["conversation_id"]
        assert (ticket.contact_name, ticket.contact_phone, ticket.contact_email) == (
            "王女士",
            "13812345678",
            "wang@example.com",
        )
        assert ticket.assignee_id is None  # for the next shift
        copied = list(
            await s.scalars(select(TicketMessage.body).where(TicketMessage.ticket_id == ticket.id))
        )
        assert "晚上到货的快递能改地址吗？" in copied
        # The question is in the chat log too: whoever opens the chat sees it.
        bodies = list(
            await s.scalars(
                select(Message.body).where(Message.conversation_id == answer["conversation_id"])
            )
        )
        assert bodies == ["晚上到货的快递能改地址吗？"]

    # One mail: the transcript the customer asked for, with the ticket's status link.
    await wait_for_mail(smtp, 1)
    await jobs.drain()
    assert [to for to, _ in smtp.messages] == [["wang@example.com"]]
    mail = smtp.messages[0][1]
    assert answer["ticket_number"] in mail["Subject"] and "小蓝店" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "聊天记录" in text and "晚上到货的快递能改地址吗？" in text and "/t/" in text

    # The page retried (lost response): same ticket, nothing stored twice, no second mail.
    again = await client.post("/api/v1/widget/offline-messages", json=form(store, token))
    assert again.status_code == 201
    assert again.json()["ticket_number"] == answer["ticket_number"] and again.json()["duplicate"]
    async with db.sessionmaker() as s:
        tickets = list(await s.scalars(select(Ticket.id).where(Ticket.source == "chat_offline")))
        assert len(tickets) == 1
    await asyncio.sleep(0.2)
    await jobs.drain()
    assert len(smtp.messages) == 1


@pytest.mark.parametrize(
    ("fields", "field", "zh"),
    [
        ({"phone": "12345", "email": ""}, "phone", "手机号格式不正确"),
        ({"email": "wang@", "phone": ""}, "email", "邮箱格式不正确"),
        ({"phone": "", "email": ""}, "", "请留下手机号或邮箱"),
        ({"email": "", "send_transcript": True}, "", "发送聊天记录需要邮箱"),
        ({"question": "   "}, "question", "不能为空"),
    ],
)
async def test_offline_form_is_validated_in_chinese_and_english(
    db: Database,
    client: httpx.AsyncClient,
    make_store: Any,
    fields: dict[str, Any],
    field: str,
    zh: str,
) -> None:
    store = await make_store()
    sent = await client.post(
        "/api/v1/widget/offline-messages",
        json=form(store, identity.new_visitor_token(), **fields),
    )
    assert sent.status_code == 422
    problem = sent.json()
    assert problem["title_zh"] and problem["title_en"]
    error = problem["errors"][0]
    assert error["field"] == field and zh in error["message_zh"] and error["message_en"]
    async with db.sessionmaker() as s:
        assert await s.scalar(select(Message.id)) is None  # refused before anything is stored


async def test_unknown_channel_is_a_clear_404(client: httpx.AsyncClient, db: Database) -> None:
    sent = await client.post(
        "/api/v1/widget/offline-messages",
        json={
            "channel": "nope",
            "client_id": "x",
            "name": "a",
            "phone": "13812345678",
            "question": "b",
        },
    )
    assert sent.status_code == 404 and sent.json()["title_zh"]


async def test_chat_hours_and_holidays_decide_when_the_chat_is_open(
    db: Database, make_store: Any
) -> None:
    store = await make_store(
        settings={
            "chat_routing": {"hours": {"enabled": True, "day_start": "09:00", "day_end": "22:00"}}
        }
    )

    async def at(*when: int) -> queue.Availability:
        async with db.sessionmaker() as s:
            found = await queue.availability(s, store, now=datetime(*when, tzinfo=SHANGHAI))
            await s.commit()
            return found

    monday_noon = await at(2026, 3, 2, 12, 0)
    assert monday_noon.mode == "chat" and monday_noon.hours == "09:00–22:00"
    early = await at(2026, 3, 2, 8, 30)
    assert (early.mode, early.reason) == ("offline", "closed")
    assert early.next_open == datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    late = await at(2026, 3, 2, 22, 0)
    assert late.mode == "offline" and late.next_open == datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)
    # 国庆节 (from the shared holiday calendar): closed all day; open again on 8 October.
    national_day = await at(2026, 10, 1, 12, 0)
    assert (national_day.mode, national_day.reason) == ("offline", "holiday")
    assert national_day.next_open == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)


async def test_the_widget_switches_to_the_offline_form(
    live_server: LiveServer, make_store: Any, make_user: Any
) -> None:
    await make_store(code="closed-shop", settings={"chat_routing": ALWAYS_CLOSED})
    await make_store(code="nobody-shop", settings={"routing": "auto"})
    closed = await customer(live_server, "closed-shop")
    hello = await closed.expect(lambda f: f.get("type") == "hello")
    assert hello["availability"]["mode"] == "offline"
    assert hello["availability"]["reason"] == "closed"
    nobody = await customer(live_server, "nobody-shop")
    hello = await nobody.expect(lambda f: f.get("type") == "hello")
    assert hello["availability"]["mode"] == "offline" and not hello["agents_online"]
    assert hello["availability"]["reason"] == "nobody"
    for peer in (closed, nobody):
        await peer.close()


async def test_waiting_customers_get_their_place_in_line_live(
    live_server: LiveServer, db: Database, make_store: Any, agent_cookie: Any
) -> None:
    store = await make_store(code="busy-shop", settings={"routing": "auto"})
    first, second = await customer(live_server, store.code), await customer(live_server, store.code)
    for n, peer in enumerate((first, second)):
        await peer.expect(lambda f: f.get("type") == "hello")
        await peer.send({"type": "resume", "after": 0})
        await peer.send({"type": "send", "client_id": f"c{n}", "body": f"有人吗{n}"})
        await peer.expect(lambda f: f.get("type") == "ack")
    place = await second.expect(lambda f: f.get("type") == "queue" and f["ahead"] == 1)
    assert place["position"] == 2 and place["eta_minutes"] >= 1

    # An agent comes online: the first customer is served, the second moves up, live.
    cookie, http = await agent_cookie(live_server, display_name="小美")
    async with db.sessionmaker() as s:
        user = await s.get(User, http.user.id)
        assert user is not None
        user.max_concurrent_chats = 1
        await s.commit()
    staff = await agent(live_server, cookie)
    await staff.expect(lambda f: f.get("type") == "hello")
    assigned = await first.event("assigned")
    assert assigned["data"]["assignee_name"] == "小美"
    moved = await second.expect(lambda f: f.get("type") == "queue" and f["ahead"] == 0)
    assert moved["position"] == 1
    async with db.sessionmaker() as s:
        waiting = await s.scalar(select(Conversation).where(Conversation.assignee_id.is_(None)))
        assert waiting is not None and waiting.store_id == store.id
    for peer in (first, second, staff):
        await peer.close()
