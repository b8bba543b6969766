"""Presence and automatic assignment (routing) of waiting chats.

Presence: an agent chooses `online` (takes chats), `busy` (keeps working on their chats, gets
no new ones) or `away`. They are *offline* whatever they chose when no socket of theirs was
heard from within `PRESENCE_TTL` (every heartbeat refreshes it; closing the last socket
expires it), so a crashed browser stops receiving chats within a minute without clean-up.

An agent is *available* when online, present, and holding fewer open conversations than
`User.max_concurrent_chats`. In a store whose `settings["routing"]` is `"auto"`:

1. A conversation belongs to a skill group, chosen when it opens (or reopens) from the entry
   the customer came through (`topic`, e.g. presales → 售前组) or the store's default group
   (`routing_settings.ChatRouting`).
2. Only available members of that group may get it. A group without members, or no group,
   means every available agent: a shop that has not set up groups still gets its chats routed.
3. Sticky agent: when a customer opens or reopens a chat, the agent who last answered them
   (same customer, or same browser) within `sticky_days` gets them again if available and
   allowed by (2). Chats already queued are not sticky, so a released chat does not bounce
   back to whoever let it go.
4. Otherwise the store's strategy decides: `least_busy` (fewest open chats, ties to whoever
   waited longest since their last routed chat) or `round_robin` (whoever waited longest since
   their last routed chat, `AgentPresence.last_routed_at`, whatever their load).
5. Nobody available: the chat waits. The queue is drained VIP first (when the store says so),
   then longest waiting, whenever an agent comes online or frees a slot, and by the
   `conversations.route_waiting` sweep every 15 s in case an event was missed.
6. Before (1)–(4) pick anyone, a group's own hours and overflow rule may move a waiting chat
   on to its overflow group, and a closed group keeps its chats waiting (overflow.py). This
   applies in manual stores too: there it moves the chat to the other group's Unassigned list.

Stores without `"auto"` keep manual pick-up from the *Unassigned* list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User, user_groups
from kefu.accounts.permissions import Permission, permissions_for
from kefu.conversations import overflow
from kefu.conversations.models import AgentPresence, Conversation, Message
from kefu.conversations.routing_settings import ChatRouting, Strategy, chat_routing
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, Invalid
from kefu.store.models import Customer, Store

PRESENCE_TTL = timedelta(seconds=70)
ROUTER = Actor("system", None, "自动分配")
PresenceStatus = Literal["online", "busy", "away"]
STATUSES: tuple[str, ...] = ("online", "busy", "away")
VIP_TIERS = frozenset({"vip", "svip"})


def routing_mode(store: Store | None) -> str:
    mode = (store.settings or {}).get("routing") if store is not None else None
    return "auto" if mode == "auto" else "manual"


# --- presence ----------------------------------------------------------------------------


async def _presence(session: AsyncSession, user_id: int) -> AgentPresence:
    found = await session.get(AgentPresence, user_id)
    if found is None:
        found = AgentPresence(user_id=user_id, status="online", last_seen_at=utcnow())
        session.add(found)
        await session.flush()
    return found


async def touch_presence(session: AsyncSession, user_id: int) -> datetime:
    """A socket of this agent is alive (called on connect and on every heartbeat); returns
    the time it recorded, which the socket keeps for `socket_gone`."""
    presence = await _presence(session, user_id)
    presence.last_seen_at = now = utcnow()
    return now


async def socket_gone(
    session: AsyncSession, user_id: int, last_touch: datetime | None = None
) -> None:
    """The agent closed a socket: stop routing to them unless another socket of theirs
    refreshes presence on its next heartbeat. A socket whose last touch is older than the
    recorded one leaves presence alone: another socket (a reconnect, a second tab) has been
    heard from since, and the agent is still there."""
    expired = utcnow() - PRESENCE_TTL - timedelta(seconds=1)
    stmt = update(AgentPresence).where(AgentPresence.user_id == user_id)
    if last_touch is not None:
        stmt = stmt.where(AgentPresence.last_seen_at <= last_touch)
    await session.execute(stmt.values(last_seen_at=expired))


async def set_status(
    session: AsyncSession, actor: Actor, user_id: int, status: str
) -> AgentPresence:
    if status not in STATUSES:
        raise Invalid("状态只能是在线、忙碌或离开", "Status must be online, busy or away")
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
    """The status the agent chose (online, busy, away)."""
    presence = await session.get(AgentPresence, user_id)
    return presence.status if presence is not None else "online"


def shown_status(presence: AgentPresence | None, now: datetime | None = None) -> str:
    """What colleagues see: the chosen status, or `offline` when no socket is alive."""
    if presence is None or presence.last_seen_at < (now or utcnow()) - PRESENCE_TTL:
        return "offline"
    return presence.status


# --- who may take a chat -----------------------------------------------------------------


async def group_members(session: AsyncSession, group_id: int | None) -> set[int]:
    if group_id is None:
        return set()
    rows = await session.scalars(
        select(user_groups.c.user_id).where(user_groups.c.group_id == group_id)
    )
    return set(rows)


async def available_agents(
    session: AsyncSession,
    *,
    group_id: int | None = None,
    strategy: Strategy = "least_busy",
) -> list[tuple[User, int]]:
    """Agents who may take another chat now, in the order the strategy prefers them.

    With a group that has members, only those members; otherwise everyone (see module doc).
    """
    fresh = utcnow() - PRESENCE_TTL
    open_count = (
        select(Conversation.assignee_id, func.count().label("n"))
        .where(Conversation.status == "open", Conversation.assignee_id.is_not(None))
        .group_by(Conversation.assignee_id)
        .subquery()
    )
    load = func.coalesce(open_count.c.n, 0)
    # Never routed sorts first; then whoever has waited longest for a chat.
    pointer = (AgentPresence.last_routed_at.is_not(None), AgentPresence.last_routed_at)
    order = (*pointer, User.id) if strategy == "round_robin" else (load, *pointer, User.id)
    stmt = (
        select(User, load)
        .join(AgentPresence, AgentPresence.user_id == User.id)
        .outerjoin(open_count, open_count.c.assignee_id == User.id)
        .where(
            User.is_active.is_(True),
            AgentPresence.status == "online",
            AgentPresence.last_seen_at >= fresh,
        )
        .order_by(*order)
    )
    members = await group_members(session, group_id)
    if members:
        stmt = stmt.where(User.id.in_(sorted(members)))
    rows = (await session.execute(stmt)).all()
    return [
        (user, int(n))
        for user, n in rows
        if Permission.inbox_use in permissions_for(user.role) and n < user.max_concurrent_chats
    ]


async def anyone_online(session: AsyncSession, group_id: int | None = None) -> bool:
    """Is someone at work who could answer this group's chats (online or busy, socket alive)?"""
    fresh = utcnow() - PRESENCE_TTL
    stmt = (
        select(func.count())
        .select_from(AgentPresence)
        .where(AgentPresence.status.in_(("online", "busy")), AgentPresence.last_seen_at >= fresh)
    )
    members = await group_members(session, group_id)
    if members:
        stmt = stmt.where(AgentPresence.user_id.in_(sorted(members)))
    return bool(await session.scalar(stmt))


async def last_agent_for(
    session: AsyncSession, conversation: Conversation, within_days: int
) -> int | None:
    """The agent who last answered this customer (any of their chats in this store) within
    the window: the same customer, or the same browser before they signed in."""
    if within_days <= 0:
        return None
    same_contact = Conversation.visitor_hash == conversation.visitor_hash
    if conversation.customer_id is not None:
        same_contact = or_(same_contact, Conversation.customer_id == conversation.customer_id)
    found = await session.scalar(
        select(Message.sender_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.store_id == conversation.store_id,
            same_contact,
            Message.sender_kind == "agent",
            Message.audience == "public",
            Message.sender_id.is_not(None),
            Message.created_at >= utcnow() - timedelta(days=within_days),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return int(found) if found is not None else None


async def _choose(
    session: AsyncSession, conversation: Conversation, settings: ChatRouting, *, sticky: bool
) -> User | None:
    if conversation.group_id is None:
        # Opened while the bot answered first: the entry it came through still counts.
        conversation.group_id = settings.group_for((conversation.context or {}).get("topic"))
    agents = await available_agents(
        session, group_id=conversation.group_id, strategy=settings.strategy
    )
    if not agents:
        return None
    last = await last_agent_for(session, conversation, settings.sticky_days) if sticky else None
    chosen = next((u for u, _ in agents if u.id == last), agents[0][0])
    presence = await _presence(session, chosen.id)
    presence.last_routed_at = utcnow()
    return chosen


async def _overflow_then_open(
    clock: overflow.GroupClock, conversation: Conversation, log: list[Any] | None
) -> bool:
    """Apply the group's overflow rule; is the group the chat now waits in open?"""
    if not clock.settings.groups:
        return True
    rows = await overflow.apply_overflow(clock.session, clock, conversation)
    if log is not None:
        log.extend(rows)
    return await clock.is_open(conversation.group_id)


async def pick_agent(
    session: AsyncSession,
    conversation: Conversation,
    *,
    log: list[Any] | None = None,
    now: datetime | None = None,
) -> User | None:
    """Who should take this waiting conversation now, or None (manual store, nobody free,
    the group closed). Overflow hops are appended to `log` as log rows to publish.

    The caller assigns the returned agent: picking moves the round-robin pointer."""
    if conversation.assignee_id is not None or conversation.status != "open":
        return None
    store = await session.get(Store, conversation.store_id)
    if store is None:
        return None
    settings = chat_routing(store)
    clock = overflow.GroupClock(session, store, settings, now or utcnow())
    if not await _overflow_then_open(clock, conversation, log):
        return None  # 该组已下班: the chat waits until its group opens
    if routing_mode(store) != "auto":
        return None
    # No sticky agent here: a chat already queued (or released, or sent to a group's queue)
    # should not bounce back to whoever just let it go.
    return await _choose(session, conversation, settings, sticky=False)


@dataclass(frozen=True)
class Reassign:
    """What routing wants for a conversation the customer just wrote to."""

    assignee_id: int | None


async def on_customer_message(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reopened: bool,
    topic: str | None = None,
    log: list[Any] | None = None,
    now: datetime | None = None,
) -> Reassign | None:
    """Routing's say on a customer message that opened, reopened or waits in a conversation.

    Sets the skill group from the entry the customer used (on open and reopen: a returning
    customer may come for something else). A reopened chat goes back to the sticky agent if
    available, else to whoever routing picks, else back to the queue, so it never waits on an
    agent who has gone home. None means "leave the assignee as it is".
    """
    from kefu.conversations import queue

    store = await session.get(Store, conversation.store_id)
    settings = chat_routing(store)
    if conversation.group_id is None or reopened:
        wanted = settings.group_for(topic)
        if wanted is not None:
            conversation.group_id = wanted
    queue.schedule_update(session)
    if conversation.status != "open" or (conversation.assignee_id is not None and not reopened):
        return None
    if store is not None and settings.groups and conversation.assignee_id is None:
        clock = overflow.GroupClock(session, store, settings, now or utcnow())
        if not await _overflow_then_open(clock, conversation, log):
            return None  # 该组已下班: it waits in the group's queue
    if routing_mode(store) != "auto":
        return None
    agent = await _choose(session, conversation, settings, sticky=True)
    if agent is not None:
        return None if agent.id == conversation.assignee_id else Reassign(agent.id)
    if conversation.assignee_id is not None:
        return Reassign(None)  # the previous agent is not available: wait in the queue
    return None


async def drain_queue(
    session: AsyncSession, limit: int = 50, *, now: datetime | None = None
) -> list[int]:
    """Hand waiting unassigned chats of auto-routed stores to free agents: VIP customers
    first in stores with `vip_first`, then longest waiting. Chats of stores with group rules
    (any mode) also get their overflow applied, so a chat that waited past its group's
    threshold moves on even while nobody is free."""
    from kefu.conversations import queue, service

    stores = list(await session.scalars(select(Store)))
    tracked: dict[int, ChatRouting] = {}
    for store in stores:
        settings = chat_routing(store)
        if routing_mode(store) == "auto" or settings.groups:
            tracked[store.id] = settings
    if not tracked:
        return []
    waiting = (
        await session.execute(
            select(
                Conversation.id, Conversation.store_id, Conversation.waiting_since, Customer.tier
            )
            .outerjoin(Customer, Customer.id == Conversation.customer_id)
            .where(
                Conversation.store_id.in_(list(tracked)),
                Conversation.status == "open",
                Conversation.assignee_id.is_(None),
                Conversation.waiting_since.is_not(None),
            )
            .order_by(Conversation.waiting_since, Conversation.id)
            .limit(limit * 4)
        )
    ).all()
    ordered = sorted(
        waiting,
        key=lambda r: (
            not (tracked[r.store_id].vip_first and r.tier in VIP_TIERS),
            r.waiting_since,
        ),
    )[:limit]
    any_rules = any(settings.groups for settings in tracked.values())
    routed: list[int] = []
    nobody_free = False
    for row in ordered:
        # Assignments only use up capacity: once nobody is free, nobody will be this pass.
        nobody_free = nobody_free or not await available_agents(session)
        if nobody_free and not tracked[row.store_id].groups:
            if not any_rules:
                break
            continue
        if await service.route_conversation(session, row.id, now=now):
            routed.append(row.id)
    if routed:
        queue.schedule_update(session)
    return routed


# --- who may move a conversation ---------------------------------------------------------


def check_reassign(user: User, conversation: Conversation, assignee_id: int | None) -> None:
    """Agents take unassigned chats and hand on their own; anything else needs a supervisor
    (`conversations.supervise`)."""
    if Permission.conversations_supervise in permissions_for(user.role):
        return
    if conversation.assignee_id is None and assignee_id == user.id:
        return
    if conversation.assignee_id == user.id:
        return
    raise Forbidden(
        "只能接待未分配的会话或转出自己的会话；改派他人的会话需要主管权限",
        "You may take unassigned chats and transfer your own; reassigning others' chats "
        "needs conversations.supervise",
    )
