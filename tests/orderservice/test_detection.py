"""Detection: duplicate purchases (window edges, idempotency), stock-outs when a SKU runs out
while paid orders wait for it, and address-confirmation tasks once an order is paid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database, utcnow
from kefu.orderservice import lists, work
from kefu.orderservice.models import (
    AddressConfirmation,
    OrderFlag,
    OrderFlagOrder,
    StockoutCase,
)
from kefu.orderservice.settings import update_settings
from kefu.store.enums import OrderStatus
from kefu.store.models import Store
from kefu.store.service import import_batch
from tests.orderservice.conftest import UNPAID, Shop, run_sweep
from tests.store.conftest import order_payload

AGENT = Actor("user", None, "小美")


async def _count(db: Database, model: Any) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_same_sku_twice_within_window_is_flagged_once(
    db: Database, shop: Shop, buy: Any
) -> None:
    first = await buy(days_ago=3)
    second = await buy(days_ago=1, status=UNPAID)
    result = await run_sweep(db)
    assert len(result.flag_ids) == 1
    async with db.sessionmaker() as s:
        flag = await s.get(OrderFlag, result.flag_ids[0])
        assert flag is not None
        assert (flag.kind, flag.status, flag.sku_id) == ("duplicate_purchase", "open", shop.sku.id)
        assert await work.flag_order_ids(s, flag.id) == sorted([first.id, second.id])
    # The sweep re-reads recent changes; nothing is flagged twice.
    assert (await run_sweep(db)).flag_ids == []
    assert await _count(db, OrderFlag) == 1


async def test_window_edges_and_store_setting(db: Database, shop: Shop, buy: Any) -> None:
    base = utcnow() - timedelta(days=20)
    await buy(placed_at=base)
    at_edge = await buy(placed_at=base + timedelta(days=7))  # exactly 7 days: flagged
    await buy(placed_at=base + timedelta(days=14, minutes=1))  # 7 days 1 minute later: not
    await run_sweep(db)
    async with db.sessionmaker() as s:
        pairs = (await s.scalars(select(OrderFlagOrder.order_id))).all()
    assert len(pairs) == 2 and at_edge.id in pairs

    async with db.sessionmaker() as s:
        store = await s.get(Store, shop.store.id)
        assert store is not None
        await update_settings(s, AGENT, store, {"duplicate_window_days": 30})
        await s.commit()
    # A touched order is swept again under the wider window: now all three pair up.
    async with db.sessionmaker() as s:
        order = await s.get(type(at_edge), at_edge.id)
        assert order is not None
        order.seller_memo = "touched"
        await s.commit()
    await run_sweep(db)
    assert await _count(db, OrderFlag) == 3


async def test_closed_shipped_and_other_buyers_are_not_duplicates(
    db: Database, shop: Shop, buy: Any, make_customer: Any
) -> None:
    await buy(days_ago=2, status=OrderStatus.TRADE_CLOSED_BY_TAOBAO)
    await buy(days_ago=1)
    other = await make_customer(shop.store, name="王五")
    await buy(days_ago=1, customer=other)
    # Both shipped: nothing left to cancel, so no flag either.
    await buy(days_ago=30, status=OrderStatus.TRADE_FINISHED)
    await buy(days_ago=27, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    await run_sweep(db)
    assert await _count(db, OrderFlag) == 0


async def test_reimport_through_the_api_creates_no_second_flag(db: Database, shop: Shop) -> None:
    async def import_pair() -> None:
        async with db.sessionmaker() as s:
            store = await s.get(Store, shop.store.id)
            assert store is not None
            one = order_payload("T1", customer_external_id=shop.customer.external_id)
            two = order_payload(
                "T2",
                customer_external_id=shop.customer.external_id,
                placed_at="2026-11-21T09:00:00+08:00",
            )
            result = await import_batch(s, AGENT, store, "order", [one, two])
            assert result.counts  # imported (or unchanged on the second run)
            await s.commit()

    await import_pair()
    await run_sweep(db)
    await import_pair()
    await run_sweep(db)
    assert await _count(db, OrderFlag) == 1
    assert await _count(db, AddressConfirmation) == 2


async def test_stockout_when_product_import_sets_stock_to_zero(
    db: Database, shop: Shop, buy: Any
) -> None:
    waiting_a = await buy(days_ago=2)
    waiting_b = await buy(days_ago=1, customer=None)
    await buy(days_ago=1, status=UNPAID)  # not paid: not affected
    await buy(days_ago=9, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)  # already shipped
    await run_sweep(db)
    assert await _count(db, StockoutCase) == 0  # stock 20: nothing out of stock

    product = {
        "external_id": "P-DRESS",
        "title": "纯棉连衣裙",
        "price": "199.00",
        "skus": [{"external_id": "SKU-RED-M", "color": "红色", "size": "M", "price": "199.00",
                  "stock": 0}],
        "updated_at": utcnow().isoformat(),
    }  # fmt: skip
    async with db.sessionmaker() as s:
        store = await s.get(Store, shop.store.id)
        assert store is not None
        await import_batch(s, AGENT, store, "product", [product])
        await s.commit()
    result = await run_sweep(db)
    assert len(result.stockout_ids) == 2
    async with db.sessionmaker() as s:
        groups = await lists.list_stockouts(s)
    assert len(groups) == 1 and groups[0].sku.id == shop.sku.id
    assert [v.order.id for v in groups[0].cases] == [waiting_a.id, waiting_b.id]
    assert all(v.case.choice is None for v in groups[0].cases)

    # Re-importing the same product (or sweeping again) changes nothing.
    assert (await run_sweep(db)).stockout_ids == []

    case_id = groups[0].cases[0].case.id
    async with db.sessionmaker() as s:
        case = await work.record_stockout_choice(s, AGENT, case_id, "refund", note="买家要退款")
        await s.commit()
    assert (case.choice, case.recorded_by_name, case.note) == ("refund", "小美", "买家要退款")
    assert case.recorded_at is not None
    async with db.sessionmaker() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "stockout.answer"))
        assert entry is not None and entry.after == {"choice": "refund", "note": "买家要退款"}
        still_open = await lists.list_stockouts(s)
        answered = await lists.list_stockouts(s, answered=True)
    assert [v.case.id for g in still_open for v in g.cases] == [groups[0].cases[1].case.id]
    assert [v.case.id for g in answered for v in g.cases] == [case_id]


async def test_new_paid_order_for_an_empty_sku_is_a_stockout(
    db: Database, shop: Shop, buy: Any
) -> None:
    async with db.sessionmaker() as s:
        sku = await s.get(type(shop.sku), shop.sku.id)
        assert sku is not None
        sku.stock = 0
        await s.commit()
    order = await buy(days_ago=0.1)
    await run_sweep(db)
    async with db.sessionmaker() as s:
        case = await s.scalar(select(StockoutCase))
    assert case is not None and case.order_id == order.id


async def test_address_task_once_the_order_is_paid(db: Database, shop: Shop) -> None:
    unpaid = order_payload(
        "T9", status="WAIT_BUYER_PAY", paid_at=None, paid_amount="0",
        customer_external_id=shop.customer.external_id,
    )  # fmt: skip

    async def upsert(payload: dict[str, Any]) -> None:
        async with db.sessionmaker() as s:
            store = await s.get(Store, shop.store.id)
            assert store is not None
            await import_batch(s, AGENT, store, "order", [payload])
            await s.commit()

    await upsert(unpaid)
    await run_sweep(db)
    assert await _count(db, AddressConfirmation) == 0
    paid = order_payload(
        "T9", customer_external_id=shop.customer.external_id,
        updated_at="2026-11-20T10:05:00+08:00",
    )  # fmt: skip
    await upsert(paid)
    result = await run_sweep(db)
    assert len(result.address_ids) == 1
    async with db.sessionmaker() as s:
        task = await s.get(AddressConfirmation, result.address_ids[0])
        assert task is not None and task.status == "pending"
        assert task.customer_id == shop.customer.id
        pending = await lists.list_address_tasks(s)
    assert [v.task.id for v in pending] == [task.id]
    await upsert(paid)
    assert (await run_sweep(db)).address_ids == []
