"""Group commit: a batch of customers' messages behaves exactly like one message at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.accounts.models import User
from kefu.conversations import groupcommit, service
from kefu.conversations.groupcommit import CustomerSend
from kefu.conversations.models import Conversation, ConversationEvent, Message
from kefu.core import jobs
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.models import Store
from tests.conversations.test_service import staff, visitor
from tests.fixtures.events import recorded_events
from tests.fixtures.factories import MakeUser


@pytest.fixture(autouse=True)
async def jobs_use_the_test_database(db: Database) -> Any:
    """Queue updates run after each commit: against this test's database, and waited for."""
    jobs.use_job_sessionmaker(db.sessionmaker)
    yield
    await jobs.drain()
    jobs.use_job_sessionmaker(None)


def send(
    contact: service.Contact, client_id: str, body: str, conversation_id: int | None = None
) -> CustomerSend:
    async def work(session: Any) -> service.Posted:
        return await service.post_customer_message(
            session, contact, client_msg_id=client_id, body=body, conversation_id=conversation_id
        )

    return CustomerSend(contact, client_id, body, work, conversation_id=conversation_id)


async def open_assigned(
    db: Database, store: Store, agent: User, n: int
) -> list[tuple[service.Contact, int]]:
    """`n` customers whose chats an agent has taken: the fast path's case."""
    chats = []
    for i in range(n):
        contact = visitor(store, f"顾客{i}")
        async with db.sessionmaker() as s:
            posted = await service.post_customer_message(
                s, contact, client_msg_id=f"open-{i}", body="你好"
            )
            await service.assign_conversation(s, staff(agent), posted.conversation.id, agent.id)
            await s.commit()
        chats.append((contact, posted.conversation.id))
    return chats


async def stored(db: Database, conversation_id: int) -> list[str]:
    async with db.sessionmaker() as s:
        return list(
            await s.scalars(
                select(Message.body)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            )
        )


async def test_a_batch_stores_every_message_with_its_log_row_audit_and_counters(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    (a, a_id), (b, b_id) = await open_assigned(db, chat_store, agent, 2)
    async with recorded_events(f"store:{chat_store.id}") as received, db.sessionmaker() as s:
        results = await groupcommit.post_batch(
            s,
            [
                send(a, "a1", "有 L 码吗", a_id),
                send(b, "b1", "什么时候发货", b_id),
                send(a, "a2", " 还有 XL 吗 ", a_id),
            ],
        )
        await s.commit()
    posted = [r for r in results if isinstance(r, service.Posted)]
    assert [p.message.body for p in posted] == ["有 L 码吗", "什么时候发货", "还有 XL 吗"]
    assert not any(p.duplicate for p in posted)
    assert await stored(db, a_id) == ["你好", "有 L 码吗", "还有 XL 吗"]
    async with db.sessionmaker() as s:
        chat_a = await s.get(Conversation, a_id)
        assert chat_a is not None
        assert chat_a.unread_by_agent == 3  # 你好 + the two of this batch
        assert chat_a.last_message_preview == "还有 XL 吗"
        assert chat_a.last_event_id == posted[2].event.id
        logged = list(
            await s.scalars(
                select(ConversationEvent.message_id)
                .where(
                    ConversationEvent.conversation_id == a_id, ConversationEvent.kind == "message"
                )
                .order_by(ConversationEvent.id)
            )
        )
        assert logged[-2:] == [posted[0].message.id, posted[2].message.id]
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "conversation.message")
        )
        assert audited == 5  # two openings and three batched messages
    bodies = [p["message"]["body"] for p in received if p.get("kind") == "message"]
    assert bodies == ["有 L 码吗", "什么时候发货", "还有 XL 吗"]
    # The inbox row travelling with each event shows the chat as it is after the batch.
    assert received[0]["conversation"]["unread_by_agent"] == 3


async def test_a_bad_message_is_refused_alone(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    (a, a_id), (b, b_id) = await open_assigned(db, chat_store, agent, 2)
    async with db.sessionmaker() as s:
        results = await groupcommit.post_batch(
            s,
            [
                send(a, "a1", "   ", a_id),  # empty
                send(b, "b1", "发票怎么开", a_id),  # someone else's chat
                send(b, "b2", "发票怎么开", b_id),
            ],
        )
        await s.commit()
    assert isinstance(results[0], service.EmptyMessage)
    assert isinstance(results[1], service.ConversationNotFound)
    assert isinstance(results[2], service.Posted)
    assert await stored(db, a_id) == ["你好"]
    assert await stored(db, b_id) == ["你好", "发票怎么开"]


async def test_first_messages_and_waiting_chats_take_the_ordinary_path_in_the_same_batch(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    ((a, a_id),) = await open_assigned(db, chat_store, agent, 1)
    newcomer = visitor(chat_store, "新顾客")
    async with db.sessionmaker() as s:
        results = await groupcommit.post_batch(
            s, [send(a, "a1", "在吗", a_id), send(newcomer, "n1", "想问下尺码")]
        )
        await s.commit()
    first, opened = results
    assert isinstance(first, service.Posted) and isinstance(opened, service.Posted)
    assert opened.conversation.id != a_id
    assert opened.conversation.assignee_id is None  # waits in the queue (manual routing)
    assert opened.conversation.waiting_since is not None
    assert await stored(db, opened.conversation.id) == ["想问下尺码"]
    assert first.event.id < opened.event.id


async def test_a_resent_message_is_stored_once_whether_in_the_batch_or_before_it(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    ((a, a_id),) = await open_assigned(db, chat_store, agent, 1)
    writer = groupcommit.writer_for(db)
    original = await writer.post(send(a, "x1", "我的快递到哪了", a_id))
    # The acknowledgement was lost: the widget sends x1 again, next to a new message and
    # to a copy of that new one (two tabs).
    again, new, copy = await asyncio.gather(
        writer.post(send(a, "x1", "我的快递到哪了", a_id)),
        writer.post(send(a, "x2", "急用", a_id)),
        writer.post(send(a, "x2", "急用", a_id)),
    )
    assert again.duplicate and again.message.id == original.message.id
    assert not new.duplicate
    assert copy.duplicate and copy.message.id == new.message.id
    assert await stored(db, a_id) == ["你好", "我的快递到哪了", "急用"]


async def test_many_customers_writing_at_once_lose_nothing(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    chats = await open_assigned(db, chat_store, agent, 20)
    writer = groupcommit.writer_for(db)

    async def customer(contact: service.Contact, conversation_id: int) -> list[int]:
        ids = []
        for n in range(5):
            posted = await writer.post(send(contact, f"m{n}", f"第{n}条", conversation_id))
            ids.append(posted.message.id)
        return ids

    acked = await asyncio.gather(*(customer(c, cid) for c, cid in chats))
    for (_, conversation_id), ids in zip(chats, acked, strict=True):
        assert ids == sorted(ids)
        assert await stored(db, conversation_id) == ["你好"] + [f"第{n}条" for n in range(5)]


@pytest.mark.parametrize("status", ["resolved", "snoozed"])
async def test_a_resolved_or_snoozed_chat_is_reopened_by_the_ordinary_rules(
    db: Database, chat_store: Store, make_user: MakeUser, status: str
) -> None:
    agent = await make_user("agent")
    ((a, a_id),) = await open_assigned(db, chat_store, agent, 1)
    async with db.sessionmaker() as s:
        chat = await s.get(Conversation, a_id)
        assert chat is not None
        chat.status = status
        await s.commit()
    async with db.sessionmaker() as s:
        (result,) = await groupcommit.post_batch(s, [send(a, "r1", "又有问题了", a_id)])
        await s.commit()
    assert isinstance(result, service.Posted)
    assert result.conversation.status == "open"
    async with db.sessionmaker() as s:
        kinds = [e.kind for e, _ in await service.events_after(s, 0, conversation_id=a_id)]
    assert kinds[-2:] == ["reopened" if status == "resolved" else "woken", "message"]
