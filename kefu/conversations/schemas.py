"""Pydantic shapes of conversations: what clients send (frames, REST bodies) and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.events import DomainEvent

MAX_BODY = 5000

Audience = Literal["public", "internal"]
SenderKind = Literal["customer", "agent", "bot", "system"]
MessageKind = Literal["text", "image", "product", "order", "note"]
Status = Literal["open", "pending", "snoozed", "resolved"]
View = Literal["mine", "unassigned", "all", "group", "mentions"]


class MessageOut(BaseModel):
    id: int
    client_id: str | None
    sender_kind: str
    sender_id: int | None
    sender_name: str
    kind: str
    body: str
    payload: dict[str, Any] = Field(default_factory=dict)
    audience: str
    created_at: datetime


class ActorOut(BaseModel):
    kind: str
    id: int | None
    name: str


class ConversationSummary(BaseModel):
    """A row of the inbox list; sent with every event on `store:{id}` channels."""

    id: int
    store_id: int
    status: str
    channel: str
    contact_name: str
    customer_id: int | None
    assignee_id: int | None
    assignee_name: str = ""
    last_message_at: datetime | None
    last_message_preview: str
    waiting_since: datetime | None
    unread_by_agent: int
    last_event_id: int
    # Workspace timers and views (defaults keep older producers of this shape valid).
    created_at: datetime | None = None
    first_response_at: datetime | None = None
    snoozed_until: datetime | None = None
    group_id: int | None = None


class EventOut(DomainEvent):
    """`{"type": "event", "id": …}` — one row of the log as every client sees it."""

    type: Literal["event"] = "event"
    id: int
    conversation_id: int
    store_id: int
    kind: str
    audience: str
    actor: ActorOut
    created_at: datetime
    message: MessageOut | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    conversation: ConversationSummary | None = None


# Frames a client sends over a socket. Unknown fields are ignored so newer clients can talk
# to an older server during a rolling deploy.


class SendFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["send"]
    client_id: str = Field(min_length=1, max_length=64)
    body: str = Field(default="", max_length=MAX_BODY)
    kind: MessageKind = "text"
    conversation_id: int | None = None
    audience: Audience = "public"
    # kind "product": the card the shop's page offered (checked by cards.ProductCard);
    # kind "order": only the number, the card itself is read from the database.
    product: dict[str, Any] | None = None
    order_no: str | None = Field(default=None, max_length=64)


class ResumeFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["resume"]
    after: int = Field(default=0, ge=0)


class TypingFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["typing"]
    on: bool = True
    conversation_id: int | None = None
    # An agent writing an internal note: colleagues see it, the customer must not.
    audience: Audience = "public"


class ReadFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["read"]
    conversation_id: int | None = None


# REST bodies (agent side).


class PostMessageIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    audience: Audience = "public"


class PresenceIn(BaseModel):
    status: Literal["online", "busy", "away"]


class AssignIn(BaseModel):
    assignee_id: int | None = None


class TransferIn(BaseModel):
    """Hand a chat to a colleague or to a group's queue; the note is for colleagues only."""

    assignee_id: int | None = None
    group_id: int | None = None
    note: str = Field(default="", max_length=MAX_BODY)


class SnoozeIn(BaseModel):
    until: datetime | None = None
    preset: Literal["1h", "tomorrow"] | None = None


class ViewingFrame(BaseModel):
    """An agent has a conversation open (or closed it): ephemeral, for collision notices."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["viewing"]
    conversation_id: int
    on: bool = True
    reply: bool = False


class PostResultOut(BaseModel):
    message_id: int
    event_id: int
    conversation_id: int
    duplicate: bool


class ConversationDetail(BaseModel):
    conversation: ConversationSummary
    events: list[EventOut]
