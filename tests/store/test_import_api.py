"""REST import: idempotent upserts, out-of-order updates, batches, validation, permissions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.models import (
    Address,
    Customer,
    CustomerIdentity,
    LogisticsEvent,
    Order,
    OrderItem,
    Product,
    Review,
    Shipment,
    Sku,
)
from tests.fixtures.factories import LoginAs
from tests.store.conftest import MakeStore, MakeTokenClient, order_payload


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _order(db: Database, external_id: str) -> Order:
    async with db.sessionmaker() as s:
        order = await s.scalar(select(Order).where(Order.external_id == external_id))
        assert order is not None
        return order


async def test_put_order_creates_then_same_payload_is_unchanged(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    store = await make_store("tmall-main")
    api = await token_client()
    body = order_payload("T1001")

    first = await api.put("/api/v1/stores/tmall-main/orders/T1001", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "created"
    again = await api.put("/api/v1/stores/tmall-main/orders/T1001", json=body)
    assert again.status_code == 200
    assert again.json()["outcome"] == "unchanged"
    assert again.json()["id"] == first.json()["id"]

    order = await _order(db, "T1001")
    assert order.store_id == store.id
    assert order.status == "WAIT_SELLER_SEND_GOODS"
    assert order.paid_amount == Decimal("307.00")
    assert order.province == "浙江省" and order.address_detail.startswith("文三路")
    assert await _count(db, OrderItem, OrderItem.order_id == order.id) == 2
    # The unknown buyer became a stub customer with the phone's last four digits.
    async with db.sessionmaker() as s:
        buyer = await s.scalar(select(Customer).where(Customer.external_id == "C-zhang"))
    assert buyer is not None and order.customer_id == buyer.id
    assert buyer.name == "张三" and buyer.phone_tail == "5678"
    # A single write leaves a per-entity audit entry without the phone in clear.
    async with db.sessionmaker() as s:
        entries = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "order.created"))
        ).all()
    assert len(entries) == 1
    assert entries[0].after is not None and entries[0].after["receiver_phone"] == "138****5678"


async def test_older_update_is_stale_and_newer_one_applies(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("jd")
    api = await token_client()
    url = "/api/v1/stores/jd/orders/T2"
    shipped = order_payload(
        "T2",
        status="WAIT_BUYER_CONFIRM_GOODS",
        shipped_at="2026-11-21T09:00:00+08:00",
        updated_at="2026-11-21T09:00:00+08:00",
    )
    assert (await api.put(url, json=shipped)).status_code == 201
    # The "paid" notification arrives late: older than what we hold, so it is ignored.
    late = order_payload("T2", updated_at="2026-11-20T10:01:00+08:00")
    response = await api.put(url, json=late)
    assert response.status_code == 200
    assert response.json()["outcome"] == "stale"
    assert (await _order(db, "T2")).status == "WAIT_BUYER_CONFIRM_GOODS"

    finished = dict(shipped, status="TRADE_FINISHED", updated_at="2026-11-28T09:00:00+08:00")
    finished["items"] = shipped["items"][:1]
    response = await api.put(url, json=finished)
    assert response.json()["outcome"] == "updated"
    order = await _order(db, "T2")
    assert order.status == "TRADE_FINISHED"
    # The line dropped by the shop is gone; the other kept its id.
    assert await _count(db, OrderItem, OrderItem.order_id == order.id) == 1


async def test_order_links_known_skus_and_keeps_local_refunds(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("own")
    api = await token_client()
    product = {
        "external_id": "P-dress",
        "title": "纯棉连衣裙",
        "price": "199.00",
        "skus": [{"external_id": "SKU-RED-M", "color": "红色", "size": "M", "price": "199.00"}],
        "updated_at": "2026-11-01T00:00:00Z",
    }
    assert (await api.put("/api/v1/stores/own/products/P-dress", json=product)).status_code == 201
    assert (
        await api.put("/api/v1/stores/own/orders/T3", json=order_payload("T3"))
    ).status_code == 201
    async with db.sessionmaker() as s:
        sku = await s.scalar(select(Sku).where(Sku.external_id == "SKU-RED-M"))
        line = await s.scalar(select(OrderItem).where(OrderItem.external_id == "T3-1"))
    assert sku is not None and line is not None
    assert line.sku_id == sku.id and line.product_id == sku.product_id


async def test_validation_errors_are_chinese_problem_json(
    make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("v")
    api = await token_client()
    bad = order_payload(
        "T9",
        status="SHIPPED_MAYBE",
        total_amount="-1",
        placed_at="2026-11-20 10:00:00",
    )
    bad["items"][0]["quantity"] = 0
    response = await api.put("/api/v1/stores/v/orders/T9", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title_zh"] == "提交的数据有误"
    by_field = {e["field"]: e["message_zh"] for e in body["errors"]}
    assert by_field["status"] == "不是允许的取值"
    assert by_field["total_amount"] == "数值太小"
    assert by_field["items.0.quantity"] == "数值太小"
    assert "placed_at" in by_field

    mismatch = await api.put("/api/v1/stores/v/orders/OTHER", json=order_payload("T9"))
    assert mismatch.status_code == 422
    assert "不一致" in mismatch.json()["title_zh"]

    unknown = await api.put("/api/v1/stores/nope/orders/T9", json=order_payload("T9"))
    assert unknown.status_code == 404
    assert "店铺" in unknown.json()["title_zh"]


async def test_batch_reports_each_outcome(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("b")
    api = await token_client()
    url = "/api/v1/stores/b/orders:batch"
    await api.put("/api/v1/stores/b/orders/A", json=order_payload("A"))
    await api.put(
        "/api/v1/stores/b/orders/S", json=order_payload("S", updated_at="2026-11-22T00:00:00Z")
    )
    broken = order_payload("E")
    broken["items"] = []
    items = [
        order_payload("A"),  # unchanged
        order_payload("A2"),  # created
        order_payload("S"),  # stale: older than what we hold
        broken,  # error
        order_payload("U", status="TRADE_CLOSED_BY_TAOBAO", paid_amount="0"),  # created
    ]
    await api.put("/api/v1/stores/b/orders/U", json=order_payload("U"))  # … so this is updated
    response = await api.post(url, json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["outcome"] for r in body["results"]] == [
        "unchanged",
        "created",
        "stale",
        "error",
        "updated",
    ]
    assert body["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "stale": 1,
        "error": 1,
    }
    error = body["results"][3]
    assert error["external_id"] == "E"
    assert error["errors"][0]["field"] == "items"
    assert await _count(db, Order, Order.external_id == "E") == 0
    assert (await _order(db, "U")).status == "TRADE_CLOSED_BY_TAOBAO"
    # A batch leaves one audit entry with its counts.
    async with db.sessionmaker() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "order.batch_import"))
    assert entry is not None and entry.after == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "stale": 1,
        "error": 1,
    }

    again = await api.post(url, json={"items": [order_payload("A2"), order_payload("U")]})
    assert again.json()["counts"]["unchanged"] == 1  # A2 is unchanged
    empty = await api.post(url, json={"items": []})
    assert empty.status_code == 422


async def test_same_order_twice_in_one_batch_newest_wins(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("dup")
    api = await token_client()
    newer = order_payload("D", status="WAIT_BUYER_CONFIRM_GOODS", updated_at="2026-11-22T00:00:00Z")
    older = order_payload("D")
    response = await api.post("/api/v1/stores/dup/orders:batch", json={"items": [newer, older]})
    assert [r["outcome"] for r in response.json()["results"]] == ["created", "stale"]
    assert (await _order(db, "D")).status == "WAIT_BUYER_CONFIRM_GOODS"


async def test_permissions(
    make_store: MakeStore, token_client: MakeTokenClient, login_as: LoginAs
) -> None:
    await make_store("p")
    url = "/api/v1/stores/p/orders/T1"
    agent = await login_as("agent")
    response = await agent.put(url, json=order_payload("T1"))
    assert response.status_code == 403
    assert "store.import" in response.json()["title_zh"]
    no_scope = await token_client("admin", ["orders.read"])
    assert (await no_scope.put(url, json=order_payload("T1"))).status_code == 403
    # A token's scope never exceeds its owner's role: an agent's store.import token is useless.
    agent_token = await token_client("agent", ["store.import"])
    assert (await agent_token.put(url, json=order_payload("T1"))).status_code == 403
    anonymous = httpx.AsyncClient(transport=agent._transport, base_url="http://testserver")
    assert (await anonymous.put(url, json=order_payload("T1"))).status_code == 401
    await anonymous.aclose()
    supervisor = await login_as("supervisor")
    assert (await supervisor.put(url, json=order_payload("T1"))).status_code == 201


async def test_customers_identities_addresses_and_phone_tail(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("c")
    api = await token_client()
    body = {
        "external_id": "C-li",
        "name": "李四",
        "phone": "139 0000 4321",
        "email": "li@example.com",
        "tier": "vip",
        "tags": ["老客", "高价值"],
        "identities": [{"channel": "taobao", "external_user_id": "li_si_88", "display": "李四"}],
        "addresses": [
            {
                "receiver_name": "李四",
                "phone": "13900004321",
                "province": "广东省",
                "city": "深圳市",
                "district": "南山区",
                "detail": "科技园 1 号",
                "is_default": True,
            }
        ],
        "updated_at": "2026-11-10T00:00:00Z",
    }
    url = "/api/v1/stores/c/customers/C-li"
    assert (await api.put(url, json=body)).json()["outcome"] == "created"
    assert (await api.put(url, json=body)).json()["outcome"] == "unchanged"
    changed = dict(body, phone="13700001111", updated_at="2026-11-11T00:00:00Z")
    changed["addresses"] = []
    assert (await api.put(url, json=changed)).json()["outcome"] == "updated"
    async with db.sessionmaker() as s:
        customer = await s.scalar(select(Customer).where(Customer.external_id == "C-li"))
    assert customer is not None
    assert customer.tier == "vip" and customer.tags == ["老客", "高价值"]
    assert customer.phone_tail == "1111"
    assert await _count(db, Address, Address.customer_id == customer.id) == 0
    assert await _count(db, CustomerIdentity, CustomerIdentity.customer_id == customer.id) == 1

    # Another customer claiming the same Taobao account is an error, not a silent merge.
    thief = dict(body, external_id="C-other")
    response = await api.post("/api/v1/stores/c/customers:batch", json={"items": [thief]})
    result = response.json()["results"][0]
    assert result["outcome"] == "error" and result["errors"][0]["field"] == "identities"


async def test_stub_customer_is_completed_by_real_record(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("stub")
    api = await token_client()
    await api.put("/api/v1/stores/stub/orders/T1", json=order_payload("T1"))
    # The stub has no source timestamp, so even an old customer record updates it.
    real = {"external_id": "C-zhang", "name": "张三丰", "updated_at": "2020-01-01T00:00:00Z"}
    response = await api.put("/api/v1/stores/stub/customers/C-zhang", json=real)
    assert response.json()["outcome"] == "updated"
    assert await _count(db, Customer) == 1


async def test_products_reviews_and_shipments(
    db: Database, make_store: MakeStore, token_client: MakeTokenClient
) -> None:
    await make_store("all")
    api = await token_client()
    base = "/api/v1/stores/all"
    product: dict[str, Any] = {
        "external_id": "P1",
        "title": "羊毛围巾",
        "price": "129.00",
        "return_exclusion": "hygiene_unsealed",
        "skus": [{"external_id": "P1-grey", "color": "灰色", "price": "129.00", "stock": 5}],
        "updated_at": "2026-11-01T00:00:00Z",
    }
    assert (await api.put(f"{base}/products/P1", json=product)).json()["outcome"] == "created"
    assert (await api.put(f"{base}/products/P1", json=product)).json()["outcome"] == "unchanged"
    product["skus"][0]["stock"] = 0
    product["updated_at"] = "2026-11-02T00:00:00Z"
    assert (await api.put(f"{base}/products/P1", json=product)).json()["outcome"] == "updated"
    async with db.sessionmaker() as s:
        assert (await s.scalar(select(Sku.stock).where(Sku.external_id == "P1-grey"))) == 0
    assert await _count(db, Product) == 1

    await api.put(f"{base}/orders/T1", json=order_payload("T1"))
    shipment = {
        "order_external_id": "T1",
        "carrier": "顺丰速运",
        "tracking_no": "SF1234567890",
        "status": "in_transit",
        "shipped_at": "2026-11-21T09:00:00+08:00",
        "events": [
            {
                "occurred_at": "2026-11-21T09:00:00+08:00",
                "description": "已揽收",
                "location": "杭州",
            },
        ],
        "updated_at": "2026-11-21T09:00:00+08:00",
    }
    url = f"{base}/shipments/SF1234567890"
    assert (await api.put(url, json=shipment)).json()["outcome"] == "created"
    assert (await api.put(url, json=shipment)).json()["outcome"] == "unchanged"
    newer = dict(shipment, status="delivered", updated_at="2026-11-22T15:00:00+08:00")
    newer["events"] = [
        *shipment["events"],
        {
            "occurred_at": "2026-11-22T15:00:00+08:00",
            "description": "已签收",
            "status": "delivered",
        },
    ]
    assert (await api.put(url, json=newer)).json()["outcome"] == "updated"
    assert (await api.put(url, json=shipment)).json()["outcome"] == "stale"
    async with db.sessionmaker() as s:
        ship = await s.scalar(select(Shipment))
    assert ship is not None and ship.status == "delivered"
    assert await _count(db, LogisticsEvent) == 2
    orphan = dict(shipment, order_external_id="NOPE")
    response = await api.put(url, json=orphan)
    assert response.status_code == 422
    assert "订单 NOPE 不存在" in response.json()["title_zh"]

    review = {
        "external_id": "R1",
        "order_external_id": "T1",
        "product_external_id": "P1",
        "customer_external_id": "C-zhang",
        "rating": 1,
        "content": "质量太差了",
        "reviewed_at": "2026-11-23T08:00:00+08:00",
        "updated_at": "2026-11-23T08:00:00+08:00",
    }
    assert (await api.put(f"{base}/reviews/R1", json=review)).json()["outcome"] == "created"
    async with db.sessionmaker() as s:
        saved = await s.scalar(select(Review))
    assert saved is not None and saved.order_id is not None and saved.customer_id is not None
    bad = dict(review, rating=6)
    assert (await api.put(f"{base}/reviews/R1", json=bad)).status_code == 422


async def test_events_only_for_real_changes(db: Database, make_store: MakeStore) -> None:
    from kefu.core.audit import Actor
    from kefu.core.events import pending_events
    from kefu.store.service import import_batch

    store = await make_store("ev")
    actor = Actor.system("test")
    async with db.sessionmaker() as s:
        await import_batch(s, actor, store, "order", [order_payload("E1"), order_payload("E2")])
        events = pending_events(s)
        await s.commit()
    assert [(c, e["type"], e["external_id"], e["outcome"]) for c, e in events] == [
        (f"store:{store.id}", "order.upserted", "E1", "created"),
        (f"store:{store.id}", "order.upserted", "E2", "created"),
    ]
    async with db.sessionmaker() as s:
        changed = order_payload("E2", status="TRADE_CLOSED_BY_TAOBAO")
        await import_batch(s, actor, store, "order", [order_payload("E1"), changed])
        assert [e["external_id"] for _, e in pending_events(s)] == ["E2"]
        await s.rollback()
