"""Product and order cards in a chat (kinds `product` and `order`).

A product card comes from the shop's page (the widget's `product` option): the customer sends
"the product I am looking at". Its fields are checked here (lengths, a price, http(s) URLs
only); when the shop's catalogue has the product, the catalogue's title, price and picture win
and the card is marked `verified`, so an agent can tell a shop-confirmed card from text a
page made up.

An order card is never built from what a client sends: the client names an order number,
and the card's content (status, items, amount) is read from the database, for an order of
the identified customer only. Another customer's order is "not found", like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations import service
from kefu.conversations.service import Contact, Posted
from kefu.core.audit import Actor
from kefu.core.errors import Invalid, NotFound
from kefu.store.enums import ORDER_STATUS_LABELS, OrderStatus
from kefu.store.models import Order, OrderItem, Product

RECENT_ORDERS = 10


class OrderNotFound(NotFound):
    code = "order_not_found"
    zh, en = "找不到该订单", "Order not found"


class OrdersNeedIdentity(Invalid):
    code = "identity_required"
    zh = "请先登录店铺账号，再选择订单"
    en = "Sign in to the shop first to pick one of your orders"


def _http_url(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("http://", "https://")):
        raise ValueError("只允许 http(s) 链接 / only http(s) URLs are allowed")
    if any(c in value for c in "\"'<> \n\r\t"):
        raise ValueError("链接含有非法字符 / the URL contains invalid characters")
    return value


class ProductCard(BaseModel):
    """What the shop's page says about the product the customer is looking at."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    product_id: str = Field(
        min_length=1, max_length=64, validation_alias=AliasChoices("product_id", "id", "sku")
    )
    title: str = Field(min_length=1, max_length=200)
    price: str = Field(default="", max_length=16, pattern=r"^(\d{1,9}(\.\d{1,2})?)?$")
    image: str = Field(default="", max_length=1000)
    url: str = Field(default="", max_length=1000)

    @field_validator("price", mode="before")
    @classmethod
    def _price_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float | Decimal) else value

    @field_validator("image", "url")
    @classmethod
    def _only_http(cls, value: str) -> str:
        return _http_url(value)


async def product_payload(
    session: AsyncSession, store_id: int, card: ProductCard
) -> dict[str, Any]:
    payload: dict[str, Any] = {**card.model_dump(), "verified": False}
    product = await session.scalar(
        select(Product).where(Product.store_id == store_id, Product.external_id == card.product_id)
    )
    if product is not None:
        payload.update(title=product.title[:200], price=f"{product.price:.2f}", verified=True)
        if product.image_url.lower().startswith(("http://", "https://")):
            payload["image"] = product.image_url
    return payload


async def post_product_card(
    session: AsyncSession,
    contact: Contact,
    card: ProductCard,
    *,
    client_msg_id: str,
    conversation_id: int | None = None,
    channel: str = "web",
    context: dict[str, Any] | None = None,
) -> Posted:
    payload = await product_payload(session, contact.store_id, card)
    return await service.post_customer_message(
        session,
        contact,
        client_msg_id=client_msg_id,
        body=f"[商品] {payload['title']}"[: service.PREVIEW_LENGTH],
        kind="product",
        payload=payload,
        conversation_id=conversation_id,
        channel=channel,
        context=context,
    )


# --- orders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSummary:
    order_no: str
    status: str
    status_label: str
    first_item: str
    item_count: int
    amount: str
    currency: str
    placed_at: str

    def payload(self) -> dict[str, Any]:
        items = self.first_item + (f" 等{self.item_count}件" if self.item_count > 1 else "")
        return {
            "order_no": self.order_no,
            "status": self.status,
            "status_label": self.status_label,
            "items": items,
            "first_item": self.first_item,
            "item_count": self.item_count,
            "amount": self.amount,
            "currency": self.currency,
            "placed_at": self.placed_at,
        }


def _status_label(status: str) -> str:
    try:
        return ORDER_STATUS_LABELS[OrderStatus(status)][0]
    except ValueError:
        return status


async def _summaries(session: AsyncSession, orders: list[Order]) -> list[OrderSummary]:
    if not orders:
        return []
    items = await session.scalars(
        select(OrderItem)
        .where(OrderItem.order_id.in_([o.id for o in orders]))
        .order_by(OrderItem.id)
    )
    by_order: dict[int, list[OrderItem]] = {}
    for item in items:
        by_order.setdefault(item.order_id, []).append(item)
    out = []
    for order in orders:
        lines = by_order.get(order.id, [])
        first = lines[0] if lines else None
        title = (first.title + (f"（{first.sku_desc}）" if first.sku_desc else "")) if first else ""
        out.append(
            OrderSummary(
                order_no=order.order_no,
                status=order.status,
                status_label=_status_label(order.status),
                first_item=title[:120],
                item_count=sum(line.quantity for line in lines),
                amount=f"{order.total_amount:.2f}",
                currency=order.currency,
                placed_at=order.placed_at.isoformat(),
            )
        )
    return out


async def recent_orders(
    session: AsyncSession, store_id: int, customer_id: int, limit: int = RECENT_ORDERS
) -> list[OrderSummary]:
    orders = list(
        await session.scalars(
            select(Order)
            .where(Order.store_id == store_id, Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
        )
    )
    return await _summaries(session, orders)


async def customer_orders(session: AsyncSession, contact: Contact) -> list[OrderSummary]:
    """The orders an identified customer may pick from; anonymous visitors have none."""
    if contact.customer_id is None:
        raise OrdersNeedIdentity()
    return await recent_orders(session, contact.store_id, contact.customer_id)


async def order_card(
    session: AsyncSession, store_id: int, customer_id: int | None, order_no: str
) -> dict[str, Any]:
    """The card of one of `customer_id`'s orders, read from the database."""
    order_no = order_no.strip()
    if customer_id is None or not order_no:
        raise OrderNotFound()
    order = await session.scalar(
        select(Order)
        .where(
            Order.store_id == store_id,
            Order.customer_id == customer_id,
            Order.order_no == order_no,
        )
        .limit(1)
    )
    if order is None:
        raise OrderNotFound()
    return (await _summaries(session, [order]))[0].payload()


async def post_customer_order_card(
    session: AsyncSession,
    contact: Contact,
    order_no: str,
    *,
    client_msg_id: str,
    conversation_id: int | None = None,
    channel: str = "web",
    context: dict[str, Any] | None = None,
) -> Posted:
    if contact.customer_id is None:
        raise OrdersNeedIdentity()
    payload = await order_card(session, contact.store_id, contact.customer_id, order_no)
    return await service.post_customer_message(
        session,
        contact,
        client_msg_id=client_msg_id,
        body=f"[订单] {payload['order_no']}",
        kind="order",
        payload=payload,
        conversation_id=conversation_id,
        channel=channel,
        context=context,
    )


async def post_agent_order_card(
    session: AsyncSession, actor: Actor, conversation_id: int, order_no: str, *, client_msg_id: str
) -> Posted:
    """An agent shows the customer one of the customer's own orders (from the sidebar)."""
    conversation = await service.get_conversation(session, conversation_id)
    payload = await order_card(session, conversation.store_id, conversation.customer_id, order_no)
    return await service.post_agent_message(
        session,
        actor,
        conversation_id,
        client_msg_id=client_msg_id,
        body=f"[订单] {payload['order_no']}",
        kind="order",
        payload=payload,
    )
