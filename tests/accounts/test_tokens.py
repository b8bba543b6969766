"""API tokens: shown once, hashed at rest, scoped, never beyond the role, revocable, expiring."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from kefu.accounts.models import ApiToken
from kefu.core.audit import AuditEntry
from kefu.core.db import Database, utcnow
from tests.accounts.conftest import NewClient
from tests.fixtures.factories import LoginAs

TOKEN_RE = re.compile(r"^kefu_([0-9a-f]{8})_[A-Za-z0-9_-]{40,}$")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_token_is_shown_once_and_stored_hashed(login_as: LoginAs, db: Database) -> None:
    admin = await login_as("admin")
    created = await admin.post(
        "/api/v1/tokens", json={"name": "ERP 同步", "scopes": ["orders.read", "customers.read"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    match = TOKEN_RE.match(body["token"])
    assert match, body["token"]
    assert body["prefix"] == match.group(1)
    assert body["scopes"] == ["customers.read", "orders.read"]
    assert body["state"] == "active"
    listed = (await admin.get("/api/v1/tokens")).json()
    assert [t["prefix"] for t in listed] == [body["prefix"]]
    assert "token" not in listed[0]
    async with db.sessionmaker() as s:
        row = await s.scalar(select(ApiToken))
        assert row is not None
        assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
        stored = " ".join(str(v) for v in vars(row).values())
        assert body["token"] not in stored
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.create"))
        assert audit is not None and body["token"] not in str(audit.after)


async def test_token_acts_with_its_scopes_only(login_as: LoginAs, new_client: NewClient) -> None:
    admin = await login_as("admin")
    token = (
        await admin.post("/api/v1/tokens", json={"name": "read", "scopes": ["customers.read"]})
    ).json()["token"]
    api = await new_client()
    me = await api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["permissions"] == ["customers.read"]
    assert me.json()["via"] == "token"
    # The owner is an admin, but this token was not given users.manage.
    assert (await api.get("/api/v1/users", headers=bearer(token))).status_code == 403
    # Bearer requests need no CSRF token and no cookie.
    assert "kefu_session" not in api.cookies


async def test_token_cannot_exceed_the_owners_role(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    beyond = await agent.post(
        "/api/v1/tokens", json={"name": "sneaky", "scopes": ["customers.read", "users.manage"]}
    )
    assert beyond.status_code == 403
    assert "users.manage" in beyond.json()["title_zh"]
    unknown = await agent.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
    assert unknown.status_code == 422
    empty = await agent.post("/api/v1/tokens", json={"name": "x", "scopes": []})
    assert empty.status_code == 422
    assert (await agent.get("/api/v1/tokens")).json() == []


async def test_demoting_the_owner_narrows_existing_tokens(
    login_as: LoginAs, new_client: NewClient
) -> None:
    admin = await login_as("admin")
    supervisor = await login_as("supervisor")
    token = (
        await supervisor.post(
            "/api/v1/tokens", json={"name": "pii", "scopes": ["customers.reveal_pii"]}
        )
    ).json()["token"]
    api = await new_client()
    assert (await api.get("/api/v1/me", headers=bearer(token))).json()["permissions"] == [
        "customers.reveal_pii"
    ]
    owner_id = supervisor.user.id  # type: ignore[attr-defined]
    await admin.patch(f"/api/v1/users/{owner_id}", json={"role": "agent"})
    assert (await api.get("/api/v1/me", headers=bearer(token))).json()["permissions"] == []


async def test_revoked_token_stops_working(
    login_as: LoginAs, new_client: NewClient, db: Database
) -> None:
    agent = await login_as("agent")
    body = (
        await agent.post("/api/v1/tokens", json={"name": "t", "scopes": ["orders.read"]})
    ).json()
    api = await new_client()
    assert (await api.get("/api/v1/me", headers=bearer(body["token"]))).status_code == 200
    assert (await agent.delete(f"/api/v1/tokens/{body['id']}")).status_code == 204
    refused = await api.get("/api/v1/me", headers=bearer(body["token"]))
    assert refused.status_code == 401
    assert refused.json()["title_zh"] == "API 令牌无效、已过期或已撤销"
    listed = (await agent.get("/api/v1/tokens")).json()
    assert listed[0]["state"] == "revoked"
    async with db.sessionmaker() as s:
        actions = (await s.scalars(select(AuditEntry.action))).all()
        assert "api_token.revoke" in actions


async def test_expired_token_is_refused(
    login_as: LoginAs, new_client: NewClient, db: Database
) -> None:
    agent = await login_as("agent")
    soon = (utcnow() + timedelta(days=1)).isoformat()
    body = (
        await agent.post(
            "/api/v1/tokens", json={"name": "t", "scopes": ["orders.read"], "expires_at": soon}
        )
    ).json()
    assert body["expires_at"] is not None
    api = await new_client()
    assert (await api.get("/api/v1/me", headers=bearer(body["token"]))).status_code == 200
    async with db.sessionmaker() as s:
        row = await s.get(ApiToken, body["id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
        await s.commit()
    assert (await api.get("/api/v1/me", headers=bearer(body["token"]))).status_code == 401
    assert (await agent.get("/api/v1/tokens")).json()[0]["state"] == "expired"
    past = (utcnow() - timedelta(days=1)).isoformat()
    stale = await agent.post(
        "/api/v1/tokens", json={"name": "t2", "scopes": ["orders.read"], "expires_at": past}
    )
    assert stale.status_code == 422


async def test_garbage_bearer_is_401(new_client: NewClient) -> None:
    api = await new_client()
    response = await api.get("/api/v1/me", headers=bearer("kefu_00000000_nope"))
    assert response.status_code == 401


async def test_a_token_cannot_mint_tokens_or_change_passwords(
    login_as: LoginAs, new_client: NewClient
) -> None:
    admin = await login_as("admin")
    every_scope = (await admin.get("/api/v1/me")).json()["permissions"]
    token = (
        await admin.post("/api/v1/tokens", json={"name": "all", "scopes": every_scope})
    ).json()["token"]
    api = await new_client()
    minted = await api.post(
        "/api/v1/tokens", json={"name": "more", "scopes": ["orders.read"]}, headers=bearer(token)
    )
    assert minted.status_code == 403
    password = await api.post(
        "/api/v1/me/password",
        json={"old_password": "x", "new_password": "yyyyyyyyyy"},
        headers=bearer(token),
    )
    assert password.status_code == 403


async def test_only_owner_or_admin_revokes(login_as: LoginAs) -> None:
    agent = await login_as("agent")
    other = await login_as("agent")
    admin = await login_as("admin")
    token_id = (
        await agent.post("/api/v1/tokens", json={"name": "t", "scopes": ["orders.read"]})
    ).json()["id"]
    assert (await other.delete(f"/api/v1/tokens/{token_id}")).status_code == 404
    assert (await other.get("/api/v1/tokens?all=true")).status_code == 403
    everyone = (await admin.get("/api/v1/tokens?all=true")).json()
    assert token_id in [t["id"] for t in everyone]
    assert (await admin.delete(f"/api/v1/tokens/{token_id}")).status_code == 204


async def test_tokens_page_shows_the_secret_once(login_as: LoginAs) -> None:
    supervisor = await login_as("supervisor")
    page = await supervisor.get("/settings/tokens")
    assert page.status_code == 200
    # Only scopes the role grants are offered.
    assert 'value="customers.reveal_pii"' in page.text
    assert 'value="users.manage"' not in page.text
    created = await supervisor.post(
        "/settings/tokens",
        data={
            "name": "报表导出",
            "scopes": ["reports.read"],
            "expires_days": "30",
            "csrf_token": supervisor.headers["X-CSRF-Token"],
        },
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'data-testid="new-token">([^<]+)<', created.text)
    assert secret and TOKEN_RE.match(secret.group(1))
    again = await supervisor.get("/settings/tokens")
    assert secret.group(1) not in again.text
    assert "报表导出" in again.text
    bad = await supervisor.post(
        "/settings/tokens",
        data={"name": "", "scopes": [], "csrf_token": supervisor.headers["X-CSRF-Token"]},
    )
    assert bad.status_code == 422
    token_id = (await supervisor.get("/api/v1/tokens")).json()[0]["id"]
    revoked = await supervisor.post(
        f"/settings/tokens/{token_id}/revoke",
        data={"csrf_token": supervisor.headers["X-CSRF-Token"]},
    )
    assert revoked.status_code == 303
    assert (await supervisor.get("/api/v1/tokens")).json()[0]["state"] == "revoked"
