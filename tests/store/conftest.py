"""Store factories shared by every store test: `make_store`, `make_customer`, `make_order`.

Each factory writes through its own session and commits, so the row is visible to the app
under test; the returned objects are detached but fully loaded (expire_on_commit=False).
Keyword arguments override any column. Keep the signatures stable: other test modules use them.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kefu.core.db import Database, utcnow
from kefu.store.enums import OrderStatus
from kefu.store.models import Customer, Order, OrderItem, Product, Sku, Store

_seq = itertools.count(1)

MakeStore = Callable[..., Awaitable[Store]]
MakeCustomer = Callable[..., Awaitable[Customer]]
MakeOrder = Callable[..., Awaitable[Order]]


@pytest.fixture
def make_store(db: Database) -> MakeStore:
    """`await make_store(code="tmall-main", name="旗舰店", ...)` → a committed Store."""

    async def make(code: str | None = None, **fields: Any) -> Store:
        n = next(_seq)
        values: dict[str, Any] = {
            "code": code or f"shop{n}",
            "name": f"测试店铺{n}",
            "platform": "tmall",
            "timezone": "Asia/Shanghai",
            "webhook_secret": f"whsec-test-{n}-0123456789abcdef",
            "return_address": "浙江省杭州市余杭区文一西路 969 号 售后部 收",
            "service_phone": "0571-88886666",
        }
        values.update(fields)
        async with db.sessionmaker() as s:
            store = Store(**values)
            s.add(store)
            await s.commit()
            return store

    return make


@pytest.fixture
def make_customer(db: Database) -> MakeCustomer:
    """`await make_customer(store, name="张三", phone="13812345678", tier="vip")`."""

    async def make(store: Store, **fields: Any) -> Customer:
        n = next(_seq)
        values: dict[str, Any] = {
            "store_id": store.id,
            "external_id": f"C{n:06d}",
            "name": f"顾客{n}",
            "nickname": f"tb_buyer_{n}",
            "phone": f"138{n:08d}",
            "city": "杭州市",
            "tier": "normal",
            "tags": [],
            "source_updated_at": utcnow() - timedelta(days=1),
            "first_seen_at": utcnow() - timedelta(days=30),
        }
        values.update(fields)
        if "phone_tail" not in fields:
            phone = values.get("phone")
            values["phone_tail"] = phone[-4:] if phone else None
        async with db.sessionmaker() as s:
            customer = Customer(**values)
            s.add(customer)
            await s.commit()
            return customer

    return make


@pytest.fixture
def make_order(db: Database) -> MakeOrder:
    """`await make_order(store, customer, status=OrderStatus.WAIT_SELLER_SEND_GOODS,
    items=[{"title": "连衣裙", "quantity": 1, "unit_price": "199.00"}])`.

    Without `items` the order gets one line of ¥99.00. Products and SKUs are created for each
    line (external ids `P…`/`S…`); `paid_amount`/`total_amount` default to the sum of the
    lines plus `shipping_fee`. The returned order has `items` loaded.
    """

    async def make(
        store: Store,
        customer: Customer | None = None,
        *,
        status: OrderStatus | str = OrderStatus.WAIT_SELLER_SEND_GOODS,
        items: Sequence[dict[str, Any]] | None = None,
        placed_at: datetime | None = None,
        **fields: Any,
    ) -> Order:
        n = next(_seq)
        lines = list(items) if items is not None else [{"title": "纯棉T恤", "unit_price": "99.00"}]
        placed = placed_at or utcnow() - timedelta(days=2)
        async with db.sessionmaker() as s:
            built: list[OrderItem] = []
            for i, line in enumerate(lines, 1):
                line = dict(line)
                qty = int(line.pop("quantity", 1))
                price = Decimal(str(line.pop("unit_price", "99.00")))
                title = line.pop("title", f"商品{n}-{i}")
                product = Product(
                    store_id=store.id,
                    external_id=f"P{n:06d}-{i}",
                    title=title,
                    price=price,
                    source_updated_at=placed,
                )
                s.add(product)
                await s.flush()
                sku = Sku(
                    store_id=store.id,
                    product_id=product.id,
                    external_id=f"S{n:06d}-{i}",
                    sku_code=f"S{n:06d}-{i}",
                    price=price,
                    stock=100,
                    source_updated_at=placed,
                )
                s.add(sku)
                await s.flush()
                values = {
                    "external_id": f"{n:06d}-{i}",
                    "product_id": product.id,
                    "sku_id": sku.id,
                    "title": title,
                    "sku_desc": "",
                    "quantity": qty,
                    "unit_price": price,
                    "paid_amount": price * qty,
                }
                values.update(line)
                built.append(OrderItem(**values))
            shipping = Decimal(str(fields.pop("shipping_fee", "0")))
            goods = sum((item.paid_amount for item in built), Decimal("0"))
            status_value = OrderStatus(status)
            values = {
                "store_id": store.id,
                "customer_id": customer.id if customer else None,
                "external_id": f"T{n:08d}",
                "order_no": f"T{n:08d}",
                "status": status_value.value,
                "total_amount": goods + shipping,
                "shipping_fee": shipping,
                "paid_amount": Decimal("0")
                if status_value in (OrderStatus.WAIT_BUYER_PAY, OrderStatus.TRADE_CLOSED_BY_TAOBAO)
                else goods + shipping,
                "receiver_name": customer.name if customer else "收件人",
                "receiver_phone": (customer.phone or "") if customer else "13900000000",
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "address_detail": "文三路 100 号",
                "placed_at": placed,
                "paid_at": None if status_value == OrderStatus.WAIT_BUYER_PAY else placed,
                "source_updated_at": placed,
            }
            if status_value in (
                OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
                OrderStatus.SELLER_CONSIGNED_PART,
                OrderStatus.TRADE_BUYER_SIGNED,
                OrderStatus.TRADE_FINISHED,
            ):
                values["shipped_at"] = placed + timedelta(hours=20)
            if status_value == OrderStatus.TRADE_FINISHED:
                values["finished_at"] = placed + timedelta(days=5)
            values.update(fields)
            order = Order(**values, items=built)
            s.add(order)
            await s.commit()
            return order

    return make


# --------------------------------------------------------------------------- import payloads

MakeTokenClient = Callable[..., Awaitable[httpx.AsyncClient]]


def order_payload(external_id: str = "T1001", **overrides: Any) -> dict[str, Any]:
    """A valid order body for the import API (two lines, paid, awaiting shipment)."""
    body: dict[str, Any] = {
        "external_id": external_id,
        "status": "WAIT_SELLER_SEND_GOODS",
        "customer_external_id": "C-zhang",
        "buyer": {"name": "张三", "nickname": "zhang_tb", "phone": "13812345678"},
        "total_amount": "307.00",
        "shipping_fee": "8.00",
        "paid_amount": "307.00",
        "receiver": {
            "name": "张三",
            "phone": "13812345678",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文三路 100 号 3 幢 201",
        },
        "placed_at": "2026-11-20T10:00:00+08:00",
        "paid_at": "2026-11-20T10:01:00+08:00",
        "items": [
            {
                "external_id": f"{external_id}-1",
                "sku_external_id": "SKU-RED-M",
                "title": "纯棉连衣裙",
                "sku_desc": "红色 M",
                "quantity": 1,
                "unit_price": "199.00",
                "paid_amount": "199.00",
            },
            {
                "external_id": f"{external_id}-2",
                "title": "棉袜 3 双装",
                "quantity": 2,
                "unit_price": "50.00",
                "paid_amount": "100.00",
            },
        ],
        "updated_at": "2026-11-20T10:01:00+08:00",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def token_client(app: Any, make_user: Any) -> AsyncIterator[MakeTokenClient]:
    """`await token_client("supervisor", ["store.import"])` → client sending a bearer token."""
    import secrets

    from kefu.accounts.deps import hash_token
    from kefu.accounts.models import ApiToken

    clients: list[httpx.AsyncClient] = []

    async def make(
        role: str = "supervisor", scopes: Sequence[str] = ("store.import",)
    ) -> httpx.AsyncClient:
        user = await make_user(role)
        secret = "kefu_" + secrets.token_urlsafe(24)
        db: Database = app.state.db
        async with db.sessionmaker() as s:
            s.add(
                ApiToken(
                    user_id=user.id,
                    name="import",
                    prefix=secret[:12],
                    token_hash=hash_token(secret),
                    scopes=list(scopes),
                    created_at=utcnow(),
                )
            )
            await s.commit()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {secret}"},
        )
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
