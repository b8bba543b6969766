from __future__ import annotations

import httpx

from tests.fixtures.factories import LoginAs


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_unknown_api_route_is_problem_json_in_chinese(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == body["title_zh"]
    assert body["title_en"] == "Not found"


async def test_page_redirects_to_login_and_api_says_401(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=/")
    api = await client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.json()["code"] == "unauthorized"


async def test_signed_in_agent_sees_home(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    page = await agent.get("/")
    assert page.status_code == 200
    me = (await agent.get("/api/v1/me")).json()
    assert me["role"] == "agent"
    assert "customers.reveal_pii" not in me["permissions"]
