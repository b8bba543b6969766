"""The audit log: who changed what, when, with the values before and after.

Every write in every feature calls `record_audit` in the same transaction as the change, so
the trail and the data can never disagree. Personal data is masked before it is stored
(`kefu.core.masking`), so the audit log itself does not leak phone numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, utcnow

ActorKind = Literal["user", "api_token", "system", "customer", "webhook", "bot"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None
    name: str = ""
    ip: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls("system", None, name)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    store_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(String(500))


def diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Keep only the fields that changed, so entries stay small and readable."""
    if before is None or after is None:
        return before, after
    keys = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def record_audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    store_id: int | None = None,
    reason: str | None = None,
    only_changes: bool = True,
) -> AuditEntry:
    if only_changes:
        before, after = diff(before, after)
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name,
        ip=actor.ip,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        store_id=store_id,
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
    )
    session.add(entry)
    return entry


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, datetime):
            out[key] = item.isoformat()
        elif isinstance(item, (str, int, float, bool, type(None), list, dict)):
            out[key] = item
        else:
            out[key] = str(item)
    return out
