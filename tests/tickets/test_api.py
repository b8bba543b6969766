"""The JSON API: create, get, list, transition, assign, note, reply; permissions; errors."""

from __future__ import annotations

import httpx

from kefu.accounts.permissions import Role
from tests.fixtures.factories import LoginAs
from tests.tickets.conftest import Shop


async def _create(client: httpx.AsyncClient, **fields: object) -> dict[str, object]:
    body = {"subject": "退货地址是哪里", "type_code": "return_exchange", **fields}
    response = await client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


async def test_api_round_trip(login_as: LoginAs, shop: Shop) -> None:
    agent = await login_as(Role.agent)
    created = await _create(agent, customer_id=shop.customer.id, order_ids=[shop.order.id])
    tid = created["id"]
    assert str(created["number"]).startswith("GD") and created["source"] == "api"
    assert created["store_id"] == shop.store.id

    me = agent.user  # type: ignore[attr-defined]
    r = await agent.post(f"/api/v1/tickets/{tid}/assign", json={"assignee_id": me.id})
    assert r.status_code == 200 and r.json()["assignee_id"] == me.id
    r = await agent.post(f"/api/v1/tickets/{tid}/notes", json={"body": "先确认仓库地址"})
    assert r.status_code == 201 and r.json()["kind"] == "note"
    r = await agent.post(
        f"/api/v1/tickets/{tid}/replies",
        json={"body": "退货地址已发您", "status": "pending_customer"},
    )
    assert r.status_code == 201
    r = await agent.post(f"/api/v1/tickets/{tid}/customer-replies", json={"body": "收到了"})
    assert r.status_code == 201
    detail = (await agent.get(f"/api/v1/tickets/{tid}")).json()
    assert detail["status"] == "open"
    kinds = [m["kind"] for m in detail["messages"] if m["kind"] != "event"]
    assert kinds == ["note", "reply", "customer"]
    assert detail["order_ids"] == [shop.order.id]

    listed = (await agent.get("/api/v1/tickets", params={"assignee": "me"})).json()
    assert [t["id"] for t in listed["items"]] == [tid] and listed["has_more"] is False
    found = (await agent.get("/api/v1/tickets", params={"q": "退货地址"})).json()
    assert [t["id"] for t in found["items"]] == [tid]


async def test_invalid_transition_is_a_chinese_409(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    tid = (await _create(agent))["id"]
    r = await agent.post(f"/api/v1/tickets/{tid}/transition", json={"status": "resolved"})
    assert r.status_code == 200
    r = await agent.post(f"/api/v1/tickets/{tid}/transition", json={"status": "pending_internal"})
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "invalid_transition"
    assert body["title_zh"] == "工单状态不能从「已解决」改为「待内部处理」"


async def test_bad_input_is_explained(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    r = await agent.post("/api/v1/tickets", json={"subject": "  ", "priority": "asap"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"subject", "priority"} <= fields
    r = await agent.post("/api/v1/tickets", json={"subject": "x", "type_code": "nope"})
    assert r.status_code == 422 and "未知的工单类型" in r.json()["title_zh"]
    assert (await agent.get("/api/v1/tickets/999999")).status_code == 404


async def test_permissions(login_as: LoginAs, client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/tickets")).status_code == 401
    qa = await login_as(Role.qa)  # reads tickets, may not change them
    assert (await qa.get("/api/v1/tickets")).status_code == 200
    r = await qa.post("/api/v1/tickets", json={"subject": "x"})
    assert r.status_code == 403 and "tickets.write" in r.json()["title_zh"]
    agent = await login_as(Role.agent)
    assert (await agent.get("/settings/tickets")).status_code == 403
    admin = await login_as(Role.admin)
    assert (await admin.get("/settings/tickets")).status_code == 200


async def test_csrf_required_for_cookie_sessions(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    del agent.headers["X-CSRF-Token"]
    r = await agent.post("/api/v1/tickets", json={"subject": "x"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"


async def test_compensation_approval_over_api(login_as: LoginAs) -> None:
    agent = await login_as(Role.agent)
    supervisor = await login_as(Role.supervisor)
    tid = (await _create(agent, type_code="complaint", subject="少发一件"))["id"]
    r = await agent.post(
        f"/api/v1/tickets/{tid}/compensations", json={"kind": "refund", "amount": "120"}
    )
    assert r.status_code == 201 and r.json()["status"] == "pending"
    cid = r.json()["id"]
    r = await agent.post(f"/api/v1/tickets/compensations/{cid}/decision", json={"approve": True})
    assert r.status_code == 403
    r = await supervisor.post(
        f"/api/v1/tickets/compensations/{cid}/decision", json={"approve": True}
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
