"""Per-group hours and overflow between skill groups: a closed group hands its chats to its
overflow group or keeps them waiting, a trigger moves chats on, the sweep applies it to chats
already waiting, loops are refused when saving. Time is frozen by passing `now`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kefu.accounts.models import Group, User
from kefu.conversations import overflow, queue, routing, service
from kefu.conversations.models import Conversation
from kefu.conversations.routing_settings import (
    ChatHours,
    OverflowLoop,
    chat_routing,
    save_chat_routing,
)
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database, utcnow
from kefu.store.models import Store
from tests.conversations.test_routing import assignee, online
from tests.conversations.test_routing_groups import (
    _jobs_on_test_db,  # noqa: F401 - fixture
    contact,
    group,
    set_cap,
    write,
)
from tests.fixtures.browser import LiveServer, screenshot_path
from tests.fixtures.factories import PASSWORD, MakeUser

SHANGHAI = ZoneInfo("Asia/Shanghai")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ADMIN = Actor("user", None, "管理员")
MONDAY_7PM = datetime(2026, 3, 2, 19, 0, tzinfo=SHANGHAI)  # 售后 (9–18) closed, 售前 open
TUESDAY_930 = datetime(2026, 3, 3, 9, 30, tzinfo=SHANGHAI)
NATIONAL_DAY_NOON = datetime(2026, 10, 1, 12, 0, tzinfo=SHANGHAI)


def hours(start: str, end: str, *, holidays: bool = True) -> dict[str, Any]:
    return {
        "enabled": True,
        "day_start": start,
        "day_end": end,
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "holidays": holidays,
    }


async def set_rules(
    db: Database, store: Store, groups: dict[int, dict[str, Any]], *, auto: bool = True
) -> None:
    """Save group rules through the service (validated and audited), keeping the rest."""
    async with db.sessionmaker() as s:
        found = await s.get(Store, store.id)
        current = chat_routing(found).model_dump(mode="json")
        await save_chat_routing(s, ADMIN, store.id, {**current, "groups": groups}, auto=auto)
        await s.commit()


async def sweep(db: Database, now: datetime) -> list[int]:
    async with db.sessionmaker() as s:
        routed = await routing.drain_queue(s, now=now)
        await s.commit()
    return routed


async def load(db: Database, conversation_id: int) -> Conversation:
    async with db.sessionmaker() as s:
        found = await s.get(Conversation, conversation_id)
        assert found is not None
        return found


async def log_kinds(db: Database, conversation_id: int) -> list[Any]:
    async with db.sessionmaker() as s:
        rows = await service.events_after(s, 0, conversation_id=conversation_id)
    return [event for event, _ in rows]


async def at(db: Database, store: Store, when: datetime, topic: str) -> queue.Availability:
    async with db.sessionmaker() as s:
        found = await s.get(Store, store.id)
        assert found is not None
        result = await queue.availability(s, found, topic=topic, now=when)
        await s.commit()
        return result


async def shop(
    db: Database, make_store: Any, make_user: MakeUser
) -> tuple[Store, Group, Group, User, User]:
    """An auto-routed store: 售前 (default entry) and 售后 (topic `aftersales`), one agent each."""
    sales = await make_user("agent", display_name="售前小王")
    care = await make_user("agent", display_name="售后小李")
    presales = await group(db, "售前组", sales)
    aftersales = await group(db, "售后组", care)
    store: Store = await make_store(
        settings={
            "routing": "auto",
            "chat_routing": {
                "default_group_id": presales.id,
                "entries": [
                    {"topic": "aftersales", "label": "售后服务", "group_id": aftersales.id},
                    {"topic": "presales", "label": "售前咨询", "group_id": presales.id},
                ],
            },
        }
    )
    return store, presales, aftersales, sales, care


async def test_a_closed_group_hands_waiting_chats_to_its_open_overflow_group(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, sales, care = await shop(db, make_store, make_user)
    # The chat waits in 售后 (its agent is full) before the group rules exist.
    await set_cap(db, care, 0)
    await online(db, sales)
    chat = await write(db, contact(store), "我要退货", topic="aftersales")
    assert chat.group_id == aftersales.id and await assignee(db, chat.id) is None
    await set_rules(
        db,
        store,
        {
            aftersales.id: {"hours": hours("09:00", "18:00"), "overflow_group_id": presales.id},
            presales.id: {"hours": hours("09:00", "23:59")},
        },
    )

    assert await sweep(db, MONDAY_7PM) == [chat.id]
    moved = await load(db, chat.id)
    assert moved.group_id == presales.id and moved.assignee_id == sales.id
    # Reports can still tell the chat started in 售后.
    assert moved.context["original_group_id"] == aftersales.id
    assert moved.context["overflow"][0]["reason"] == "closed"
    log = await log_kinds(db, chat.id)
    hop = next(e for e in log if e.kind == "transferred" and e.data.get("overflow"))
    assert hop.audience == "internal" and hop.actor_name == "自动分配"
    assert hop.data["from_group_name"] == "售后组" and hop.data["group_name"] == "售前组"
    assert "售后组已下班" in hop.data["why"]["zh"] and "09:00–18:00" in hop.data["why"]["zh"]
    assert "closed" in hop.data["why"]["en"]
    assert [e.kind for e in log].index("transferred") < [e.kind for e in log].index("assigned")
    async with db.sessionmaker() as s:
        audit = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "conversation.overflow")
        )
    assert audit is not None and audit.after["group_id"] == presales.id


async def test_a_closed_group_without_an_open_overflow_keeps_its_chats_waiting(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, sales, care = await shop(db, make_store, make_user)
    await set_cap(db, care, 0)
    chat = await write(db, contact(store), "我要退货", topic="aftersales")
    await set_cap(db, care, 5)
    await online(db, care)
    await online(db, sales)
    await set_rules(
        db,
        store,
        {
            aftersales.id: {"hours": hours("09:00", "18:00")},
            presales.id: {"hours": hours("09:00", "23:59")},
        },
    )

    # 19:00: 售后 is closed; agents are still online, yet routing leaves the chat waiting.
    assert await sweep(db, MONDAY_7PM) == []
    assert (await load(db, chat.id)).group_id == aftersales.id
    assert await assignee(db, chat.id) is None
    closed = await at(db, store, MONDAY_7PM, "aftersales")
    assert (closed.mode, closed.reason, closed.hours) == ("chat", "group_closed", "09:00–18:00")
    assert closed.next_open == datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)
    assert (await at(db, store, MONDAY_7PM, "presales")).reason == ""  # 售前 answers

    # Next morning 售后 opens and the same sweep hands the chat to its agent.
    assert await sweep(db, TUESDAY_930) == [chat.id]
    assert await assignee(db, chat.id) == care.id


async def test_every_group_closed_means_the_offline_message_form(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, *_ = await shop(db, make_store, make_user)
    await set_rules(
        db,
        store,
        {
            aftersales.id: {"hours": hours("09:00", "18:00"), "overflow_group_id": presales.id},
            presales.id: {"hours": hours("09:00", "23:59")},
        },
    )
    early = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)
    for topic in ("aftersales", "presales"):
        found = await at(db, store, early, topic)
        assert (found.mode, found.reason) == ("offline", "closed")
        assert found.next_open == datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


async def test_holidays_close_a_group_that_follows_the_calendar(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, sales, care = await shop(db, make_store, make_user)
    await set_cap(db, care, 0)
    await online(db, sales)
    chat = await write(db, contact(store), "退款到哪了", topic="aftersales")
    await set_rules(
        db,
        store,
        {
            aftersales.id: {"hours": hours("09:00", "18:00"), "overflow_group_id": presales.id},
            # 售前 works through the holidays.
            presales.id: {"hours": hours("09:00", "23:59", holidays=False)},
        },
    )
    async with db.sessionmaker() as s:
        found = await s.get(Store, store.id)
        assert found is not None
        clock = overflow.GroupClock(s, found, chat_routing(found), NATIONAL_DAY_NOON)
        assert await clock.state(aftersales.id) == (
            False,
            "holiday",
            datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI),
        )
    assert await sweep(db, NATIONAL_DAY_NOON) == [chat.id]
    assert await assignee(db, chat.id) == sales.id


async def test_no_agent_in_the_group_overflows_a_new_chat_at_once(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, sales, care = await shop(db, make_store, make_user)
    await online(db, sales)
    await online(db, care, "away")
    await set_rules(
        db, store, {aftersales.id: {"overflow_group_id": presales.id, "overflow_when": "no_agent"}}
    )
    # The widget does not tell the customer "nobody is here": 售前 will answer.
    assert (await at(db, store, utcnow(), "aftersales")).mode == "chat"

    chat = await write(db, contact(store), "发票怎么开", topic="aftersales")
    moved = await load(db, chat.id)
    assert moved.group_id == presales.id and moved.assignee_id == sales.id
    assert moved.context["overflow"][0]["reason"] == "no_agent"
    hop = next(e for e in await log_kinds(db, chat.id) if e.kind == "transferred")
    assert "暂无可接待的客服" in hop.data["why"]["zh"]

    # With 售后's agent back, its chats stay in 售后.
    await online(db, care)
    stays = await write(db, contact(store), "换货", topic="aftersales")
    assert (await load(db, stays.id)).group_id == aftersales.id
    assert await assignee(db, stays.id) == care.id


async def test_the_sweep_moves_chats_waiting_past_the_threshold_one_hop_at_a_time(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, sales, care = await shop(db, make_store, make_user)
    vip = await make_user("agent", display_name="VIP专席")
    vip_group = await group(db, "VIP组", vip)
    await online(db, care)
    await set_cap(db, care, 0)  # 售后 online but full: its chats wait
    await set_cap(db, sales, 0)
    await online(db, sales)
    await set_rules(
        db,
        store,
        {
            aftersales.id: {
                "overflow_group_id": presales.id,
                "overflow_when": "wait_over",
                "overflow_after": 120,
            },
            presales.id: {
                "overflow_group_id": vip_group.id,
                "overflow_when": "wait_over",
                "overflow_after": 300,
            },
        },
    )
    chat = await write(db, contact(store), "快递破损", topic="aftersales")
    start = (await load(db, chat.id)).waiting_since
    assert start is not None

    await sweep(db, start + timedelta(seconds=60))
    assert (await load(db, chat.id)).group_id == aftersales.id  # not yet
    await sweep(db, start + timedelta(seconds=130))
    assert (await load(db, chat.id)).group_id == presales.id
    # 售前 counts the wait from when the chat arrived there, not from the first message.
    await sweep(db, start + timedelta(seconds=300))
    assert (await load(db, chat.id)).group_id == presales.id
    await online(db, vip)
    await sweep(db, start + timedelta(seconds=440))
    moved = await load(db, chat.id)
    assert moved.group_id == vip_group.id and moved.assignee_id == vip.id
    assert [h["to_group_id"] for h in moved.context["overflow"]] == [presales.id, vip_group.id]
    assert moved.context["original_group_id"] == aftersales.id


async def test_a_long_queue_overflows_in_a_manual_store(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, *_ = await shop(db, make_store, make_user)
    await set_rules(
        db,
        store,
        {
            aftersales.id: {
                "overflow_group_id": presales.id,
                "overflow_when": "queue_over",
                "overflow_after": 2,
            }
        },
        auto=False,
    )
    chats = [await write(db, contact(store), f"退货{n}", topic="aftersales") for n in range(3)]
    groups = [(await load(db, c.id)).group_id for c in chats]
    # Two already wait in 售后, so the third goes to 售前's Unassigned list, to be picked up.
    assert groups == [aftersales.id, aftersales.id, presales.id]
    assert all([await assignee(db, c.id) is None for c in chats])


async def test_overflow_loops_are_refused_when_saving(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, *_ = await shop(db, make_store, make_user)
    loop = {
        aftersales.id: {"overflow_group_id": presales.id},
        presales.id: {"overflow_group_id": aftersales.id},
    }
    with pytest.raises(OverflowLoop) as refused:
        await set_rules(db, store, loop)
    assert "售前组 → 售后组 → 售前组" in refused.value.zh  # from the first group created
    assert "循环" in refused.value.zh and "loop" in refused.value.en
    with pytest.raises(OverflowLoop):
        await set_rules(db, store, {presales.id: {"overflow_group_id": presales.id}})
    async with db.sessionmaker() as s:
        stored = await s.get(Store, store.id)
        assert chat_routing(stored).groups == {}  # nothing saved


async def test_admin_sets_group_hours_and_overflow_on_the_settings_page(
    db: Database, make_store: Any, make_user: MakeUser, login_as: Any
) -> None:
    store, presales, aftersales, *_ = await shop(db, make_store, make_user)
    admin = await login_as("admin")
    page = await admin.get(f"/settings/stores/{store.id}/chat")
    assert page.status_code == 200 and 'data-testid="group-rules"' in page.text
    assert f'name="g{aftersales.id}_overflow"' in page.text
    token = CSRF.search(page.text)
    assert token
    form = {
        "csrf_token": token.group(1),
        "mode": "auto",
        "default_group_id": str(presales.id),
        "topic_0": "aftersales",
        "label_0": "售后服务",
        "group_0": str(aftersales.id),
        "sticky_days": "7",
        f"g{aftersales.id}_hours": "on",
        f"g{aftersales.id}_start": "09:00",
        f"g{aftersales.id}_end": "18:00",
        f"g{aftersales.id}_days": ["0", "1", "2", "3", "4"],
        f"g{aftersales.id}_holidays": "on",
        f"g{aftersales.id}_overflow": str(presales.id),
        f"g{aftersales.id}_when": "wait_over",
        f"g{aftersales.id}_after": "90",
        f"g{presales.id}_start": "09:00",
        f"g{presales.id}_end": "18:00",
        f"g{presales.id}_overflow": "",
        f"g{presales.id}_when": "no_agent",
        f"g{presales.id}_after": "120",
    }
    saved = await admin.post(f"/settings/stores/{store.id}/chat", data=form)
    assert saved.status_code == 303, saved.text
    async with db.sessionmaker() as s:
        stored = await s.get(Store, store.id)
        settings = chat_routing(stored)
        rule = settings.rule(aftersales.id)
        assert rule is not None and rule.hours.label() == "09:00–18:00"
        assert rule.hours.weekdays == [0, 1, 2, 3, 4] and rule.hours.holidays
        assert (rule.overflow_group_id, rule.overflow_when, rule.overflow_after) == (
            presales.id,
            "wait_over",
            90,
        )
        assert settings.rule(presales.id) is None  # nothing of its own: not stored
        audit = await s.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "store.chat_routing")
            .order_by(AuditEntry.id.desc())
        )
        assert audit is not None
        assert audit.after["chat_routing"]["groups"][str(aftersales.id)]["overflow_after"] == 90
    shown = await admin.get(f"/settings/stores/{store.id}/chat")
    assert f'<option value="{presales.id}" selected>售前组</option>' in shown.text

    # 售前 → 售后 closes a loop with 售后 → 售前: refused, in both languages, nothing saved.
    looped = await admin.post(
        f"/settings/stores/{store.id}/chat",
        data={**form, f"g{presales.id}_overflow": str(aftersales.id)},
    )
    assert looped.status_code == 422 and "溢出设置形成了循环" in looped.text
    assert "售前组 → 售后组 → 售前组" in looped.text
    async with db.sessionmaker() as s:
        stored = await s.get(Store, store.id)
        assert chat_routing(stored).rule(presales.id) is None
    bad = await admin.post(
        f"/settings/stores/{store.id}/chat", data={**form, f"g{aftersales.id}_after": "0"}
    )
    assert bad.status_code == 422 and "路由设置有误" in bad.text


@pytest.mark.browser
async def test_group_rules_on_the_settings_page_in_a_browser(
    live_server: LiveServer, browser: Any, db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, aftersales, *_ = await shop(db, make_store, make_user)
    await set_rules(
        db,
        store,
        {
            aftersales.id: {
                "hours": hours("09:00", "18:00"),
                "overflow_group_id": presales.id,
                "overflow_when": "wait_over",
                "overflow_after": 90,
            }
        },
    )
    admin = await make_user("admin")
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/login?next=/settings/stores/{store.id}/chat")
    await page.fill("#username", admin.username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    rules = page.locator('[data-testid="group-rules"]')
    await rules.wait_for()
    assert "售后组" in await rules.inner_text() and "售前组" in await rules.inner_text()
    await rules.scroll_into_view_if_needed()
    await page.screenshot(path=str(screenshot_path("routing_group_rules")), full_page=True)

    # Making 售前 overflow back to 售后 is refused with the loop spelled out.
    await page.select_option(f'select[name="g{presales.id}_overflow"]', str(aftersales.id))
    await page.click('[data-testid="chat-routing-form"] button[type=submit]')
    await page.wait_for_selector(".alert-error")
    assert "售前组 → 售后组 → 售前组" in await page.inner_text(".alert-error")
    await page.screenshot(path=str(screenshot_path("routing_group_rules_loop")), full_page=True)


async def test_closing_at_2359_means_open_until_midnight(
    db: Database, make_store: Any, make_user: MakeUser
) -> None:
    store, presales, *_ = await shop(db, make_store, make_user)
    await set_rules(db, store, {presales.id: {"hours": hours("09:00", "23:59")}})
    last_minute = datetime(2026, 3, 2, 23, 59, 30, tzinfo=SHANGHAI)
    found = await at(db, store, last_minute, "presales")
    assert found.reason not in ("closed", "group_closed")  # (may say "nobody": no one signed in)
    assert ChatHours.model_validate(hours("09:00", "23:59")).label() == "09:00–24:00"
    after_midnight = datetime(2026, 3, 3, 0, 0, 30, tzinfo=SHANGHAI)
    assert (await at(db, store, after_midnight, "presales")).reason == "group_closed"
