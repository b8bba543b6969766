"""After-sales case fixtures: the store factories, a signed (delivered) order, helpers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kefu.core.audit import Actor
from kefu.core.db import Database, utcnow
from kefu.store.enums import OrderStatus
from kefu.store.models import Customer, Order, Store
from tests.store.conftest import make_customer, make_order, make_store  # noqa: F401

AGENT = Actor("user", None, "小美")
APPROVER = Actor("user", None, "林雪")
WAREHOUSE = Actor("user", None, "仓库老王")


@pytest.fixture
async def signed_order(
    db: Database,
    make_store: Any,  # noqa: F811
    make_customer: Any,  # noqa: F811
    make_order: Any,  # noqa: F811
) -> tuple[Store, Customer, Order]:
    """A delivered order signed two days ago: two T-shirts at ¥99 and a dress at ¥299."""
    store = await make_store()
    customer = await make_customer(store, email="buyer@example.com")
    signed = utcnow() - timedelta(days=2)
    order = await make_order(
        store,
        customer,
        status=OrderStatus.TRADE_BUYER_SIGNED,
        items=[
            {"title": "纯棉T恤", "quantity": 2, "unit_price": "99.00"},
            {"title": "连衣裙", "quantity": 1, "unit_price": "299.00"},
        ],
        placed_at=signed - timedelta(days=3),
        signed_at=signed,
    )
    return store, customer, order
