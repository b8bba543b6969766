"""Pydantic shapes of the shop's data as it arrives (REST import, webhooks, files) and of the
import outcomes we report back.

Every imported entity carries the shop's own `external_id` and the source's `updated_at`
(timezone-aware); money is `Decimal` ≥ 0 with at most two decimals; quantities are > 0.
Unknown fields are refused so that a typo in a field name is an error, not silent data loss.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from kefu.core.events import DomainEvent
from kefu.store.enums import (
    CustomerTier,
    OrderStatus,
    Platform,
    ReturnExclusion,
    ShipmentStatus,
)

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
ExternalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
Text40 = Annotated[str, Field(max_length=40)]
Text64 = Annotated[str, Field(max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --------------------------------------------------------------------------- products


class SkuIn(_In):
    external_id: ExternalId
    sku_code: Text64 = ""
    color: Text40 = ""
    size: Text40 = ""
    material: Annotated[str, Field(max_length=120)] = ""
    price: Money
    stock: Annotated[int, Field(ge=0)] = 0


class ProductIn(_In):
    external_id: ExternalId
    title: Annotated[str, Field(min_length=1, max_length=200)]
    category: Annotated[str, Field(max_length=60)] = ""
    brand: Annotated[str, Field(max_length=60)] = ""
    material: Annotated[str, Field(max_length=120)] = ""
    description: str = ""
    price: Money
    image_url: Annotated[str, Field(max_length=500)] = ""
    is_on_sale: bool = True
    return_exclusion: ReturnExclusion | None = None
    skus: Annotated[list[SkuIn], Field(max_length=500)] = []
    updated_at: AwareDatetime

    @field_validator("skus")
    @classmethod
    def _unique_skus(cls, skus: list[SkuIn]) -> list[SkuIn]:
        seen = [s.external_id for s in skus]
        if len(seen) != len(set(seen)):
            raise ValueError("SKU 编号重复")
        return skus


# --------------------------------------------------------------------------- customers


class IdentityIn(_In):
    channel: Annotated[str, Field(min_length=1, max_length=20)]
    external_user_id: Annotated[str, Field(min_length=1, max_length=128)]
    display: Annotated[str, Field(max_length=128)] = ""


class AddressIn(_In):
    receiver_name: Annotated[str, Field(min_length=1, max_length=64)]
    phone: Annotated[str, Field(min_length=3, max_length=32)]
    province: Annotated[str, Field(min_length=1, max_length=20)]
    city: Annotated[str, Field(min_length=1, max_length=30)]
    district: Annotated[str, Field(max_length=30)] = ""
    detail: Annotated[str, Field(min_length=1, max_length=200)]
    postal_code: Annotated[str, Field(max_length=10)] = ""
    is_default: bool = False


Phone = Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9][0-9 \-]{2,30}$")]


class CustomerIn(_In):
    external_id: ExternalId
    name: Text64 = ""
    nickname: Text64 = ""
    phone: Phone | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    gender: Literal["male", "female", "unknown"] | None = None
    city: Text40 = ""
    tier: CustomerTier = CustomerTier.normal
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=50)
    ] = []
    marketing_opt_in: bool = False
    first_seen_at: AwareDatetime | None = None
    identities: Annotated[list[IdentityIn], Field(max_length=50)] = []
    addresses: Annotated[list[AddressIn], Field(max_length=50)] = []
    updated_at: AwareDatetime


# --------------------------------------------------------------------------- orders


class ReceiverIn(_In):
    name: Text64 = ""
    phone: Annotated[str, Field(max_length=32)] = ""
    province: Annotated[str, Field(max_length=20)] = ""
    city: Annotated[str, Field(max_length=30)] = ""
    district: Annotated[str, Field(max_length=30)] = ""
    detail: Annotated[str, Field(max_length=200)] = ""


class BuyerIn(_In):
    """Who bought, as the order knows it; used to create a stub customer we have not seen."""

    name: Text64 = ""
    nickname: Text64 = ""
    phone: Phone | None = None


class OrderItemIn(_In):
    external_id: Annotated[str, Field(max_length=64)] | None = None
    sku_external_id: Annotated[str, Field(max_length=64)] | None = None
    product_external_id: Annotated[str, Field(max_length=64)] | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)]
    sku_desc: Annotated[str, Field(max_length=120)] = ""
    quantity: Annotated[int, Field(gt=0, le=100000)]
    unit_price: Money
    paid_amount: Money
    refund_status: Annotated[str, Field(max_length=32)] | None = None
    return_exclusion_confirmed: bool = False


class OrderIn(_In):
    external_id: ExternalId
    order_no: Annotated[str, Field(max_length=64)] | None = None
    status: OrderStatus
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    customer_external_id: Annotated[str, Field(max_length=64)] | None = None
    buyer: BuyerIn | None = None
    total_amount: Money
    shipping_fee: Money = Decimal("0")
    discount_amount: Money = Decimal("0")
    paid_amount: Money = Decimal("0")
    # Omitted = keep what Kefu knows (refunds made through Kefu raise it locally).
    refunded_amount: Money | None = None
    receiver: ReceiverIn = ReceiverIn()
    buyer_message: str = ""
    seller_memo: str = ""
    placed_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    signed_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=500)]
    updated_at: AwareDatetime

    @field_validator("items")
    @classmethod
    def _unique_lines(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        keys = [line_key(item, i) for i, item in enumerate(items, 1)]
        if len(keys) != len(set(keys)):
            raise ValueError("订单行重复：同一订单中子订单号或 SKU 编码不能重复")
        return items


def line_key(item: OrderItemIn, position: int) -> str:
    """The stable id of an order line: the shop's sub-order id, else its SKU, else position."""
    return item.external_id or item.sku_external_id or f"#{position}"


# --------------------------------------------------------------------------- shipments


class LogisticsEventIn(_In):
    occurred_at: AwareDatetime
    location: Annotated[str, Field(max_length=80)] = ""
    description: Annotated[str, Field(min_length=1, max_length=300)]
    status: ShipmentStatus = ShipmentStatus.in_transit


class ShipmentIn(_In):
    order_external_id: ExternalId
    carrier: Annotated[str, Field(min_length=1, max_length=40)]
    tracking_no: Annotated[str, Field(min_length=1, max_length=64)]
    status: ShipmentStatus = ShipmentStatus.pending
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    is_return: bool = False
    events: Annotated[list[LogisticsEventIn], Field(max_length=500)] = []
    updated_at: AwareDatetime

    @property
    def external_id(self) -> str:
        return f"{self.order_external_id}/{self.tracking_no}"


# --------------------------------------------------------------------------- reviews


class ReviewIn(_In):
    external_id: ExternalId
    order_external_id: Annotated[str, Field(max_length=64)] | None = None
    product_external_id: Annotated[str, Field(max_length=64)] | None = None
    customer_external_id: Annotated[str, Field(max_length=64)] | None = None
    rating: Annotated[int, Field(ge=1, le=5)]
    content: str = ""
    reviewed_at: AwareDatetime
    reply: str = ""
    updated_at: AwareDatetime


# --------------------------------------------------------------------------- outcomes


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    stale = "stale"
    error = "error"


class FieldError(BaseModel):
    field: str
    message_zh: str
    message_en: str = ""


class ItemResult(BaseModel):
    index: int
    external_id: str | None = None
    outcome: Outcome
    id: int | None = None
    errors: list[FieldError] = []


class BatchResult(BaseModel):
    counts: dict[Outcome, int]
    results: list[ItemResult]

    @classmethod
    def of(cls, results: list[ItemResult]) -> BatchResult:
        counts = dict.fromkeys(Outcome, 0)
        for r in results:
            counts[r.outcome] += 1
        return cls(counts=counts, results=results)


class BatchIn(BaseModel):
    """A batch body: `{"items": [...]}`; each item is validated on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]]


# --------------------------------------------------------------------------- stores


class StoreCreate(_In):
    code: Annotated[str, Field(min_length=2, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    platform: Platform = Platform.own
    timezone: Annotated[str, Field(min_length=1, max_length=40)] = "Asia/Shanghai"
    return_address: str = ""
    service_phone: Annotated[str, Field(max_length=40)] = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("未知的时区") from exc
        return value


# --------------------------------------------------------------------------- events


EntityKind = Literal["order", "product", "customer", "review", "shipment"]


class EntityUpserted(DomainEvent):
    """`order.upserted`, `product.upserted`, … on channel `store:{id}` after an import."""

    store_id: int
    id: int
    external_id: str
    outcome: Literal["created", "updated"]
