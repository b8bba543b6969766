"""Store data tables. Every imported row is keyed by (store, the shop's external id) and
remembers the source's `updated_at`, so repeated or out-of-order imports converge."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Computed, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin

Money = Numeric(12, 2)


def _fk(target: str, ondelete: str = "CASCADE") -> Any:
    return ForeignKey(target, ondelete=ondelete)


class Store(IdMixin, TimestampMixin, Base):
    __tablename__ = "stores"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(20), default="own")
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    # HMAC-SHA256 key the shop signs webhooks with; shown to admins only.
    webhook_secret: Mapped[str] = mapped_column(String(128))
    return_address: Mapped[str] = mapped_column(Text, default="")
    service_phone: Mapped[str] = mapped_column(String(40), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)


class SourceMixin:
    """Columns of an entity that is imported from the shop's own system."""

    external_id: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None]


class Product(IdMixin, SourceMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("store_id", "external_id"),)

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(60), default="")
    brand: Mapped[str] = mapped_column(String(60), default="")
    material: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Money)
    image_url: Mapped[str] = mapped_column(String(500), default="")
    is_on_sale: Mapped[bool] = mapped_column(default=True)
    # 7-day no-reason return: None = eligible; else a ReturnExclusion value.
    return_exclusion: Mapped[str | None] = mapped_column(String(40))

    skus: Mapped[list[Sku]] = relationship(back_populates="product", lazy="raise")


class Sku(IdMixin, SourceMixin, TimestampMixin, Base):
    __tablename__ = "skus"
    __table_args__ = (UniqueConstraint("store_id", "external_id"),)

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"), index=True)
    product_id: Mapped[int] = mapped_column(BigId, _fk("products.id"), index=True)
    sku_code: Mapped[str] = mapped_column(String(64), default="")
    color: Mapped[str] = mapped_column(String(40), default="")
    size: Mapped[str] = mapped_column(String(40), default="")
    material: Mapped[str] = mapped_column(String(120), default="")
    price: Mapped[Decimal] = mapped_column(Money)
    stock: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="skus", lazy="raise")


class Customer(IdMixin, SourceMixin, TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("store_id", "external_id"),
        Index("ix_customers_store_phone_tail", "store_id", "phone_tail"),
    )

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    nickname: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_tail: Mapped[str | None] = mapped_column(String(4))
    email: Mapped[str | None] = mapped_column(String(254))
    gender: Mapped[str | None] = mapped_column(String(8))
    city: Mapped[str] = mapped_column(String(40), default="")
    tier: Mapped[str] = mapped_column(String(10), default="normal")
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    marketing_opt_in: Mapped[bool] = mapped_column(default=False)
    first_seen_at: Mapped[datetime | None]

    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", lazy="raise"
    )
    addresses: Mapped[list[Address]] = relationship(back_populates="customer", lazy="raise")


class CustomerIdentity(IdMixin, TimestampMixin, Base):
    """One way we know a customer on a channel: a Taobao buyer nick, a web visitor, an email."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("store_id", "channel", "external_user_id"),)

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"))
    customer_id: Mapped[int] = mapped_column(BigId, _fk("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(128))
    display: Mapped[str] = mapped_column(String(128), default="")

    customer: Mapped[Customer] = relationship(back_populates="identities", lazy="raise")


class Address(IdMixin, TimestampMixin, Base):
    __tablename__ = "customer_addresses"

    customer_id: Mapped[int] = mapped_column(BigId, _fk("customers.id"), index=True)
    receiver_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    province: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(30))
    district: Mapped[str] = mapped_column(String(30), default="")
    detail: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    is_default: Mapped[bool] = mapped_column(default=False)

    customer: Mapped[Customer] = relationship(back_populates="addresses", lazy="raise")


class CustomerNote(IdMixin, Base):
    __tablename__ = "customer_notes"

    customer_id: Mapped[int] = mapped_column(BigId, _fk("customers.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))
    author_name: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Order(IdMixin, SourceMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "external_id"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_store_status_placed", "store_id", "status", "placed_at"),
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_receiver_phone_tail", "receiver_phone_tail"),
    )

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"))
    customer_id: Mapped[int | None] = mapped_column(BigId, _fk("customers.id", "SET NULL"))
    order_no: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total_amount: Mapped[Decimal] = mapped_column(Money)
    shipping_fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    receiver_name: Mapped[str] = mapped_column(String(64), default="")
    receiver_phone: Mapped[str] = mapped_column(String(32), default="")
    # Last four digits, so "尾号 5678" finds an order without scanning every phone number.
    # Computed by the database, so bulk imports and every other writer keep it right.
    receiver_phone_tail: Mapped[str | None] = mapped_column(
        String(4),
        Computed("substr(receiver_phone, length(receiver_phone) - 3)", persisted=True),
    )
    province: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(30), default="")
    district: Mapped[str] = mapped_column(String(30), default="")
    address_detail: Mapped[str] = mapped_column(String(200), default="")
    buyer_message: Mapped[str] = mapped_column(Text, default="")
    seller_memo: Mapped[str] = mapped_column(Text, default="")
    placed_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", lazy="raise", cascade="all, delete-orphan"
    )
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order", lazy="raise")


class OrderItem(IdMixin, Base):
    __tablename__ = "order_items"
    __table_args__ = (UniqueConstraint("order_id", "external_id"),)

    order_id: Mapped[int] = mapped_column(BigId, _fk("orders.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[int | None] = mapped_column(BigId, _fk("products.id", "SET NULL"))
    sku_id: Mapped[int | None] = mapped_column(BigId, _fk("skus.id", "SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    sku_desc: Mapped[str] = mapped_column(String(120), default="")
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    refund_status: Mapped[str | None] = mapped_column(String(32))
    # The buyer confirmed at purchase that this item is outside 7-day returns (办法 7).
    return_exclusion_confirmed: Mapped[bool] = mapped_column(default=False)

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise")


class OrderNote(IdMixin, Base):
    __tablename__ = "order_notes"

    order_id: Mapped[int] = mapped_column(BigId, _fk("orders.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Shipment(IdMixin, TimestampMixin, Base):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "tracking_no"),)

    order_id: Mapped[int] = mapped_column(BigId, _fk("orders.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    is_return: Mapped[bool] = mapped_column(default=False)

    order: Mapped[Order] = relationship(back_populates="shipments", lazy="raise")
    events: Mapped[list[LogisticsEvent]] = relationship(
        back_populates="shipment", lazy="raise", order_by="LogisticsEvent.occurred_at"
    )


class LogisticsEvent(IdMixin, Base):
    __tablename__ = "logistics_events"
    __table_args__ = (UniqueConstraint("shipment_id", "occurred_at", "description"),)

    shipment_id: Mapped[int] = mapped_column(BigId, _fk("shipments.id"), index=True)
    occurred_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(80), default="")
    description: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="in_transit")

    shipment: Mapped[Shipment] = relationship(back_populates="events", lazy="raise")


class Review(IdMixin, SourceMixin, TimestampMixin, Base):
    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("store_id", "external_id"),)

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(BigId, _fk("orders.id", "SET NULL"), index=True)
    product_id: Mapped[int | None] = mapped_column(BigId, _fk("products.id", "SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, _fk("customers.id", "SET NULL"), index=True
    )
    rating: Mapped[int]
    content: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime]
    reply: Mapped[str] = mapped_column(Text, default="")
    sentiment_negative: Mapped[float | None]


class Refund(IdMixin, Base):
    """Money paid back on an order. `idempotency_key` makes a retried refund a no-op."""

    __tablename__ = "refunds"

    order_id: Mapped[int] = mapped_column(BigId, _fk("orders.id"), index=True)
    order_item_id: Mapped[int | None] = mapped_column(BigId, _fk("order_items.id", "SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="SUCCESS")
    created_at: Mapped[datetime]


class WebhookDelivery(IdMixin, Base):
    """Deliveries already applied, so a webhook retried by the shop is applied once."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("store_id", "delivery_id"),)

    store_id: Mapped[int] = mapped_column(BigId, _fk("stores.id"))
    delivery_id: Mapped[str] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
