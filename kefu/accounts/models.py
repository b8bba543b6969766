"""Accounts tables: users, skill groups, login sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin, utcnow

user_groups = Table(
    "user_groups",
    Base.metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", BigId, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class User(IdMixin, TimestampMixin, Base):
    """An agent, supervisor, QA trainer or admin who signs in to Kefu."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="agent")
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    max_concurrent_chats: Mapped[int] = mapped_column(default=5)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Bumped on password change or forced sign-out: old session cookies stop working.
    session_version: Mapped[int] = mapped_column(default=1)

    groups: Mapped[list[Group]] = relationship(
        secondary=user_groups, back_populates="members", lazy="raise"
    )


class Group(IdMixin, TimestampMixin, Base):
    """A skill group such as 售前, 售后, VIP or 投诉专家组; routing targets groups."""

    __tablename__ = "groups"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")

    members: Mapped[list[User]] = relationship(
        secondary=user_groups, back_populates="groups", lazy="raise"
    )


class ApiToken(IdMixin, Base):
    """A bearer token for the REST API. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginSession(IdMixin, Base):
    """One signed-in browser. The signed cookie names this row; signing out revokes it.

    A signed cookie alone cannot be taken back: a copy keeps working until it expires. With
    this row, sign-out, password changes and disabling a user end the session on the server,
    and a replayed cookie is refused. Only the SHA-256 of the cookie's session key is stored.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_revoked", "user_id", "revoked_at"),)

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    revoked_at: Mapped[datetime | None]
