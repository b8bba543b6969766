"""Conversation tables: the conversation, its messages, and its append-only event log.

A conversation is a log (`ConversationEvent`): every message and every activity (opened,
assigned, resolved, reopened, read) is one row whose id only ever grows. Clients keep the id
of the last event they saw and resume from it after a reconnect, so the log is also the
delivery cursor. The columns on `Conversation` (status, assignee, unread counts, waiting
time) are caches of what the log says, kept so inbox lists are one indexed query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin, utcnow


class Conversation(IdMixin, TimestampMixin, Base):
    """One chat between a shop and a customer (identified) or a visitor (anonymous)."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_store_status_waiting", "store_id", "status", "waiting_since"),
        Index("ix_conversations_store_visitor", "store_id", "visitor_hash"),
        Index("ix_conversations_assignee_status", "assignee_id", "status"),
    )

    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    # SHA-256 of the visitor id the browser holds; the id itself is never stored.
    visitor_hash: Mapped[str] = mapped_column(String(64))
    visitor_name: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(10), default="web")  # web | h5
    status: Mapped[str] = mapped_column(String(12), default="open")
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    group_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("groups.id", ondelete="SET NULL")
    )
    last_message_at: Mapped[datetime | None]
    last_message_preview: Mapped[str] = mapped_column(String(120), default="")
    # Set when the customer writes and nobody has answered yet; cleared by a public reply.
    waiting_since: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # While status is `snoozed`: when the wake-up sweep puts it back in the open list.
    snoozed_until: Mapped[datetime | None]
    unread_by_agent: Mapped[int] = mapped_column(default=0)
    unread_by_customer: Mapped[int] = mapped_column(default=0)
    agent_read_up_to: Mapped[int] = mapped_column(BigId, default=0)  # message id
    customer_read_up_to: Mapped[int] = mapped_column(BigId, default=0)  # message id
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    # Where the customer was when they opened the chat (page URL, referrer, user agent).
    context: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class Message(IdMixin, Base):
    """What someone said. Internal notes are messages with audience `internal`."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        # A client resending after a lost acknowledgement gets the same message back.
        UniqueConstraint("conversation_id", "client_msg_id"),
        Index("ix_conversation_messages_conv_id", "conversation_id", "id"),
    )

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    sender_kind: Mapped[str] = mapped_column(String(10))  # customer | agent | bot | system
    sender_id: Mapped[int | None] = mapped_column(BigId)
    sender_name: Mapped[str] = mapped_column(String(64), default="")
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    body: Mapped[str] = mapped_column(Text, default="")
    # Structured content of non-text kinds (image url, product id, order no).
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    audience: Mapped[str] = mapped_column(String(10), default="public")  # public | internal
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationEvent(Base):
    """One entry of a conversation's log; `id` is the resume cursor of every client."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        Index("ix_conversation_events_conv_id", "conversation_id", "id"),
        Index("ix_conversation_events_store_id", "store_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    store_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(10), default="public")
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversation_messages.id", ondelete="CASCADE")
    )
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentPresence(Base):
    """Whether an agent can take chats now: the status they chose, and when a socket of theirs
    was last heard from. An agent is available only if both say so, so a crashed browser or
    process stops receiving chats within a minute without anyone cleaning up."""

    __tablename__ = "agent_presence"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # online | busy (keeps working, takes no new chats) | away; "offline" is derived from
    # last_seen_at, never stored, so a dead browser needs no clean-up.
    status: Mapped[str] = mapped_column(String(10), default="online")
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the router last handed this agent a chat: the round-robin pointer.
    last_routed_at: Mapped[datetime | None]


class ConversationMention(IdMixin, Base):
    """An agent named with @ in an internal note; unread until they open the conversation.
    Feeds the *Mentions* view and its badge; the live notification rides on the log's
    `mentioned` event."""

    __tablename__ = "conversation_mentions"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        Index("ix_conversation_mentions_user_read", "user_id", "read_at"),
    )

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversation_messages.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    mentioned_by_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class ConversationRating(IdMixin, Base):
    """The customer's 1–5 star rating of a finished conversation, credited to its agent."""

    __tablename__ = "conversation_ratings"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    store_id: Mapped[int] = mapped_column(BigId, index=True)
    agent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatImage(IdMixin, Base):
    """A picture sent in a chat: the cleaned file and its thumbnail under `media_dir/chat/`.

    Created just before its message (the message's payload names this row), so a row whose
    `message_id` stays empty belongs to an upload whose transaction failed."""

    __tablename__ = "chat_images"

    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(BigId)
    name: Mapped[str] = mapped_column(String(120), default="")
    content_type: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(200))
    thumb_type: Mapped[str] = mapped_column(String(32))
    thumb_path: Mapped[str] = mapped_column(String(200))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # customer (visitor hash) or agent (user id): who may be rate-limited for uploading.
    uploaded_by: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
