"""Skill groups: CRUD over the API and the pages, membership, permissions, audit."""

from __future__ import annotations

from sqlalchemy import select

from kefu.accounts.models import Group
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from tests.fixtures.factories import LoginAs, MakeUser


async def _actions(db: Database) -> list[str]:
    async with db.sessionmaker() as s:
        return list((await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())


async def test_supervisor_manages_groups_over_the_api(
    login_as: LoginAs, make_user: MakeUser, db: Database
) -> None:
    supervisor = await login_as("supervisor")
    agent_a, agent_b = await make_user("agent"), await make_user("agent")
    created = await supervisor.post(
        "/api/v1/groups",
        json={"code": "complaints", "name": "投诉专家组", "member_ids": [agent_a.id]},
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert [m["id"] for m in group["members"]] == [agent_a.id]

    renamed = await supervisor.patch(
        f"/api/v1/groups/{group['id']}", json={"description": "投诉、差评挽回"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["description"] == "投诉、差评挽回"

    members = await supervisor.put(
        f"/api/v1/groups/{group['id']}/members", json={"user_ids": [agent_b.id, agent_a.id]}
    )
    assert members.status_code == 200
    assert sorted(m["id"] for m in members.json()["members"]) == sorted([agent_a.id, agent_b.id])

    # Membership shows on the user too.
    admin = await login_as("admin")
    user = (await admin.get(f"/api/v1/users/{agent_b.id}")).json()
    assert [g["code"] for g in user["groups"]] == ["complaints"]

    assert (await supervisor.delete(f"/api/v1/groups/{group['id']}")).status_code == 204
    assert (await supervisor.get(f"/api/v1/groups/{group['id']}")).status_code == 404
    actions = await _actions(db)
    for action in ("group.create", "group.update", "group.members", "group.delete"):
        assert action in actions


async def test_agents_read_groups_but_cannot_change_them(login_as: LoginAs) -> None:
    supervisor = await login_as("supervisor")
    await supervisor.post("/api/v1/groups", json={"code": "vip", "name": "VIP"})
    agent = await login_as("agent")
    listed = await agent.get("/api/v1/groups")
    assert listed.status_code == 200
    assert [g["name"] for g in listed.json()] == ["VIP"]
    assert (await agent.post("/api/v1/groups", json={"code": "x", "name": "X"})).status_code == 403
    group_id = listed.json()[0]["id"]
    assert (await agent.delete(f"/api/v1/groups/{group_id}")).status_code == 403
    page = await agent.get("/settings/groups", headers={"accept": "text/html"})
    assert page.status_code == 403


async def test_group_input_is_checked(login_as: LoginAs) -> None:
    admin = await login_as("admin")
    assert (
        await admin.post("/api/v1/groups", json={"code": "presales", "name": "售前"})
    ).status_code == 201
    same_code = await admin.post("/api/v1/groups", json={"code": "presales", "name": "其他"})
    assert same_code.status_code == 409
    assert "presales" in same_code.json()["title_zh"]
    same_name = await admin.post("/api/v1/groups", json={"code": "other", "name": "售前"})
    assert same_name.status_code == 409
    bad_code = await admin.post("/api/v1/groups", json={"code": "售前 组", "name": "新组"})
    assert bad_code.status_code == 422
    assert "分组代码" in bad_code.json()["title_zh"]
    ghost = await admin.post(
        "/api/v1/groups", json={"code": "ghosts", "name": "幽灵", "member_ids": [98765]}
    )
    assert ghost.status_code == 422


async def test_default_groups_and_pages(
    login_as: LoginAs, make_user: MakeUser, db: Database
) -> None:
    supervisor = await login_as("supervisor")
    csrf = supervisor.headers["X-CSRF-Token"]
    empty = await supervisor.get("/settings/groups")
    assert empty.status_code == 200
    assert "还没有分组" in empty.text and "投诉专家组" in empty.text
    made = await supervisor.post("/settings/groups/defaults", data={"csrf_token": csrf})
    assert made.status_code == 303
    names = [g["name"] for g in (await supervisor.get("/api/v1/groups")).json()]
    assert names == ["售前", "售后", "VIP", "投诉专家组"]
    # Running it again creates nothing twice.
    await supervisor.post("/settings/groups/defaults", data={"csrf_token": csrf})
    assert len((await supervisor.get("/api/v1/groups")).json()) == 4

    agent = await make_user("agent", display_name="小李")
    async with db.sessionmaker() as s:
        vip = await s.scalar(select(Group).where(Group.code == "vip"))
        assert vip is not None
    edit = await supervisor.get(f"/settings/groups/{vip.id}")
    assert edit.status_code == 200 and "小李" in edit.text
    saved = await supervisor.post(
        f"/settings/groups/{vip.id}",
        data={
            "code": "vip",
            "name": "VIP 专席",
            "description": "高价值客户",
            "member_ids": [str(agent.id)],
            "csrf_token": csrf,
        },
    )
    assert saved.status_code == 303
    group = (await supervisor.get(f"/api/v1/groups/{vip.id}")).json()
    assert group["name"] == "VIP 专席"
    assert [m["display_name"] for m in group["members"]] == ["小李"]

    clash = await supervisor.post(
        f"/settings/groups/{vip.id}",
        data={"code": "presales", "name": "VIP 专席", "csrf_token": csrf},
    )
    assert clash.status_code == 409
    assert 'value="presales"' in clash.text  # what was typed stays in the form
    unchanged = (await supervisor.get(f"/api/v1/groups/{vip.id}")).json()
    assert unchanged["code"] == "vip" and len(unchanged["members"]) == 1

    new = await supervisor.post(
        "/settings/groups", data={"code": "night", "name": "夜班", "csrf_token": csrf}
    )
    assert new.status_code == 303
    deleted = await supervisor.post(f"/settings/groups/{vip.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    listing = await supervisor.get("/settings/groups")
    assert "分组 VIP 专席 已删除" in listing.text
    assert "夜班" in listing.text
