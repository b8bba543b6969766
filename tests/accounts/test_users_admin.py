"""Users admin: create, edit role/groups/active, reset password, last-admin protection."""

from __future__ import annotations

from sqlalchemy import select

from kefu.accounts.models import Group, User
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from tests.accounts.conftest import NewClient, post_login
from tests.fixtures.factories import PASSWORD, LoginAs, MakeUser


async def _make_group(db: Database, code: str, name: str) -> int:
    async with db.sessionmaker() as s:
        group = Group(code=code, name=name)
        s.add(group)
        await s.commit()
        return group.id


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessionmaker() as s:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await s.scalars(stmt)).all())


async def test_admin_creates_and_lists_users(login_as: LoginAs, db: Database) -> None:
    admin = await login_as("admin")
    vip = await _make_group(db, "vip", "VIP")
    created = await admin.post(
        "/api/v1/users",
        json={
            "username": "xiaomei",
            "display_name": "小美",
            "password": "xiaomei-secret-1",
            "role": "agent",
            "group_ids": [vip],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "agent"
    assert [g["name"] for g in body["groups"]] == ["VIP"]
    assert "password" not in body and "password_hash" not in body
    listed = (await admin.get("/api/v1/users")).json()
    assert "xiaomei" in [u["username"] for u in listed]
    entry = (await _audit(db, "user.create"))[-1]
    assert entry.actor_id == admin.user.id  # type: ignore[attr-defined]
    assert entry.after is not None and entry.after["group_ids"] == [vip]
    assert "xiaomei-secret-1" not in str(entry.after)


async def test_create_user_refuses_bad_input_clearly(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    base = {"username": "dup", "display_name": "D", "password": "long-enough-1"}
    assert (await admin.post("/api/v1/users", json=base)).status_code == 201
    duplicate = await admin.post("/api/v1/users", json={**base, "username": "DUP"})
    assert duplicate.status_code == 409
    assert "已存在" in duplicate.json()["title_zh"]
    short = await admin.post("/api/v1/users", json={**base, "username": "p2", "password": "short"})
    assert short.status_code == 422
    assert short.json()["title_zh"] == "密码至少 8 位"
    bad_role = await admin.post("/api/v1/users", json={**base, "username": "p3", "role": "boss"})
    assert bad_role.status_code == 422
    spaces = await admin.post("/api/v1/users", json={**base, "username": "has space"})
    assert spaces.status_code == 422
    no_group = await admin.post(
        "/api/v1/users", json={**base, "username": "p4", "group_ids": [999]}
    )
    assert no_group.status_code == 422


async def test_only_users_manage_may_administer(login_as: LoginAs, make_user: MakeUser) -> None:
    target = await make_user("agent")
    for role in ("supervisor", "agent", "qa"):
        client = await login_as(role)
        assert (await client.get("/api/v1/users")).status_code == 403
        patch = await client.patch(f"/api/v1/users/{target.id}", json={"role": "admin"})
        assert patch.status_code == 403
        page = await client.get("/settings/users", headers={"accept": "text/html"})
        assert page.status_code == 403
        assert "您没有权限" in page.text or "没有执行此操作的权限" in page.text


async def test_edit_role_groups_and_active_is_audited(
    login_as: LoginAs, make_user: MakeUser, db: Database
) -> None:
    admin = await login_as("admin")
    target = await make_user("agent")
    presales = await _make_group(db, "presales", "售前")
    response = await admin.patch(
        f"/api/v1/users/{target.id}",
        json={"role": "supervisor", "group_ids": [presales], "max_concurrent_chats": 8},
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "supervisor"
    entry = (await _audit(db, "user.update"))[-1]
    assert entry.before == {"role": "agent", "group_ids": [], "max_concurrent_chats": 5}
    assert entry.after == {"role": "supervisor", "group_ids": [presales], "max_concurrent_chats": 8}


async def test_disabling_a_user_signs_them_out_and_stops_tokens(
    login_as: LoginAs, new_client: NewClient, make_user: MakeUser
) -> None:
    admin = await login_as("admin")
    target = await make_user("agent")
    browser = await new_client()
    await post_login(browser, target.username)
    token = (
        await browser.post("/api/v1/tokens", json={"name": "t", "scopes": ["customers.read"]})
    ).json()["token"]
    disabled = await admin.patch(f"/api/v1/users/{target.id}", json={"is_active": False})
    assert disabled.status_code == 200
    assert (await browser.get("/api/v1/me")).status_code == 401
    bearer = await new_client()
    me = await bearer.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert (await post_login(await new_client(), target.username)).status_code == 401


async def test_admin_resets_a_password(
    login_as: LoginAs, new_client: NewClient, make_user: MakeUser, db: Database
) -> None:
    admin = await login_as("admin")
    target = await make_user("agent")
    browser = await new_client()
    await post_login(browser, target.username)
    reset = await admin.post(
        f"/api/v1/users/{target.id}/password", json={"password": "fresh-start-2026"}
    )
    assert reset.status_code == 204
    assert (await browser.get("/api/v1/me")).status_code == 401
    assert (await post_login(await new_client(), target.username, PASSWORD)).status_code == 401
    assert (
        await post_login(await new_client(), target.username, "fresh-start-2026")
    ).status_code == 303
    entry = (await _audit(db, "user.password_reset"))[-1]
    assert entry.entity_id == str(target.id) and "fresh-start-2026" not in str(entry.after)


async def test_the_last_active_admin_cannot_be_demoted_or_disabled(
    login_as: LoginAs, make_user: MakeUser, db: Database
) -> None:
    admin = await login_as("admin")
    me = admin.user  # type: ignore[attr-defined]
    demote_self = await admin.patch(f"/api/v1/users/{me.id}", json={"role": "supervisor"})
    assert demote_self.status_code == 409
    assert demote_self.json()["code"] == "last_admin"
    assert demote_self.json()["title_zh"] == "至少需要保留一名启用状态的管理员"
    disable_self = await admin.patch(f"/api/v1/users/{me.id}", json={"is_active": False})
    assert disable_self.status_code == 409

    # With a second admin, one of them may step down — but then the other is the last one.
    other = await make_user("admin")
    assert (
        await admin.patch(f"/api/v1/users/{other.id}", json={"role": "agent"})
    ).status_code == 200
    assert (await admin.patch(f"/api/v1/users/{me.id}", json={"role": "agent"})).status_code == 409
    # A disabled admin does not count as the spare one.
    third = await make_user("admin")
    assert (
        await admin.patch(f"/api/v1/users/{third.id}", json={"is_active": False})
    ).status_code == 200
    assert (await admin.patch(f"/api/v1/users/{me.id}", json={"role": "agent"})).status_code == 409
    async with db.sessionmaker() as s:
        still = await s.get(User, me.id)
        assert still is not None and still.role == "admin" and still.is_active


async def test_users_pages_create_edit_and_keep_input_on_error(
    login_as: LoginAs, db: Database
) -> None:
    admin = await login_as("admin")
    csrf = admin.headers["X-CSRF-Token"]
    listing = await admin.get("/settings/users")
    assert listing.status_code == 200
    assert "新建用户" in listing.text
    assert (await admin.get("/settings/users/new")).status_code == 200
    group = await _make_group(db, "aftersales", "售后")
    bad = await admin.post(
        "/settings/users",
        data={
            "username": "laowang",
            "display_name": "老王",
            "password": "short",
            "role": "agent",
            "group_ids": [str(group)],
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 422
    assert "密码至少 8 位" in bad.text
    assert 'value="laowang"' in bad.text and 'value="老王"' in bad.text
    good = await admin.post(
        "/settings/users",
        data={
            "username": "laowang",
            "display_name": "老王",
            "password": "laowang-password",
            "role": "qa",
            "group_ids": [str(group)],
            "csrf_token": csrf,
        },
    )
    assert good.status_code == 303
    follow = await admin.get("/settings/users")
    assert "已创建用户 老王" in follow.text
    async with db.sessionmaker() as s:
        user = await s.scalar(select(User).where(User.username == "laowang"))
        assert user is not None and user.role == "qa"
    edit_page = await admin.get(f"/settings/users/{user.id}")
    assert edit_page.status_code == 200 and "重置密码" in edit_page.text
    # Unchecking "active" and all groups through the form.
    edited = await admin.post(
        f"/settings/users/{user.id}",
        data={
            "display_name": "王师傅",
            "email": "",
            "role": "agent",
            "max_concurrent_chats": "3",
            "csrf_token": csrf,
        },
    )
    assert edited.status_code == 303
    refreshed = (await admin.get(f"/api/v1/users/{user.id}")).json()
    assert refreshed["display_name"] == "王师傅"
    assert refreshed["is_active"] is False and refreshed["groups"] == []
    reset = await admin.post(
        f"/settings/users/{user.id}/password",
        data={"password": "another-one-99", "csrf_token": csrf},
    )
    assert reset.status_code == 303


async def test_admin_form_cannot_disable_own_account(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    me = admin.user  # type: ignore[attr-defined]
    # The form has no "active" box for yourself; a missing box must not switch you off.
    response = await admin.post(
        f"/settings/users/{me.id}",
        data={
            "display_name": "管理员",
            "role": "admin",
            "max_concurrent_chats": "5",
            "csrf_token": admin.headers["X-CSRF-Token"],
        },
    )
    assert response.status_code == 303
    assert (await admin.get("/api/v1/me")).status_code == 200


async def test_page_form_demoting_the_last_admin_shows_the_reason(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    me = admin.user  # type: ignore[attr-defined]
    response = await admin.post(
        f"/settings/users/{me.id}",
        data={
            "display_name": "管理员",
            "role": "agent",
            "max_concurrent_chats": "5",
            "csrf_token": admin.headers["X-CSRF-Token"],
        },
    )
    assert response.status_code == 409
    assert "至少需要保留一名启用状态的管理员" in response.text
    me_now = (await admin.get("/api/v1/me")).json()
    assert me_now["role"] == "admin"


async def test_unknown_user_is_404(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    assert (await admin.get("/api/v1/users/424242")).status_code == 404
    page = await admin.get("/settings/users/424242", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "用户不存在" in page.text
