"""The JSON API and the agents' pages: permissions, idempotent creation, Chinese errors,
the self-service page's access rules."""

from __future__ import annotations

from typing import Any

import httpx

from kefu.channels.identity import identifier_hash
from kefu.core.db import Database
from tests.fixtures.factories import CSRF_RE, LoginAs


def _body(order: Any, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "kind": "return_refund",
        "reason": "no_reason",
        "lines": [{"order_item_id": order.items[0].id, "quantity": 1}],
        **extra,
    }


async def test_api_create_is_idempotent_and_validates(login_as: LoginAs, signed_order: Any) -> None:
    _, _, order = signed_order
    agent = await login_as("agent")
    first = await agent.post(
        "/api/v1/aftersales", json=_body(order), headers={"Idempotency-Key": "k1"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "requested" and first.json()["number"].startswith("SH")
    again = await agent.post(
        "/api/v1/aftersales", json=_body(order), headers={"Idempotency-Key": "k1"}
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    bad = await agent.post("/api/v1/aftersales", json=_body(order, kind="swap", lines=[]))
    assert bad.status_code == 422
    problem = bad.json()
    assert problem["title_zh"] and {e["field"] for e in problem["errors"]} >= {"kind", "lines"}
    listed = await agent.get("/api/v1/aftersales", params={"kind": "return_refund"})
    assert [c["id"] for c in listed.json()["items"]] == [first.json()["id"]]


async def test_api_permissions(login_as: LoginAs, signed_order: Any) -> None:
    _, _, order = signed_order
    agent = await login_as("agent")
    qa = await login_as("qa")
    created = (await agent.post("/api/v1/aftersales", json=_body(order))).json()
    assert (await qa.get(f"/api/v1/aftersales/{created['id']}")).status_code == 200
    assert (await qa.post("/api/v1/aftersales", json=_body(order))).status_code == 403
    # Agents may not approve; supervisors may.
    denied = await agent.post(f"/api/v1/aftersales/{created['id']}/approve", json={})
    assert denied.status_code == 403 and "审核" in denied.json()["title_zh"]
    boss = await login_as("supervisor")
    ok = await boss.post(f"/api/v1/aftersales/{created['id']}/approve", json={})
    assert ok.status_code == 200 and ok.json()["status"] == "awaiting_return"
    wrong = await boss.post(f"/api/v1/aftersales/{created['id']}/inspect", json={"passed": True})
    assert wrong.status_code == 409 and "待买家退货" in wrong.json()["title_zh"]


async def test_pages_list_detail_and_actions(login_as: LoginAs, signed_order: Any) -> None:
    _, _, order = signed_order
    boss = await login_as("supervisor")
    created = (await boss.post("/api/v1/aftersales", json=_body(order))).json()
    listing = await boss.get("/aftersales")
    assert listing.status_code == 200 and created["number"] in listing.text
    detail = await boss.get(f"/aftersales/{created['id']}")
    assert "七天无理由" in detail.text and "/approve" in detail.text
    done = await boss.post(f"/aftersales/{created['id']}/approve", data={})
    assert done.status_code == 303
    after = await boss.get(f"/aftersales/{created['id']}")
    assert "待买家退货" in after.text
    assert (await boss.get(f"/orders/{order.id}")).text.count("/aftersales/new?order_id=") == 1
    agent = await login_as("agent")
    page = await agent.get(f"/aftersales/{created['id']}")
    assert "/approve" not in page.text  # no approve form without the permission
    qa = await login_as("qa")
    assert (await qa.get("/aftersales/warehouse")).status_code == 403
    assert (await agent.get("/aftersales/warehouse")).status_code == 200


async def test_anonymous_buyer_sees_no_order_until_verified(
    client: httpx.AsyncClient, signed_order: Any
) -> None:
    store, customer, order = signed_order
    start = await client.get(f"/chat/{store.code}/aftersales")
    assert start.status_code == 200 and order.order_no not in start.text
    assert (await client.get(f"/chat/{store.code}/aftersales/orders/{order.id}")).status_code == 404
    token = CSRF_RE.search(start.text)
    assert token
    csrf = token.group(1)
    for _ in range(5):
        wrong = await client.post(
            f"/chat/{store.code}/aftersales/lookup",
            data={"csrf_token": csrf, "order_no": order.order_no, "phone_tail": "0000"},
        )
        assert wrong.status_code == 422 and "不正确" in wrong.text
    limited = await client.post(
        f"/chat/{store.code}/aftersales/lookup",
        data={"csrf_token": csrf, "order_no": order.order_no, "phone_tail": customer.phone[-4:]},
    )
    assert limited.status_code == 429  # even the right answer waits once the limit is hit


async def test_identified_buyer_and_verified_lookup(
    client: httpx.AsyncClient, signed_order: Any
) -> None:
    store, customer, order = signed_order
    signed = identifier_hash(store.webhook_secret, customer.external_id)
    page = await client.get(
        f"/chat/{store.code}/aftersales", params={"uid": customer.external_id, "uid_hash": signed}
    )
    assert order.order_no in page.text
    forged = await client.get(
        f"/chat/{store.code}/aftersales", params={"uid": "someone", "uid_hash": "0" * 64}
    )
    assert forged.status_code == 403


async def test_lookup_unlocks_only_that_order(
    client: httpx.AsyncClient, signed_order: Any, make_order: Any, db: Database
) -> None:
    store, customer, order = signed_order
    other = await make_order(store, customer)
    start = await client.get(f"/chat/{store.code}/aftersales")
    match = CSRF_RE.search(start.text)
    assert match
    found = await client.post(
        f"/chat/{store.code}/aftersales/lookup",
        data={
            "csrf_token": match.group(1),
            "order_no": order.order_no,
            "phone_tail": customer.phone[-4:],
        },
    )
    assert found.status_code == 303
    assert (await client.get(found.headers["location"])).status_code == 200
    assert (await client.get(f"/chat/{store.code}/aftersales/orders/{other.id}")).status_code == 404
