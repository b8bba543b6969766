"""Order-service work items. Each row is something an agent must settle with a customer.

Detection writes them idempotently: every row has a natural unique key (a flag's
`dedupe_key`, a stock-out's (order, SKU), an address task's order), so re-importing the same
orders or products never creates a second row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, IdMixin, TimestampMixin


class WorkMixin:
    """Who last recorded the customer's answer, and when the customer was last asked."""

    recorded_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_by_name: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime | None]
    asked_at: Mapped[datetime | None]
    asked_by_name: Mapped[str] = mapped_column(String(64), default="")
    # How often the customer was asked; the ask form sends it back so a double submit
    # posts one message, not two.
    ask_count: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")


class OrderFlag(IdMixin, TimestampMixin, WorkMixin, Base):
    """A duplicate purchase (detected) or a merge-shipment request (recorded by an agent)."""

    __tablename__ = "order_flags"
    __table_args__ = (
        UniqueConstraint("store_id", "dedupe_key"),
        Index("ix_order_flags_store_status", "store_id", "status"),
    )

    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # FlagKind
    status: Mapped[str] = mapped_column(String(24), default="open")  # FlagStatus
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    sku_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("skus.id", ondelete="SET NULL"))
    # duplicate_purchase: "dup:{sku}:{lower order id}:{higher order id}";
    # merge_shipments: "merge:{sorted order ids}".
    dedupe_key: Mapped[str] = mapped_column(String(200))


class OrderFlagOrder(Base):
    """The orders a flag concerns: both orders of a duplicate, every order of a merge."""

    __tablename__ = "order_flag_orders"

    flag_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("order_flags.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class StockoutCase(IdMixin, TimestampMixin, WorkMixin, Base):
    """A paid, unshipped order holding a SKU that ran out; tracks the customer's choice."""

    __tablename__ = "stockout_cases"
    __table_args__ = (
        UniqueConstraint("order_id", "sku_id"),
        Index("ix_stockout_cases_store_choice", "store_id", "choice"),
    )

    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    order_item_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("order_items.id", ondelete="SET NULL")
    )
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    # None until the customer answered: wait | replace | refund (StockoutChoice).
    choice: Mapped[str | None] = mapped_column(String(12))


class AddressConfirmation(IdMixin, TimestampMixin, WorkMixin, Base):
    """After payment, confirm the receiving address and contact with the buyer (seed 002)."""

    __tablename__ = "address_confirmations"
    __table_args__ = (Index("ix_address_confirmations_store_status", "store_id", "status"),)

    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(12), default="pending")  # AddressStatus


class SweepMark(Base):
    """How far the detection sweep has read a table (by `updated_at`)."""

    __tablename__ = "orderservice_sweep_marks"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # "orders" | "skus"
    scanned_until: Mapped[datetime]
