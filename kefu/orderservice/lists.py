"""What the work pages show: flags with their orders, stock-outs grouped by SKU, address tasks.

Items whose order has moved on (shipped, closed) drop off the open lists by query, without a
state change: an address cannot be confirmed for a parcel that already left.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.orderservice.enums import AddressStatus, FlagStatus
from kefu.orderservice.models import AddressConfirmation, OrderFlag, OrderFlagOrder, StockoutCase
from kefu.store.enums import OrderStatus
from kefu.store.models import Customer, Order, OrderItem, Product, Sku, Store

LIMIT = 200
PAID_UNSHIPPED = OrderStatus.WAIT_SELLER_SEND_GOODS.value


@dataclass
class FlagView:
    flag: OrderFlag
    orders: list[Order]
    customer: Customer | None
    store: Store
    item: str = ""


@dataclass
class StockoutView:
    case: StockoutCase
    order: Order
    customer: Customer | None
    item: OrderItem | None


@dataclass
class SkuGroup:
    sku: Sku
    product: Product
    store: Store
    cases: list[StockoutView] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return sum(1 for c in self.cases if c.case.choice is None)


@dataclass
class AddressView:
    task: AddressConfirmation
    order: Order
    customer: Customer | None
    store: Store


async def _customers(session: AsyncSession, ids: set[int | None]) -> dict[int, Customer]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = await session.scalars(select(Customer).where(Customer.id.in_(wanted)))
    return {c.id: c for c in rows.all()}


async def _stores(session: AsyncSession) -> dict[int, Store]:
    return {s.id: s for s in (await session.scalars(select(Store))).all()}


async def list_flags(
    session: AsyncSession,
    *,
    status: str | None = FlagStatus.open.value,
    kind: str | None = None,
    store_id: int | None = None,
    order_id: int | None = None,
) -> list[FlagView]:
    stmt = select(OrderFlag).order_by(OrderFlag.created_at.asc(), OrderFlag.id.asc()).limit(LIMIT)
    if status:
        stmt = stmt.where(OrderFlag.status == status)
    if kind:
        stmt = stmt.where(OrderFlag.kind == kind)
    if store_id:
        stmt = stmt.where(OrderFlag.store_id == store_id)
    if order_id:
        stmt = stmt.where(
            OrderFlag.id.in_(
                select(OrderFlagOrder.flag_id).where(OrderFlagOrder.order_id == order_id)
            )
        )
    flags = list((await session.scalars(stmt)).all())
    if not flags:
        return []
    links = await session.execute(
        select(OrderFlagOrder.flag_id, Order)
        .join(Order, Order.id == OrderFlagOrder.order_id)
        .where(OrderFlagOrder.flag_id.in_([f.id for f in flags]))
        .order_by(Order.placed_at)
    )
    orders_of: dict[int, list[Order]] = defaultdict(list)
    for flag_id, order in links.all():
        orders_of[flag_id].append(order)
    titles: dict[int, str] = {}
    sku_ids = {f.sku_id for f in flags if f.sku_id}
    if sku_ids:
        rows = await session.execute(
            select(Sku.id, Product.title, Sku.color, Sku.size)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.id.in_(sku_ids))
        )
        for sku_id, title, color, size in rows.all():
            titles[sku_id] = " ".join(p for p in (title, color, size) if p)
    customers = await _customers(session, {f.customer_id for f in flags})
    stores = await _stores(session)
    return [
        FlagView(
            flag=f,
            orders=orders_of.get(f.id, []),
            customer=customers.get(f.customer_id or 0),
            store=stores[f.store_id],
            item=titles.get(f.sku_id or 0, ""),
        )
        for f in flags
    ]


async def list_stockouts(
    session: AsyncSession,
    *,
    answered: bool = False,
    store_id: int | None = None,
    order_id: int | None = None,
) -> list[SkuGroup]:
    """Open cases (no answer yet, order still awaiting shipment) or answered ones, by SKU."""
    stmt = (
        select(StockoutCase, Order)
        .join(Order, Order.id == StockoutCase.order_id)
        .order_by(StockoutCase.sku_id, Order.paid_at.asc().nulls_last(), Order.id)
        .limit(LIMIT)
    )
    if answered:
        stmt = stmt.where(StockoutCase.choice.is_not(None))
    else:
        stmt = stmt.where(StockoutCase.choice.is_(None), Order.status == PAID_UNSHIPPED)
    if store_id:
        stmt = stmt.where(StockoutCase.store_id == store_id)
    if order_id:
        stmt = stmt.where(StockoutCase.order_id == order_id)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    item_ids = [c.order_item_id for c, _ in rows if c.order_item_id]
    items = {
        i.id: i
        for i in (await session.scalars(select(OrderItem).where(OrderItem.id.in_(item_ids)))).all()
    }
    skus = {
        s.id: (s, p)
        for s, p in (
            await session.execute(
                select(Sku, Product)
                .join(Product, Product.id == Sku.product_id)
                .where(Sku.id.in_({c.sku_id for c, _ in rows}))
            )
        ).all()
    }
    customers = await _customers(session, {c.customer_id for c, _ in rows})
    stores = await _stores(session)
    groups: dict[int, SkuGroup] = {}
    for case, order in rows:
        sku, product = skus[case.sku_id]
        group = groups.setdefault(sku.id, SkuGroup(sku, product, stores[case.store_id]))
        group.cases.append(
            StockoutView(
                case,
                order,
                customers.get(case.customer_id or 0),
                items.get(case.order_item_id or 0),
            )
        )
    return sorted(groups.values(), key=lambda g: -len(g.cases))


async def list_address_tasks(
    session: AsyncSession,
    *,
    status: str | None = AddressStatus.pending.value,
    store_id: int | None = None,
    order_id: int | None = None,
) -> list[AddressView]:
    stmt = (
        select(AddressConfirmation, Order)
        .join(Order, Order.id == AddressConfirmation.order_id)
        .order_by(Order.paid_at.asc().nulls_last(), Order.id)
        .limit(LIMIT)
    )
    if status:
        stmt = stmt.where(AddressConfirmation.status == status)
    if order_id:
        stmt = stmt.where(AddressConfirmation.order_id == order_id)
    if status == AddressStatus.pending:
        stmt = stmt.where(Order.status == PAID_UNSHIPPED)
    if store_id:
        stmt = stmt.where(AddressConfirmation.store_id == store_id)
    rows = (await session.execute(stmt)).all()
    customers = await _customers(session, {t.customer_id for t, _ in rows})
    stores = await _stores(session)
    return [
        AddressView(t, o, customers.get(t.customer_id or 0), stores[t.store_id]) for t, o in rows
    ]


async def open_counts(session: AsyncSession) -> dict[str, int]:
    """Badges for the sub-navigation."""
    flags = await session.scalar(
        select(func.count()).select_from(OrderFlag).where(OrderFlag.status == FlagStatus.open.value)
    )
    stockouts = await session.scalar(
        select(func.count())
        .select_from(StockoutCase)
        .join(Order, Order.id == StockoutCase.order_id)
        .where(StockoutCase.choice.is_(None), Order.status == PAID_UNSHIPPED)
    )
    addresses = await session.scalar(
        select(func.count())
        .select_from(AddressConfirmation)
        .join(Order, Order.id == AddressConfirmation.order_id)
        .where(
            AddressConfirmation.status == AddressStatus.pending.value,
            Order.status == PAID_UNSHIPPED,
        )
    )
    return {
        "flags": int(flags or 0),
        "stockouts": int(stockouts or 0),
        "addresses": int(addresses or 0),
    }
