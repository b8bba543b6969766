"""What agents do to a chat besides replying: transfer, snooze, and @mentions in notes.

Each action appends to the conversation's log through the same helpers as `service`, so every
open inbox learns of it from the `store:{id}` channel after commit, and each is audited.

Who may act: transfers and snoozes belong to the conversation's assignee; a supervisor
(`conversations.supervise`) may act on any chat, and an unassigned chat may be handed on by
any agent, since they could equally take it themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import Group, User
from kefu.accounts.permissions import Permission, permissions_for
from kefu.conversations import service
from kefu.conversations.models import Conversation, ConversationMention, Message
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, Invalid
from kefu.store.models import Store

SNOOZE_MAX = timedelta(days=30)
SNOOZER = Actor("system", None, "定时提醒")
MORNING = time(9, 0)


class NotYourConversation(Forbidden):
    code = "not_your_conversation"
    zh, en = (
        "只有当前接待人或主管可以转接或暂缓此会话",
        "Only the assigned agent or a supervisor can transfer or snooze this chat",
    )


class TransferTargetInvalid(Invalid):
    code = "transfer_target_invalid"
    zh, en = "请选择要转给的客服或分组", "Choose an agent or a group to transfer to"


class SnoozeTimeInvalid(Invalid):
    code = "snooze_time_invalid"
    zh, en = "暂缓时间须在未来 30 天以内", "Snooze until a time within the next 30 days"


def _check_may_act(user: User, conversation: Conversation) -> None:
    if conversation.assignee_id in (None, user.id):
        return
    if Permission.conversations_supervise in permissions_for(user.role):
        return
    raise NotYourConversation()


def _as_actor(user: User, actor: Actor | None) -> Actor:
    return actor or Actor("user", user.id, user.display_name)


async def _inbox_agent(session: AsyncSession, user_id: int) -> User:
    agent = await session.get(User, user_id)
    if (
        agent is None
        or not agent.is_active
        or Permission.inbox_use not in permissions_for(agent.role)
    ):
        raise Invalid("该客服不存在或不能接待会话", "That agent cannot take conversations")
    return agent


# --- transfer ------------------------------------------------------------------------------


async def transfer_conversation(
    session: AsyncSession,
    user: User,
    conversation_id: int,
    *,
    assignee_id: int | None = None,
    group_id: int | None = None,
    note: str = "",
    actor: Actor | None = None,
) -> Conversation:
    """Give the chat to a colleague, or to a group's queue (unassigned, `group_id` set).

    The note becomes an internal message before the `transferred` row, so the receiving
    agent reads why in the log, right above the hand-over.
    """
    if assignee_id is None and group_id is None:
        raise TransferTargetInvalid()
    who = _as_actor(user, actor)
    conversation = await service._load_locked(session, conversation_id)
    _check_may_act(user, conversation)
    agent = await _inbox_agent(session, assignee_id) if assignee_id is not None else None
    group = await session.get(Group, group_id) if group_id is not None else None
    if group_id is not None and group is None:
        raise Invalid("分组不存在", "That group does not exist")
    if agent is not None and agent.id == conversation.assignee_id and group is None:
        raise Invalid("会话已由该客服接待", "That agent already has this chat")
    rows: list[service.Row] = []
    cleaned = note.replace("\r\n", "\n").strip()
    if cleaned:
        message = Message(
            conversation_id=conversation.id,
            sender_kind="agent",
            sender_id=who.id,
            sender_name=who.name,
            kind="note",
            body=service._clean_body(cleaned),
            audience="internal",
            created_at=utcnow(),
        )
        session.add(message)
        await session.flush()
        rows.append(
            (
                service._append(
                    session, conversation, "note", who, audience="internal", message=message
                ),
                message,
            )
        )
    before = {"assignee_id": conversation.assignee_id, "group_id": conversation.group_id}
    conversation.assignee_id = agent.id if agent is not None else None
    if group is not None:
        conversation.group_id = group.id
    data = {
        "assignee_id": conversation.assignee_id,
        "assignee_name": agent.display_name if agent is not None else "",
        "previous_assignee_id": before["assignee_id"],
        "group_id": conversation.group_id,
        "group_name": group.name if group is not None else "",
        "note": cleaned,
    }
    # Internal: the customer only needs to know when someone new answers them.
    event = service._append(
        session, conversation, "transferred", who, audience="internal", data=data
    )
    rows.append((event, None))
    await record_audit(
        session,
        who,
        "conversation.transfer",
        "conversation",
        conversation.id,
        before=before,
        after={
            "assignee_id": conversation.assignee_id,
            "group_id": conversation.group_id,
            "note": cleaned,
        },
        store_id=conversation.store_id,
    )
    await service._finish(session, conversation, rows)
    if agent is None:
        from kefu.conversations import routing

        await routing.drain_queue(session)  # an auto-routed store hands it on within the group
    return conversation


# --- snooze ------------------------------------------------------------------------------


async def snooze_until_preset(session: AsyncSession, conversation_id: int, preset: str) -> datetime:
    """`1h` from now, or `tomorrow` 9:00 in the shop's time zone."""
    now = utcnow()
    if preset == "1h":
        return now + timedelta(hours=1)
    conversation = await service.get_conversation(session, conversation_id)
    store = await session.get(Store, conversation.store_id)
    zone = ZoneInfo(store.timezone if store is not None and store.timezone else "Asia/Shanghai")
    local_now = now.astimezone(zone)
    morning = datetime.combine(local_now.date() + timedelta(days=1), MORNING, tzinfo=zone)
    return morning.astimezone(UTC)


def _aware_utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC (the API documents ISO 8601 with an offset)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def snooze_conversation(
    session: AsyncSession,
    user: User,
    conversation_id: int,
    until: datetime,
    *,
    actor: Actor | None = None,
) -> Conversation:
    """Hide the chat from the open list until `until`; the customer writing wakes it early."""
    until = _aware_utc(until)
    now = utcnow()
    if until <= now or until > now + SNOOZE_MAX:
        raise SnoozeTimeInvalid()
    who = _as_actor(user, actor)
    conversation = await service._load_locked(session, conversation_id)
    _check_may_act(user, conversation)
    if conversation.status == "resolved":
        raise Invalid("已解决的会话不能暂缓", "A resolved chat cannot be snoozed")
    before = conversation.status
    conversation.status = "snoozed"
    conversation.snoozed_until = until
    event = service._append(
        session,
        conversation,
        "snoozed",
        who,
        audience="internal",
        data={"until": until.isoformat()},
    )
    await record_audit(
        session,
        who,
        "conversation.snooze",
        "conversation",
        conversation.id,
        before={"status": before},
        after={"status": "snoozed", "until": until.isoformat()},
        store_id=conversation.store_id,
    )
    await service._finish(session, conversation, [(event, None)])
    return conversation


async def wake_now(
    session: AsyncSession, user: User, conversation_id: int, *, actor: Actor | None = None
) -> Conversation:
    """An agent ends a snooze early."""
    conversation = await service._load_locked(session, conversation_id)
    if conversation.status != "snoozed":
        return conversation
    _check_may_act(user, conversation)
    event = await service.wake(session, conversation, _as_actor(user, actor), reason="agent")
    await service._finish(session, conversation, [(event, None)])
    return conversation


async def wake_due(session: AsyncSession, limit: int = 200) -> list[int]:
    """Put every chat whose snooze has ended back in the open list (the periodic sweep).

    Each one is re-read under the store lock, so a chat the customer already woke, or an
    agent resolved, in the meantime is left alone.
    """
    due = list(
        await session.scalars(
            select(Conversation.id)
            .where(Conversation.status == "snoozed", Conversation.snoozed_until <= utcnow())
            .order_by(Conversation.snoozed_until)
            .limit(limit)
        )
    )
    woken: list[int] = []
    for conversation_id in due:
        conversation = await service._load_locked(session, conversation_id)
        if conversation.status != "snoozed":
            continue
        event = await service.wake(session, conversation, SNOOZER, reason="timer")
        await service._finish(session, conversation, [(event, None)])
        woken.append(conversation_id)
    return woken


# --- mentions ------------------------------------------------------------------------------


async def inbox_agents(session: AsyncSession) -> list[User]:
    users = await session.scalars(
        select(User).where(User.is_active.is_(True)).order_by(User.display_name, User.id)
    )
    return [u for u in users if Permission.inbox_use in permissions_for(u.role)]


def mentioned_in(body: str, agents: list[User]) -> list[User]:
    """Agents named as `@显示名` in the text. Chinese needs no space after a name, so the
    longest names are matched first and blanked out: `@小美丽` does not also name 小美."""
    found: list[User] = []
    rest = body
    for agent in sorted(agents, key=lambda a: (-len(a.display_name), a.id)):
        tag = "@" + agent.display_name
        if agent.display_name and tag in rest:
            found.append(agent)
            rest = rest.replace(tag, " ")
    return found


async def record_mentions(
    session: AsyncSession, actor: Actor, posted: service.Posted
) -> list[User]:
    """After an internal note is stored: remember who it names and tell the inbox (live)."""
    message = posted.message
    if posted.duplicate or message.audience != "internal":
        return []
    named = [u for u in mentioned_in(message.body, await inbox_agents(session)) if u.id != actor.id]
    if not named:
        return []
    for user in named:
        session.add(
            ConversationMention(
                conversation_id=message.conversation_id,
                message_id=message.id,
                user_id=user.id,
                mentioned_by_id=actor.id,
            )
        )
    conversation = await service._load(session, message.conversation_id)
    event = service._append(
        session,
        conversation,
        "mentioned",
        actor,
        audience="internal",
        data={
            "message_id": message.id,
            "user_ids": [u.id for u in named],
            "names": [u.display_name for u in named],
            "excerpt": service._preview(message.body),
        },
    )
    await record_audit(
        session,
        actor,
        "conversation.mention",
        "conversation",
        conversation.id,
        after={"message_id": message.id, "user_ids": [u.id for u in named]},
        store_id=conversation.store_id,
    )
    await service._finish(session, conversation, [(event, None)])
    return named


async def mark_mentions_read(session: AsyncSession, user_id: int, conversation_id: int) -> int:
    """Opening the conversation reads its mentions of this agent; returns how many."""
    result = await session.execute(
        update(ConversationMention)
        .where(
            ConversationMention.user_id == user_id,
            ConversationMention.conversation_id == conversation_id,
            ConversationMention.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
