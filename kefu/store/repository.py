"""Read queries behind the customer and order pages.

Built for a shop with millions of orders: every query is bounded and uses an index.

- The Customer 360 never loads all of a customer's orders. One aggregate query over
  `orders(customer_id, placed_at)` gives count, lifetime value and refunds; the page shows the
  newest `ORDERS_PER_PAGE` orders and pages through the rest. Items, shipments and logistics
  events of the shown orders come in one `IN (...)` query each (relationships are
  `lazy="raise"`, so nothing loads behind our back).
- Lists fetch one row more than they show to know whether a next page exists, instead of
  counting every match.
- Search is a set of exact or indexed conditions OR-ed together: phone tail
  (`customers(store_id, phone_tail)`), order number (`orders.order_no`), full phone, plus
  substring matches on names, which only scan the customers table, never orders.

Every user with `customers.read` may read every store's customers (there is no per-store
scoping of agents yet); when there is, the scoping goes into `_customer_scope`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kefu.core.errors import NotFound
from kefu.store.models import (
    Address,
    Customer,
    CustomerIdentity,
    CustomerNote,
    Order,
    OrderNote,
    Product,
    Refund,
    Review,
    Shipment,
    Store,
)

T = TypeVar("T")

ORDERS_PER_PAGE = 20
CUSTOMERS_PER_PAGE = 25
ORDER_LIST_PER_PAGE = 30
NOTES_SHOWN = 50
REVIEWS_SHOWN = 10

_ORDER_NO = re.compile(r"[A-Za-z0-9_-]{6,64}")


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _window(page: int, per_page: int) -> tuple[int, int]:
    page = max(page, 1)
    return (page - 1) * per_page, per_page + 1


def _paged(rows: list[T], page: int, per_page: int) -> Page[T]:
    return Page(rows[:per_page], max(page, 1), per_page, len(rows) > per_page)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    """Exact tag match inside the JSON list, the native way on each database."""
    if _dialect(session) == "postgresql":
        return type_coerce(Customer.tags, JSONB).contains([tag])
    each = func.json_each(Customer.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def _compact_digits(q: str) -> str | None:
    """`138 1234 5678`, `+86-138...` and `5678` all count as phone input."""
    compact = re.sub(r"[\s-]", "", q).removeprefix("+")
    if not compact.isdigit():
        return None
    if len(compact) == 13 and compact.startswith("86"):
        compact = compact[2:]
    return compact


def _customer_scope() -> list[ColumnElement[bool]]:
    """Where per-store access for agents will go; today every reader sees every store."""
    return []


# --- customers list -------------------------------------------------------------------------


@dataclass
class CustomerFilter:
    q: str = ""
    store_id: int | None = None
    tier: str | None = None
    tag: str | None = None
    page: int = 1


@dataclass
class CustomerRow:
    customer: Customer
    store: Store
    last_order_at: datetime | None
    order_count: int = 0
    lifetime_value: Decimal = Decimal("0")


def customer_search_condition(session: AsyncSession, q: str) -> ColumnElement[bool]:
    """Name, nickname, e-mail, tag, phone (full or last four digits) or an order number."""
    q = q.strip()
    conditions: list[ColumnElement[bool]] = [
        Customer.name.icontains(q, autoescape=True),
        Customer.nickname.icontains(q, autoescape=True),
        _has_tag(session, q),
    ]
    if "@" in q:
        conditions.append(func.lower(Customer.email) == q.lower())
    compact = _compact_digits(q)
    if compact is not None and len(compact) == 4:
        conditions.append(Customer.phone_tail == compact)
    elif compact is not None and len(compact) >= 7:
        conditions.append(Customer.phone == compact)
    if _ORDER_NO.fullmatch(q):
        conditions.append(
            Customer.id.in_(
                select(Order.customer_id).where(Order.order_no == q, Order.customer_id.is_not(None))
            )
        )
    return or_(*conditions)


async def list_customers(session: AsyncSession, flt: CustomerFilter) -> Page[CustomerRow]:
    # Correlated MAX over orders(customer_id, placed_at): one index seek per customer row.
    last_order = (
        select(func.max(Order.placed_at))
        .where(Order.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    conditions: list[ColumnElement[bool]] = [*_customer_scope()]
    if flt.q.strip():
        conditions.append(customer_search_condition(session, flt.q))
    if flt.store_id is not None:
        conditions.append(Customer.store_id == flt.store_id)
    if flt.tier:
        conditions.append(Customer.tier == flt.tier)
    if flt.tag:
        conditions.append(_has_tag(session, flt.tag))
    stmt = select(Customer, last_order.label("last_order_at")).where(and_(true(), *conditions))
    offset, limit = _window(flt.page, CUSTOMERS_PER_PAGE)
    stmt = stmt.order_by(last_order.desc().nulls_last(), Customer.id.desc())
    rows = (await session.execute(stmt.offset(offset).limit(limit))).all()
    page = _paged(list(rows), flt.page, CUSTOMERS_PER_PAGE)

    ids = [row[0].id for row in page.items]
    stats: dict[int, tuple[int, Decimal]] = {}
    if ids:
        agg = await session.execute(
            select(Order.customer_id, func.count(), func.coalesce(func.sum(Order.paid_amount), 0))
            .where(Order.customer_id.in_(ids))
            .group_by(Order.customer_id)
        )
        stats = {cid: (int(n), Decimal(str(total))) for cid, n, total in agg.all() if cid}
    stores = await stores_by_id(session)
    items = []
    for row in page.items:
        customer: Customer = row[0]
        last_at: datetime | None = row[1]
        count, value = stats.get(customer.id, (0, Decimal("0")))
        items.append(CustomerRow(customer, stores[customer.store_id], last_at, count, value))
    return Page(items, page.page, page.per_page, page.has_next)


async def stores_by_id(session: AsyncSession) -> dict[int, Store]:
    """Shops are few (one per storefront); the pages need their names and time zones."""
    result = await session.scalars(select(Store).order_by(Store.name))
    return {store.id: store for store in result.all()}


# --- customer 360 ---------------------------------------------------------------------------


@dataclass
class CustomerStats:
    order_count: int = 0
    lifetime_value: Decimal = Decimal("0")
    refund_total: Decimal = Decimal("0")
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    paid_orders: int = 0

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.paid_orders:
            return None
        return (self.lifetime_value / self.paid_orders).quantize(Decimal("0.01"))


@dataclass
class OrderBundle:
    """An order with what the pages show of it (items and shipments are loaded on `order`)."""

    order: Order
    refunds: list[Refund] = field(default_factory=list)
    notes: list[OrderNote] = field(default_factory=list)


@dataclass
class ReviewRow:
    review: Review
    product_title: str
    order_no: str


@dataclass
class Customer360:
    customer: Customer
    store: Store
    stats: CustomerStats
    identities: list[CustomerIdentity]
    addresses: list[Address]
    notes: list[CustomerNote]
    orders: Page[OrderBundle]
    reviews: list[ReviewRow]


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("找不到该客户", "Customer not found")
    return customer


async def customer_stats(session: AsyncSession, customer_id: int) -> CustomerStats:
    """One aggregate over the customer's slice of orders(customer_id, placed_at)."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Order.paid_amount), 0),
                func.coalesce(func.sum(Order.refunded_amount), 0),
                func.min(Order.placed_at),
                func.max(Order.placed_at),
                func.coalesce(func.sum(case((Order.paid_amount > 0, 1), else_=0)), 0),
            ).where(Order.customer_id == customer_id)
        )
    ).one()
    count, paid, refunded, first_at, last_at, paid_orders = row
    return CustomerStats(
        order_count=int(count),
        lifetime_value=Decimal(str(paid)).quantize(Decimal("0.01")),
        refund_total=Decimal(str(refunded)).quantize(Decimal("0.01")),
        first_order_at=first_at,
        last_order_at=last_at,
        paid_orders=int(paid_orders),
    )


def _order_with_details() -> Any:
    return (
        selectinload(Order.items),
        selectinload(Order.shipments).selectinload(Shipment.events),
    )


async def _bundle(session: AsyncSession, orders: list[Order], *, notes: bool) -> list[OrderBundle]:
    ids = [o.id for o in orders]
    refunds: dict[int, list[Refund]] = {}
    order_notes: dict[int, list[OrderNote]] = {}
    if ids:
        for refund in await session.scalars(
            select(Refund).where(Refund.order_id.in_(ids)).order_by(Refund.created_at)
        ):
            refunds.setdefault(refund.order_id, []).append(refund)
        if notes:
            for note in await session.scalars(
                select(OrderNote).where(OrderNote.order_id.in_(ids)).order_by(OrderNote.created_at)
            ):
                order_notes.setdefault(note.order_id, []).append(note)
    return [OrderBundle(o, refunds.get(o.id, []), order_notes.get(o.id, [])) for o in orders]


async def customer_orders(
    session: AsyncSession, customer_id: int, page: int = 1, per_page: int = ORDERS_PER_PAGE
) -> Page[OrderBundle]:
    offset, limit = _window(page, per_page)
    result = await session.scalars(
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .offset(offset)
        .limit(limit)
        .options(*_order_with_details())
    )
    paged = _paged(list(result.all()), page, per_page)
    return Page(
        await _bundle(session, paged.items, notes=False), paged.page, per_page, paged.has_next
    )


async def load_customer_360(
    session: AsyncSession, customer_id: int, orders_page: int = 1
) -> Customer360:
    customer = await get_customer(session, customer_id)
    store = await session.get(Store, customer.store_id)
    if store is None:  # the FK cascades, so only a race with a store deletion gets here
        raise NotFound("找不到该客户", "Customer not found")
    stats = await customer_stats(session, customer_id)
    identities = list(
        await session.scalars(
            select(CustomerIdentity)
            .where(CustomerIdentity.customer_id == customer_id)
            .order_by(CustomerIdentity.channel, CustomerIdentity.id)
        )
    )
    addresses = list(
        await session.scalars(
            select(Address)
            .where(Address.customer_id == customer_id)
            .order_by(Address.is_default.desc(), Address.id.desc())
        )
    )
    notes = list(
        await session.scalars(
            select(CustomerNote)
            .where(CustomerNote.customer_id == customer_id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
            .limit(NOTES_SHOWN)
        )
    )
    orders = await customer_orders(session, customer_id, orders_page)
    reviews = await customer_reviews(session, customer_id)
    return Customer360(customer, store, stats, identities, addresses, notes, orders, reviews)


async def customer_reviews(
    session: AsyncSession, customer_id: int, limit: int = REVIEWS_SHOWN
) -> list[ReviewRow]:
    rows = (
        await session.execute(
            select(Review, Product.title, Order.order_no)
            .outerjoin(Product, Product.id == Review.product_id)
            .outerjoin(Order, Order.id == Review.order_id)
            .where(Review.customer_id == customer_id)
            .order_by(Review.reviewed_at.desc(), Review.id.desc())
            .limit(limit)
        )
    ).all()
    return [ReviewRow(review, title or "", order_no or "") for review, title, order_no in rows]


async def customer_notes(session: AsyncSession, customer_id: int) -> list[CustomerNote]:
    return list(
        await session.scalars(
            select(CustomerNote)
            .where(CustomerNote.customer_id == customer_id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
            .limit(NOTES_SHOWN)
        )
    )


# --- orders ---------------------------------------------------------------------------------


@dataclass
class OrderFilter:
    q: str = ""
    store_id: int | None = None
    status: str | None = None
    customer_id: int | None = None
    placed_from: datetime | None = None  # inclusive, UTC
    placed_before: datetime | None = None  # exclusive, UTC
    page: int = 1


@dataclass
class OrderRow:
    order: Order
    store: Store
    customer: Customer | None
    item_count: int = 0
    first_item: str = ""


def order_search_condition(q: str) -> ColumnElement[bool]:
    """Order number (exact), receiver phone tail or full phone, or customer name/nickname."""
    q = q.strip()
    conditions: list[ColumnElement[bool]] = []
    if _ORDER_NO.fullmatch(q):
        conditions.append(Order.order_no == q)
    compact = _compact_digits(q)
    if compact is not None and len(compact) == 4:
        conditions.append(Order.receiver_phone_tail == compact)
        conditions.append(
            Order.customer_id.in_(select(Customer.id).where(Customer.phone_tail == compact))
        )
    elif compact is not None and len(compact) >= 7:
        conditions.append(Order.receiver_phone == compact)
        conditions.append(
            Order.customer_id.in_(select(Customer.id).where(Customer.phone == compact))
        )
    elif compact is None:
        conditions.append(
            Order.customer_id.in_(
                select(Customer.id).where(
                    or_(
                        Customer.name.icontains(q, autoescape=True),
                        Customer.nickname.icontains(q, autoescape=True),
                    )
                )
            )
        )
    return or_(*conditions) if conditions else false()


async def list_orders(session: AsyncSession, flt: OrderFilter) -> Page[OrderRow]:
    stmt = select(Order)
    conditions: list[ColumnElement[bool]] = []
    if flt.q.strip():
        conditions.append(order_search_condition(flt.q))
    if flt.store_id is not None:
        conditions.append(Order.store_id == flt.store_id)
    if flt.status:
        conditions.append(Order.status == flt.status)
    if flt.customer_id is not None:
        conditions.append(Order.customer_id == flt.customer_id)
    if flt.placed_from is not None:
        conditions.append(Order.placed_at >= flt.placed_from)
    if flt.placed_before is not None:
        conditions.append(Order.placed_at < flt.placed_before)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    offset, limit = _window(flt.page, ORDER_LIST_PER_PAGE)
    result = await session.scalars(
        stmt.order_by(Order.placed_at.desc(), Order.id.desc())
        .offset(offset)
        .limit(limit)
        .options(selectinload(Order.items))
    )
    page = _paged(list(result.all()), flt.page, ORDER_LIST_PER_PAGE)
    customer_ids = {o.customer_id for o in page.items if o.customer_id is not None}
    customers: dict[int, Customer] = {}
    if customer_ids:
        found = await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
        customers = {c.id: c for c in found}
    stores = await stores_by_id(session)
    rows = [
        OrderRow(
            order,
            stores[order.store_id],
            customers.get(order.customer_id) if order.customer_id else None,
            sum(item.quantity for item in order.items),
            order.items[0].title if order.items else "",
        )
        for order in page.items
    ]
    return Page(rows, page.page, page.per_page, page.has_next)


@dataclass
class OrderDetail:
    bundle: OrderBundle
    store: Store
    customer: Customer | None


async def load_order(session: AsyncSession, order_id: int) -> OrderDetail:
    order = await session.scalar(
        select(Order).where(Order.id == order_id).options(*_order_with_details())
    )
    if order is None:
        raise NotFound("找不到该订单", "Order not found")
    store = await session.get(Store, order.store_id)
    if store is None:
        raise NotFound("找不到该订单", "Order not found")
    customer = await session.get(Customer, order.customer_id) if order.customer_id else None
    [bundle] = await _bundle(session, [order], notes=True)
    return OrderDetail(bundle, store, customer)


async def get_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("找不到该订单", "Order not found")
    return order


async def get_address(session: AsyncSession, customer_id: int, address_id: int) -> Address:
    address = await session.scalar(
        select(Address).where(Address.id == address_id, Address.customer_id == customer_id)
    )
    if address is None:
        raise NotFound("找不到该地址", "Address not found")
    return address
