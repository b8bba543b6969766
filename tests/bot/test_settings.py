"""Bot settings: the page and the API, who may use them, validation, audit, defaults."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kefu.bot.settings import BotSettings, bot_settings
from kefu.core.audit import AuditEntry
from kefu.core.db import Database
from kefu.store.models import Store


def test_defaults_bot_on_only_in_the_demo_shop() -> None:
    assert bot_settings(Store(settings={"demo": True})).enabled is True
    assert bot_settings(Store(settings={})).enabled is False
    assert bot_settings(Store(settings={"demo": True, "bot": {"enabled": False}})).enabled is False
    # A hand-edited value that does not validate falls back instead of stopping the chat.
    broken = bot_settings(Store(settings={"bot": {"enabled": True, "low_confidence_turns": "x"}}))
    assert broken == BotSettings(enabled=False)


async def test_settings_page_saves_and_audits(login_as: Any, make_store: Any, db: Database) -> None:
    store = await make_store(name="优衣小铺")
    admin = await login_as("admin")
    index = await admin.get("/settings/bot")
    assert index.status_code == 200 and "优衣小铺" in index.text
    page = await admin.get(f"/settings/bot/{store.id}")
    assert page.status_code == 200 and 'name="low_confidence_turns"' in page.text
    response = await admin.post(
        f"/settings/bot/{store.id}",
        data={
            "csrf_token": admin.headers["X-CSRF-Token"],
            "enabled": "on",
            "mode": "first",
            "name": "小优",
            "answer_threshold": "0.7",
            "suggest_threshold": "0.35",
            "low_confidence_turns": "3",
            "negative_threshold": "0.95",
            "vip_handoff": "on",
            "handoff_keywords": "赔偿，退款失败",
            "ship_within_hours": "24",
        },
    )
    assert response.status_code == 303, response.text
    async with db.sessionmaker() as s:
        saved = bot_settings(await s.get(Store, store.id))
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "store.bot_settings"))
    assert saved.enabled and saved.name == "小优" and saved.low_confidence_turns == 3
    assert saved.handoff_keywords == ["赔偿", "退款失败"] and saved.vip_handoff
    assert audit is not None and audit.store_id == store.id


async def test_invalid_settings_are_refused_in_both_languages(
    login_as: Any, make_store: Any
) -> None:
    store = await make_store()
    admin = await login_as("admin")
    response = await admin.post(
        f"/settings/bot/{store.id}",
        data={
            "csrf_token": admin.headers["X-CSRF-Token"],
            "answer_threshold": "0.3",
            "suggest_threshold": "0.6",
        },
    )
    assert response.status_code == 422
    assert "推荐阈值不能高于直接回答阈值" in response.text
    api = await admin.put(
        f"/api/v1/bot/stores/{store.id}/settings", json={"low_confidence_turns": 99}
    )
    assert api.status_code == 422
    assert api.json()["title_zh"] and api.json()["title_en"]


async def test_agents_may_not_change_the_bot(login_as: Any, make_store: Any) -> None:
    store = await make_store()
    agent = await login_as("agent")
    assert (await agent.get("/settings/bot")).status_code == 403
    refused = await agent.put(f"/api/v1/bot/stores/{store.id}/settings", json={"enabled": True})
    assert refused.status_code == 403


async def test_api_reads_and_writes_settings(login_as: Any, make_store: Any) -> None:
    store = await make_store()
    admin = await login_as("admin")
    saved = await admin.put(
        f"/api/v1/bot/stores/{store.id}/settings", json={"enabled": True, "mode": "fallback"}
    )
    assert saved.status_code == 200, saved.text
    read = await admin.get(f"/api/v1/bot/stores/{store.id}/settings")
    assert read.json()["enabled"] is True and read.json()["mode"] == "fallback"
