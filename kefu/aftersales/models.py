"""After-sales case tables (售后单): cases, their lines, their event log and photos.

A case is one request on one order (several lines of it). Money is kept in integer cents
(`*_cents`), so nothing rounds twice. The policy engine's decision is kept as it was when the
case was created (`decision`, a `PolicyDecision.to_dict()`), with the explanation in both
languages; an override keeps the engine's decision inside it (`decision["original"]`).

Due timestamps drive the sweep: `answer_due_at` (the shop must answer a request) and
`return_due_at` (the buyer must ship the goods back). The sweep claims a row by setting
`escalated_at` / `closed_at` in a conditional UPDATE, so two workers never act twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin, utcnow


def money_of(cents: int) -> Decimal:
    """Cents as a Decimal with two places ("0.00", never "0E-2")."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


class AftersalesCase(IdMixin, TimestampMixin, Base):
    __tablename__ = "aftersales_cases"
    __table_args__ = (
        UniqueConstraint("store_id", "idempotency_key"),
        Index("ix_aftersales_cases_store_status", "store_id", "status"),
        Index("ix_aftersales_cases_answer_due", "answer_due_at"),
        Index("ix_aftersales_cases_return_due", "return_due_at"),
    )

    number: Mapped[str] = mapped_column(String(24), unique=True)
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10))
    # API creation: the Idempotency-Key header, or "ext:" + the caller's external id.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(64))

    # The policy decision as of creation (or of the override), explained.
    decision: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    decision_allowed: Mapped[bool] = mapped_column(default=False)
    explanation_zh: Mapped[str] = mapped_column(Text, default="")
    explanation_en: Mapped[str] = mapped_column(Text, default="")
    override_reason: Mapped[str | None] = mapped_column(String(500))
    override_by: Mapped[str | None] = mapped_column(String(120))
    override_at: Mapped[datetime | None]

    # Money, in cents: what this case will refund, and what it has refunded.
    refund_cents: Mapped[int] = mapped_column(default=0)
    shipping_refund_cents: Mapped[int] = mapped_column(default=0)
    refunded_cents: Mapped[int] = mapped_column(default=0)

    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    return_address: Mapped[str] = mapped_column(Text, default="")
    return_carrier: Mapped[str] = mapped_column(String(40), default="")
    return_tracking_no: Mapped[str] = mapped_column(String(64), default="", index=True)
    return_shipped_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    inspected_at: Mapped[datetime | None]
    inspection_passed: Mapped[bool | None]
    inspection_note: Mapped[str] = mapped_column(Text, default="")
    reship_shipment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shipments.id", ondelete="SET NULL")
    )

    answer_due_at: Mapped[datetime | None]
    return_due_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str] = mapped_column(String(500), default="")

    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="SET NULL")
    )
    ticket_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    condition: Mapped[list[str]] = mapped_column(JsonType, default=list)

    @property
    def refund_amount(self) -> Decimal:
        return money_of(self.refund_cents)

    @property
    def refunded_amount(self) -> Decimal:
        return money_of(self.refunded_cents)


class AftersalesCaseLine(IdMixin, Base):
    """One order line in a case: units asked for and the goods money the policy gives back."""

    __tablename__ = "aftersales_case_lines"
    __table_args__ = (UniqueConstraint("case_id", "order_item_id"),)

    case_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("aftersales_cases.id", ondelete="CASCADE"), index=True
    )
    order_item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("order_items.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200))
    sku_desc: Mapped[str] = mapped_column(String(120), default="")
    quantity: Mapped[int]
    amount_cents: Mapped[int] = mapped_column(default=0)

    @property
    def amount(self) -> Decimal:
        return money_of(self.amount_cents)


class AftersalesEvent(IdMixin, Base):
    """The case's log: every transition and note, with who did it. Customer-visible rows are
    what the self-service page shows as the timeline."""

    __tablename__ = "aftersales_events"

    case_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("aftersales_cases.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    customer_visible: Mapped[bool] = mapped_column(default=True)


class AftersalesPhoto(IdMixin, Base):
    """A photo stored under `settings.media_dir`; `path` is relative to it and never shown."""

    __tablename__ = "aftersales_photos"

    case_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("aftersales_cases.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(12))
    content_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200))
    uploaded_by_kind: Mapped[str] = mapped_column(String(20))
    uploaded_by_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
