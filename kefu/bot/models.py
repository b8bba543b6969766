"""The live bot's tables: per-conversation state and the log of its turns.

`BotSession` is the bot's memory of one conversation: who the customer is (a signed widget
identity, or an order number plus phone tail checked in chat), the order being talked about,
an action waiting for the customer's "确认", how many turns in a row it did not understand,
and whether the conversation was handed to a human (after which the bot stays silent).

`BotTurn` records every customer message the bot handled, with what it understood and what
it did. The learning loop and the bot reports read it; one row per message (unique), which
also makes a retried `bot.reply` job a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin, utcnow


class BotSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "bot_sessions"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    # Identified through the signed widget identity or by order number + phone tail.
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    # Orders the customer proved they own in this chat (order number + phone tail).
    verified_order_ids: Mapped[list[int]] = mapped_column(JsonType, default=list)
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="SET NULL")
    )
    # What the bot waits for: {"step": "confirm"|"order"|"identify"|"address"|"leave_message",
    # "intent": …, …}. Empty when nothing is pending.
    pending: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    low_confidence_streak: Mapped[int] = mapped_column(default=0)
    last_intent: Mapped[str] = mapped_column(String(40), default="")
    turns: Mapped[int] = mapped_column(default=0)
    handed_off_at: Mapped[datetime | None]
    handoff_reason: Mapped[str] = mapped_column(String(40), default="")


class BotTurn(IdMixin, Base):
    __tablename__ = "bot_turns"
    __table_args__ = (
        Index("ix_bot_turns_store_created", "store_id", "created_at"),
        Index("ix_bot_turns_conversation", "conversation_id", "id"),
    )

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    # The customer's message this turn answers; unique so a retried job answers once.
    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversation_messages.id", ondelete="CASCADE"), unique=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    normalized: Mapped[str] = mapped_column(Text, default="")
    # What the pipeline understood: faq:<key> | intent:<name> | none.
    label: Mapped[str] = mapped_column(String(80), default="none")
    confidence: Mapped[float] = mapped_column(default=0.0)
    # What the bot did: answered | suggested | none | action | asked | handoff | skipped.
    outcome: Mapped[str] = mapped_column(String(16), default="none")
    intent: Mapped[str] = mapped_column(String(40), default="")
    faq_key: Mapped[str | None] = mapped_column(String(64))  # the FAQ answered (faq:<key>)
    faq_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("knowledge_faqs.id", ondelete="SET NULL")
    )
    suggested_keys: Mapped[list[str]] = mapped_column(JsonType, default=list)
    slots: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="SET NULL")
    )
    # The order action performed or refused (change_address:done, cancel_order:refused …).
    action_result: Mapped[str] = mapped_column(String(60), default="")
    negative_prob: Mapped[float | None]
    handoff_reason: Mapped[str] = mapped_column(String(40), default="")
    reply_message_id: Mapped[int | None] = mapped_column(BigId)
    # The customer's rating of the answer (1 helpful, -1 not helpful); changeable, so
    # `rated_at` is the latest verdict (kefu/bot/rating.py).
    rating: Mapped[int | None]
    rated_at: Mapped[datetime | None]
    # The learning queue's verdict on this message (kefu/bot/learning.py): "similar" (added to
    # an entry as a similar question), "new_faq" (a new entry was written from it) or
    # "ignored". Reviewed messages leave the queue; who did it is in the audit log.
    reviewed_at: Mapped[datetime | None]
    review: Mapped[str] = mapped_column(String(16), default="")
    review_faq_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("knowledge_faqs.id", ondelete="SET NULL")
    )
    latency_ms: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
