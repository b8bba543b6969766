"""Knowledge tables: FAQ entries (answered by the bot, shown in the help center), internal
articles for agents, and one version table that keeps every saved state of either.

Answers and article bodies are kept twice: the Markdown the editor typed (`answer`, `body`)
and the sanitised HTML rendered from it (`answer_html`, `body_html`), so a page never has to
trust what was typed. `answer_text` is the plain text the bot sends in chat channels.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin


class Faq(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_faqs"
    __table_args__ = (
        Index("ix_knowledge_faqs_category", "category"),
        Index("ix_knowledge_faqs_live", "deleted_at", "enabled"),
    )

    # The id in the shop's own FAQ file (kb.json "id"); imports match on it, so importing the
    # same file twice changes nothing. Unique across deleted entries too: re-importing a
    # deleted entry brings it back instead of creating a twin.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    question: Mapped[str] = mapped_column(String(300))
    similar: Mapped[list[str]] = mapped_column(JsonType, default=list)
    answer: Mapped[str] = mapped_column(Text, default="")
    answer_html: Mapped[str] = mapped_column(Text, default="")
    answer_text: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    # Scope: every store, or only the stores in `stores`; channels empty = every channel.
    all_stores: Mapped[bool] = mapped_column(default=True)
    channels: Mapped[list[str]] = mapped_column(JsonType, default=list)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    deleted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    # Lower-cased question + similar questions + answer text, for the agents' list search
    # (LIKE works the same on SQLite and PostgreSQL; JSON columns would not).
    search_text: Mapped[str] = mapped_column(Text, default="")

    stores: Mapped[list[FaqStore]] = relationship(
        back_populates="faq", lazy="raise", cascade="all, delete-orphan"
    )


class FaqStore(Base):
    """The stores an entry is limited to (rows exist only when `all_stores` is false)."""

    __tablename__ = "knowledge_faq_stores"

    faq_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("knowledge_faqs.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    faq: Mapped[Faq] = relationship(back_populates="stores", lazy="raise")


class Article(IdMixin, TimestampMixin, Base):
    """Internal knowledge for agents: product facts, policies, how-tos. Never shown to
    customers."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (Index("ix_knowledge_articles_category", "category"),)

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    search_text: Mapped[str] = mapped_column(Text, default="")
    deleted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(120), default="")


class KnowledgeVersion(IdMixin, Base):
    """One saved state of a FAQ entry or an article, written on every change, so the history
    page can show who changed what and what it said before."""

    __tablename__ = "knowledge_versions"
    __table_args__ = (UniqueConstraint("entity_type", "entity_id", "version"),)

    entity_type: Mapped[str] = mapped_column(String(20))  # "faq" | "article"
    entity_id: Mapped[int] = mapped_column(BigId)
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))  # create, update, enable, disable, ...
    snapshot: Mapped[dict[str, Any]] = mapped_column(JsonType)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime]


# Canned replies are defined in their own module; importing it registers the table.
from kefu.knowledge.canned_models import CannedReply  # noqa: E402, F401  (registers the table)
