"""Presence and automatic assignment: who is available, least loaded first, and the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kefu.accounts.models import User
from kefu.channels import identity
from kefu.conversations import routing, service
from kefu.conversations.models import AgentPresence, Conversation
from kefu.core.audit import Actor
from kefu.core.db import Database, utcnow
from kefu.store.models import Store
from tests.fixtures.factories import MakeUser


def visitor(store: Store) -> service.Contact:
    vid = identity.visitor_id_from(identity.new_visitor_token()) or ""
    return service.Contact(store.id, identity.visitor_hash(vid), None, "")


async def online(db: Database, user: User, status: str = "online", age_s: float = 0) -> None:
    async with db.sessionmaker() as s:
        await routing.set_status(s, Actor("user", user.id, user.display_name), user.id, status)
        presence = await s.get(AgentPresence, user.id)
        assert presence is not None
        presence.last_seen_at = utcnow() - timedelta(seconds=age_s)
        await s.commit()


async def chat(db: Database, store: Store, text: str = "你好") -> service.Posted:
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(
            s, visitor(store), client_msg_id="1", body=text
        )
        await s.commit()
    return posted


async def assignee(db: Database, conversation_id: int) -> int | None:
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.assignee_id


async def test_manual_store_is_never_auto_assigned(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    await online(db, await make_user("agent"))
    posted = await chat(db, chat_store)
    assert await assignee(db, posted.conversation.id) is None


async def test_auto_store_goes_to_the_least_loaded_available_agent(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store = await make_store(settings={"routing": "auto"})
    busy = await make_user("agent", display_name="忙碌")
    free = await make_user("agent", display_name="空闲")
    away = await make_user("agent", display_name="离开")
    gone = await make_user("agent", display_name="掉线")
    for user in (busy, free):
        await online(db, user)
    await online(db, away, "away")
    await online(db, gone, age_s=300)  # browser crashed five minutes ago

    first = await chat(db, store)
    got_first = await assignee(db, first.conversation.id)
    assert got_first in (busy.id, free.id)
    second = await chat(db, store)
    got_second = await assignee(db, second.conversation.id)
    assert {got_first, got_second} == {busy.id, free.id}  # one each: least loaded first
    async with db.sessionmaker() as s:
        rows = await service.events_after(s, 0, conversation_id=first.conversation.id)
    assigned = [e for e, _ in rows if e.kind == "assigned"]
    assert assigned[0].actor_kind == "system" and assigned[0].actor_name == "自动分配"


async def test_full_agents_leave_chats_waiting_until_a_slot_frees(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store = await make_store(settings={"routing": "auto"})
    agent = await make_user("agent", display_name="小美")
    async with db.sessionmaker() as s:
        user = await s.get(User, agent.id)
        assert user is not None
        user.max_concurrent_chats = 1
        await s.commit()
    await online(db, agent)
    first = await chat(db, store, "第一位")
    second = await chat(db, store, "第二位")
    third = await chat(db, store, "第三位")
    assert await assignee(db, first.conversation.id) == agent.id
    assert await assignee(db, second.conversation.id) is None  # queued
    async with db.sessionmaker() as s:
        await service.resolve_conversation(
            s, Actor("user", agent.id, "小美"), first.conversation.id
        )
        await s.commit()
    # The longest-waiting chat gets the freed slot, the next one keeps waiting.
    assert await assignee(db, second.conversation.id) == agent.id
    assert await assignee(db, third.conversation.id) is None


async def test_coming_online_drains_the_queue(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store = await make_store(settings={"routing": "auto"})
    waiting = await chat(db, store)
    assert await assignee(db, waiting.conversation.id) is None
    agent = await make_user("agent")
    await online(db, agent)
    async with db.sessionmaker() as s:
        routed = await routing.drain_queue(s)
        await s.commit()
    assert routed == [waiting.conversation.id]
    assert await assignee(db, waiting.conversation.id) == agent.id


async def test_presence_is_validated_and_audited(db: Database, make_user: MakeUser) -> None:
    import pytest
    from sqlalchemy import select

    from kefu.core.audit import AuditEntry
    from kefu.core.errors import Invalid

    agent = await make_user("agent")
    await online(db, agent, "away")
    async with db.sessionmaker() as s:
        assert await routing.agent_status(s, agent.id) == "away"
        with pytest.raises(Invalid):
            await routing.set_status(s, Actor("user", agent.id, ""), agent.id, "sleeping")
        actions = list(
            await s.scalars(select(AuditEntry.action).where(AuditEntry.action == "agent.presence"))
        )
    assert actions == ["agent.presence"]  # online (default) → away
