"""Conversation rules: messages in and out, assignment, resolve/reopen, read receipts.

Every function here appends to the conversation's log (`ConversationEvent`), updates the
cached columns on `Conversation`, writes an audit entry, and queues the new log rows for
publication after commit. Nothing here commits: the caller (a request, or the socket loop)
commits and only then acknowledges, so an acknowledged message is a stored message.

Ordering: on PostgreSQL every writer of a store's log first takes a transaction-scoped
advisory lock on the store, so a store's event ids become visible in increasing order and a
client resuming "after id N" cannot skip a row committed late with a smaller id. SQLite has
a single writer, which gives the same guarantee.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.accounts.permissions import Permission, permissions_for
from kefu.conversations.events import queue_log_events
from kefu.conversations.models import Conversation, ConversationEvent, Message
from kefu.conversations.schemas import MAX_BODY, ConversationSummary
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Invalid, NotFound
from kefu.store.models import Customer

# Kinds a customer's message may have; image, product and order carry their content in
# `payload`, which only kefu.conversations.media / cards build (never the raw client frame).
CUSTOMER_KINDS = ("text", "image", "product", "order")
AGENT_KINDS = ("text", "image", "order")
_LOCK_NAMESPACE = 0x4B4546  # "KEF": keeps our advisory locks apart from anyone else's
RESUME_LIMIT = 1000
PREVIEW_LENGTH = 80


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    zh, en = "会话不存在或已失效，请刷新后重试", "Conversation not found; reload and try again"


class EmptyMessage(Invalid):
    code = "empty_message"
    zh, en = "消息不能为空", "The message is empty"


class MessageTooLong(Invalid):
    code = "message_too_long"
    zh, en = f"消息太长（最多 {MAX_BODY} 字）", f"The message is too long (max {MAX_BODY})"


class UnsupportedKind(Invalid):
    code = "unsupported_kind"
    zh, en = "暂不支持该消息类型", "This kind of message is not supported yet"


@dataclass(frozen=True)
class Contact:
    """Who is on the customer side of a chat: a visitor, possibly identified as a customer."""

    store_id: int
    visitor_hash: str
    customer_id: int | None = None
    name: str = ""

    @property
    def actor(self) -> Actor:
        return Actor("customer", self.customer_id, self.name or "访客")


@dataclass(frozen=True)
class Posted:
    conversation: Conversation
    message: Message
    event: ConversationEvent
    duplicate: bool


Row = tuple[ConversationEvent, Message | None]


# --- helpers -----------------------------------------------------------------------------


async def _lock_store_log(session: AsyncSession, store_id: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {"ns": _LOCK_NAMESPACE, "key": store_id},
        )


async def _load(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .execution_options(populate_existing=True)
    )
    if conversation is None:
        raise ConversationNotFound()
    return conversation


async def _load_locked(session: AsyncSession, conversation_id: int) -> Conversation:
    store_id = await session.scalar(
        select(Conversation.store_id).where(Conversation.id == conversation_id)
    )
    if store_id is None:
        raise ConversationNotFound()
    await _lock_store_log(session, store_id)
    return await _load(session, conversation_id)


def _append(
    session: AsyncSession,
    conversation: Conversation,
    kind: str,
    actor: Actor,
    *,
    audience: str = "public",
    message: Message | None = None,
    data: dict[str, Any] | None = None,
) -> ConversationEvent:
    event = ConversationEvent(
        conversation_id=conversation.id,
        store_id=conversation.store_id,
        kind=kind,
        audience=audience,
        actor_kind=_actor_kind(actor),
        actor_id=actor.id,
        actor_name=actor.name,
        message_id=message.id if message is not None else None,
        data=data or {},
        created_at=utcnow(),
    )
    session.add(event)
    return event


def _actor_kind(actor: Actor) -> str:
    return {"user": "agent", "api_token": "agent"}.get(actor.kind, actor.kind)


async def _finish(session: AsyncSession, conversation: Conversation, rows: list[Row]) -> None:
    """Give the new rows their ids, cache the last one, queue them for after commit."""
    await session.flush()
    conversation.last_event_id = max(event.id for event, _ in rows)
    conversation.updated_at = utcnow()
    await session.flush()
    queue_log_events(session, rows, await summarize(session, conversation))


def _clean_body(body: str) -> str:
    cleaned = body.replace("\r\n", "\n").strip()
    if not cleaned:
        raise EmptyMessage()
    if len(cleaned) > MAX_BODY:
        raise MessageTooLong()
    return cleaned


def _preview(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1] + "…"


def contact_name(conversation: Conversation, customer: Customer | None) -> str:
    if customer is not None:
        return customer.nickname or customer.name or f"顾客 {customer.id}"
    if conversation.visitor_name:
        return conversation.visitor_name
    return f"访客 {conversation.visitor_hash[:6].upper()}"


async def summarize(session: AsyncSession, conversation: Conversation) -> ConversationSummary:
    customer = (
        await session.get(Customer, conversation.customer_id)
        if conversation.customer_id is not None
        else None
    )
    assignee = (
        await session.get(User, conversation.assignee_id)
        if conversation.assignee_id is not None
        else None
    )
    return _summary(conversation, customer, assignee)


def _summary(
    conversation: Conversation, customer: Customer | None, assignee: User | None
) -> ConversationSummary:
    return ConversationSummary(
        id=conversation.id,
        store_id=conversation.store_id,
        status=conversation.status,
        channel=conversation.channel,
        contact_name=contact_name(conversation, customer),
        customer_id=conversation.customer_id,
        assignee_id=conversation.assignee_id,
        assignee_name=assignee.display_name if assignee is not None else "",
        last_message_at=conversation.last_message_at,
        last_message_preview=conversation.last_message_preview,
        waiting_since=conversation.waiting_since,
        unread_by_agent=conversation.unread_by_agent,
        last_event_id=conversation.last_event_id,
        created_at=conversation.created_at,
        first_response_at=conversation.first_response_at,
        snoozed_until=conversation.snoozed_until,
        group_id=conversation.group_id,
    )


async def _existing(
    session: AsyncSession, conversation_id: int, client_msg_id: str
) -> tuple[Message, ConversationEvent] | None:
    found = (
        await session.execute(
            select(Message, ConversationEvent)
            .join(ConversationEvent, ConversationEvent.message_id == Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.client_msg_id == client_msg_id,
                # Notes too: an agent's note resent after a reconnect is stored once.
                ConversationEvent.kind.in_(("message", "note")),
            )
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


# --- customer side -----------------------------------------------------------------------


def _contact_filter(contact: Contact) -> Any:
    if contact.customer_id is not None:
        return Conversation.customer_id == contact.customer_id
    return (Conversation.visitor_hash == contact.visitor_hash) & Conversation.customer_id.is_(None)


async def current_conversation(session: AsyncSession, contact: Contact) -> Conversation | None:
    """The contact's conversation: the latest one, which a new message reopens if resolved."""
    found = await session.scalar(
        select(Conversation)
        .where(Conversation.store_id == contact.store_id, _contact_filter(contact))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if found is None and contact.customer_id is not None:
        # A visitor who chatted anonymously and then signed in keeps their history.
        found = await session.scalar(
            select(Conversation)
            .where(
                Conversation.store_id == contact.store_id,
                Conversation.visitor_hash == contact.visitor_hash,
                Conversation.customer_id.is_(None),
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    return found


async def conversation_for_contact(
    session: AsyncSession, contact: Contact, conversation_id: int
) -> Conversation:
    """Load a conversation the contact owns; anyone else's is 'not found', never 'forbidden'."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.store_id != contact.store_id:
        raise ConversationNotFound()
    owns = (
        conversation.customer_id == contact.customer_id
        if contact.customer_id is not None and conversation.customer_id is not None
        else conversation.visitor_hash == contact.visitor_hash
    )
    if not owns:
        raise ConversationNotFound()
    return conversation


async def post_customer_message(
    session: AsyncSession,
    contact: Contact,
    *,
    client_msg_id: str,
    body: str,
    kind: str = "text",
    conversation_id: int | None = None,
    channel: str = "web",
    context: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> Posted:
    """Store a customer's message (creating or reopening the conversation as needed).

    A message whose client id was already stored is not stored again: the existing message
    is returned with `duplicate=True`, so the client simply gets its acknowledgement again.
    """
    if kind not in CUSTOMER_KINDS or (kind != "text" and not payload):
        raise UnsupportedKind()
    cleaned = _clean_body(body)
    await _lock_store_log(session, contact.store_id)
    conversation: Conversation | None
    if conversation_id is not None:
        owned = await conversation_for_contact(session, contact, conversation_id)
        conversation = await _load(session, owned.id)
    else:
        conversation = await current_conversation(session, contact)
    rows: list[Row] = []
    actor = contact.actor
    if conversation is not None:
        existing = await _existing(session, conversation.id, client_msg_id)
        if existing is not None:
            return Posted(conversation, existing[0], existing[1], duplicate=True)
    if conversation is None:
        conversation = Conversation(
            store_id=contact.store_id,
            customer_id=contact.customer_id,
            visitor_hash=contact.visitor_hash,
            visitor_name=contact.name,
            channel=channel,
            status="open",
            context=context or {},
        )
        session.add(conversation)
        await session.flush()
        rows.append(
            (_append(session, conversation, "opened", actor, data={"channel": channel}), None)
        )
        await record_audit(
            session,
            actor,
            "conversation.open",
            "conversation",
            conversation.id,
            after={"channel": channel, "customer_id": contact.customer_id},
            store_id=contact.store_id,
        )
    elif conversation.customer_id is None and contact.customer_id is not None:
        conversation.customer_id = contact.customer_id
    if conversation.status == "snoozed":
        # The customer wrote again: the chat cannot wait for its snooze to end.
        rows.append((await wake(session, conversation, actor, reason="customer"), None))
    reopened = conversation.status == "resolved"
    if reopened:
        rows.append((_reopen(conversation, actor, session), None))
        await record_audit(
            session,
            actor,
            "conversation.reopen",
            "conversation",
            conversation.id,
            before={"status": "resolved"},
            after={"status": "open"},
            store_id=conversation.store_id,
        )

    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        sender_kind="customer",
        sender_id=contact.customer_id,
        sender_name=contact.name,
        client_msg_id=client_msg_id,
        kind=kind,
        body=cleaned,
        payload=payload or {},
        audience="public",
        created_at=now,
    )
    session.add(message)
    await session.flush()
    event = _append(session, conversation, "message", actor, message=message)
    rows.append((event, message))
    conversation.last_message_at = now
    conversation.last_message_preview = _preview(cleaned)
    conversation.unread_by_agent += 1
    from kefu.bot import live as bot_live

    # While the bot answers first, the chat is not waiting for a person and is not routed.
    bot_first = await bot_live.answers_first(session, conversation, kind)
    if conversation.waiting_since is None and not bot_first:
        conversation.waiting_since = now
    if (conversation.assignee_id is None or reopened) and not bot_first:
        from kefu.conversations import routing

        # Skill group, sticky agent, strategy; a reopened chat may go back to the queue.
        change = await routing.on_customer_message(
            session,
            conversation,
            reopened=reopened,
            topic=(context or {}).get("topic"),
            log=rows,  # overflow hops between groups, published with the message
        )
        if change is not None:
            rows.append(await _assign(session, conversation, routing.ROUTER, change.assignee_id))
    await record_audit(
        session,
        actor,
        "conversation.message",
        "conversation",
        conversation.id,
        after={"message_id": message.id, "sender": "customer", "kind": kind},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, rows)
    await bot_live.queue_reply(session, conversation, message)
    return Posted(conversation, message, event, duplicate=False)


def _reopen(conversation: Conversation, actor: Actor, session: AsyncSession) -> ConversationEvent:
    conversation.status = "open"
    conversation.resolved_at = None
    return _append(session, conversation, "reopened", actor)


async def wake(
    session: AsyncSession, conversation: Conversation, actor: Actor, *, reason: str
) -> ConversationEvent:
    """A snoozed conversation is back in the open list (its time came, or the customer wrote)."""
    until = conversation.snoozed_until
    conversation.status = "open"
    conversation.snoozed_until = None
    await record_audit(
        session,
        actor,
        "conversation.wake",
        "conversation",
        conversation.id,
        before={"status": "snoozed", "until": until.isoformat() if until else None},
        after={"status": "open", "by": reason},
        store_id=conversation.store_id,
    )
    return _append(session, conversation, "woken", actor, audience="internal", data={"by": reason})


# --- bot side ----------------------------------------------------------------------------


async def post_bot_message(
    session: AsyncSession,
    actor: Actor,
    conversation_id: int,
    *,
    client_msg_id: str,
    body: str,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
    audience: str = "public",
) -> Posted:
    """The bot's reply (public; `kind` text or choices with `payload`) or its internal note
    for the agent taking over. A bot reply is not a human answer: the waiting clock and the
    first response time are left alone."""
    return await _post_automatic(
        session, actor, conversation_id, "bot", client_msg_id, body, kind, payload, audience
    )


async def post_system_message(
    session: AsyncSession,
    conversation_id: int,
    *,
    client_msg_id: str,
    body: str,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
    name: str = "系统消息",
) -> Posted:
    """A notice to the customer from Kefu itself (a CSAT survey, an after-sales update): not
    an answer, so the waiting clock, first response and assignment are left alone."""
    return await _post_automatic(
        session,
        Actor.system(name),
        conversation_id,
        "system",
        client_msg_id,
        body,
        kind,
        payload,
        "public",
    )


async def _post_automatic(
    session: AsyncSession,
    actor: Actor,
    conversation_id: int,
    sender_kind: str,
    client_msg_id: str,
    body: str,
    kind: str,
    payload: dict[str, Any] | None,
    audience: str,
) -> Posted:
    cleaned = _clean_body(body)
    conversation = await _load_locked(session, conversation_id)
    existing = await _existing(session, conversation.id, client_msg_id)
    if existing is not None:
        return Posted(conversation, existing[0], existing[1], duplicate=True)
    internal = audience == "internal"
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        sender_kind=sender_kind,
        sender_name=actor.name,
        client_msg_id=client_msg_id,
        kind="note" if internal else kind,
        body=cleaned,
        payload=payload or {},
        audience="internal" if internal else "public",
        created_at=now,
    )
    session.add(message)
    await session.flush()
    event = _append(
        session,
        conversation,
        "note" if internal else "message",
        actor,
        audience=message.audience,
        message=message,
    )
    if not internal:
        conversation.last_message_at = now
        conversation.last_message_preview = _preview(cleaned)
    await record_audit(
        session,
        actor,
        "conversation.note" if internal else "conversation.message",
        "conversation",
        conversation.id,
        after={"message_id": message.id, "sender": sender_kind, "kind": message.kind},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, [(event, message)])
    return Posted(conversation, message, event, duplicate=False)


# --- agent side --------------------------------------------------------------------------


async def post_agent_message(
    session: AsyncSession,
    actor: Actor,
    conversation_id: int,
    *,
    client_msg_id: str,
    body: str,
    audience: str = "public",
    kind: str = "text",
    payload: dict[str, Any] | None = None,
) -> Posted:
    """An agent's reply (public) or internal note (internal, never shown to the customer).

    A public reply answers the customer: the waiting clock stops, the first response time is
    recorded, the customer's messages count as read, and an unassigned conversation is
    assigned to the agent who answered.
    """
    if kind not in AGENT_KINDS or (kind != "text" and not payload):
        raise UnsupportedKind()
    cleaned = _clean_body(body)
    conversation = await _load_locked(session, conversation_id)
    existing = await _existing(session, conversation.id, client_msg_id)
    if existing is not None:
        return Posted(conversation, existing[0], existing[1], duplicate=True)
    internal = audience == "internal" and kind == "text"
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        sender_kind="agent",
        sender_id=actor.id,
        sender_name=actor.name,
        client_msg_id=client_msg_id,
        kind="note" if internal else kind,
        body=cleaned,
        payload=payload or {},
        audience="internal" if internal else "public",
        created_at=now,
    )
    session.add(message)
    await session.flush()
    rows: list[Row] = []
    if not internal:
        # Answering implies having read, and takes the chat if nobody has it: the customer
        # sees "客服 小美 为您服务" and 已读 before the reply itself.
        if conversation.assignee_id is None and actor.id is not None:
            rows.append(await _assign(session, conversation, actor, actor.id))
        if conversation.unread_by_agent:
            rows.append(await _agent_read(session, conversation, actor))
    event = _append(
        session,
        conversation,
        "note" if internal else "message",
        actor,
        audience=message.audience,
        message=message,
    )
    rows.append((event, message))
    if not internal:
        conversation.last_message_at = now
        conversation.last_message_preview = _preview(cleaned)
        conversation.waiting_since = None
        conversation.unread_by_customer += 1
        if conversation.first_response_at is None:
            conversation.first_response_at = now
    await record_audit(
        session,
        actor,
        "conversation.note" if internal else "conversation.message",
        "conversation",
        conversation.id,
        after={"message_id": message.id, "sender": "agent", "audience": message.audience},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, rows)
    return Posted(conversation, message, event, duplicate=False)


async def _assign(
    session: AsyncSession, conversation: Conversation, actor: Actor, assignee_id: int | None
) -> Row:
    before = conversation.assignee_id
    if assignee_id is None:
        conversation.assignee_id = None
        event = _append(
            session,
            conversation,
            "unassigned",
            actor,
            audience="internal",
            data={"previous_assignee_id": before},
        )
    else:
        assignee = await session.get(User, assignee_id)
        if (
            assignee is None
            or not assignee.is_active
            or Permission.inbox_use not in permissions_for(assignee.role)
        ):
            raise Invalid("该客服不存在或不能接待会话", "That agent cannot take conversations")
        conversation.assignee_id = assignee.id
        kind = "assigned" if before is None else "transferred"
        event = _append(
            session,
            conversation,
            kind,
            actor,
            data={
                "assignee_id": assignee.id,
                "assignee_name": assignee.display_name,
                "previous_assignee_id": before,
            },
        )
    await record_audit(
        session,
        actor,
        "conversation.assign",
        "conversation",
        conversation.id,
        before={"assignee_id": before},
        after={"assignee_id": conversation.assignee_id},
        store_id=conversation.store_id,
    )
    if conversation.waiting_since is not None:
        from kefu.conversations import queue

        queue.schedule_update(session)  # the customers behind this one move up
    return event, None


async def assign_conversation(
    session: AsyncSession, actor: Actor, conversation_id: int, assignee_id: int | None
) -> Conversation:
    conversation = await _load_locked(session, conversation_id)
    if conversation.assignee_id == assignee_id:
        return conversation
    row = await _assign(session, conversation, actor, assignee_id)
    await _finish(session, conversation, [row])
    return conversation


async def route_conversation(
    session: AsyncSession, conversation_id: int, *, now: datetime | None = None
) -> bool:
    """Give a waiting, unassigned conversation to an available agent, if there is one
    (after its group's overflow rule, which may move it to another group, see overflow.py)."""
    from kefu.conversations import routing

    conversation = await _load_locked(session, conversation_id)
    rows: list[Row] = []
    agent = await routing.pick_agent(session, conversation, log=rows, now=now)
    if agent is not None:
        rows.append(await _assign(session, conversation, routing.ROUTER, agent.id))
    if rows:
        await _finish(session, conversation, rows)
    return agent is not None


async def resolve_conversation(
    session: AsyncSession, actor: Actor, conversation_id: int
) -> Conversation:
    conversation = await _load_locked(session, conversation_id)
    if conversation.status == "resolved":
        return conversation
    before = conversation.status
    conversation.status = "resolved"
    conversation.resolved_at = utcnow()
    conversation.waiting_since = None
    conversation.unread_by_agent = 0
    event = _append(session, conversation, "resolved", actor)
    await record_audit(
        session,
        actor,
        "conversation.resolve",
        "conversation",
        conversation.id,
        before={"status": before},
        after={"status": "resolved"},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, [(event, None)])
    if conversation.first_response_at is not None and actor.kind == "user":
        # A person served this customer: ask how it went (once per resolution).
        from kefu.conversations import csat

        await post_system_message(
            session,
            conversation.id,
            client_msg_id=f"csat:{conversation.id}:{conversation.resolved_at:%Y%m%d%H%M%S}",
            body=csat.SURVEY_TEXT,
            kind="csat",
            payload=csat.survey_payload(conversation.id),
        )
    from kefu.conversations import routing

    await routing.drain_queue(session)  # the agent has a free slot now
    return conversation


async def reopen_conversation(
    session: AsyncSession, actor: Actor, conversation_id: int
) -> Conversation:
    conversation = await _load_locked(session, conversation_id)
    if conversation.status != "resolved":
        return conversation
    event = _reopen(conversation, actor, session)
    await record_audit(
        session,
        actor,
        "conversation.reopen",
        "conversation",
        conversation.id,
        before={"status": "resolved"},
        after={"status": "open"},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, [(event, None)])
    return conversation


# --- read receipts -----------------------------------------------------------------------


async def _last_message_id(session: AsyncSession, conversation_id: int, sender_kind: str) -> int:
    found = await session.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id == conversation_id,
            Message.sender_kind == sender_kind,
            Message.audience == "public",
        )
    )
    return int(found or 0)


async def _agent_read(session: AsyncSession, conversation: Conversation, actor: Actor) -> Row:
    up_to = await _last_message_id(session, conversation.id, "customer")
    conversation.unread_by_agent = 0
    conversation.agent_read_up_to = up_to
    return _append(session, conversation, "read", actor, data={"by": "agent", "up_to": up_to}), None


async def mark_read_by_agent(
    session: AsyncSession, actor: Actor, conversation_id: int
) -> Conversation:
    """The agent has seen the customer's messages: a receipt the customer sees as 已读."""
    conversation = await _load_locked(session, conversation_id)
    up_to = await _last_message_id(session, conversation.id, "customer")
    if up_to <= conversation.agent_read_up_to and not conversation.unread_by_agent:
        return conversation
    row = await _agent_read(session, conversation, actor)
    await record_audit(
        session,
        actor,
        "conversation.read",
        "conversation",
        conversation.id,
        after={"by": "agent", "up_to": up_to},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, [row])
    return conversation


async def mark_read_by_customer(
    session: AsyncSession, contact: Contact, conversation_id: int
) -> Conversation:
    owned = await conversation_for_contact(session, contact, conversation_id)
    conversation = await _load_locked(session, owned.id)
    up_to = await _last_message_id(session, conversation.id, "agent")
    if up_to <= conversation.customer_read_up_to:
        return conversation
    conversation.unread_by_customer = 0
    conversation.customer_read_up_to = up_to
    event = _append(
        session, conversation, "read", contact.actor, data={"by": "customer", "up_to": up_to}
    )
    await record_audit(
        session,
        contact.actor,
        "conversation.read",
        "conversation",
        conversation.id,
        after={"by": "customer", "up_to": up_to},
        store_id=conversation.store_id,
    )
    await _finish(session, conversation, [(event, None)])
    return conversation


# --- reading the log ---------------------------------------------------------------------


async def events_after(
    session: AsyncSession,
    after: int,
    *,
    conversation_id: int | None = None,
    store_ids: Sequence[int] | None = None,
    public_only: bool = False,
    overlap_since: datetime | None = None,
    known_ids: Container[int] | None = None,
    limit: int = RESUME_LIMIT,
) -> list[Row]:
    """Log rows after the cursor, oldest first.

    `overlap_since` also returns rows at or below the cursor created since then: events
    published by two processes can reach a socket out of id order, so a resuming client
    gets the last few seconds again and drops what it already has by id. `known_ids` are
    ids the client already has: they are not loaded again (a busy store's agent socket
    re-reads its overlap every heartbeat).
    """
    where: list[Any] = []
    if conversation_id is not None:
        where.append(ConversationEvent.conversation_id == conversation_id)
    if store_ids is not None:
        where.append(ConversationEvent.store_id.in_(list(store_ids)))
    if public_only:
        where.append(ConversationEvent.audience == "public")
    stmt = (
        select(ConversationEvent, Message)
        .outerjoin(Message, Message.id == ConversationEvent.message_id)
        .where(*where)
    )
    if after == 0 and conversation_id is not None:
        # A first load shows the most recent history, not the first thousand rows.
        newest = stmt.order_by(ConversationEvent.id.desc()).limit(limit)
        return [(row[0], row[1]) for row in reversed((await session.execute(newest)).all())]
    result = await session.execute(
        stmt.where(ConversationEvent.id > after).order_by(ConversationEvent.id).limit(limit)
    )
    rows: list[Row] = [(row[0], row[1]) for row in result.all()]
    if overlap_since is not None and after > 0:
        # Queried apart, newest first, so a busy log's overlap can never crowd out the rows
        # after the cursor (which are what the client is missing for sure).
        recent = await session.scalars(
            select(ConversationEvent.id)
            .where(
                *where,
                ConversationEvent.id <= after,
                ConversationEvent.created_at >= overlap_since,
            )
            .order_by(ConversationEvent.id.desc())
            .limit(limit)
        )
        missing = [i for i in recent if known_ids is None or i not in known_ids]
        if missing:
            overlap = await session.execute(
                stmt.where(ConversationEvent.id.in_(missing)).order_by(ConversationEvent.id)
            )
            rows = [(row[0], row[1]) for row in overlap.all()] + rows
    return rows


def status_condition(status: str) -> Any:
    """The list filter for a status. "pending" is not stored: it is an open chat the bot is
    answering (bot first, not handed over), so nobody needs to act yet — Chatwoot's meaning."""
    if status == "pending":
        return (
            (Conversation.status == "open")
            & Conversation.assignee_id.is_(None)
            & Conversation.waiting_since.is_(None)
        )
    return Conversation.status == status


async def list_conversations(
    session: AsyncSession,
    user: User,
    *,
    view: str = "all",
    status: str | None = "open",
    limit: int = 200,
) -> list[ConversationSummary]:
    """The inbox list: longest-waiting first, then most recent activity."""
    stmt = (
        select(Conversation, Customer, User)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(User, User.id == Conversation.assignee_id)
    )
    if status:
        stmt = stmt.where(status_condition(status))
    if view == "mine":
        stmt = stmt.where(Conversation.assignee_id == user.id)
    elif view == "unassigned":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    stmt = stmt.order_by(
        Conversation.waiting_since.is_(None),
        Conversation.waiting_since,
        Conversation.last_message_at.desc(),
        Conversation.id.desc(),
    ).limit(limit)
    rows = (await session.execute(stmt)).all()
    return [_summary(c, cust, assignee) for c, cust, assignee in rows]


async def count_views(session: AsyncSession, user: User) -> dict[str, int]:
    """How many open conversations each list holds (the numbers on the inbox tabs)."""
    base = select(func.count()).select_from(Conversation).where(Conversation.status == "open")
    mine = await session.scalar(base.where(Conversation.assignee_id == user.id))
    unassigned = await session.scalar(base.where(Conversation.assignee_id.is_(None)))
    everyone = await session.scalar(base)
    return {"mine": mine or 0, "unassigned": unassigned or 0, "all": everyone or 0}


async def summaries_for(
    session: AsyncSession, conversation_ids: set[int]
) -> dict[int, ConversationSummary]:
    if not conversation_ids:
        return {}
    rows = (
        await session.execute(
            select(Conversation, Customer, User)
            .outerjoin(Customer, Customer.id == Conversation.customer_id)
            .outerjoin(User, User.id == Conversation.assignee_id)
            .where(Conversation.id.in_(sorted(conversation_ids)))
        )
    ).all()
    return {c.id: _summary(c, cust, assignee) for c, cust, assignee in rows}


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    return await _load(session, conversation_id)


async def public_transcript(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """What the customer and the shop said, oldest first, as plain data for other domains
    (a ticket made from this chat). Internal notes stay in the conversation."""
    await _load(session, conversation_id)
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.audience == "public")
        .order_by(Message.id)
    )
    return [
        {
            "id": m.id,
            "sender": m.sender_kind if m.sender_kind in ("customer", "agent", "bot") else "system",
            "sender_name": m.sender_name,
            "body": m.body,
            "sent_at": m.created_at,
        }
        for m in rows
    ]
