"""Conversation service: stored before acknowledged, deduplicated, resumable, audited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.accounts.models import User
from kefu.channels import identity
from kefu.conversations import service
from kefu.conversations.models import Conversation, ConversationEvent, Message
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database
from kefu.store.models import Customer, CustomerIdentity, Store
from tests.fixtures.events import recorded_events
from tests.fixtures.factories import MakeUser


def visitor(store: Store, name: str = "") -> service.Contact:
    token = identity.new_visitor_token()
    vid = identity.visitor_id_from(token)
    assert vid is not None
    return service.Contact(store.id, identity.visitor_hash(vid), None, name)


def staff(user: User) -> Actor:
    return Actor("user", user.id, user.display_name)


async def count(db: Database, model: Any) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_customer_message_is_invisible_and_unpublished_until_commit(
    db: Database, chat_store: Store
) -> None:
    contact = visitor(chat_store)
    async with recorded_events(f"store:{chat_store.id}") as received, db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, contact, client_msg_id="c-1", body="  你好，在吗？ "
        )
        assert posted.message.body == "你好，在吗？"
        assert await count(db, Message) == 0  # another connection sees nothing yet
        await asyncio.sleep(0.05)
        assert received == []  # and no browser has been told
        await s.commit()
    assert await count(db, Message) == 1
    kinds = [p["kind"] for p in received]
    assert kinds == ["opened", "message"]
    assert received[1]["message"]["client_id"] == "c-1"
    assert received[1]["conversation"]["waiting_since"] is not None


async def test_resend_with_same_client_id_returns_the_stored_message(
    db: Database, chat_store: Store
) -> None:
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        first = await service.post_customer_message(s, contact, client_msg_id="dup", body="一")
        await s.commit()
    async with db.sessionmaker() as s:
        again = await service.post_customer_message(s, contact, client_msg_id="dup", body="一")
        await s.commit()
    assert again.duplicate and not first.duplicate
    assert again.message.id == first.message.id
    assert again.event.id == first.event.id
    assert await count(db, Message) == 1
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, first.conversation.id)
        assert conversation is not None and conversation.unread_by_agent == 1


async def test_invalid_message_is_refused_and_nothing_is_stored(
    db: Database, chat_store: Store
) -> None:
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        with pytest.raises(service.EmptyMessage) as empty:
            await service.post_customer_message(s, contact, client_msg_id="e", body="   ")
        assert empty.value.zh == "消息不能为空"
        with pytest.raises(service.MessageTooLong):
            await service.post_customer_message(s, contact, client_msg_id="l", body="啊" * 5001)
        with pytest.raises(service.ConversationNotFound):
            await service.post_customer_message(
                s, contact, client_msg_id="x", body="hi", conversation_id=999
            )
    assert await count(db, Message) == 0


async def test_someone_elses_conversation_is_not_found(db: Database, chat_store: Store) -> None:
    alice, mallory = visitor(chat_store), visitor(chat_store)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, alice, client_msg_id="a", body="我的订单")
        await s.commit()
    async with db.sessionmaker() as s:
        with pytest.raises(service.ConversationNotFound):
            await service.post_customer_message(
                s, mallory, client_msg_id="m", body="偷看", conversation_id=posted.conversation.id
            )


async def test_agent_reply_answers_assigns_and_reads(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent", display_name="小美")
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, contact, client_msg_id="1", body="在吗")
        await s.commit()
    cid = posted.conversation.id
    async with db.sessionmaker() as s:
        reply = await service.post_agent_message(
            s, staff(agent), cid, client_msg_id="r1", body="在的，亲"
        )
        note = await service.post_agent_message(
            s, staff(agent), cid, client_msg_id="n1", body="老客户，语气温和", audience="internal"
        )
        await s.commit()
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None
        assert conversation.waiting_since is None
        assert conversation.first_response_at is not None
        assert conversation.assignee_id == agent.id
        assert conversation.unread_by_agent == 0
        assert conversation.agent_read_up_to == posted.message.id
        assert conversation.last_message_preview == "在的，亲"  # a note is not the last message
        kinds = [e.kind for e, _ in await service.events_after(s, 0, conversation_id=cid)]
        assert kinds == ["opened", "message", "assigned", "read", "message", "note"]
        public = await service.events_after(s, 0, conversation_id=cid, public_only=True)
        assert note.event.id not in [e.id for e, _ in public]  # customers never see notes
        assert reply.event.id in [e.id for e, _ in public]


async def test_resume_returns_only_what_came_after_the_cursor(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        first = await service.post_customer_message(s, contact, client_msg_id="1", body="一")
        await s.commit()
    cursor = first.event.id
    async with db.sessionmaker() as s:
        await service.post_agent_message(
            s, staff(agent), first.conversation.id, client_msg_id="a", body="二"
        )
        await service.post_customer_message(s, contact, client_msg_id="2", body="三")
        await s.commit()
    async with db.sessionmaker() as s:
        rows = await service.events_after(
            s, cursor, conversation_id=first.conversation.id, public_only=True
        )
    bodies = [m.body for _, m in rows if m is not None]
    assert bodies == ["二", "三"]
    assert all(e.id > cursor for e, _ in rows)
    assert [e.id for e, _ in rows] == sorted(e.id for e, _ in rows)


async def test_a_busy_overlap_never_crowds_out_the_rows_after_the_cursor(
    db: Database, chat_store: Store
) -> None:
    contact = visitor(chat_store)
    posted = []
    async with db.sessionmaker() as s:
        for n in range(6):
            posted.append(
                await service.post_customer_message(
                    s, contact, client_msg_id=f"{n}", body=f"第{n}条"
                )
            )
        await s.commit()
    cursor = posted[3].event.id
    async with db.sessionmaker() as s:
        rows = await service.events_after(
            s,
            cursor,
            conversation_id=posted[0].conversation.id,
            overlap_since=posted[0].event.created_at,
            limit=2,
        )
    bodies = [m.body for _, m in rows if m is not None]
    # The two newest rows at or before the cursor (the overlap), then the two after it.
    assert bodies == ["第2条", "第3条", "第4条", "第5条"]
    async with db.sessionmaker() as s:
        rows = await service.events_after(
            s,
            cursor,
            conversation_id=posted[0].conversation.id,
            overlap_since=posted[0].event.created_at,
            known_ids={posted[3].event.id},  # what the socket already delivered
            limit=2,
        )
    assert [m.body for _, m in rows if m is not None] == ["第2条", "第4条", "第5条"]


async def test_resolve_then_customer_message_reopens_and_everything_is_audited(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    other = await make_user("agent", display_name="小李")
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, contact, client_msg_id="1", body="你好")
        await s.commit()
    cid = posted.conversation.id
    async with db.sessionmaker() as s:
        await service.assign_conversation(s, staff(agent), cid, agent.id)
        await service.assign_conversation(s, staff(agent), cid, other.id)
        await service.resolve_conversation(s, staff(other), cid)
        await s.commit()
    async with db.sessionmaker() as s:
        await service.post_customer_message(s, contact, client_msg_id="2", body="还有个问题")
        await s.commit()
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None and conversation.status == "open"
        kinds = [e.kind for e, _ in await service.events_after(s, 0, conversation_id=cid)]
        assert kinds == [
            "opened",
            "message",
            "assigned",
            "transferred",
            "resolved",
            "reopened",
            "message",
        ]
        actions = list(
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity_type == "conversation")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == [
        "conversation.open",
        "conversation.message",
        "conversation.assign",
        "conversation.assign",
        "conversation.resolve",
        "conversation.reopen",
        "conversation.message",
    ]


async def test_assigning_to_someone_without_inbox_is_refused(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, contact, client_msg_id="1", body="你好")
        await s.commit()
    async with db.sessionmaker() as s:
        with pytest.raises(service.Invalid):
            await service.assign_conversation(s, staff(agent), posted.conversation.id, 424242)


async def test_read_receipts_are_logged_once(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, contact, client_msg_id="1", body="你好")
        await s.commit()
    cid = posted.conversation.id
    async with db.sessionmaker() as s:
        await service.mark_read_by_agent(s, staff(agent), cid)
        await service.mark_read_by_agent(s, staff(agent), cid)  # nothing new: no second row
        reply = await service.post_agent_message(s, staff(agent), cid, client_msg_id="r", body="好")
        await service.mark_read_by_customer(s, contact, cid)
        await service.mark_read_by_customer(s, contact, cid)
        await s.commit()
    async with db.sessionmaker() as s:
        reads = [
            e.data
            for e, _ in await service.events_after(s, 0, conversation_id=cid)
            if e.kind == "read"
        ]
        conversation = await s.get(Conversation, cid)
    assert reads == [
        {"by": "agent", "up_to": posted.message.id},
        {"by": "customer", "up_to": reply.message.id},
    ]
    assert conversation is not None and conversation.unread_by_customer == 0


async def test_identity_signed_by_the_shop_links_the_customer(
    db: Database, chat_store: Store, make_customer: Any
) -> None:
    known = await make_customer(chat_store, external_id="U1001", nickname="小王爱买")
    signed = identity.identifier_hash(chat_store.webhook_secret, "U1001")
    async with db.sessionmaker() as s:
        contact, token = await identity.resolve_contact(
            s, chat_store, visitor_token=None, user_id="U1001", user_hash=signed
        )
        await s.commit()
    assert contact.customer_id == known.id
    assert contact.name == "小王爱买"
    assert identity.visitor_id_from(token) is not None
    async with db.sessionmaker() as s:
        again, _ = await identity.resolve_contact(
            s, chat_store, visitor_token=token, user_id="U1001", user_hash=signed.upper()
        )
        links = await s.scalar(select(func.count()).select_from(CustomerIdentity))
    assert again.customer_id == known.id
    assert links == 1


async def test_new_shop_user_becomes_a_customer(db: Database, chat_store: Store) -> None:
    signed = identity.identifier_hash(chat_store.webhook_secret, "new-77")
    async with db.sessionmaker() as s:
        contact, _ = await identity.resolve_contact(
            s, chat_store, visitor_token=None, user_id="new-77", user_hash=signed, name="阿花"
        )
        await s.commit()
        customer = await s.get(Customer, contact.customer_id)
    assert customer is not None and customer.external_id == "new-77"
    assert customer.nickname == "阿花"


async def test_forged_identity_is_refused(db: Database, chat_store: Store) -> None:
    forged = identity.identifier_hash("not-the-secret", "U1001")
    async with db.sessionmaker() as s:
        with pytest.raises(identity.IdentityRefused) as refused:
            await identity.resolve_contact(
                s, chat_store, visitor_token=None, user_id="U1001", user_hash=forged
            )
    assert refused.value.status == 403
    assert "身份校验失败" in refused.value.zh
    assert await count(db, CustomerIdentity) == 0


async def test_dedicated_widget_secret_takes_precedence(db: Database, make_store: Any) -> None:
    store = await make_store(settings={"widget_secret": "wsec-1"})
    identity.verify_identity(store, "u", identity.identifier_hash("wsec-1", "u"))
    with pytest.raises(identity.IdentityRefused):
        identity.verify_identity(store, "u", identity.identifier_hash(store.webhook_secret, "u"))


async def test_tampered_visitor_token_gets_a_new_visitor(db: Database, chat_store: Store) -> None:
    token = identity.new_visitor_token()
    assert identity.visitor_id_from(token[:-2] + "xx") is None
    async with db.sessionmaker() as s:
        contact, new_token = await identity.resolve_contact(
            s, chat_store, visitor_token=token + "x"
        )
    assert new_token != token + "x"
    assert contact.visitor_hash == identity.visitor_hash(identity.visitor_id_from(new_token) or "")


async def test_inbox_lists_longest_waiting_first(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    agent = await make_user("agent")
    first, second = visitor(chat_store, "先来"), visitor(chat_store, "后到")
    async with db.sessionmaker() as s:
        a = await service.post_customer_message(s, first, client_msg_id="1", body="一")
        await s.commit()
    async with db.sessionmaker() as s:
        b = await service.post_customer_message(s, second, client_msg_id="1", body="二")
        await s.commit()
    async with db.sessionmaker() as s:
        user = await s.get(User, agent.id)
        assert user is not None
        listed = await service.list_conversations(s, user, view="unassigned")
        assert [c.id for c in listed] == [a.conversation.id, b.conversation.id]
        assert [c.contact_name for c in listed] == ["先来", "后到"]
        await service.post_agent_message(
            s, staff(agent), a.conversation.id, client_msg_id="r", body="您好"
        )
        await s.commit()
        mine = await service.list_conversations(s, user, view="mine")
        unassigned = await service.list_conversations(s, user, view="unassigned")
        counts = await service.count_views(s, user)
    assert [c.id for c in mine] == [a.conversation.id]
    assert [c.id for c in unassigned] == [b.conversation.id]
    assert counts == {"mine": 1, "unassigned": 1, "all": 2}


async def test_each_store_log_is_in_id_order(db: Database, chat_store: Store) -> None:
    async with db.sessionmaker() as s:
        for i in range(5):
            await service.post_customer_message(
                s, visitor(chat_store), client_msg_id=str(i), body=f"第{i}条"
            )
        await s.commit()
    async with db.sessionmaker() as s:
        ids = list(await s.scalars(select(ConversationEvent.id).order_by(ConversationEvent.id)))
        assert len(ids) == 10
        conversations = list(await s.scalars(select(Conversation)))
    assert all(c.last_event_id in ids for c in conversations)


async def test_concurrent_resends_store_one_message(db: Database, chat_store: Store) -> None:
    from kefu.conversations.realtime import in_transaction

    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        await service.post_customer_message(s, contact, client_msg_id="first", body="在吗")
        await s.commit()

    async def resend() -> service.Posted:
        return await in_transaction(
            db,
            lambda s: service.post_customer_message(
                s, contact, client_msg_id="race", body="同一条消息"
            ),
        )

    one, other = await asyncio.gather(resend(), resend())
    assert one.message.id == other.message.id
    assert sorted([one.duplicate, other.duplicate]) == [False, True]
    assert await count(db, Message) == 2
