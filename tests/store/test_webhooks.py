"""Signed store webhooks: good and bad signatures, replays, duplicate deliveries."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from kefu.core.db import Database
from kefu.store.models import Order, Store, WebhookDelivery
from kefu.store.webhooks import sign
from tests.store.conftest import MakeStore, order_payload


def _headers(
    store: Store, body: bytes, delivery: str, *, event: str = "order.upserted", **extra: str
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "X-Kefu-Signature": sign(store.webhook_secret, body, extra.get("X-Kefu-Timestamp")),
        "X-Kefu-Delivery": delivery,
        "X-Kefu-Event": event,
        **extra,
    }


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


async def _orders(db: Database) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(Order)) or 0)


async def test_signed_delivery_applies_once(
    db: Database, client: httpx.AsyncClient, make_store: MakeStore
) -> None:
    store = await make_store("wh")
    body = _body(order_payload("W1"))
    url = "/api/v1/stores/wh/webhooks"
    first = await client.post(url, content=body, headers=_headers(store, body, "d-1"))
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    assert first.json()["result"]["outcome"] == "created"

    retry = await client.post(url, content=body, headers=_headers(store, body, "d-1"))
    assert retry.status_code == 200
    assert retry.json()["duplicate"] is True
    assert await _orders(db) == 1
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1

    # A new delivery of the same data is applied and finds nothing to change.
    other = await client.post(url, content=body, headers=_headers(store, body, "d-2"))
    assert other.json() == {
        "ok": True,
        "duplicate": False,
        "event": "order.upserted",
        "result": {
            "index": 0,
            "external_id": "W1",
            "outcome": "unchanged",
            "id": first.json()["result"]["id"],
            "errors": [],
        },
    }


async def test_bad_signature_is_refused(
    db: Database, client: httpx.AsyncClient, make_store: MakeStore
) -> None:
    store = await make_store("wh2")
    await make_store("wh3")
    body = _body(order_payload("W2"))
    url = "/api/v1/stores/wh2/webhooks"
    headers = _headers(store, body, "d-1")
    tampered = body.replace(b"307.00", b"1.00")
    response = await client.post(url, content=tampered, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert response.json()["title_zh"] == "Webhook 签名无效"
    missing = {k: v for k, v in headers.items() if k != "X-Kefu-Signature"}
    assert (await client.post(url, content=body, headers=missing)).status_code == 401
    # Signed with another store's secret.
    wrong = dict(headers, **{"X-Kefu-Signature": sign("whsec-other", body)})
    assert (await client.post(url, content=body, headers=wrong)).status_code == 401
    assert await _orders(db) == 0


async def test_timestamp_replay_window(
    db: Database, client: httpx.AsyncClient, make_store: MakeStore
) -> None:
    store = await make_store("wh4")
    body = _body(order_payload("W4"))
    url = "/api/v1/stores/wh4/webhooks"
    now = str(int(time.time()))
    fresh = _headers(store, body, "d-1", **{"X-Kefu-Timestamp": now})
    assert (await client.post(url, content=body, headers=fresh)).status_code == 200

    old = str(int(time.time()) - 600)
    replay = _headers(store, body, "d-2", **{"X-Kefu-Timestamp": old})
    response = await client.post(url, content=body, headers=replay)
    assert response.status_code == 401
    assert response.json()["code"] == "stale_delivery"
    # The timestamp is signed: moving it forward without re-signing breaks the signature.
    moved = dict(fresh, **{"X-Kefu-Delivery": "d-3", "X-Kefu-Timestamp": str(int(now) + 1)})
    assert (await client.post(url, content=body, headers=moved)).status_code == 401


async def test_invalid_payload_or_event_is_not_recorded(
    db: Database, client: httpx.AsyncClient, make_store: MakeStore
) -> None:
    store = await make_store("wh5")
    url = "/api/v1/stores/wh5/webhooks"
    bad = _body(order_payload("W5", status="NOPE"))
    response = await client.post(url, content=bad, headers=_headers(store, bad, "d-1"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status"
    good = _body(order_payload("W5"))
    unknown = _headers(store, good, "d-1", event="order.deleted")
    assert (await client.post(url, content=good, headers=unknown)).status_code == 422
    # The failed delivery id was not recorded, so the shop's corrected retry applies.
    retry = await client.post(url, content=good, headers=_headers(store, good, "d-1"))
    assert retry.json()["duplicate"] is False
    assert await _orders(db) == 1


async def test_other_entities_by_event(
    db: Database, client: httpx.AsyncClient, make_store: MakeStore
) -> None:
    store = await make_store("wh6")
    url = "/api/v1/stores/wh6/webhooks"
    customer = _body({"external_id": "C1", "name": "王五", "updated_at": "2026-11-01T00:00:00Z"})
    response = await client.post(
        url, content=customer, headers=_headers(store, customer, "c-1", event="customer.upserted")
    )
    assert response.json()["result"]["outcome"] == "created"
    unknown_store = await client.post(
        "/api/v1/stores/missing/webhooks", content=customer, headers=_headers(store, customer, "x")
    )
    assert unknown_store.status_code == 404
