"""Signing in and out: the form, lock-out, rate limit, CSRF, and server-side session ends."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from kefu.accounts.models import LoginSession, User
from kefu.app import create_app
from kefu.core.audit import AuditEntry
from kefu.core.config import Settings
from kefu.core.db import Database, utcnow
from tests.accounts.conftest import NewClient, csrf_of, post_login
from tests.fixtures.factories import PASSWORD, MakeUser


async def test_login_success_signs_in_and_goes_to_next(
    new_client: NewClient, make_user: MakeUser, db: Database
) -> None:
    user = await make_user("agent")
    client = await new_client()
    response = await post_login(client, user.username, next="/settings")
    assert response.status_code == 303
    assert response.headers["location"] == "/settings"
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    async with db.sessionmaker() as s:
        fresh = await s.get(User, user.id)
        assert fresh is not None and fresh.last_login_at is not None
        sessions = (await s.scalars(select(LoginSession))).all()
        assert [row.user_id for row in sessions] == [user.id]
        actions = (await s.scalars(select(AuditEntry.action))).all()
        assert "user.login" in actions


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
async def test_login_never_redirects_off_site(
    new_client: NewClient, make_user: MakeUser, target: str
) -> None:
    user = await make_user("agent")
    client = await new_client()
    response = await post_login(client, user.username, next=target)
    assert response.headers["location"] == "/"


async def test_wrong_password_and_unknown_user_look_the_same(
    new_client: NewClient, make_user: MakeUser
) -> None:
    user = await make_user("agent")
    client = await new_client()
    wrong = await post_login(client, user.username, "not-the-password")
    unknown = await post_login(client, "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "用户名或密码错误" in response.text
    # The typed username is kept so the person only retypes the password.
    assert f'value="{user.username}"' in wrong.text
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_lockout_after_repeated_failures(
    new_client: NewClient, make_user: MakeUser, db: Database, settings: Settings
) -> None:
    user = await make_user("agent")
    client = await new_client()
    for _ in range(settings.login_max_failures - 1):
        assert (await post_login(client, user.username, "wrong-password")).status_code == 401
    locking = await post_login(client, user.username, "wrong-password")
    assert locking.status_code == 423
    # Even the right password is refused while the lock lasts.
    refused = await post_login(client, user.username, PASSWORD)
    assert refused.status_code == 423
    assert "锁定" in refused.text
    async with db.sessionmaker() as s:
        locked = await s.get(User, user.id)
        assert locked is not None and locked.locked_until is not None
        assert locked.locked_until > utcnow() + timedelta(
            minutes=settings.login_lockout_minutes - 1
        )
        assert "user.locked" in (await s.scalars(select(AuditEntry.action))).all()
        # The lock ends by itself once its time has passed.
        locked.locked_until = utcnow() - timedelta(seconds=1)
        await s.commit()
    assert (await post_login(client, user.username, PASSWORD)).status_code == 303


async def test_login_rate_limit_per_ip(
    settings: Settings, db: Database, make_user: MakeUser
) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"login_rate_per_minute": 3}), db)
    user = await make_user("agent")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # Failures on different accounts, so no single account locks.
        for name in ("ghost1", "ghost2", "ghost3"):
            assert (await post_login(client, name, "guess")).status_code == 401
        limited = await post_login(client, user.username, PASSWORD)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "60"
        assert "登录尝试过于频繁" in limited.text
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_successful_sign_ins_do_not_use_up_the_limit(
    settings: Settings, db: Database, make_user: MakeUser
) -> None:
    """A whole office behind one IP signs in at nine o'clock; only failures count."""
    app: FastAPI = create_app(settings.model_copy(update={"login_rate_per_minute": 2}), db)
    transport = httpx.ASGITransport(app=app)
    for _ in range(4):
        user = await make_user("agent")
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await post_login(c, user.username)).status_code == 303


async def test_login_form_without_csrf_token_is_refused(
    new_client: NewClient, make_user: MakeUser
) -> None:
    user = await make_user("agent")
    client = await new_client()
    await client.get("/login")
    response = await client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 403
    assert "页面已过期" in response.text
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_signed_in_writes_need_the_csrf_token(
    new_client: NewClient, make_user: MakeUser
) -> None:
    user = await make_user("agent")
    client = await new_client()
    await post_login(client, user.username)
    del client.headers["X-CSRF-Token"]
    body = {"name": "x", "scopes": ["customers.read"]}
    refused = await client.post("/api/v1/tokens", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "csrf_failed"
    forged = await client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    logout = await client.post("/logout", data={"csrf_token": "forged"})
    assert logout.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_logout_ends_the_session_on_the_server(
    new_client: NewClient, make_user: MakeUser, db: Database
) -> None:
    user = await make_user("agent")
    client = await new_client()
    await post_login(client, user.username)
    stolen = dict(client.cookies)  # what someone copying the cookie would hold
    token = client.headers["X-CSRF-Token"]
    response = await client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await client.get("/api/v1/me")).status_code == 401
    page = await client.get("/login")
    assert "您已退出登录" in page.text
    replay = await new_client()
    replay.cookies.update(stolen)
    assert (await replay.get("/api/v1/me")).status_code == 401
    async with db.sessionmaker() as s:
        row = await s.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
        assert row is not None and row.revoked_at is not None
        assert "user.logout" in (await s.scalars(select(AuditEntry.action))).all()


async def test_logout_when_not_signed_in_goes_to_login(new_client: NewClient) -> None:
    client = await new_client()
    response = await client.post("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


async def test_login_page_redirects_when_already_signed_in(
    new_client: NewClient, make_user: MakeUser
) -> None:
    user = await make_user("agent")
    client = await new_client()
    await post_login(client, user.username)
    response = await client.get("/login?next=/settings")
    assert response.status_code == 303
    assert response.headers["location"] == "/settings"


async def test_disabled_user_cannot_sign_in(
    new_client: NewClient, make_user: MakeUser, db: Database
) -> None:
    user = await make_user("agent")
    async with db.sessionmaker() as s:
        row = await s.get(User, user.id)
        assert row is not None
        row.is_active = False
        await s.commit()
    client = await new_client()
    assert (await post_login(client, user.username)).status_code == 401


async def test_password_change_signs_out_other_sessions(
    new_client: NewClient, make_user: MakeUser, db: Database
) -> None:
    user = await make_user("agent")
    laptop, phone = await new_client(), await new_client()
    await post_login(laptop, user.username)
    await post_login(phone, user.username)
    new_password = "a-much-better-secret-9"
    form = {
        "old_password": PASSWORD,
        "new_password": new_password,
        "confirm_password": new_password,
        "csrf_token": laptop.headers["X-CSRF-Token"],
    }
    response = await laptop.post("/settings/password", data=form)
    assert response.status_code == 303
    assert (await laptop.get("/api/v1/me")).status_code == 200  # the browser that changed it
    assert (await phone.get("/api/v1/me")).status_code == 401  # every other one is out
    fresh = await new_client()
    assert (await post_login(fresh, user.username, PASSWORD)).status_code == 401
    assert (await post_login(fresh, user.username, new_password)).status_code == 303
    async with db.sessionmaker() as s:
        entries = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "user.password_change"))
        ).all()
        assert len(entries) == 1
        assert entries[0].actor_id == user.id
        assert PASSWORD not in str(entries[0].after) and new_password not in str(entries[0].after)


async def test_password_change_needs_the_old_password(
    new_client: NewClient, make_user: MakeUser
) -> None:
    user = await make_user("agent")
    client = await new_client()
    await post_login(client, user.username)
    csrf = client.headers["X-CSRF-Token"]
    wrong_old = await client.post(
        "/settings/password",
        data={
            "old_password": "not-it",
            "new_password": "another-secret-1",
            "confirm_password": "another-secret-1",
            "csrf_token": csrf,
        },
    )
    assert wrong_old.status_code == 422
    assert "当前密码不正确" in wrong_old.text
    mismatch = await client.post(
        "/settings/password",
        data={
            "old_password": PASSWORD,
            "new_password": "another-secret-1",
            "confirm_password": "another-secret-2",
            "csrf_token": csrf,
        },
    )
    assert mismatch.status_code == 422
    assert "两次输入的新密码不一致" in mismatch.text
    short = await client.post(
        "/api/v1/me/password", json={"old_password": PASSWORD, "new_password": "short"}
    )
    assert short.status_code == 422
    ok = await client.post(
        "/api/v1/me/password",
        json={"old_password": PASSWORD, "new_password": "another-secret-1"},
    )
    assert ok.status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_sign_out_other_browsers(new_client: NewClient, make_user: MakeUser) -> None:
    user = await make_user("agent")
    here, there = await new_client(), await new_client()
    await post_login(here, user.username)
    await post_login(there, user.username)
    page = await here.get("/settings/password")
    assert "当前浏览器" in page.text
    response = await here.post(
        "/settings/sessions/revoke-others", data={"csrf_token": await csrf_of(here, "/settings")}
    )
    assert response.status_code == 303
    assert (await here.get("/api/v1/me")).status_code == 200
    assert (await there.get("/api/v1/me")).status_code == 401
