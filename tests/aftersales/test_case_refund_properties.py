"""Property: whatever sequence of partial refunds agents try on an order — policy amounts,
approvers' override amounts, retries — the money paid back never exceeds what was paid minus
what was already refunded, per line and per order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kefu.aftersales import service
from kefu.aftersales.enums import CaseSource, CaseStatus
from kefu.aftersales.schemas import CaseCreate, OverrideIn
from kefu.core.db import Database
from kefu.core.errors import KefuError
from kefu.store.enums import OrderStatus
from kefu.store.models import Order, OrderItem, Refund
from tests.aftersales.conftest import AGENT, APPROVER

step = st.tuples(
    st.integers(min_value=0, max_value=1),  # which line
    st.integers(min_value=0, max_value=3),  # units (0 = money only)
    st.one_of(st.none(), st.integers(min_value=1, max_value=40_000)),  # override amount, cents
    st.booleans(),  # retry the refund
)


async def _attempt(db: Database, order: Order, line: int, units: int, cents: int | None) -> None:
    item = order.items[line]
    data = CaseCreate.model_validate(
        {
            "order_id": order.id,
            "kind": "refund_only",
            "reason": "missing_item",
            "lines": [
                {
                    "order_item_id": item.id,
                    "quantity": units,
                    "amount": str(Decimal(cents or 1000) / 100) if units == 0 else None,
                }
            ],
        }
    )
    async with db.sessionmaker() as s:
        try:
            case = (await service.create_case(s, AGENT, data, source=CaseSource.agent)).case
            override = (
                OverrideIn(reason="协商金额", amount=Decimal(cents) / 100)
                if cents is not None
                else None
            )
            if case.status == CaseStatus.refused and override is None:
                await s.commit()
                return
            await service.approve(s, APPROVER, case.id, override=override)
            await service.refund(s, AGENT, case.id)
            await s.commit()
        except KefuError:
            await s.rollback()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=6))
async def test_refunds_never_exceed_paid_minus_refunded(
    db: Database, make_store: Any, make_customer: Any, make_order: Any, steps: list[Any]
) -> None:
    store = await make_store()
    order = await make_order(
        store,
        await make_customer(store),
        status=OrderStatus.TRADE_BUYER_SIGNED,
        items=[
            {"title": "纯棉T恤", "quantity": 3, "unit_price": "33.33"},
            {"title": "连衣裙", "quantity": 1, "unit_price": "199.00"},
        ],
        shipping_fee="8.00",
    )
    for line, units, cents, retry in steps:
        await _attempt(db, order, line, units, cents)
        if retry:
            await _attempt(db, order, line, units, cents)
        async with db.sessionmaker() as s:
            fresh = await s.get(Order, order.id)
            assert fresh is not None
            refunds = list(
                (await s.scalars(select(Refund).where(Refund.order_id == order.id))).all()
            )
            assert sum((r.amount for r in refunds), Decimal("0")) == fresh.refunded_amount
            assert fresh.refunded_amount <= fresh.paid_amount
            for item in (
                await s.scalars(select(OrderItem).where(OrderItem.order_id == order.id))
            ).all():
                on_item = sum(
                    (r.amount for r in refunds if r.order_item_id == item.id), Decimal("0")
                )
                assert on_item <= item.paid_amount
