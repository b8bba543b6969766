"""Order-service fixtures: the store factories, a shop with one SKU, and a sweep helper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kefu.core.db import Database, utcnow
from kefu.orderservice import detection, tasks
from kefu.store.enums import OrderStatus
from kefu.store.models import Customer, Order, Product, Sku, Store
from tests.store.conftest import make_customer, make_order, make_store  # noqa: F401

PAID = OrderStatus.WAIT_SELLER_SEND_GOODS
UNPAID = OrderStatus.WAIT_BUYER_PAY


@dataclass
class Shop:
    store: Store
    customer: Customer
    product: Product
    sku: Sku


@pytest.fixture
async def shop(db: Database, make_store: Any, make_customer: Any) -> Shop:  # noqa: F811
    store = await make_store(name="山茶花服饰旗舰店")
    customer = await make_customer(store, name="陈晓雨", nickname="晓雨爱穿搭", phone="13812345678")
    async with db.sessionmaker() as s:
        product = Product(
            store_id=store.id, external_id="P-DRESS", title="纯棉连衣裙", price=Decimal("199.00")
        )
        s.add(product)
        await s.flush()
        sku = Sku(
            store_id=store.id,
            product_id=product.id,
            external_id="SKU-RED-M",
            sku_code="DRESS-RED-M",
            color="红色",
            size="M",
            price=Decimal("199.00"),
            stock=20,
        )
        s.add(sku)
        await s.commit()
    return Shop(store, customer, product, sku)


@pytest.fixture
def buy(make_order: Any, shop: Shop) -> Any:  # noqa: F811
    """`await buy(days_ago=2, status=PAID)`: an order of the shop's SKU by its customer."""

    async def make(
        *,
        days_ago: float = 1,
        placed_at: datetime | None = None,
        status: OrderStatus = PAID,
        customer: Customer | None = None,
        **fields: Any,
    ) -> Order:
        line = {"title": "纯棉连衣裙", "sku_desc": "红色 M", "unit_price": "199.00"}
        line |= {"sku_id": shop.sku.id, "product_id": shop.product.id}
        order: Order = await make_order(
            shop.store,
            customer or shop.customer,
            status=status,
            items=[line],
            placed_at=placed_at or utcnow() - timedelta(days=days_ago),
            **fields,
        )
        return order

    return make


async def run_sweep(db: Database) -> detection.DetectionResult:
    async with db.sessionmaker() as s:
        result = await tasks.detect_and_ask(s)
        await s.commit()
    return result
