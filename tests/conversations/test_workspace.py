"""Workspace rules: transfer (to an agent or a group, with a note), snooze and its wake-up
sweep, @mentions in notes, the views and search of the inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from kefu.accounts.models import Group, User, user_groups
from kefu.conversations import inbox, service, tasks, workspace
from kefu.conversations.models import Conversation, ConversationEvent, ConversationMention
from kefu.core import jobs
from kefu.core.audit import Actor, AuditEntry
from kefu.core.db import Database, utcnow
from kefu.core.errors import Invalid
from kefu.store.models import Store
from tests.conversations.test_service import staff, visitor
from tests.fixtures.events import recorded_events
from tests.fixtures.factories import MakeUser


async def _open_chat(db: Database, store: Store, text: str = "你好", **contact: Any) -> int:
    who = visitor(store, contact.pop("name", ""))
    if contact.get("customer_id"):
        who = service.Contact(store.id, who.visitor_hash, contact["customer_id"], who.name)
    async with db.sessionmaker() as s:
        posted = await service.post_customer_message(s, who, client_msg_id="c1", body=text)
        await s.commit()
    return posted.conversation.id


async def _user(db: Database, user: User) -> User:
    async with db.sessionmaker() as s:
        found = await s.get(User, user.id)
        assert found is not None
        s.expunge(found)
        return found


async def _assign(db: Database, cid: int, agent: User) -> None:
    async with db.sessionmaker() as s:
        await service.assign_conversation(s, staff(agent), cid, agent.id)
        await s.commit()


async def _group(db: Database, name: str, *members: User) -> Group:
    async with db.sessionmaker() as s:
        group = Group(code=f"g-{name}", name=name)
        s.add(group)
        await s.flush()
        for member in members:
            await s.execute(insert(user_groups).values(user_id=member.id, group_id=group.id))
        await s.commit()
        return group


async def _log(db: Database, cid: int) -> list[ConversationEvent]:
    async with db.sessionmaker() as s:
        return list(
            await s.scalars(
                select(ConversationEvent)
                .where(ConversationEvent.conversation_id == cid)
                .order_by(ConversationEvent.id)
            )
        )


# --- transfer ------------------------------------------------------------------------------


async def test_assignee_transfers_to_a_colleague_with_a_note_published_to_every_inbox(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    a = await make_user("agent", display_name="小美")
    b = await make_user("agent", display_name="小王")
    cid = await _open_chat(db, chat_store, "我要换货")
    await _assign(db, cid, a)
    async with recorded_events(f"store:{chat_store.id}") as received, db.sessionmaker() as s:
        await workspace.transfer_conversation(
            s, await _user(db, a), cid, assignee_id=b.id, note="顾客要换尺码，订单已核对"
        )
        await s.commit()

    note, moved = received[-2], received[-1]
    assert note["kind"] == "note" and note["audience"] == "internal"
    assert note["message"]["body"] == "顾客要换尺码，订单已核对"
    assert moved["kind"] == "transferred" and moved["audience"] == "internal"
    assert moved["data"]["assignee_id"] == b.id and moved["data"]["previous_assignee_id"] == a.id
    assert moved["conversation"]["assignee_id"] == b.id  # every inbox list updates from this
    async with db.sessionmaker() as s:
        audit = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "conversation.transfer")
        )
        assert audit is not None and audit.after["assignee_id"] == b.id
        # The customer never learns of internal notes.
        history = await service.events_after(s, 0, conversation_id=cid, public_only=True)
    assert all(e.kind not in ("note", "transferred") for e, _ in history)


async def test_only_the_assignee_or_a_supervisor_may_transfer(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    a = await make_user("agent")
    b = await make_user("agent")
    boss = await make_user("supervisor")
    cid = await _open_chat(db, chat_store)
    await _assign(db, cid, a)
    async with db.sessionmaker() as s:
        with pytest.raises(workspace.NotYourConversation) as refused:
            await workspace.transfer_conversation(s, await _user(db, b), cid, assignee_id=b.id)
    assert refused.value.status == 403 and "主管" in refused.value.zh
    async with db.sessionmaker() as s:
        await workspace.transfer_conversation(s, await _user(db, boss), cid, assignee_id=b.id)
        await s.commit()
        with pytest.raises(Invalid):  # nobody to transfer to
            await workspace.transfer_conversation(s, await _user(db, boss), cid)
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None and conversation.assignee_id == b.id


async def test_transfer_to_a_group_puts_the_chat_in_that_groups_view(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    a = await make_user("agent")
    expert = await make_user("agent")
    outsider = await make_user("agent")
    aftersales = await _group(db, "售后", expert)
    cid = await _open_chat(db, chat_store)
    await _assign(db, cid, a)
    async with db.sessionmaker() as s:
        await workspace.transfer_conversation(
            s, await _user(db, a), cid, group_id=aftersales.id, note="退款问题"
        )
        await s.commit()
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None
        assert conversation.assignee_id is None and conversation.group_id == aftersales.id
        member = await _user(db, expert)
        groups = await inbox.groups_of(s, member.id)
        assert [g.name for g in groups] == ["售后"]
        listed = await inbox.list_inbox(
            s, member, inbox.InboxQuery(view="group", group_id=aftersales.id)
        )
        counts = await inbox.count_views(s, member, groups)
        assert await inbox.groups_of(s, outsider.id) == []
    assert [c.id for c in listed] == [cid]
    assert counts[f"group-{aftersales.id}"] == 1 and counts["unassigned"] == 1
    assert (await _log(db, cid))[-1].data["group_name"] == "售后"


# --- snooze --------------------------------------------------------------------------------


async def test_snooze_hides_the_chat_until_the_sweep_wakes_it(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    jobs.use_job_sessionmaker(db.sessionmaker)  # the sweep runs on this test's database
    a = await make_user("agent")
    cid = await _open_chat(db, chat_store)
    await _assign(db, cid, a)
    async with db.sessionmaker() as s:
        with pytest.raises(workspace.SnoozeTimeInvalid):
            await workspace.snooze_conversation(
                s, await _user(db, a), cid, utcnow() - timedelta(minutes=1)
            )
        await workspace.snooze_conversation(
            s, await _user(db, a), cid, utcnow() + timedelta(hours=1)
        )
        await s.commit()
    async with db.sessionmaker() as s:
        me = await _user(db, a)
        open_now = await inbox.list_inbox(s, me, inbox.InboxQuery(view="mine"))
        snoozed = await inbox.list_inbox(s, me, inbox.InboxQuery(view="mine", status="snoozed"))
    assert cid not in [c.id for c in open_now] and [c.id for c in snoozed] == [cid]

    assert await tasks.wake_snoozed() == []  # not yet
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None
        conversation.snoozed_until = utcnow() - timedelta(seconds=1)  # the hour has passed
        await s.commit()
    assert await tasks.wake_snoozed() == [cid]
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None
        assert conversation.status == "open" and conversation.snoozed_until is None
    woken = (await _log(db, cid))[-1]
    assert woken.kind == "woken" and woken.data == {"by": "timer"}
    assert await tasks.wake_snoozed() == []  # idempotent


async def test_a_customer_message_wakes_a_snoozed_chat_early(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    a = await make_user("agent")
    contact = visitor(chat_store)
    async with db.sessionmaker() as s:
        first = await service.post_customer_message(s, contact, client_msg_id="1", body="在吗")
        await s.commit()
    cid = first.conversation.id
    await _assign(db, cid, a)
    async with db.sessionmaker() as s:
        await workspace.snooze_conversation(
            s, await _user(db, a), cid, utcnow() + timedelta(days=1)
        )
        await s.commit()
    async with db.sessionmaker() as s:
        await service.post_customer_message(s, contact, client_msg_id="2", body="还在吗？")
        await s.commit()
    async with db.sessionmaker() as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None and conversation.status == "open"
    kinds = [e.kind for e in await _log(db, cid)]
    assert kinds[-2:] == ["woken", "message"]


async def test_snooze_until_tomorrow_morning_uses_the_shops_time_zone(
    db: Database, chat_store: Store
) -> None:
    cid = await _open_chat(db, chat_store)
    async with db.sessionmaker() as s:
        until = await workspace.snooze_until_preset(s, cid, "tomorrow")
        in_an_hour = await workspace.snooze_until_preset(s, cid, "1h")
    local = until.astimezone(ZoneInfo(chat_store.timezone))
    today = utcnow().astimezone(ZoneInfo(chat_store.timezone)).date()
    assert (local.hour, local.minute) == (9, 0) and local.date() == today + timedelta(days=1)
    assert timedelta(minutes=59) < in_an_hour - datetime.now(UTC) <= timedelta(hours=1)


# --- mentions ------------------------------------------------------------------------------


async def test_mentions_in_a_note_notify_the_named_agents_until_they_open_the_chat(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    a = await make_user("agent", display_name="小美")
    b = await make_user("agent", display_name="小王")
    c = await make_user("agent", display_name="小王子")
    cid = await _open_chat(db, chat_store)
    async with db.sessionmaker() as s:
        posted = await service.post_agent_message(
            s,
            staff(a),
            cid,
            client_msg_id="n1",
            body="@小王子 帮忙看下物流，@小王看退款",
            audience="internal",
        )
        named = await workspace.record_mentions(s, staff(a), posted)
        await s.commit()
    assert sorted(u.display_name for u in named) == ["小王", "小王子"]
    mentioned = (await _log(db, cid))[-1]
    assert mentioned.kind == "mentioned" and mentioned.audience == "internal"
    assert sorted(mentioned.data["user_ids"]) == sorted([b.id, c.id])

    async with db.sessionmaker() as s:
        # A resend of the same note does not mention twice; a public reply never mentions.
        again = await service.post_agent_message(
            s,
            staff(a),
            cid,
            client_msg_id="n1",
            body="@小王子 帮忙看下物流，@小王看退款",
            audience="internal",
        )
        assert await workspace.record_mentions(s, staff(a), again) == []
        reply = await service.post_agent_message(
            s, staff(a), cid, client_msg_id="r", body="@小王 好"
        )
        assert await workspace.record_mentions(s, staff(a), reply) == []
        await s.commit()
    async with db.sessionmaker() as s:
        b_user = await _user(db, b)
        view = await inbox.list_inbox(s, b_user, inbox.InboxQuery(view="mentions"))
        assert [x.id for x in view] == [cid]
        assert (await inbox.count_views(s, b_user, []))["mentions"] == 1
        assert await workspace.mark_mentions_read(s, b.id, cid) == 1
        await s.commit()
    async with db.sessionmaker() as s:
        assert (await inbox.count_views(s, await _user(db, b), []))["mentions"] == 0
        assert (
            await s.scalar(
                select(ConversationMention.read_at).where(ConversationMention.user_id == c.id)
            )
            is None
        )


# --- views and search ----------------------------------------------------------------------


async def test_search_by_name_phone_tail_order_number_and_chinese_text(
    db: Database,
    chat_store: Store,
    make_user: MakeUser,
    make_customer: Any,
    make_order: Any,
) -> None:
    agent = await make_user("agent")
    buyer = await make_customer(chat_store, name="王丽", nickname="丽丽爱逛街", phone="13912345678")
    order = await make_order(chat_store, buyer)
    with_buyer = await _open_chat(db, chat_store, "在吗", customer_id=buyer.id)
    broken = await _open_chat(db, chat_store, "收到的快递外包装破损了，里面的杯子也碎了")
    other = await _open_chat(db, chat_store, "请问什么时候发货")

    async def search(q: str) -> list[int]:
        async with db.sessionmaker() as s:
            found = await inbox.list_inbox(s, await _user(db, agent), inbox.InboxQuery(q=q))
        return sorted(c.id for c in found)

    assert await search("丽丽") == [with_buyer]
    assert await search("5678") == [with_buyer]  # 尾号
    assert await search(order.order_no) == [with_buyer]
    # Segmented: both words must occur, though not next to each other.
    assert await search("快递破损") == [broken]
    assert await search("杯子 碎") == [broken]
    assert await search("发货") == [other]
    assert await search("退款") == []
    assert await search("100%") == []  # LIKE wildcards are literal
    assert len(await search("")) == 3


async def test_first_response_target_is_a_store_setting(db: Database, chat_store: Store) -> None:
    assert inbox.first_response_target(chat_store) == 60
    chat_store.settings = {"chat": {"first_response_target_s": 30}}
    assert inbox.first_response_target(chat_store) == 30
    chat_store.settings = {"chat": {"first_response_target_s": "abc"}}
    assert inbox.first_response_target(chat_store) == 60


async def test_team_board_reports_status_load_and_longest_wait(
    db: Database, chat_store: Store, make_user: MakeUser
) -> None:
    from kefu.conversations import routing

    busy = await make_user("agent", display_name="满额")
    away = await make_user("agent", display_name="离开")
    await make_user("agent", display_name="下线")
    async with db.sessionmaker() as s:
        user = await s.get(User, busy.id)
        assert user is not None
        user.max_concurrent_chats = 1
        await routing.touch_presence(s, busy.id)
        await routing.set_status(s, Actor.system("t"), away.id, "away")
        await s.commit()
    cid = await _open_chat(db, chat_store)
    await _assign(db, cid, busy)
    async with db.sessionmaker() as s:
        board = {a.user.display_name: a for a in await inbox.team_board(s)}
    assert board["满额"].status == "online" and board["满额"].open_chats == 1
    assert board["满额"].full and board["满额"].longest_waiting_id == cid
    assert board["离开"].status == "away" and board["下线"].status == "offline"


def test_the_wake_sweep_is_scheduled() -> None:
    assert jobs.registered_jobs()["conversations.wake_snoozed"] is tasks.wake_snoozed
    assert any(s.name == "conversations.wake_snoozed" and s.every_s == 30 for s in jobs._schedules)


async def test_the_pending_view_lists_chats_the_bot_is_answering(
    db: Database, chat_store: Store, make_store: Any, make_user: MakeUser
) -> None:
    import kefu.bot.tasks  # noqa: F401 - registers bot.reply, as the app does at startup

    me = await _user(db, await make_user("agent"))
    bot_store: Store = await make_store(code="bot-first", settings={"bot": {"enabled": True}})
    with_bot = await _open_chat(db, bot_store, "在吗")  # the bot answers first: nobody waits
    waiting = await _open_chat(db, chat_store, "在吗")  # no bot: waits for a person
    async with db.sessionmaker() as s:
        pending = await inbox.list_inbox(s, me, inbox.InboxQuery(status="pending"))
        still_open = await inbox.list_inbox(s, me, inbox.InboxQuery(status="open"))
        api = await service.list_conversations(s, me, status="pending")
    assert [c.id for c in pending] == [with_bot] == [c.id for c in api]
    assert waiting in [c.id for c in still_open]
    await jobs.drain()  # the bot's reply job, before the database is emptied
