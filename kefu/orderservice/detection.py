"""Detection after import: duplicate purchases, stock-outs and address tasks.

`sweep.py` reads the orders and SKUs changed since its watermark (whoever changed them: the
import API, files, webhooks, the connector) and calls `detect_for_orders` /
`detect_stockouts_for_skus` here with their ids.

Every insert is `INSERT … ON CONFLICT DO NOTHING` on the row's natural key, so detection is
idempotent: re-importing the same data, a retried job, or two workers racing on one batch
create each flag, case and task exactly once.

Rules (thresholds are store settings, see `settings.py`):
- duplicate purchase: the same customer bought the same SKU in two orders placed at most
  `duplicate_window_days` apart (inclusive), neither order closed, and at least one not yet
  shipped (after both shipped, nothing can be cancelled any more);
- stock-out: a SKU with stock ≤ 0 in an order that is paid and awaiting shipment, one case per
  (order, SKU), found both when the SKU's stock changes and when such an order arrives;
- address confirmation: every order that is paid and awaiting shipment gets one task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.db import utcnow
from kefu.orderservice.enums import AddressStatus, FlagKind, FlagStatus
from kefu.orderservice.models import (
    AddressConfirmation,
    OrderFlag,
    OrderFlagOrder,
    StockoutCase,
)
from kefu.orderservice.settings import settings_for
from kefu.store.enums import CLOSED, NOT_SHIPPED, OrderStatus
from kefu.store.models import Order, OrderItem, Sku, Store

PAID_UNSHIPPED = OrderStatus.WAIT_SELLER_SEND_GOODS.value
_CLOSED = [s.value for s in CLOSED]
_NOT_SHIPPED = {s.value for s in NOT_SHIPPED}
_CHUNK = 500


@dataclass
class DetectionResult:
    flag_ids: list[int] = field(default_factory=list)
    stockout_ids: list[int] = field(default_factory=list)
    address_ids: list[int] = field(default_factory=list)


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _insert_ignore(session: AsyncSession, model: Any) -> Any:
    table: Table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def _insert_new(session: AsyncSession, model: Any, row: dict[str, Any]) -> int | None:
    """The new row's id, or None when its natural key already exists."""
    now = utcnow()
    stmt = _insert_ignore(session, model).values(created_at=now, updated_at=now, **row)
    return await session.scalar(stmt.returning(model.__table__.c.id))


# --- duplicate purchases -----------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    order_id: int
    customer_id: int
    sku_id: int
    placed_at: datetime
    status: str


async def _lines(session: AsyncSession, *where: Any) -> list[_Line]:
    stmt = (
        select(Order.id, Order.customer_id, OrderItem.sku_id, Order.placed_at, Order.status)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(
            Order.customer_id.is_not(None),
            OrderItem.sku_id.is_not(None),
            Order.status.not_in(_CLOSED),
            *where,
        )
    )
    rows = (await session.execute(stmt)).all()
    # Both ids are non-null by the WHERE clause above.
    return [_Line(o, c or 0, s or 0, p, st) for o, c, s, p, st in rows]


def duplicate_key(sku_id: int, order_a: int, order_b: int) -> str:
    low, high = sorted((order_a, order_b))
    return f"dup:{sku_id}:{low}:{high}"


async def detect_duplicates(
    session: AsyncSession, store: Store, order_ids: Sequence[int]
) -> list[int]:
    window = timedelta(days=settings_for(store).duplicate_window_days)
    new_ids: list[int] = []
    for part in _chunks(list(order_ids)):
        fresh = await _lines(session, Order.store_id == store.id, Order.id.in_(part))
        if not fresh:
            continue
        customers = sorted({line.customer_id for line in fresh})
        skus = sorted({line.sku_id for line in fresh})
        others = await _lines(
            session,
            Order.store_id == store.id,
            Order.customer_id.in_(customers),
            OrderItem.sku_id.in_(skus),
        )
        by_buyer_sku: dict[tuple[int, int], list[_Line]] = defaultdict(list)
        for line in others:
            by_buyer_sku[(line.customer_id, line.sku_id)].append(line)
        seen: set[str] = set()
        for line in fresh:
            for other in by_buyer_sku[(line.customer_id, line.sku_id)]:
                if other.order_id == line.order_id:
                    continue
                if abs(other.placed_at - line.placed_at) > window:
                    continue
                if line.status not in _NOT_SHIPPED and other.status not in _NOT_SHIPPED:
                    continue
                key = duplicate_key(line.sku_id, line.order_id, other.order_id)
                if key in seen:
                    continue
                seen.add(key)
                flag_id = await _insert_new(
                    session,
                    OrderFlag,
                    {
                        "store_id": store.id,
                        "kind": FlagKind.duplicate_purchase.value,
                        "status": FlagStatus.open.value,
                        "customer_id": line.customer_id,
                        "sku_id": line.sku_id,
                        "dedupe_key": key,
                    },
                )
                if flag_id is not None:
                    session.add_all(
                        [
                            OrderFlagOrder(flag_id=flag_id, order_id=line.order_id),
                            OrderFlagOrder(flag_id=flag_id, order_id=other.order_id),
                        ]
                    )
                    new_ids.append(flag_id)
    await session.flush()
    return new_ids


# --- stock-outs ----------------------------------------------------------------------------


async def _open_stockouts(session: AsyncSession, store: Store, *where: Any) -> list[int]:
    stmt = (
        select(OrderItem.id, OrderItem.order_id, OrderItem.sku_id, Order.customer_id)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Sku, Sku.id == OrderItem.sku_id)
        .where(Order.store_id == store.id, Order.status == PAID_UNSHIPPED, Sku.stock <= 0, *where)
        .order_by(OrderItem.id)
    )
    new_ids = []
    for item_id, order_id, sku_id, customer_id in (await session.execute(stmt)).all():
        case_id = await _insert_new(
            session,
            StockoutCase,
            {
                "store_id": store.id,
                "order_id": order_id,
                "order_item_id": item_id,
                "sku_id": sku_id,
                "customer_id": customer_id,
            },
        )
        if case_id is not None:
            new_ids.append(case_id)
    return new_ids


async def detect_stockouts_for_skus(
    session: AsyncSession, store: Store, sku_ids: Sequence[int]
) -> list[int]:
    new_ids: list[int] = []
    for part in _chunks(list(sku_ids)):
        new_ids += await _open_stockouts(session, store, Sku.id.in_(part))
    return new_ids


async def detect_stockouts_for_orders(
    session: AsyncSession, store: Store, order_ids: Sequence[int]
) -> list[int]:
    new_ids: list[int] = []
    for part in _chunks(list(order_ids)):
        new_ids += await _open_stockouts(session, store, Order.id.in_(part))
    return new_ids


# --- address confirmation -------------------------------------------------------------------


async def create_address_tasks(
    session: AsyncSession, store: Store, order_ids: Sequence[int]
) -> list[int]:
    new_ids: list[int] = []
    for part in _chunks(list(order_ids)):
        rows = await session.execute(
            select(Order.id, Order.customer_id).where(
                Order.store_id == store.id, Order.id.in_(part), Order.status == PAID_UNSHIPPED
            )
        )
        for order_id, customer_id in rows.all():
            task_id = await _insert_new(
                session,
                AddressConfirmation,
                {
                    "store_id": store.id,
                    "order_id": order_id,
                    "customer_id": customer_id,
                    "status": AddressStatus.pending.value,
                },
            )
            if task_id is not None:
                new_ids.append(task_id)
    return new_ids


# --- entry points ----------------------------------------------------------------------------


async def detect_for_orders(
    session: AsyncSession, store: Store, order_ids: Sequence[int]
) -> DetectionResult:
    return DetectionResult(
        flag_ids=await detect_duplicates(session, store, order_ids),
        stockout_ids=await detect_stockouts_for_orders(session, store, order_ids),
        address_ids=await create_address_tasks(session, store, order_ids),
    )


async def detect_for_skus(
    session: AsyncSession, store: Store, sku_ids: Sequence[int]
) -> DetectionResult:
    return DetectionResult(stockout_ids=await detect_stockouts_for_skus(session, store, sku_ids))
