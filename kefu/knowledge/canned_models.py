"""Canned replies (快捷回复): short texts agents insert into a chat with `/shortcut`.

A reply is shared (owner_id NULL, managed by whoever holds knowledge.write) or personal to one
agent. store_id NULL means every store. The body is plain text with `{{customer.name}}`-style
variables filled in when inserted (see canned_service.render_canned).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, IdMixin, TimestampMixin


class CannedReply(IdMixin, TimestampMixin, Base):
    __tablename__ = "canned_replies"
    __table_args__ = (Index("ix_canned_replies_owner_category", "owner_id", "category"),)

    store_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="CASCADE"), index=True
    )
    # NULL = shared with every agent; otherwise the one agent who sees and edits it.
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(60), default="")
    shortcut: Mapped[str] = mapped_column(String(30), default="")
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Lower-cased shortcut + title + body: LIKE behaves the same on SQLite and PostgreSQL.
    search_text: Mapped[str] = mapped_column(Text, default="")
