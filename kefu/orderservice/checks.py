"""The daily checks (seed 002: 查看交易记录，是否有买家未付款或者未发货的记录): unpaid orders
and paid-but-unshipped orders, oldest first, with their age and open order-service items.

Age runs from when the order was placed (unpaid) or paid (unshipped; placed when the shop
did not send a payment time), so "older than 24 h" means the same thing an agent would say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.db import utcnow
from kefu.core.i18n import gettext as _
from kefu.orderservice.enums import FlagStatus
from kefu.orderservice.models import OrderFlag, OrderFlagOrder, StockoutCase
from kefu.store.enums import OrderStatus
from kefu.store.models import Customer, Order, OrderItem, Store

Tab = Literal["unpaid", "unshipped"]
TAB_STATUS: dict[str, str] = {
    "unpaid": OrderStatus.WAIT_BUYER_PAY.value,
    "unshipped": OrderStatus.WAIT_SELLER_SEND_GOODS.value,
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class CheckFilter:
    tab: Tab = "unshipped"
    store_id: int | None = None
    older_than_hours: int | None = None
    tier: str | None = None
    flagged: bool = False
    page: int = 1


@dataclass
class CheckRow:
    order: Order
    store: Store
    customer: Customer | None
    since: datetime
    age_hours: float
    first_item: str
    item_count: int
    open_flags: int
    open_stockouts: int


@dataclass
class CheckPage:
    items: list[CheckRow] = field(default_factory=list)
    page: int = 1
    has_next: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _since(tab: str) -> Any:
    return Order.placed_at if tab == "unpaid" else func.coalesce(Order.paid_at, Order.placed_at)


def _open_flag_exists() -> Any:
    return (
        select(OrderFlagOrder.flag_id)
        .join(OrderFlag, OrderFlag.id == OrderFlagOrder.flag_id)
        .where(OrderFlagOrder.order_id == Order.id, OrderFlag.status == FlagStatus.open.value)
        .correlate(Order)
        .exists()
    )


def _open_stockout_exists() -> Any:
    return (
        select(StockoutCase.id)
        .where(StockoutCase.order_id == Order.id, StockoutCase.choice.is_(None))
        .correlate(Order)
        .exists()
    )


def _conditions(flt: CheckFilter, tab: str, now: datetime) -> list[Any]:
    conds: list[Any] = [Order.status == TAB_STATUS[tab]]
    if flt.store_id:
        conds.append(Order.store_id == flt.store_id)
    if flt.older_than_hours:
        conds.append(_since(tab) <= now - timedelta(hours=flt.older_than_hours))
    if flt.tier:
        # Correlated on Order only: the list query joins Customer itself.
        conds.append(
            select(Customer.id)
            .where(Customer.id == Order.customer_id, Customer.tier == flt.tier)
            .correlate(Order)
            .exists()
        )
    if flt.flagged:
        conds.append(or_(_open_flag_exists(), _open_stockout_exists()))
    return conds


async def count_tabs(session: AsyncSession, flt: CheckFilter, now: datetime) -> dict[str, int]:
    counts = {}
    for tab in TAB_STATUS:
        stmt = select(func.count()).select_from(Order).where(*_conditions(flt, tab, now))
        counts[tab] = int(await session.scalar(stmt) or 0)
    return counts


async def list_checks(
    session: AsyncSession, flt: CheckFilter, *, now: datetime | None = None
) -> CheckPage:
    now = now or utcnow()
    since = _since(flt.tab)
    stmt = (
        select(Order, Store, Customer)
        .join(Store, Store.id == Order.store_id)
        .outerjoin(Customer, Customer.id == Order.customer_id)
        .where(*_conditions(flt, flt.tab, now))
        .order_by(since.asc(), Order.id.asc())
        .offset((flt.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = (await session.execute(stmt)).all()
    page = CheckPage(page=flt.page, has_next=len(rows) > PAGE_SIZE)
    rows = rows[:PAGE_SIZE]
    ids = [order.id for order, _, _ in rows]
    items: dict[int, list[str]] = {}
    flags: dict[int, int] = {}
    stockouts: dict[int, int] = {}
    if ids:
        for order_id, title in await session.execute(
            select(OrderItem.order_id, OrderItem.title)
            .where(OrderItem.order_id.in_(ids))
            .order_by(OrderItem.id)
        ):
            items.setdefault(order_id, []).append(title)
        flag_rows = await session.execute(
            select(OrderFlagOrder.order_id, func.count())
            .join(OrderFlag, OrderFlag.id == OrderFlagOrder.flag_id)
            .where(OrderFlagOrder.order_id.in_(ids), OrderFlag.status == FlagStatus.open.value)
            .group_by(OrderFlagOrder.order_id)
        )
        flags = {order_id: int(n) for order_id, n in flag_rows.all()}
        so_rows = await session.execute(
            select(StockoutCase.order_id, func.count())
            .where(StockoutCase.order_id.in_(ids), StockoutCase.choice.is_(None))
            .group_by(StockoutCase.order_id)
        )
        stockouts = {order_id: int(n) for order_id, n in so_rows.all()}
    for order, store, customer in rows:
        started = order.placed_at if flt.tab == "unpaid" else (order.paid_at or order.placed_at)
        titles = items.get(order.id, [])
        page.items.append(
            CheckRow(
                order=order,
                store=store,
                customer=customer,
                since=started,
                age_hours=max((now - started).total_seconds() / 3600, 0.0),
                first_item=titles[0] if titles else "",
                item_count=len(titles),
                open_flags=flags.get(order.id, 0),
                open_stockouts=stockouts.get(order.id, 0),
            )
        )
    page.counts = await count_tabs(session, flt, now)
    return page


def age_text(hours: float) -> str:
    """Short age for the lists: days and hours, or minutes under an hour."""
    if hours < 1:
        return _("%(minutes)d min") % {"minutes": int(hours * 60)}
    days, rest = divmod(int(hours), 24)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": rest}
    return _("%(hours)d h") % {"hours": rest}
