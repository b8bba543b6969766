"""The local store connector: each action, each order-state rule, refund idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database
from kefu.core.errors import Conflict, Invalid, NotFound
from kefu.core.events import pending_events
from kefu.store.connector import (
    ActionRefused,
    LocalConnector,
    NewAddress,
    StoreConnector,
    get_connector,
)
from kefu.store.enums import OrderStatus
from kefu.store.models import Order, OrderNote, Refund, Shipment
from tests.store.conftest import MakeCustomer, MakeOrder, MakeStore

AGENT = Actor("user", 7, "小美")
ADDRESS = NewAddress("李四", "13900004321", "广东省", "深圳市", "南山区", "科技园 1 号")


async def _reload(db: Database, order_id: int) -> Order:
    async with db.sessionmaker() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return order


async def test_get_connector_is_local_and_satisfies_protocol(
    db: Database, make_store: MakeStore
) -> None:
    store = await make_store()
    async with db.sessionmaker() as s:
        connector = get_connector(s, store)
        assert isinstance(connector, LocalConnector)
        assert isinstance(connector, StoreConnector)


async def test_change_address_only_before_shipment(
    db: Database, make_store: MakeStore, make_customer: MakeCustomer, make_order: MakeOrder
) -> None:
    store = await make_store()
    customer = await make_customer(store)
    paid = await make_order(store, customer, status=OrderStatus.WAIT_SELLER_SEND_GOODS)
    shipped = await make_order(store, customer, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    async with db.sessionmaker() as s:
        connector = get_connector(s, store)
        result = await connector.change_address(paid.id, ADDRESS, actor=AGENT)
        assert "广东省深圳市南山区" in result.message_zh
        assert pending_events(s)[-1][1]["type"] == "order.address_changed"
        with pytest.raises(ActionRefused) as refused:
            await connector.change_address(shipped.id, ADDRESS, actor=AGENT)
        assert "卖家已发货" in refused.value.zh and "不能修改地址" in refused.value.zh
        with pytest.raises(Invalid):
            await connector.change_address(
                paid.id, NewAddress("", "", "广东省", "", "", ""), actor=AGENT
            )
        await s.commit()
    order = await _reload(db, paid.id)
    assert (order.province, order.city, order.address_detail) == ("广东省", "深圳市", "科技园 1 号")
    async with db.sessionmaker() as s:
        entry = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "order.change_address")
        )
    assert entry is not None and entry.before is not None and entry.after is not None
    assert entry.after["receiver_phone"] == "139****4321"
    assert entry.before["province"] == "浙江省" and entry.after["province"] == "广东省"
    assert "科技园" not in str(entry.after)


@pytest.mark.parametrize(
    ("status", "closed_as"),
    [
        (OrderStatus.WAIT_BUYER_PAY, OrderStatus.TRADE_CLOSED_BY_TAOBAO),
        (OrderStatus.WAIT_SELLER_SEND_GOODS, OrderStatus.TRADE_CLOSED),
    ],
)
async def test_cancel_not_shipped_orders(
    db: Database,
    make_store: MakeStore,
    make_order: MakeOrder,
    status: OrderStatus,
    closed_as: OrderStatus,
) -> None:
    store = await make_store()
    order = await make_order(store, status=status)
    async with db.sessionmaker() as s:
        result = await get_connector(s, store).cancel_order(
            order.id, reason="买家拍错", actor=AGENT
        )
        await s.commit()
    saved = await _reload(db, order.id)
    assert saved.status == closed_as
    assert saved.closed_at is not None
    if status == OrderStatus.WAIT_SELLER_SEND_GOODS:
        assert "已原路退款 ¥99.00" in result.message_zh
        assert saved.refunded_amount == saved.paid_amount == Decimal("99.00")
    else:
        assert result.message_zh == "订单已取消"
        assert saved.refunded_amount == 0


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.SELLER_CONSIGNED_PART,
        OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        OrderStatus.TRADE_FINISHED,
        OrderStatus.TRADE_CLOSED,
    ],
)
async def test_cancel_refused_after_shipment_or_close(
    db: Database, make_store: MakeStore, make_order: MakeOrder, status: OrderStatus
) -> None:
    store = await make_store()
    order = await make_order(store, status=status)
    async with db.sessionmaker() as s:
        with pytest.raises(ActionRefused) as refused:
            await get_connector(s, store).cancel_order(order.id, reason="", actor=AGENT)
    assert "不能取消" in refused.value.zh
    assert refused.value.status == 409


async def test_refund_idempotent_and_capped(
    db: Database, make_store: MakeStore, make_order: MakeOrder
) -> None:
    store = await make_store()
    order = await make_order(
        store,
        status=OrderStatus.TRADE_FINISHED,
        items=[{"unit_price": "100.00"}, {"unit_price": "50.00"}],
    )
    item = order.items[1]
    async with db.sessionmaker() as s:
        c = get_connector(s, store)
        first = await c.refund(
            order.id, Decimal("30.00"), reason="少件", idempotency_key="k1", actor=AGENT
        )
        assert "已退款 ¥30.00" in first.message_zh and "剩余可退 ¥120.00" in first.message_zh
        again = await c.refund(
            order.id, Decimal("30.00"), reason="少件", idempotency_key="k1", actor=AGENT
        )
        assert again.replayed and "未重复退款" in again.message_zh
        with pytest.raises(Conflict):
            await c.refund(order.id, Decimal("31"), reason="", idempotency_key="k1", actor=AGENT)
        with pytest.raises(ActionRefused) as over:
            await c.refund(
                order.id, Decimal("120.01"), reason="", idempotency_key="k2", actor=AGENT
            )
        assert "超过可退金额 ¥120.00" in over.value.zh
        with pytest.raises(ActionRefused) as item_over:
            await c.refund(
                order.id,
                Decimal("50.01"),
                reason="",
                idempotency_key="k3",
                actor=AGENT,
                item_id=item.id,
            )
        assert "超过该商品可退金额 ¥50.00" in item_over.value.zh
        await c.refund(
            order.id, Decimal("50"), reason="", idempotency_key="k4", actor=AGENT, item_id=item.id
        )
        with pytest.raises(Invalid):
            await c.refund(order.id, Decimal("0"), reason="", idempotency_key="k5", actor=AGENT)
        with pytest.raises(Invalid):
            await c.refund(order.id, Decimal("1.001"), reason="", idempotency_key="k6", actor=AGENT)
        last = await c.refund(order.id, Decimal("70"), reason="", idempotency_key="k7", actor=AGENT)
        assert last.data["status"] == OrderStatus.TRADE_CLOSED
        with pytest.raises(ActionRefused):
            await c.refund(order.id, Decimal("0.01"), reason="", idempotency_key="k8", actor=AGENT)
        await s.commit()
    saved = await _reload(db, order.id)
    assert saved.refunded_amount == Decimal("150.00") == saved.paid_amount
    assert saved.status == OrderStatus.TRADE_CLOSED
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Refund)) == 3
        assert await s.scalar(select(func.sum(Refund.amount))) == Decimal("150.00")


async def test_refund_refused_for_unpaid_order(
    db: Database, make_store: MakeStore, make_order: MakeOrder
) -> None:
    store = await make_store()
    order = await make_order(store, status=OrderStatus.WAIT_BUYER_PAY)
    async with db.sessionmaker() as s:
        with pytest.raises(ActionRefused) as refused:
            await get_connector(s, store).refund(
                order.id, Decimal("1"), reason="", idempotency_key="u1", actor=AGENT
            )
    assert "尚未付款" in refused.value.zh


async def test_reship_creates_pending_shipment_only_after_shipping(
    db: Database, make_store: MakeStore, make_order: MakeOrder
) -> None:
    store = await make_store()
    shipped = await make_order(store, status=OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
    unshipped = await make_order(store, status=OrderStatus.WAIT_SELLER_SEND_GOODS)
    closed = await make_order(store, status=OrderStatus.TRADE_CLOSED)
    async with db.sessionmaker() as s:
        c = get_connector(s, store)
        result = await c.reship(shipped.id, reason="少发一件", actor=AGENT)
        assert "补发单" in result.message_zh
        with pytest.raises(ActionRefused) as early:
            await c.reship(unshipped.id, reason="", actor=AGENT)
        assert "尚未发货" in early.value.zh
        with pytest.raises(ActionRefused):
            await c.reship(closed.id, reason="", actor=AGENT)
        await s.commit()
    async with db.sessionmaker() as s:
        shipment = await s.scalar(select(Shipment).where(Shipment.order_id == shipped.id))
    assert shipment is not None and shipment.status == "pending"


async def test_add_note_and_other_store_orders_are_invisible(
    db: Database, make_store: MakeStore, make_order: MakeOrder
) -> None:
    store = await make_store()
    other = await make_store()
    order = await make_order(store, status=OrderStatus.TRADE_FINISHED)
    async with db.sessionmaker() as s:
        result = await get_connector(s, store).add_note(order.id, "买家要求开发票", actor=AGENT)
        assert result.message_zh == "备注已添加"
        with pytest.raises(Invalid):
            await get_connector(s, store).add_note(order.id, "   ", actor=AGENT)
        with pytest.raises(NotFound):
            await get_connector(s, other).add_note(order.id, "x", actor=AGENT)
        await s.commit()
    async with db.sessionmaker() as s:
        note = await s.scalar(select(OrderNote))
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "order.add_note"))
    assert note is not None and note.author == "小美"
    assert audit is not None and audit.actor_id == 7
