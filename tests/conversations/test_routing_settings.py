"""The store's chat routing settings page: admins only, validated, audited."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from kefu.accounts.models import Group
from kefu.conversations.routing_settings import chat_routing
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.models import Store

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_admin_sets_groups_strategy_and_hours(
    db: Database, make_store: Any, login_as: Any
) -> None:
    store = await make_store(name="优衣小铺")
    async with db.sessionmaker() as s:
        presales, aftersales = Group(code="presales", name="售前"), Group(code="after", name="售后")
        s.add_all([presales, aftersales])
        await s.commit()
    admin: httpx.AsyncClient = await login_as("admin")
    page = await admin.get(f"/settings/stores/{store.id}/chat")
    assert page.status_code == 200 and 'data-testid="chat-routing-form"' in page.text
    assert "售前" in page.text and "售后" in page.text  # groups to choose from
    assert f"/settings/stores/{store.id}/chat" in (await admin.get("/settings/stores")).text
    token = CSRF.search(page.text)
    assert token
    saved = await admin.post(
        f"/settings/stores/{store.id}/chat",
        data={
            "csrf_token": token.group(1),
            "mode": "auto",
            "strategy": "round_robin",
            "default_group_id": str(presales.id),
            "topic_0": "aftersales",
            "label_0": "售后服务",
            "group_0": str(aftersales.id),
            "sticky_days": "3",
            "hours_enabled": "on",
            "day_start": "09:00",
            "day_end": "21:30",
            "weekdays": ["0", "1", "2", "3", "4", "5"],
            "holidays": "on",
        },
    )
    assert saved.status_code == 303, saved.text
    async with db.sessionmaker() as s:
        stored = await s.get(Store, store.id)
        assert stored is not None
        settings = chat_routing(stored)
        assert stored.settings["routing"] == "auto"
        assert settings.strategy == "round_robin" and settings.sticky_days == 3
        assert not settings.vip_first  # unticked box
        assert settings.group_for("aftersales") == aftersales.id
        assert settings.group_for(None) == presales.id
        assert settings.hours.enabled and settings.hours.label() == "09:00–21:30"
        assert settings.hours.weekdays == [0, 1, 2, 3, 4, 5]
        assert await s.scalar(
            select(AuditEntry.id).where(AuditEntry.action == "store.chat_routing")
        )

    refused = await admin.post(
        f"/settings/stores/{store.id}/chat",
        data={
            "csrf_token": token.group(1),
            "mode": "auto",
            "hours_enabled": "on",
            "day_start": "22:00",
            "day_end": "09:00",
        },
    )
    assert refused.status_code == 422 and "路由设置有误" in refused.text


async def test_agents_cannot_change_routing(make_store: Any, login_as: Any) -> None:
    store = await make_store()
    agent = await login_as("agent")
    assert (await agent.get(f"/settings/stores/{store.id}/chat")).status_code == 403
