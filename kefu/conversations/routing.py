"""Presence and automatic assignment (routing) of waiting chats.

An agent is *available* when their chosen status is `online`, a socket of theirs was heard
from within `PRESENCE_TTL` (the agent socket refreshes it with every heartbeat), and they hold
fewer open conversations than `User.max_concurrent_chats`. In a store whose
`settings["routing"]` is `"auto"`, a conversation that opens or reopens without an assignee
goes to the available agent with the fewest open chats; if nobody is available it waits, and
the longest-waiting chats are handed out as soon as someone comes online or frees a slot.
Stores without the setting keep manual pick-up from the *Unassigned* list.

Skill groups are not used yet (`Conversation.group_id` stays empty); that is the next step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.accounts.permissions import Permission, permissions_for
from kefu.conversations.models import AgentPresence, Conversation
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Invalid
from kefu.store.models import Store

PRESENCE_TTL = timedelta(seconds=70)
ROUTER = Actor("system", None, "自动分配")
PresenceStatus = Literal["online", "away"]


def routing_mode(store: Store | None) -> str:
    mode = (store.settings or {}).get("routing") if store is not None else None
    return "auto" if mode == "auto" else "manual"


async def _presence(session: AsyncSession, user_id: int) -> AgentPresence:
    found = await session.get(AgentPresence, user_id)
    if found is None:
        found = AgentPresence(user_id=user_id, status="online", last_seen_at=utcnow())
        session.add(found)
        await session.flush()
    return found


async def touch_presence(session: AsyncSession, user_id: int) -> None:
    """A socket of this agent is alive (called on connect and on every heartbeat)."""
    presence = await _presence(session, user_id)
    presence.last_seen_at = utcnow()


async def socket_gone(session: AsyncSession, user_id: int) -> None:
    """The agent closed a socket: stop routing to them unless another socket of theirs
    refreshes presence on its next heartbeat."""
    presence = await session.get(AgentPresence, user_id)
    if presence is not None:
        presence.last_seen_at = utcnow() - PRESENCE_TTL - timedelta(seconds=1)


async def set_status(
    session: AsyncSession, actor: Actor, user_id: int, status: str
) -> AgentPresence:
    if status not in ("online", "away"):
        raise Invalid("状态只能是在线或离开", "Status must be online or away")
    presence = await _presence(session, user_id)
    before = presence.status
    presence.status = status
    presence.last_seen_at = utcnow()
    if before != status:
        presence.changed_at = utcnow()
        await record_audit(
            session,
            actor,
            "agent.presence",
            "user",
            user_id,
            before={"status": before},
            after={"status": status},
        )
    return presence


async def agent_status(session: AsyncSession, user_id: int) -> str:
    presence = await session.get(AgentPresence, user_id)
    return presence.status if presence is not None else "online"


async def available_agents(session: AsyncSession) -> list[tuple[User, int]]:
    """Agents who may take another chat now, least loaded first."""
    fresh = utcnow() - PRESENCE_TTL
    open_count = (
        select(Conversation.assignee_id, func.count().label("n"))
        .where(Conversation.status == "open", Conversation.assignee_id.is_not(None))
        .group_by(Conversation.assignee_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(User, func.coalesce(open_count.c.n, 0))
            .join(AgentPresence, AgentPresence.user_id == User.id)
            .outerjoin(open_count, open_count.c.assignee_id == User.id)
            .where(
                User.is_active.is_(True),
                AgentPresence.status == "online",
                AgentPresence.last_seen_at >= fresh,
            )
            .order_by(func.coalesce(open_count.c.n, 0), AgentPresence.changed_at, User.id)
        )
    ).all()
    return [
        (user, int(n))
        for user, n in rows
        if Permission.inbox_use in permissions_for(user.role) and n < user.max_concurrent_chats
    ]


async def anyone_online(session: AsyncSession) -> bool:
    fresh = utcnow() - PRESENCE_TTL
    found = await session.scalar(
        select(func.count())
        .select_from(AgentPresence)
        .where(AgentPresence.status == "online", AgentPresence.last_seen_at >= fresh)
    )
    return bool(found)


async def pick_agent(session: AsyncSession, conversation: Conversation) -> User | None:
    """Who should take this conversation now, or None (manual store, or nobody free)."""
    if conversation.assignee_id is not None or conversation.status != "open":
        return None
    if routing_mode(await session.get(Store, conversation.store_id)) != "auto":
        return None
    agents = await available_agents(session)
    return agents[0][0] if agents else None


async def drain_queue(session: AsyncSession, limit: int = 50) -> list[int]:
    """Hand the longest-waiting unassigned chats of auto-routed stores to free agents."""
    from kefu.conversations import service

    auto_stores = [s.id for s in await session.scalars(select(Store)) if routing_mode(s) == "auto"]
    if not auto_stores:
        return []
    waiting = list(
        await session.scalars(
            select(Conversation.id)
            .where(
                Conversation.store_id.in_(auto_stores),
                Conversation.status == "open",
                Conversation.assignee_id.is_(None),
                Conversation.waiting_since.is_not(None),
            )
            .order_by(Conversation.waiting_since)
            .limit(limit)
        )
    )
    routed: list[int] = []
    for conversation_id in waiting:
        if not await available_agents(session):
            break
        if await service.route_conversation(session, conversation_id):
            routed.append(conversation_id)
    return routed
