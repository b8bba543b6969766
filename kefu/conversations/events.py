"""Typed conversation events and where they go.

Every stored log row is published twice after commit: on `conversation:{id}` (the customer's
socket, the bot) and on `store:{id}` (agents' inboxes, with the list row attached so a list
can update without a query). Typing is ephemeral: published, never stored.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import ConversationEvent, Message
from kefu.conversations.schemas import ActorOut, ConversationSummary, EventOut, MessageOut
from kefu.core.events import DomainEvent, get_bus, queue_event


class TypingEvent(DomainEvent):
    type: Literal["typing"] = "typing"
    conversation_id: int
    who: Literal["customer", "agent"]
    name: str = ""
    on: bool = True
    origin: str = ""  # the socket that typed, so it does not see its own indicator
    user_id: int | None = None  # an agent typing, so colleagues see who


class ViewingEvent(DomainEvent):
    """An agent opened (or left) a conversation. Only agents' inboxes get it; nobody stores
    it: each open inbox keeps a short-lived list of who else is looking, and answers a new
    viewer with a `reply` so both sides know of each other."""

    type: Literal["viewing"] = "viewing"
    conversation_id: int
    user_id: int
    name: str
    on: bool = True
    reply: bool = False
    origin: str = ""


def conversation_channel(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def store_channel(store_id: int) -> str:
    return f"store:{store_id}"


def message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        client_id=message.client_msg_id,
        sender_kind=message.sender_kind,
        sender_id=message.sender_id,
        sender_name=message.sender_name,
        kind=message.kind,
        body=message.body,
        payload=message.payload or {},
        audience=message.audience,
        created_at=message.created_at,
    )


def event_out(
    event: ConversationEvent,
    message: Message | None,
    summary: ConversationSummary | None = None,
) -> EventOut:
    return EventOut(
        id=event.id,
        conversation_id=event.conversation_id,
        store_id=event.store_id,
        kind=event.kind,
        audience=event.audience,
        actor=ActorOut(kind=event.actor_kind, id=event.actor_id, name=event.actor_name),
        created_at=event.created_at,
        message=message_out(message) if message is not None else None,
        data=event.data or {},
        conversation=summary,
    )


def queue_log_events(
    session: AsyncSession,
    rows: list[tuple[ConversationEvent, Message | None]],
    summary: ConversationSummary,
) -> None:
    """Buffer the rows for publication after commit (dropped if the transaction rolls back)."""
    listed = summary.model_dump(mode="json")
    for event, message in rows:
        payload = event_out(event, message).model_dump(mode="json")
        queue_event(session, conversation_channel(event.conversation_id), payload)
        # Agents' copy carries the inbox row; dumped once, not once per channel.
        queue_event(session, store_channel(event.store_id), {**payload, "conversation": listed})


def for_customer(payload: dict[str, Any]) -> dict[str, Any] | None:
    """What a customer may see of an event payload, or None if nothing."""
    if payload.get("type") == "typing":
        if payload.get("who") != "agent":
            return None
        return {k: v for k, v in payload.items() if k != "user_id"}  # staff ids are internal
    if payload.get("type") != "event" or payload.get("audience") != "public":
        return None
    out = dict(payload)
    out.pop("conversation", None)
    actor = dict(out.get("actor") or {})
    if actor.get("kind") == "agent":
        actor["id"] = None  # staff ids are internal
    out["actor"] = actor
    message = out.get("message")
    if message:
        message = dict(message)
        if message.get("sender_kind") == "agent":
            message["sender_id"] = None
        out["message"] = message
    data = dict(out.get("data") or {})
    data.pop("assignee_id", None)
    out["data"] = data
    return out


async def publish_typing(event: TypingEvent, store_id: int, *, to_customer: bool = True) -> None:
    """Typing is not worth a database write; it goes straight to the bus. An agent writing
    an internal note is shown to colleagues only (`to_customer=False`)."""
    payload = event.model_dump(mode="json")
    bus = get_bus()
    if to_customer:
        await bus.publish(conversation_channel(event.conversation_id), payload)
    await bus.publish(store_channel(store_id), payload)


async def publish_viewing(event: ViewingEvent, store_id: int) -> None:
    """Collision notices go to agents only (the store channel), never to the customer."""
    await get_bus().publish(store_channel(store_id), event.model_dump(mode="json"))
