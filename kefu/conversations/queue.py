"""What a waiting customer is told: queue position, estimated wait, and whether chat is open.

Queue: the open, unassigned conversations with a waiting customer, split by skill group (a
conversation without a group queues with the other group-less ones of its store). Within a
queue VIP customers come first when their store has `vip_first`, then the longest waiting,
which is the order `routing.drain_queue` hands chats out in. "您前面还有 N 位" is the number of
conversations before this one.

Estimated wait, in minutes, for a customer with N people before them:

* throughput: chats of this queue assigned (by the router or an agent taking one) in the
  last 30 minutes, per minute, `r`. If `r > 0`: wait = (N + 1) / r.
* otherwise (no recent hand-outs, e.g. the first chat of the morning): average handle time
  `H` (first reply to resolution of the queue's last 50 resolved chats, 5 minutes if none) over
  the number of agents of the group at work `A`: wait = (N + 1) × H / max(A, 1).

rounded up and kept between 1 and 240 minutes. It is an estimate, shown as "约 N 分钟".

Frames `{"type": "queue", "conversation_id", "ahead", "position", "eta_minutes"}` go to the
customer's socket when the queue changes (a job runs after any commit that added, assigned or
re-routed a waiting chat) and every 15 s from the routing sweep.

Availability: outside the store's chat hours (its weekly hours and the holiday calendar of
kefu.tickets, see `routing_settings.ChatHours`), or in an auto-routed store when nobody of the
group is at work, the widget shows the offline message form instead of the composer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations import routing
from kefu.conversations.events import conversation_channel
from kefu.conversations.models import Conversation, ConversationEvent
from kefu.conversations.routing_settings import ChatHours, chat_routing
from kefu.core import jobs
from kefu.core.db import utcnow
from kefu.core.events import get_bus
from kefu.store.models import Customer, Store

THROUGHPUT_WINDOW = timedelta(minutes=30)
DEFAULT_HANDLE_MINUTES = 5.0
ETA_MAX_MINUTES = 240
QueueKey = tuple[str, int]
_SCHEDULED = "kefu_queue_update"


@dataclass(frozen=True)
class QueueState:
    conversation_id: int
    ahead: int
    eta_minutes: int
    waiting_since: datetime | None = None

    def frame(self) -> dict[str, Any]:
        return {
            "type": "queue",
            "conversation_id": self.conversation_id,
            "ahead": self.ahead,
            "position": self.ahead + 1,
            "eta_minutes": self.eta_minutes,
        }


def _key(store_id: int, group_id: int | None) -> QueueKey:
    return ("group", group_id) if group_id is not None else ("store", store_id)


def _in_queue(key: QueueKey) -> Any:
    kind, ident = key
    if kind == "group":
        return Conversation.group_id == ident
    return (Conversation.store_id == ident) & Conversation.group_id.is_(None)


async def _eta_minutes(session: AsyncSession, key: QueueKey, ahead_counts: list[int]) -> list[int]:
    now = utcnow()
    handed_out = await session.scalar(
        select(func.count())
        .select_from(ConversationEvent)
        .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
        .where(
            _in_queue(key),
            ConversationEvent.kind == "assigned",
            ConversationEvent.created_at >= now - THROUGHPUT_WINDOW,
        )
    )
    per_minute = (handed_out or 0) / (THROUGHPUT_WINDOW.total_seconds() / 60)
    if per_minute > 0:
        raw = [(n + 1) / per_minute for n in ahead_counts]
    else:
        recent = (
            await session.execute(
                select(Conversation.first_response_at, Conversation.resolved_at)
                .where(
                    _in_queue(key),
                    Conversation.resolved_at.is_not(None),
                    Conversation.first_response_at.is_not(None),
                )
                .order_by(Conversation.resolved_at.desc())
                .limit(50)
            )
        ).all()
        spans = [(done - first).total_seconds() / 60 for first, done in recent if done and first]
        handle = sum(spans) / len(spans) if spans else DEFAULT_HANDLE_MINUTES
        at_work = await _agents_at_work(session, key)
        raw = [(n + 1) * handle / max(at_work, 1) for n in ahead_counts]
    return [min(ETA_MAX_MINUTES, max(1, math.ceil(v))) for v in raw]


async def _agents_at_work(session: AsyncSession, key: QueueKey) -> int:
    group_id = key[1] if key[0] == "group" else None
    return len(await routing.available_agents(session, group_id=group_id)) or int(
        await routing.anyone_online(session, group_id)
    )


async def queue_states(
    session: AsyncSession, only: set[int] | None = None, limit: int = 2000
) -> dict[int, QueueState]:
    """Position and estimated wait of every waiting conversation (or only those asked)."""
    rows = (
        await session.execute(
            select(
                Conversation.id,
                Conversation.store_id,
                Conversation.group_id,
                Conversation.waiting_since,
                Customer.tier,
            )
            .outerjoin(Customer, Customer.id == Conversation.customer_id)
            .where(
                Conversation.status == "open",
                Conversation.assignee_id.is_(None),
                Conversation.waiting_since.is_not(None),
            )
            .order_by(Conversation.waiting_since, Conversation.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return {}
    vip_first = {
        s.id: chat_routing(s).vip_first
        for s in await session.scalars(
            select(Store).where(Store.id.in_({r.store_id for r in rows}))
        )
    }
    queues: dict[QueueKey, list[Any]] = defaultdict(list)
    for row in rows:
        queues[_key(row.store_id, row.group_id)].append(row)
    states: dict[int, QueueState] = {}
    for key, members in queues.items():
        members.sort(
            key=lambda r: (
                not (vip_first.get(r.store_id, True) and r.tier in routing.VIP_TIERS),
                r.waiting_since,
                r.id,
            )
        )
        wanted = [i for i, r in enumerate(members) if only is None or r.id in only]
        if not wanted:
            continue
        etas = await _eta_minutes(session, key, wanted)
        for index, eta in zip(wanted, etas, strict=True):
            member = members[index]
            states[member.id] = QueueState(member.id, index, eta, member.waiting_since)
    return states


async def queue_state(session: AsyncSession, conversation_id: int) -> QueueState | None:
    return (await queue_states(session, {conversation_id})).get(conversation_id)


def schedule_update(session: AsyncSession) -> None:
    """After this transaction commits, tell every waiting customer their new place (once)."""
    from kefu.conversations import tasks  # noqa: F401 - registers the job

    info = session.sync_session.info
    if not info.get(_SCHEDULED):
        info[_SCHEDULED] = True
        jobs.enqueue(session, "conversations.publish_queue")


# What this process last told each waiting customer: a change publishes only the places
# that moved, not every waiting chat again (a busy queue would otherwise cost O(waiting)
# frames per message). The 15-second sweep republishes everything (`force`), which also
# corrects what another web process told a customer since.
_last_told: dict[int, tuple[datetime | None, int, int]] = {}


async def publish_queue(session: AsyncSession, *, force: bool = False) -> int:
    """Push queue frames to waiting customers whose place or estimate changed."""
    states = await queue_states(session)
    bus = get_bus()
    told = 0
    for state in states.values():
        # The wait's start tells a new wait (or another database, in tests) from the old.
        shown = (state.waiting_since, state.ahead, state.eta_minutes)
        if not force and _last_told.get(state.conversation_id) == shown:
            continue
        _last_told[state.conversation_id] = shown
        await bus.publish(conversation_channel(state.conversation_id), state.frame())
        told += 1
    for gone in set(_last_told) - set(states):
        del _last_told[gone]
    return told


# --- is the chat open? ---------------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    mode: str  # chat | offline
    reason: str = ""  # closed | holiday | nobody
    hours: str = ""
    next_open: datetime | None = None
    agents_online: bool = True

    def frame(self) -> dict[str, Any]:
        return {
            "type": "availability",
            "mode": self.mode,
            "reason": self.reason,
            "hours": self.hours,
            "next_open": self.next_open.isoformat() if self.next_open else None,
            "agents_online": self.agents_online,
        }


async def opening(
    session: AsyncSession, store: Store, hours: ChatHours, now: datetime
) -> tuple[bool, str, datetime | None]:
    """(open now, why not: closed | holiday, next opening) by the store's chat hours and the
    shop's holiday calendar (the same one ticket SLAs count in)."""
    if not hours.enabled:
        return True, "", None
    from kefu.tickets import sla

    shop = await sla.load_calendar(session)
    calendar = replace(
        shop,
        timezone=store.timezone or shop.timezone,
        day_start=hours.day_start,
        day_end=hours.day_end,
        weekdays=frozenset(hours.weekdays),
        holidays=shop.holidays if hours.holidays else frozenset(),
        workdays=shop.workdays if hours.holidays else frozenset(),
        always_open=False,
    )
    local = now.astimezone(calendar.zone)
    if calendar.is_working_day(local.date()) and hours.day_start <= local.time() < hours.day_end:
        return True, "", None
    reason = "holiday" if local.date() in calendar.holidays else "closed"
    # Adding no working time lands on the next moment the chat is open.
    return False, reason, calendar.add(now, 0)


async def availability(
    session: AsyncSession,
    store: Store,
    *,
    topic: str | None = None,
    conversation: Conversation | None = None,
    now: datetime | None = None,
) -> Availability:
    from kefu.bot import live as bot_live

    settings = chat_routing(store)
    group_id = settings.group_for(topic)
    if conversation is not None and conversation.group_id is not None and not topic:
        group_id = conversation.group_id
    from kefu.conversations import overflow

    # Per-group hours and overflow: the group the chat would wait in now (overflow.py).
    seen = await overflow.outlook(session, store, settings, group_id, now or utcnow())
    group_id = seen.group_id
    online = await routing.anyone_online(session, group_id)
    hours_label = settings.hours.label() if settings.hours.enabled else ""
    # A customer already talking with an agent at work keeps chatting past closing time.
    if (
        conversation is not None
        and conversation.status == "open"
        and conversation.assignee_id is not None
        and routing.shown_status(await _presence_of(session, conversation.assignee_id))
        in ("online", "busy")
    ):
        return Availability("chat", hours=hours_label, agents_online=True)
    is_open, reason, next_open = await opening(session, store, settings.hours, now or utcnow())
    if is_open and seen.closed:
        if not seen.everywhere_closed:  # 该组已下班: the chat waits for the group to open
            return Availability("chat", "group_closed", seen.hours, seen.next_open, online)
        is_open, reason, next_open, hours_label = False, "closed", seen.next_open, seen.hours
    nobody = routing.routing_mode(store) == "auto" and not online
    if (not is_open or nobody) and await bot_live.bot_holds_chat(session, store, conversation):
        # The bot answers while no person can: the composer stays; its handover offers 留言.
        return Availability("chat", reason or "nobody", hours_label, next_open, False)
    if not is_open:
        return Availability("offline", reason, hours_label, next_open, online)
    if routing.routing_mode(store) == "auto" and not online:
        return Availability("offline", "nobody", hours_label, None, False)
    return Availability("chat", hours=hours_label, agents_online=online)


async def _presence_of(session: AsyncSession, user_id: int) -> Any:
    from kefu.conversations.models import AgentPresence

    return await session.get(AgentPresence, user_id)
