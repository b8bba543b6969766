"""Database-maintained columns of the store tables."""

from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.db import utcnow
from kefu.store.models import Order, Store


async def test_receiver_phone_tail_is_computed_on_insert_and_update(session: AsyncSession) -> None:
    store = Store(code="s1", name="测试店", webhook_secret=secrets.token_hex(16))
    session.add(store)
    await session.flush()
    order = Order(
        store_id=store.id,
        external_id="E1",
        order_no="E1",
        status="WAIT_BUYER_PAY",
        total_amount=Decimal("10"),
        receiver_phone="+86 138-1234-5678",
        placed_at=utcnow(),
    )
    session.add(order)
    await session.commit()
    found = await session.scalar(select(Order).where(Order.receiver_phone_tail == "5678"))
    assert found is not None and found.id == order.id

    order.receiver_phone = "13900001111"
    await session.commit()
    await session.refresh(order)
    assert order.receiver_phone_tail == "1111"
