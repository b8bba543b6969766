"""Inbox queries: the views (mine, unassigned, all, my groups, mentions), their counts,
search, response targets, and the supervisors' team board. Read-only.

Search looks at the customer's name, nickname and phone tail (尾号), order numbers, and the
text of messages and notes. Chinese has no spaces, so the query is cut into words with
jieba (the same segmenter tickets use) and every word must occur in one message of the
chat: "快递破损" finds "快递外包装破损了". Message text is matched with LIKE rather than an
index: see docs/decisions.md for the volumes this is meant for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group, User, user_groups
from kefu.conversations import routing, service
from kefu.conversations.models import AgentPresence, Conversation, ConversationMention, Message
from kefu.conversations.schemas import ConversationSummary
from kefu.core.db import utcnow
from kefu.nlp.segment import segment
from kefu.store.models import Customer, Order, Store

DEFAULT_FIRST_RESPONSE_TARGET_S = 60
MAX_QUERY_WORDS = 6
_WORD = re.compile(r"\w", re.UNICODE)


def first_response_target(store: Store | None) -> int:
    """Seconds within which a customer should hear from a person:
    `Store.settings["chat"]["first_response_target_s"]`, default 60."""
    chat = (store.settings or {}).get("chat") if store is not None else None
    try:
        value = int((chat or {}).get("first_response_target_s", DEFAULT_FIRST_RESPONSE_TARGET_S))
    except (TypeError, ValueError):
        return DEFAULT_FIRST_RESPONSE_TARGET_S
    return value if value > 0 else DEFAULT_FIRST_RESPONSE_TARGET_S


async def response_targets(session: AsyncSession) -> dict[int, int]:
    return {s.id: first_response_target(s) for s in await session.scalars(select(Store))}


async def groups_of(session: AsyncSession, user_id: int) -> list[Group]:
    return list(
        await session.scalars(
            select(Group)
            .join(user_groups, user_groups.c.group_id == Group.id)
            .where(user_groups.c.user_id == user_id)
            .order_by(Group.name)
        )
    )


def _query_words(query: str) -> list[str]:
    words: list[str] = []
    for token in segment(query):
        word = token.strip().lower()
        if word and _WORD.search(word) and word not in words:
            words.append(word)
    return words[:MAX_QUERY_WORDS]


def search_condition(query: str) -> ColumnElement[bool] | None:
    """Conversations matching the agent's search box, or None for an empty query."""
    q = " ".join(query.split())
    if not q:
        return None
    matches: list[ColumnElement[bool]] = [
        Customer.name.contains(q, autoescape=True),
        Customer.nickname.contains(q, autoescape=True),
        Conversation.visitor_name.contains(q, autoescape=True),
    ]
    digits = q.replace(" ", "")
    if digits.isdigit() and len(digits) == 4:
        matches.append(Customer.phone_tail == digits)
    elif digits.isdigit() and 5 <= len(digits) <= 11:
        matches.append(Customer.phone.endswith(digits, autoescape=True))
    if len(q) >= 6:
        orders = select(Order.customer_id).where(Order.order_no.contains(q, autoescape=True))
        matches.append(Conversation.customer_id.in_(orders))
    words = _query_words(q) or [q.lower()]
    body = func.lower(Message.body)
    text_hits = select(Message.conversation_id).where(
        and_(*[body.contains(w, autoescape=True) for w in words])
    )
    matches.append(Conversation.id.in_(text_hits))
    return or_(*matches)


@dataclass(frozen=True)
class InboxQuery:
    view: str = "all"
    status: str | None = "open"
    group_id: int | None = None
    q: str = ""


Listed = Select[Conversation, Customer, User]


def _scoped(stmt: Listed, user: User, query: InboxQuery, mentioned: set[int]) -> Listed:
    if query.view == "mine":
        stmt = stmt.where(Conversation.assignee_id == user.id)
    elif query.view == "unassigned":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif query.view == "group":
        stmt = stmt.where(Conversation.group_id == (query.group_id or 0))
    elif query.view == "mentions":
        stmt = stmt.where(Conversation.id.in_(sorted(mentioned) or [0]))
    # A mention is worth seeing whatever the chat's status; elsewhere the filter applies.
    if query.status and query.view != "mentions":
        stmt = stmt.where(service.status_condition(query.status))
    condition = search_condition(query.q)
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt


async def list_inbox(
    session: AsyncSession,
    user: User,
    query: InboxQuery,
    *,
    limit: int = 200,
) -> list[ConversationSummary]:
    """Longest-waiting first, then most recent activity (the order agents work in)."""
    mentioned = await unread_mentions(session, user.id)
    stmt: Listed = (
        select(Conversation, Customer, User)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(User, User.id == Conversation.assignee_id)
    )
    stmt = _scoped(stmt, user, query, mentioned).order_by(
        Conversation.waiting_since.is_(None),
        Conversation.waiting_since,
        Conversation.last_message_at.desc(),
        Conversation.id.desc(),
    )
    rows = (await session.execute(stmt.limit(limit))).all()
    return [service._summary(c, cust, assignee) for c, cust, assignee in rows]


async def unread_mentions(session: AsyncSession, user_id: int) -> set[int]:
    """Conversations in which this agent was @-mentioned and has not looked since."""
    rows = await session.scalars(
        select(ConversationMention.conversation_id).where(
            ConversationMention.user_id == user_id, ConversationMention.read_at.is_(None)
        )
    )
    return set(rows)


async def count_views(session: AsyncSession, user: User, groups: list[Group]) -> dict[str, int]:
    """Open chats per tab (and unread mentions): the numbers on the inbox tabs."""
    base = select(func.count()).select_from(Conversation).where(Conversation.status == "open")
    counts = {
        "mine": await session.scalar(base.where(Conversation.assignee_id == user.id)) or 0,
        "unassigned": await session.scalar(base.where(Conversation.assignee_id.is_(None))) or 0,
        "all": await session.scalar(base) or 0,
        "mentions": len(await unread_mentions(session, user.id)),
    }
    for group in groups:
        counts[f"group-{group.id}"] = (
            await session.scalar(base.where(Conversation.group_id == group.id)) or 0
        )
    return {k: int(v) for k, v in counts.items()}


# --- the team board --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLoad:
    user: User
    status: str  # online | busy | away | offline
    open_chats: int
    cap: int

    @property
    def full(self) -> bool:
        return self.open_chats >= self.cap

    longest_waiting_since: datetime | None
    longest_waiting_id: int | None
    groups: list[str]


async def team_board(session: AsyncSession) -> list[AgentLoad]:
    """Each inbox agent's status as colleagues see it (routing's `shown_status`: the status
    they chose, or offline when no socket of theirs is alive) and their load against the cap."""
    now = utcnow()
    from kefu.conversations.workspace import inbox_agents

    agents = await inbox_agents(session)
    presence = {p.user_id: p for p in await session.scalars(select(AgentPresence))}
    open_rows = (
        await session.execute(
            select(Conversation.assignee_id, Conversation.id, Conversation.waiting_since).where(
                Conversation.status == "open", Conversation.assignee_id.is_not(None)
            )
        )
    ).all()
    load: dict[int, list[tuple[int, datetime | None]]] = {}
    for assignee_id, conversation_id, waiting_since in open_rows:
        if assignee_id is None:
            continue
        load.setdefault(int(assignee_id), []).append((conversation_id, waiting_since))
    group_rows = (
        await session.execute(
            select(user_groups.c.user_id, Group.name).join(
                Group, Group.id == user_groups.c.group_id
            )
        )
    ).all()
    group_names: dict[int, list[str]] = {}
    for user_id, name in group_rows:
        group_names.setdefault(int(user_id), []).append(name)
    board: list[AgentLoad] = []
    for agent in agents:
        chats = load.get(agent.id, [])
        waiting = sorted((w, cid) for cid, w in chats if w is not None)
        status = routing.shown_status(presence.get(agent.id), now)
        board.append(
            AgentLoad(
                user=agent,
                status=status,
                open_chats=len(chats),
                cap=agent.max_concurrent_chats,
                longest_waiting_since=waiting[0][0] if waiting else None,
                longest_waiting_id=waiting[0][1] if waiting else None,
                groups=sorted(group_names.get(agent.id, [])),
            )
        )
    order = {"online": 0, "busy": 1, "away": 2, "offline": 3}
    board.sort(key=lambda a: (order[a.status], -a.open_chats, a.user.display_name))
    return board


async def queue_summary(session: AsyncSession) -> dict[str, Any]:
    """Open chats nobody has yet, and how long the oldest has waited."""
    row = (
        await session.execute(
            select(func.count(), func.min(Conversation.waiting_since)).where(
                Conversation.status == "open", Conversation.assignee_id.is_(None)
            )
        )
    ).one()
    return {"unassigned": int(row[0] or 0), "oldest_waiting_since": row[1]}
